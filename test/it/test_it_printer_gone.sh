# test_it_printer_gone.sh: the printer side of failures.
#   1. the simulator goes away: Error (reason "connection"), PrinterStateChanged OFFLINE,
#      Disconnected; the daemon and its MQTT connection stay up
#   2. a new simulator on the same path: the daemon reconnects by itself, temperatures resume
#   3. a port that does not exist at start: not fatal, `connected` is published, one log line
#      names the port, and the daemon connects once the port appears
. "$(dirname "$0")/lib.sh"
pb_init

pb_start_broker_any
LIVE=$PB_DIR/live.txt
pb_sub_start "$LIVE" 'octoprint/#'
pb_start_sim
pb_write_config "$PB_DIR/pb.conf"
pb_start_daemon "$PB_DIR/pb.conf"
port_re=$(pb_re "$PB_LINK")
pb_expect_line "$LIVE" "^octoprint/event/Connected r=0 q=0 \{\"port\": \"$port_re\", " "$(pb_t 30)" "the Connected event"
pb_expect_line "$LIVE" '^octoprint/temperature/tool0 r=0 q=0 ' "$(pb_t 20)" "a tool0 temperature"

# --- 1. printer gone -------------------------------------------------------------------------
mark=$(pb_count "$LIVE")
pb_stop_sim TERM
pb_expect_line "$LIVE" '^octoprint/event/Disconnected ' "$(pb_t 20)" "Disconnected after the simulator exited" "$mark"
got=$(pb_lines "$LIVE" "$mark" | grep '^octoprint/event/' | sed -E 's/"_timestamp": [0-9]+\}$/"_timestamp": N}/')
re_error='^octoprint/event/Error r=0 q=0 \{"error": "([^"\\]|\\.)+", "reason": "connection"(, "(consequence|faq|logs)": .*)?, "_event": "Error", "_timestamp": N\}$'
want_state='octoprint/event/PrinterStateChanged r=0 q=0 {"state_id": "OFFLINE", "state_string": "Offline", "_event": "PrinterStateChanged", "_timestamp": N}'
want_disc='octoprint/event/Disconnected r=0 q=0 {"_event": "Disconnected", "_timestamp": N}'
if [ "$(echo "$got" | wc -l)" != 3 ] || ! echo "$got" | sed -n 1p | grep -Eq -- "$re_error" ||
   [ "$(echo "$got" | sed -n 2p)" != "$want_state" ] || [ "$(echo "$got" | sed -n 3p)" != "$want_disc" ]; then
  echo "--- expected (N = epoch seconds):"
  echo '  octoprint/event/Error r=0 q=0 {"error": "...", "reason": "connection", "_event": "Error", "_timestamp": N}'
  echo "  $want_state"
  echo "  $want_disc"
  echo "--- got:"
  echo "$got"
  pb_fail "events after the printer went away differ (above)"
fi
pb_daemon_alive || pb_fail "expected printbridge to keep running when the printer goes away; it exited"
status=$(pb_lines "$LIVE" "$mark" | grep '^octoprint/mqtt ')
[ -z "$status" ] || pb_fail "expected the MQTT connection to stay up, got: $status"
pb_pass "printer gone: Error, OFFLINE, Disconnected; daemon and MQTT stay up"

# --- 2. printer back -------------------------------------------------------------------------
mark=$(pb_count "$LIVE")
pb_start_sim
pb_expect_line "$LIVE" "^octoprint/event/Connected r=0 q=0 \{\"port\": \"$port_re\", \"baudrate\": 115200, " \
  "$(pb_t 30)" "Connected again once a new simulator is on the same path" "$mark"
got=$(pb_lines "$LIVE" "$mark" | grep '^octoprint/event/' | cut -d' ' -f1 | sed 's|^octoprint/event/||' | tr '\n' ' ')
case $got in
  "Connecting PrinterStateChanged PrinterStateChanged PrinterStateChanged Connected"*) ;;
  *) pb_fail "expected the reconnect events 'Connecting PrinterStateChanged(OPEN_SERIAL, CONNECTING, OPERATIONAL) Connected ...', got '$got'" ;;
esac
pb_expect_line "$LIVE" '^octoprint/temperature/tool0 r=0 q=0 ' "$(pb_t 20)" "tool0 temperatures after the reconnect" "$mark"
pb_pass "printer back: reconnected by itself, temperatures resume"
pb_stop_daemon TERM
[ "$PB_DAEMON_RC" = 0 ] || pb_fail "expected exit status 0 after SIGTERM, got $PB_DAEMON_RC"
pb_stop_sim TERM

# --- 3. a port that does not exist at start --------------------------------------------------
ABSENT=$PB_DIR/absent.tty
mark=$(pb_count "$LIVE")
logmark=$(pb_count "$PB_DIR/daemon.log")
PB_CFG_PORT=$ABSENT pb_write_config "$PB_DIR/absent.conf"
pb_start_daemon "$PB_DIR/absent.conf"
pb_expect_line "$LIVE" '^octoprint/mqtt r=0 q=1 connected$' "$(pb_t 20)" "connected with a missing printer port" "$mark"
# the start-up line always names the port: look for a warning or error that does
pb_wait_for_line "$PB_DIR/daemon.log" " (error|warn) .*$(pb_re "$ABSENT")" "$(pb_t 10)" "$logmark" ||
  pb_fail "expected an error or warning log line naming $ABSENT; the log says: $(tail -n +"$((logmark + 1))" "$PB_DIR/daemon.log" | head -n 10)"
pb_daemon_alive || pb_fail "expected printbridge to keep running with a missing port; it exited: $(tail -n 5 "$PB_DIR/daemon.log")"
pb_log "log line: $(tail -n +"$((logmark + 1))" "$PB_DIR/daemon.log" | grep -E -m1 " (error|warn) .*$(pb_re "$ABSENT")")"
PB_SIM_LINK=$ABSENT pb_start_sim
pb_expect_line "$LIVE" "^octoprint/event/Connected r=0 q=0 \{\"port\": \"$(pb_re "$ABSENT")\", \"baudrate\": 115200, " \
  "$(pb_t 30)" "Connected once the missing port appears (retry with backoff)" "$mark"
pb_pass "missing port at start: MQTT up, port named in the log, connects when it appears"

# SIGINT (Ctrl-C in a terminal) stops as cleanly as SIGTERM
mark=$(pb_count "$LIVE")
pb_stop_daemon INT
[ "$PB_DAEMON_RC" = 0 ] || pb_fail "expected exit status 0 after SIGINT, got $PB_DAEMON_RC"
pb_expect_line "$LIVE" '^octoprint/mqtt r=0 q=1 disconnected$' "$(pb_t 10)" "disconnected after SIGINT" "$mark"
pb_expect_line "$LIVE" '^octoprint/event/Shutdown r=0 q=0 ' 1 "Shutdown after SIGINT" "$mark"
pb_pass "SIGINT: clean stop, exit 0"
echo "PASS test_it_printer_gone ($SECONDS s)"
