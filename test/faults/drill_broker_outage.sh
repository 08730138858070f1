#!/usr/bin/env bash
# drill_broker_outage.sh: the broker stops for 8 s in the middle of a print and comes back.
# Events are QoS 1 (qos.event = 1); a persistent-session QoS 1 subscriber must receive every
# layer's ZChange (60 of them, several raised during the outage) in order, none lost, and the
# print itself must not notice: the simulator's record equals the file.
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
pb_bg mosquitto_sub -h 127.0.0.1 -p "$PORT" -c -i pb-drill-sub -q 1 -t 'octoprint/event/#' -v >>"$SUB" 2>>"$PB_DIR/sub.err"
PB_PIDS+=($!)
sleep 0.5

LAYERS=60
GCODE=$PB_DIR/job.gcode
RECORD=$PB_DIR/record.txt
drill_layers "$GCODE" "$LAYERS" 40
# about 2,500 lines at ~4 ms each: a 10 s print
pb_start_sim --fast --ok-delay-ms 4 --record "$RECORD"
pb_protocol_config "$PB_DIR/pb.conf"
printf 'qos: { event = 1; };\n' >>"$PB_DIR/pb.conf"
pb_start_daemon "$PB_DIR/pb.conf" --print "$GCODE"
pb_expect_line "$SUB" '^octoprint/event/ZChange ' "$(pb_t 20)" "the first ZChange"
sleep 1
pb_log "stopping the broker mid-print"
pb_stop_broker
sleep 8
pb_daemon_alive || pb_fail "printbridge died during the outage"
pb_log "starting it again"
start_broker
drill_wait_streamed "$(pb_t 60)"
pb_expect_line "$SUB" '^octoprint/event/ConnectivityChanged \{"old": false, "new": true' "$(pb_t 30)" "ConnectivityChanged back"
# the last layer's ZChange must arrive too
last=$(awk -v l="$LAYERS" 'BEGIN { printf "%.1f", l * 0.2 }')
pb_expect_line "$SUB" "^octoprint/event/ZChange .*\"new\": $last" "$(pb_t 20)" "the last layer's ZChange"
sleep 0.5
pb_stop_daemon TERM
pb_stop_sim TERM
drill_check_record "$GCODE" "$RECORD"

grep '^octoprint/event/ZChange ' "$SUB" | sed -E 's/.*"new": ([0-9.]+).*/\1/' >"$PB_DIR/z.txt"
awk -v l="$LAYERS" 'BEGIN { for (i = 1; i <= l; i++) printf "%.1f\n", i * 0.2 }' >"$PB_DIR/z.want"
# QoS 1 allows a redelivery; none may be missing and the order must hold
uniq "$PB_DIR/z.txt" >"$PB_DIR/z.got"
if ! cmp -s "$PB_DIR/z.want" "$PB_DIR/z.got"; then
  diff "$PB_DIR/z.want" "$PB_DIR/z.got" | head -n 20
  pb_fail "ZChange events lost or out of order across the outage (want $LAYERS, got $(wc -l <"$PB_DIR/z.got") distinct)"
fi
grep -q 'connection to .* lost\|lost' "$PB_DIR/daemon.log" || pb_fail "the daemon never noticed the outage (was the broker really down?)"
dups=$(( $(wc -l <"$PB_DIR/z.txt") - LAYERS ))
echo "FIGURE drill_broker_outage zchange=$LAYERS redelivered=$dups"
pb_pass "broker outage mid-print: $LAYERS ZChange QoS 1 events, none lost, in order; the print ran exactly"
