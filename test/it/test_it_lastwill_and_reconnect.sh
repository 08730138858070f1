# test_it_lastwill_and_reconnect.sh: the broker side of failures (docs/wire-format.md 4).
#   1. broker restart: the daemon keeps the printer, reconnects by itself, publishes
#      `connected` again, and temperatures keep arriving
#   2. kill -9 of the daemon: the broker publishes the will `disconnected`, retained
#   3. a restarted daemon publishes `connected` again and reconnects to the printer
. "$(dirname "$0")/lib.sh"
pb_init

pb_start_broker_any
LIVE=$PB_DIR/live.txt
pb_sub_start "$LIVE" 'octoprint/#'
pb_start_sim
# A higher target than usual keeps the hotend climbing (about 20 s) through the broker restart,
# so fresh temperatures exist to be published after the reconnect.
PB_CFG_SCRIPT='"M104 S240", "M140 S60"' pb_write_config "$PB_DIR/pb.conf"
pb_start_daemon "$PB_DIR/pb.conf"
daemon1=$PB_DAEMON_PID
pb_expect_line "$LIVE" '^octoprint/mqtt r=0 q=1 connected$' "$(pb_t 20)" "octoprint/mqtt = connected"
pb_expect_line "$LIVE" '^octoprint/temperature/tool0 r=0 q=0 \{"actual": [-0-9.]+, "target": 240\.0, ' "$(pb_t 30)" \
  "tool0 heating to 240.0"
pb_pass "daemon up and heating"

# --- 1. broker restart -----------------------------------------------------------------------
# The broker loses its subscribers (and, without persistence, its retained messages), so a new
# subscriber listens after the restart.
t_restart=$SECONDS
pb_restart_broker
AFTER=$PB_DIR/after-restart.txt
pb_sub_start "$AFTER" 'octoprint/#'
pb_expect_line "$AFTER" '^octoprint/mqtt r=[01] q=1 connected$' "$(pb_t 70)" \
  "octoprint/mqtt = connected again after the broker restart"
pb_log "daemon reconnected to the broker $((SECONDS - t_restart)) s after the restart began"
pb_daemon_alive || pb_fail "expected printbridge to keep running across the broker restart; it exited"
pb_expect_line "$AFTER" '^octoprint/temperature/tool0 r=[01] q=0 \{"actual": [-0-9.]+, "target": 240\.0, "_timestamp": [0-9]+\}$' \
  "$(pb_t 20)" "tool0 temperatures after the broker restart"
reconnects=$(pb_lines "$AFTER" | grep -E '^octoprint/event/(Connecting|Disconnected|Error) ')
[ -z "$reconnects" ] ||
  pb_fail "expected the printer connection to stay up across a broker restart, got: $reconnects"
progress=$(pb_lines "$AFTER" | grep '^octoprint/progress/')
[ -z "$progress" ] ||
  pb_fail "expected the progress reset messages on the first connect only, not after a broker restart; got: $progress"
pb_pass "broker restart: reconnected, connected republished, temperatures flowing"

# --- 2. kill -9: the will --------------------------------------------------------------------
mark=$(pb_count "$AFTER")
{ kill -KILL "$daemon1"; wait "$daemon1"; } 2>/dev/null   # quietly: no "Killed" job notice
PB_DAEMON_PID=
pb_expect_line "$AFTER" '^octoprint/mqtt r=0 q=1 disconnected$' "$(pb_t 10)" \
  "the will octoprint/mqtt = disconnected after kill -9" "$mark"
WILL=$PB_DIR/will.txt
pb_sub_start "$WILL" 'octoprint/mqtt'
got=$(pb_lines "$WILL")
[ "$got" = 'octoprint/mqtt r=1 q=1 disconnected' ] ||
  pb_fail "expected a new subscriber to get exactly 'octoprint/mqtt r=1 q=1 disconnected' (retained will), got '$got'"
pb_pass "kill -9: retained will 'disconnected'"

# --- 3. restart the daemon -------------------------------------------------------------------
mark=$(pb_count "$AFTER")
pb_start_daemon "$PB_DIR/pb.conf"
pb_expect_line "$AFTER" '^octoprint/mqtt r=0 q=1 connected$' "$(pb_t 20)" "connected from the restarted daemon" "$mark"
pb_expect_line "$AFTER" "^octoprint/event/Connected r=0 q=0 \{\"port\": \"$(pb_re "$PB_LINK")\", \"baudrate\": 115200, " \
  "$(pb_t 30)" "the restarted daemon to reconnect to the (still running) simulator" "$mark"
pb_expect_line "$AFTER" '^octoprint/temperature/tool0 r=0 q=0 ' "$(pb_t 20)" "temperatures from the restarted daemon" "$mark"
WILL2=$PB_DIR/will2.txt
pb_sub_start "$WILL2" 'octoprint/mqtt'
got=$(pb_lines "$WILL2")
[ "$got" = 'octoprint/mqtt r=1 q=1 connected' ] ||
  pb_fail "expected the retained status to be 'octoprint/mqtt r=1 q=1 connected' again, got '$got'"
pb_pass "restarted daemon: connected (retained), printer reconnected"

pb_stop_daemon TERM
[ "$PB_DAEMON_RC" = 0 ] || pb_fail "expected exit status 0 after SIGTERM, got $PB_DAEMON_RC"
echo "PASS test_it_lastwill_and_reconnect ($SECONDS s)"
