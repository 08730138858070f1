# test_jobs_disconnect_script.sh: scripts.beforePrinterDisconnected as a user sees it
# (docs/jobs.md): {"command": "disconnect"} on command/connection sends the script to the
# printer, publishes GcodeScriptBeforePrinterDisconnectedRunning and ...Finished around it, and
# only then closes the link: the printer received the script's lines, in order, before
# Disconnecting and Disconnected. With no script the link closes at once.
. "$(dirname "$0")/lib.sh"
pb_init
pb_start_broker_any
LIVE=$PB_DIR/live.txt
pb_sub_start "$LIVE" 'octoprint/event/#'
REC=$PB_DIR/record.txt
pb_start_sim --fast --record "$REC"
PB_CFG_SCRIPT='"M117 hello"' pb_write_config "$PB_DIR/pb.conf"
sed -i 's/^scripts: {/scripts: { beforePrinterDisconnected = [ "M117 bye", "M18" ];/' "$PB_DIR/pb.conf"
pb_start_daemon "$PB_DIR/pb.conf"
pb_expect_line "$LIVE" '^octoprint/event/Connected ' "$(pb_t 30)" "Connected"
pb_wait_until "$(pb_t 10)" grep -qx 'M117 hello' "$REC" || pb_fail "the printer never got the connect script"

mark=$(pb_count "$LIVE")
mosquitto_pub -h 127.0.0.1 -p "$PB_MQTT_PORT" -q 1 -t octoprint/command/connection -m '{"command": "disconnect"}'
pb_expect_line "$LIVE" '^octoprint/event/Disconnected ' "$(pb_t 10)" "Disconnected" "$mark"
got=$(pb_lines "$LIVE" "$mark" | grep -E '^octoprint/event/(GcodeScript[A-Za-z]*|Disconnecting|Disconnected) ' |
      sed -E 's/, "_timestamp": [0-9]+\}$/}/; s/^octoprint\/event\/([A-Za-z]+) r=[01] q=[0-9] /\1 /')
want='GcodeScriptBeforePrinterDisconnectedRunning {"_event": "GcodeScriptBeforePrinterDisconnectedRunning"}
GcodeScriptBeforePrinterDisconnectedFinished {"_event": "GcodeScriptBeforePrinterDisconnectedFinished"}
Disconnecting {"_event": "Disconnecting"}
Disconnected {"_event": "Disconnected"}'
[ "$got" = "$want" ] || pb_fail "the disconnect's events differ; got:
$got
expected:
$want"
last=$(grep -v '^M105' "$REC" | tail -n 2 | tr '\n' ' ')
[ "$last" = "M117 bye M18 " ] || pb_fail "the printer's last commands were '$last', not the script's 'M117 bye M18'"
pb_pass "disconnect: beforePrinterDisconnected reaches the printer, between its GcodeScript events, before the link closes"

# without a script: the link closes at once, no GcodeScript event
pb_stop_daemon TERM
sed -i 's/beforePrinterDisconnected = \[ "M117 bye", "M18" \];//' "$PB_DIR/pb.conf"
mark=$(pb_count "$LIVE")
pb_start_daemon "$PB_DIR/pb.conf"
pb_expect_line "$LIVE" '^octoprint/event/Connected ' "$(pb_t 30)" "Connected again" "$mark"
mosquitto_pub -h 127.0.0.1 -p "$PB_MQTT_PORT" -q 1 -t octoprint/command/connection -m disconnect
pb_expect_line "$LIVE" '^octoprint/event/Disconnected ' "$(pb_t 10)" "Disconnected" "$mark"
pb_lines "$LIVE" "$mark" | grep -q '^octoprint/event/GcodeScript' && pb_fail "a GcodeScript event without a script"
pb_pass "disconnect without a script: no GcodeScript event, the link closes"
