# test_it_mqtt_contract.sh: what a subscriber sees from a normal start, heating and a clean
# SIGTERM, byte for byte (docs/wire-format.md 2-5, 8).
#   broker + live subscriber -> simulator -> printbridge (script heats tool0 to 210, bed to 60)
#   1. `connected` first, the two progress resets once, events in start-up order
#   2. temperature format, threshold rule and visible heating
#   3. a second, late subscriber gets exactly the retained set (r=1)
#   4. SIGTERM: Shutdown, Disconnecting, PrinterStateChanged OFFLINE, Disconnected, then
#      `disconnected` exactly once (real DISCONNECT, no will), exit status 0
. "$(dirname "$0")/lib.sh"
pb_init
T0=$(date +%s)

pb_start_broker_any
LIVE=$PB_DIR/live.txt
pb_sub_start "$LIVE" 'octoprint/#'
pb_start_sim
pb_write_config "$PB_DIR/pb.conf"
pb_start_daemon "$PB_DIR/pb.conf"
pb_log "broker on $PB_MQTT_PORT, sim on $PB_LINK, daemon pid $PB_DAEMON_PID"

# --- 1. start-up -----------------------------------------------------------------------------
pb_expect_line "$LIVE" '^octoprint/mqtt r=0 q=1 connected$' "$(pb_t 20)" "octoprint/mqtt = connected (QoS 1)"
pb_expect_line "$LIVE" '^octoprint/event/FirmwareData ' "$(pb_t 30)" "the FirmwareData event"

first=$(pb_lines "$LIVE" | head -n 1)
[ "$first" = "octoprint/mqtt r=0 q=1 connected" ] ||
  pb_fail "expected the first message to be 'octoprint/mqtt r=0 q=1 connected', got '$first'"
pb_pass "connected is the first message"

re_printing="^octoprint/progress/printing r=0 q=0 \{\"location\": \"\", \"path\": \"\", \"progress\": 0, \"_timestamp\": $PB_TS\}$"
re_slicing="^octoprint/progress/slicing r=0 q=0 \{\"slicer\": \"\", \"source_location\": \"\", \"source_path\": \"\", \"destination_location\": \"\", \"destination_path\": \"\", \"progress\": 0, \"_timestamp\": $PB_TS\}$"
for t in printing slicing; do
  # published once the broker connection is up, not necessarily before FirmwareData
  pb_wait_for_line "$LIVE" "^octoprint/progress/$t " "$(pb_t 10)" || true
  n_ok=$(pb_lines "$LIVE" | grep -Ec "$( [ $t = printing ] && echo "$re_printing" || echo "$re_slicing")")
  n_all=$(pb_lines "$LIVE" | grep -c "^octoprint/progress/$t ")
  if [ "$n_ok" != 1 ] || [ "$n_all" != 1 ]; then
    pb_lines "$LIVE" | grep "^octoprint/progress/$t "
    pb_fail "expected exactly one progress/$t reset message matching the contract, got $n_all message(s), $n_ok matching (above)"
  fi
done
pb_pass "progress/printing and progress/slicing reset messages"

port_re=$(pb_re "$PB_LINK")
expected_events=(
  "^octoprint/event/Startup r=0 q=0 \{\"_event\": \"Startup\", \"_timestamp\": $PB_TS\}$"
  "^octoprint/event/Connecting r=0 q=0 \{\"_event\": \"Connecting\", \"_timestamp\": $PB_TS\}$"
  "^octoprint/event/PrinterStateChanged r=0 q=0 \{\"state_id\": \"OPEN_SERIAL\", \"state_string\": \"Opening serial connection\", \"_event\": \"PrinterStateChanged\", \"_timestamp\": $PB_TS\}$"
  "^octoprint/event/PrinterStateChanged r=0 q=0 \{\"state_id\": \"CONNECTING\", \"state_string\": \"Connecting\", \"_event\": \"PrinterStateChanged\", \"_timestamp\": $PB_TS\}$"
  "^octoprint/event/PrinterStateChanged r=0 q=0 \{\"state_id\": \"OPERATIONAL\", \"state_string\": \"Operational\", \"_event\": \"PrinterStateChanged\", \"_timestamp\": $PB_TS\}$"
  "^octoprint/event/Connected r=0 q=0 \{\"port\": \"$port_re\", \"baudrate\": 115200, \"_event\": \"Connected\", \"_timestamp\": $PB_TS\}$"
  "^octoprint/event/FirmwareData r=0 q=0 \{\"name\": \"([^\"]+)\", \"data\": \{\"FIRMWARE_NAME\": \"\\1\"(, \"[A-Z][A-Z0-9_]*\": \"([^\"\\\\]|\\\\.)*\")*\}, \"_event\": \"FirmwareData\", \"_timestamp\": $PB_TS\}$"
)
mapfile -t events < <(pb_lines "$LIVE" | grep '^octoprint/event/')
for i in "${!expected_events[@]}"; do
  if ! printf '%s\n' "${events[$i]:-<none>}" | grep -Eq -- "${expected_events[$i]}"; then
    echo "--- events received so far:"
    printf '%s\n' "${events[@]}"
    pb_fail "expected event #$((i + 1)) to match /${expected_events[$i]}/, got '${events[$i]:-<none>}'"
  fi
