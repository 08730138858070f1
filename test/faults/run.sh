#!/usr/bin/env bash
# run.sh: `make check-faults`. Runs every test/faults/drill_*.sh (or the ones named) against
# the binaries in PB_BUILD, one after the other, each with its log in $PB_BUILD/faults/, and
# prints one line per drill with its duration. Exit 1 if any drill failed. A drill exits 0
# (passed), 1 (failed) or 77 (skipped, with a line saying why).
set -u
here=$(cd "$(dirname "$0")" && pwd)
export PB_SRCDIR=${PB_SRCDIR:-$(cd "$here/../.." && pwd)}
: "${PB_BUILD:?set PB_BUILD to the folder holding printbridge and printbridge-sim}"
mkdir -p "$PB_BUILD/faults"
drills=("$@")
[ ${#drills[@]} -gt 0 ] || drills=("$here"/drill_*.sh)
failed=0 passed=0 skipped=0 start=$SECONDS
for d in "${drills[@]}"; do
  name=$(basename "$d" .sh)
  log=$PB_BUILD/faults/$name.log
  t0=$SECONDS
  bash "$d" >"$log" 2>&1
  rc=$?
  dt=$((SECONDS - t0))
  case $rc in
    0)  passed=$((passed + 1)); printf '  PASS  %-28s %4d s\n' "$name" "$dt" ;;
    77) skipped=$((skipped + 1)); printf '  SKIP  %-28s %4d s  %s\n' "$name" "$dt" "$(grep -m1 '^SKIP' "$log" | cut -c7-)" ;;
    *)  failed=$((failed + 1)); printf '  FAIL  %-28s %4d s  (log: %s)\n' "$name" "$dt" "$log"
        tail -n 25 "$log" | sed 's/^/        /' ;;
  esac
done
echo "check-faults: $passed passed, $failed failed, $skipped skipped in $((SECONDS - start)) s"
[ "$failed" = 0 ]
