# test_it_broker_late_print.sh: a whole print runs before the broker is reachable (printbridge
# started with --print while the broker host is still booting). Every event raised meanwhile
# is delivered once the broker appears, in the order it was raised: Startup first, each ZChange
# of the print, PrintStarted before PrintDone; retained or not. The offline buffer is small
# (mqtt.queue_limit = 60) and the print moves progress/printing about 100 times: the progress
# and state snapshots replace their older selves and temperature readings go first, so not one
# event is lost.
. "$(dirname "$0")/lib.sh"
pb_init

PB_MQTT_PORT=$(pb_free_port)          # nothing listens here yet
GCODE=$PB_DIR/five.gcode
awk 'BEGIN { print "G90"; print "M82"
  for (l = 1; l <= 5; l++) { printf "G1 Z%.1f F600\n", l * 0.2
    for (i = 1; i <= 40; i++) { e++; printf "G1 X%d Y%d E%d.0 F3000\n", i % 9, l, e } } }' >"$GCODE"
pb_start_sim --fast
pb_write_config "$PB_DIR/pb.conf"
sed -i 's/keepalive = 60;/keepalive = 60; queue_limit = 60;/' "$PB_DIR/pb.conf"
pb_start_daemon "$PB_DIR/pb.conf" --print "$GCODE"
pb_wait_until "$(pb_t 30)" grep -q 'job: streamed' "$PB_DIR/daemon.log" ||
  pb_fail "expected the print to finish without a broker; daemon log: $(tail -5 "$PB_DIR/daemon.log")"

# the log says what happened: nothing was announced to Home Assistant yet
grep -q 'homeassistant: device announced' "$PB_DIR/daemon.log" &&
  pb_fail "expected no 'device announced' log line while the broker is unreachable: $(grep homeassistant "$PB_DIR/daemon.log")"

LIVE=$PB_DIR/live.txt
pb_broker_arrives "$LIVE" 'octoprint/#'

pb_expect_line "$LIVE" '^octoprint/event/PrintDone ' "$(pb_t 70)" "the buffered PrintDone once the broker is up"
pb_sub_sync "$LIVE"
z=$(pb_lines "$LIVE" | grep '^octoprint/event/ZChange ' | sed -E 's/.*"new": ([0-9.]+), "old": ([0-9.]+|null).*/\2>\1/' | tr '\n' ' ')
[ "$z" = "null>0.2 0.2>0.4 0.4>0.6 0.6>0.8 0.8>1.0 " ] ||
  pb_fail "expected the five ZChange events 'null>0.2 0.2>0.4 0.4>0.6 0.6>0.8 0.8>1.0 ', got '$z'"
order=$(pb_lines "$LIVE" | grep -E '^octoprint/event/(Startup|Connected|PrintStarted|ZChange|PrintDone) ' | cut -d' ' -f1 | sed 's|^octoprint/event/||' | uniq | tr '\n' ' ')
[ "$order" = "Startup Connected PrintStarted ZChange PrintDone " ] ||
  pb_fail "expected the events in the order they were raised, 'Startup Connected PrintStarted ZChange PrintDone ', got '$order'"
n=$(pb_lines "$LIVE" | grep -c '^octoprint/event/PrintDone ')
[ "$n" = 1 ] || pb_fail "expected PrintDone once, got $n"
pb_lines "$LIVE" | grep -q '^octoprint/event/MqttBufferOverflow ' &&
  pb_fail "expected no event to be dropped; got $(pb_lines "$LIVE" | grep '^octoprint/event/MqttBufferOverflow ')"
n=$(pb_lines "$LIVE" | grep -c '^octoprint/progress/printing ')
[ "$n" = 1 ] || pb_fail "expected one progress/printing message (the newest), got $n"
pb_lines "$LIVE" | grep -Eq '^octoprint/progress/printing r=[01] q=0 \{"location": "local", "path": "[^"]*/five\.gcode", "progress": 100,' ||
  pb_fail "expected the newest progress (100) to be delivered: $(pb_lines "$LIVE" | grep '^octoprint/progress/printing ')"
pb_pass "a print finished before the first broker connection: every event delivered after it, in order, once; progress and state as their newest"
grep -q 'homeassistant: device announced on homeassistant/device/pb-test/config' "$PB_DIR/daemon.log" ||
  pb_fail "expected 'device announced' in the log once the broker connection is up"
pb_pass "the log says the Home Assistant device was announced only once it was"
pb_stop_daemon TERM
echo "PASS test_it_broker_late_print ($SECONDS s)"
