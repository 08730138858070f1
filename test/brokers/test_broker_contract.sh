#!/usr/bin/env bash
# test_broker_contract.sh TOPOLOGY: the MQTT contract a print farm relies on, against one
# broker topology (test/brokers/lib_brokers.sh): mosquitto, bridge (a site mosquitto bridged
# to a central one) or rabbitmq (a two-node RabbitMQ cluster). printbridge talks to the near
# broker, every subscriber and command uses the far one:
#   1. connect: "connected" and the printer's start-up events reach the far side
#   2. a print started by a command on the far side: its reply, and every event and progress
#      message of the print, exactly as a subscriber on the near broker saw them
#   3. command/status from the far side: the reply carries exactly a <base>state payload
#   4. a late subscriber on the far side recovers the whole picture (state, status,
#      temperatures, progress): from retained messages where the broker serves them, else
#      from mqtt.republish_interval
#   5. the link a message must cross is cut for 10 s: every QoS 1 event raised meanwhile
#      arrives afterwards
#   6. kill -9: the last will "disconnected" reaches the far side
set -uo pipefail
TOPO=${1:?usage: test_broker_contract.sh mosquitto|bridge|rabbitmq}
. "$(dirname "$0")/lib_brokers.sh"
br_init
SIM_BIN=$PB_BUILD/printbridge-sim
[ -x "$SIM_BIN" ] || m_fail "no simulator at $SIM_BIN (set PB_BUILD)"

case $TOPO in
  mosquitto) br_up_mosquitto; REPUBLISH=0 ;;
  bridge) br_up_bridge; REPUBLISH=0 ;;
  rabbitmq) br_up_rabbitmq; REPUBLISH=2 ;;
  *) m_fail "unknown topology $TOPO: mosquitto, bridge or rabbitmq" ;;
esac
m_log "$TOPO: printbridge -> $BR_PB_PORT, near broker $BR_NEAR_PORT, far broker $BR_FAR_PORT"

P() { mosquitto_pub -h 127.0.0.1 -p "$BR_FAR_PORT" -q 1 "$@"; }

# sub FILE PORT: a QoS 1 subscriber to octoprint/# that is listening when this returns (the
# marker topic has no '.', which RabbitMQ would turn into '/')
marker() { echo "pbtest/ready/$(basename "$1" .txt)"; }
sub() {
  m_sub "$1" "$2" 'octoprint/#' -q 1 -t "$(marker "$1")"
  m_sub_ready "$1" "$2" "$(marker "$1")" || m_fail "the subscriber writing $(basename "$1") on port $2 did not start"
}

# events FILE [FROM]: the event and progress lines after line FROM, without the retain flag
# (a live subscriber sees r=0 on one broker and may see r=1 through a bridge)
events() { tail -n +"$(( ${2:-0} + 1 ))" "$1" | grep -E '^octoprint/(event|progress)/' | sed -E 's/ r=[01] / /'; }

LINK=$M_DIR/printer.tty
"$SIM_BIN" --link "$LINK" >>"$M_DIR/sim.log" 2>&1 &
M_PIDS+=("$!")
m_wait_until "$(m_t 10)" test -e "$LINK" || m_fail "the simulator did not create $LINK"
mkdir -p "$M_DIR/files"
{ echo "G21"; echo "G90"; for i in $(seq 1 60); do echo "G1 X$((i % 50)) Y$((i % 37)) F6000"; done; } >"$M_DIR/files/cube.gcode"
CONF=$M_DIR/pb.conf
cat >"$CONF" <<EOF
printer: { port = "$LINK"; baudrate = 115200; reconnect_delay = 1; };
mqtt: { host = "127.0.0.1"; port = $BR_PB_PORT; base_topic = "octoprint/"; client_id = "pb-farm-01";
        keepalive = 10; republish_interval = $REPUBLISH; };
qos: { event = 1; };
scripts: { afterPrinterConnected = [ "M104 S210", "M140 S60" ]; };
storage: { folder = "$M_DIR/files"; };
log: { level = "info"; };
EOF

