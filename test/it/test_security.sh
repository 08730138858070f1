#!/usr/bin/env bash
# test_security.sh: the defences docs/security.md promises, against a real mosquitto.
#   1. docs/mosquitto-acl.example loaded as written (with a password file): "dashboard"
#      cannot publish to octoprint/command/# (a subscriber with full rights never gets it),
#      "controller" can, anonymous clients are refused, and printbridge itself, with the
#      "printbridge" account, connects and publishes its status
#   2. a config file holding the password that every user can read: one warning naming the
#      file and "chmod 640"; none once it is 0640
#   3. TLS verification is on by default: a broker certificate for another name is refused
#      (a clear log line, never "connected"); tls_insecure = true accepts it
set -u
. "$(dirname "$0")/lib.sh"
pb_init
ACL=$PB_SRCDIR/docs/mosquitto-acl.example
[ -f "$ACL" ] || pb_fail "no $ACL"

# --- 1. the ACL example -------------------------------------------------------------------------
PW=$PB_DIR/passwd
touch "$PW"
for u in printbridge controller dashboard; do
  mosquitto_passwd -b "$PW" "$u" "pw-$u" || pb_fail "mosquitto_passwd failed for $u"
done
PORT=$(pb_free_port)
cat >"$PB_DIR/acl-broker.conf" <<CONF
listener $PORT 127.0.0.1
allow_anonymous false
password_file $PW
acl_file $ACL
user $(id -un)
CONF
pb_bg mosquitto -c "$PB_DIR/acl-broker.conf" -v >"$PB_DIR/broker.log" 2>&1
PB_BROKER_PID=$!; PB_PIDS+=("$PB_BROKER_PID")
pb_wait_until "$(pb_t 10)" pb_port_in_use "$PORT" || { cat "$PB_DIR/broker.log"; pb_fail "mosquitto did not start with the example ACL"; }
PB_MQTT_PORT=$PORT
sub() { mosquitto_sub -h 127.0.0.1 -p "$PORT" -u "$1" -P "pw-$1" "${@:2}"; }
pub() { mosquitto_pub -h 127.0.0.1 -p "$PORT" -u "$1" -P "pw-$1" -q 1 "${@:2}"; }

CMDS=$PB_DIR/commands.txt
pb_bg mosquitto_sub -h 127.0.0.1 -p "$PORT" -u printbridge -P pw-printbridge -q 1 -t 'octoprint/command/#' -v >"$CMDS" 2>"$PB_DIR/sub.err"
PB_PIDS+=($!)
# the subscriber is up once a message of its own arrives
pb_wait_until "$(pb_t 10)" eval 'pub printbridge -t octoprint/command/probe -m up 2>/dev/null; grep -q "^octoprint/command/probe up$" "$CMDS"' ||
  pb_fail "the printbridge account cannot publish and read its command topics: $(cat "$PB_DIR/sub.err")"
pub dashboard -t octoprint/command/gcode -m 'M104 S300 ; from dashboard' || pb_fail "dashboard's publish errored (it should be accepted and dropped)"
pub controller -t octoprint/command/gcode -m 'M105 ; from controller' || pb_fail "controller could not publish"
pb_expect_line "$CMDS" '^octoprint/command/gcode M105 ; from controller$' "$(pb_t 10)" "controller's command delivered"
sleep 0.5   # anything dashboard's publish could have caused has arrived by now (same connection order)
grep -q 'from dashboard' "$CMDS" && pb_fail "the ACL let dashboard publish to octoprint/command/gcode"
mosquitto_pub -h 127.0.0.1 -p "$PORT" -q 1 -t octoprint/command/gcode -m 'G28 ; anonymous' 2>/dev/null &&
  pb_fail "an anonymous client could publish"
grep -q 'anonymous' "$CMDS" && pb_fail "an anonymous command was delivered"
pb_pass "ACL example: dashboard's and anonymous commands dropped, controller's delivered"

# printbridge with its account, its config left readable by everybody (section 2 reuses it)
cat >"$PB_DIR/pb.conf" <<CONF
printer: { port = "$PB_DIR/no-printer"; reconnect_delay = 60; reconnect_max_delay = 60; };
mqtt: { host = "127.0.0.1"; port = $PORT; base_topic = "octoprint/"; client_id = "pb-sec";
        username = "printbridge"; password = "pw-printbridge"; };
