#!/usr/bin/env bash
# run.sh: `make check-klipper`. Runs every test/klipper/test_*.sh (or the ones named) against
# the binaries in PB_BUILD and the real Klipper host of the klipper-vp harness, one after the
# other, each with its log in $PB_BUILD/klipper/. Without the harness every suite is skipped
# with one line. Exit 1 if any suite failed.
set -u
here=$(cd "$(dirname "$0")" && pwd)
export PB_SRCDIR=${PB_SRCDIR:-$(cd "$here/../.." && pwd)}
: "${PB_BUILD:?set PB_BUILD to the folder holding printbridge and printbridge-sim}"
export KLIPPER_VP=${KLIPPER_VP:-$PB_SRCDIR/../shared/tools/klipper-vp/run.sh}
if [ ! -x "$KLIPPER_VP" ]; then
  echo "check-klipper: skipped: no Klipper harness at $KLIPPER_VP (set KLIPPER_VP=path/to/klipper-vp/run.sh)"
  exit 0
fi
# the harness builds its cache once (about 30 s); do it before the first suite's deadlines run
"$KLIPPER_VP" --prepare >/dev/null || { echo "check-klipper: $KLIPPER_VP --prepare failed"; exit 1; }
mkdir -p "$PB_BUILD/klipper"
suites=("$@")
[ ${#suites[@]} -gt 0 ] || suites=("$here"/test_*.sh)
failed=0 passed=0 skipped=0 start=$SECONDS
for s in "${suites[@]}"; do
  name=$(basename "$s" .sh)
  log=$PB_BUILD/klipper/$name.log
  t0=$SECONDS
  bash "$s" >"$log" 2>&1
  rc=$?
  dt=$((SECONDS - t0))
  case $rc in
    0)  passed=$((passed + 1)); printf '  PASS  %-34s %4d s\n' "$name" "$dt"
        grep '^figure:' "$log" | sed 's/^/        /' ;;
    77) skipped=$((skipped + 1)); printf '  SKIP  %-34s %4d s  %s\n' "$name" "$dt" "$(grep -m1 '^SKIP' "$log" | cut -c7-)" ;;
    *)  failed=$((failed + 1)); printf '  FAIL  %-34s %4d s  (log: %s)\n' "$name" "$dt" "$log"
        tail -n 25 "$log" | sed 's/^/        /' ;;
  esac
done
echo "check-klipper: $passed passed, $failed failed, $skipped skipped in $((SECONDS - start)) s"
[ "$failed" = 0 ]