NEAR=$M_DIR/near.txt
FAR=$M_DIR/far.txt
sub "$NEAR" "$BR_NEAR_PORT"
sub "$FAR" "$BR_FAR_PORT"

# --- 1. connect --------------------------------------------------------------------------------
m_start_daemon "$CONF"
PID=$M_DAEMON_PID
m_expect "$FAR" '^octoprint/mqtt r=[01] q=1 connected$' "$(m_t 20)" "'connected' on the far broker"
m_expect "$FAR" '^octoprint/event/Connected r=[01] q=1 \{"port": ' "$(m_t 30)" "the Connected event on the far broker"
m_expect "$FAR" '^octoprint/temperature/tool0 r=[01] q=0 \{"actual": [0-9.]+, "target": 210\.0, ' "$(m_t 30)" \
  "a tool0 temperature with target 210.0 on the far broker"
m_pass "$TOPO: connected, start-up events and temperatures cross to the far broker"

# --- 2. a print driven from the far side ---------------------------------------------------------
mark_near=$(wc -l <"$NEAR")
mark_far=$(wc -l <"$FAR")
P -t octoprint/command/job -m '{"command": "start", "path": "cube.gcode", "id": 1}'
m_expect "$FAR" '^octoprint/command/job/response r=0 q=1 \{"id": 1, "result": "ok"\}$' "$(m_t 10)" "the reply to command/job on the far broker"
for f in "$NEAR" "$FAR"; do
  m_expect "$f" '^octoprint/event/PrintDone r=[01] q=1 \{"name": "cube\.gcode", ' "$(m_t 60)" "PrintDone in $(basename "$f")"
  m_expect "$f" '^octoprint/progress/printing r=[01] q=0 \{"location": "local", "path": "cube\.gcode", "progress": 100, ' "$(m_t 10)" \
    "progress 100 in $(basename "$f")"
done
# MQTT orders messages per topic (and QoS) only, and RabbitMQ does interleave topics
# differently: each topic's messages, in order, must be on the far side as on the near one
by_topic() { events "$1" "$2" | sort -s -k1,1; }
m_wait_until "$(m_t 10)" eval '[ "$(by_topic "$FAR" "$mark_far")" = "$(by_topic "$NEAR" "$mark_near")" ]' || {
  echo "--- near broker saw:"; by_topic "$NEAR" "$mark_near"; echo "--- far broker saw:"; by_topic "$FAR" "$mark_far"
  m_fail "$TOPO: the far broker did not see the print's events and progress exactly as the near one (above)"
}
printed=$(by_topic "$NEAR" "$mark_near")
want_n=$(echo "$printed" | wc -l)
for e in FileSelected PrintStarted PrintDone; do echo "$printed" | grep -q "^octoprint/event/$e " || m_fail "no $e among the print's messages: $printed"; done
m_pass "$TOPO: the print's $want_n event and progress messages reach the far broker as sent, each topic in order"

# --- 3. command/status answers with the state topic's payload ------------------------------------
mark_far=$(wc -l <"$FAR")
P -t octoprint/command/status -m '{"id": "farm"}'
m_expect "$FAR" '^octoprint/command/status/response r=0 q=1 \{"id": "farm", "result": "ok", "state": \{"id": "OPERATIONAL", "text": "Operational"\}, "temperatures": \{.*\}, "printer": \{"state": \{"text": "Operational", ' \
  "$(m_t 10)" "a status reply with the printer's state"
reply=$(tail -n +"$((mark_far + 1))" "$FAR" | grep -m1 '^octoprint/command/status/response ')
printer=$(echo "$reply" | sed -E 's/^.*, "printer": //; s/\}$//')
m_wait_until "$(m_t 10)" grep -qxF "octoprint/state r=0 q=0 $printer" "$FAR" ||
  m_fail "$TOPO: the status reply's \"printer\" is no <base>state payload the far broker carried: $printer; last state: $(grep '^octoprint/state ' "$FAR" | tail -n 1)"
m_pass "$TOPO: command/status answers with exactly a <base>state payload"

