#!/usr/bin/env bash
# test_service_units.sh: `make install` writes both systemd units (printbridge.service and the
# per-printer template printbridge@.service) and both man pages; the units parse without a
# single warning, are Type=notify with a watchdog and a StateDirectory, and
# `systemd-analyze security --offline=true` rates each 2.0 or lower.
set -u
. "$(dirname "$0")/lib.sh"
pb_init

if ! command -v systemd-analyze >/dev/null 2>&1; then
  echo "SKIP: systemd-analyze is not installed (Debian package 'systemd'); the units were not rated"
  exit 0
fi

root=$PB_DIR/root
make -s -C "$PB_SRCDIR" install DESTDIR="$root" PREFIX=/usr BUILD="$PB_BUILD" >"$PB_DIR/install.log" 2>&1 \
  || { cat "$PB_DIR/install.log"; pb_fail "make install failed"; }
units=$root/usr/lib/systemd/system
for f in "$units/printbridge.service" "$units/printbridge@.service" \
         "$root/usr/share/man/man8/printbridge.8" "$root/usr/share/man/man5/printbridge.conf.5" \
         "$root/etc/printbridge.conf"; do
  [ -s "$f" ] || pb_fail "make install did not install ${f#$root}"
done
[ -d "$root/etc/printbridge" ] || pb_fail "make install did not create /etc/printbridge/ for the instances' files"
if command -v man >/dev/null 2>&1; then
  for m in "$root/usr/share/man/man8/printbridge.8" "$root/usr/share/man/man5/printbridge.conf.5"; do
    w=$(MANWIDTH=80 man --warnings -l "$m" 2>&1 >/dev/null)
    [ -z "$w" ] || pb_fail "$(basename "$m"): roff warnings: $w"
  done
fi

# the template is rated as an instance, like systemd would run it
cp "$units/printbridge@.service" "$PB_DIR/printbridge@mk3.service"
for unit in "$units/printbridge.service" "$PB_DIR/printbridge@mk3.service"; do
  name=$(basename "$unit")
  grep -q '@BINDIR@\|@SYSCONFDIR@' "$unit" && pb_fail "$name: placeholders left after make install"
  for want in '^Type=notify$' '^WatchdogSec=[1-9]' '^StateDirectory=printbridge' '^SupplementaryGroups=dialout$' \
              '^ExecStart=/usr/bin/printbridge -c %d/printbridge.conf$' '^ExecReload=/bin/kill -HUP \$MAINPID$'; do
    grep -Eq "$want" "$unit" || pb_fail "$name: no line matching /$want/"
  done
  out=$(systemd-analyze security --offline=true --no-pager "$unit" 2>&1)
  # a setting systemd does not understand is a warning on stderr: the sandbox would be weaker than written
  if echo "$out" | grep -Eq 'ignoring|Unknown|not valid|fatal|bad unit'; then
    echo "$out" | grep -E 'ignoring|Unknown|not valid|fatal|bad unit'
    pb_fail "$name: systemd did not accept every setting (above)"
  fi
  score=$(echo "$out" | sed -nE 's/.*Overall exposure level for [^:]*: ([0-9]+\.[0-9]+).*/\1/p')
  [ -n "$score" ] || { echo "$out" | tail -5; pb_fail "$name: no exposure level in systemd-analyze's output"; }
  awk -v s="$score" 'BEGIN { exit !(s <= 2.0) }' || {
    echo "$out" | grep '✗'
    pb_fail "$name: systemd-analyze security rates $score, more than 2.0 (exposed settings above)"
  }
  echo "FIGURE systemd_analyze_security $name=$score"
  pb_pass "$name: exposure $score"
done
grep -q '^LoadCredential=printbridge.conf:/etc/printbridge/%i.conf$' "$PB_DIR/printbridge@mk3.service" \
  || pb_fail "printbridge@.service does not read /etc/printbridge/<instance>.conf"
grep -q '^StateDirectory=printbridge/%i$' "$PB_DIR/printbridge@mk3.service" \
  || pb_fail "printbridge@.service instances share one state folder"
pb_pass "the template unit reads /etc/printbridge/<instance>.conf into its own state folder"
