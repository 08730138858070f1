# test_jobs_folders_models.sh: what an upload into new folders announces, and STL models that
# do not sit in the top folder, through the daemon and a real broker (no printer attached):
#   1. uploads to a<n>/b/x.gcode, where neither folder exists, publish FolderAdded a<n>,
#      FolderAdded a<n>/b, FileAdded a<n>/b/x.gcode and Upload, in that order, each once,
#      with UpdatedFiles (one or more) between FileAdded and Upload (five uploads in a row)
#   2. without slicing, an STL upload is refused with an error reply and nothing is stored
#   3. with slicing (PrusaSlicer; skipped with a message when it is missing), an STL uploaded
#      over MQTT into a new folder (models/cube.stl) is sliced into models/cube.gcode
#      (Upload, SlicingStarted, SlicingDone, FileAdded), and an STL moved into an existing
#      subfolder (deep/er/part.stl) is sliced into deep/er/part.gcode beside it; no temporary
#      slicer file is left behind
. "$(dirname "$0")/lib.sh"
pb_init
pb_start_broker_any
LIVE=$PB_DIR/live.txt
pb_sub_start "$LIVE" 'octoprint/#'
FILES=$PB_DIR/files
mkdir -p "$FILES"
PB_CFG_PORT=$PB_DIR/no-printer PB_CFG_FILES=$FILES pb_write_config "$PB_DIR/plain.conf"
pb_start_daemon "$PB_DIR/plain.conf"
pb_expect_line "$LIVE" '^octoprint/mqtt r=0 q=1 connected$' "$(pb_t 10)" "the daemon connected"
P() { mosquitto_pub -h 127.0.0.1 -p "$PB_MQTT_PORT" -q 1 "$@"; }
# events EVENT-REGEX FROM: those events after line FROM, without the time stamp
events() { pb_lines "$LIVE" "$2" | grep -E "^octoprint/event/($1) " | sed -E 's/, "_timestamp": [0-9]+\}$/}/'; }

# --- 1. folders announced outermost first ------------------------------------------------------------
for n in 1 2 3 4 5; do
  mark=$(pb_count "$LIVE")
  P -t "octoprint/command/upload/a$n/b/x.gcode" -m 'G28'
  pb_expect_line "$LIVE" "^octoprint/event/Upload r=0 q=0 \\{\"name\": \"x\\.gcode\", \"path\": \"a$n/b/x\\.gcode\"" "$(pb_t 10)" "Upload of a$n/b/x.gcode" "$mark"
  pb_sub_sync "$LIVE"
  got=$(events 'FolderAdded|FileAdded|Upload' "$mark")
  want="octoprint/event/FolderAdded r=0 q=0 {\"storage\": \"local\", \"path\": \"a$n\", \"name\": \"a$n\", \"_event\": \"FolderAdded\"}
