#!/usr/bin/env bash
# drill_command_flood.sh: a client floods <base>command/gcode with 5,000 commands during a
# print. The print must not lose, repeat or reorder a line, the daemon must stay responsive
# (a status request is answered) and its memory must stay bounded.
set -u
. "$(dirname "$0")/../it/lib.sh"
. "$(dirname "$0")/common.sh"
pb_init
pb_start_broker_any
LIVE=$PB_DIR/live.txt
pb_sub_start "$LIVE" 'octoprint/#'
GCODE=$PB_DIR/job.gcode
RECORD=$PB_DIR/record.txt
drill_layers "$GCODE" 40 50
pb_start_sim --fast --ok-delay-ms 1 --record "$RECORD"
pb_protocol_config "$PB_DIR/pb.conf"
pb_start_daemon "$PB_DIR/pb.conf" --print "$GCODE"
pb_expect_line "$LIVE" '^octoprint/event/PrinterStateChanged .*"state_id": "PRINTING"' "$(pb_t 20)" "PRINTING"
rss() { awk '/^VmRSS/ { print $2 }' "/proc/$PB_DAEMON_PID/status"; }
before=$(rss)
seq 1 5000 | sed 's/^/M117 flood /' |
  mosquitto_pub -h 127.0.0.1 -p "$PB_MQTT_PORT" -q 0 -t octoprint/command/gcode -l
mark=$(pb_count "$LIVE")
mosquitto_pub -h 127.0.0.1 -p "$PB_MQTT_PORT" -q 1 -t octoprint/command/status -m '{"id": "after-flood"}'
pb_expect_line "$LIVE" '^octoprint/command/status/response .*"id": "after-flood", "result": "ok"' "$(pb_t 30)" \
  "an answer to a status request right after the flood" "$mark"
after=$(rss)
drill_wait_streamed "$(pb_t 120)"
pb_daemon_alive || pb_fail "printbridge died during the flood"
grow=$(( after - before ))
limit=$(( 20 * 1024 * PB_TIMEOUT_SCALE ))
[ "$grow" -lt "$limit" ] || pb_fail "resident memory grew by $grow KiB during the flood (limit $limit KiB)"
sleep 0.5
pb_stop_daemon TERM
[ "$PB_DAEMON_RC" = 0 ] || pb_fail "exit status $PB_DAEMON_RC after SIGTERM"
pb_stop_sim TERM
drill_check_record "$GCODE" "$RECORD"
n=$(grep -c '^M117 flood ' "$RECORD" || true)
pb_log "flood: $n of 5000 M117 reached the printer (the broker may drop some QoS 0 ones), RSS +$grow KiB"
[ "$n" -gt 0 ] || pb_fail "no flood command reached the printer: the flood was not exercised"
pb_pass "command flood: print exact, status answered, RSS +$grow KiB, $n commands executed"
