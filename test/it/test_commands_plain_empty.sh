# test_commands_plain_empty.sh: the payload forms of docs/wire-format.md 11.2 and 11.12 against
# a real broker and the simulator:
#   1. retained commands left on every command topic before the daemon started are cleared
#      with empty retained messages (mosquitto_pub -r -n) while it runs, command/status
#      included: no reply, no error, nothing reaches the printer or the storage, one log line
#      each; a later subscriber finds nothing retained
#   2. the plain-text form of every command topic: G-code text on command/gcode; start, pause,
#      resume, toggle and cancel on command/job (start prints the file selected before);
#      select without JSON is refused (no path); an unknown word gets the JSON form's error;
#      status on command/status; any text on command/hook/<name> (as {__payload});
#      disconnect and connect on command/connection
. "$(dirname "$0")/lib.sh"
pb_init
pb_start_broker_any
LIVE=$PB_DIR/live.txt
REC=$PB_DIR/rec.txt
OUT=$PB_DIR/hook-out.txt
pb_sub_start "$LIVE" 'octoprint/#'
pb_start_sim --record "$REC"
# retained commands left on the broker before the daemon subscribes
TOPICS="command/gcode command/job command/connection command/status command/snapshot command/hook/note
command/upload/x.gcode hassControl/pause hassControl/stop hassControl/commands"
for t in $TOPICS; do
  mosquitto_pub -h 127.0.0.1 -p "$PB_MQTT_PORT" -q 1 -r -t "octoprint/$t" -m 'M117 retained'
done
PB_CFG_SCRIPT="" PB_CFG_EXTRA="inbound: { handlers = (
    { name = \"note\"; type = \"system\"; command = \"sh -c 'printf %s \\\"\$1\\\" > $OUT' note {__payload}\"; }
  ); };" pb_write_config "$PB_DIR/pb.conf"
pb_start_daemon "$PB_DIR/pb.conf"
pb_expect_line "$LIVE" '"state_id": "OPERATIONAL"' "$(pb_t 20)" "the printer to become operational"

P() { mosquitto_pub -h 127.0.0.1 -p "$PB_MQTT_PORT" -q 1 "$@"; }
NSYNC=0
sync_printer() {
  NSYNC=$((NSYNC + 1))
  P -t octoprint/command/gcode -m "M117 sync-$NSYNC"
  pb_wait_for_line "$REC" "^M117 sync-$NSYNC\$" "$(pb_t 15)" || pb_fail "the printer never ran M117 sync-$NSYNC"
}
# status_sync: a status request with an id; once its reply is in, every reply to what was
# published before it would be in too (one subscription, one connection, in order)
NSTAT=0
status_sync() {
  NSTAT=$((NSTAT + 1))
  P -t octoprint/command/status -m "{\"id\": \"sync-$NSTAT\"}"
  pb_expect_line "$LIVE" "^octoprint/command/status/response r=0 q=1 \\{\"id\": \"sync-$NSTAT\", \"result\": \"ok\"" \
    "$(pb_t 10)" "the reply to status sync-$NSTAT"
}

# --- 1. clearing retained commands ----------------------------------------------------------------
mark=$(pb_count "$LIVE")
for t in $TOPICS; do P -r -n -t "octoprint/$t"; done
status_sync
sync_printer
pb_lines "$LIVE" "$mark" | grep -E '/response ' | grep -v '"id": "sync-' && pb_fail "an empty message was answered (above)"
grep -q 'retained' "$REC" && pb_fail "a retained or cleared command reached the printer"
[ -e "$PB_DIR/files/x.gcode" ] && pb_fail "an empty upload stored a file"
[ -e "$OUT" ] && pb_fail "an empty message ran the hook"
for t in $TOPICS; do
  grep -q "commands: ignoring the empty message on octoprint/$t\$" "$PB_DIR/daemon.log" ||
    pb_fail "no log line for the empty message on octoprint/$t"
done
LATE=$PB_DIR/late.txt
timeout 3 mosquitto_sub -h 127.0.0.1 -p "$PB_MQTT_PORT" -t 'octoprint/command/#' -t 'octoprint/hassControl/#' -v -W 2 >"$LATE" 2>/dev/null
[ -s "$LATE" ] && { cat "$LATE"; pb_fail "retained commands are still on the broker (above)"; }
pb_pass "empty retained messages clear every command topic quietly: no reply, nothing run, one log line each"

# --- 2. plain text ---------------------------------------------------------------------------------
mark=$(pb_count "$LIVE")
P -t octoprint/command/gcode -m $'M117 plain-one\nM117 plain-two'
sync_printer
got=$(grep -E '^M117 plain-' "$REC" | tr '\n' '|')
[ "$got" = 'M117 plain-one|M117 plain-two|' ] || pb_fail "plain G-code ran as: $got"
pb_pass "command/gcode: plain text, one command per line"

