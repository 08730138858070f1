#!/usr/bin/env bash
# test_deb.sh BUILD: the Debian package, installed, upgraded and removed in a clean Debian root
# (`make check-deb`; root, mmdebstrap and the host's Debian mirror). It builds the package twice
# with `make deb` (the project's version, and the same tree as version <version>+check1, the
# upgrade), each checked by lintian there, then in a fresh minimal Debian root that has only
# the package's dependencies:
#   1. dpkg -i: printbridge --version, --help naming /etc/printbridge.conf, --check-config as the
#      user printbridge, the conffile, owners and modes, units and man pages in place, the
#      service not enabled
#   2. an edited /etc/printbridge.conf, then dpkg -i of the upgrade: the edit survives, the new
#      version runs
#   3. dpkg -r: the programs go, the edited configuration stays; dpkg -P: it goes too, with
#      /var/lib/printbridge
# Everything is written below a temporary folder, removed at the end (PB_KEEP=1 keeps it).
set -euo pipefail

SRC=$(cd "$(dirname "$0")/../.." && pwd)
[ "$(id -u)" = 0 ] || { echo "FAIL: needs root (a chroot)"; exit 1; }
T=$(mktemp -d "${TMPDIR:-/tmp}/pb-deb.XXXXXX")
ROOT=$T/root
cleanup() { [ "${PB_KEEP:-0}" = 1 ] && echo "kept $T" || rm -rf "$T"; }
trap cleanup EXIT
fail() { echo "FAIL: $*"; exit 1; }
pass() { echo "ok: $*"; }
in_root() { chroot "$ROOT" "$@"; }

V=$(cat "$SRC/VERSION")
V2=$V+check1
ARCH=$(dpkg --print-architecture)
DEB1=$T/v1/printbridge_${V}_$ARCH.deb
DEB2=$T/v2/printbridge_${V2}_$ARCH.deb

# --- the packages, by make deb (lintian runs there and fails it on an error) ---------------------
make -s -C "$SRC" deb BUILD="$T/v1" >"$T/deb1.log" 2>&1 || { tail -n 30 "$T/deb1.log"; fail "make deb failed"; }
make -s -C "$SRC" deb BUILD="$T/v2" VERSION="$V2" >"$T/deb2.log" 2>&1 || { tail -n 30 "$T/deb2.log"; fail "make deb VERSION=$V2 failed"; }
[ -s "$DEB1" ] && [ -s "$DEB2" ] || fail "make deb did not leave printbridge_<version>_$ARCH.deb"
grep -E '^(E|W|I): ' "$T/deb1.log" || true
grep -q '^E: ' "$T/deb1.log" && fail "lintian reports errors"
echo "FIGURE deb_size_bytes=$(stat -c %s "$DEB1")"
pass "make deb: $(basename "$DEB1") and $(basename "$DEB2"), lintian without errors"

# --- a clean Debian root with the package's dependencies only -------------------------------------
deps=$(dpkg-deb -f "$DEB1" Depends | tr ',' '\n' | sed -E 's/\(.*\)//; s/\|.*//; s/ //g' | grep -v '^$' | paste -sd, -)
suite=$(. /etc/os-release && echo "$VERSION_CODENAME")
mirrors=()
for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources; do
  [ -s "$f" ] && grep -q 'debian' "$f" && mirrors+=("$f")
