# test_it_analyse_cli.sh: printbridge --analyse prints a file's metadata analysis as JSON
# (the same analysis the storage folder runs), and fails with one clear line otherwise.
. "$(dirname "$0")/lib.sh"
pb_init
out=$("$PB_BUILD/printbridge" --analyse "$PB_SRCDIR/test/data/cube_prusa.gcode") ||
  pb_fail "expected --analyse to exit 0 on a G-code file, got $?"
echo "$out" | grep -Eq '^\{"printingArea": \{.*"estimatedPrintTime": 937\.0, .*"slicerPrintTime": 937\.0, "layers": \{"count": 50, "height": 0\.2, ' ||
  pb_fail "expected the analysis JSON with the slicer's 937 s and 50 layers of 0.2 mm, got: $out"
pb_pass "--analyse prints the analysis"
err=$("$PB_BUILD/printbridge" --analyse "$PB_DIR/missing.gcode" 2>&1) && pb_fail "expected a missing file to fail"
[ "$err" = "printbridge: cannot analyse $PB_DIR/missing.gcode: No such file or directory" ] ||
  pb_fail "expected one line naming the file and the reason, got: $err"
pb_pass "--analyse on a missing file: one clear line, exit 1"
echo "PASS test_it_analyse_cli ($((SECONDS)) s)"
