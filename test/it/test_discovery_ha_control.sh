# test_discovery_ha_control.sh: the Home Assistant device used as a user uses it
# (docs/home-assistant.md). Values are read and commands sent as Home Assistant's MQTT
# documentation says it does (test/it/ha_view.py: templates, "None" as unknown, payloads,
# availability), against the real daemon, broker and simulator:
#   1. the device page: firmware, machine type and UUID from the printer's M115 report;
#      idle values (progress 0, estimated finish unknown, targets from the printer)
#   2. every number sets its target: the G-code arrives at the simulator, the number follows
#      the printer's report; the fan in percent; gcode_deny refuses a number's G-code
#   3. every button: pause, resume, cancel, disconnect (a failed print), connect, emergency
#      stop, firmware restart (M999 on this Marlin); the print event entity turns
#      PrintStarted/Paused/Resumed/Cancelled/Done/Failed into its event types (the PrintFailed
#      that follows a cancel is ignored)
#   4. after PrintDone: progress 100, 0 s left and estimated finish unknown
#   5. the OctoPrint-HomeAssistant entities: plugin topics, unique ids, hassControl switches
#      and buttons reaching the printer; removed by a reload without the option
. "$(dirname "$0")/lib.sh"
pb_init

pb_start_broker_any
REC=$PB_DIR/rec.txt
LIVE=$PB_DIR/live.txt
pb_sub_start "$LIVE" 'octoprint/#'
pb_start_sim --record "$REC"
CFG=$PB_DIR/pb.conf
HA_CFG='homeassistant: { node_id = "ender3"; octoprint_node_id = "3f2a9c"; };
profile: { max_tool_temperature = 250; max_bed_temperature = 100; };'
# config [EXTRA]: the test's configuration, with stats every second (the uptime sensor reads them)
config() {
  PB_CFG_EXTRA="$HA_CFG
${1:-}" pb_write_config "$CFG"
  sed -i 's|^mqtt: { \(.*\) };$|mqtt: { \1 stats_interval = 1; };|' "$CFG"
}
config
pb_start_daemon "$CFG"
pb_expect_line "$LIVE" '"state_id": "OPERATIONAL"' "$(pb_t 20)" "the printer to become operational"

DEV=homeassistant/device/ender3/config
HA() { /usr/bin/python3 "$PB_SRCDIR/test/it/ha_view.py" --port "$PB_MQTT_PORT" --config "$DEV" "$@"; }
P() { mosquitto_pub -h 127.0.0.1 -p "$PB_MQTT_PORT" -q 1 "$@"; }
snapshot() { timeout "$(pb_t 10)" mosquitto_sub -h 127.0.0.1 -p "$PB_MQTT_PORT" -t "$1" --retained-only -W 2 -N 2>/dev/null; }
# expect_state OBJECT VALUE: wait until Home Assistant would show VALUE for OBJECT
expect_state() {
  ES_OBJ=$1 ES_WANT=$2
  pb_wait_until "$(pb_t 15)" eval '[ "$(HA state "$ES_OBJ")" = "$ES_WANT" ]' ||
    pb_fail "expected Home Assistant to show $1 = '$2', it shows '$(HA state "$1")'"
}
# press OBJECT [VALUE]: what Home Assistant publishes for a button press or a number set
press() {
  local cmd
  cmd=$(HA command "$@") || pb_fail "cannot make the command of $1"
  P -t "${cmd%%$'\t'*}" -m "${cmd#*$'\t'}"
}
rec_wait() { pb_wait_for_line "$REC" "^$(pb_re "$1")\$" "$(pb_t 15)" || { tail -n 5 "$REC"; pb_fail "the printer never received '$1' ($2)"; }; }

# --- 1. the device page and idle values --------------------------------------------------------
pb_wait_until "$(pb_t 15)" eval 'snapshot "$DEV" | grep -q "\"sn\": "' ||
  pb_fail "expected the device to be announced again with the firmware's identity"
cfg=$(snapshot "$DEV")
echo "$cfg" | grep -q '^{"dev": {"ids": \["ender3"\], "name": "printbridge ender3", "mf": "printbridge", "mdl": "[^"]*", "sw": "Marlin 2.1.2 (printbridge-sim)", "hw": "printbridge-sim", "sn": "00000000-0000-0000-0000-000000000000"}, "o": {"name": "printbridge", "sw": "[^"]*"}, ' ||
  pb_fail "expected sw, hw and sn from the simulator's M115 report, got: ${cfg:0:400}"
