#!/usr/bin/env bash
# test_it_systemd_notify.sh: printbridge started the way systemd's Type=notify starts it (a
# NOTIFY_SOCKET to report to, WATCHDOG_USEC) tells its receiver READY=1, STATUS= lines with
# the printer's and the broker's state as they change, WATCHDOG=1 pings, and STOPPING=1 on
# SIGTERM. Both socket kinds systemd uses are tried: a path and an abstract "@" name.
set -u
. "$(dirname "$0")/lib.sh"
pb_init

cc -O1 -o "$PB_DIR/notify_recv" "$PB_SRCDIR/test/it/notify_recv.c" || pb_fail "cannot build notify_recv"
pb_start_broker_any
pb_start_sim
pb_write_config "$PB_DIR/pb.conf"

run_once() {   # run_once SOCKETNAME LABEL
  local sock=$1 label=$2 out=$PB_DIR/notify.$2.txt
  pb_bg "$PB_DIR/notify_recv" "$sock" >"$out" 2>&1
  local rpid=$!
  PB_PIDS+=("$rpid")
  pb_wait_until "$(pb_t 5)" grep -q '^listening' "$out" || pb_fail "$label: receiver did not start"
  NOTIFY_SOCKET=$sock WATCHDOG_USEC=400000 pb_start_daemon "$PB_DIR/pb.conf"
  pb_expect_line "$out" '^READY=1$' "$(pb_t 10)" "$label: READY=1"
  pb_expect_line "$out" '^STATUS=Printer: Operational; broker: connected$' "$(pb_t 15)" \
    "$label: STATUS= with an operational printer and a connected broker"
  # the watchdog: 200 ms pings; over 1.5 s at least 4 of them
  local before after
  before=$(grep -c '^WATCHDOG=1$' "$out")
  sleep 1.5
  after=$(grep -c '^WATCHDOG=1$' "$out")
  (( after - before >= 4 )) || pb_fail "$label: only $((after - before)) WATCHDOG=1 in 1.5 s with WATCHDOG_USEC=400000"
  # the broker goes away: STATUS follows
  if [ "$label" = path ]; then
    pb_stop_broker
    pb_expect_line "$out" '^STATUS=Printer: Operational; broker: disconnected$' "$(pb_t 15)" "$label: broker disconnected in STATUS="
    pb_restart_broker
    pb_expect_line "$out" '^STATUS=Printer: Operational; broker: connected$' "$(pb_t 20)" "$label: broker back in STATUS=" \
      "$(grep -n 'broker: disconnected' "$out" | tail -1 | cut -d: -f1)"
  fi
  pb_stop_daemon TERM
  [ "$PB_DAEMON_RC" = 0 ] || pb_fail "$label: exit status $PB_DAEMON_RC after SIGTERM"
  pb_expect_line "$out" '^STOPPING=1$' 2 "$label: STOPPING=1"
  # READY exactly once, and before any STATUS
  [ "$(grep -c '^READY=1$' "$out")" = 1 ] || pb_fail "$label: READY=1 sent $(grep -c '^READY=1$' "$out") times"
  kill "$rpid" 2>/dev/null; wait "$rpid" 2>/dev/null
  pb_pass "$label: READY=1, STATUS=, WATCHDOG=1 ($after pings), STOPPING=1"
}
run_once "$PB_DIR/notify.sock" path
run_once "@pb-notify-$$-$RANDOM" abstract

# no NOTIFY_SOCKET: runs as before, no complaint
from=$(pb_count "$PB_DIR/daemon.log")
pb_start_daemon "$PB_DIR/pb.conf"
pb_expect_line "$PB_DIR/daemon.log" 'mqtt: connected' "$(pb_t 10)" "the broker connection" "$from"
pb_stop_daemon TERM
[ "$PB_DAEMON_RC" = 0 ] || pb_fail "without NOTIFY_SOCKET: exit status $PB_DAEMON_RC"
tail -n +"$from" "$PB_DIR/daemon.log" | grep -q notify && pb_fail "a notify warning without NOTIFY_SOCKET"
pb_pass "without NOTIFY_SOCKET nothing is sent nor logged"
