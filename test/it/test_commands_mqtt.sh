# test_commands_mqtt.sh: every inbound command topic against a real broker and the simulator,
# with the exact lines the printer executed (the simulator's --record file), and each refusal:
#   1. command/gcode as text, list and object with id; the reply; a duplicate id runs nothing;
#      a command the firmware does not know: CommandError, the reply names it, the next line runs
#   2. a retained command waiting on the broker is never executed
#   3. oversize, NUL, bad JSON, unknown command, denied G-code: an error reply and nothing sent
#   4. hassControl/{home,jog,commands,connect,cancel,pause} with the HA plugin's payloads
#   5. command/status, command/job (refused while idle), command/hook/<name> and a configured
#      topic handler with placeholders from the payload and topic levels; a reload moving the
#      handler's topic takes effect at once
#   6. state rules: G-code while disconnected, connect while connected; command/connection
#   7. hassControl/stop sends M112 (last: the simulated firmware halts)
. "$(dirname "$0")/lib.sh"
pb_init

pb_start_broker_any
P() { mosquitto_pub -h 127.0.0.1 -p "$PB_MQTT_PORT" -q 1 "$@"; }
REC=$PB_DIR/rec.txt
OUT=$PB_DIR/hook-out.txt
# 2. a retained command waiting on the broker from before the daemon subscribed
P -r -t octoprint/command/gcode -m 'M117 retained-replay'
P -r -t octoprint/hassControl/pause -m 'True'

