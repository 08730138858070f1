#!/usr/bin/env bash
# drill_printer_silent.sh: the printer stops answering in the middle of a print (a firmware
# hang: the simulator is frozen with SIGSTOP, its port stays open). The daemon must not wait
# for ever: within its communication timeouts it reports an Error and leaves PRINTING, stays
# up and connected to the broker, and once the printer is back (a new simulator on the same
# port) reconnects to OPERATIONAL.
set -u
. "$(dirname "$0")/../it/lib.sh"
. "$(dirname "$0")/common.sh"
pb_init
pb_start_broker_any
LIVE=$PB_DIR/live.txt
pb_sub_start "$LIVE" 'octoprint/#'
GCODE=$PB_DIR/job.gcode
drill_layers "$GCODE" 30 100
pb_start_sim --fast --ok-delay-ms 2
FROZEN=$PB_SIM_PID
pb_protocol_config "$PB_DIR/pb.conf"
pb_start_daemon "$PB_DIR/pb.conf" --print "$GCODE"
pb_expect_line "$LIVE" '^octoprint/event/ZChange .*"new": 1\.0' "$(pb_t 30)" "layer 5"
kill -STOP "$FROZEN"
pb_log "simulator frozen"
t0=$SECONDS
mark=$(pb_count "$LIVE")
pb_expect_line "$LIVE" '^octoprint/event/Error ' "$(pb_t 60)" "an Error once the printer is silent" "$mark"
pb_expect_line "$LIVE" '^octoprint/event/PrinterStateChanged .*"state_id": "(OFFLINE|ERROR|CLOSED_WITH_ERROR)"' "$(pb_t 30)" \
  "leaving PRINTING for an error state" "$mark"
detect=$((SECONDS - t0))
pb_daemon_alive || pb_fail "printbridge exited"
grep -q '^octoprint/mqtt r=0 q=[01] disconnected' "$LIVE" && pb_fail "the broker connection suffered from a silent printer"
pb_log "error after $detect s: $(pb_lines "$LIVE" "$mark" | grep -m1 '^octoprint/event/Error ' | cut -c1-160)"
# the hung firmware is power-cycled: a fresh simulator on the same port
kill -KILL "$FROZEN"; wait "$FROZEN" 2>/dev/null; rm -f "$PB_LINK"
mark=$(pb_count "$LIVE")
pb_start_sim --fast
pb_expect_line "$LIVE" '^octoprint/event/PrinterStateChanged .*"state_id": "OPERATIONAL"' "$(pb_t 60)" "OPERATIONAL with the new printer" "$mark"
pb_stop_daemon TERM
[ "$PB_DAEMON_RC" = 0 ] || pb_fail "exit status $PB_DAEMON_RC after SIGTERM"
echo "FIGURE drill_printer_silent detect_s=$detect"
pb_pass "silent printer: Error and out of PRINTING after $detect s, reconnected afterwards"