expect_state firmware "Marlin 2.1.2 (printbridge-sim)"
expect_state connected on
expect_state state operational
expect_state progress 0
expect_state eta unknown
expect_state print_time_left 0
expect_state tool0_set_target 210       # afterPrinterConnected: M104 S210
expect_state bed_set_target 60
pb_wait_until "$(pb_t 15)" eval '[ "$(HA state uptime)" -ge 0 ] 2>/dev/null' ||
  pb_fail "expected an uptime in seconds from octoprint/stats, Home Assistant shows '$(HA state uptime)'"
for id in connected current_z firmware resends uptime; do
  [ "$(HA option $id ent_cat)" = '"diagnostic"' ] || pb_fail "$id is not announced as a diagnostic entity"
done
[ "$(HA option progress ent_cat)" = null ] || pb_fail "progress must not be a diagnostic entity"
[ "$(HA option tool0_set_target max)" = 250 ] || pb_fail "expected the hotend number bounded by max_tool_temperature 250"
[ "$(HA option bed_set_target max)" = 100 ] || pb_fail "expected the bed number bounded by max_bed_temperature 100"
pb_pass "device page: firmware, machine and UUID; diagnostics; idle progress 0 and estimated finish unknown"

# --- 2. numbers ----------------------------------------------------------------------------------
numbers=$(echo "$cfg" | grep -oE '"[a-z0-9_]+": \{"p": "number"' | cut -d'"' -f2 | sort | tr '\n' ' ')
[ "$numbers" = "bed_set_target fan_speed tool0_set_target " ] || pb_fail "expected numbers for tool0, the bed and the fan, got: $numbers"
press tool0_set_target 195
rec_wait "M104 S195" "the hotend number"
expect_state tool0_set_target 195
press bed_set_target 55
rec_wait "M140 S55" "the bed number"
expect_state bed_set_target 55
press fan_speed 50
rec_wait "M106 S128" "the fan number at 50 %"
press fan_speed 100
rec_wait "M106 S255" "the fan number at 100 %"
HA command tool0_set_target 251 >/dev/null 2>&1 && pb_fail "a hotend target above the profile's 250 was accepted"
# the inbound G-code lists apply to what the numbers send
config 'inbound: { gcode_deny = [ "M140" ]; };'
kill -HUP "$PB_DAEMON_PID"
pb_wait_until "$(pb_t 10)" grep -q 'configuration reloaded' "$PB_DIR/daemon.log" || pb_fail "the reload was not logged"
mark=$(pb_count "$LIVE")
press bed_set_target 40
pb_expect_line "$LIVE" '^octoprint/command/gcode/response r=0 q=1 \{"id": null, "result": "error", "error": "[^"]*M140[^"]*"\}$' \
  "$(pb_t 10)" "an error reply for a denied M140" "$mark"
press tool0_set_target 190
rec_wait "M104 S190" "the hotend number after the reload"
grep -q '^M140 S40$' "$REC" && pb_fail "the printer received M140 S40 although gcode_deny lists M140"
pb_pass "numbers: M104, M140, M106 reach the printer and follow its report; bounded by the profile; gcode_deny applies"

