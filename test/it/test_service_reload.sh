#!/usr/bin/env bash
# test_service_reload.sh: `systemctl reload` applies an edited configuration file without a
# restart, and refuses an invalid one. systemd is not PID 1 in a test, so the units' own
# command lines are run as systemd runs them: ExecStart= starts the daemon (with @BINDIR@ this
# build and @SYSCONFDIR@ a folder of the test), and on a reload each ExecReload= line runs in
# turn, with $MAINPID the daemon's pid, until one fails. For printbridge.service and the
# instance mk3 of printbridge@.service:
#   1. the unit reads the real file: an edit (topics.event becomes "ev/{event}") followed by the
#      reload publishes SettingsUpdated on octoprint/ev/SettingsUpdated, from the same process
#   2. an invalid edit (mqtt.port = 70000, with topics.event "bad/{event}") fails the reload
#      with exit 2 and the FILE:LINE message, no SIGHUP reaches the daemon, and the running
#      configuration stays: a file added to the storage folder is announced on
#      octoprint/ev/FileAdded, nothing on octoprint/bad/
# and `systemd-analyze verify` accepts both units as this build would install them.
set -u
. "$(dirname "$0")/lib.sh"
pb_init
command -v mosquitto >/dev/null 2>&1 || pb_fail "mosquitto is not installed (make check installs it)"

ETC=$PB_DIR/etc
mkdir -p "$ETC/printbridge" "$PB_DIR/units"
pb_start_broker_any
LIVE=$PB_DIR/live.txt
pb_sub_start "$LIVE" 'octoprint/#'

# unit_lines UNIT KEY INSTANCE: the unit's KEY= lines as they run on this machine
unit_lines() {
  sed -n "s/^$2=//p" "$1" | sed -e "s|@BINDIR@|$PB_BUILD|g" -e "s|@SYSCONFDIR@|$ETC|g" -e "s|%i|$3|g"
}

# run_line LINE: one Exec line, split into words as systemd does (no shell, no quotes here)
run_line() {
  local words
  read -r -a words <<<"$1"
  case ${words[0]} in /*) ;; *) pb_fail "an Exec line with a prefix or a relative path: '$1'" ;; esac
  "${words[@]}"
}

# reload UNIT INSTANCE: every ExecReload= line in turn until one fails; its status is returned
reload() {
  local line rc
  while IFS= read -r line; do
    line=${line//\$MAINPID/$PB_DAEMON_PID}
    run_line "$line" >>"$PB_DIR/reload.out" 2>&1 || { rc=$?; return $rc; }
  done < <(unit_lines "$1" ExecReload "$2")
  return 0
}

config() {   # config FILE TOPIC: a configuration for this test, events published under TOPIC
  PB_CFG_PORT=$PB_DIR/no-printer PB_CFG_EXTRA="topics: { event = \"$2\"; };" pb_write_config "$1"
}

n=0
for unit in printbridge.service printbridge@.service; do
  n=$((n + 1))
  src=$PB_SRCDIR/systemd/$unit
  inst=; conf=$ETC/printbridge.conf
  if [ "$unit" = printbridge@.service ]; then inst=mk3; conf=$ETC/printbridge/mk3.conf; fi
  name=${unit/@/@$inst}
  FILES=$PB_DIR/files$n
  PB_CFG_FILES=$FILES
  mkdir -p "$FILES"

  # the unit as it would be installed, checked by systemd itself
  unit_lines "$src" ExecStart "$inst" | grep -qx "$PB_BUILD/printbridge -c $conf" ||
    pb_fail "$unit: ExecStart does not run printbridge on $conf: $(unit_lines "$src" ExecStart "$inst")"
  if command -v systemd-analyze >/dev/null 2>&1; then
    sed -e "s|@BINDIR@|$PB_BUILD|g" -e "s|@SYSCONFDIR@|$ETC|g" "$src" >"$PB_DIR/units/$name"
    out=$(systemd-analyze verify --man=no "$PB_DIR/units/$name" 2>&1) || pb_fail "$name: systemd-analyze verify: $out"
    [ -z "$out" ] || pb_fail "$name: systemd-analyze verify warns: $out"
    pb_pass "$name: systemd-analyze verify accepts it"
  fi

  config "$conf" "event/{event}"
  mark=$(pb_count "$LIVE")
  read -r -a start <<<"$(unit_lines "$src" ExecStart "$inst")"
  pb_start_daemon "${start[2]}" "${start[@]:3}"
  pb_expect_line "$LIVE" '^octoprint/mqtt r=[01] q=1 connected$' "$(pb_t 15)" "$name: connected" "$mark"
  pid=$PB_DAEMON_PID

  # 1. an edit, then the reload
  config "$conf" "ev/{event}"
  mark=$(pb_count "$LIVE")
  : >"$PB_DIR/reload.out"
  reload "$src" "$inst" || pb_fail "$name: the reload of a valid file failed: $(cat "$PB_DIR/reload.out")"
  pb_expect_line "$LIVE" '^octoprint/ev/SettingsUpdated ' "$(pb_t 10)" "$name: SettingsUpdated under the edited topic" "$mark"
  [ "$PB_DAEMON_PID" = "$pid" ] && kill -0 "$pid" 2>/dev/null || pb_fail "$name: the daemon did not survive the reload"
  pb_pass "$name: reload applied the edited file (octoprint/ev/SettingsUpdated), no restart"

  # 2. an invalid edit: the reload fails, the daemon keeps what runs
  config "$conf" "bad/{event}"
  sed -i "s/port = $PB_MQTT_PORT;/port = 70000;/" "$conf"
  grep -q 'port = 70000;' "$conf" || pb_fail "could not write the invalid file"
  line=$(grep -n 'port = 70000;' "$conf" | cut -d: -f1)
  mark=$(pb_count "$LIVE")
  logmark=$(pb_count "$PB_DIR/daemon.log")
  : >"$PB_DIR/reload.out"
  rc=0; reload "$src" "$inst" || rc=$?
  [ "$rc" = 2 ] || pb_fail "$name: the reload of an invalid file exited $rc, not 2: $(cat "$PB_DIR/reload.out")"
  grep -q "^$(pb_re "$conf"):$line: mqtt\.port must be between 1 and 65535, not 70000" "$PB_DIR/reload.out" ||
    pb_fail "$name: the failed reload does not say FILE:LINE and why: $(cat "$PB_DIR/reload.out")"
  printf 'G28\n' >"$FILES/added.gcode"
  pb_expect_line "$LIVE" '^octoprint/ev/FileAdded .*"path": "added\.gcode"' "$(pb_t 10)" \
    "$name: FileAdded under the running configuration's topic" "$mark"
  pb_lines "$LIVE" "$mark" | grep -q '^octoprint/bad/' && pb_fail "$name: the refused file was applied: $(pb_lines "$LIVE" "$mark" | grep '^octoprint/bad/' | head -n 1)"
  tail -n +"$((logmark + 1))" "$PB_DIR/daemon.log" | grep -q 'reload' &&
    pb_fail "$name: the daemon was signalled although the check failed: $(tail -n +"$((logmark + 1))" "$PB_DIR/daemon.log" | grep reload)"
  kill -0 "$pid" 2>/dev/null || pb_fail "$name: the daemon died"
  pb_pass "$name: an invalid edit fails the reload with FILE:LINE (exit 2); the running configuration stays"

  pb_stop_daemon TERM
  [ "$PB_DAEMON_RC" = 0 ] || pb_fail "$name: exit status $PB_DAEMON_RC after SIGTERM"
done
