#!/usr/bin/env bash
# test_service_units.sh: `make install` writes both systemd units (printbridge.service and the
# per-printer template printbridge@.service) and the three man pages; the units parse without a
# single warning, are Type=notify with a watchdog and a StateDirectory, run as the user
# printbridge on the real configuration file, and `systemd-analyze security --offline=true`
# rates each 2.0 or lower. One configuration path everywhere: the file `printbridge --help`
# names (SYSCONFDIR, baked in at build time) is the one the units, the installed file and the
# man pages name. The man pages cover every option of --help, of both programs.
set -u
. "$(dirname "$0")/lib.sh"
pb_init

if ! command -v systemd-analyze >/dev/null 2>&1; then
  echo "SKIP: systemd-analyze is not installed (Debian package 'systemd'); the units were not rated"
  exit 0
fi

# the configuration file this build reads by default, as --help says; installed with the same
# SYSCONFDIR, so nothing is rebuilt (the default PREFIX, /usr/local)
conf=$("$PB_DAEMON_BIN" --help | sed -nE 's/.*--config FILE +configuration file \(default ([^)]*)\);.*/\1/p')
case $conf in /*/printbridge.conf) ;; *) pb_fail "--help does not name the default configuration file: '$conf'" ;; esac
sysconfdir=${conf%/printbridge.conf}
"$PB_DAEMON_BIN" --help | grep -qF "$sysconfdir/printbridge/INSTANCE.conf" || pb_fail "--help does not name the instances' files"
root=$PB_DIR/root
make -s -C "$PB_SRCDIR" install DESTDIR="$root" SYSCONFDIR="$sysconfdir" BUILD="$PB_BUILD" >"$PB_DIR/install.log" 2>&1 \
  || { cat "$PB_DIR/install.log"; pb_fail "make install failed"; }
units=$root/usr/local/lib/systemd/system
man=$root/usr/local/share/man
for f in "$units/printbridge.service" "$units/printbridge@.service" "$man/man8/printbridge.8" \
         "$man/man5/printbridge.conf.5" "$man/man1/printbridge-sim.1" "$root$conf"; do
  [ -s "$f" ] || pb_fail "make install did not install ${f#$root}"
done
[ -d "$root$sysconfdir/printbridge" ] || pb_fail "make install did not create $sysconfdir/printbridge/ for the instances' files"
[ "$(stat -c %a "$root$conf")" = 640 ] || pb_fail "$conf is installed mode $(stat -c %a "$root$conf"), not 640"
pb_pass "make install: $conf (0640), $sysconfdir/printbridge/, both units, three man pages"

if command -v man >/dev/null 2>&1; then
  for m in "$man/man8/printbridge.8" "$man/man5/printbridge.conf.5" "$man/man1/printbridge-sim.1"; do
    w=$(MANWIDTH=80 man --warnings -l "$m" 2>&1 >/dev/null)
    [ -z "$w" ] || pb_fail "$(basename "$m"): roff warnings: $w"
    grep -q '@[A-Z]*@' "$m" && pb_fail "$(basename "$m"): placeholders left: $(grep -o '@[A-Z]*@' "$m" | head -n 1)"
  done
  page8=$(MANWIDTH=200 man -l "$man/man8/printbridge.8" 2>/dev/null)
  page5=$(MANWIDTH=200 man -l "$man/man5/printbridge.conf.5" 2>/dev/null)
  pagesim=$(MANWIDTH=200 man -l "$man/man1/printbridge-sim.1" 2>/dev/null)
  for opt in $("$PB_DAEMON_BIN" --help | grep -oE -- '--[a-z][a-z-]+' | sort -u); do
    grep -qF -- "$opt" <<<"$page8" || pb_fail "printbridge(8) does not describe $opt (printbridge --help has it)"
  done
  for opt in $("$PB_SIM_BIN" --help | grep -oE -- '--[a-z][a-z-]+' | sort -u); do
    grep -qF -- "$opt" <<<"$pagesim" || pb_fail "printbridge-sim(1) does not describe $opt (printbridge-sim --help has it)"
  done
  for page in page8 page5; do
    grep -qF "$conf" <<<"${!page}" || pb_fail "the man page ($page) does not name $conf"
    grep -qE '(^|[^a-z])/etc/printbridge(\.conf|/INSTANCE)' <<<"${!page}" && [ "$sysconfdir" != /etc ] &&
      pb_fail "the man page ($page) names /etc/printbridge although this build reads $conf"
  done
  grep -q 'basestate' <<<"$page8" && pb_fail "printbridge(8) renders <base>state as 'basestate'"
  pb_pass "man pages: every option of both programs, the configuration file $conf"
fi

# the template is rated as an instance, like systemd would run it
cp "$units/printbridge@.service" "$PB_DIR/printbridge@mk3.service"
for unit in "$units/printbridge.service" "$PB_DIR/printbridge@mk3.service"; do
  name=$(basename "$unit")
  grep -q '@BINDIR@\|@SYSCONFDIR@' "$unit" && pb_fail "$name: placeholders left after make install"
  for want in '^Type=notify$' '^WatchdogSec=[1-9]' '^StateDirectory=printbridge' '^SupplementaryGroups=dialout$' \
              '^User=printbridge$' '^ExecReload=/bin/kill -HUP \$MAINPID$'; do
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
# the file itself, not a copy taken at start (a reload must see the edited file), checked before
# the SIGHUP of a reload
grep -q '^LoadCredential=' "$units/printbridge.service" "$PB_DIR/printbridge@mk3.service" &&
  pb_fail "a unit hands the configuration over as a credential: a reload would read a stale copy"
for pair in "printbridge.service:$conf" "printbridge@mk3.service:$sysconfdir/printbridge/%i.conf"; do
  name=${pair%%:*} file=${pair#*:}
  unit=$units/$name; [ "$name" = printbridge.service ] || unit=$PB_DIR/$name
  grep -qx "ExecStart=/usr/local/bin/printbridge -c $file" "$unit" || pb_fail "$name: ExecStart does not read $file"
  [ "$(sed -n 's/^ExecReload=//p' "$unit" | head -n 1)" = "/usr/local/bin/printbridge -c $file --check-config" ] ||
    pb_fail "$name: the first ExecReload does not check $file"
  grep -q "file:$file" "$unit" || pb_fail "$name: Documentation= does not name $file"
done
grep -q '^StateDirectory=printbridge/%i$' "$PB_DIR/printbridge@mk3.service" \
  || pb_fail "printbridge@.service instances share one state folder"
pb_pass "the units read $conf and $sysconfdir/printbridge/<instance>.conf themselves, each instance with its own state folder"
