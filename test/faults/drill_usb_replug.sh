#!/usr/bin/env bash
# drill_usb_replug.sh: the USB cable is pulled in the middle of a print and plugged back in.
# The daemon reports Error (reason connection) and Disconnected, reconnects by itself
# (Connected, then OPERATIONAL: not stuck in PRINTING), and the printer ran exactly the lines
# before the break, once each, in order.
set -u
. "$(dirname "$0")/../it/lib.sh"
. "$(dirname "$0")/common.sh"
pb_init
pb_start_broker_any
LIVE=$PB_DIR/live.txt
pb_sub_start "$LIVE" 'octoprint/event/#'
GCODE=$PB_DIR/job.gcode
RECORD=$PB_DIR/record.txt
drill_layers "$GCODE" 30 100
pb_start_sim --fast --ok-delay-ms 1 --disconnect-after 1200 --relink --relink-delay-ms 1500 --record "$RECORD"
pb_protocol_config "$PB_DIR/pb.conf"
pb_start_daemon "$PB_DIR/pb.conf" --print "$GCODE"
pb_expect_line "$LIVE" '^octoprint/event/PrinterStateChanged .*"state_id": "PRINTING"' "$(pb_t 20)" "PRINTING"
pb_expect_line "$LIVE" '^octoprint/event/Error r=0 q=0 \{"error": "[^"]*", "reason": "connection"' "$(pb_t 30)" "Error (connection) at the unplug"
pb_expect_line "$LIVE" '^octoprint/event/Disconnected ' "$(pb_t 10)" "Disconnected"
mark=$(pb_count "$LIVE")
pb_expect_line "$LIVE" '^octoprint/event/Connected ' "$(pb_t 30)" "Connected after the replug" "$mark"
pb_expect_line "$LIVE" '^octoprint/event/PrinterStateChanged .*"state_id": "OPERATIONAL"' "$(pb_t 20)" \
  "OPERATIONAL after the replug (not stuck in PRINTING)" "$mark"
pb_lines "$LIVE" "$mark" | grep -q '"state_id": "PRINTING"' && pb_fail "the print resumed on a freshly booted printer by itself"
pb_daemon_alive || pb_fail "printbridge exited after the unplug"
pb_stop_daemon TERM
[ "$PB_DAEMON_RC" = 0 ] || pb_fail "exit status $PB_DAEMON_RC after SIGTERM"
pb_stop_sim TERM
pb_gcode_commands "$GCODE" >"$PB_DIR/expected.txt"
grep -E '^(G1|G28)( |$)' "$RECORD" >"$PB_DIR/got.txt" || true
n=$(wc -l <"$PB_DIR/got.txt")
[ "$n" -gt 500 ] || pb_fail "only $n lines ran before the unplug"
head -n "$n" "$PB_DIR/expected.txt" | cmp -s - "$PB_DIR/got.txt" ||
  pb_fail "the lines before the unplug were not the file's first $n lines, once each, in order"
pb_pass "unplug/replug mid-print: $n lines ran exactly, Error + Disconnected, then Connected and OPERATIONAL"
