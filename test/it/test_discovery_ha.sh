# test_discovery_ha.sh: Home Assistant discovery as Home Assistant sees it (docs/wire-format.md).
#   1. a retained device config under homeassistant/device/<node_id>/config with dev and o;
#      every component with p and a unique id, valid device classes and units
#   2. every state and availability topic it reads is one printbridge keeps retained on the
#      broker; every command topic is under <base>command/ and one the daemon subscribed
#   3. "online" on homeassistant/status republishes once, after the random delay; "offline"
#      does not; a message of more than 256 bytes there reaches discovery whole
#   4. a reload with enabled = false removes the device (empty retained config); a start with
#      enabled = false removes a device left by an earlier run; enabling it again restores it
#   5. a reload with another prefix moves the device and listens for the new birth topic only
. "$(dirname "$0")/lib.sh"
pb_init

pb_start_broker_any
pb_start_sim
CFG=$PB_DIR/pb.conf
PB_CFG_EXTRA='homeassistant: { republish_delay = 1; };' pb_write_config "$CFG"
# stats every second: the uptime sensor reads the retained stats topic
sed -i 's|^mqtt: { \(.*\) };$|mqtt: { \1 stats_interval = 1; };|' "$CFG"
TOPIC=homeassistant/device/pb-test/config
LIVE=$PB_DIR/live.txt
pb_sub_start "$LIVE" 'homeassistant/#'
pb_start_daemon "$CFG"
pb_expect_line "$LIVE" "^$(pb_re "$TOPIC") r=0 q=1 \{" "$(pb_t 15)" "the discovery config"

# retained: a late subscriber (Home Assistant starting later) gets it
snapshot() { timeout "$(pb_t 10)" mosquitto_sub -h 127.0.0.1 -p "$PB_MQTT_PORT" -t "$1" --retained-only -W 2 -v 2>/dev/null; }
pb_wait_until "$(pb_t 10)" eval 'snapshot octoprint/state | grep -q "\"operational\": true"' ||
  pb_fail "expected a retained octoprint/state with the printer operational"
pb_wait_until "$(pb_t 10)" eval 'snapshot octoprint/stats | grep -q uptime' || pb_fail "expected a retained octoprint/stats"
# the device is announced again once the firmware reported itself
pb_wait_until "$(pb_t 10)" eval 'snapshot "$TOPIC" | grep -q "\"sw\": \"Marlin"' || pb_fail "expected the firmware on the device"
cfg=$(snapshot "$TOPIC" | sed "s|^$TOPIC ||")
[ -n "$cfg" ] || pb_fail "expected a retained config on $TOPIC"

# 1. keys Home Assistant requires; one line per component
echo "$cfg" | grep -Eq '^\{"dev": \{"ids": \["pb-test"\], "name": "printbridge pb-test", "mf": "[^"]+", "mdl": "[^"]+", "sw": "[^"]+", "hw": "[^"]+", "sn": "[^"]+"\}, "o": \{"name": "printbridge", "sw": "[^"]+"\}, "cmps": \{' ||
  pb_fail "expected dev (ids, name, mf, mdl, sw, hw, sn) and o (name, sw) before cmps, got: ${cfg:0:300}"
