# lib_mqtt.sh: small self-contained helpers for the test_mqtt_*.sh integration scripts: a
# private mosquitto (plain, persistent, TLS or with a password file), subscribers, the daemon
# with no printer attached (printer.port names a file that does not exist, so the printer side
# stays "Offline after error" and every message comes from the MQTT side), deadlines that poll.
# Every process started here is stopped by the EXIT trap; the temporary folder is removed
# (PB_KEEP=1 keeps it).
#
# Needs PB_BUILD (folder with the printbridge binary). Only bash, coreutils, grep, sed, the
# mosquitto tools and openssl are used.

PB_BUILD=${PB_BUILD:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../../build" 2>/dev/null && pwd)}
M_BIN=$PB_BUILD/printbridge
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1}
M_SCALE=1
grep -qa AddressSanitizer "$M_BIN" 2>/dev/null && M_SCALE=3

M_DIR=
M_PIDS=()
M_BROKER_PID=

m_t() { echo $(( $1 * M_SCALE )); }
m_log() { printf '%s %s\n' "$(date +%H:%M:%S)" "$*"; }

m_fail() {
  local f
  for f in "$M_DIR"/daemon*.log; do
    [ -f "$f" ] || continue
    echo "--- last lines of $(basename "$f"):"
    tail -n 12 "$f"
  done
  echo "FAIL: $*"
  exit 1
}

m_pass() { echo "ok: $*"; }

m_cleanup() {
  local rc=$? pid i alive f
  trap - EXIT INT TERM
  for pid in "${M_PIDS[@]}"; do kill -0 "$pid" 2>/dev/null && kill -TERM "$pid" 2>/dev/null; done
  for i in $(seq 50); do
    alive=0
    for pid in "${M_PIDS[@]}"; do kill -0 "$pid" 2>/dev/null && alive=1; done
    [ $alive = 0 ] && break
    sleep 0.1
  done
  for pid in "${M_PIDS[@]}"; do kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null; done
  for pid in "${M_PIDS[@]}"; do wait "$pid" 2>/dev/null; done
  for f in "$M_DIR"/daemon*.log; do
    [ -f "$f" ] || continue
    if grep -Eq 'ERROR: AddressSanitizer|ERROR: LeakSanitizer|runtime error:' "$f"; then
      grep -E -A 12 'ERROR: AddressSanitizer|ERROR: LeakSanitizer|runtime error:' "$f" | head -n 40
      echo "FAIL: sanitizer report in $(basename "$f")"
      rc=1
    fi
  done
  if [ "${PB_KEEP:-0}" = 1 ]; then echo "kept $M_DIR" >&2; else rm -rf "$M_DIR"; fi
  exit $rc
}

m_init() {
  M_DIR=$(mktemp -d "${TMPDIR:-/tmp}/pb-mqtt.XXXXXX") || { echo "FAIL: mktemp"; exit 1; }
  chmod 0755 "$M_DIR"   # mosquitto started as root drops to its own user and must read here
  trap m_cleanup EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM
  [ -x "$M_BIN" ] || m_fail "no daemon binary at $M_BIN (set PB_BUILD)"
}

m_port_in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# m_port_ceiling: the first port the kernel hands out to outgoing connections. A listener
# port is picked below it: an ephemeral port taken by any client (a subscriber, the daemon)
# would make the broker's bind fail with "Address already in use".
m_port_ceiling() {
  local lo
  read -r lo _ </proc/sys/net/ipv4/ip_local_port_range 2>/dev/null || lo=32768
  (( lo > 12000 )) || lo=32768
  echo "$lo"
}

m_free_port() {
  local p
  while :; do
    p=$(( 10000 + (RANDOM * 32768 + RANDOM) % ($(m_port_ceiling) - 10000) ))
    m_port_in_use "$p" || { echo "$p"; return 0; }
  done
}

# m_wait_until SECONDS COMMAND...: poll every 0.1 s
m_wait_until() {
  local deadline=$(( SECONDS + $1 )); shift
  while :; do
    "$@" && return 0
    (( SECONDS >= deadline )) && return 1
    sleep 0.1
  done
}

# m_start_broker CONF PORT [NAME]: mosquitto -c CONF; waits until PORT accepts. Sets M_BROKER_PID.
m_start_broker() {
  local conf=$1 port=$2 name=${3:-broker}
  # stay the current user: as root mosquitto would switch to 'mosquitto', which cannot read
  # /etc/hosts.allow or our files inside a 0700 chroot (fresh-machine.sh)
  grep -q '^user ' "$conf" || printf 'user %s\n' "$(id -un)" >>"$conf"
  mosquitto -c "$conf" >>"$M_DIR/$name.log" 2>&1 &
  M_BROKER_PID=$!
  M_PIDS+=("$M_BROKER_PID")
  m_wait_until "$(m_t 10)" m_port_in_use "$port" || m_fail "mosquitto did not start on port $port (see $name.log: $(tail -n 3 "$M_DIR/$name.log"))"
}

# m_stop_pid PID: TERM and wait until it is gone
m_stop_pid() {
  kill -TERM "$1" 2>/dev/null
  m_wait_until "$(m_t 10)" eval "! kill -0 $1 2>/dev/null" || { kill -KILL "$1" 2>/dev/null; }
  wait "$1" 2>/dev/null
  return 0
}

# m_sub OUTFILE PORT TOPIC [mosquitto_sub options...]: a subscriber printing "topic r=R q=Q payload"
m_sub() {
  local out=$1 port=$2 topic=$3; shift 3
  mosquitto_sub -h 127.0.0.1 -p "$port" -t "$topic" -v -F '%t r=%r q=%q %p' "$@" >"$out" 2>>"$M_DIR/sub.err" &
  M_PIDS+=("$!")
  M_SUB_PID=$!
}

# m_sub_ready PORT: a subscriber is certainly listening when a marker it subscribed to arrives
m_sub_ready() {
  local out=$1 port=$2 marker=${3:-pbtest/ready}
  m_wait_until "$(m_t 10)" eval "mosquitto_pub -h 127.0.0.1 -p $port -t '$marker' -m ready -q 1 2>/dev/null; grep -q '^$marker ' '$out'"
}

# m_start_daemon CONF [NAME]: sets M_DAEMON_PID
m_start_daemon() {
  local conf=$1 name=${2:-daemon}
  "$M_BIN" -c "$conf" >>"$M_DIR/$name.log" 2>&1 &
  M_DAEMON_PID=$!
  M_PIDS+=("$M_DAEMON_PID")
}

# m_expect FILE REGEX SECONDS WHAT
m_expect() {
  m_wait_until "$3" grep -Eq -- "$2" "$1" || m_fail "expected $4 within $3 s; got: $(tail -n 8 "$1" | cut -c1-200)"
}

# m_count FILE REGEX
m_count() { grep -Ec -- "$2" "$1"; }

# m_ts: the regex of an integer time stamp
M_TS='[0-9]{10}'