done
[ ${#mirrors[@]} -gt 0 ] || fail "no Debian apt sources on this machine to build the root from"
mmdebstrap --quiet --variant=minbase --include="$deps" "$suite" "$ROOT" "${mirrors[@]}" </dev/null >"$T/mmdebstrap.log" 2>&1 ||
  { tail -n 20 "$T/mmdebstrap.log"; fail "mmdebstrap failed"; }
in_root dpkg-query -W printbridge >/dev/null 2>&1 && fail "the fresh root already has printbridge"
pass "a clean $suite root with only the dependencies: $deps"

# --- 1. install -----------------------------------------------------------------------------------
cp "$DEB1" "$DEB2" "$ROOT/tmp/"
in_root dpkg -i "/tmp/$(basename "$DEB1")" </dev/null >"$T/install.log" 2>&1 || { cat "$T/install.log"; fail "dpkg -i failed"; }
[ "$(in_root printbridge --version)" = "printbridge $V" ] || fail "printbridge --version: $(in_root printbridge --version)"
in_root printbridge --help | grep -q 'default /etc/printbridge.conf)' || fail "--help does not name /etc/printbridge.conf"
uid=$(in_root id -u printbridge) || fail "no user printbridge"
gid=$(in_root id -g printbridge)
out=$(chroot --userspec="$uid:$gid" "$ROOT" printbridge --check-config 2>&1) || fail "--check-config as printbridge: $out"
[ "$out" = "/etc/printbridge.conf: configuration OK" ] || fail "--check-config said: $out"
in_root dpkg-query -W -f='${Conffiles}\n' printbridge | grep -q '^ /etc/printbridge.conf ' || fail "/etc/printbridge.conf is not a conffile"
[ "$(chroot "$ROOT" stat -c '%U:%G %a' /etc/printbridge.conf)" = "root:printbridge 640" ] ||
  fail "/etc/printbridge.conf is $(chroot "$ROOT" stat -c '%U:%G %a' /etc/printbridge.conf), not root:printbridge 640"
[ "$(chroot "$ROOT" stat -c '%U:%G %a' /etc/printbridge)" = "root:printbridge 750" ] || fail "/etc/printbridge is $(chroot "$ROOT" stat -c '%U:%G %a' /etc/printbridge)"
[ "$(chroot "$ROOT" stat -c '%U:%G %a' /var/lib/printbridge)" = "printbridge:printbridge 750" ] ||
  fail "/var/lib/printbridge is $(chroot "$ROOT" stat -c '%U:%G %a' /var/lib/printbridge), not printbridge:printbridge 750"
for f in /usr/bin/printbridge /usr/bin/printbridge-sim /lib/systemd/system/printbridge.service \
         /lib/systemd/system/printbridge@.service /usr/share/man/man8/printbridge.8.gz \
         /usr/share/man/man5/printbridge.conf.5.gz /usr/share/man/man1/printbridge-sim.1.gz; do
  [ -e "$ROOT$f" ] || fail "$f is not installed"
done
grep -qx 'ExecStart=/usr/bin/printbridge -c /etc/printbridge.conf' "$ROOT/lib/systemd/system/printbridge.service" ||
  fail "the installed unit does not run /usr/bin/printbridge on /etc/printbridge.conf"
[ -e "$ROOT/etc/systemd/system/multi-user.target.wants/printbridge.service" ] && fail "the service was enabled on install"
pass "installed: printbridge $V, /etc/printbridge.conf (conffile, root:printbridge 0640) valid for the service user, units, man pages, /var/lib/printbridge owned by printbridge, service not enabled"

# --- 2. upgrade over an edited configuration -----------------------------------------------------
sed -i 's|^    #host = "localhost";|    host = "broker.example.net";|' "$ROOT/etc/printbridge.conf"
grep -q '^    host = "broker.example.net";' "$ROOT/etc/printbridge.conf" || fail "could not edit the configuration"
sum=$(md5sum <"$ROOT/etc/printbridge.conf")
in_root dpkg -i "/tmp/$(basename "$DEB2")" </dev/null >"$T/upgrade.log" 2>&1 || { cat "$T/upgrade.log"; fail "the upgrade failed"; }
[ "$(in_root printbridge --version)" = "printbridge $V2" ] || fail "after the upgrade: $(in_root printbridge --version)"
[ "$(md5sum <"$ROOT/etc/printbridge.conf")" = "$sum" ] || fail "the upgrade changed the edited /etc/printbridge.conf"
[ ! -e "$ROOT/etc/printbridge.conf.dpkg-new" ] && [ ! -e "$ROOT/etc/printbridge.conf.dpkg-dist" ] || fail "the upgrade left a .dpkg-new/.dpkg-dist"
[ "$(chroot "$ROOT" stat -c '%U:%G %a' /etc/printbridge.conf)" = "root:printbridge 640" ] || fail "the upgrade changed the configuration's owner or mode"
out=$(chroot --userspec="$uid:$gid" "$ROOT" printbridge --check-config 2>&1) || fail "--check-config after the upgrade: $out"
pass "upgraded to $V2: the edited configuration is kept byte for byte (and still valid)"

# --- 3. remove, purge ----------------------------------------------------------------------------
in_root dpkg -r printbridge </dev/null >"$T/remove.log" 2>&1 || { cat "$T/remove.log"; fail "dpkg -r failed"; }
for f in /usr/bin/printbridge /usr/bin/printbridge-sim /lib/systemd/system/printbridge.service /usr/share/man/man8/printbridge.8.gz; do
  [ ! -e "$ROOT$f" ] || fail "$f is still there after dpkg -r"
done
grep -q '^    host = "broker.example.net";' "$ROOT/etc/printbridge.conf" || fail "dpkg -r removed the edited configuration"
in_root dpkg -P printbridge </dev/null >"$T/purge.log" 2>&1 || { cat "$T/purge.log"; fail "dpkg -P failed"; }
[ ! -e "$ROOT/etc/printbridge.conf" ] || fail "/etc/printbridge.conf is still there after purge"
[ ! -e "$ROOT/var/lib/printbridge" ] || fail "/var/lib/printbridge is still there after purge"
in_root dpkg-query -W -f='${db:Status-Abbrev}' printbridge 2>/dev/null | grep -q '^ii' && fail "still installed after purge"
pass "dpkg -r removes the programs and keeps the configuration; dpkg -P removes it and /var/lib/printbridge"
