#!/usr/bin/env bash
# drill_command_flood.sh: a client floods <base>command/gcode during a print; the print must
# not lose a line and the daemon's memory must stay bounded. Needs issue 7's inbound commands
# (src/commands.c).
set -u
drill_skip() { echo "SKIP: $*"; exit 77; }
src=$(cd "$(dirname "$0")/../.." && pwd)
[ -e "$src/src/commands.c" ] || drill_skip "waiting for issue 7's inbound commands (src/commands.c) on main"
drill_skip "issue 7's commands are merged but this drill is not written yet (see README.md, fault drills)"
