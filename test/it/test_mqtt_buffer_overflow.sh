# test_mqtt_buffer_overflow.sh: the offline buffer overflows while the broker is down
# (docs/wire-format.md 3.2, 4.3, 5.4). mqtt.queue_limit = 20 (the start-up burst fits), events
# with QoS 1 (qos.event = 1, so they are kept), no printer, no stats, no Home Assistant
# discovery: while the broker is down the only messages are the ConnectivityChanged of the
# outage and the SettingsUpdated of the SIGHUP reloads.
#   1. an outage with 24 reloads, 25 messages for 20 places: after the broker is back a QoS 1
#      subscriber receives the 20 newest (SettingsUpdated; the ConnectivityChanged {"old":
#      true, "new": false} and 4 reloads were dropped), then ConnectivityChanged {"old":
#      false, "new": true}, then MqttBufferOverflow {"dropped": 5, "total": 5}, in that order
#   2. an outage with 2 reloads fits: everything arrives and no MqttBufferOverflow follows; a
#      third with 22 reloads drops 3: MqttBufferOverflow {"dropped": 3, "total": 8} last
. "$(dirname "$0")/lib_mqtt.sh"
m_init

PORT=$(m_free_port)
mkdir -p "$M_DIR/db" && chmod 0777 "$M_DIR/db"
cat >"$M_DIR/mosquitto.conf" <<CONF
listener $PORT 127.0.0.1
allow_anonymous true
persistence true
persistence_location $M_DIR/db/
CONF
m_start_broker "$M_DIR/mosquitto.conf" "$PORT"
SUB=$M_DIR/sub.txt
# a persistent QoS 1 session: what the daemon sends right after the broker restarts reaches it
m_sub "$SUB" "$PORT" 'octoprint/event/#' -c -i pb-overflow-sub -q 1 -t 'pbtest/#'
m_sub_ready "$SUB" "$PORT" || m_fail "subscriber did not come up"

cat >"$M_DIR/pb.conf" <<CONF
printer: { port = "$M_DIR/no-printer"; reconnect_delay = 60; reconnect_max_delay = 60; };
storage: { folder = "$M_DIR/files"; };
mqtt: { host = "127.0.0.1"; port = $PORT; stats_interval = 0; queue_limit = 20; };
qos: { event = 1; };
homeassistant: { enabled = false; };
CONF
m_start_daemon "$M_DIR/pb.conf"
m_expect "$SUB" '^octoprint/event/Startup r=0 q=1 ' "$(m_t 10)" "the Startup event"
grep -q MqttBufferOverflow "$SUB" && m_fail "the start-up burst overflowed a buffer of 20"
# the missing printer's Error and OFFLINE come right after Startup: wait for them, so that the
# outages below hold nothing but their own messages
m_expect "$SUB" '^octoprint/event/PrinterStateChanged r=0 q=1 \{"state_id": "OFFLINE"' "$(m_t 10)" "the printer going OFFLINE"
ev() { printf '^octoprint/event/%s r=0 q=1 \\{%s"_event": "%s", "_timestamp": %s\\}$' "$1" "$2" "$1" "$M_TS"; }

# outage N RELOADS: stop the broker, raise RELOADS SettingsUpdated, start it again and wait
# for the reconnect's ConnectivityChanged
NOUT=0
outage() {
  NOUT=$((NOUT + 1))
  m_stop_pid "$M_BROKER_PID"
  m_wait_until "$(m_t 10)" eval "[ \$(grep -c 'mqtt: connection to .* lost' '$M_DIR/daemon.log') -ge $NOUT ]" ||
    m_fail "the daemon did not notice outage $NOUT"
  local i n
  for i in $(seq "$1"); do
    n=$(grep -c 'configuration reloaded' "$M_DIR/daemon.log")
    kill -HUP "$M_DAEMON_PID"
    m_wait_until "$(m_t 10)" eval "[ \$(grep -c 'configuration reloaded' '$M_DIR/daemon.log') -gt $n ]" ||
      m_fail "reload $i of outage $NOUT was not done"
  done
  MARK=$(wc -l <"$SUB")
  m_start_broker "$M_DIR/mosquitto.conf" "$PORT"
  m_wait_until "$(m_t 90)" eval "tail -n +$((MARK + 1)) '$SUB' | grep -q '^octoprint/event/ConnectivityChanged r=0 q=1 {\"old\": false, \"new\": true'" ||
    m_fail "no reconnect after outage $NOUT"
  m_sub_ready "$SUB" "$PORT" "pbtest/ready/$NOUT" || m_fail "the subscriber did not come back"
}
after() { tail -n +$((MARK + 1)) "$SUB" | grep -v '^pbtest/' | sed -E 's/, "_timestamp": [0-9]+\}$/}/'; }

# --- 1. 25 messages for 20 places ---------------------------------------------------------------
outage 24
got=$(after | grep -E '^octoprint/event/')
want="$(for i in $(seq 20); do echo 'octoprint/event/SettingsUpdated r=0 q=1 {"_event": "SettingsUpdated"}'; done)
octoprint/event/ConnectivityChanged r=0 q=1 {\"old\": false, \"new\": true, \"_event\": \"ConnectivityChanged\"}
octoprint/event/MqttBufferOverflow r=0 q=1 {\"dropped\": 5, \"total\": 5, \"_event\": \"MqttBufferOverflow\"}"
[ "$got" = "$want" ] || m_fail "after the first outage the subscriber got:
$got
expected:
$want"
m_pass "a full buffer keeps the 20 newest messages; MqttBufferOverflow {dropped 5, total 5} follows the reconnect"

# --- 2. an outage that fits, then one that overflows again --------------------------------------------
outage 2
got=$(after | grep -E '^octoprint/event/')
want='octoprint/event/ConnectivityChanged r=0 q=1 {"old": true, "new": false, "_event": "ConnectivityChanged"}
octoprint/event/SettingsUpdated r=0 q=1 {"_event": "SettingsUpdated"}
octoprint/event/SettingsUpdated r=0 q=1 {"_event": "SettingsUpdated"}
octoprint/event/ConnectivityChanged r=0 q=1 {"old": false, "new": true, "_event": "ConnectivityChanged"}'
[ "$got" = "$want" ] || m_fail "after the second outage (nothing dropped) the subscriber got:
$got
expected:
$want"
outage 22
got=$(after | grep -E '^octoprint/event/' | tail -n 2)
want='octoprint/event/ConnectivityChanged r=0 q=1 {"old": false, "new": true, "_event": "ConnectivityChanged"}
octoprint/event/MqttBufferOverflow r=0 q=1 {"dropped": 3, "total": 8, "_event": "MqttBufferOverflow"}'
[ "$got" = "$want" ] || m_fail "after the third outage the subscriber got:
$(after)
expected at the end:
$want"
m_pass "an outage that fits publishes no MqttBufferOverflow; the next overflow reports its own count and the total"
m_stop_pid "$M_DAEMON_PID"
echo "PASS test_mqtt_buffer_overflow ($SECONDS s)"
