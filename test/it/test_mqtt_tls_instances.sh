# test_mqtt_tls_instances.sh: TLS and two instances on one broker.
# 1. The test makes a CA and a server certificate (openssl) and a broker with a TLS listener
#    next to a plain one. With tls_ca_file = that CA the daemon connects over TLS; with a
#    foreign CA it logs one clear line naming the CA file, host name and port, and retries
#    quietly; tls_insecure does not bypass the chain check.
# 2. Two daemons with base topics octoprint/a/ and octoprint/b/ on one broker: each has its
#    own retained status and state, and stopping one leaves the other connected.
. "$(dirname "$0")/lib_mqtt.sh"
m_init

PLAIN=$(m_free_port)
TLS=$(m_free_port)
while [ "$TLS" = "$PLAIN" ]; do TLS=$(m_free_port); done
T=$M_DIR/tls
mkdir -p "$T"
(
  cd "$T" || exit 1
  openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.crt -days 2 -subj "/CN=pb-test-ca"
  openssl req -newkey rsa:2048 -nodes -keyout server.key -out server.csr -subj "/CN=127.0.0.1"
  printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\n' >san.ext
  openssl x509 -req -in server.csr -CA ca.crt -CAkey ca.key -CAcreateserial -out server.crt -days 2 -extfile san.ext
  openssl req -x509 -newkey rsa:2048 -nodes -keyout other.key -out other-ca.crt -days 2 -subj "/CN=someone-else"
) >"$M_DIR/openssl.log" 2>&1 || m_fail "openssl could not make the test certificates: $(tail -n 3 "$M_DIR/openssl.log")"
chmod 0644 "$T"/*
cat >"$M_DIR/mosquitto.conf" <<CONF
per_listener_settings false
allow_anonymous true
listener $PLAIN 127.0.0.1
listener $TLS 127.0.0.1
cafile $T/ca.crt
certfile $T/server.crt
keyfile $T/server.key
CONF
m_start_broker "$M_DIR/mosquitto.conf" "$PLAIN"
m_wait_until "$(m_t 10)" m_port_in_use "$TLS" || m_fail "the TLS listener did not come up"
SUB=$M_DIR/sub.txt
m_sub "$SUB" "$PLAIN" 'octoprint/#' -q 1 -t pbtest/ready
m_sub_ready "$SUB" "$PLAIN" || m_fail "subscriber did not come up"

conf() {   # conf NAME BASE EXTRA
  cat >"$M_DIR/$1.conf" <<CONF
printer: { port = "$M_DIR/no-printer"; reconnect_delay = 60; reconnect_max_delay = 60; };
storage: { folder = "$M_DIR/files"; };
mqtt: { host = "127.0.0.1"; base_topic = "$2"; stats_interval = 1; $3 };
topics: { state = "state"; };
CONF
}

# --- TLS with the right CA
conf tls octoprint/tls/ "port = $TLS; tls = true; tls_ca_file = \"$T/ca.crt\";"
m_start_daemon "$M_DIR/tls.conf" daemon-tls
TLS_PID=$M_DAEMON_PID
m_expect "$SUB" '^octoprint/tls/mqtt r=0 q=1 connected$' "$(m_t 15)" "'connected' over TLS"
m_expect "$SUB" '^octoprint/tls/stats r=0 q=0 \{"uptime": [0-9]+, "lines_sent": 0, "resends": 0, "timeouts": 0, "published": [0-9]+, "buffered": 0, "dropped": 0, "rss_bytes": [0-9]+, "_timestamp": [0-9]+\}$' \
  "$(m_t 10)" "a stats message over TLS"
grep -q "connected to ssl://127.0.0.1:$TLS" "$M_DIR/daemon-tls.log" || m_fail "expected the log to name ssl://127.0.0.1:$TLS"
m_stop_pid "$TLS_PID"
m_pass "TLS with a generated CA"

# --- a foreign CA: one clear line, quiet retries (tls_insecure only skips the name check)
conf badca octoprint/badca/ "port = $TLS; tls = true; tls_ca_file = \"$T/other-ca.crt\"; tls_insecure = true;"
m_start_daemon "$M_DIR/badca.conf" daemon-badca
BAD_PID=$M_DAEMON_PID
m_wait_until "$(m_t 10)" grep -q "mqtt: TLS connection to ssl://127.0.0.1:$TLS failed (.*); check mqtt.tls_ca_file, that mqtt.host matches the broker's certificate, and mqtt.port (retrying with backoff)" "$M_DIR/daemon-badca.log" ||
  m_fail "expected one clear TLS error line"
sleep 3.5   # retries at 1 s and 2 s must not repeat it
n=$(grep -c 'TLS connection to' "$M_DIR/daemon-badca.log")
[ "$n" = 1 ] || m_fail "expected the TLS error once, got it $n times"
grep -q '^octoprint/badca/mqtt ' "$SUB" && m_fail "a daemon with a foreign CA must not connect"
m_stop_pid "$BAD_PID"
m_pass "a foreign CA: one clear line naming the CA file, host and port"

# --- two instances, two base topics, one broker
conf a octoprint/a/ "port = $PLAIN;"
conf b octoprint/b/ "port = $PLAIN;"
m_start_daemon "$M_DIR/a.conf" daemon-a
A_PID=$M_DAEMON_PID
m_start_daemon "$M_DIR/b.conf" daemon-b
B_PID=$M_DAEMON_PID
m_expect "$SUB" '^octoprint/a/mqtt r=0 q=1 connected$' "$(m_t 10)" "instance a connected"
m_expect "$SUB" '^octoprint/b/mqtt r=0 q=1 connected$' "$(m_t 10)" "instance b connected"
# the late subscriber comes after both published their state, so it must get them retained
m_expect "$SUB" '^octoprint/a/state r=0 q=0 \{"state": ' "$(m_t 10)" "instance a's state"
m_expect "$SUB" '^octoprint/b/state r=0 q=0 \{"state": ' "$(m_t 10)" "instance b's state"
LATE=$M_DIR/late.txt
m_sub "$LATE" "$PLAIN" 'octoprint/+/mqtt' -t 'octoprint/+/state' -W "$(m_t 5)"
m_expect "$LATE" '^octoprint/a/state r=1 q=0 \{"state": ' "$(m_t 5)" "the retained state of a"
m_expect "$LATE" '^octoprint/b/state r=1 q=0 \{"state": ' "$(m_t 5)" "the retained state of b"
m_expect "$LATE" '^octoprint/a/mqtt r=1 q=[01] connected$' "$(m_t 5)" "the retained status of a"
m_stop_pid "$A_PID"
m_expect "$SUB" '^octoprint/a/mqtt r=0 q=1 disconnected$' "$(m_t 5)" "a's 'disconnected'"
sleep 1.5   # b publishes stats every second: it is still there, still connected
grep -q '^octoprint/b/mqtt r=0 q=1 disconnected' "$SUB" && m_fail "stopping a disconnected b"
n=$(grep -c '^octoprint/b/stats ' "$SUB")
m_wait_until "$(m_t 5)" eval "[ \$(grep -c '^octoprint/b/stats ' '$SUB') -gt $n ]" || m_fail "b stopped publishing when a stopped"
m_stop_pid "$B_PID"
m_pass "two instances with their own base topics share one broker"
echo "PASS test_mqtt_tls_instances ($SECONDS s)"
