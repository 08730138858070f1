# test_klipper_print.sh: printing on the real Klipper host (docs/klipper.md):
#   1. upload on command/upload and print it: PrintStarted, PrintDone, every line acknowledged
#   2. pause, resume and cancel a long streamed print
#   3. a print from Klipper's virtual SD card started by path: FileSelected and PrintStarted
#      with the size Klipper reports, PrintDone; while its M190 holds back every ok, M27 polls
#      do not pile up: never more than one outstanding, so at most one goes out when it ends
. "$(dirname "$0")/lib.sh"
pk_init

pb_start_broker_any
LIVE=$PB_DIR/live.txt
pb_sub_start "$LIVE" 'octoprint/#'
pk_start_klipper
CFG=$PB_DIR/pb.conf
pk_config "$CFG"
mkdir -p "$PB_DIR/files"
pb_start_daemon "$CFG"
P() { mosquitto_pub -h 127.0.0.1 -p "$PB_MQTT_PORT" -q 1 "$@"; }
job() {
  local mark; mark=$(pb_count "$LIVE")
  P -t octoprint/command/job -m "$1"
  pb_expect_line "$LIVE" "^octoprint/command/job/response r=0 q=1 \\{\"id\": \"$2\", \"result\": \"ok\"\\}$" "$(pb_t 10)" "the ok reply to $1" "$mark"
}
event() { pb_expect_line "$LIVE" "^octoprint/event/$1 r=0 q=0 \\{$2" "$(pb_t "${4:-30}")" "$1" "$3"; }
pb_expect_line "$LIVE" '"state_id": "OPERATIONAL"' "$(pb_t 30)" "the printer operational"

# --- 1. upload and print ---------------------------------------------------------------------------
GCODE=$PB_DIR/cube.gcode
{ echo "G28"; echo "G90"; for i in $(seq 1 200); do echo "G1 X$((i % 100 + 10)) Y$((i % 50 + 10)) Z0.$((i % 9 + 1)) F6000"; done; } >"$GCODE"
mark=$(pb_count "$LIVE")
P -t octoprint/command/upload/cube.gcode -f "$GCODE"
event FileAdded '"storage": "local", "path": "cube\.gcode", ' "$mark" 10
job '{"command": "start", "path": "cube.gcode", "id": "p1"}' p1
file="\"name\": \"cube\\.gcode\", \"path\": \"cube\\.gcode\", \"origin\": \"local\", \"size\": $(stat -c %s "$GCODE")"
event PrintStarted "$file" "$mark"
event PrintDone "$file, \"time\": $PB_FLOAT, " "$mark" 60
[ "$(pk_sent 'G1 X')" = 200 ] || pb_fail "expected the 200 moves sent once each, got $(pk_sent 'G1 X')"
grep -q 'recv: !!' "$PB_DIR/daemon.log" && pb_fail "Klipper refused a line of the print: $(grep -m1 'recv: !!' "$PB_DIR/daemon.log")"
pb_pass "upload and print: PrintStarted, PrintDone, the 200 moves sent once each, no error from Klipper"

# --- 2. pause, resume, cancel ------------------------------------------------------------------------
LONG=$PB_DIR/files/long.gcode
{ echo "G28"; for i in $(seq 1 50000); do echo "G1 X$((i % 100 + 10)) F6000"; echo "G1 Y$((i % 100 + 10))"; done; } >"$LONG"
mark=$(pb_count "$LIVE")
job '{"command": "start", "path": "long.gcode", "id": "p2"}' p2
event PrintStarted '"name": "long\.gcode"' "$mark"
job '{"command": "pause", "id": "p3"}' p3
event PrintPaused '"name": "long\.gcode"' "$mark"
pb_expect_line "$LIVE" '"state_id": "PAUSED"' "$(pb_t 20)" "the state Paused" "$mark"
job '{"command": "resume", "id": "p4"}' p4
event PrintResumed '"name": "long\.gcode"' "$mark"
job '{"command": "cancel", "id": "p5"}' p5
event PrintCancelled '"name": "long\.gcode"' "$mark"
pb_expect_line "$LIVE" '"state_id": "OPERATIONAL"' "$(pb_t 20)" "Operational after the cancel" "$mark"
[ "$(pk_events PrintDone "$mark")" = 0 ] || pb_fail "the cancelled print was reported done"
pb_pass "pause, resume and cancel a streamed print"

# --- 3. SD print by path; no M27 pile-up -------------------------------------------------------------
SD=$PK_STATE/sdcard/heat.gcode
{ echo "M190 S50"; echo "G28"; for i in $(seq 1 100); do echo "G1 X$((i % 100 + 10)) F6000"; done; echo "M140 S0"; } >"$SD"
size=$(stat -c %s "$SD")
mark=$(pb_count "$LIVE")
P -t octoprint/command/gcode -m M21
pb_expect_line "$LIVE" '^octoprint/state r=[01] q=0 \{"state": \{"text": "Operational", "flags": \{[^}]*"sdReady": true\}' \
  "$(pb_t 10)" "sdReady true after M21" "$mark"
logmark=$(wc -l <"$PB_DIR/daemon.log")
job '{"command": "start", "path": "heat.gcode", "origin": "sdcard", "id": "s1"}' s1
file="\"name\": \"heat\\.gcode\", \"path\": \"heat\\.gcode\", \"origin\": \"sdcard\", \"size\": $size"
event FileSelected "$file" "$mark"
event PrintStarted "$file" "$mark"
event PrintDone "$file, \"time\": $PB_FLOAT, " "$mark" 90
pb_wait_for_line "$PB_DIR/daemon.log" 'recv: B:[0-9.]+ /50\.0' 1 "$logmark" ||
  pb_fail "expected Klipper's wait reports (B:.. /50.0) while M190 held the print"
sent=$(pk_sent M27 "$logmark")
# the pile-up shows when the wait ends: every M27 queued meanwhile goes out then, one per ok
last_wait=$(tail -n +"$((logmark + 1))" "$PB_DIR/daemon.log" | grep -nE 'recv: B:[0-9.]+ /50\.0' | tail -n 1 | cut -d: -f1)
after=$(pk_sent M27 "$((logmark + last_wait))")
waits=$(tail -n +"$((logmark + 1))" "$PB_DIR/daemon.log" | grep -Ec 'recv: B:[0-9.]+ /50\.0')
echo "figure: SD print with an M190 wait ($waits one-second wait reports): $sent M27 sent in all, $after after the wait"
# one left waiting from the wait, and perhaps one more poll while the rest of the file ran
[ "$after" -le 2 ] || pb_fail "$after M27 polls went out once the M190 wait ended: they piled up during it"
pb_pass "SD print by path: FileSelected and PrintStarted with Klipper's size ($size), PrintDone; M27 polls did not pile up"
