#!/usr/bin/env bash
# demo.sh: watch printbridge work without a printer or a broker of your own.
#
#   scripts/demo.sh BUILD_DIR       (what `make demo` runs; BUILD_DIR holds the binaries)
#
# Starts a private mosquitto on a free loopback port, the printer simulator on a pseudo-terminal,
# printbridge with a throw-away config that heats the hotend to 210 and the bed to 60, and a
# subscriber that prints every message under octoprint/# as one line. After DEMO_SECONDS
# (default 20) or Ctrl-C, printbridge is stopped cleanly so its goodbye messages show, then
# everything else. The daemon's own log, the config and the broker log stay in BUILD_DIR/demo/.
set -u

BUILD=${1:-}
if [ -z "$BUILD" ] || [ ! -x "$BUILD/printbridge" ] || [ ! -x "$BUILD/printbridge-sim" ]; then
  echo "usage: $0 BUILD_DIR   (a folder with printbridge and printbridge-sim; run 'make demo')" >&2
  exit 2
fi
for tool in mosquitto mosquitto_sub mosquitto_pub; do
  command -v "$tool" >/dev/null ||
    { echo "demo: '$tool' is missing; install mosquitto and mosquitto-clients (scripts/install-deps.sh demo)" >&2; exit 1; }
done
SECS=${DEMO_SECONDS:-20}
case $SECS in ''|*[!0-9]*) echo "demo: DEMO_SECONDS must be a whole number of seconds" >&2; exit 2 ;; esac

export PB_BUILD=$BUILD
export PB_SRCDIR
PB_SRCDIR=$(cd "$(dirname "$0")/.." && pwd)
. "$PB_SRCDIR/test/it/lib.sh"

# lib.sh's pb_fail/pb_cleanup, but with a kept, fixed folder and children in their own process
# groups so Ctrl-C reaches only this script.
PB_DIR=$BUILD/demo
PB_LINK=$PB_DIR/printer.tty
PB_KEEP=1
PB_OWN_PGRP=1
rm -rf "$PB_DIR" && mkdir -p "$PB_DIR" || exit 1

STOP=0
finish() {
  local rc=$?
  trap - EXIT
  [ -n "$PB_DAEMON_PID" ] && pb_daemon_alive && kill -TERM "$PB_DAEMON_PID" 2>/dev/null && sleep 1
  (exit $rc); pb_cleanup 2>/dev/null     # pb_cleanup exits with the status it was entered with
}
trap finish EXIT
trap 'STOP=1' INT TERM

pb_start_broker_any
pb_bg mosquitto_sub -h 127.0.0.1 -p "$PB_MQTT_PORT" -t 'octoprint/#' -F '@H:@M:@S  %-38t %p' 2>>"$PB_DIR/mosquitto_sub.err"
PB_PIDS+=($!)
pb_start_sim
pb_write_config "$PB_DIR/printbridge.conf"
pty=$(readlink "$PB_LINK")

cat <<EOF
printbridge demo
  broker      mosquitto on 127.0.0.1:$PB_MQTT_PORT (private, stops with the demo)
  printer     printbridge-sim on ${pty:-a pseudo-terminal} -> $PB_LINK
  config      $PB_DIR/printbridge.conf (heats tool0 to 210 and the bed to 60 after connecting)
  daemon log  $PB_DIR/daemon.log
  watching    mosquitto_sub -h 127.0.0.1 -p $PB_MQTT_PORT -t 'octoprint/#'
Running for $SECS s; Ctrl-C stops earlier.
----------------------------------------------------------------------------------------------
EOF

pb_start_daemon "$PB_DIR/printbridge.conf"
end=$(( SECONDS + SECS ))
while [ "$STOP" = 0 ] && (( SECONDS < end )); do
  pb_daemon_alive || break
  sleep 0.2
done

[ "$STOP" = 1 ] && echo      # after the terminal's "^C"
by_itself=1
pb_daemon_alive && { by_itself=0; kill -TERM "$PB_DAEMON_PID"; }
pb_wait_until 20 eval '! kill -0 $PB_DAEMON_PID 2>/dev/null'
wait "$PB_DAEMON_PID" 2>/dev/null
rc=$?
PB_DAEMON_PID=
sleep 0.5     # give the subscriber a moment to print the last messages
echo "----------------------------------------------------------------------------------------------"
if [ $by_itself = 0 ]; then
  echo "printbridge stopped with SIGTERM (exit status $rc)."
else
  echo "printbridge exited by itself (status $rc); last lines of its log:"
  tail -n 10 "$PB_DIR/daemon.log"
fi
echo "Logs and config are kept in $PB_DIR/ (daemon.log, printbridge.conf, broker.log)."
echo "Next: connect a real printer and your own broker, see README.md (printbridge --list-ports)."
[ $by_itself = 0 ] && [ $rc = 0 ]
