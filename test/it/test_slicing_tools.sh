# test_slicing_tools.sh: slicing through the whole daemon with a real slicer and a real broker.
# A 20 mm cube written here as ASCII STL is dropped into the storage folder;
# PrusaSlicer (Debian's prusa-slicer 2.5, headless --export-gcode) slices it: SlicingStarted,
# progress/slicing from 0 through the slicer's own steps to 100, SlicingDone, then the G-code
# is announced and analysed (FileAdded, MetadataAnalysisFinished). That G-code is then printed
# on the simulator (--print) until the last layer's ZChange. Skips with a message when
# prusa-slicer is missing (`make check-tools` installs it).
. "$(dirname "$0")/lib.sh"
pb_init
if ! command -v prusa-slicer >/dev/null 2>&1; then
  echo "SKIP test_slicing_tools: prusa-slicer missing (make check-tools installs it)"
  exit 0
fi

pb_start_broker_any
LIVE=$PB_DIR/live.txt
pb_sub_start "$LIVE" 'octoprint/#'
pb_start_sim --fast
FILES=$PB_DIR/files
mkdir -p "$FILES" "$PB_DIR/profiles"
PB_CFG_FILES="$FILES" PB_CFG_EXTRA="slicing: { enabled = true; slicer = \"prusaslicer\";
  command = [ \"prusa-slicer\", \"--export-gcode\", \"-o\", \"{output}\", \"{input}\" ];
  profiles_folder = \"$PB_DIR/profiles\"; };" pb_write_config "$PB_DIR/pb.conf"
pb_start_daemon "$PB_DIR/pb.conf"
pb_expect_line "$LIVE" '^octoprint/event/Connected ' "$(pb_t 30)" "the Connected event"

# a 20 mm cube, two facets per side, written elsewhere and moved in whole
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
}' >"$PB_DIR/cube.stl"
mv "$PB_DIR/cube.stl" "$FILES/cube.stl"

job='"slicer": "prusaslicer", "stl": "cube.stl", "stl_location": "local", "gcode": "cube.gcode", "gcode_location": "local"'
pb_expect_line "$LIVE" "^octoprint/event/SlicingStarted r=0 q=0 \{$job, \"progressAvailable\": true, \"_event\": \"SlicingStarted\", \"_timestamp\": $PB_TS\}$" "$(pb_t 10)" "SlicingStarted"
pb_expect_line "$LIVE" "^octoprint/event/SlicingDone r=0 q=0 \{$job, \"time\": $PB_FLOAT, \"_event\": \"SlicingDone\", \"_timestamp\": $PB_TS\}$" "$(pb_t 60)" "SlicingDone"
prog() { printf '^octoprint/progress/slicing r=[01] q=0 \\{"slicer": "prusaslicer", "source_location": "local", "source_path": "cube.stl", "destination_location": "local", "destination_path": "cube.gcode", "progress": %s, "_timestamp": %s\\}$' "$1" "$PB_TS"; }
pb_expect_line "$LIVE" "$(prog 0)" 1 "progress/slicing 0"
pb_expect_line "$LIVE" "$(prog 10)" 1 "progress/slicing 10 (PrusaSlicer's own step)"
pb_expect_line "$LIVE" "$(prog 100)" 1 "progress/slicing 100"
pb_expect_line "$LIVE" '^octoprint/event/FileAdded r=0 q=0 \{"storage": "local", "path": "cube.gcode", "name": "cube.gcode", "type": \["machinecode", "gcode"\], "operation": "add", ' "$(pb_t 10)" "FileAdded of the sliced G-code"
pb_expect_line "$LIVE" '^octoprint/event/MetadataAnalysisFinished r=0 q=0 \{"name": "cube.gcode", .*"layers": \{"count": [0-9]+' "$(pb_t 20)" "the analysis of the sliced G-code"
ls -A "$FILES" | grep -q '^\.slicing' && pb_fail "a temporary slicer output was left in $FILES"
pb_pass "a dropped STL is sliced by PrusaSlicer, announced and analysed"

# profile files
mark=$(pb_count "$LIVE")
echo 'layer_height = 0.3' >"$PB_DIR/profiles/fast.ini"
pb_expect_line "$LIVE" '^octoprint/event/SlicingProfileAdded r=0 q=0 \{"slicer": "prusaslicer", "profile": "fast.ini", "_event": "SlicingProfileAdded", ' "$(pb_t 10)" "SlicingProfileAdded" "$mark"
rm "$PB_DIR/profiles/fast.ini"
pb_expect_line "$LIVE" '^octoprint/event/SlicingProfileDeleted r=0 q=0 \{"slicer": "prusaslicer", "profile": "fast.ini", ' "$(pb_t 10)" "SlicingProfileDeleted" "$mark"
pb_pass "profile files give the profile events"

# print the sliced G-code on the simulator
pb_stop_daemon TERM
last_z=$(grep -oE '^G1 Z[0-9.]+' "$FILES/cube.gcode" | tail -n 1 | sed 's/^G1 Z//')
mark=$(pb_count "$LIVE")
pb_start_daemon "$PB_DIR/pb.conf"
pb_expect_line "$LIVE" '^octoprint/event/Connected ' "$(pb_t 30)" "the printer connected again" "$mark"
mosquitto_pub -h 127.0.0.1 -p "$PB_MQTT_PORT" -q 1 -t octoprint/command/job -m '{"command": "start", "path": "cube.gcode"}'
pb_expect_line "$LIVE" '^octoprint/event/PrintDone r=0 q=0 \{"name": "cube\.gcode", ' "$(pb_t 120)" "PrintDone of the sliced cube" "$mark"
pb_sub_sync "$LIVE"     # the last events may still be on their way to the subscriber
n=$(pb_lines "$LIVE" "$mark" | grep -c '^octoprint/event/ZChange ')
[ "$n" -ge 50 ] || pb_fail "only $n ZChange events while printing the sliced cube (last Z $last_z)"
pb_pass "the sliced cube prints on the simulator ($n Z changes)"
pb_stop_daemon TERM
echo "PASS test_slicing_tools ($SECONDS s)"