LIVE=$PB_DIR/live.txt
pb_sub_start "$LIVE" 'octoprint/#'
pb_start_sim --record "$REC"
PB_CFG_EXTRA="inbound: {
  gcode_deny = [ \"M500\", \"M30*\" ];
  handlers = (
    { name = \"note\"; type = \"system\";
      command = \"sh -c 'printf \\\"%s|%s\\\" \\\"\$1\\\" \\\"\$2\\\" > \\\"\$3\\\"' hook {level} {__payload} $OUT\"; },
    { name = \"light\"; topic = \"cmd/+/set\"; type = \"gcode\"; command = \"M117 light {__topic1}={__payload}\"; }
  );
};"
pb_write_config "$PB_DIR/pb.conf"
pb_start_daemon "$PB_DIR/pb.conf"
pb_expect_line "$LIVE" '"state_id": "OPERATIONAL"' "$(pb_t 20)" "the printer to become operational"
pb_log "broker on $PB_MQTT_PORT, daemon pid $PB_DAEMON_PID"

# reply TOPIC JSON-REGEX WHAT: the reply on <topic>/response after the mark
MARK=0
mark() { MARK=$(pb_count "$LIVE"); }
reply() {
  pb_expect_line "$LIVE" "^octoprint/$1/response r=0 q=1 $2\$" "$(pb_t 10)" "$3" "$MARK"
}
# sync: a marker line the printer must execute; everything sent before it has been handled
NSYNC=0
sync_printer() {
  NSYNC=$((NSYNC + 1))
  P -t octoprint/command/gcode -m "M117 sync-$NSYNC"
  pb_wait_for_line "$REC" "^M117 sync-$NSYNC\$" "$(pb_t 15)" || pb_fail "the printer never ran M117 sync-$NSYNC"
}
rec_has() { grep -Fxq -- "$1" "$REC" || { tail -n 20 "$REC"; pb_fail "the printer did not run '$1' (record above)"; }; }
rec_lacks() { ! grep -Fq -- "$1" "$REC" || pb_fail "the printer ran '$1' but must not have"; }
rec_count() { grep -Fxc -- "$1" "$REC"; }
ERR='\{"id": null, "result": "error", "error": "'

# --- 1. command/gcode ----------------------------------------------------------------------------
mark
P -t octoprint/command/gcode -m $'M117 text-one\n  G4 P1  \n\nM117 text-two'
P -t octoprint/command/gcode -m '["M117 list-one", "M117 list-two"]'
P -t octoprint/command/gcode -m '{"id": 1, "commands": ["M117 object-one"]}'
reply command/gcode '\{"id": 1, "result": "ok"\}' "the ok reply for id 1"
P -t octoprint/command/gcode -m '{"id": 1, "commands": ["M117 object-one"]}'
reply command/gcode '\{"id": 1, "result": "error", "error": "duplicate id: a command with this id was already run in the last 10 minutes; nothing was done"\}' "the duplicate-id reply"
P -t octoprint/command/gcode -m '{"id": "s", "command": "M117 string-id"}'
reply command/gcode '\{"id": "s", "result": "ok"\}' "the ok reply for id \"s\""
sync_printer
expected=$(printf '%s\n' "M117 text-one" "G4 P1" "M117 text-two" "M117 list-one" "M117 list-two" "M117 object-one" "M117 string-id" "M117 sync-1")
got=$(grep -E '^(M117 |G4 )' "$REC" | grep -v '^M117 printbridge')
[ "$got" = "$expected" ] || pb_fail "printer ran, in order:
$got
expected:
$expected"
[ "$(rec_count 'M117 object-one')" = 1 ] || pb_fail "the duplicate id ran twice"
n_ok=$(pb_lines "$LIVE" | grep -c '^octoprint/command/gcode/response .*"result": "ok"')
[ "$n_ok" = 2 ] || pb_fail "expected 2 ok replies (only requests with an id are answered on success), got $n_ok"
pb_pass "command/gcode as text, list and object; exact lines in order; duplicate id ignored"

# a command the firmware does not know: Marlin's "echo:Unknown command" is a CommandError, the
# reply names the refused line, the lines after it still run, and the link stays up
mark
P -t octoprint/command/gcode -m '{"id": "u", "commands": ["M117 before-unknown", "G999 X1", "M117 after-unknown"]}'
reply command/gcode '\{"id": "u", "result": "error", "error": "line 2 \(\\"G999 X1\\"\): Unknown command: \\"G999 X1\\""\}' \
  "the reply naming the unknown command"
pb_expect_line "$LIVE" '^octoprint/event/CommandError r=0 q=0 \{"command": "G999 X1", "error": "Unknown command: \\"G999 X1\\"", "firmware": "Marlin 2\.1\.2 \(printbridge-sim\)", "_event": "CommandError", "_timestamp": '"$PB_TS"'\}$' \
  "$(pb_t 5)" "the CommandError event of G999" "$MARK"
pb_wait_for_line "$REC" '^M117 after-unknown$' "$(pb_t 10)" || pb_fail "the line after the unknown command did not run"
for e in Error Disconnected EStop; do
  ! pb_lines "$LIVE" "$MARK" | grep -q "^octoprint/event/$e " || pb_fail "an unknown command gave a $e event"
done
pb_pass "an unknown command: CommandError, the reply names line 2, the next line runs, no Error"

# --- 2. retained ---------------------------------------------------------------------------------
rec_lacks "retained-replay"
pb_lines "$LIVE" | grep -q '^octoprint/hassControl/pause/response' && pb_fail "a retained hassControl/pause was answered (so handled)"
grep -q 'ignoring the retained message on octoprint/command/gcode' "$PB_DIR/daemon.log" ||
  pb_fail "no log line about the ignored retained command"
P -r -t octoprint/command/gcode -n
P -r -t octoprint/hassControl/pause -n
pb_pass "retained commands are never executed"

# --- 3. refusals ---------------------------------------------------------------------------------
mark
head -c 70000 /dev/zero | tr '\0' 'x' >"$PB_DIR/big.txt"
P -t octoprint/command/gcode -f "$PB_DIR/big.txt"
reply command/gcode "${ERR}payload of 70000 bytes is over inbound.max_payload \\(65536 bytes\\); nothing was done\"\\}" "the oversize reply"
mark
printf 'M117 nul-before\0M117 nul-after' >"$PB_DIR/nul.txt"
P -t octoprint/command/gcode -f "$PB_DIR/nul.txt"
reply command/gcode "${ERR}the payload contains a NUL byte; nothing was done\"\\}" "the NUL reply"
mark
P -t octoprint/command/gcode -m '{"id": 5, "commands": ["M117 bad-json"'
reply command/gcode "${ERR}invalid JSON: [^\"]+\"\\}" "the invalid JSON reply"
mark
P -t octoprint/command/fly -m '{"id": "x"}'
reply command/fly '\{"id": "x", "result": "error", "error": "unknown command \\"fly\\"; known: gcode, connection, job, upload/<path>, hook/<name>, status, snapshot"\}' "the unknown command reply"
mark
P -t octoprint/command/gcode -m '{"id": 8, "commands": ["M117 before-denied", "m500"]}'
reply command/gcode '\{"id": 8, "result": "error", "error": "G-code M500 is denied by inbound.gcode_deny"\}' "the denied G-code reply"
mark
P -t octoprint/hassControl/commands -m '["M117 hass-before-denied", "M302 P1"]'
reply hassControl/commands "${ERR}G-code M302 is denied by inbound.gcode_deny\"\\}" "the denied hassControl G-code reply"
mark
P -t octoprint/command/gcode -m '{"id": 8, "commands": ["M117 id-8-after-fix"]}'
reply command/gcode '\{"id": 8, "result": "ok"\}' "a refused id may be used again"
sync_printer
for l in nul-before nul-after bad-json before-denied M500 M302; do rec_lacks "$l"; done
rec_has "M117 id-8-after-fix"
pb_pass "oversize, NUL, bad JSON, unknown command and denied G-code: error reply, nothing sent"

# --- 4. hassControl --------------------------------------------------------------------------------
P -t octoprint/hassControl/home -m '["x", "y", "z"]'
P -t octoprint/hassControl/jog -m '{"x": 0.1, "speed": 1.0 }'
P -t octoprint/hassControl/commands -m '["M117 hass-a", "M117 hass-b"]'
P -t octoprint/hassControl/commands -m 'M117 hass-plain'
sync_printer
expected=$(printf '%s\n' G91 "G28 X0 Y0 Z0" G90 G91 "G1 X0.1 F1" G90 "M117 hass-a" "M117 hass-b" "M117 hass-plain" "M117 sync-3")
# between the two sync markers, leaving out what the daemon sends on its own (polls, keepalive)
got=$(sed -n '/^M117 sync-2$/,/^M117 sync-3$/p' "$REC" | sed 1d | grep -Ev '^(M105|M155 .*|M113 .*)$')
[ "$got" = "$expected" ] || pb_fail "hassControl: printer ran
$got
expected
$expected"
mark
P -t octoprint/hassControl/cancel -m PRESS
reply hassControl/cancel "${ERR}nothing to cancel: no print is running\"\\}" "the cancel reply (the job module refuses: idle)"
mark
P -t octoprint/hassControl/pause -m Maybe
reply hassControl/pause "${ERR}unknown payload \\\\\"Maybe\\\\\" on hassControl/pause; expected True or False\"\\}" "the unknown payload reply"
mark
P -t octoprint/hassControl/jog -m '{"x": "far"}'
reply hassControl/jog "${ERR}hassControl/jog: \\\\\"x\\\\\" must be a distance in mm\"\\}" "the bad jog reply"
pb_pass "hassControl home, jog, commands with exact G-code; cancel/pause/jog refusals"

# --- 5. status, job, hooks -------------------------------------------------------------------------
mark
P -t octoprint/command/status -m '{"id": 10}'
reply command/status '\{"id": 10, "result": "ok", "state": \{"id": "OPERATIONAL", "text": "Operational"\}, "temperatures": \{.*\}\}' "the status reply"
mark
P -t octoprint/command/job -m '{"command": "pause", "id": 11}'
reply command/job '\{"id": 11, "result": "error", "error": "nothing to pause: no print is running"\}' "the job reply (refused: idle)"
mark
P -t octoprint/command/hook/note -m '{"id": 12, "level": "$(touch pwned); x'"'"'"}'
reply command/hook/note '\{"id": 12, "result": "ok", "returncode": 0, "stdout": "", "stderr": ""\}' "the hook reply"
[ "$(cat "$OUT")" = "\$(touch pwned); x'|{\"id\": 12, \"level\": \"\$(touch pwned); x'\"}" ] || pb_fail "hook wrote '$(cat "$OUT")'"
[ ! -e pwned ] && [ ! -e "$PB_DIR/pwned" ] || pb_fail "a placeholder value ran a command"
mark
P -t octoprint/command/hook/nope -m '{"id": 13}'
reply command/hook/nope '\{"id": 13, "result": "error", "error": "no inbound handler is named \\"nope\\""\}' "the unknown hook reply"
P -t octoprint/cmd/desk/set -m 'on'
sync_printer
rec_has "M117 light desk=on"
pb_pass "command/status, command/job, command/hook/<name> and a configured topic handler"

# --- 5b. a reload that moves a handler's topic: the new one is heard, the old one no more ----------
sed -i 's|"cmd/+/set"|"lamp/+/set"|' "$PB_DIR/pb.conf"
grep -q 'lamp/+/set' "$PB_DIR/pb.conf" || pb_fail "could not move the handler's topic in pb.conf"
kill -HUP "$PB_DAEMON_PID"
pb_wait_until "$(pb_t 10)" grep -q 'Received UNSUBSCRIBE from pb-test' "$PB_DIR/broker.log" ||
  pb_fail "expected printbridge to unsubscribe the handler's old topic after the reload"
grep -A3 'Received SUBSCRIBE from pb-test' "$PB_DIR/broker.log" | grep -q 'octoprint/lamp/+/set (QoS 1)' ||
  pb_fail "expected printbridge to subscribe the handler's new topic before dropping the old one"
P -t octoprint/lamp/desk/set -m 'off'
P -t octoprint/cmd/desk/set -m 'stale'
sync_printer
rec_has "M117 light desk=off"
rec_lacks "desk=stale"
pb_pass "a reload moves a topic handler's subscription at once"

# --- 6. state rules and command/connection ---------------------------------------------------------
mark
P -t octoprint/command/connection -m '{"command": "connect", "id": 20}'
reply command/connection '\{"id": 20, "result": "error", "error": "not allowed while the printer is Operational: it is already connected or connecting"\}' "connect while connected"
mark
P -t octoprint/hassControl/connect -m False
pb_expect_line "$LIVE" '^octoprint/event/Disconnected ' "$(pb_t 10)" "Disconnected after hassControl/connect False" "$MARK"
mark
P -t octoprint/command/gcode -m '{"id": 21, "commands": ["M117 while-offline"]}'
reply command/gcode '\{"id": 21, "result": "error", "error": "not allowed while the printer is Offline: connect it first"\}' "G-code while offline"
mark
P -t octoprint/command/connection -m '{"command": "connect", "id": 22}'
reply command/connection '\{"id": 22, "result": "ok"\}' "the connect reply"
pb_expect_line "$LIVE" '"state_id": "OPERATIONAL"' "$(pb_t 20)" "operational again" "$MARK"
sync_printer
rec_lacks "while-offline"
pb_pass "state rules; hassControl/connect False and command/connection connect"

# --- 7. emergency stop -------------------------------------------------------------------------------
P -t octoprint/hassControl/stop -m PRESS
pb_wait_for_line "$REC" '^M112$' "$(pb_t 10)" || pb_fail "hassControl/stop did not reach the printer as M112"
pb_pass "hassControl/stop sends M112"

pb_daemon_alive || pb_fail "the daemon died"
pb_stop_daemon
[ "$PB_DAEMON_RC" = 0 ] || pb_fail "exit status $PB_DAEMON_RC"
pb_pass "clean exit"
