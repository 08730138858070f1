#!/usr/bin/env bash
# build-baseline.sh REV: builds printbridge as it was at git revision REV into
# build/baseline/<REV>/build/ (exported with git archive, built with its own Makefile) and
# prints that folder, for `make bench BASELINE=<folder>`: the bench then streams the two
# builds side by side. A folder already built is reused.
set -euo pipefail
rev=${1:?usage: bench/build-baseline.sh REV}
top=$(cd "$(dirname "$0")/.." && pwd)
sha=$(git -C "$top" rev-parse --short "$rev^{commit}")
dir=$top/build/baseline/$sha
if [ ! -x "$dir/build/printbridge" ]; then
  rm -rf "$dir"
  mkdir -p "$dir"
  git -C "$top" archive "$sha" | tar -x -C "$dir"
  make -C "$dir" -j2 build/printbridge build/printbridge-sim >&2
fi
echo "$sha $(git -C "$top" log -1 --format=%cs "$sha")" >"$dir/build/REVISION"
echo "$dir/build"
