#!/bin/bash
# stream_record.sh [LINES]: streams LINES (default 200000) G-code lines through printbridge
# (--print) to printbridge-sim with random faults (--resend-rate 0.02 --garbage-rate 0.001
# --drop-ok-rate 0.001) and checks the simulator's --record: every line executed exactly
# once, in order. Prints the measured lines/s. Exit 0 on success. Needs PB_BUILD (and
# PB_SRCDIR); test_protocol_stream.sh runs it with 20,000 lines, bench/fault targets may run
# it with the full 200,000. Extra simulator options can be given in PB_STREAM_SIM_ARGS.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/protocol_common.sh"
LINES=${1:-200000}
pb_init

pb_start_broker_any
GCODE=$PB_DIR/job.gcode
RECORD=$PB_DIR/record.txt
pb_gcode_file "$GCODE" "$LINES"
# shellcheck disable=SC2086
pb_start_sim --fast --seed "${PB_STREAM_SEED:-7}" --resend-rate 0.02 --garbage-rate 0.001 --drop-ok-rate 0.001 \
  --record "$RECORD" ${PB_STREAM_SIM_ARGS:-}
pb_protocol_config "$PB_DIR/pb.conf"
pb_start_daemon "$PB_DIR/pb.conf" --print "$GCODE"

# the stream ends with a summary line; allow 1.5 s per lost ok plus ~1 ms per line
limit=$(pb_t $(( 60 + LINES / 1000 + LINES / 400 )))
pb_wait_for_line "$PB_DIR/daemon.log" "job: streamed .*: [0-9]+ lines in" "$limit" ||
  pb_fail "the stream of $LINES lines did not finish within $limit s; last log lines: $(tail -n 5 "$PB_DIR/daemon.log")"
summary=$(grep -E -m1 "job: streamed .*: [0-9]+ lines in" "$PB_DIR/daemon.log")
pb_log "$summary"
sleep 0.5   # the simulator flushes its record after every loop iteration
pb_stop_daemon TERM
pb_stop_sim TERM

pb_gcode_commands "$GCODE" >"$PB_DIR/expected.txt"
grep '^G1 X' "$RECORD" >"$PB_DIR/got.txt" || true
if ! cmp -s "$PB_DIR/expected.txt" "$PB_DIR/got.txt"; then
  echo "--- first differences (expected vs recorded):"
  diff "$PB_DIR/expected.txt" "$PB_DIR/got.txt" | head -n 20
  pb_fail "the simulator's record differs from the file ($(wc -l <"$PB_DIR/expected.txt") expected, $(wc -l <"$PB_DIR/got.txt") recorded)"
fi
resends=$(grep -c '^M105' "$RECORD" || true)
pb_pass "$LINES lines arrived exactly once and in order under resends, garbage and lost oks"
echo "FIGURE stream_record lines=$LINES $(echo "$summary" | sed -E 's/.*\(([0-9]+) lines\/s\).*/lines_per_s=\1/') m105_polls_and_pokes=$resends"
echo "PASS stream_record ($SECONDS s)"