# --- 4. a late subscriber on the far side ---------------------------------------------------------
LATE=$M_DIR/late.txt
sub "$LATE" "$BR_FAR_PORT"
late_topics='octoprint/state octoprint/mqtt octoprint/temperature/tool0 octoprint/temperature/bed octoprint/progress/printing'
has_all() { local t; for t in $late_topics; do grep -q "^$t " "$LATE" || return 1; done; }
if [ "$BR_RETAINED" = 1 ]; then
  # retained: there as soon as the subscription is (m_sub_ready waited for its marker)
  has_all || m_fail "$TOPO: a late subscriber did not get the retained $late_topics at once; got: $(cut -c1-80 "$LATE")"
  grep -q '^octoprint/state r=1 ' "$LATE" || m_fail "$TOPO: the late subscriber's state is not retained"
  m_pass "$TOPO: a late subscriber gets state, status, temperatures and progress retained"
else
  retained=$(grep -c ' r=1 ' "$LATE")
  [ "$retained" = 0 ] || m_log "note: $TOPO now hands $retained retained message(s) to a late wildcard subscriber"
  m_wait_until "$(m_t $((REPUBLISH * 3 + 5)))" has_all ||
    m_fail "$TOPO: a late subscriber did not get $late_topics within $((REPUBLISH * 3 + 5)) s of republishing every $REPUBLISH s; got: $(cut -c1-80 "$LATE")"
  m_expect "$LATE" '^octoprint/state r=0 q=0 \{"state": \{"text": "Operational", ' 1 "the whole state"
  m_pass "$TOPO: a late subscriber on the other node gets state, status, temperatures and progress from mqtt.republish_interval"
fi

# --- 5. QoS 1 across a 10 s cut of the link ---------------------------------------------------------
mark_near=$(wc -l <"$NEAR")
mark_far=$(wc -l <"$FAR")
br_link_down
t_down=$SECONDS
for i in 1 2 3 4 5; do      # one SettingsUpdated (QoS 1) a second: each has its own time stamp
  kill -HUP "$PID"
  sleep 1.1
done
while (( SECONDS - t_down < 10 )); do sleep 0.2; done
br_link_up
settings() { tail -n +"$(( $2 + 1 ))" "$1" | grep '^octoprint/event/SettingsUpdated ' | sed -E 's/ r=[01] / /' | sort -u; }
m_wait_until "$(m_t 60)" eval '[ "$(settings "$FAR" "$mark_far" | wc -l)" -ge 5 ]' ||
  m_fail "$TOPO: after a 10 s cut, $(settings "$FAR" "$mark_far" | wc -l) of the 5 SettingsUpdated (QoS 1) reached the far broker: $(settings "$FAR" "$mark_far")"
if [ "$TOPO" = bridge ]; then
  [ "$(settings "$NEAR" "$mark_near")" = "$(settings "$FAR" "$mark_far")" ] ||
    m_fail "the central broker's SettingsUpdated differ from the site's: $(settings "$FAR" "$mark_far") / $(settings "$NEAR" "$mark_near")"
else
  m_expect "$FAR" '^octoprint/event/ConnectivityChanged r=[01] q=1 \{"old": false, "new": true, ' "$(m_t 30)" "ConnectivityChanged back"
fi
m_pass "$TOPO: the 5 QoS 1 events raised during a 10 s cut arrive afterwards"

# --- 6. the last will -------------------------------------------------------------------------------
mark_far=$(wc -l <"$FAR")
m_sub_ready "$FAR" "$BR_FAR_PORT" "$(marker "$FAR")"
kill -KILL "$PID"
wait "$PID" 2>/dev/null
m_expect "$FAR" '^octoprint/mqtt r=[01] q=1 disconnected$' "$(m_t 30)" "the last will 'disconnected' on the far broker after kill -9"
tail -n +"$((mark_far + 1))" "$FAR" | grep -q '^octoprint/mqtt .* disconnected$' || m_fail "the will came before the kill"
m_pass "$TOPO: the last will reaches the far broker after kill -9"
echo "PASS test_broker_contract $TOPO ($SECONDS s)"
