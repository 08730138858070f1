# test_hooks_examples.sh: event hooks in the running daemon, on the simulator:
#   1. the beep G-code hook of docs/hooks-examples.conf, as written: a print ends, PrintDone
#      fires, and the printer runs the three M300 lines in order, after the file's lines
#   2. a system hook on Connected publishes HookFinished on MQTT with its output, and a
#      hanging one is killed by its timeout
. "$(dirname "$0")/lib.sh"
pb_init

pb_start_broker_any
REC=$PB_DIR/rec.txt
LIVE=$PB_DIR/live.txt
pb_sub_start "$LIVE" 'octoprint/#'
pb_start_sim --record "$REC"
cat >"$PB_DIR/ours.txt" <<'EOT'
        { name = "port"; event = "Connected"; type = "system"; command = "printf '%s|%s' {port} {__eventname}"; },
        { name = "hang"; event = "Connected"; type = "system"; timeout = 1; command = "sleep 60"; },
EOT
# one events group: the examples' subscriptions, as written, plus two of ours
examples=$(sed -e "/subscriptions = (/r $PB_DIR/ours.txt" "$PB_SRCDIR/docs/hooks-examples.conf")
grep -q 'name = "beep"; event = "PrintDone";' <<<"$examples" || pb_fail "the beep example changed; update this test"
PB_CFG_EXTRA=$examples
pb_write_config "$PB_DIR/pb.conf"
printf 'G28\nG1 X10 Y10 F3000\nG1 X20\n' >"$PB_DIR/short.gcode"
pb_start_daemon "$PB_DIR/pb.conf" --print "$PB_DIR/short.gcode"
pb_expect_line "$LIVE" '^octoprint/event/PrintDone ' "$(pb_t 30)" "the print to end"

pb_wait_until "$(pb_t 15)" grep -qx 'M300 S1320 P300' "$REC" || pb_fail "the beep never reached the printer"
got=$(grep '^M300' "$REC")
[ "$got" = $'M300 S880 P200\nM300 S0 P100\nM300 S1320 P300' ] || pb_fail "beep lines: $got"
after=$(grep -E '^(G1 X20|M300 S880 P200)$' "$REC" | tr '\n' '|')
[ "$after" = 'G1 X20|M300 S880 P200|' ] || pb_fail "the beep came before the print's last line: $after"
pb_pass "the beep example sends its three M300 lines in order when the print is done"

port_re=$(pb_re "$PB_LINK")
pb_expect_line "$LIVE" "^octoprint/event/HookFinished r=0 q=0 \\{\"name\": \"port\", \"trigger\": \"Connected\", \"type\": \"system\", \"returncode\": 0, \"stdout\": \"$port_re\\|Connected\", \"stderr\": \"\", \"duration\": $PB_FLOAT, \"_event\": \"HookFinished\", \"_timestamp\": $PB_TS\\}\$" \
  "$(pb_t 15)" "HookFinished of the port hook"
pb_expect_line "$LIVE" "^octoprint/event/HookFinished r=0 q=0 \\{\"name\": \"hang\", \"trigger\": \"Connected\", \"type\": \"system\", \"returncode\": -9, \"stdout\": \"\", \"stderr\": \"\", \"duration\": $PB_FLOAT, \"error\": \"timed out after 1 s; killed it and its process group\", \"_event\": \"HookFinished\", \"_timestamp\": $PB_TS\\}\$" \
  "$(pb_t 15)" "HookFinished of the hanging hook"
pb_pass "system hooks publish HookFinished; the hanging one is killed after its timeout"

pb_stop_daemon
[ "$PB_DAEMON_RC" = 0 ] || pb_fail "exit status $PB_DAEMON_RC"
