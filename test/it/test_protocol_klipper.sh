# test_protocol_klipper.sh: Klipper's rules through the daemon, with the simulator speaking
# klippy's dialect (--firmware klipper; make check-klipper runs the same against the real
# Klipper host, docs/klipper.md):
#   1. command errors ("!! Must home axis first", "!! Move out of range", an unknown
#      command): CommandError events with the command, the error in the command's reply; the
#      printer stays Operational with no EStop and no reconnect
#   2. M112: only M112 reaches the printer, one EStop, one reconnect that finds it shut down
#      (STATUS): Error once, consequence "halted", state Error, G-code refused
#   3. firmware_restart: FIRMWARE_RESTART, a new handshake, Operational, G-code accepted
. "$(dirname "$0")/lib.sh"
pb_init

pb_start_broker_any
LIVE=$PB_DIR/live.txt
REC=$PB_DIR/rec.txt
pb_sub_start "$LIVE" 'octoprint/#'
pb_start_sim --firmware klipper --record "$REC"
CFG=$PB_DIR/pb.conf
PB_CFG_SCRIPT='' pb_write_config "$CFG"
pb_start_daemon "$CFG"
P() { mosquitto_pub -h 127.0.0.1 -p "$PB_MQTT_PORT" -q 1 "$@"; }
gcode() {
  local mark; mark=$(pb_count "$LIVE")
  P -t octoprint/command/gcode -m "{\"id\": \"$1\", \"command\": \"$2\"}"
  pb_expect_line "$LIVE" "^octoprint/command/gcode/response r=0 q=1 \{\"id\": \"$1\", $3\}$" "$(pb_t 20)" "$4" "$mark"
}
events() { pb_lines "$LIVE" "$2" | grep -c "^octoprint/event/$1 " || true; }
state_is() { pb_lines "$LIVE" | grep '^octoprint/event/PrinterStateChanged ' | tail -n 1 | grep -q "\"state_id\": \"$1\""; }
pb_expect_line "$LIVE" '^octoprint/event/FirmwareData r=0 q=0 \{"name": "Klipper", ' "$(pb_t 20)" "FirmwareData naming Klipper"
pb_wait_until "$(pb_t 10)" state_is OPERATIONAL || pb_fail "expected the printer Operational"
pb_wait_for_line "$REC" '^STATUS$' "$(pb_t 10)" || pb_fail "expected STATUS once the firmware is known to be Klipper"

# --- 1. command errors -------------------------------------------------------------------------------
mark=$(pb_count "$LIVE")
gcode e1 "G1 X500" '"result": "error", "error": "line 1 \(\\"G1 X500\\"\): Must home axis first: 500\.000 0\.000 0\.000 \[0\.000\]"' \
  "the error reply to G1 X500 before homing"
pb_expect_line "$LIVE" "^octoprint/event/CommandError r=0 q=0 \\{\"command\": \"G1 X500\", \"error\": \"Must home axis first: 500\\.000 0\\.000 0\\.000 \\[0\\.000\\]\", \"firmware\": \"Klipper\", \"_event\": \"CommandError\", \"_timestamp\": $PB_TS\\}$" \
  "$(pb_t 5)" "the CommandError event" "$mark"
P -t octoprint/command/gcode -m '{"id": "e2", "commands": ["G28", "G1 X10", "G1 X500", "FOO"]}'
pb_expect_line "$LIVE" '^octoprint/command/gcode/response r=0 q=1 \{"id": "e2", "result": "error", "error": "line 3 \(\\"G1 X500\\"\): Move out of range: 500\.000 0\.000 0\.000 \[0\.000\]"\}$' \
  "$(pb_t 20)" "the reply naming the first refused line of four" "$mark"
pb_expect_line "$LIVE" '^octoprint/event/CommandError r=0 q=0 \{"command": "FOO", "error": "Unknown command:\\"FOO\\"", ' \
  "$(pb_t 5)" "the CommandError of the unknown command" "$mark"
gcode e3 "M105" '"result": "ok"' "M105 answered after the errors"
[ "$(events CommandError "$mark")" = 3 ] || pb_fail "expected 3 CommandError events, got $(events CommandError "$mark")"
for e in EStop Error Disconnected Connecting Connected; do
  [ "$(events $e "$mark")" = 0 ] || pb_fail "command errors gave $(events $e "$mark") $e events; expected none"
done
state_is OPERATIONAL || pb_fail "expected the printer still Operational"
grep -q '^G1 X10$' "$REC" || pb_fail "the line before the refused one did not run"
pb_pass "command errors: CommandError events, the first refused line in the reply; Operational, no EStop, no reconnect"

# --- 2. M112 -------------------------------------------------------------------------------------------
mark=$(pb_count "$LIVE")
recmark=$(pb_count "$REC")
P -t octoprint/command/gcode -m M112
pb_expect_line "$LIVE" '^octoprint/event/Error r=0 q=0 \{"error": "Klipper is shut down \(Shutdown due to M112 command\); fix the cause, then send firmware_restart to command/connection", "reason": "firmware", "consequence": "halted", "logs": \[' \
  "$(pb_t 30)" "the Error event of the shutdown" "$mark"
pb_wait_until "$(pb_t 10)" state_is ERROR || pb_fail "expected the state Error while shut down"
gcode e4 "G28" '"result": "error", "error": "[^"]*"' "G28 refused while shut down"
[ "$(events EStop "$mark")" = 1 ] || pb_fail "expected 1 EStop, got $(events EStop "$mark")"
[ "$(events Connected "$mark")" = 1 ] || pb_fail "expected 1 reconnect after M112, got $(events Connected "$mark")"
[ "$(events Error "$mark")" = 1 ] || pb_fail "expected the Error once, got $(events Error "$mark")"
after=$(tail -n +"$((recmark + 1))" "$REC" | grep -Ev '^(M110 N0|M115|STATUS|M105)$' | tr '\n' '|')
[ "$after" = 'M112|' ] || pb_fail "after M112 the printer ran '$after'; expected M112 only (then the handshake)"
pb_pass "M112: only M112, one EStop, one reconnect, the shutdown is the Error state, shown once"

# --- 3. firmware_restart ----------------------------------------------------------------------------------
mark=$(pb_count "$LIVE")
P -t octoprint/command/connection -m firmware_restart
pb_expect_line "$LIVE" '"state_id": "OPERATIONAL"' "$(pb_t 20)" "Operational after firmware_restart" "$mark"
[ "$(grep -c '^FIRMWARE_RESTART$' "$REC")" = 1 ] || pb_fail "expected FIRMWARE_RESTART once"
gcode e5 "G28" '"result": "ok"' "G28 after the restart"
pb_pass "firmware_restart: FIRMWARE_RESTART, Operational again, G-code accepted"