done
pb_pass "start-up events in order with exact payloads"

# --- 2. temperatures -------------------------------------------------------------------------
pb_expect_line "$LIVE" "^octoprint/temperature/tool0 r=0 q=0 \{\"actual\": $PB_FLOAT, \"target\": 210\.0, " \
  "$(pb_t 20)" "a tool0 temperature with target 210.0"
pb_expect_line "$LIVE" "^octoprint/temperature/bed r=0 q=0 \{\"actual\": $PB_FLOAT, \"target\": 60\.0, " \
  "$(pb_t 20)" "a bed temperature with target 60.0"

# actual climbs: some tool0 message (target 210.0) at least 5 degrees above the first one
first_hot=$(grep -E -m1 '^octoprint/temperature/tool0 .*"target": 210\.0' "$LIVE" | sed -E 's/.*"actual": ([-0-9.]+),.*/\1/')
climbed() {
  grep -E '^octoprint/temperature/tool0 .*"target": 210\.0' "$LIVE" | sed -E 's/.*"actual": ([-0-9.]+),.*/\1/' |
    awk -v a="$first_hot" '$1 >= a + 5 { found = 1 } END { exit !found }'
}
pb_wait_until "$(pb_t 20)" climbed ||
  pb_fail "expected tool0 actual to climb at least 5.0 above $first_hot within $(pb_t 20) s; got: $(grep '^octoprint/temperature/tool0' "$LIVE" | tail -n 3)"
pb_pass "tool0 heats up from $first_hot"

bad=$(pb_lines "$LIVE" | grep '^octoprint/temperature/' |
  grep -Ev "^octoprint/temperature/(tool[0-9]+|bed|chamber) r=0 q=0 \{\"actual\": $PB_FLOAT, \"target\": $PB_FLOAT, \"_timestamp\": $PB_TS\}$")
[ -z "$bad" ] || pb_fail "expected temperature lines like {\"actual\": 21.3, \"target\": 0.0, \"_timestamp\": N} (QoS 0), got: $(echo "$bad" | head -n 3)"
zero=$(pb_lines "$LIVE" | grep -E '^octoprint/temperature/.*\{"actual": 0\.0, "target": 0\.0,')
[ -z "$zero" ] || pb_fail "expected no temperature with actual and target both 0, got: $(echo "$zero" | head -n 1)"
# threshold rule (§8): consecutive published values of one sensor differ by >= 0.1 in actual,
# or in target
viol=$(pb_lines "$LIVE" | grep '^octoprint/temperature/' |
  sed -E 's/^octoprint\/temperature\/([a-z0-9]+) .*"actual": ([-0-9.]+), "target": ([-0-9.]+),.*/\1 \2 \3/' |
  awk '{ if (($1 in a) && (($2 - a[$1]) < 0.0999 && (a[$1] - $2) < 0.0999) && $3 == t[$1]) print; a[$1] = $2; t[$1] = $3 }')
[ -z "$viol" ] || pb_fail "expected each republished temperature to differ by >= 0.1 from the last published one, got repeats: $(echo "$viol" | head -n 3)"
pb_pass "temperature format, zero skip and 0.1 threshold"

# --- 3. retained set, seen by a subscriber that arrives late ---------------------------------
LATE=$PB_DIR/late.txt
pb_sub_start "$LATE" 'octoprint/#'
retained=$(pb_lines "$LATE" | grep ' r=1 ')
topics=$(echo "$retained" | cut -d' ' -f1 | grep -v '^octoprint/temperature/\(tool[1-9][0-9]*\|chamber\)$' | sort | tr '\n' ' ')
want="octoprint/event/FirmwareData octoprint/mqtt octoprint/progress/printing octoprint/progress/slicing octoprint/state octoprint/temperature/bed octoprint/temperature/tool0 "
if [ "$topics" != "$want" ]; then
  echo "--- retained messages seen by the late subscriber:"
  echo "$retained"
  pb_fail "expected the retained (r=1) topics to be exactly '$want' (plus optional tool1../chamber), got '$topics'"
