# test_protocol_faults.sh: fatal errors and an unplugged printer as a subscriber sees them
# (docs/protocol.md 10-12):
#   1. kill() from the firmware: Error {reason firmware, consequence emergency, logs},
#      EStop, OFFLINE, Disconnected
#   2. thermal runaway: the two-line kill message joined, faq firmware-thermal-runaway
#   3. unplug and replug in the middle of a stream: Error (connection), Disconnected, then
#      Connected again by itself; what ran before the break ran exactly once, in order
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/protocol_common.sh"
pb_init
pb_start_broker_any
LIVE=$PB_DIR/live.txt
pb_sub_start "$LIVE" 'octoprint/event/#'
norm() { sed -E 's/"_timestamp": [0-9]+\}$/"_timestamp": N}/'; }

# --- 1. kill() ------------------------------------------------------------------------------
RECORD=$PB_DIR/record1.txt
pb_start_sim --kill-after 12 --record "$RECORD"
pb_protocol_config "$PB_DIR/pb.conf" "reconnect = false;"
mark=$(pb_count "$LIVE")
pb_start_daemon "$PB_DIR/pb.conf"
pb_expect_line "$LIVE" '^octoprint/event/Disconnected ' "$(pb_t 30)" "Disconnected after kill()" "$mark"
got=$(pb_lines "$LIVE" "$mark" | grep -A10 '^octoprint/event/PrinterStateChanged .*"ERROR"' | norm)
echo "$got" | sed -n 2p | grep -Eq '^octoprint/event/Error r=0 q=0 \{"error": "Printer halted\. kill\(\) called!", "reason": "firmware", "consequence": "emergency", "logs": \[("([^"\\]|\\.)*"(, )?)+\], "_event": "Error", "_timestamp": N\}$' ||
  pb_fail "expected the Error payload of a firmware kill, got: $got"
[ "$(echo "$got" | sed -n 3p)" = 'octoprint/event/EStop r=0 q=0 {"_event": "EStop", "_timestamp": N}' ] || pb_fail "expected EStop after Error, got: $got"
echo "$got" | sed -n 4p | grep -q '"state_id": "OFFLINE"' || pb_fail "expected OFFLINE after EStop, got: $got"
echo "$got" | sed -n 5p | grep -q '^octoprint/event/Disconnected ' || pb_fail "expected Disconnected last, got: $got"
pb_stop_daemon TERM
pb_stop_sim TERM
# (a halted simulator reads no more, so the M112 bytes are checked in test_printer.c)
pb_pass "kill(): Error (firmware, emergency, logs), EStop, OFFLINE, Disconnected"

# --- 2. thermal runaway ------------------------------------------------------------------------
pb_start_sim --thermal-runaway-after 1
PB_CFG_SCRIPT='"M104 S200"' pb_protocol_config "$PB_DIR/pb2.conf" "reconnect = false;"
mark=$(pb_count "$LIVE")
pb_start_daemon "$PB_DIR/pb2.conf"
pb_expect_line "$LIVE" '^octoprint/event/Error r=0 q=0 \{"error": "Thermal Runaway, system stopped! Heater_ID: E0 - Printer halted\. kill\(\) called!", "reason": "firmware", "consequence": "emergency", "faq": "firmware-thermal-runaway", "logs": \[' \
  "$(pb_t 30)" "the joined thermal runaway Error" "$mark"
pb_expect_line "$LIVE" '^octoprint/event/Disconnected ' "$(pb_t 10)" "Disconnected after the runaway" "$mark"
pb_stop_daemon TERM
pb_stop_sim TERM
pb_pass "thermal runaway: joined message, faq, emergency stop"

# --- 3. unplug and replug mid-stream -------------------------------------------------------------
GCODE=$PB_DIR/job.gcode
RECORD=$PB_DIR/record3.txt
pb_gcode_file "$GCODE" 3000
pb_start_sim --fast --disconnect-after 1500 --relink --relink-delay-ms 500 --record "$RECORD"
pb_protocol_config "$PB_DIR/pb3.conf"
mark=$(pb_count "$LIVE")
pb_start_daemon "$PB_DIR/pb3.conf" --print "$GCODE"
pb_expect_line "$LIVE" '^octoprint/event/Error r=0 q=0 \{"error": "The serial port .*", "reason": "connection", "consequence": "disconnect", "_event"' \
  "$(pb_t 30)" "an Error with reason connection after the unplug" "$mark"
pb_expect_line "$LIVE" '^octoprint/event/Disconnected ' "$(pb_t 10)" "Disconnected after the unplug" "$mark"
mark2=$(pb_count "$LIVE")
pb_expect_line "$LIVE" '^octoprint/event/Connected ' "$(pb_t 30)" "Connected again after the replug" "$mark2"
pb_daemon_alive || pb_fail "printbridge exited after the unplug"
pb_stop_daemon TERM
pb_stop_sim TERM
pb_gcode_commands "$GCODE" >"$PB_DIR/expected3.txt"
grep '^G1 X' "$RECORD" >"$PB_DIR/got3.txt" || true
n=$(wc -l <"$PB_DIR/got3.txt")
[ "$n" -gt 100 ] || pb_fail "expected a good part of the file to run before the unplug, got $n lines"
head -n "$n" "$PB_DIR/expected3.txt" | cmp -s - "$PB_DIR/got3.txt" ||
  pb_fail "the lines run before the unplug are not the file's first $n lines, once each, in order"
pb_pass "unplug/replug: Error (connection), Disconnected, Connected again; $n lines ran once, in order"
echo "PASS test_protocol_faults ($SECONDS s)"