comps=$(echo "$cfg" | sed -E 's/, ("[a-z0-9_]+": \{"p": )/\n\1/g; s/^.*"cmps": \{//' )
n=$(echo "$comps" | grep -c '"p": ')
[ "$n" = 28 ] || pb_fail "expected 28 components (9 sensors, 4 temperatures, 7 buttons, 1 text, 3 numbers, 1 event, 3 diagnostic sensors), got $n"
while IFS= read -r c; do
  id=$(echo "$c" | sed -E 's/^"([a-z0-9_]+)".*/\1/')
  echo "$c" | grep -Eq "^\"$id\": \{\"p\": \"(sensor|binary_sensor|button|text|number|event)\", \"name\": \"[^\"]+\", \"uniq_id\": \"pb-test_$id\", \"avty\": \[\{\"t\": \"octoprint/mqtt\", \"pl_avail\": \"connected\", \"pl_not_avail\": \"disconnected\"\}" ||
    pb_fail "component $id lacks p, name, uniq_id pb-test_$id or the will as availability: ${c:0:300}"
  echo "$c" | grep -q '"avty_mode": "all"' || pb_fail "component $id: expected availability mode all"
  p=$(echo "$c" | sed -E 's/.*"p": "([a-z_]+)".*/\1/')
  cla=$(echo "$c" | grep -oE '"dev_cla": "[a-z_]+"' | cut -d'"' -f4)
  unit=$(echo "$c" | grep -oE '"unit_of_meas": "[^"]+"' | cut -d'"' -f4)
  case "$p/$cla/$unit" in
    sensor/temperature/'\u00b0C') echo "$c" | grep -q '"stat_cla": "measurement"' || pb_fail "$id: temperature without state class measurement" ;;
    sensor/duration/s|sensor/distance/mm|sensor/timestamp/|sensor//%|sensor//|binary_sensor/connectivity/|binary_sensor/running/|button//|text//) ;;
    number/temperature/'\u00b0C'|number//%) echo "$c" | grep -q '"min": 0, "max": [0-9]' || pb_fail "$id: a number without min and max" ;;
    event//) echo "$c" | grep -q '"evt_typ": \["print_started", ' || pb_fail "$id: an event without its event types" ;;
    sensor/enum/) echo "$c" | grep -q '"ops": \["offline", ' || pb_fail "$id: enum sensor without options" ;;
    *) pb_fail "component $id: platform, device class and unit '$p/$cla/$unit' is not a valid combination" ;;
  esac
  case "$p" in
    sensor|binary_sensor|event) echo "$c" | grep -q '"stat_t": "' || pb_fail "$id: $p without a state topic" ;;
    button|text|number) echo "$c" | grep -q '"cmd_t": "' || pb_fail "$id: $p without a command topic" ;;
  esac
done <<<"$comps"
pb_pass "device config: dev, o, 28 components each with p, unique id, availability, valid class and unit"

# 2. every topic read is retained on the broker now; every command topic is a command topic
# (the event entity reads every event topic, octoprint/event/+: events are not retained)
for t in $(echo "$cfg" | grep -oE '"(stat_t|t|json_attr_t)": "[^"]+"' | cut -d'"' -f4 | grep -v '^octoprint/event/+$' | sort -u); do
  snapshot "$t" | grep -q "^$(pb_re "$t") " || pb_fail "the config reads $t, which has no retained message"
done
echo "$cfg" | grep -q '"stat_t": "octoprint/event/+"' || pb_fail "expected the event entity on octoprint/event/+"
cmds=$(echo "$cfg" | grep -oE '"cmd_t": "[^"]+"' | cut -d'"' -f4 | sort -u | tr '\n' ' ')
[ "$cmds" = "octoprint/command/connection octoprint/command/gcode octoprint/command/job " ] ||
  pb_fail "expected the command topics connection, gcode and job under octoprint/command/, got: $cmds"
for t in $cmds; do
  grep -A20 'Received SUBSCRIBE from pb-test' "$PB_DIR/broker.log" | grep -Eq "(octoprint/command/#|$(pb_re "$t")) \(QoS" ||
    pb_fail "printbridge does not subscribe to $t (see the SUBSCRIBE lines in broker.log)"
done
grep -A20 'Received SUBSCRIBE from pb-test' "$PB_DIR/broker.log" | grep -q 'homeassistant/status (QoS 1)' ||
  pb_fail "expected printbridge to subscribe to homeassistant/status"
pb_pass "every state and availability topic is retained on the broker; buttons use octoprint/command/{job,connection,gcode}"

# 3. birth message: several "online" within the delay give one republish; "offline" none
from=$(pb_count "$LIVE")
# one client, three messages back to back: they arrive within a millisecond or two, well
# inside the random delay (three separate clients could take longer than a short delay)
printf 'online\nonline\nonline\n' | mosquitto_pub -h 127.0.0.1 -p "$PB_MQTT_PORT" -t homeassistant/status -l
pb_expect_line "$LIVE" "^$(pb_re "$TOPIC") r=0 q=1 \{" "$(pb_t 10)" "a republish after homeassistant/status online" "$from"
grep -q 'Home Assistant came online; discovery republished' "$PB_DIR/daemon.log" || pb_fail "expected the republish to be logged"
sleep 2   # longer than republish_delay: a second republish would be here by now
n=$(pb_lines "$LIVE" "$from" | grep -c "^$TOPIC ")
[ "$n" = 1 ] || pb_fail "expected one republish for three births within the delay, got $n"
from=$(pb_count "$LIVE")
mosquitto_pub -h 127.0.0.1 -p "$PB_MQTT_PORT" -t homeassistant/status -m offline
sleep 2
n=$(pb_lines "$LIVE" "$from" | grep -c "^$TOPIC ")
[ "$n" = 0 ] || pb_fail "expected no republish after 'offline', got $n"
# a message of more than 256 bytes on the birth topic reaches discovery whole, and is no birth
long=$(printf 'x%.0s' $(seq 300))
mosquitto_pub -h 127.0.0.1 -p "$PB_MQTT_PORT" -t homeassistant/status -m "$long"
pb_wait_until "$(pb_t 10)" grep -q 'ignoring a 300-byte message on homeassistant/status' "$PB_DIR/daemon.log" ||
  pb_fail "expected discovery to get the 300-byte message on homeassistant/status whole"