fi
for re in '^octoprint/mqtt r=1 q=1 connected$' \
          "^octoprint/progress/printing r=1 q=0 \{\"location\": \"\", \"path\": \"\", \"progress\": 0, \"_timestamp\": $PB_TS\}$" \
          "^octoprint/temperature/tool0 r=1 q=0 \{\"actual\": $PB_FLOAT, \"target\": 210\.0, \"_timestamp\": $PB_TS\}$" \
          "^octoprint/temperature/bed r=1 q=0 \{\"actual\": $PB_FLOAT, \"target\": 60\.0, \"_timestamp\": $PB_TS\}$" \
          '^octoprint/event/FirmwareData r=1 q=0 \{"name": '; do
  echo "$retained" | grep -Eq -- "$re" || pb_fail "expected a retained message matching /$re/, got: $retained"
done
pb_pass "late subscriber gets exactly the retained set"

# all timestamps are integer epoch seconds of this run
T1=$(date +%s)
badts=$(pb_lines "$LIVE" | grep -o '"_timestamp": [0-9.e+-]*' | awk -v a="$((T0 - 2))" -v b="$((T1 + 2))" '$2 !~ /^[0-9]+$/ || $2 < a || $2 > b')
[ -z "$badts" ] || pb_fail "expected every _timestamp to be integer epoch seconds between $T0 and $T1, got: $(echo "$badts" | head -n 3)"

# --- 4. clean shutdown -----------------------------------------------------------------------
mark=$(pb_count "$LIVE")
pb_stop_daemon TERM
[ "$PB_DAEMON_RC" = 0 ] || pb_fail "expected exit status 0 after SIGTERM, got $PB_DAEMON_RC"
pb_expect_line "$LIVE" '^octoprint/mqtt r=0 q=1 disconnected$' "$(pb_t 10)" "octoprint/mqtt = disconnected after SIGTERM" "$mark"
pb_sub_sync "$LIVE"       # any will the broker might still send has arrived by now
got=$(pb_lines "$LIVE" "$mark" | grep -Ev '^octoprint/(temperature/|state )')
want=$(printf '%s\n' \
  'octoprint/event/Shutdown r=0 q=0 {"_event": "Shutdown", "_timestamp": N}' \
  'octoprint/event/Disconnecting r=0 q=0 {"_event": "Disconnecting", "_timestamp": N}' \
  'octoprint/event/PrinterStateChanged r=0 q=0 {"state_id": "OFFLINE", "state_string": "Offline", "_event": "PrinterStateChanged", "_timestamp": N}' \
  'octoprint/event/Disconnected r=0 q=0 {"_event": "Disconnected", "_timestamp": N}' \
  'octoprint/mqtt r=0 q=1 disconnected')
got_n=$(echo "$got" | sed -E 's/"_timestamp": [0-9]+\}$/"_timestamp": N}/')
if [ "$got_n" != "$want" ]; then
  echo "--- expected after SIGTERM (temperatures and the state topic left out; N = epoch seconds):"
  echo "$want"
  echo "--- got:"
  echo "$got"
  pb_fail "shutdown sequence differs (above)"
fi
after=$(pb_lines "$LIVE" "$mark" | sed -n '/^octoprint\/mqtt r=0 q=1 disconnected$/,$p' | tail -n +2)
[ -z "$after" ] || pb_fail "expected nothing after 'disconnected', got: $after"
n=$(grep -c '^octoprint/mqtt .* disconnected$' "$LIVE")
[ "$n" = 1 ] || pb_fail "expected exactly one 'disconnected' on octoprint/mqtt (no will after a clean DISCONNECT), got $n"
grep -q 'Received DISCONNECT from pb-test' "$PB_DIR/broker.log" ||
  pb_fail "expected the broker to log 'Received DISCONNECT from pb-test'; got: $(grep 'pb-test' "$PB_DIR/broker.log" | tail -n 3)"
pb_pass "clean shutdown sequence, exit 0, one 'disconnected', real DISCONNECT"

AFTER=$PB_DIR/after.txt
pb_sub_start "$AFTER" 'octoprint/mqtt'
grep -qx 'octoprint/mqtt r=1 q=1 disconnected' "$AFTER" ||
  pb_fail "expected a new subscriber to see 'octoprint/mqtt r=1 q=1 disconnected', got: $(pb_lines "$AFTER")"
pb_pass "retained 'disconnected' after shutdown"
echo "PASS test_it_mqtt_contract ($((SECONDS)) s)"
