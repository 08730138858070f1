# test_jobs_tool_change_script.sh: scripts.beforeToolChange and afterToolChange as a user sees
# them (docs/jobs.md), with a two-extruder profile and simulator:
#   1. a print from local storage: each T line of the file reaches the printer between the two
#      scripts (before, T, after), a T for a tool the profile does not have is suppressed with
#      neither script, and GcodeScriptBeforeToolChangeRunning / ...Finished come once per
#      tool change, before its ToolChange, each script's events side by side
#   2. a T sent over command/gcode gets the same scripts around it
#   3. the print of 1 again with 8 lines in flight (ADVANCED_OK): the same lines and events
. "$(dirname "$0")/lib.sh"
pb_init
REC=$PB_DIR/record.txt
FILES=$PB_DIR/files
LIVE=$PB_DIR/live.txt
pb_start_broker_any
pb_sub_start "$LIVE" 'octoprint/event/#'
mkdir -p "$FILES"
printf '%s\n' "G21" "M117 tc-start" "T1 ; to the second nozzle" "G1 X1 F3000" "T0" "G1 X2" "T5" "M117 tc-end" >"$FILES/tools.gcode"
PB_CFG_FILES="$FILES" PB_CFG_SCRIPT='"M117 hello"' PB_CFG_EXTRA='profile: { extruders = 2; };' pb_write_config "$PB_DIR/pb.conf"
sed -i 's/^scripts: {/scripts: { beforeToolChange = [ "M117 before-tc" ]; afterToolChange = [ "M117 after-tc" ];/' "$PB_DIR/pb.conf"
P() { mosquitto_pub -h 127.0.0.1 -p "$PB_MQTT_PORT" -q 1 "$@"; }
# the printer's lines after line FROM of the record, polls left out
printed() { tail -n +"$(($1 + 1))" "$REC" | grep -Ev '^(M105|M27( S[0-9]+)?|M155 S[0-9]+)$'; }

# start_all SIM-ARGS...: the simulator and the daemon, until the connect script arrived
start_all() {
  local mark; mark=$(pb_count "$LIVE")
  pb_start_sim --fast --extruders 2 --record "$REC" "$@"
  pb_start_daemon "$PB_DIR/pb.conf"
  pb_expect_line "$LIVE" '^octoprint/event/Connected ' "$(pb_t 30)" "Connected" "$mark"
  pb_wait_until "$(pb_t 10)" grep -qx 'M117 hello' "$REC" || pb_fail "the printer never got the connect script"
}

WANT_LINES='M117 tc-start
M117 before-tc
T1
M117 after-tc
G1 X1 F3000
M117 before-tc
T0
M117 after-tc
G1 X2
M117 tc-end'
WANT_EVENTS='GcodeScriptBeforeToolChangeRunning
GcodeScriptBeforeToolChangeFinished
ToolChange {"old": 0, "new": 1, "_event": "ToolChange"}
GcodeScriptAfterToolChangeRunning
GcodeScriptAfterToolChangeFinished
GcodeScriptBeforeToolChangeRunning
GcodeScriptBeforeToolChangeFinished
ToolChange {"old": 1, "new": 0, "_event": "ToolChange"}
GcodeScriptAfterToolChangeRunning
GcodeScriptAfterToolChangeFinished
CommandSuppressed {"command": "T5", "message": "Not sending T5 to printer, tool 5 is invalid for this printer", "severity": "warn", "_event": "CommandSuppressed"}'

# print_tools WHAT: prints tools.gcode; checks the printer's lines and the events
print_tools() {
  local mark recmark got events
  mark=$(pb_count "$LIVE")
  recmark=$(pb_count "$REC")
  P -t octoprint/command/job -m '{"command": "start", "path": "tools.gcode"}'
  pb_expect_line "$LIVE" '^octoprint/event/PrintDone ' "$(pb_t 30)" "PrintDone" "$mark"
  got=$(printed "$recmark" | sed -n '/^M117 tc-start$/,/^M117 tc-end$/p')
  [ "$got" = "$WANT_LINES" ] || pb_fail "$1: the printer got, in order:
$got
expected:
$WANT_LINES"
  events=$(pb_lines "$LIVE" "$mark" | grep -E '^octoprint/event/(GcodeScript[A-Za-z]*ToolChange[A-Za-z]*|ToolChange|CommandSuppressed) ' |
           sed -E 's/, "_timestamp": [0-9]+\}$/}/; s/^octoprint\/event\/([A-Za-z]+) r=[01] q=[0-9] /\1 /; s/^(GcodeScript[A-Za-z]+) \{.*/\1/')
  [ "$events" = "$WANT_EVENTS" ] || pb_fail "$1: the tool change events differ; got:
$events
expected:
$WANT_EVENTS"
  pb_pass "$1: before, T, after for each tool change of the file; an invalid T suppressed without scripts"
}

# --- 1. a print ----------------------------------------------------------------------------------
start_all
print_tools "a print"

# --- 2. over command/gcode -----------------------------------------------------------------------
mark=$(pb_count "$LIVE")
recmark=$(pb_count "$REC")
P -t octoprint/command/gcode -m '{"id": "t", "commands": ["T1"]}'
pb_expect_line "$LIVE" '^octoprint/event/GcodeScriptAfterToolChangeFinished ' "$(pb_t 10)" "the after script of the inbound T1" "$mark"
pb_wait_until "$(pb_t 10)" eval '[ "$(printed "$recmark" | tr "\n" "|")" = "M117 before-tc|T1|M117 after-tc|" ]' ||
  pb_fail "a T over command/gcode gave the printer '$(printed "$recmark" | tr '\n' '|')', not 'M117 before-tc|T1|M117 after-tc|'"
pb_pass "command/gcode: T1 between the tool change scripts"

# --- 3. with lines in flight ----------------------------------------------------------------------
pb_stop_daemon TERM
pb_stop_sim
start_all --advanced-ok --buffer 16
print_tools "8 lines in flight"
