# test_mqtt_republish.sh: the retained picture for subscribers whose broker does not keep it
# for them (docs/farm.md), against a real mosquitto with a daemon that has no printer:
#   1. default (mqtt.republish_interval = 0): "connected" and progress/printing are published
#      once, not again
#   2. a reload to republish_interval = 1: the status, progress/printing and state come again
#      (not retained on delivery: a live subscriber), each a second or so apart
#   3. command/status answers with "printer": exactly the payload of the last <base>state
. "$(dirname "$0")/lib_mqtt.sh"
m_init

PORT=$(m_free_port)
printf 'listener %s 127.0.0.1\nallow_anonymous true\n' "$PORT" >"$M_DIR/mosquitto.conf"
m_start_broker "$M_DIR/mosquitto.conf" "$PORT"
SUB=$M_DIR/sub.txt
m_sub "$SUB" "$PORT" 'octoprint/#' -q 1 -t pbtest/ready
m_sub_ready "$SUB" "$PORT" || m_fail "the subscriber did not start"

conf() {
  cat >"$M_DIR/pb.conf" <<CONF
printer: { port = "$M_DIR/no-printer"; reconnect_delay = 60; reconnect_max_delay = 60; };
storage: { folder = "$M_DIR/files"; };
mqtt: { host = "127.0.0.1"; port = $PORT; stats_interval = 0; republish_interval = $1; };
CONF
}
conf 0
m_start_daemon "$M_DIR/pb.conf"
m_expect "$SUB" '^octoprint/state r=0 q=0 \{"state": \{"text": "Offline after error", ' "$(m_t 10)" "the state"
m_expect "$SUB" '^octoprint/progress/printing r=0 q=0 ' "$(m_t 10)" "the progress reset"
sleep 3     # a republish would have come by now; nothing may
m_sub_ready "$SUB" "$PORT"
for t in 'mqtt r=0 q=1 connected$' 'progress/printing '; do
  n=$(m_count "$SUB" "^octoprint/$t")
  [ "$n" = 1 ] || m_fail "with republish_interval = 0, expected octoprint/$t once, got $n times"
done
m_pass "republish_interval = 0: status and progress published once"

conf 1
mark=$(wc -l <"$SUB")
kill -HUP "$M_DAEMON_PID"
m_expect "$SUB" '^octoprint/event/SettingsUpdated ' "$(m_t 10)" "SettingsUpdated after the reload"
again() { [ "$(tail -n +"$((mark + 1))" "$SUB" | grep -Ec "^octoprint/$1")" -ge "$2" ]; }
for t in 'mqtt r=0 q=1 connected$' 'progress/printing r=0 q=0 \{"location": "", "path": "", "progress": 0, ' \
         'state r=0 q=0 \{"state": \{"text": "Offline after error", '; do
  m_wait_until "$(m_t 10)" again "$t" 3 || m_fail "with republish_interval = 1, expected octoprint/$t at least 3 times within $(m_t 10) s; got $(tail -n +"$((mark + 1))" "$SUB" | grep -Ec "^octoprint/$t")"
done
grep -q 'disconnected' <(tail -n +"$((mark + 1))" "$SUB") && m_fail "a reload of republish_interval reconnected to the broker"
m_pass "republish_interval = 1 (by reload): status, progress and state come again, without a reconnect"

conf 0
kill -HUP "$M_DAEMON_PID"
mark=$(wc -l <"$SUB")
m_expect "$SUB" '^octoprint/event/SettingsUpdated ' "$(m_t 10)" "SettingsUpdated after the reload"
mosquitto_pub -h 127.0.0.1 -p "$PORT" -q 1 -t octoprint/command/status -m '{"id": 3}'
m_expect "$SUB" '^octoprint/command/status/response r=0 q=1 \{"id": 3, "result": "ok", "state": \{"id": "CLOSED_WITH_ERROR", "text": "Offline after error"\}, "temperatures": \{\}, "printer": \{"state": ' \
  "$(m_t 10)" "a status reply with \"printer\""
printer=$(grep -m1 '^octoprint/command/status/response ' "$SUB" | sed -E 's/^.*, "printer": //; s/\}$//')
last=$(grep '^octoprint/state ' "$SUB" | tail -n 1 | sed -E 's/^octoprint\/state r=0 q=0 //')
[ "$printer" = "$last" ] || m_fail "expected the status reply's \"printer\" to be exactly the last <base>state payload; got
$printer
last state:
$last"
m_pass "command/status answers with exactly the <base>state payload"
echo "PASS test_mqtt_republish ($SECONDS s)"
