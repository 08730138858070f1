#!/usr/bin/env bash
# drill_disk_full.sh: the storage folder's disk fills up (a 512 KiB tmpfs; needs root to
# mount it, skipped otherwise). A G-code file that only half fits lands in the folder (the
# copy fails with ENOSPC) while the daemon watches it; the daemon must stay up, keep printing
# and keep its broker connection, and once
# space is freed pick up a new file normally (FileAdded, MetadataAnalysisFinished).
# An upload through MQTT (command/upload/<path>) on the full disk must get a 'disk full'
# error reply and leave nothing behind.
set -u
. "$(dirname "$0")/../it/lib.sh"
. "$(dirname "$0")/common.sh"
pb_init
[ "$(id -u)" = 0 ] || drill_skip "mounting a small tmpfs needs root"
FILES=$PB_DIR/files
mkdir -p "$FILES"
mount -t tmpfs -o size=512k,mode=0755 pb-drill "$FILES" 2>/dev/null || drill_skip "cannot mount a tmpfs here (container without CAP_SYS_ADMIN?)"
trap 'umount "$FILES" 2>/dev/null; pb_cleanup' EXIT
pb_start_broker_any
LIVE=$PB_DIR/live.txt
pb_sub_start "$LIVE" 'octoprint/#'
GCODE=$PB_DIR/job.gcode
RECORD=$PB_DIR/record.txt
drill_layers "$GCODE" 40 50
pb_start_sim --fast --ok-delay-ms 2 --record "$RECORD"
PB_CFG_FILES=$FILES pb_protocol_config "$PB_DIR/pb.conf"
pb_start_daemon "$PB_DIR/pb.conf" --print "$GCODE"
pb_expect_line "$LIVE" '^octoprint/event/PrinterStateChanged .*"state_id": "PRINTING"' "$(pb_t 20)" "PRINTING"
# fill the disk: a filler, then a file that does not fit
head -c 300000 /dev/zero >"$FILES/filler.bin" 2>/dev/null
awk 'BEGIN { for (i = 0; i < 40000; i++) printf "G1 X%d Y%d E%d\n", i % 200, i % 150, i }' >"$PB_DIR/big.gcode"
cp "$PB_DIR/big.gcode" "$FILES/big.gcode" 2>"$PB_DIR/cp.err" && pb_fail "the big file fit; the disk was not full"
grep -q 'No space left' "$PB_DIR/cp.err" || pb_fail "cp failed for another reason: $(cat "$PB_DIR/cp.err")"
pb_log "disk full: $(df -k "$FILES" | tail -n 1)"
sleep 3
pb_daemon_alive || pb_fail "printbridge died with the disk full"
grep -q '^octoprint/mqtt r=0 q=[01] disconnected' "$LIVE" && pb_fail "the broker connection dropped"
# an upload over MQTT on the full disk: an error reply saying so, and nothing left behind
mark=$(pb_count "$LIVE")
mosquitto_pub -h 127.0.0.1 -p "$PB_MQTT_PORT" -q 1 -t octoprint/command/upload/up.gcode -f "$PB_DIR/big.gcode"
pb_expect_line "$LIVE" '^octoprint/command/upload/up\.gcode/response .*"result": "error", "error": "disk full[^"]*"' \
  "$(pb_t 20)" "a 'disk full' error reply to the upload" "$mark"
leftover=$(ls -A "$FILES" | grep -v -e '^filler\.bin$' -e '^big\.gcode$' -e '^\.printbridge$' || true)
[ -z "$leftover" ] || pb_fail "the failed upload left files behind: $leftover"
pb_daemon_alive || pb_fail "printbridge died on the failed upload"
# free space, add a good file
rm -f "$FILES/filler.bin" "$FILES/big.gcode"
mark=$(pb_count "$LIVE")
cp "$PB_SRCDIR/test/data/cube_cura.gcode" "$FILES/cube.gcode" 2>/dev/null || head -c 100000 "$PB_SRCDIR/test/data/cube_cura.gcode" >"$FILES/cube.gcode"
pb_expect_line "$LIVE" '^octoprint/event/FileAdded .*"cube\.gcode"' "$(pb_t 20)" "FileAdded after space came back" "$mark"
pb_expect_line "$LIVE" '^octoprint/event/MetadataAnalysisFinished .*cube\.gcode' "$(pb_t 30)" "the analysis of the new file" "$mark"
drill_wait_streamed "$(pb_t 60)"
sleep 0.5
pb_stop_daemon TERM
[ "$PB_DAEMON_RC" = 0 ] || pb_fail "exit status $PB_DAEMON_RC after SIGTERM"
pb_stop_sim TERM
drill_check_record "$GCODE" "$RECORD"
pb_pass "disk full: daemon up, print exact, broker connected; a new file is analysed once space is back"
