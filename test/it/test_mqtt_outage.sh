# test_mqtt_outage.sh: the broker stops in the middle of activity and comes back. Events are
# configured QoS 1 (qos.event = 1). A persistent-session QoS 1 subscriber (mosquitto_sub -c)
# must receive every event raised during the outage exactly once and in order, followed by
# ConnectivityChanged old=false new=true; the retained status is "connected" again and the
# retained state topic is back after a broker restart that forgot it.
#
# The outage lasts 10 s, not 30: what matters is that messages are raised while the broker is
# down and that the daemon's reconnect backoff (1, 2, 4, 8 s ...) runs a few rounds; 30 s
# would only make the test 20 s slower. Events are raised with SIGHUP reloads (SettingsUpdated,
# and PrinterProfileModified when profile.extruders changes), which need no printer.
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
m_sub "$SUB" "$PORT" 'octoprint/event/#' -c -i pb-outage-sub -q 1 -t pbtest/ready
m_sub_ready "$SUB" "$PORT" || m_fail "subscriber did not come up"

write_conf() {   # write_conf EXTRUDERS
  cat >"$M_DIR/pb.conf" <<CONF
printer: { port = "$M_DIR/no-printer"; reconnect_delay = 60; reconnect_max_delay = 60; };
storage: { folder = "$M_DIR/files"; };
mqtt: { host = "127.0.0.1"; port = $PORT; stats_interval = 0; };
topics: { state = "state"; };
qos: { event = 1; };
profile: { extruders = $1; };
CONF
}
write_conf 1
m_start_daemon "$M_DIR/pb.conf"
m_expect "$SUB" '^octoprint/event/Startup r=0 q=1 ' "$(m_t 10)" "the Startup event"
kill -HUP "$M_DAEMON_PID"
m_expect "$SUB" '^octoprint/event/SettingsUpdated ' "$(m_t 10)" "SettingsUpdated while the broker is up"
m_pass "events flow with QoS 1"

m_log "stopping the broker"
m_stop_pid "$M_BROKER_PID"
m_wait_until "$(m_t 10)" grep -q 'mqtt: connection to .* lost' "$M_DIR/daemon.log" ||
  m_fail "expected the daemon to notice the broker is gone"

# raise events while the broker is down: SettingsUpdated x3, PrinterProfileModified x2
write_conf 2; kill -HUP "$M_DAEMON_PID"; sleep 0.3
write_conf 2; kill -HUP "$M_DAEMON_PID"; sleep 0.3
write_conf 3; kill -HUP "$M_DAEMON_PID"
m_wait_until "$(m_t 10)" eval '[ "$(grep -c "configuration reloaded" "$M_DIR/daemon.log")" -ge 4 ]' ||
  m_fail "expected three reloads during the outage"
sleep 10   # the outage itself (see the top of this file); nothing is polled for here
kill -0 "$M_DAEMON_PID" 2>/dev/null || m_fail "the daemon died during the outage"

m_log "restarting the broker"
m_start_broker "$M_DIR/mosquitto.conf" "$PORT" broker2
m_expect "$SUB" '^octoprint/event/ConnectivityChanged r=0 q=1 \{"old": false, "new": true, ' "$(m_t 40)" \
  "ConnectivityChanged old=false new=true after the broker came back"

got=$(sed -n '/^octoprint\/event\/SettingsUpdated/,$p' "$SUB" | cut -d' ' -f1,4- | sed -E "s/\"_timestamp\": $M_TS/\"_timestamp\": N/" )
want='octoprint/event/SettingsUpdated {"_event": "SettingsUpdated", "_timestamp": N}
octoprint/event/ConnectivityChanged {"old": true, "new": false, "_event": "ConnectivityChanged", "_timestamp": N}
octoprint/event/SettingsUpdated {"_event": "SettingsUpdated", "_timestamp": N}
octoprint/event/PrinterProfileModified {"identifier": "_default", "_event": "PrinterProfileModified", "_timestamp": N}
octoprint/event/SettingsUpdated {"_event": "SettingsUpdated", "_timestamp": N}
octoprint/event/SettingsUpdated {"_event": "SettingsUpdated", "_timestamp": N}
octoprint/event/PrinterProfileModified {"identifier": "_default", "_event": "PrinterProfileModified", "_timestamp": N}
octoprint/event/ConnectivityChanged {"old": false, "new": true, "_event": "ConnectivityChanged", "_timestamp": N}'
if [ "$got" != "$want" ]; then
  echo "--- expected:"; echo "$want"; echo "--- got:"; echo "$got"
  m_fail "the persistent QoS 1 subscriber did not get every event exactly once and in order"
fi
m_pass "every QoS 1 event raised during the outage arrived exactly once, in order"

# retained state after the restart, seen by a new subscriber (retain flag 1)
LATE=$M_DIR/late.txt
m_sub "$LATE" "$PORT" 'octoprint/#' -W "$(m_t 10)"
m_expect "$LATE" '^octoprint/mqtt r=1 q=[01] connected$' "$(m_t 10)" "retained 'connected' after the broker restart"
m_expect "$LATE" '^octoprint/state r=1 q=0 \{"state": \{"text": "Offline after error", ' "$(m_t 10)" "the retained state topic"
m_expect "$LATE" '^octoprint/progress/printing r=1 q=0 \{"location": "", "path": "", "progress": 0, ' "$(m_t 10)" "the retained progress"
m_pass "retained status, state and progress there after the broker restart"

m_stop_pid "$M_DAEMON_PID"
n=$(m_count "$M_DIR/daemon.log" 'cannot connect to')
[ "$n" -le 1 ] || m_fail "expected at most one 'cannot connect' line for the outage, got $n"
echo "PASS test_mqtt_outage ($SECONDS s)"
