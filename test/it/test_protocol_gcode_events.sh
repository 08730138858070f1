# test_protocol_gcode_events.sh: G-code events with their exact payloads as a subscriber sees
# them (docs/protocol.md 14-15, docs/wire-format.md 5): commands sent from the
# afterPrinterConnected script and from a streamed file, a blocked command, a command for a
# missing heater, commands the firmware does not know (the simulator, like Marlin, answers
# M245, M240 and M40 with "echo:Unknown command": CommandError once they were answered), an
# invalid tool reported by the firmware, an action notification and the "paused for user"
# busy line.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/protocol_common.sh"
pb_init
pb_start_broker_any
LIVE=$PB_DIR/live.txt
pb_sub_start "$LIVE" 'octoprint/event/#'

GCODE=$PB_DIR/z.gcode
printf '%s\n' "G1 Z0.2 F3000" "G1 X10 E1" "G1 Z0.6" "G1 Z0.2" "G1 X20 E2" "G1 Z0.4" "M300 S440 P10" > "$GCODE"
pb_start_sim --fast --extruders 2 --control "$PB_DIR/ctl"
PB_CFG_SCRIPT='"G28", "M80", "M81", "G4 P1", "M245", "M240", "M40", "M0", "M141 S40", "T0", "T5"' \
  pb_protocol_config "$PB_DIR/pb.conf"
sed -i 's/^printer: {/printer: { blocked_commands = "M0 M1";/' "$PB_DIR/pb.conf"
pb_start_daemon "$PB_DIR/pb.conf" --print "$GCODE"
pb_expect_line "$LIVE" '^octoprint/event/Alert ' "$(pb_t 30)" "the Alert of the file's M300"

# --print is a job like any other: it is announced, and it ends
pb_expect_line "$LIVE" '^octoprint/event/PrintStarted r=0 q=[01] \{"name": "z.gcode", "path": "[^"]*/z.gcode", "origin": "local", "size": 72, ' \
  "$(pb_t 10)" "PrintStarted of the --print file"
pb_expect_line "$LIVE" '^octoprint/event/PrintDone r=0 q=[01] \{"name": "z.gcode", ' "$(pb_t 10)" "PrintDone of the --print file"

# what the subscriber saw, timestamps normalised, in order, without state, connection and job chatter
got=$(pb_lines "$LIVE" | grep -Ev 'event/(Startup|PrinterStateChanged|Connecting|Connected|FirmwareData|PositionUpdate|FileSelected|PrintStarted|PrintDone|ChartMarked) ' |
      sed -E 's/, "_timestamp": [0-9]+\}$/}/; s/^octoprint\/event\/([A-Za-z]+) r=[01] q=[0-9] /\1 /')
# (retain flags are the publisher's contract, tested with it)
want='Home {"_event": "Home"}
PowerOn {"_event": "PowerOn"}
PowerOff {"_event": "PowerOff"}
Dwelling {"_event": "Dwelling"}
Cooling {"_event": "Cooling"}
Conveyor {"_event": "Conveyor"}
Eject {"_event": "Eject"}
CommandSuppressed {"command": "M0", "message": "Not sending M0 to printer, it is configured as a blocked command", "severity": "info", "_event": "CommandSuppressed"}
CommandSuppressed {"command": "M141 S40", "message": "Not sending M141 to printer, the printer profile has no heated chamber", "severity": "warn", "_event": "CommandSuppressed"}
CommandSuppressed {"command": "T5", "message": "Not sending T5 to printer, tool 5 is invalid for this printer", "severity": "warn", "_event": "CommandSuppressed"}
CommandError {"command": "M245", "error": "Unknown command: \"M245\"", "firmware": "Marlin 2.1.2 (printbridge-sim)", "_event": "CommandError"}
CommandError {"command": "M240", "error": "Unknown command: \"M240\"", "firmware": "Marlin 2.1.2 (printbridge-sim)", "_event": "CommandError"}
CommandError {"command": "M40", "error": "Unknown command: \"M40\"", "firmware": "Marlin 2.1.2 (printbridge-sim)", "_event": "CommandError"}
ToolChange {"old": 0, "new": 0, "_event": "ToolChange"}
ZChange {"new": 0.2, "old": null, "_event": "ZChange"}
ZChange {"new": 0.6, "old": 0.2, "_event": "ZChange"}
ZChange {"new": 0.2, "old": 0.6, "_event": "ZChange"}
ZChange {"new": 0.4, "old": 0.2, "_event": "ZChange"}
Alert {"_event": "Alert"}'
if [ "$got" != "$want" ]; then
  echo "--- want:"; echo "$want"; echo "--- got:"; echo "$got"
  pb_fail "G-code events differ (above)"
fi
pb_pass "G-code events, ToolChange, CommandSuppressed: exact payloads, in order"

# firmware-side events through the simulator's control socket
ctl() { printf '%s\n' "$1" | timeout 5 socat - "UNIX-CONNECT:$PB_DIR/ctl" >/dev/null; }
mark=$(pb_count "$LIVE")
ctl 'say echo:T1 Invalid extruder'
pb_expect_line "$LIVE" '^octoprint/event/InvalidToolReported r=0 q=0 \{"tool": 1, "fallback": 0, "_event": "InvalidToolReported", "_timestamp": [0-9]+\}$' \
  "$(pb_t 10)" "InvalidToolReported" "$mark"
pb_expect_line "$LIVE" '^octoprint/event/ToolChange r=0 q=0 \{"old": 0, "new": 0, ' "$(pb_t 10)" "the fallback T0" "$mark"
ctl 'action notification Filament runout'
pb_expect_line "$LIVE" '^octoprint/event/ActionNotification r=0 q=0 \{"message": "Filament runout", "_event": "ActionNotification", ' \
  "$(pb_t 10)" "ActionNotification" "$mark"
ctl 'say echo:busy: paused for user'
pb_expect_line "$LIVE" '^octoprint/event/PausedForUser r=[01] q=0 \{"_event": "PausedForUser", "_timestamp": [0-9]+\}$' \
  "$(pb_t 10)" "PausedForUser (retained)" "$mark"
ctl 'reset'
pb_expect_line "$LIVE" '^octoprint/event/PrinterReset r=0 q=0 \{"idle": true, ' "$(pb_t 10)" "PrinterReset after a firmware reset" "$mark"
pb_pass "InvalidToolReported, ActionNotification, PausedForUser, PrinterReset"
echo "PASS test_protocol_gcode_events ($SECONDS s)"
