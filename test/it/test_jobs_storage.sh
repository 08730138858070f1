# test_jobs_storage.sh: the storage folder through the whole daemon and a real broker.
#   1. a file copied into the folder: FileAdded, UpdatedFiles, MetadataAnalysisStarted and
#      MetadataAnalysisFinished (with the slicer's embedded estimate) on MQTT, byte-exact keys
#   2. moved into a new subfolder: FolderAdded, FileRemoved/FileAdded (move), FileMoved;
#      removed: FileRemoved (remove)
#   3. the analysis is cached beside the file and not announced again after a restart
#   4. a journal left by a printbridge that died mid-print (kill -9; written here as the
#      daemon writes it) gives PrintFailed {reason: "error"} with its fileposition at start-up
. "$(dirname "$0")/lib.sh"
pb_init

pb_start_broker_any
LIVE=$PB_DIR/live.txt
pb_sub_start "$LIVE" 'octoprint/event/#'
pb_start_sim
FILES=$PB_DIR/files
PB_CFG_FILES="$FILES" pb_write_config "$PB_DIR/pb.conf"
pb_start_daemon "$PB_DIR/pb.conf"
pb_expect_line "$LIVE" '^octoprint/event/Connected ' "$(pb_t 30)" "the Connected event"

# --- 1 ------------------------------------------------------------------------------------------
cp "$PB_SRCDIR/test/data/cube_prusa.gcode" "$FILES/cube.gcode"
type='\["machinecode", "gcode"\]'
pb_expect_line "$LIVE" "^octoprint/event/FileAdded r=0 q=0 \{\"storage\": \"local\", \"path\": \"cube.gcode\", \"name\": \"cube.gcode\", \"type\": $type, \"operation\": \"add\", \"_event\": \"FileAdded\", \"_timestamp\": $PB_TS\}$" "$(pb_t 10)" "FileAdded"
pb_expect_line "$LIVE" "^octoprint/event/UpdatedFiles r=0 q=0 \{\"type\": \"printables\", \"_event\": \"UpdatedFiles\", \"_timestamp\": $PB_TS\}$" "$(pb_t 10)" "UpdatedFiles"
pb_expect_line "$LIVE" "^octoprint/event/MetadataAnalysisStarted r=0 q=0 \{\"name\": \"cube.gcode\", \"path\": \"cube.gcode\", \"origin\": \"local\", \"_event\": \"MetadataAnalysisStarted\", \"_timestamp\": $PB_TS\}$" "$(pb_t 10)" "MetadataAnalysisStarted"
pb_expect_line "$LIVE" "^octoprint/event/MetadataAnalysisFinished r=0 q=0 \{\"name\": \"cube.gcode\", \"path\": \"cube.gcode\", \"origin\": \"local\", \"result\": \{\"printingArea\": \{\"maxX\": $PB_FLOAT, .*\"estimatedPrintTime\": 937.0, \"filament\": \{\"tool0\": \{\"length\": $PB_FLOAT, \"volume\": $PB_FLOAT\}\}, \"analysisPrintTime\": $PB_FLOAT, \"slicerPrintTime\": 937.0, \"layers\": \{\"count\": 50, .*\"_event\": \"MetadataAnalysisFinished\"" "$(pb_t 10)" "MetadataAnalysisFinished with the embedded estimate"
[ -f "$FILES/.printbridge/cube.gcode.json" ] || pb_fail "no cached analysis in $FILES/.printbridge"
pb_pass "a dropped file is announced and analysed; the analysis is cached"

# --- 2 ------------------------------------------------------------------------------------------
mark=$(pb_count "$LIVE")
mkdir "$FILES/sub"
pb_expect_line "$LIVE" "^octoprint/event/FolderAdded r=0 q=0 \{\"storage\": \"local\", \"path\": \"sub\", \"name\": \"sub\"," "$(pb_t 10)" "FolderAdded" "$mark"
mv "$FILES/cube.gcode" "$FILES/sub/cube.gcode"
pb_expect_line "$LIVE" "^octoprint/event/FileMoved r=0 q=0 \{\"storage\": \"local\", \"source_path\": \"cube.gcode\", \"source_name\": \"cube.gcode\", \"source_type\": $type, \"destination_path\": \"sub/cube.gcode\", \"destination_name\": \"cube.gcode\", \"destination_type\": $type," "$(pb_t 10)" "FileMoved" "$mark"
pb_expect_line "$LIVE" "^octoprint/event/FileRemoved r=0 q=0 \{\"storage\": \"local\", \"path\": \"cube.gcode\", \"name\": \"cube.gcode\", \"type\": $type, \"operation\": \"move\"," "$(pb_t 10)" "FileRemoved (move)" "$mark"
rm "$FILES/sub/cube.gcode"
pb_expect_line "$LIVE" "^octoprint/event/FileRemoved r=0 q=0 \{\"storage\": \"local\", \"path\": \"sub/cube.gcode\", \"name\": \"cube.gcode\", \"type\": $type, \"operation\": \"remove\"," "$(pb_t 10)" "FileRemoved (remove)" "$mark"
pb_pass "moves and removals in subfolders"

# --- 3 and 4 ------------------------------------------------------------------------------------
cp "$PB_SRCDIR/test/data/cube_cura.gcode" "$FILES/again.gcode"
pb_expect_line "$LIVE" '^octoprint/event/MetadataAnalysisFinished r=0 q=0 \{"name": "again.gcode"' "$(pb_t 10)" "analysis of again.gcode"
pb_stop_daemon KILL
size=$(stat -c %s "$FILES/again.gcode")
printf '{"path": "again.gcode", "origin": "local", "size": %s, "fileposition": 4242, "time": 12.5, "written": %s}' \
  "$size" "$(date +%s)" >"$FILES/.printbridge/journal.json"
mark=$(pb_count "$LIVE")
pb_start_daemon "$PB_DIR/pb.conf"
pb_expect_line "$LIVE" "^octoprint/event/PrintFailed r=0 q=0 \{\"name\": \"again.gcode\", \"path\": \"again.gcode\", \"origin\": \"local\", \"size\": $size, \"time\": 12.5, \"reason\": \"error\", \"error\": \"printbridge restarted during the print[^\"]*\", \"progress\": $((4242 * 100 / size)), \"fileposition\": 4242, \"_event\": \"PrintFailed\", \"_timestamp\": $PB_TS\}$" "$(pb_t 20)" "PrintFailed from the journal" "$mark"
[ ! -e "$FILES/.printbridge/journal.json" ] || pb_fail "the journal was not removed after reporting it"
pb_expect_line "$LIVE" '^octoprint/event/Connected ' "$(pb_t 30)" "the Connected event after the restart" "$mark"
sleep 1
if pb_lines "$LIVE" "$mark" | grep -q 'MetadataAnalysis'; then
  pb_fail "cached files were analysed again after the restart"
fi
pb_pass "restart: the journal's print is reported failed; cached analyses are reused"

pb_stop_daemon TERM
[ "$PB_DAEMON_RC" = 0 ] || pb_fail "printbridge exited with $PB_DAEMON_RC"
if grep -Eq "$PB_SANITIZER_RE" "$PB_DIR/daemon.log"; then
  grep -E -A5 "$PB_SANITIZER_RE" "$PB_DIR/daemon.log" | head -30
  pb_fail "sanitizer report in the daemon log"
fi
pb_pass "clean stop"
