# test_timelapse_snapshot.sh: snapshots on demand through the whole daemon.
#   1. command/snapshot runs the snapshot command and its image bytes arrive on
#      octoprint/camera, not retained; the command's reply says ok
#   2. Home Assistant discovery announces the MQTT camera on octoprint/camera
#   3. a failing camera: an error reply, nothing on octoprint/camera, the daemon runs on
. "$(dirname "$0")/lib.sh"
pb_init
pb_start_broker_any
LIVE=$PB_DIR/live.txt
pb_sub_start "$LIVE" 'octoprint/#'
HA=$PB_DIR/ha.txt
pb_sub_start "$HA" 'homeassistant/device/+/config'
pb_start_sim --fast
# the "image": printable bytes, so the subscriber's line shows them exactly
head -c 900 /dev/urandom | base64 -w0 >"$PB_DIR/img.jpg"
img=$(cat "$PB_DIR/img.jpg")
PB_CFG_EXTRA="timelapse: { snapshot_command = [ \"/bin/sh\", \"-c\", \"[ -e $PB_DIR/broken ] && { echo 'camera unplugged' >&2; exit 3; }; cp $PB_DIR/img.jpg \\\"\$0\\\"\", \"{file}\" ];
  frames_folder = \"$PB_DIR/frames\"; output_folder = \"$PB_DIR/movies\"; };" pb_write_config "$PB_DIR/pb.conf"
pb_start_daemon "$PB_DIR/pb.conf"
pb_expect_line "$LIVE" '^octoprint/event/Connected ' "$(pb_t 30)" "the Connected event"

# --- 1 ------------------------------------------------------------------------------------------
mark=$(pb_count "$LIVE")
mosquitto_pub -h 127.0.0.1 -p "$PB_MQTT_PORT" -q 1 -t octoprint/command/snapshot -m '{"id": "s1"}'
pb_expect_line "$LIVE" "^octoprint/camera r=0 q=0 $(pb_re "$img")\$" "$(pb_t 10)" "the image on octoprint/camera" "$mark"
pb_expect_line "$LIVE" '^octoprint/command/snapshot/response r=0 q=1 \{"id": "s1", "result": "ok"' "$(pb_t 10)" "the ok reply" "$mark"
late=$(timeout 2 mosquitto_sub -h 127.0.0.1 -p "$PB_MQTT_PORT" -t octoprint/camera -C 1 -W 1 2>/dev/null || true)
[ -z "$late" ] || pb_fail "octoprint/camera was retained"
ls -A "$PB_DIR/frames" | grep -q . && pb_fail "the snapshot's temporary file was left in $PB_DIR/frames"
pb_pass "command/snapshot publishes the camera image, not retained"

# --- 2 ------------------------------------------------------------------------------------------
pb_expect_line "$HA" '"camera": \{"p": "camera", "name": "Camera", "uniq_id": "pb-test_camera", .*"t": "octoprint/camera", "ic": "mdi:camera"\}' "$(pb_t 10)" "the camera entity in the discovery config"
pb_pass "Home Assistant discovery offers the camera"

# --- 3 ------------------------------------------------------------------------------------------
touch "$PB_DIR/broken"
mark=$(pb_count "$LIVE")
mosquitto_pub -h 127.0.0.1 -p "$PB_MQTT_PORT" -q 1 -t octoprint/command/snapshot -m '{"id": "s2"}'
pb_expect_line "$LIVE" '^octoprint/command/snapshot/response r=0 q=1 \{"id": "s2", "result": "ok"' "$(pb_t 10)" "the reply to the second snapshot" "$mark"
pb_wait_until "$(pb_t 10)" grep -q 'snapshot on demand failed: snapshot command failed (3): camera unplugged' "$PB_DIR/daemon.log" ||
  pb_fail "the failing camera was not logged"
pb_lines "$LIVE" "$mark" | grep -q '^octoprint/camera ' && pb_fail "a failed snapshot published something on octoprint/camera"
pb_daemon_alive || pb_fail "the daemon died"
pb_pass "a failing camera is logged; nothing is published"
pb_stop_daemon TERM
echo "PASS test_timelapse_snapshot ($SECONDS s)"
