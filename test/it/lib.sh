# lib.sh: helpers for the integration scripts in test/it/ (and scripts/demo.sh).
#
# Source it from bash. It needs PB_BUILD (folder holding printbridge and printbridge-sim) and
# optionally PB_SRCDIR (project root). Every process started through these helpers is recorded
# and stopped by pb_cleanup, which `pb_init` installs as the EXIT trap; the temporary folder is
# removed too (set PB_KEEP=1 to keep it for a look after a failure).
#
# Only bash, coreutils, grep, sed, awk, procps and the mosquitto tools are used.

PB_BUILD=${PB_BUILD:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../../build" 2>/dev/null && pwd)}
PB_SRCDIR=${PB_SRCDIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
PB_DAEMON_BIN=$PB_BUILD/printbridge
PB_SIM_BIN=$PB_BUILD/printbridge-sim

# Sanitizer builds: report problems instead of aborting, keep leak checking on.
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1}
PB_SANITIZER_RE='ERROR: AddressSanitizer|ERROR: LeakSanitizer|runtime error:'

# Deadlines are upper bounds only (conditions are polled); a sanitizer build gets more time.
# Its memory figures mean nothing (shadow memory, freed blocks held in quarantine): PB_SANITIZED.
PB_TIMEOUT_SCALE=${PB_TIMEOUT_SCALE:-1}
PB_SANITIZED=0
if grep -qa '__asan_init' "$PB_DAEMON_BIN" 2>/dev/null; then
  PB_TIMEOUT_SCALE=3
  PB_SANITIZED=1
fi

PB_DIR=            # the test's temporary folder
PB_PIDS=()         # every background process started here
PB_MQTT_PORT=      # the private broker's port
PB_BROKER_PID=
PB_SIM_PID=
PB_DAEMON_PID=
PB_DAEMON_RC=      # exit status after pb_stop_daemon
PB_LINK=           # the simulator's link path ($PB_DIR/printer.tty)
PB_NSTART=0        # counts starts, to give each log file its own name

pb_log() { printf '%s %s\n' "$(date +%H:%M:%S)" "$*"; }

# pb_bg COMMAND...: run COMMAND in the background ($! is its pid). With PB_OWN_PGRP=1 it gets
# its own process group, so a Ctrl-C on the terminal reaches only the script (demo.sh stops
# its children itself, in order).
pb_bg() {
  if [ "${PB_OWN_PGRP:-0}" = 1 ]; then
    set -m; "$@" & set +m
  else
    "$@" &
  fi
}

# pb_t SECONDS: a deadline scaled for slow builds.
pb_t() { echo $(( $1 * PB_TIMEOUT_SCALE )); }

# pb_fail MESSAGE: show the context, then the FAIL line last (the runner shows the log's tail).
pb_fail() {
  if [ -n "$PB_DIR" ] && [ -f "$PB_DIR/daemon.log" ]; then
    echo "--- daemon log (last 15 lines of $PB_DIR/daemon.log):"
    tail -n 15 "$PB_DIR/daemon.log"
  fi
  echo "FAIL: $*"
  exit 1
}

pb_pass() { echo "ok: $*"; }

# pb_init: temp folder + cleanup trap. Call once at the top of a test.
pb_init() {
  pb_tmpdir
  trap 'pb_cleanup' EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM
  [ -x "$PB_DAEMON_BIN" ] || pb_fail "no daemon binary at $PB_DAEMON_BIN (set PB_BUILD)"
}

pb_tmpdir() {
  PB_DIR=$(mktemp -d "${TMPDIR:-/tmp}/pb-it.XXXXXX") || { echo "FAIL: mktemp"; exit 1; }
  PB_LINK=$PB_DIR/printer.tty
}

# pb_cleanup: stop every process we started (TERM, then KILL after 5 s), fail the test if a
# sanitizer reported anything, remove the temp folder.
pb_cleanup() {
  local rc=$? pid i
  # a script running with set -e must not die here on a killed child's non-zero wait status
  set +e
  trap - EXIT INT TERM
  for pid in "${PB_PIDS[@]}"; do
    kill -0 "$pid" 2>/dev/null && kill -TERM "$pid" 2>/dev/null && kill -CONT "$pid" 2>/dev/null
  done
  for i in $(seq 50); do
    local alive=0
    for pid in "${PB_PIDS[@]}"; do kill -0 "$pid" 2>/dev/null && alive=1; done
    [ $alive = 0 ] && break
    sleep 0.1
  done
  for pid in "${PB_PIDS[@]}"; do
    kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null
  done
  for pid in "${PB_PIDS[@]}"; do wait "$pid" 2>/dev/null; done
  if [ -n "$PB_DIR" ] && [ -d "$PB_DIR" ]; then
    local f
    for f in "$PB_DIR"/daemon.log "$PB_DIR"/sim.*.log; do
      [ -f "$f" ] || continue
      if grep -Eq "$PB_SANITIZER_RE" "$f"; then
        echo "--- sanitizer report in $(basename "$f"):"
        grep -E -A 12 "$PB_SANITIZER_RE" "$f" | head -n 40
        echo "FAIL: sanitizer report in $(basename "$f")"
        rc=1
      fi
    done
    if [ "${PB_KEEP:-0}" = 1 ]; then
      echo "kept $PB_DIR" >&2
    else
      rm -rf "$PB_DIR"
    fi
  fi
  exit $rc
}

# pb_port_in_use PORT: true if something accepts on 127.0.0.1:PORT.
pb_port_in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# pb_free_port: print a loopback port nobody listens on, below the ephemeral range.
# pb_port_ceiling: the first port the kernel hands out to outgoing connections. A listener
# port is picked below it: an ephemeral port taken by any client (a subscriber, the daemon)
# would make the broker's bind fail with "Address already in use".
pb_port_ceiling() {
  local lo
  read -r lo _ </proc/sys/net/ipv4/ip_local_port_range 2>/dev/null || lo=32768
  (( lo > 12000 )) || lo=32768
  echo "$lo"
}

pb_free_port() {
  local p
  while :; do
    p=$(( 10000 + (RANDOM * 32768 + RANDOM) % ($(pb_port_ceiling) - 10000) ))
    pb_port_in_use "$p" || { echo "$p"; return 0; }
  done
}

# pb_wait_until TIMEOUT COMMAND...: run COMMAND every 0.1 s until it succeeds; 1 on timeout.
pb_wait_until() {
  local timeout=$1; shift
  local deadline=$(( SECONDS + timeout ))
  while :; do
    "$@" && return 0
    (( SECONDS >= deadline )) && return 1
    sleep 0.1
  done
}

# pb_start_broker PORT: start mosquitto on 127.0.0.1:PORT, wait until it accepts.
# Returns 1 if it could not bind (the caller may pick another port).
pb_start_broker() {
  local port=$1 log
  PB_NSTART=$((PB_NSTART + 1))
  log=$PB_DIR/broker.$PB_NSTART.log
  # A config naming our own user: started as root, mosquitto would otherwise switch to the
  # 'mosquitto' user, which cannot read /etc/hosts.allow inside a 0700 chroot (tcpd then
  # refuses every client) nor files in our temp folder.
  printf 'listener %s 127.0.0.1\nallow_anonymous true\nuser %s\n' "$port" "$(id -un)" \
    >"$PB_DIR/broker.$PB_NSTART.conf"
  pb_bg mosquitto -c "$PB_DIR/broker.$PB_NSTART.conf" -v >"$log" 2>&1
  PB_BROKER_PID=$!
  PB_PIDS+=("$PB_BROKER_PID")
  local deadline=$(( SECONDS + $(pb_t 10) ))
  while :; do
    if ! kill -0 "$PB_BROKER_PID" 2>/dev/null; then
      wait "$PB_BROKER_PID" 2>/dev/null
      PB_BROKER_PID=
      return 1
    fi
    grep -q ' running$' "$log" && pb_port_in_use "$port" && break
    (( SECONDS >= deadline )) && { pb_stop_broker; return 1; }
    sleep 0.05
  done
  PB_MQTT_PORT=$port
  ln -sf "$log" "$PB_DIR/broker.log"
  return 0
}

# pb_start_broker_any: pb_start_broker on a free port, retrying a few ports.
pb_start_broker_any() {
  local n
  for n in 1 2 3 4 5 6 7 8; do
    pb_start_broker "$(pb_free_port)" && return 0
  done
  pb_fail "could not start mosquitto on any port (see $PB_DIR/broker.*.log)"
}

# pb_stop_broker: stop the broker (SIGTERM) and wait for it.
pb_stop_broker() {
  [ -n "$PB_BROKER_PID" ] || return 0
  kill -TERM "$PB_BROKER_PID" 2>/dev/null
  wait "$PB_BROKER_PID" 2>/dev/null
  PB_BROKER_PID=
}

# pb_restart_broker: stop it and start it again on the same port (retrying while the port
# is still being released).
pb_restart_broker() {
  local port=$PB_MQTT_PORT n
  pb_stop_broker
  for n in $(seq 20); do
    pb_start_broker "$port" && return 0
    sleep 0.5
  done
  pb_fail "could not restart mosquitto on port $port"
}

# pb_start_sim [ARGS...]: start the simulator on $PB_LINK (or on PB_SIM_LINK if set), wait for
# the link to appear. The simulator's output goes to sim.N.log.
pb_start_sim() {
  local link=${PB_SIM_LINK:-$PB_LINK}
  [ -x "$PB_SIM_BIN" ] || pb_fail "no simulator binary at $PB_SIM_BIN"
  PB_NSTART=$((PB_NSTART + 1))
  pb_bg "$PB_SIM_BIN" --link "$link" "$@" >"$PB_DIR/sim.$PB_NSTART.log" 2>&1
  PB_SIM_PID=$!
  PB_PIDS+=("$PB_SIM_PID")
  pb_wait_until "$(pb_t 10)" eval '[ -e "$link" ] || ! kill -0 $PB_SIM_PID 2>/dev/null'
  if ! kill -0 "$PB_SIM_PID" 2>/dev/null || [ ! -e "$link" ]; then
    cat "$PB_DIR/sim.$PB_NSTART.log"
    pb_fail "simulator did not create $link (see output above)"
  fi
}

# pb_stop_sim [SIGNAL]: stop the simulator (default TERM) and wait for it.
pb_stop_sim() {
  [ -n "$PB_SIM_PID" ] || return 0
  kill -"${1:-TERM}" "$PB_SIM_PID" 2>/dev/null
  wait "$PB_SIM_PID" 2>/dev/null
  PB_SIM_PID=
}

# pb_write_config FILE: a daemon config for this test. Tunables (environment or variables):
#   PB_CFG_PORT    printer port (default $PB_LINK)
#   PB_CFG_SCRIPT  afterPrinterConnected list items (default heats tool0 to 210, bed to 60)
#   PB_CFG_FILES   storage.folder (default $PB_DIR/files); PB_CFG_STORAGE more storage settings
#   PB_CFG_EXTRA   raw text appended at the end
pb_write_config() {
  cat >"$1" <<EOF
# written by test/it/lib.sh
printer: { port = "${PB_CFG_PORT:-$PB_LINK}"; baudrate = 115200; reconnect_delay = 1; };
mqtt: { host = "127.0.0.1"; port = $PB_MQTT_PORT; base_topic = "octoprint/"; client_id = "pb-test"; keepalive = 60; };
scripts: { afterPrinterConnected = [ ${PB_CFG_SCRIPT-\"M104 S210\", \"M140 S60\"} ]; };
log: { level = "info"; };
storage: { folder = "${PB_CFG_FILES:-$PB_DIR/files}"; ${PB_CFG_STORAGE:-}};
${PB_CFG_EXTRA:-}
EOF
}

# pb_start_daemon CONFIG [ARGS...]: start printbridge in the background; stdout and stderr are
# appended to $PB_DIR/daemon.log.
pb_start_daemon() {
  local cfg=$1; shift
  echo "=== $(date +%H:%M:%S) printbridge -c $cfg $*" >>"$PB_DIR/daemon.log"
  pb_bg "$PB_DAEMON_BIN" -c "$cfg" "$@" >>"$PB_DIR/daemon.log" 2>&1
  PB_DAEMON_PID=$!
  PB_PIDS+=("$PB_DAEMON_PID")
}

pb_daemon_alive() { [ -n "$PB_DAEMON_PID" ] && kill -0 "$PB_DAEMON_PID" 2>/dev/null; }

# pb_daemon_kb FIELD: a memory figure of the daemon in kB from /proc/PID/status (VmRSS, VmHWM).
pb_daemon_kb() { awk -v f="$1:" '$1 == f { print $2 }' "/proc/$PB_DAEMON_PID/status"; }

# pb_stop_daemon [SIGNAL]: send SIGNAL (default TERM), wait up to 20 s (scaled) for the exit,
# leave the exit status in PB_DAEMON_RC (128+N when killed by signal N). Fails on a hang.
pb_stop_daemon() {
  local sig=${1:-TERM}
  [ -n "$PB_DAEMON_PID" ] || return 0
  kill -"$sig" "$PB_DAEMON_PID" 2>/dev/null
  if ! pb_wait_until "$(pb_t 20)" eval '! kill -0 $PB_DAEMON_PID 2>/dev/null'; then
    kill -KILL "$PB_DAEMON_PID" 2>/dev/null
    wait "$PB_DAEMON_PID" 2>/dev/null
    PB_DAEMON_PID=
    pb_fail "printbridge did not exit within $(pb_t 20) s of SIG$sig"
  fi
  wait "$PB_DAEMON_PID" 2>/dev/null
  PB_DAEMON_RC=$?
  PB_DAEMON_PID=
}

# pb_sub_start FILE TOPIC: a subscriber (QoS 1, so the QoS a message was published with shows
# in q=) appending "topic r=RETAIN q=QOS payload" lines to FILE. It also listens on a private
# probe topic that pb_sub_sync uses; returns once the subscription is active.
pb_sub_start() {
  local file=$1 topic=$2
  : >>"$file"
  pb_bg mosquitto_sub -h 127.0.0.1 -p "$PB_MQTT_PORT" -q 1 -t "$topic" -t "pbtest/probe/$(basename "$file")" \
    -v -F '%t r=%r q=%q %p' >>"$file" 2>>"$PB_DIR/mosquitto_sub.err"
  PB_PIDS+=($!)
  pb_sub_sync "$file"
}

# pb_sub_sync FILE: publish a probe to FILE's subscriber and wait until it arrives. Everything
# the broker sent that subscriber before (e.g. the retained messages after SUBACK) is then in
# FILE. The probe lines start with "pbtest/"; pb_lines leaves them out.
pb_sub_sync() {
  local file=$1 tag n
  tag="sync-$RANDOM$RANDOM"
  local deadline=$(( SECONDS + $(pb_t 10) ))
  while (( SECONDS < deadline )); do
    mosquitto_pub -h 127.0.0.1 -p "$PB_MQTT_PORT" -t "pbtest/probe/$(basename "$file")" -m "$tag" 2>/dev/null
    for n in $(seq 10); do
      grep -qx "pbtest/probe/$(basename "$file") r=0 q=0 $tag" "$file" && return 0
      sleep 0.1
    done
  done
  pb_fail "subscriber writing $file did not receive its probe within $(pb_t 10) s"
}

# pb_broker_arrives FILE TOPIC: the broker on $PB_MQTT_PORT comes up late, and a subscriber
# writing FILE is listening before the daemon's next connect attempt: the daemon is frozen
# (SIGSTOP) while both start, then continued.
pb_broker_arrives() {
  kill -STOP "$PB_DAEMON_PID"
  pb_wait_until "$(pb_t 5)" eval '[ "$(ps -o stat= -p $PB_DAEMON_PID | cut -c1)" = T ]' ||
    pb_fail "could not stop the daemon with SIGSTOP"
  pb_start_broker "$PB_MQTT_PORT" || pb_fail "could not start mosquitto on port $PB_MQTT_PORT"
  pb_sub_start "$1" "$2"
  kill -CONT "$PB_DAEMON_PID"
}

# pb_lines FILE [FROM]: the MQTT lines of FILE after line FROM (default 0), probes left out.
pb_lines() { tail -n +"$(( ${2:-0} + 1 ))" "$1" | grep -v '^pbtest/'; }

# pb_count FILE: number of lines in FILE (a marker for "messages after this point").
pb_count() { wc -l <"$1" | tr -d ' '; }

# pb_wait_for_line FILE REGEX TIMEOUT [FROM]: wait until a line after line FROM matches the
# extended REGEX. Returns 1 on timeout.
pb_wait_for_line() {
  local file=$1 re=$2 timeout=${3:-10} from=${4:-0}
  local deadline=$(( SECONDS + timeout ))
  while :; do
    [ -f "$file" ] && tail -n +"$((from + 1))" "$file" | grep -Eq -- "$re" && return 0
    (( SECONDS >= deadline )) && return 1
    sleep 0.1
  done
}

# pb_expect_line FILE REGEX TIMEOUT WHAT [FROM]: pb_wait_for_line or fail, showing what came.
pb_expect_line() {
  local file=$1 re=$2 timeout=$3 what=$4 from=${5:-0}
  if ! pb_wait_for_line "$file" "$re" "$timeout" "$from"; then
    echo "--- last lines of $(basename "$file") (after line $from):"
    pb_lines "$file" "$from" | tail -n 20
    pb_fail "expected $what within $timeout s: a line matching /$re/; got none (lines above)"
  fi
}

# pb_re STRING: STRING escaped for use inside an extended regex.
pb_re() { printf '%s' "$1" | sed 's/[][\.*^$+?(){}|/]/\\&/g'; }

# Regexes for payload pieces (docs/wire-format.md 2): integer epoch seconds, Python-repr floats in
# the fixed-point range (no trailing zeros except ".0").
PB_TS='[0-9]{10}'
PB_FLOAT='-?(0|[1-9][0-9]*)\.([0-9]*[1-9]|0)'
