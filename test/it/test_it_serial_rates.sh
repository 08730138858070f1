# test_it_serial_rates.sh: the serial layer at a non-standard rate and with rate detection.
#   1. baudrate = 250000 (termios2 path) connects and reports 250000 in Connected
#   2. baudrate = "auto" connects (the simulator answers at any rate) and reports the rate used
#   3. --list-ports runs and exits 0 (no USB devices here: it must still say something)
. "$(dirname "$0")/lib.sh"
pb_init
pb_start_broker_any
LIVE=$PB_DIR/live.txt
pb_sub_start "$LIVE" 'octoprint/event/Connected'
pb_start_sim
port_re=$(pb_re "$PB_LINK")

for rate in 250000 '"auto"'; do
  pb_write_config "$PB_DIR/pb.conf"
  sed -i "s/baudrate = 115200;/baudrate = $rate;/" "$PB_DIR/pb.conf"
  grep -q "baudrate = $rate;" "$PB_DIR/pb.conf" || pb_fail "could not set baudrate $rate in the test config"
  mark=$(pb_count "$LIVE")
  pb_start_daemon "$PB_DIR/pb.conf"
  want=$([ "$rate" = 250000 ] && echo 250000 || echo 115200)
  pb_expect_line "$LIVE" "^octoprint/event/Connected r=0 q=0 \{\"port\": \"$port_re\", \"baudrate\": $want, " \
    "$(pb_t 30)" "Connected at $want baud for baudrate = $rate" "$mark"
  pb_stop_daemon TERM
  [ "$PB_DAEMON_RC" = 0 ] || pb_fail "expected exit status 0 after SIGTERM, got $PB_DAEMON_RC"
  pb_pass "baudrate = $rate connects at $want"
done

out=$("$PB_BUILD/printbridge" --list-ports 2>&1) || pb_fail "expected --list-ports to exit 0, got $?: $out"
[ -n "$out" ] || pb_fail "expected --list-ports to print the ports found (or say there are none)"
pb_pass "--list-ports: $(echo "$out" | head -n 1)"
echo "PASS test_it_serial_rates ($((SECONDS)) s)"
