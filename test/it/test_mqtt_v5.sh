# test_mqtt_v5.sh: mqtt.protocol = "5" against a real mosquitto (docs/wire-format.md 4.1, 11.3):
#   1. the daemon connects with MQTT 5 (the broker logs protocol p5 for its client id) and
#      publishes "connected", the Startup event and the retained state like with 3.1.1, to an
#      MQTT 5 subscriber
#   2. a command with an MQTT 5 response topic and correlation data is answered on that
#      topic with the same correlation data (command/status: always answered); one without
#      them on <topic>/response; an error reply (unknown job command) takes the response
#      topic too
. "$(dirname "$0")/lib_mqtt.sh"
m_init

PORT=$(m_free_port)
cat >"$M_DIR/mosquitto.conf" <<CONF
listener $PORT 127.0.0.1
allow_anonymous true
log_type all
CONF
m_start_broker "$M_DIR/mosquitto.conf" "$PORT"
SUB=$M_DIR/sub.txt
m_sub "$SUB" "$PORT" 'octoprint/#' -V mqttv5 -q 1 -t 'pbtest/#' -F '%t r=%r q=%q corr=%D %p'
m_sub_ready "$SUB" "$PORT" || m_fail "subscriber did not come up"

cat >"$M_DIR/pb.conf" <<CONF
printer: { port = "$M_DIR/no-printer"; reconnect_delay = 60; reconnect_max_delay = 60; };
storage: { folder = "$M_DIR/files"; };
mqtt: { host = "127.0.0.1"; port = $PORT; protocol = "5"; client_id = "pb-v5"; stats_interval = 0; };
CONF
m_start_daemon "$M_DIR/pb.conf"
m_expect "$SUB" '^octoprint/mqtt r=0 q=1 corr= connected$' "$(m_t 10)" "'connected' over MQTT 5"
m_expect "$M_DIR/broker.log" 'New client connected from 127\.0\.0\.1:[0-9]+ as pb-v5 \(p5, c1, k60\)' "$(m_t 5)" \
  "the broker to log an MQTT 5 (p5) connection for pb-v5"
m_expect "$SUB" "^octoprint/event/Startup r=0 q=0 corr= \\{\"_event\": \"Startup\", \"_timestamp\": $M_TS\\}\$" "$(m_t 5)" "the Startup event"
m_expect "$SUB" '^octoprint/state r=0 q=0 corr= \{"state": \{"text": ' "$(m_t 5)" "the state topic"
m_pass "MQTT 5: connected (p5), status, events and state as with 3.1.1"

P5() { mosquitto_pub -h 127.0.0.1 -p "$PORT" -V mqttv5 -q 1 "$@"; }
P5 -t octoprint/command/status -m 'status' -D publish response-topic pbtest/replies/1 -D publish correlation-data corr-42
m_expect "$SUB" '^pbtest/replies/1 r=0 q=1 corr=corr-42 \{"id": null, "result": "ok", "state": \{"id": "[A-Z_]+", "text": "[^"]+"\}, "temperatures": \{\}, "printer": \{"state": \{"text": .*\}\}$' \
  "$(m_t 10)" "the status reply on the response topic with the correlation data"
P5 -t octoprint/command/status -m '{"id": 5}'
m_expect "$SUB" '^octoprint/command/status/response r=0 q=1 corr= \{"id": 5, "result": "ok", ' "$(m_t 10)" \
  "the reply on <topic>/response without a response topic"
P5 -t octoprint/command/job -m 'begin' -D publish response-topic pbtest/replies/2 -D publish correlation-data corr-43
m_expect "$SUB" '^pbtest/replies/2 r=0 q=1 corr=corr-43 \{"id": null, "result": "error", "error": "unknown job command \\"begin\\"; known: select, start, pause, resume, toggle, cancel"\}$' \
  "$(m_t 10)" "the error reply on the response topic"
grep -q '^octoprint/command/job/response ' "$SUB" && m_fail "a reply with a response topic also went to <topic>/response"
m_pass "MQTT 5: replies go to the response topic with the correlation data"
m_stop_pid "$M_DAEMON_PID"
m_expect "$SUB" '^octoprint/mqtt r=0 q=1 corr= disconnected$' "$(m_t 5)" "'disconnected' on a clean stop"
echo "PASS test_mqtt_v5 ($SECONDS s)"
