#!/usr/bin/env bash
# run.sh FUZZ_BUILD SECONDS TARGET...: runs each libFuzzer target for SECONDS on a corpus in
# FUZZ_BUILD/corpus/<target>/ started from test/fuzz/<target>/seeds/, and prints one line per
# target with its executions per second. A crash stops with the reproducer's path and the
# command that replays it; copy the file into test/fuzz/<target>/crashes/ with the fix so
# `make check` replays it from then on.
set -u
build=$1 seconds=$2; shift 2
src=$(cd "$(dirname "$0")" && pwd)
rc=0
for t in "$@"; do
  name=${t#fuzz_}
  corpus=$build/corpus/$name
  mkdir -p "$corpus" "$build/artifacts"
  log=$build/$t.log
  # -rss_limit_mb: an input that makes a parser grow without bound is a finding too
  extra=()
  [ -d "$src/$name/crashes" ] && extra+=("$src/$name/crashes")
  if ! ASAN_OPTIONS=detect_leaks=1 LSAN_OPTIONS=suppressions=$src/lsan.supp "$build/$t" -max_total_time="$seconds" -print_final_stats=1 -timeout=10 \
       -rss_limit_mb=1024 -max_len=8192 -artifact_prefix="$build/artifacts/$t-" \
       "$corpus" "$src/$name/seeds" "${extra[@]}" >"$log" 2>&1; then
    echo "FAIL: $t crashed; last lines of $log:"
    grep -E 'ERROR|runtime error|SUMMARY|Test unit written' "$log" | head -n 8
    echo "  replay: $build/$t $(grep -o "$build/artifacts/[^ ]*" "$log" | tail -n 1)"
    rc=1
    continue
  fi
  runs=$(sed -nE 's/^stat::number_of_executed_units: *([0-9]+).*/\1/p' "$log")
  secs=$(sed -nE 's/^stat::average_exec_per_sec: *([0-9]+).*/\1/p' "$log")
  cov=$(grep -oE 'cov: [0-9]+' "$log" | tail -n 1)
  printf '  FUZZ    %-20s %8s s  %10s runs  %8s exec/s  %s  corpus %s\n' "$t" "$seconds" "${runs:-?}" "${secs:-?}" \
    "${cov:-}" "$(ls "$corpus" | wc -l)"
done
exit $rc
