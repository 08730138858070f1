# test_it_stats_timeouts.sh: <base>stats counts communication timeouts (docs/wire-format.md 9).
# The simulator answers normally: stats say "timeouts": 0. Then it is frozen (SIGSTOP, the
# port stays open) while the printer is idle: the daemon times out, tries M105, and after the
# third consecutive timeout gives up with the Error of docs/protocol.md 12.5. The next stats
# message says "timeouts": 3 (the reconnect attempts that follow time out while connecting,
# which is not counted), and so do the ones after it.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/protocol_common.sh"
pb_init
pb_start_broker_any
LIVE=$PB_DIR/live.txt
pb_sub_start "$LIVE" 'octoprint/#'
pb_start_sim --fast
FROZEN=$PB_SIM_PID
pb_protocol_config "$PB_DIR/pb.conf"
sed -i 's/client_id = "pb-test";/client_id = "pb-test"; stats_interval = 1;/' "$PB_DIR/pb.conf"
pb_start_daemon "$PB_DIR/pb.conf"
pb_expect_line "$LIVE" '"state_id": "OPERATIONAL"' "$(pb_t 20)" "the printer to become operational"
stats() { printf '^octoprint/stats r=0 q=0 \\{"uptime": [0-9]+, "lines_sent": [0-9]+, "resends": 0, "timeouts": %s, "published": [0-9]+, "buffered": 0, "dropped": 0, "rss_bytes": [0-9]+, "_timestamp": %s\\}$' "$1" "$PB_TS"; }
mark=$(pb_count "$LIVE")
pb_expect_line "$LIVE" "$(stats 0)" "$(pb_t 5)" "stats with no timeouts" "$mark"
pb_pass "a printer that answers: \"timeouts\": 0"

kill -STOP "$FROZEN"
pb_log "simulator frozen"
mark=$(pb_count "$LIVE")
pb_expect_line "$LIVE" '^octoprint/event/Error r=0 q=0 \{"error": "Too many consecutive timeouts, printer still connected and alive\?", "reason": "timeout"' \
  "$(pb_t 30)" "the Error after three timeouts" "$mark"
mark=$(pb_count "$LIVE")
pb_expect_line "$LIVE" "$(stats 3)" "$(pb_t 5)" "stats counting the three timeouts" "$mark"
mark=$(pb_count "$LIVE")
pb_expect_line "$LIVE" "$(stats 3)" "$(pb_t 5)" "the next stats, still 3" "$mark"
pb_lines "$LIVE" | grep '^octoprint/stats ' | grep -Eq '"timeouts": (null|[4-9]|[1-9][0-9])' &&
  pb_fail "a stats message showed null or more than 3 timeouts"
pb_pass "a silent printer: the Error after the third timeout, then \"timeouts\": 3"
kill -CONT "$FROZEN"
pb_stop_daemon
[ "$PB_DAEMON_RC" = 0 ] || pb_fail "exit status $PB_DAEMON_RC"
echo "PASS test_it_stats_timeouts ($SECONDS s)"
