#!/usr/bin/env bash
# late_subscriber.sh TOPOLOGY RUNS REPUBLISH: how long a subscriber that arrives late on the far
# broker of a topology (test/brokers/lib_brokers.sh: mosquitto, bridge, rabbitmq) waits for
# printbridge's state, RUNS times each:
#   state_ms      starting mosquitto_sub -t <base>state -> its first message (retained where
#                 the broker serves it, else the next republish or state change)
#   online_ms     the same for <base>mqtt ("connected"), which nothing but a connect or a
#                 republish sends again
#   status_ms     publishing command/status -> its reply (with the state payload) arriving
#   floor_ms      the same subscriber start -> a retained message of our own on that broker
#                 (what starting mosquitto_sub and subscribing cost: the floor under state_ms)
# printbridge runs with mqtt.republish_interval = REPUBLISH and an idle simulator at room
# temperature (nothing else changes the state). Prints one line per figure: "NAME MS MS ...".
set -uo pipefail
TOPO=$1 RUNS=${2:-5} REPUBLISH=${3:-0}
. "$(dirname "$0")/../test/brokers/lib_brokers.sh"
br_init
"br_up_$TOPO"
LINK=$M_DIR/printer.tty
"$PB_BUILD/printbridge-sim" --link "$LINK" >>"$M_DIR/sim.log" 2>&1 &
M_PIDS+=("$!")
m_wait_until 10 test -e "$LINK" || m_fail "no simulator"
cat >"$M_DIR/pb.conf" <<EOF
printer: { port = "$LINK"; baudrate = 115200; };
mqtt: { host = "127.0.0.1"; port = $BR_PB_PORT; base_topic = "octoprint/bench/"; client_id = "pb-late"; republish_interval = $REPUBLISH; };
storage: { folder = "$M_DIR/files"; };
log: { level = "warn"; };
EOF
SUB=$M_DIR/sub.txt
m_sub "$SUB" "$BR_FAR_PORT" 'octoprint/bench/#' -q 1
m_start_daemon "$M_DIR/pb.conf"
m_wait_until 30 grep -q '^octoprint/bench/event/Connected ' "$SUB" || m_fail "printbridge did not connect"
sleep 2
now_ms() { echo $(( $(date +%s%N) / 1000000 )); }
state=() online=() status=() floor=()
mosquitto_pub -h 127.0.0.1 -p "$BR_FAR_PORT" -q 1 -r -t octoprint/bench/floor -m floor
for i in $(seq "$RUNS"); do
  t0=$(now_ms)     # the floor: a retained message of our own on the far broker, exact topic
  mosquitto_sub -h 127.0.0.1 -p "$BR_FAR_PORT" -t octoprint/bench/floor -C 1 -W 10 >/dev/null 2>&1 &&
    floor+=($(( $(now_ms) - t0 ))) || floor+=(none)
  t0=$(now_ms)
  mosquitto_sub -h 127.0.0.1 -p "$BR_FAR_PORT" -t octoprint/bench/state -C 1 -W $((REPUBLISH * 2 + 10)) >/dev/null 2>&1 &&
    state+=($(( $(now_ms) - t0 ))) || state+=(none)
  t0=$(now_ms)
  mosquitto_sub -h 127.0.0.1 -p "$BR_FAR_PORT" -t octoprint/bench/mqtt -C 1 -W $((REPUBLISH * 2 + 10)) >/dev/null 2>&1 &&
    online+=($(( $(now_ms) - t0 ))) || online+=(none)
  mosquitto_sub -h 127.0.0.1 -p "$BR_FAR_PORT" -t octoprint/bench/command/status/response -C 1 -W 10 >"$M_DIR/reply.txt" 2>/dev/null &
  w=$!
  sleep 0.3     # subscribed
  t0=$(now_ms)
  mosquitto_pub -h 127.0.0.1 -p "$BR_FAR_PORT" -q 1 -t octoprint/bench/command/status -m "{\"id\": $i}"
  wait "$w" && grep -q '"printer": {' "$M_DIR/reply.txt" && status+=($(( $(now_ms) - t0 ))) || status+=(none)
  sleep 0.$((RANDOM % 10))  # arrive at a different point of the republish cycle each time
done
echo "floor_ms ${floor[*]}"
echo "state_ms ${state[*]}"
echo "online_ms ${online[*]}"
echo "status_ms ${status[*]}"