# --- 3. buttons and the print event entity --------------------------------------------------------
GCODE=$PB_DIR/cube.gcode
{ echo "G21"; echo "G90"; for i in $(seq 1 400); do echo "G1 X$((i % 50)).$((i % 10)) Y$((i % 37)) F6000"; done; } >"$GCODE"
P -t octoprint/command/upload/cube.gcode -f "$GCODE"
pb_expect_line "$LIVE" '^octoprint/event/FileAdded ' "$(pb_t 10)" "the upload"
# event NAME TYPE FROM: the event arrived, and Home Assistant's event entity makes TYPE of it
event() {
  pb_expect_line "$LIVE" "^octoprint/event/$1 r=0 q=0 \{" "$(pb_t 60)" "$1" "$3"
  local payload got
  payload=$(pb_lines "$LIVE" "$3" | grep -m1 "^octoprint/event/$1 r=0 q=0 " | sed -E 's/^[^ ]+ r=0 q=0 //')
  got=$(printf '%s' "$payload" | HA event print_event)
  [ "${got%% *}" = "$2" ] || pb_fail "expected the event entity to fire $2 for $1, got: $got"
  [ "$2" = ignored ] || echo "$got" | grep -q '"path": "cube.gcode"' || pb_fail "expected the file's path with $2, got: $got"
}
mark=$(pb_count "$LIVE")
P -t octoprint/command/job -m '{"command": "start", "path": "cube.gcode"}'
event PrintStarted print_started "$mark"
expect_state printing on
press pause
event PrintPaused print_paused "$mark"
press resume
event PrintResumed print_resumed "$mark"
press cancel
event PrintCancelled print_cancelled "$mark"
event PrintFailed ignored "$mark"
expect_state printing off
pb_pass "pause, resume and cancel buttons; print_started, print_paused, print_resumed, print_cancelled (its PrintFailed ignored)"

mark=$(pb_count "$LIVE")
P -t octoprint/command/job -m '{"command": "start", "path": "cube.gcode"}'
event PrintStarted print_started "$mark"
press disconnect
event PrintFailed print_failed "$mark"
expect_state connected off
press connect
pb_expect_line "$LIVE" '"state_id": "OPERATIONAL"' "$(pb_t 20)" "the printer connected again" "$mark"
expect_state connected on
pb_pass "disconnect fails the print (print_failed), connect brings the printer back"

# --- 4. after PrintDone ----------------------------------------------------------------------------
mark=$(pb_count "$LIVE")
P -t octoprint/command/job -m '{"command": "start", "path": "cube.gcode"}'
event PrintDone print_done "$mark"
pb_wait_until "$(pb_t 10)" eval 'snapshot octoprint/state | grep -q "\"text\": \"Operational\""' || pb_fail "expected Operational after PrintDone"
expect_state progress 100
expect_state eta unknown
expect_state print_time_left 0
running='{"state": {"text": "Printing", "flags": {"operational": true, "printing": true}}, "eta": "2026-01-02T03:04:05+00:00"}'
[ "$(printf '%s' "$running" | HA value eta)" = "2026-01-02T03:04:05+00:00" ] ||
  pb_fail "the estimated finish must show the eta as a timestamp while printing"
pb_pass "after PrintDone Home Assistant shows progress 100, 0 s left and estimated finish unknown"

press firmware_restart
rec_wait "M999" "the firmware restart button"
pb_pass "firmware restart button sends M999 (Marlin)"
press emergency_stop
rec_wait "M112" "the emergency stop button"
pb_pass "emergency stop button sends M112"
pb_stop_daemon TERM
pb_stop_sim

# --- 5. OctoPrint-HomeAssistant entities ------------------------------------------------------------
REC=$PB_DIR/rec2.txt
pb_start_sim --record "$REC"
mark=$(pb_count "$LIVE")    # before the start: its first events may come at once
pb_start_daemon "$CFG"
pb_expect_line "$LIVE" '"state_id": "OPERATIONAL"' "$(pb_t 20)" "the printer to become operational again" "$mark"
# OP COMPONENT ID WHAT [VALUE]: ha_view.py on one entity of the OctoPrint device
OP() { /usr/bin/python3 "$PB_SRCDIR/test/it/ha_view.py" --port "$PB_MQTT_PORT" --config "homeassistant/$1/3f2a9c_$2/config" "$3" - "${@:4}"; }
for t in binary_sensor/CONNECTED binary_sensor/PRINTING sensor/EVENT sensor/PRINTING_S sensor/PRINTING_P sensor/PRINTING_F \
         sensor/PRINTING_T sensor/PRINTING_E sensor/PRINTING_ETA sensor/PRINTING_C sensor/PRINTING_Z sensor/SLICING_P \
         sensor/SLICING_F sensor/TOOL0 sensor/TOOL0_TARGET sensor/BED sensor/BED_TARGET switch/CONNECT switch/PAUSE \
         button/STOP button/CANCEL; do
  c=$(snapshot "homeassistant/${t%/*}/3f2a9c_${t#*/}/config")
  echo "$c" | grep -q "\"uniq_id\": \"3f2a9c_${t#*/}\"" || pb_fail "expected $t with unique id 3f2a9c_${t#*/}, got: ${c:0:200}"
  echo "$c" | grep -q '"dev": {"ids": \["3f2a9c"\], "name": "OctoPrint", ' || pb_fail "$t: expected the OctoPrint device"