sleep 2
n=$(pb_lines "$LIVE" "$from" | grep -c "^$TOPIC ")
[ "$n" = 0 ] || pb_fail "expected no republish after a message other than 'online', got $n"
pb_pass "birth message: one republish after a random delay; nothing on offline; 300 bytes arrive whole"

# 4. switched off by a reload: an empty retained config; then gone for a late subscriber
from=$(pb_count "$LIVE")
PB_CFG_EXTRA='homeassistant: { enabled = false; republish_delay = 1; };' pb_write_config "$CFG"
kill -HUP "$PB_DAEMON_PID"
pb_expect_line "$LIVE" "^$(pb_re "$TOPIC") r=0 q=1 $" "$(pb_t 10)" "an empty config after switching discovery off" "$from"
[ -z "$(snapshot "$TOPIC")" ] || pb_fail "expected no retained config once discovery is off"
pb_stop_daemon TERM

# a leftover from an earlier run is removed at start-up when discovery is off
mosquitto_pub -h 127.0.0.1 -p "$PB_MQTT_PORT" -r -q 1 -t "$TOPIC" -m '{"dev": {"ids": ["pb-test"]}}'
[ -n "$(snapshot "$TOPIC")" ] || pb_fail "could not plant a leftover config"
pb_start_daemon "$CFG"
pb_wait_until "$(pb_t 15)" eval '[ -z "$(snapshot "$TOPIC")" ]' ||
  pb_fail "expected the leftover config to be removed at start-up with enabled = false"
grep -q 'homeassistant: discovery is off' "$PB_DIR/daemon.log" || pb_fail "expected the start-up to say discovery is off"
PB_CFG_EXTRA='homeassistant: { republish_delay = 1; };' pb_write_config "$CFG"
kill -HUP "$PB_DAEMON_PID"
pb_wait_until "$(pb_t 10)" eval '[ -n "$(snapshot "$TOPIC")" ]' || pb_fail "expected the config back after enabling discovery again"
pb_pass "off: removed on reload and at start-up (leftovers); on again: back"

# 5. another prefix: the old device goes, the new one appears and its birth topic is heard
PB_CFG_EXTRA='homeassistant: { prefix = "ha2"; node_id = "ender3"; device_name = "Ender 3"; republish_delay = 0; };' pb_write_config "$CFG"
kill -HUP "$PB_DAEMON_PID"
pb_wait_until "$(pb_t 15)" eval '[ -n "$(snapshot ha2/device/ender3/config)" ]' || pb_fail "expected the config under ha2/device/ender3/config"
pb_wait_until "$(pb_t 10)" eval '[ -z "$(snapshot "$TOPIC")" ]' || pb_fail "expected the old config to be removed after the prefix changed"
snapshot ha2/device/ender3/config | grep -q '"name": "Ender 3"' || pb_fail "expected the configured device name"
SUB2=$PB_DIR/ha2.txt
pb_sub_start "$SUB2" 'ha2/device/#'
from=$(pb_count "$SUB2")
mosquitto_pub -h 127.0.0.1 -p "$PB_MQTT_PORT" -t ha2/status -m online
pb_expect_line "$SUB2" '^ha2/device/ender3/config r=0 q=1 \{' "$(pb_t 10)" "a republish after ha2/status online" "$from"
from=$(pb_count "$SUB2")
mosquitto_pub -h 127.0.0.1 -p "$PB_MQTT_PORT" -t homeassistant/status -m online
sleep 2   # republish_delay is 0: a republish would be here by now
n=$(pb_lines "$SUB2" "$from" | grep -c '^ha2/device/ender3/config ')
[ "$n" = 0 ] || pb_fail "expected the old birth topic homeassistant/status to be ignored after the move, got $n republishes"
pb_pass "a new prefix moves the device and its birth topic"

pb_stop_daemon TERM
[ "$PB_DAEMON_RC" = 0 ] || pb_fail "expected exit status 0 after SIGTERM, got $PB_DAEMON_RC"
echo "PASS test_discovery_ha ($SECONDS s)"
