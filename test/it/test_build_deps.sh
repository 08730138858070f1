#!/usr/bin/env bash
# test_build_deps.sh: plain `make` needs, and so installs on a bare machine, only what building
# needs: scripts/install-deps.sh's build set names no broker, MQTT client, socat, curl, Check,
# clang or valgrind (the targets that use them install them: the test set has the broker), a
# dry run of `make` calls no other set, and the Debian package's Build-Depends are that same
# build set (scripts/debian/control).
set -u
. "$(dirname "$0")/lib.sh"
pb_init

deps=$PB_SRCDIR/scripts/install-deps.sh
build=$("$deps" --list build) || pb_fail "install-deps.sh --list build failed"
for tool in mosquitto mosquitto-clients socat curl check clang valgrind; do
  grep -qx "$tool" <<<"$build" && pb_fail "the build set installs $tool, which only tests or the demo use"
done
"$deps" --list test | grep -qx mosquitto || pb_fail "the test set does not install the broker the tests start"
pb_pass "the build set: $(echo $build)"

out=$(make -n -C "$PB_SRCDIR" BUILD="$PB_DIR/build" all 2>&1) || { echo "$out" | tail -n 5; pb_fail "make -n failed"; }
grep -q 'install-deps.sh' <<<"$out" && pb_fail "plain make runs install-deps.sh beyond the build set: $(grep install-deps.sh <<<"$out" | head -n 1)"
grep -q 'LINK\|printbridge' <<<"$out" || pb_fail "make -n printed no build commands: $out"
pb_pass "plain make calls no other dependency set"

# Build-Depends: the libraries of the build set (build-essential is implied by Debian)
bd=$(sed -n '/^Build-Depends:/,/^[A-Z]/p' "$PB_SRCDIR/scripts/debian/control" | sed -e 's/^Build-Depends://' -e '/^[A-Z]/d' |
     tr ',' '\n' | sed -E 's/\(.*\)//; s/[[:space:]]//g' | grep -v '^$' | grep -v '^debhelper-compat$' | sort)
want=$(grep -vx build-essential <<<"$build" | sort)
[ "$bd" = "$want" ] || pb_fail "scripts/debian/control Build-Depends ($(echo $bd)) differ from the build set ($(echo $want))"
pb_pass "the package's Build-Depends are the build set"
