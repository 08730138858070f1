#!/usr/bin/env bash
# drill_hooks.sh: an event hook that hangs (sleep 3600) and one that floods its output
# (yes | head -c 100M) must neither block the loop nor grow memory: the print goes on and the
# hook is killed at its timeout. Needs issue 7's hook runner (src/hooks.c).
set -u
drill_skip() { echo "SKIP: $*"; exit 77; }
src=$(cd "$(dirname "$0")/../.." && pwd)
[ -e "$src/src/hooks.c" ] || drill_skip "waiting for issue 7's hook runner (src/hooks.c) on main"
drill_skip "issue 7's hooks are merged but this drill is not written yet (see README.md, fault drills)"
