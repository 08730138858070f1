#!/usr/bin/env bash
# drill_hooks.sh: during a print, one event hook hangs (sleep 3600) and one floods its output
# (yes). Both must be killed at their timeout with their process groups, their captured output
# must stay bounded, and the print must go on exactly as if they were not there. TAG names
# their processes (sh's \$0, yes's output) so a leftover can be found with pgrep.
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
pb_start_sim --fast --ok-delay-ms 2 --record "$RECORD"
pb_protocol_config "$PB_DIR/pb.conf"
TAG="pbdrill$$"
cat >>"$PB_DIR/pb.conf" <<EOC
events: {
    max_output = 4096;
    subscriptions = (
        { name = "hang"; event = "Connected"; type = "system"; timeout = 2;
          command = "sh -c 'sleep 3600' $TAG"; },
        { name = "flood"; event = "Connected"; type = "system"; timeout = 2; command = "yes $TAG"; }
    );
};
EOC
pb_start_daemon "$PB_DIR/pb.conf" --print "$GCODE"
pb_expect_line "$LIVE" '^octoprint/event/HookFinished .*"name": "hang", .*"error": "timed out after 2 s; killed it and its process group"' \
  "$(pb_t 20)" "HookFinished for the hanging hook, killed at its timeout"
pb_expect_line "$LIVE" '^octoprint/event/HookFinished .*"name": "flood", .*"error": "timed out after 2 s; killed it and its process group"' \
  "$(pb_t 20)" "HookFinished for the flooding hook, killed at its timeout"
line=$(grep '^octoprint/event/HookFinished .*"name": "flood"' "$LIVE" | tail -n 1)
[ "${#line}" -lt 12000 ] || pb_fail "the flooding hook's HookFinished is ${#line} bytes: captured output is not bounded"
pgrep -f "$TAG" >/dev/null && pb_fail "a hook process is still running after its timeout: $(pgrep -af "$TAG")"
drill_wait_streamed "$(pb_t 120)"
pb_daemon_alive || pb_fail "printbridge died"
sleep 0.5
pb_stop_daemon TERM
[ "$PB_DAEMON_RC" = 0 ] || pb_fail "exit status $PB_DAEMON_RC after SIGTERM"
pb_stop_sim TERM
drill_check_record "$GCODE" "$RECORD"
pb_pass "a hanging and a flooding hook were killed at their timeout; the print was exact"
