#!/usr/bin/env bash
# drill_outage_kill9.sh: the broker goes away in the middle of a print, events pile up in the
# offline buffer (QoS 1), and printbridge is killed with SIGKILL before the broker is back. The
# buffer is written to mqtt.queue_file as each message is queued, so after a restart every
# ZChange raised during the outage reaches a persistent-session QoS 1 subscriber once, in order
# (-R: the retained copy a resubscribing client is handed is not a delivery).
set -u
. "$(dirname "$0")/../it/lib.sh"
. "$(dirname "$0")/common.sh"
pb_init
PORT=$(pb_free_port)
mkdir -p "$PB_DIR/db"
cat >"$PB_DIR/mosq.conf" <<CONF
listener $PORT 127.0.0.1
allow_anonymous true
persistence true
persistence_location $PB_DIR/db/
user $(id -un)
CONF
start_broker() {
  pb_bg mosquitto -c "$PB_DIR/mosq.conf" >>"$PB_DIR/broker.log" 2>&1
  PB_BROKER_PID=$!; PB_PIDS+=("$PB_BROKER_PID")
  pb_wait_until "$(pb_t 10)" pb_port_in_use "$PORT" || pb_fail "mosquitto did not start on $PORT"
}
start_broker
PB_MQTT_PORT=$PORT
SUB=$PB_DIR/sub.txt
pb_bg mosquitto_sub -h 127.0.0.1 -p "$PORT" -c -R -i pb-drill-sub -q 1 -t 'octoprint/event/ZChange' -v >>"$SUB" 2>>"$PB_DIR/sub.err"
PB_PIDS+=($!)
sleep 0.5

GCODE=$PB_DIR/job.gcode
RECORD=$PB_DIR/record.txt
QUEUE=$PB_DIR/queue
drill_layers "$GCODE" 400 20
pb_start_sim --fast --ok-delay-ms 3 --record "$RECORD"
pb_protocol_config "$PB_DIR/pb.conf"
sed -i "s|client_id = \"pb-test\";|client_id = \"pb-test\"; queue_file = \"$QUEUE\";|" "$PB_DIR/pb.conf"
printf 'qos: { event = 1; };\n' >>"$PB_DIR/pb.conf"
pb_start_daemon "$PB_DIR/pb.conf" --print "$GCODE"
pb_expect_line "$SUB" '^octoprint/event/ZChange ' "$(pb_t 20)" "the first ZChange"
pb_log "stopping the broker mid-print"
pb_stop_broker
pb_wait_for_line "$PB_DIR/daemon.log" "mqtt: connection to .* lost" "$(pb_t 20)" ||
  pb_fail "printbridge did not notice the broker going away"
# let a dozen layers pass while the broker is away
z0=$(grep -c '^G1 Z' "$RECORD")
pb_wait_until "$(pb_t 30)" eval '[ $(grep -c "^G1 Z" "$RECORD") -ge $((z0 + 12)) ]' ||
  pb_fail "the print did not go on during the outage"
kill -KILL "$PB_DAEMON_PID"
wait "$PB_DAEMON_PID" 2>/dev/null
PB_DAEMON_PID=
# the printer works through what it had received, then stops
sleep 1.5
pb_stop_sim TERM
# every layer the printer started (its G1 Z line) raised a ZChange before the kill
grep '^G1 Z' "$RECORD" | sed -E 's/^G1 Z([0-9.]+).*/\1/' >"$PB_DIR/z.want"
queued=$(( $(wc -l <"$PB_DIR/z.want") - z0 ))
cp "$QUEUE" "$PB_DIR/queue.at-kill" 2>/dev/null
[ -s "$QUEUE" ] || pb_fail "no queue file at $QUEUE after the kill"
pb_log "killed with $queued ZChange events raised during the outage; starting the broker and printbridge again"
start_broker
pb_start_daemon "$PB_DIR/pb.conf"
last=$(tail -n 1 "$PB_DIR/z.want")
pb_expect_line "$SUB" "^octoprint/event/ZChange .*\"new\": $last," "$(pb_t 30)" "the last ZChange raised before the kill"
sleep 1
pb_stop_daemon TERM
grep '^octoprint/event/ZChange ' "$SUB" | sed -E 's/.*"new": ([0-9.]+).*/\1/' >"$PB_DIR/z.got"
# the one in flight when the broker went away may come twice (QoS 1: its PUBACK was lost);
# none may be missing, the order must hold, and each raised during the outage comes once
if ! uniq "$PB_DIR/z.got" | cmp -s "$PB_DIR/z.want" -; then
  diff "$PB_DIR/z.want" <(uniq "$PB_DIR/z.got") | head -n 20
  pb_fail "the subscriber's ZChange events differ from the layers printed ($(wc -l <"$PB_DIR/z.want") expected, $(wc -l <"$PB_DIR/z.got") received)"
fi
tail -n "$queued" "$PB_DIR/z.want" >"$PB_DIR/z.outage"
twice=$(grep -cxFf "$PB_DIR/z.outage" "$PB_DIR/z.got")
[ "$twice" = "$queued" ] || pb_fail "$queued events were queued during the outage but $twice deliveries of them arrived"
pb_pass "kill -9 during a broker outage: all $queued queued ZChange events arrived after the restart, once each, in order"
