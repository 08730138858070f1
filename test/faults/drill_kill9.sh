#!/usr/bin/env bash
# drill_kill9.sh: printbridge is killed with SIGKILL in the middle of a print (an OOM kill, a
# power cut of the host) and started again. The broker publishes the will ("disconnected",
# retained); the new process reconnects to the printer and the broker ("connected"), comes up
# OPERATIONAL (not PRINTING), and no line of the old print is sent again.
# The print is journaled, so the restarted daemon reports it as PrintFailed from the journal
# (test/it/test_jobs_storage.sh checks that payload).
set -u
. "$(dirname "$0")/../it/lib.sh"
. "$(dirname "$0")/common.sh"
pb_init
pb_start_broker_any
LIVE=$PB_DIR/live.txt
pb_sub_start "$LIVE" 'octoprint/#'
GCODE=$PB_DIR/job.gcode
RECORD=$PB_DIR/record.txt
drill_layers "$GCODE" 30 100
pb_start_sim --fast --ok-delay-ms 2 --record "$RECORD"
pb_protocol_config "$PB_DIR/pb.conf"
pb_start_daemon "$PB_DIR/pb.conf" --print "$GCODE"
pb_expect_line "$LIVE" '^octoprint/event/ZChange .*"new": 2\.0' "$(pb_t 30)" "layer 10"
kill -KILL "$PB_DAEMON_PID"
wait "$PB_DAEMON_PID" 2>/dev/null
PB_DAEMON_PID=
pb_log "printbridge killed"
pb_expect_line "$LIVE" '^octoprint/mqtt r=0 q=[01] disconnected$' "$(pb_t 90)" "the will (disconnected)"
sleep 1
before=$(grep -cE '^(G1|G28)( |$)' "$RECORD")
mark=$(pb_count "$LIVE")
pb_start_daemon "$PB_DIR/pb.conf"
pb_expect_line "$LIVE" '^octoprint/mqtt r=0 q=[01] connected$' "$(pb_t 15)" "connected again" "$mark"
pb_expect_line "$LIVE" '^octoprint/event/Connected ' "$(pb_t 30)" "the printer connected again" "$mark"
pb_expect_line "$LIVE" '^octoprint/event/PrinterStateChanged .*"state_id": "OPERATIONAL"' "$(pb_t 20)" "OPERATIONAL" "$mark"
sleep 2
after=$(grep -cE '^(G1|G28)( |$)' "$RECORD")
[ "$after" = "$before" ] || pb_fail "$((after - before)) lines of the killed print were sent again after the restart"
pb_gcode_commands "$GCODE" | head -n "$before" | cmp -s - <(grep -E '^(G1|G28)( |$)' "$RECORD") ||
  pb_fail "the lines before the kill were not the file's first $before lines, once each"
pb_stop_daemon TERM
[ "$PB_DAEMON_RC" = 0 ] || pb_fail "exit status $PB_DAEMON_RC after SIGTERM"
pb_pass "kill -9 mid-print: will published, restart reconnects OPERATIONAL, nothing resent ($before lines ran)"
