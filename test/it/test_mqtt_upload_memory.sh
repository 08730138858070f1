# test_mqtt_upload_memory.sh: a large upload over MQTT leaves no memory behind, and nobody
# watching the broker can tell how. Paho keeps a receive buffer of the largest packet it has
# read until its client is destroyed, so after a message of 1 MiB or more printbridge renews
# its client (src/mqtt/client.c). Three 4 MB uploads, one after the other:
#   1. each is stored byte for byte, with FileAdded and Upload published (QoS 0 events published
#      while the client is renewed are kept, not dropped as in an outage)
#   2. a command sent once Upload has arrived is answered: the subscriptions are back
#   3. resident memory after each is within 2 MB of what it was before the first, and the peak
#      while they arrive is at most twice an upload (both in Paho) plus 3 MB: printbridge
#      writes Paho's copy out without one of its own (not checked under the sanitizers,
#      whose memory figures mean nothing)
#   4. <base>mqtt carried "connected" once and nothing else; no ConnectivityChanged event
#   5. the renewal logs nothing at info level or above
#   6. a large upload refused at once (bad path): its error reply, and the reply to a command
#      sent the moment that reply arrives, both come (replies wait for the new client)
. "$(dirname "$0")/lib.sh"
pb_init
pb_start_broker_any
LIVE=$PB_DIR/live.txt
pb_sub_start "$LIVE" 'octoprint/#'
pb_start_sim
PB_CFG_STORAGE="max_upload_size = 16; " pb_write_config "$PB_DIR/pb.conf"
pb_start_daemon "$PB_DIR/pb.conf"
pb_expect_line "$LIVE" '^octoprint/event/Connected ' "$(pb_t 30)" "the Connected event"
sleep 1     # the start-up burst is over

before=$(pb_daemon_kb VmRSS)
: >"$PB_DIR/up.gcode"
for i in $(seq 1 30); do head -c 100000 /dev/urandom | base64 -w 0 >>"$PB_DIR/up.gcode"; echo >>"$PB_DIR/up.gcode"; done
size=$(stat -c %s "$PB_DIR/up.gcode")
(( size > 4000000 )) || pb_fail "the test file has $size bytes, expected over 4 MB"
marks=$(grep -c . "$PB_DIR/daemon.log")

for n in 1 2 3; do
  mark=$(pb_count "$LIVE")
  mosquitto_pub -h 127.0.0.1 -p "$PB_MQTT_PORT" -q 1 -t "octoprint/command/upload/up$n.gcode" -f "$PB_DIR/up.gcode"
  pb_expect_line "$LIVE" "^octoprint/event/FileAdded r=0 q=0 \\{\"storage\": \"local\", \"path\": \"up$n\\.gcode\"" \
    "$(pb_t 20)" "FileAdded for upload $n" "$mark"
  pb_expect_line "$LIVE" "^octoprint/event/Upload r=0 q=0 \\{\"name\": \"up$n\\.gcode\"" "$(pb_t 20)" "Upload for upload $n" "$mark"
  cmp -s "$PB_DIR/up.gcode" "$PB_DIR/files/up$n.gcode" || pb_fail "upload $n: the stored file differs from the uploaded one"
  mosquitto_pub -h 127.0.0.1 -p "$PB_MQTT_PORT" -q 1 -t octoprint/command/status -m "{\"id\": \"after$n\"}"
  pb_expect_line "$LIVE" "^octoprint/command/status/response r=0 q=1 \\{\"id\": \"after$n\", \"result\": \"ok\"" \
    "$(pb_t 10)" "the reply to a command sent after upload $n" "$mark"
  sleep 0.5   # the written upload's pages go back once the reply is out
  after=$(pb_daemon_kb VmRSS)
  pb_log "upload $n: RSS $before kB before the first, $after kB after"
  (( PB_SANITIZED || after <= before + 2048 )) || pb_fail "upload $n: RSS $after kB, more than 2 MB over the $before kB before"
done
peak=$(pb_daemon_kb VmHWM)
pb_log "peak RSS $peak kB for uploads of $size bytes"
(( PB_SANITIZED || peak <= before + 2 * size / 1024 + 3072 )) ||
  pb_fail "peak RSS $peak kB: more than twice the upload ($size bytes) plus 3 MB over the $before kB before"
if (( PB_SANITIZED )); then
  pb_pass "three 4 MB uploads stored, events and command replies kept (memory not checked: a sanitizer build)"
else
  pb_pass "three 4 MB uploads stored, events and command replies kept, RSS back within 2 MB ($before -> $after kB, peak $peak kB)"
fi

n=$(pb_lines "$LIVE" | grep -c '^octoprint/mqtt ')
m=$(pb_lines "$LIVE" | grep -c '^octoprint/mqtt r=0 q=1 connected$')
[ "$n" = 1 ] && [ "$m" = 1 ] || pb_fail "expected <base>mqtt to carry 'connected' once, got $n messages: $(pb_lines "$LIVE" | grep '^octoprint/mqtt ' | tr '\n' ' ')"
pb_lines "$LIVE" | grep -q '^octoprint/event/ConnectivityChanged ' && pb_fail "a renewal published ConnectivityChanged"
tail -n +"$((marks + 1))" "$PB_DIR/daemon.log" | grep -E ' (info|warn|error) +mqtt:' &&
  pb_fail "the renewals logged the mqtt lines above"
pb_pass "subscribers saw no sign of the renewals: one 'connected', no ConnectivityChanged, no log line"
mark=$(pb_count "$LIVE")
mosquitto_pub -h 127.0.0.1 -p "$PB_MQTT_PORT" -q 1 -t 'octoprint/command/upload/../up.gcode' -f "$PB_DIR/up.gcode"
pb_expect_line "$LIVE" '^octoprint/command/upload/\.\./up\.gcode/response r=0 q=1 \{"id": null, "result": "error"' \
  "$(pb_t 10)" "the error reply to the refused upload" "$mark"
mosquitto_pub -h 127.0.0.1 -p "$PB_MQTT_PORT" -q 1 -t octoprint/command/status -m '{"id": "at-once"}'
pb_expect_line "$LIVE" '^octoprint/command/status/response r=0 q=1 \{"id": "at-once", "result": "ok"' \
  "$(pb_t 10)" "the reply to a command sent as soon as the error reply came" "$mark"
pb_pass "a refused large upload: its error reply, then a command sent at once is answered"
pb_stop_daemon
echo "PASS test_mqtt_upload_memory ($SECONDS s)"
