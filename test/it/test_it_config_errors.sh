# test_it_config_errors.sh: configuration errors are one exact line and exit status 2, before
# anything starts; --check-config, --help and --version exit 0.
. "$(dirname "$0")/lib.sh"
pb_init
cd "$PB_DIR" || pb_fail "cd $PB_DIR"

# run_pb ARGS...: run the daemon (10 s at most), leaving RC, OUT and ERR.
run_pb() {
  timeout "$(pb_t 10)" "$PB_DAEMON_BIN" "$@" >out.txt 2>err.txt
  RC=$?
  OUT=$(cat out.txt)
  ERR=$(grep -Ev "$PB_SANITIZER_RE" err.txt)
  cat err.txt >>daemon.log      # so pb_cleanup sees sanitizer reports
}

# expect_error WHAT RC_WANTED ERR_REGEX ARGS...: exit status and exactly one stderr line.
expect_error() {
  local what=$1 want_rc=$2 re=$3; shift 3
  run_pb "$@"
  [ "$RC" = "$want_rc" ] || pb_fail "$what: expected exit status $want_rc, got $RC (stderr: '$ERR')"
  [ "$(printf '%s' "$ERR" | grep -c '')" = 1 ] && printf '%s\n' "$ERR" | grep -Eq -- "$re" ||
    pb_fail "$what: expected exactly one stderr line matching /$re/, got: '$ERR'"
  [ -z "$OUT" ] || pb_fail "$what: expected nothing on stdout, got: '$OUT'"
  pb_pass "$what: $ERR"
}

# 1. missing file
expect_error "missing file" 2 '^missing\.conf: cannot read config file: No such file or directory$' -c missing.conf
expect_error "missing file (--check-config)" 2 '^missing\.conf: cannot read config file: No such file or directory$' \
  -c missing.conf --check-config

# 2. syntax error on line 3
cat >syntax.conf <<'EOF'
printer: { port = "/dev/ttyUSB0"; };
mqtt: {
  host = "127.0.0.1" port = ;
};
EOF
expect_error "syntax error" 2 '^syntax\.conf:3: .+' -c syntax.conf
expect_error "syntax error (--check-config)" 2 '^syntax\.conf:3: .+' -c syntax.conf --check-config

# 3. unknown key on line 4
cat >unknown.conf <<'EOF'
printer: { port = "/dev/ttyUSB0"; };
mqtt: {
  port = 1883;
  hots = "127.0.0.1";
};
EOF
expect_error "unknown key" 2 "^unknown\\.conf:4: unknown setting 'mqtt\\.hots'" -c unknown.conf
expect_error "unknown key (--check-config)" 2 "^unknown\\.conf:4: unknown setting 'mqtt\\.hots'" -c unknown.conf --check-config

# 3b. a misspelt event name: the hook would never run, so it is an error with a suggestion, at
# the line of the name
cat >event.conf <<'EOF'
printer: { port = "/dev/ttyUSB0"; };
events: { subscriptions = (
  { event = [ "PrintDone",
              "PrintFialed" ]; type = "system"; command = "true"; }
); };
filter: { events_off = [ "ZChnage" ]; };
EOF
expect_error "misspelt event" 2 "^event\\.conf:4: events\\.subscriptions entry 1: printbridge publishes no event \"PrintFialed\"; did you mean 'PrintFailed'\\?\$" \
  -c event.conf --check-config
sed -i 's/PrintFialed/PrintFailed/' event.conf
expect_error "misspelt event in a filter" 2 "^event\\.conf:6: filter\\.events_off: printbridge publishes no event \"ZChnage\"; did you mean 'ZChange'\\?\$" \
  -c event.conf --check-config

# 4. valid files
PB_MQTT_PORT=1883 pb_write_config valid.conf
run_pb -c valid.conf --check-config
[ "$RC" = 0 ] || pb_fail "--check-config on a valid file: expected exit 0, got $RC (stderr: '$ERR')"
pb_pass "--check-config on the test config"
if [ -f "$PB_SRCDIR/etc/printbridge.conf" ]; then
  run_pb -c "$PB_SRCDIR/etc/printbridge.conf" --check-config
  [ "$RC" = 0 ] || pb_fail "--check-config on etc/printbridge.conf: expected exit 0, got $RC (stderr: '$ERR')"
  pb_pass "--check-config on etc/printbridge.conf"
else
  pb_fail "expected $PB_SRCDIR/etc/printbridge.conf to exist"
fi

# 5. --help and --version
run_pb --help
[ "$RC" = 0 ] || pb_fail "--help: expected exit 0, got $RC"
printf '%s\n%s\n' "$OUT" "$ERR" | grep -q -- '--check-config' || pb_fail "--help: expected the usage to mention --check-config, got: '$OUT$ERR'"
pb_pass "--help"
run_pb --version
version=$(cat "$PB_SRCDIR/VERSION" 2>/dev/null)
[ "$RC" = 0 ] || pb_fail "--version: expected exit 0, got $RC"
printf '%s\n' "$OUT" | grep -qF -- "$version" || pb_fail "--version: expected stdout to contain '$version' (VERSION), got: '$OUT'"
pb_pass "--version: $OUT"
echo "PASS test_it_config_errors ($SECONDS s)"
