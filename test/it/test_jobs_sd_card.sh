# test_jobs_sd_card.sh: SD-card jobs over MQTT against the simulator's card (--sd-dir):
#   1. the card's boot message came before the link was up, so sdReady is false: a select and
#      a start by path with origin sdcard get an error reply, no event, and no M23 reaches
#      the printer
#   2. M21 (command/gcode): "SD card ok" makes the state topic's sdReady true, and the file
#      list the job asks for (M20) ends with UpdatedFiles
#   3. a start by path on the card: M23, then FileSelected and PrintStarted, both with the
#      size from the printer's "File opened: ... Size: N", in that order; M24 runs and the
#      print ends with PrintDone
#   4. a start by path of a file the card does not have: FileDeselected, no PrintStarted
#   5. M22 ("SD card released"): sdReady false again and the start is refused again
. "$(dirname "$0")/lib.sh"
pb_init
pb_start_broker_any
LIVE=$PB_DIR/live.txt
pb_sub_start "$LIVE" 'octoprint/#'
SD=$PB_DIR/sd
REC=$PB_DIR/record.txt
mkdir -p "$SD"
printf 'G28\nG1 X10 Y10 F3000\nG1 X20\nG1 Y20\nG1 X10\n' >"$SD/cube.gco"
SIZE=$(stat -c %s "$SD/cube.gco")
pb_start_sim --sd-dir "$SD" --record "$REC"
PB_CFG_SCRIPT="" pb_write_config "$PB_DIR/pb.conf"
pb_start_daemon "$PB_DIR/pb.conf"
pb_expect_line "$LIVE" '^octoprint/event/Connected ' "$(pb_t 30)" "the Connected event"

P() { mosquitto_pub -h 127.0.0.1 -p "$PB_MQTT_PORT" -q 1 "$@"; }
NOCARD='the printer reports no SD card \(sdReady is false\); insert one and send M21'
# sync: a marker the printer must run; everything sent before it has been handled
NSYNC=0
sync_printer() {
  NSYNC=$((NSYNC + 1))
  P -t octoprint/command/gcode -m "M117 sync-$NSYNC"
  pb_wait_for_line "$REC" "^M117 sync-$NSYNC\$" "$(pb_t 15)" || pb_fail "the printer never ran M117 sync-$NSYNC"
}

# --- 1. no card reported yet ------------------------------------------------------------------------
mark=$(pb_count "$LIVE")
P -t octoprint/command/job -m '{"command": "select", "path": "cube.gco", "origin": "sdcard", "id": 1}'
pb_expect_line "$LIVE" "^octoprint/command/job/response r=0 q=1 \\{\"id\": 1, \"result\": \"error\", \"error\": \"$NOCARD\"\\}\$" \
  "$(pb_t 10)" "the error reply to an SD select without a card" "$mark"
P -t octoprint/command/job -m '{"command": "start", "path": "cube.gco", "origin": "sdcard", "id": 2}'
pb_expect_line "$LIVE" "^octoprint/command/job/response r=0 q=1 \\{\"id\": 2, \"result\": \"error\", \"error\": \"$NOCARD\"\\}\$" \
  "$(pb_t 10)" "the error reply to an SD start without a card" "$mark"
sync_printer
pb_sub_sync "$LIVE"
pb_lines "$LIVE" "$mark" | grep -E '^octoprint/event/(FileSelected|PrintStarted|FileDeselected) ' &&
  pb_fail "a refused SD command announced something (above)"
grep -q '^M23' "$REC" && pb_fail "a refused SD command reached the printer"
pb_pass "no card reported: SD select and start refused with an error reply, nothing announced or sent"

# --- 2. M21 -----------------------------------------------------------------------------------------
mark=$(pb_count "$LIVE")
P -t octoprint/command/gcode -m 'M21'
pb_expect_line "$LIVE" '^octoprint/state r=[01] q=0 \{"state": \{"text": "Operational", "flags": \{[^}]*"sdReady": true\}' \
  "$(pb_t 10)" "sdReady true in the state topic after M21" "$mark"
pb_expect_line "$LIVE" '^octoprint/event/UpdatedFiles r=0 q=0 \{"type": "printables", ' "$(pb_t 10)" \
  "UpdatedFiles after the card's file list" "$mark"
