#!/usr/bin/env bash
# drill_resume_refused.sh: printbridge is killed mid-print, and the print cannot go on:
#   1. the board resets whenever its port is closed (--reset-on-close always: boards where
#      clearing HUPCL cannot help): the restarted process sees "start" and reports PrintFailed
#      with that reason, and sends no line of the old print;
#   2. the file changed while printbridge was away: PrintFailed with that reason.
set -u
. "$(dirname "$0")/../it/lib.sh"
. "$(dirname "$0")/common.sh"
pb_init
pb_start_broker_any
LIVE=$PB_DIR/live.txt
pb_sub_start "$LIVE" 'octoprint/#'
mkdir -p "$PB_DIR/files"
GCODE=$PB_DIR/files/job.gcode
drill_layers "$GCODE" 30 100
pb_protocol_config "$PB_DIR/pb.conf"

# kill_mid_print RECORD: kill -9 once the printer executed 500 commands
kill_mid_print() {
  REC=$1
  pb_wait_until "$(pb_t 60)" eval '[ $(grep -cE "^(G1|G28)( |$)" "$REC") -ge 500 ]' || pb_fail "the print did not get going"
  kill -KILL "$PB_DAEMON_PID"; wait "$PB_DAEMON_PID" 2>/dev/null; PB_DAEMON_PID=
  sleep 0.5
}

pb_start_sim --fast --ok-delay-ms 2 --reset-on-close always --record "$PB_DIR/record1.txt"
pb_start_daemon "$PB_DIR/pb.conf" --print "$GCODE"
kill_mid_print "$PB_DIR/record1.txt"
before=$(grep -cE '^(G1|G28)( |$)' "$PB_DIR/record1.txt")
mark=$(pb_count "$LIVE")
pb_start_daemon "$PB_DIR/pb.conf"
pb_expect_line "$LIVE" '^octoprint/event/PrintFailed .*"reason": "error", "error": "the firmware restarted while printbridge was away' "$(pb_t 30)" "PrintFailed naming the reset" "$mark"
sleep 1
after=$(grep -cE '^(G1|G28)( |$)' "$PB_DIR/record1.txt")
[ "$after" = "$before" ] || pb_fail "$((after - before)) lines were sent to the reset board"
pb_lines "$LIVE" "$mark" | grep -q '^octoprint/event/PrintRecovered ' && pb_fail "PrintRecovered after a reset"
pb_stop_daemon TERM
pb_stop_sim TERM
pb_log "reset board: refused"

pb_start_sim --fast --ok-delay-ms 2 --record "$PB_DIR/record2.txt"
pb_start_daemon "$PB_DIR/pb.conf" --print "$GCODE"
kill_mid_print "$PB_DIR/record2.txt"
echo "G1 X1 Y1 ; edited" >>"$GCODE"
before=$(grep -cE '^(G1|G28)( |$)' "$PB_DIR/record2.txt")
mark=$(pb_count "$LIVE")
pb_start_daemon "$PB_DIR/pb.conf"
pb_expect_line "$LIVE" '^octoprint/event/PrintFailed .*"reason": "error", "error": "[^"]*job.gcode changed while printbridge was away' "$(pb_t 30)" "PrintFailed naming the changed file" "$mark"
sleep 1
after=$(grep -cE '^(G1|G28)( |$)' "$PB_DIR/record2.txt")
[ "$after" = "$before" ] || pb_fail "$((after - before)) lines of the changed file were sent"
pb_stop_daemon TERM
pb_stop_sim TERM
pb_pass "refused resumes: a board reset on close and a changed file each give PrintFailed with the reason, nothing sent"
