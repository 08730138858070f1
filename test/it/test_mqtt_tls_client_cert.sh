# test_mqtt_tls_client_cert.sh: TLS with a client certificate and key (mqtt.tls_cert_file,
# mqtt.tls_key_file) against a real mosquitto that requires one (require_certificate true,
# use_identity_as_username true). The test makes a throwaway CA, a server certificate and a
# client certificate (CN pb-client) with openssl in its temporary folder.
#   1. with the client certificate and key the daemon connects over TLS: "connected", the
#      Startup event, and a command reply (command/status) arrive, and the broker logs the
#      client's certificate identity as its user name
#   2. without them the broker refuses the handshake: the daemon logs one TLS failure line
#      naming the host and port and never connects
#   3. a daemon without TLS does not map OpenSSL at all; a reload that turns TLS on (with the
#      client certificate) connects it over TLS, and the status reply comes back on it
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
  openssl req -newkey rsa:2048 -nodes -keyout client.key -out client.csr -subj "/CN=pb-client"
  printf 'extendedKeyUsage=clientAuth\n' >client.ext
  openssl x509 -req -in client.csr -CA ca.crt -CAkey ca.key -CAcreateserial -out client.crt -days 2 -extfile client.ext
) >"$M_DIR/openssl.log" 2>&1 || m_fail "openssl could not make the test certificates: $(tail -n 3 "$M_DIR/openssl.log")"
chmod 0644 "$T"/*.crt
chmod 0600 "$T"/*.key
cat >"$M_DIR/mosquitto.conf" <<CONF
per_listener_settings true
log_type all
listener $PLAIN 127.0.0.1
allow_anonymous true
listener $TLS 127.0.0.1
allow_anonymous true
cafile $T/ca.crt
certfile $T/server.crt
keyfile $T/server.key
require_certificate true
use_identity_as_username true
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
mqtt: { host = "127.0.0.1"; port = $TLS; base_topic = "$2"; client_id = "pb-$1"; stats_interval = 0;
        tls = true; tls_ca_file = "$T/ca.crt"; $3 };
CONF
}

# --- 1. with the client certificate -------------------------------------------------------------
conf cert octoprint/cert/ "tls_cert_file = \"$T/client.crt\"; tls_key_file = \"$T/client.key\";"
m_start_daemon "$M_DIR/cert.conf" daemon-cert
CERT_PID=$M_DAEMON_PID
m_expect "$SUB" '^octoprint/cert/mqtt r=0 q=1 connected$' "$(m_t 15)" "'connected' over TLS with a client certificate"
m_expect "$SUB" "^octoprint/cert/event/Startup r=0 q=0 \\{\"_event\": \"Startup\", \"_timestamp\": $M_TS\\}\$" "$(m_t 5)" "the Startup event"
m_expect "$M_DIR/broker.log" "New client connected from 127\\.0\\.0\\.1:[0-9]+ as pb-cert \\(p2, c1, k60, u'pb-client'\\)" "$(m_t 5)" \
  "the broker to log the client certificate's CN as the user name"
mosquitto_pub -h 127.0.0.1 -p "$PLAIN" -q 1 -t octoprint/cert/command/status -m '{"id": "tls"}'
m_expect "$SUB" '^octoprint/cert/command/status/response r=0 q=1 \{"id": "tls", "result": "ok", "state": ' "$(m_t 10)" \
  "the status reply from the daemon on the TLS connection"
grep -q "connected to ssl://127.0.0.1:$TLS" "$M_DIR/daemon-cert.log" || m_fail "expected the log to name ssl://127.0.0.1:$TLS"
m_stop_pid "$CERT_PID"
m_pass "TLS with a client certificate and key: connected, events and a command reply"

# --- 2. without it ----------------------------------------------------------------------------------
conf nocert octoprint/nocert/ ""
m_start_daemon "$M_DIR/nocert.conf" daemon-nocert
NOCERT_PID=$M_DAEMON_PID
m_wait_until "$(m_t 10)" grep -q "mqtt: TLS connection to ssl://127.0.0.1:$TLS failed" "$M_DIR/daemon-nocert.log" ||
  m_fail "expected one TLS failure line without a client certificate"
sleep 1.5   # the first retry comes after 1 s: still refused, not logged again
grep -q '^octoprint/nocert/mqtt ' "$SUB" && m_fail "a daemon without a client certificate got through"
n=$(grep -c 'TLS connection to' "$M_DIR/daemon-nocert.log")
[ "$n" = 1 ] || m_fail "expected the TLS failure logged once, got it $n times"
m_stop_pid "$NOCERT_PID"
m_pass "without the client certificate the broker refuses the daemon (one log line)"

# --- 3. plain first, TLS after a reload -------------------------------------------------------------
cat >"$M_DIR/later.conf" <<CONF
printer: { port = "$M_DIR/no-printer"; reconnect_delay = 60; reconnect_max_delay = 60; };
storage: { folder = "$M_DIR/files"; };
mqtt: { host = "127.0.0.1"; port = $PLAIN; base_topic = "octoprint/later/"; client_id = "pb-later"; stats_interval = 0; };
CONF
m_start_daemon "$M_DIR/later.conf" daemon-later
LATER_PID=$M_DAEMON_PID
m_expect "$SUB" '^octoprint/later/mqtt r=0 q=1 connected$' "$(m_t 15)" "'connected' without TLS"
grep -q 'libssl\|libcrypto' "/proc/$LATER_PID/maps" && m_fail "a daemon without TLS mapped OpenSSL: $(grep -o '/[^ ]*lib\(ssl\|crypto\)[^ ]*' "/proc/$LATER_PID/maps" | sort -u | tr '\n' ' ')"
conf later octoprint/later/ "tls_cert_file = \"$T/client.crt\"; tls_key_file = \"$T/client.key\";"
kill -HUP "$LATER_PID"
m_expect "$M_DIR/daemon-later.log" "connected to ssl://127\\.0\\.0\\.1:$TLS" "$(m_t 15)" "the reloaded daemon connecting over TLS"
mosquitto_pub -h 127.0.0.1 -p "$PLAIN" -q 1 -t octoprint/later/command/status -m '{"id": "later"}'
m_expect "$SUB" '^octoprint/later/command/status/response r=0 q=1 \{"id": "later", "result": "ok", "state": ' "$(m_t 10)" \
  "the status reply over the TLS connection made by the reload"
m_stop_pid "$LATER_PID"
m_pass "without TLS no OpenSSL is mapped; a reload turns TLS on"
echo "PASS test_mqtt_tls_client_cert ($SECONDS s)"
