#!/usr/bin/env bash
# drill_valgrind.sh: the daemon under valgrind memcheck through a short eventful run: a print
# over a noisy line (resends, garbage, lost oks), a valid SIGHUP reload, a broker restart,
# then SIGTERM. Any invalid read or write, use of uninitialised memory, or a definite or
# indirect leak fails the drill (--error-exitcode). Needs the plain build (not ASan).
set -u
. "$(dirname "$0")/../it/lib.sh"
. "$(dirname "$0")/common.sh"
pb_init
command -v valgrind >/dev/null 2>&1 || drill_skip "valgrind is not installed (scripts/install-deps.sh --faults installs it)"
grep -qa AddressSanitizer "$PB_DAEMON_BIN" && drill_skip "$PB_DAEMON_BIN is an ASan build; valgrind needs the plain one"
PB_TIMEOUT_SCALE=4
pb_start_broker_any
LIVE=$PB_DIR/live.txt
pb_sub_start "$LIVE" 'octoprint/event/#'
GCODE=$PB_DIR/job.gcode
RECORD=$PB_DIR/record.txt
drill_layers "$GCODE" 10 100
pb_start_sim --fast --seed 5 --resend-rate 0.03 --garbage-rate 0.01 --drop-ok-rate 0.003 --record "$RECORD"
pb_protocol_config "$PB_DIR/pb.conf"
VG=$PB_DIR/valgrind.log
echo "=== valgrind printbridge" >>"$PB_DIR/daemon.log"
pb_bg valgrind --quiet --leak-check=full --show-leak-kinds=definite,indirect --errors-for-leak-kinds=definite,indirect \
  --error-exitcode=99 --log-file="$VG" "$PB_DAEMON_BIN" -c "$PB_DIR/pb.conf" --print "$GCODE" >>"$PB_DIR/daemon.log" 2>&1
PB_DAEMON_PID=$!
PB_PIDS+=("$PB_DAEMON_PID")
pb_expect_line "$LIVE" '^octoprint/event/ZChange ' "$(pb_t 30)" "the print under valgrind"
kill -HUP "$PB_DAEMON_PID"
pb_expect_line "$LIVE" '^octoprint/event/SettingsUpdated ' "$(pb_t 10)" "SettingsUpdated"
pb_restart_broker
pb_sub_start "$LIVE" 'octoprint/event/#'
drill_wait_streamed "$(pb_t 60)"
sleep 1
pb_stop_daemon TERM
pb_stop_sim TERM
if [ "$PB_DAEMON_RC" != 0 ]; then
  sed -n '1,60p' "$VG"
  pb_fail "valgrind reported errors or leaks (exit $PB_DAEMON_RC; full report above, from $VG)"
fi
[ -s "$VG" ] && { cat "$VG"; pb_fail "valgrind printed a report (above) although the exit status was 0"; }
drill_check_record "$GCODE" "$RECORD"
pb_pass "valgrind memcheck: no errors, no definite or indirect leaks over print, reload, broker restart, stop"
