#!/usr/bin/env bash
# drill_kill9.sh: printbridge is killed with SIGKILL at 10 random points of a 5,000-line print
# (an OOM kill, a crash, an upgrade) and started again each time. The broker publishes the
# will; the printer keeps its line counter (printbridge cleared HUPCL, and this simulator
# resets like an auto-reset board when a port is closed with HUPCL set); each restarted
# process asks the firmware for its last line, publishes PrintRecovered and continues from
# the line after it. The simulator's record must hold every command of the file exactly
# once, in order, and PrintDone must arrive.
set -u
. "$(dirname "$0")/../it/lib.sh"
. "$(dirname "$0")/common.sh"
pb_init
pb_start_broker_any
LIVE=$PB_DIR/live.txt
pb_sub_start "$LIVE" 'octoprint/#'
FILES=$PB_DIR/files
mkdir -p "$FILES"
GCODE=$FILES/job.gcode
RECORD=$PB_DIR/record.txt
drill_layers "$GCODE" 50 100          # 1 + 50 * 101 = 5,051 commands
pb_start_sim --fast --ok-delay-ms 2 --buffer 4 --reset-on-close hupcl --record "$RECORD"
pb_protocol_config "$PB_DIR/pb.conf"
mark=0
pb_start_daemon "$PB_DIR/pb.conf" --print "$GCODE"
pb_expect_line "$LIVE" '^octoprint/event/PrintStarted ' "$(pb_t 30)" "PrintStarted"
total=$(pb_gcode_commands "$GCODE" | wc -l)
RANDOM=${PB_DRILL_SEED:-$$}
pb_log "drill seed $RANDOM"
done_lines=0
for kill in $(seq 10); do
  target=$((done_lines + 150 + RANDOM % 250))
  pb_wait_until "$(pb_t 60)" eval '[ $(grep -cE "^(G1|G28)( |$)" "$RECORD") -ge $target ]' ||
    pb_fail "the print did not reach command $target before kill $kill"
  kill -KILL "$PB_DAEMON_PID"
  wait "$PB_DAEMON_PID" 2>/dev/null
  PB_DAEMON_PID=
  done_lines=$(grep -cE '^(G1|G28)( |$)' "$RECORD")
  pb_log "kill $kill at about command $done_lines of $total"
  pb_expect_line "$LIVE" '^octoprint/mqtt r=0 q=[01] disconnected$' "$(pb_t 90)" "the will after kill $kill" "$mark"
  mark=$(pb_count "$LIVE")
  pb_start_daemon "$PB_DIR/pb.conf"
  pb_expect_line "$LIVE" '^octoprint/event/PrintRecovered .*"path": "[^"]*/job.gcode"' "$(pb_t 30)" "PrintRecovered after kill $kill" "$mark"
done
pb_expect_line "$LIVE" '^octoprint/event/PrintDone .*"path": "[^"]*/job.gcode"' "$(pb_t 120)" "PrintDone" "$mark"
if pb_lines "$LIVE" 0 | grep -q '^octoprint/event/PrintFailed '; then
  pb_fail "a PrintFailed was published: $(pb_lines "$LIVE" 0 | grep -m1 '^octoprint/event/PrintFailed ')"
fi
sleep 1
pb_stop_daemon TERM
pb_stop_sim TERM
drill_check_record "$GCODE" "$RECORD"
grep -q '^start$' "$PB_DIR"/sim.*.log 2>/dev/null && pb_fail "the simulator was reset"
pb_pass "kill -9 at 10 random points: 10 of 10 restarts continued the print, record == file ($total commands once each), PrintDone"
