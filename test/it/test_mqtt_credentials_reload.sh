# test_mqtt_credentials_reload.sh: a broker with a password file. A wrong password gives one
# clear log line (not one per retry) and the daemon keeps running; fixing it with
# mqtt.password_file and SIGHUP connects. Then reloads: an invalid file is refused with its
# FILE:LINE error (logged, and published as SettingsRefused) and the old configuration kept; a new base topic publishes "disconnected" on
# the old status topic and "connected" on the new one, and SettingsUpdated under the new one;
# a profile change adds PrinterProfileModified.
. "$(dirname "$0")/lib_mqtt.sh"
m_init

PORT=$(m_free_port)
mosquitto_passwd -b -c "$M_DIR/passwd" printbridge right-secret >/dev/null 2>&1 || m_fail "mosquitto_passwd failed"
mosquitto_passwd -b "$M_DIR/passwd" watcher watch >/dev/null 2>&1
cat >"$M_DIR/mosquitto.conf" <<CONF
listener $PORT 127.0.0.1
allow_anonymous false
password_file $M_DIR/passwd
CONF
chmod 0644 "$M_DIR/passwd" 2>/dev/null
m_start_broker "$M_DIR/mosquitto.conf" "$PORT"
SUB=$M_DIR/sub.txt
m_sub "$SUB" "$PORT" 'octoprint/#' -q 1 -u watcher -P watch -t 'farm/#' -t pbtest/ready
m_sub_ready "$SUB" "$PORT" || true   # anonymous mosquitto_pub is refused; the first message proves it

printf 'right-secret\n' >"$M_DIR/secret"
chmod 600 "$M_DIR/secret"
cat >"$M_DIR/pb.conf" <<CONF
printer: { port = "$M_DIR/no-printer"; reconnect_delay = 60; reconnect_max_delay = 60; };
storage: { folder = "$M_DIR/files"; };
mqtt: { host = "127.0.0.1"; port = $PORT; username = "printbridge"; password = "wrong"; stats_interval = 0; };
CONF
m_start_daemon "$M_DIR/pb.conf"
m_wait_until "$(m_t 10)" grep -Eq 'refused the connection: (bad user name or password|not authorised); check mqtt.username and mqtt.password' "$M_DIR/daemon.log" ||
  m_fail "expected one clear 'bad user name or password' line"
sleep 4   # several retries (1 s, 2 s) happen meanwhile; they must stay quiet
n=$(grep -c 'refused the connection' "$M_DIR/daemon.log")
[ "$n" = 1 ] || m_fail "expected exactly one refusal line over several retries, got $n"
kill -0 "$M_DAEMON_PID" || m_fail "the daemon exited on bad credentials"
m_pass "bad credentials: one clear line, retries with backoff"

cat >"$M_DIR/pb.conf" <<CONF
printer: { port = "$M_DIR/no-printer"; reconnect_delay = 60; reconnect_max_delay = 60; };
storage: { folder = "$M_DIR/files"; };
mqtt: { host = "127.0.0.1"; port = $PORT; username = "printbridge"; password_file = "$M_DIR/secret"; stats_interval = 0; };
CONF
kill -HUP "$M_DAEMON_PID"
m_expect "$SUB" '^octoprint/mqtt r=0 q=1 connected$' "$(m_t 20)" "'connected' after fixing the password with password_file + SIGHUP"
m_expect "$SUB" '^octoprint/event/SettingsUpdated r=0 q=0 \{"_event": "SettingsUpdated", "_timestamp": [0-9]+\}$' "$(m_t 10)" "SettingsUpdated"
m_pass "password_file and a reload fix the credentials"

# an invalid file is refused with its FILE:LINE error; the running configuration stays
cp "$M_DIR/pb.conf" "$M_DIR/good.conf"
printf 'mqtt: { port = 70000; };\n' >"$M_DIR/pb.conf"
kill -HUP "$M_DAEMON_PID"
m_wait_until "$(m_t 10)" grep -qF "reload refused, the running configuration stays: $M_DIR/pb.conf:1: mqtt.port must be between 1 and 65535, not 70000" "$M_DIR/daemon.log" ||
  m_fail "expected the invalid reload to be refused with its FILE:LINE error"
m_expect "$SUB" "^octoprint/event/SettingsRefused r=0 q=0 \\{\"file\": \"$(printf '%s' "$M_DIR/pb.conf" | sed 's/[][\.*^$+?(){}|/]/\\&/g')\", \"line\": 1, \"error\": \"mqtt\\.port must be between 1 and 65535, not 70000\", \"_event\": \"SettingsRefused\", \"_timestamp\": [0-9]+\\}\$" \
  "$(m_t 10)" "SettingsRefused with the file, line and reason"
n_before=$(grep -c '^octoprint/event/SettingsUpdated' "$SUB")
kill -0 "$M_DAEMON_PID" || m_fail "the daemon exited on an invalid reload"
m_pass "invalid reload refused with FILE:LINE, daemon still running"

# new base topic and profile: the client is rebuilt
sed -e 's|stats_interval = 0;|stats_interval = 0; base_topic = "farm/ender3/";|' "$M_DIR/good.conf" >"$M_DIR/pb.conf"
printf 'profile: { heated_chamber = true; };\n' >>"$M_DIR/pb.conf"
kill -HUP "$M_DAEMON_PID"
m_expect "$SUB" '^farm/ender3/mqtt r=0 q=1 connected$' "$(m_t 20)" "'connected' on the new status topic"
m_expect "$SUB" '^farm/ender3/event/PrinterProfileModified r=0 q=0 \{"identifier": "_default", "_event": "PrinterProfileModified", "_timestamp": [0-9]+\}$' "$(m_t 10)" "PrinterProfileModified"
order=$(grep -E '^(octoprint/mqtt|farm/ender3/mqtt|farm/ender3/event/SettingsUpdated|farm/ender3/event/PrinterProfileModified) ' "$SUB" | tail -n 4 | cut -d' ' -f1,4)
want='octoprint/mqtt disconnected
farm/ender3/mqtt connected
farm/ender3/event/SettingsUpdated {"_event":
farm/ender3/event/PrinterProfileModified {"identifier":'
[ "$order" = "$want" ] || m_fail "expected the old status 'disconnected', then the new 'connected', SettingsUpdated, PrinterProfileModified; got: $order"
[ "$(grep -c '^octoprint/event/SettingsUpdated' "$SUB")" = "$n_before" ] || m_fail "a SettingsUpdated was published on the old base topic"
m_pass "a new base topic: disconnected on the old status topic, then connected and the events on the new one"

m_stop_pid "$M_DAEMON_PID"
m_expect "$SUB" '^farm/ender3/mqtt r=0 q=1 disconnected$' "$(m_t 5)" "'disconnected' at shutdown"
echo "PASS test_mqtt_credentials_reload ($SECONDS s)"
