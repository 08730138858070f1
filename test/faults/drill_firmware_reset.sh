#!/usr/bin/env bash
# drill_firmware_reset.sh: the firmware resets in the middle of a print (brown-out, watchdog:
# "start" again). The daemon publishes PrinterReset {"idle": false}, ends the print
# (PrintFailed), stops sending it to a printer that forgot it (no line after the reset belongs to the old print, so
# nothing half-printed is continued blind), and ends up OPERATIONAL, not stuck in PRINTING.
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
pb_start_sim --fast --ok-delay-ms 1 --reset-after 1000 --record "$RECORD"
pb_protocol_config "$PB_DIR/pb.conf"
pb_start_daemon "$PB_DIR/pb.conf" --print "$GCODE"
pb_expect_line "$LIVE" '^octoprint/event/PrinterReset r=0 q=0 \{"idle": false' "$(pb_t 30)" "PrinterReset during the print"
pb_expect_line "$LIVE" '^octoprint/event/PrintFailed ' "$(pb_t 10)" "the print reported as ended"
last_state() { grep '^octoprint/event/PrinterStateChanged ' "$LIVE" | tail -n 1; }
for _ in $(seq 1 $((10 * $(pb_t 30)))); do
  last_state | grep -q '"state_id": "OPERATIONAL"' && break
  sleep 0.1
done
last_state | grep -q '"state_id": "OPERATIONAL"' ||
  pb_fail "not OPERATIONAL again after the reset: $(grep PrinterStateChanged "$LIVE" | tail -n 3 | cut -c1-120)"
sleep 2
last=$(grep '^octoprint/event/PrinterStateChanged ' "$LIVE" | tail -n 1)
echo "$last" | grep -q '"state_id": "OPERATIONAL"' || pb_fail "stuck after the reset: $last"
pb_daemon_alive || pb_fail "printbridge exited"
pb_stop_daemon TERM
[ "$PB_DAEMON_RC" = 0 ] || pb_fail "exit status $PB_DAEMON_RC after SIGTERM"
pb_stop_sim TERM
total=$(pb_gcode_commands "$GCODE" | wc -l)
ran=$(grep -cE '^(G1|G28)( |$)' "$RECORD")
[ "$ran" -lt "$total" ] || pb_fail "the whole print ran on a reset printer ($ran of $total lines)"
pb_gcode_commands "$GCODE" | head -n "$ran" | cmp -s - <(grep -E '^(G1|G28)( |$)' "$RECORD") ||
  pb_fail "the lines that ran were not the file's first $ran, once each"
pb_pass "firmware reset mid-print: PrinterReset, print stopped after $ran of $total lines, OPERATIONAL"