pb_wait_for_line "$REC" '^M20$' "$(pb_t 10)" || pb_fail "the job did not ask for the file list (M20)"
pb_pass "M21: sdReady true in the state topic, the file list is read (M20, UpdatedFiles)"

# --- 3. start by path ---------------------------------------------------------------------------------
mark=$(pb_count "$LIVE")
P -t octoprint/command/job -m '{"command": "start", "path": "cube.gco", "origin": "sdcard", "id": 3}'
pb_expect_line "$LIVE" '^octoprint/command/job/response r=0 q=1 \{"id": 3, "result": "ok"\}$' "$(pb_t 10)" "the ok reply" "$mark"
file="\"name\": \"cube\\.gco\", \"path\": \"cube\\.gco\", \"origin\": \"sdcard\", \"size\": $SIZE"
pb_expect_line "$LIVE" "^octoprint/event/PrintDone r=0 q=0 \\{$file, \"time\": $PB_FLOAT, " "$(pb_t 30)" "PrintDone" "$mark"
got=$(pb_lines "$LIVE" "$mark" | grep -E '^octoprint/event/(FileSelected|PrintStarted|PrintDone) ' | sed -E 's/, "_timestamp": [0-9]+\}$/}/; s/"time": [0-9.]+/"time": T/')
want="octoprint/event/FileSelected r=0 q=0 {\"name\": \"cube.gco\", \"path\": \"cube.gco\", \"origin\": \"sdcard\", \"size\": $SIZE, \"_event\": \"FileSelected\"}
octoprint/event/PrintStarted r=0 q=0 {\"name\": \"cube.gco\", \"path\": \"cube.gco\", \"origin\": \"sdcard\", \"size\": $SIZE, \"_event\": \"PrintStarted\"}
octoprint/event/PrintDone r=0 q=0 {\"name\": \"cube.gco\", \"path\": \"cube.gco\", \"origin\": \"sdcard\", \"size\": $SIZE, \"time\": T, \"_event\": \"PrintDone\"}"
[ "$got" = "$want" ] || pb_fail "SD start by path announced:
$got
expected:
$want"
sd_lines=$(grep -E '^(M23|M24|G1 X20)' "$REC" | tr '\n' '|')
[ "$sd_lines" = 'M23 cube.gco|M24|G1 X20|' ] || pb_fail "the printer ran $sd_lines; expected M23, M24, then the file"
pb_pass "a start by path on the card: FileSelected and PrintStarted with the size ($SIZE) the printer reported, then PrintDone"

# --- 4. a file the card does not have ------------------------------------------------------------------
mark=$(pb_count "$LIVE")
P -t octoprint/command/job -m '{"command": "start", "path": "nothere.gco", "origin": "sdcard"}'
pb_expect_line "$LIVE" '^octoprint/event/FileDeselected r=0 q=0 ' "$(pb_t 10)" "FileDeselected for a missing SD file" "$mark"
sync_printer
pb_sub_sync "$LIVE"
pb_lines "$LIVE" "$mark" | grep -E '^octoprint/event/(FileSelected|PrintStarted) ' && pb_fail "a missing SD file was announced or started"
pb_pass "a missing SD file: FileDeselected, nothing started"

# --- 5. M22 ---------------------------------------------------------------------------------------------
mark=$(pb_count "$LIVE")
P -t octoprint/command/gcode -m 'M22'
pb_expect_line "$LIVE" '^octoprint/state r=[01] q=0 \{"state": \{"text": "Operational", "flags": \{[^}]*"sdReady": false\}' \
  "$(pb_t 10)" "sdReady false in the state topic after M22" "$mark"
P -t octoprint/command/job -m '{"command": "start", "path": "cube.gco", "origin": "sdcard", "id": 5}'
pb_expect_line "$LIVE" "^octoprint/command/job/response r=0 q=1 \\{\"id\": 5, \"result\": \"error\", \"error\": \"$NOCARD\"\\}\$" \
  "$(pb_t 10)" "the error reply after the card was released" "$mark"
pb_pass "M22: sdReady false, SD starts refused again"

pb_stop_daemon
[ "$PB_DAEMON_RC" = 0 ] || pb_fail "exit status $PB_DAEMON_RC"
echo "PASS test_jobs_sd_card ($SECONDS s)"