done
pb_wait_until "$(pb_t 15)" eval '[ "$(OP binary_sensor CONNECTED state)" = on ]' || pb_fail "expected OctoPrint Connected on"
[ "$(OP sensor PRINTING_S state)" = Operational ] || pb_fail "expected Print Status Operational, got $(OP sensor PRINTING_S state)"
[ "$(OP switch CONNECT state)" = on ] || pb_fail "expected the Connect to printer switch on"
[ "$(OP switch PAUSE state)" = off ] || pb_fail "expected the Pause Print switch off"
pb_wait_until "$(pb_t 15)" eval '[ "$(OP sensor TOOL0_TARGET state)" = 210 ]' || pb_fail "expected Tool 0 Target 210"
mark=$(pb_count "$LIVE")
P -t octoprint/command/job -m '{"command": "start", "path": "cube.gcode"}'
pb_expect_line "$LIVE" '^octoprint/event/PrintStarted ' "$(pb_t 10)" "the print" "$mark"
cmd=$(OP switch PAUSE command on); P -t "${cmd%%$'\t'*}" -m "${cmd#*$'\t'}"
pb_expect_line "$LIVE" '^octoprint/event/PrintPaused ' "$(pb_t 20)" "PrintPaused from the Pause Print switch" "$mark"
pb_wait_until "$(pb_t 15)" eval '[ "$(OP switch PAUSE state)" = on ]' || pb_fail "expected the Pause Print switch on while paused"
cmd=$(OP switch PAUSE command off); P -t "${cmd%%$'\t'*}" -m "${cmd#*$'\t'}"
pb_expect_line "$LIVE" '^octoprint/event/PrintResumed ' "$(pb_t 20)" "PrintResumed from the Pause Print switch" "$mark"
cmd=$(OP button CANCEL command); P -t "${cmd%%$'\t'*}" -m "${cmd#*$'\t'}"
pb_expect_line "$LIVE" '^octoprint/event/PrintCancelled ' "$(pb_t 20)" "PrintCancelled from the Cancel Print button" "$mark"
cmd=$(OP switch CONNECT command off); P -t "${cmd%%$'\t'*}" -m "${cmd#*$'\t'}"
pb_wait_until "$(pb_t 15)" eval '[ "$(OP switch CONNECT state)" = off ]' || pb_fail "expected the Connect to printer switch off after switching it off"
cmd=$(OP switch CONNECT command on); P -t "${cmd%%$'\t'*}" -m "${cmd#*$'\t'}"
pb_wait_until "$(pb_t 20)" eval '[ "$(OP switch CONNECT state)" = on ]' || pb_fail "expected the printer connected again by the switch"
cmd=$(OP button STOP command); P -t "${cmd%%$'\t'*}" -m "${cmd#*$'\t'}"
rec_wait "M112" "the Emergency Stop button of the OctoPrint device"
pb_pass "OctoPrint-HomeAssistant entities: plugin topics and ids; pause switch, cancel, connect switch and stop reach the printer"

# unset again: a reload removes the plugin's entities and keeps printbridge's device
HA_CFG='homeassistant: { node_id = "ender3"; };'
config
kill -HUP "$PB_DAEMON_PID"
pb_wait_until "$(pb_t 10)" eval '[ -z "$(snapshot homeassistant/sensor/3f2a9c_PRINTING_S/config)" ]' ||
  pb_fail "expected the OctoPrint-HomeAssistant entities removed after unsetting octoprint_node_id"
[ -z "$(snapshot homeassistant/button/3f2a9c_STOP/config)" ] || pb_fail "expected the Emergency Stop entity removed too"
[ -n "$(snapshot "$DEV")" ] || pb_fail "expected printbridge's device to stay"
pb_pass "unsetting octoprint_node_id removes the plugin's entities"

pb_stop_daemon TERM
[ "$PB_DAEMON_RC" = 0 ] || pb_fail "expected exit status 0 after SIGTERM, got $PB_DAEMON_RC"
echo "PASS test_discovery_ha_control ($SECONDS s)"