# a print long enough to pause: 300 moves
GCODE=$PB_DIR/files/long.gcode
mkdir -p "$PB_DIR/files"
for i in $(seq 1 300); do echo "G1 X$((i % 50)) Y$((i % 37)) F6000"; done >"$GCODE"
pb_expect_line "$LIVE" '^octoprint/event/FileAdded r=0 q=0 \{"storage": "local", "path": "long\.gcode"' "$(pb_t 10)" "FileAdded of long.gcode"
mark=$(pb_count "$LIVE")
P -t octoprint/command/job -m 'select'
pb_expect_line "$LIVE" '^octoprint/command/job/response r=0 q=1 \{"id": null, "result": "error", "error": "no path given"\}$' \
  "$(pb_t 10)" "plain select refused: a path needs JSON" "$mark"
P -t octoprint/command/job -m 'begin'
pb_expect_line "$LIVE" '^octoprint/command/job/response r=0 q=1 \{"id": null, "result": "error", "error": "unknown job command \\"begin\\"; known: select, start, pause, resume, toggle, cancel"\}$' \
  "$(pb_t 10)" "an unknown plain word refused like its JSON form" "$mark"
P -t octoprint/command/job -m '{"command": "select", "path": "long.gcode"}'
pb_expect_line "$LIVE" '^octoprint/event/FileSelected r=0 q=0 \{"name": "long\.gcode"' "$(pb_t 10)" "FileSelected" "$mark"
P -t octoprint/command/job -m ' start '
pb_expect_line "$LIVE" '^octoprint/event/PrintStarted r=0 q=0 \{"name": "long\.gcode"' "$(pb_t 10)" "PrintStarted after plain start" "$mark"
P -t octoprint/command/job -m 'pause'
pb_expect_line "$LIVE" '^octoprint/event/PrintPaused r=0 q=0 \{"name": "long\.gcode"' "$(pb_t 15)" "PrintPaused after plain pause" "$mark"
P -t octoprint/command/job -m 'resume'
pb_expect_line "$LIVE" '^octoprint/event/PrintResumed r=0 q=0 \{"name": "long\.gcode"' "$(pb_t 10)" "PrintResumed after plain resume" "$mark"
m2=$(pb_count "$LIVE")
P -t octoprint/command/job -m 'toggle'
pb_expect_line "$LIVE" '^octoprint/event/PrintPaused r=0 q=0 \{"name": "long\.gcode"' "$(pb_t 15)" "PrintPaused after plain toggle" "$m2"
P -t octoprint/command/job -m 'cancel'
pb_expect_line "$LIVE" '^octoprint/event/PrintCancelled r=0 q=0 \{"name": "long\.gcode"' "$(pb_t 15)" "PrintCancelled after plain cancel" "$mark"
pb_lines "$LIVE" "$mark" | grep '^octoprint/command/job/response ' | grep -v '"error": "no path given"\|unknown job command' &&
  pb_fail "a plain job command that worked was answered (no id: only errors are)"
pb_pass "command/job: plain start, pause, resume, toggle and cancel act; plain select and unknown words are refused"

mark=$(pb_count "$LIVE")
P -t octoprint/command/status -m 'status'
pb_expect_line "$LIVE" '^octoprint/command/status/response r=0 q=1 \{"id": null, "result": "ok", "state": \{"id": "OPERATIONAL", "text": "Operational"\}, "temperatures": \{' \
  "$(pb_t 10)" "the reply to plain status" "$mark"
P -t octoprint/command/hook/note -m 'plain words'
pb_wait_until "$(pb_t 10)" [ -s "$OUT" ] || pb_fail "the hook did not run for a plain payload"
[ "$(cat "$OUT")" = 'plain words' ] || pb_fail "the hook got {__payload} = '$(cat "$OUT")'"
pb_pass "command/status and command/hook/<name> take plain text"

mark=$(pb_count "$LIVE")
P -t octoprint/command/connection -m 'disconnect'
pb_expect_line "$LIVE" '^octoprint/event/PrinterStateChanged r=0 q=0 \{"state_id": "OFFLINE"' "$(pb_t 10)" "OFFLINE after plain disconnect" "$mark"
P -t octoprint/command/connection -m 'connect'
pb_expect_line "$LIVE" '^octoprint/event/PrinterStateChanged r=0 q=0 \{"state_id": "OPERATIONAL"' "$(pb_t 20)" "OPERATIONAL after plain connect" "$mark"
pb_pass "command/connection: plain disconnect and connect"

pb_stop_daemon
[ "$PB_DAEMON_RC" = 0 ] || pb_fail "exit status $PB_DAEMON_RC"
echo "PASS test_commands_plain_empty ($SECONDS s)"