octoprint/event/FolderAdded r=0 q=0 {\"storage\": \"local\", \"path\": \"a$n/b\", \"name\": \"b\", \"_event\": \"FolderAdded\"}
octoprint/event/FileAdded r=0 q=0 {\"storage\": \"local\", \"path\": \"a$n/b/x.gcode\", \"name\": \"x.gcode\", \"type\": [\"machinecode\", \"gcode\"], \"operation\": \"add\", \"_event\": \"FileAdded\"}
octoprint/event/Upload r=0 q=0 {\"name\": \"x.gcode\", \"path\": \"a$n/b/x.gcode\", \"target\": \"local\", \"select\": false, \"print\": false, \"effective_select\": false, \"effective_print\": false, \"_event\": \"Upload\"}"
  [ "$got" = "$want" ] || pb_fail "upload $n announced:
$got
expected:
$want"
  events 'FileAdded|UpdatedFiles|Upload' "$mark" | tr '\n' ' ' | grep -Eq '/FileAdded .*/UpdatedFiles .*/Upload ' ||
    pb_fail "upload $n: no UpdatedFiles between FileAdded and Upload"
done
pb_pass "uploads into two new folders: FolderAdded outermost first, then FileAdded, UpdatedFiles, Upload"

# --- 2. no slicing: models refused ---------------------------------------------------------------------
mark=$(pb_count "$LIVE")
P -t octoprint/command/upload/models/cube.stl -m 'solid x'
pb_expect_line "$LIVE" '^octoprint/command/upload/models/cube\.stl/response r=0 q=1 \{"id": null, "result": "error", "error": "models/cube\.stl is an STL model: models are accepted only with slicing\.enabled = true"\}$' \
  "$(pb_t 10)" "the refusal of an STL upload without slicing" "$mark"
[ -e "$FILES/models" ] && pb_fail "a refused STL upload created files/models"
pb_pass "without slicing an STL upload is refused and nothing is stored"
pb_stop_daemon

# --- 3. slicing models anywhere ---------------------------------------------------------------------------
if ! command -v prusa-slicer >/dev/null 2>&1; then
  echo "SKIP test_jobs_folders_models part 3: prusa-slicer missing (make check-tools installs it)"
  echo "PASS test_jobs_folders_models ($SECONDS s)"
  exit 0
fi
cube() {   # a 20 mm cube as ASCII STL, two facets per side
  awk 'BEGIN {
    split("0 0 0|0 20 0|20 20 0|20 0 0;0 0 20|20 0 20|20 20 20|0 20 20;0 0 0|20 0 0|20 0 20|0 0 20;0 20 0|0 20 20|20 20 20|20 20 0;0 0 0|0 0 20|0 20 20|0 20 0;20 0 0|20 20 0|20 20 20|20 0 20", sides, ";")
    print "solid cube"
    for (s = 1; s <= 6; s++) {
      split(sides[s], v, "|")
      for (t = 0; t < 2; t++) {
        print "facet normal 0 0 0"; print " outer loop"
        print "  vertex " v[1]; print "  vertex " v[2 + t]; print "  vertex " v[3 + t]
        print " endloop"; print "endfacet"
      }
    }
    print "endsolid cube"
  }'
}
cube >"$PB_DIR/cube.stl"
mkdir -p "$FILES/deep/er"
PB_CFG_PORT=$PB_DIR/no-printer PB_CFG_FILES=$FILES PB_CFG_EXTRA="slicing: { enabled = true; slicer = \"prusaslicer\";
  command = [ \"prusa-slicer\", \"--export-gcode\", \"-o\", \"{output}\", \"{input}\" ]; };" pb_write_config "$PB_DIR/slicing.conf"
mark=$(pb_count "$LIVE")
pb_start_daemon "$PB_DIR/slicing.conf"
pb_expect_line "$LIVE" '^octoprint/mqtt r=0 q=1 connected$' "$(pb_t 10)" "the daemon connected again" "$mark"
sliced() {   # sliced STL GCODE WHAT: SlicingStarted, SlicingDone and FileAdded of GCODE after mark
  local job="\"slicer\": \"prusaslicer\", \"stl\": \"$(pb_re "$1")\", \"stl_location\": \"local\", \"gcode\": \"$(pb_re "$2")\", \"gcode_location\": \"local\""
  pb_expect_line "$LIVE" "^octoprint/event/SlicingStarted r=0 q=0 \\{$job, \"progressAvailable\": true, " "$(pb_t 15)" "SlicingStarted of $3" "$mark"
  pb_expect_line "$LIVE" "^octoprint/event/SlicingDone r=0 q=0 \\{$job, \"time\": $PB_FLOAT, " "$(pb_t 90)" "SlicingDone of $3" "$mark"
  pb_expect_line "$LIVE" "^octoprint/event/FileAdded r=0 q=0 \\{\"storage\": \"local\", \"path\": \"$(pb_re "$2")\", " "$(pb_t 15)" "FileAdded of $2" "$mark"
  grep -q '^G1 Z' "$FILES/$2" || pb_fail "no G-code in $FILES/$2"
}
mark=$(pb_count "$LIVE")
P -t octoprint/command/upload/models/cube.stl -f "$PB_DIR/cube.stl"
pb_expect_line "$LIVE" '^octoprint/event/Upload r=0 q=0 \{"name": "cube\.stl", "path": "models/cube\.stl", "target": "local", ' "$(pb_t 10)" "Upload of the STL" "$mark"
pb_expect_line "$LIVE" '^octoprint/event/FolderAdded r=0 q=0 \{"storage": "local", "path": "models", ' "$(pb_t 10)" "FolderAdded models" "$mark"
sliced models/cube.stl models/cube.gcode "the uploaded STL"
cmp -s "$PB_DIR/cube.stl" "$FILES/models/cube.stl" || pb_fail "the stored STL differs from the uploaded one"
pb_pass "an STL uploaded over MQTT into a new folder is sliced beside it"

mark=$(pb_count "$LIVE")
cp "$PB_DIR/cube.stl" "$PB_DIR/part.stl"
mv "$PB_DIR/part.stl" "$FILES/deep/er/part.stl"
sliced deep/er/part.stl deep/er/part.gcode "the STL in a subfolder"
pb_sub_sync "$LIVE"
n=$(pb_lines "$LIVE" "$mark" | grep -c '^octoprint/event/SlicingStarted ')
[ "$n" = 1 ] || pb_fail "the STL in a subfolder was sliced $n times"
left=$(find "$FILES" -name '.slicing*')
[ -z "$left" ] || pb_fail "temporary slicer output left behind: $left"
pb_pass "an STL moved into a subfolder is sliced once, into G-code beside it"
pb_stop_daemon
[ "$PB_DAEMON_RC" = 0 ] || pb_fail "exit status $PB_DAEMON_RC"
echo "PASS test_jobs_folders_models ($SECONDS s)"
