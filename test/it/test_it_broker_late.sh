# test_it_broker_late.sh: the broker is not there when printbridge starts. The printer side
# works anyway, and the events raised meanwhile (Startup ... FirmwareData) are kept and
# delivered, in order and once each, right after `connected` when the broker appears.
. "$(dirname "$0")/lib.sh"
pb_init

PB_MQTT_PORT=$(pb_free_port)          # nothing listens here yet
RECORD=$PB_DIR/record.txt
pb_start_sim --record "$RECORD"
pb_write_config "$PB_DIR/pb.conf"
pb_start_daemon "$PB_DIR/pb.conf"

# The simulator records what it executed: once the afterPrinterConnected script ran, Connected
# and FirmwareData have been raised, all while there was no broker.
pb_wait_for_line "$RECORD" '^M140 S60$' "$(pb_t 20)" ||
  pb_fail "expected the printer to get the afterPrinterConnected script without a broker; the simulator executed: $(tr '\n' ' ' <"$RECORD")"
pb_daemon_alive || pb_fail "expected printbridge to keep running without a broker; it exited"

LIVE=$PB_DIR/live.txt
pb_broker_arrives "$LIVE" 'octoprint/#'

pb_expect_line "$LIVE" '^octoprint/event/FirmwareData ' "$(pb_t 70)" "the buffered FirmwareData event once the broker is up"
got=$(pb_lines "$LIVE" | grep -E '^octoprint/(mqtt|event/)' | cut -d' ' -f1 | sed 's|^octoprint/||' | tr '\n' ' ')
want="mqtt event/Startup event/Connecting event/PrinterStateChanged event/PrinterStateChanged event/PrinterStateChanged event/Connected event/FirmwareData "
[ "$got" = "$want" ] || pb_fail "expected, after the broker came up: '$want', got '$got'"
states=$(pb_lines "$LIVE" | grep '^octoprint/event/PrinterStateChanged ' | sed -E 's/.*"state_id": "([A-Z_]+)".*/\1/' | tr '\n' ' ')
[ "$states" = "OPEN_SERIAL CONNECTING OPERATIONAL " ] ||
  pb_fail "expected the buffered states 'OPEN_SERIAL CONNECTING OPERATIONAL ', got '$states'"
grep -qx 'octoprint/mqtt r=0 q=1 connected' "$LIVE" || pb_fail "expected 'octoprint/mqtt r=0 q=1 connected', got: $(grep '^octoprint/mqtt' "$LIVE")"
pb_pass "events raised without a broker are delivered after 'connected', in order, once each"

pb_expect_line "$LIVE" '^octoprint/temperature/tool0 r=0 q=0 \{"actual": [-0-9.]+, "target": 210\.0, ' "$(pb_t 20)" "tool0 temperatures"
pb_stop_daemon TERM
[ "$PB_DAEMON_RC" = 0 ] || pb_fail "expected exit status 0 after SIGTERM, got $PB_DAEMON_RC"
echo "PASS test_it_broker_late ($SECONDS s)"
