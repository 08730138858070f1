# common.sh: helpers for the drills in test/faults/ (source after ../it/lib.sh).

. "$(dirname "${BASH_SOURCE[0]}")/../it/protocol_common.sh"

# drill_skip REASON: a drill that cannot run here says why and exits 77 (run.sh shows SKIP).
drill_skip() { echo "SKIP: $*"; exit 77; }

# drill_layers FILE LAYERS MOVES: a print of LAYERS layers (Z 0.2 mm apart) with MOVES unique
# G1 moves each, so every line is recognisable in the simulator's record and every layer
# raises one ZChange event.
drill_layers() {
  awk -v layers="$2" -v moves="$3" 'BEGIN {
    print "; drill print"
    print "G28"
    for (l = 1; l <= layers; l++) {
      printf "G1 Z%.1f F600 ; layer %d\n", l * 0.2, l
      for (m = 1; m <= moves; m++) printf "G1 X%d.%d Y%d E%d.%d\n", m % 200, l % 10, (l * 7 + m) % 150, l, m
    }
  }' >"$1"
}

# drill_check_record GCODE RECORD: every command of GCODE in RECORD, once each, in order.
drill_check_record() {
  pb_gcode_commands "$1" >"$PB_DIR/expected.txt"
  grep -E '^(G1|G28)( |$)' "$2" >"$PB_DIR/got.txt" || true
  if ! cmp -s "$PB_DIR/expected.txt" "$PB_DIR/got.txt"; then
    echo "--- first differences (expected vs recorded):"
    diff "$PB_DIR/expected.txt" "$PB_DIR/got.txt" | head -n 20
    pb_fail "the simulator's record differs from the file ($(wc -l <"$PB_DIR/expected.txt") expected, $(wc -l <"$PB_DIR/got.txt") recorded)"
  fi
}

# drill_wait_streamed TIMEOUT: the daemon's end-of-stream summary line.
drill_wait_streamed() {
  pb_wait_for_line "$PB_DIR/daemon.log" "job: streamed .*: [0-9]+ lines in" "$1" ||
    pb_fail "the print did not finish within $1 s"
}

# drill_state_is FILE REGEX: the last retained <base>state payload matches REGEX.
drill_last_state() { grep '^octoprint/state ' "$1" | tail -n 1; }
