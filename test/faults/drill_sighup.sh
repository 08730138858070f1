#!/usr/bin/env bash
# drill_sighup.sh: configuration reloads in the middle of a print.
#   1. a valid new file (ZChange events filtered out): SettingsUpdated, and from then on no
#      ZChange is published: the new configuration is in force
#   2. an invalid file (mqtt.port = 70000): refused with FILE:LINE in the log, no
#      SettingsUpdated, the previous configuration stays (still no ZChange)
#   3. a file that @includes a directory (made libconfig exit() before, see make fuzz):
#      refused the same way, the daemon lives on
# The print is not disturbed: the simulator's record equals the file.
set -u
. "$(dirname "$0")/../it/lib.sh"
. "$(dirname "$0")/common.sh"
pb_init
pb_start_broker_any
LIVE=$PB_DIR/live.txt
pb_sub_start "$LIVE" 'octoprint/event/#'
GCODE=$PB_DIR/job.gcode
RECORD=$PB_DIR/record.txt
drill_layers "$GCODE" 80 30
pb_start_sim --fast --ok-delay-ms 4 --record "$RECORD"
pb_protocol_config "$PB_DIR/pb.conf"
cp "$PB_DIR/pb.conf" "$PB_DIR/orig.conf"
pb_start_daemon "$PB_DIR/pb.conf" --print "$GCODE"
pb_expect_line "$LIVE" '^octoprint/event/ZChange .*"new": 1\.0' "$(pb_t 30)" "layer 5"

{ cat "$PB_DIR/orig.conf"; printf 'filter: { events_off = [ "ZChange" ]; };\n'; } >"$PB_DIR/pb.conf"
mark=$(pb_count "$LIVE")
kill -HUP "$PB_DAEMON_PID"
pb_expect_line "$LIVE" '^octoprint/event/SettingsUpdated ' "$(pb_t 10)" "SettingsUpdated" "$mark"
mark=$(pb_count "$LIVE")
sleep 2
pb_lines "$LIVE" "$mark" | grep -q '^octoprint/event/ZChange ' && pb_fail "ZChange still published after the reload filtered it out"
pb_pass "valid reload mid-print: SettingsUpdated, the new filter is in force"

cp "$PB_DIR/pb.conf" "$PB_DIR/good.conf"
sed "s/port = $PB_MQTT_PORT;/port = 70000;/" "$PB_DIR/good.conf" >"$PB_DIR/pb.conf"
grep -q 'port = 70000' "$PB_DIR/pb.conf" || pb_fail "could not write the invalid file"
logmark=$(pb_count "$PB_DIR/daemon.log")
kill -HUP "$PB_DAEMON_PID"
pb_expect_line "$PB_DIR/daemon.log" "reload refused.*pb\\.conf:[0-9]+: mqtt\\.port" "$(pb_t 10)" "the refusal naming FILE:LINE" "$logmark"
printf '@include "."\n' >"$PB_DIR/pb.conf"
kill -HUP "$PB_DAEMON_PID"
pb_expect_line "$PB_DIR/daemon.log" 'reload refused.*@include "\.": .* is not a regular file' "$(pb_t 10)" "the @include refusal" "$logmark"
sleep 2
pb_daemon_alive || pb_fail "printbridge died on a reload"
pb_lines "$LIVE" "$mark" | grep -Eq '^octoprint/event/(SettingsUpdated|ZChange) ' &&
  pb_fail "an invalid reload changed something: $(pb_lines "$LIVE" "$mark" | grep -E 'SettingsUpdated|ZChange' | head -n 2)"
pb_pass "invalid reloads refused mid-print; the running configuration stays"

drill_wait_streamed "$(pb_t 60)"
sleep 0.5
pb_stop_daemon TERM
[ "$PB_DAEMON_RC" = 0 ] || pb_fail "exit status $PB_DAEMON_RC after SIGTERM"
pb_stop_sim TERM
drill_check_record "$GCODE" "$RECORD"
pb_pass "the print went on undisturbed: the record equals the file"