storage: { folder = "$PB_DIR/files"; };
CONF
chmod 0644 "$PB_DIR/pb.conf"
STATUS=$PB_DIR/status.txt
pb_bg mosquitto_sub -h 127.0.0.1 -p "$PORT" -u dashboard -P pw-dashboard -t 'octoprint/mqtt' -v >"$STATUS" 2>&1
PB_PIDS+=($!)
pb_start_daemon "$PB_DIR/pb.conf"
pb_expect_line "$STATUS" '^octoprint/mqtt connected$' "$(pb_t 15)" "printbridge's status, read by dashboard"
pb_pass "printbridge connects and publishes with the example's printbridge account"

# --- 2. the password file warning ----------------------------------------------------------------
n=$(grep -c "config: $(pb_re "$PB_DIR/pb.conf") holds the MQTT password and is readable by every user .*chmod 640 $(pb_re "$PB_DIR/pb.conf")" "$PB_DIR/daemon.log")
[ "$n" = 1 ] || pb_fail "expected one warning naming pb.conf and chmod 640 for a 0644 file with the password, got $n"
pb_stop_daemon TERM
chmod 0640 "$PB_DIR/pb.conf"
from=$(pb_count "$PB_DIR/daemon.log")
out=$("$PB_DAEMON_BIN" -c "$PB_DIR/pb.conf" --check-config 2>&1)
echo "$out" | grep -q 'holds the MQTT password' && pb_fail "a warning for a 0640 file: $out"
chmod 0604 "$PB_DIR/pb.conf"
"$PB_DAEMON_BIN" -c "$PB_DIR/pb.conf" --check-config 2>&1 | grep -q 'chmod 640' || pb_fail "--check-config does not warn about a world-readable password"
pb_pass "a world-readable password file is named once with chmod 640; 0640 is quiet"

# --- 3. TLS host name verification on by default --------------------------------------------------
command -v openssl >/dev/null 2>&1 || pb_fail "openssl missing (scripts/install-deps.sh installs it)"
T=$PB_DIR/tls
mkdir -p "$T"
(
  cd "$T" || exit 1
  openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.crt -days 2 -subj "/CN=pb-sec-ca"
  openssl req -newkey rsa:2048 -nodes -keyout server.key -out server.csr -subj "/CN=wrong.example"
  printf 'subjectAltName=DNS:wrong.example\n' >san.ext
  openssl x509 -req -in server.csr -CA ca.crt -CAkey ca.key -CAcreateserial -out server.crt -days 2 -extfile san.ext
) >"$PB_DIR/openssl.log" 2>&1 || pb_fail "openssl: $(tail -n 3 "$PB_DIR/openssl.log")"
chmod 0644 "$T"/*
TLS=$(pb_free_port)
cat >"$PB_DIR/tls-broker.conf" <<CONF
listener $TLS 127.0.0.1
allow_anonymous true
cafile $T/ca.crt
certfile $T/server.crt
keyfile $T/server.key
user $(id -un)
CONF
pb_bg mosquitto -c "$PB_DIR/tls-broker.conf" >"$PB_DIR/tls-broker.log" 2>&1
PB_PIDS+=($!)
pb_wait_until "$(pb_t 10)" pb_port_in_use "$TLS" || pb_fail "TLS broker did not start: $(cat "$PB_DIR/tls-broker.log")"
tls_conf() {  # tls_conf FILE EXTRA
  cat >"$1" <<CONF
printer: { port = "$PB_DIR/no-printer"; reconnect_delay = 60; reconnect_max_delay = 60; };
mqtt: { host = "127.0.0.1"; port = $TLS; base_topic = "octoprint/"; client_id = "pb-tls";
        tls = true; tls_ca_file = "$T/ca.crt"; $2 };
storage: { folder = "$PB_DIR/files"; };
CONF
}
tls_conf "$PB_DIR/tls-default.conf" ""
from=$(pb_count "$PB_DIR/daemon.log")
pb_start_daemon "$PB_DIR/tls-default.conf"
pb_expect_line "$PB_DIR/daemon.log" 'mqtt: TLS connection to ssl://127\.0\.0\.1:[0-9]+ failed' "$(pb_t 15)" \
  "the certificate for another name refused" "$from"
sleep 1
tail -n +"$((from + 1))" "$PB_DIR/daemon.log" | grep -q 'mqtt: connected' && pb_fail "connected to a broker whose certificate names another host"
pb_stop_daemon TERM
tls_conf "$PB_DIR/tls-insecure.conf" "tls_insecure = true;"
from=$(pb_count "$PB_DIR/daemon.log")
pb_start_daemon "$PB_DIR/tls-insecure.conf"
pb_expect_line "$PB_DIR/daemon.log" "mqtt: connected to ssl://127\.0\.0\.1:$TLS" "$(pb_t 15)" "a connection with tls_insecure" "$from"
pb_stop_daemon TERM
pb_pass "TLS: a certificate for another host is refused by default, accepted only with tls_insecure"
