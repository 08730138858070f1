# test_commands_flood.sh: 10,000 commands as fast as mosquitto_pub sends them (valid G-code
# with ids, duplicates, unknown commands, bad JSON) leave the daemon responsive, every valid
# command executed exactly once, and its memory bounded (VmRSS before and after).
#
# Under ASan freed memory sits in a quarantine; it is capped here so RSS measures what the
# daemon keeps, not what the sanitizer holds back.
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0:quarantine_size_mb=16}
. "$(dirname "$0")/lib.sh"
pb_init

pb_start_broker_any
REC=$PB_DIR/rec.txt
LIVE=$PB_DIR/live.txt
pb_sub_start "$LIVE" 'octoprint/#'
pb_start_sim --record "$REC" --fast
pb_write_config "$PB_DIR/pb.conf"
pb_start_daemon "$PB_DIR/pb.conf"
pb_expect_line "$LIVE" '"state_id": "OPERATIONAL"' "$(pb_t 20)" "the printer to become operational"
P() { mosquitto_pub -h 127.0.0.1 -p "$PB_MQTT_PORT" -q 1 "$@"; }
# ask TOPIC JSON WHAT REPLY_RE: publishes JSON (a printf format: %d is the try) on TOPIC every
# 2 s until a line matching REPLY_RE comes. One try is not enough: a request sent while the
# broker still drops for the busy daemon may be lost, a reply that finds Paho's send buffer
# full is dropped (replies are never queued), and under such a burst Paho 1.3 can leave writes
# pending until its next keepalive. Fails after 120 s.
ask() {
  local n=0 deadline=$(( SECONDS + $(pb_t 120) ))
  while (( SECONDS < deadline )); do
    n=$((n + 1))
    P -t "$1" -m "$(printf "$2" "$n")"
    pb_wait_for_line "$LIVE" "$4" 2 && return 0
  done
  pb_fail "no reply to $3 within $(pb_t 120) s: the daemon is not responsive"
}
probe() {
  ask octoprint/command/status "{\"id\": \"$1-%d\"}" "a status request ($1)" \
    "^octoprint/command/status/response r=0 q=1 \\{\"id\": \"$1-[0-9]+\", \"result\": \"ok\""
}

# warm up every path once, then measure
P -t octoprint/command/gcode -m '{"id": "warm", "commands": ["M117 warm"]}'
P -t octoprint/command/fly -m 'x'
pb_expect_line "$LIVE" '^octoprint/command/fly/response ' "$(pb_t 10)" "the warm-up reply"
sleep 1
before=$(pb_daemon_kb VmRSS)

# 2,500 each: G-code with a unique id, the same ids again, unknown commands, bad JSON
for i in $(seq 2500); do printf '{"id": %d, "commands": ["M117 flood-%d"]}\n' "$i" "$i"; done >"$PB_DIR/gcode.txt"
for i in $(seq 2500); do printf '{"id": "u%d"}\n' "$i"; done >"$PB_DIR/fly.txt"
for i in $(seq 2500); do printf '{"id": %d, "commands": [\n' "$i"; done >"$PB_DIR/bad.txt"
t0=$SECONDS
pubs=()
P -t octoprint/command/gcode -l <"$PB_DIR/gcode.txt" & pubs+=($!)
P -t octoprint/command/fly -l <"$PB_DIR/fly.txt" & pubs+=($!)
P -t octoprint/command/gcode -l <"$PB_DIR/bad.txt" & pubs+=($!)
PB_PIDS+=("${pubs[@]}")
wait "${pubs[@]}"
P -t octoprint/command/gcode -l <"$PB_DIR/gcode.txt"
pb_log "10,000 commands published in $((SECONDS - t0)) s"

# responsive: a status request is answered once the flood is worked off. The broker itself
# drops what it cannot queue for a slow client (mosquitto's max_queued_messages), so not every
# command arrives; what arrives must run at most once.
probe after-flood
ask octoprint/command/gcode '{"id": "end-%d", "commands": ["M117 flood-end"]}' "the last command" \
  '^octoprint/command/gcode/response r=0 q=1 \{"id": "end-[0-9]+", "result": "ok"\}$'
pb_wait_for_line "$REC" '^M117 flood-end$' "$(pb_t 60)" || pb_fail "the printer never got the last command"
pb_log "worked off in $((SECONDS - t0)) s"

n=$(grep -c '^M117 flood-[0-9]' "$REC")
dups=$(grep '^M117 flood-[0-9]' "$REC" | sort | uniq -d | head -n 3)
[ -z "$dups" ] || pb_fail "lines run twice: $dups"
[ "$n" -gt 0 ] || pb_fail "no flood command reached the printer"
oks=$(grep -c '^octoprint/command/gcode/response .*"result": "ok"' "$LIVE")
pb_log "$n flood commands ran, $oks ok replies seen, $(grep -c 'dropped .* inbound message' "$PB_DIR/daemon.log") inbound drop warnings"
# every ok reply a subscriber saw belongs to a line the printer ran
grep -o '^octoprint/command/gcode/response r=0 q=1 {"id": [0-9]*, "result": "ok"}' "$LIVE" | grep -o '[0-9]*, "result' |
  grep -o '^[0-9]*' | while read -r id; do
    grep -qx "M117 flood-$id" "$REC" || { echo "ok reply for id $id but the printer never ran it"; exit 1; }
  done || pb_fail "an ok reply without the command having run"
pb_daemon_alive || pb_fail "the daemon died"
pb_pass "10,000 commands: nothing ran twice, every ok reply matches a run line, daemon responsive"

sleep 1
after=$(pb_daemon_kb VmRSS)
growth=$(( after - before ))
pb_log "VmRSS before ${before} kB, after ${after} kB (growth ${growth} kB)"
# a sanitizer build keeps shadow memory and a (capped) quarantine: more room, same shape
if (( PB_SANITIZED )); then limit=65536 again=8192; else limit=16384 again=4096; fi
[ "$growth" -lt "$limit" ] || pb_fail "VmRSS grew by $growth kB (limit $limit kB)"

# the same flood again: what the first one left must be reused, not added to
P -t octoprint/command/fly -l <"$PB_DIR/fly.txt"
P -t octoprint/command/gcode -l <"$PB_DIR/bad.txt"
P -t octoprint/command/gcode -l <"$PB_DIR/gcode.txt"
probe after-second-flood
sleep 1
after2=$(pb_daemon_kb VmRSS)
pb_log "VmRSS after the second flood ${after2} kB (growth $(( after2 - after )) kB)"
[ $(( after2 - after )) -lt "$again" ] || pb_fail "VmRSS grew by $(( after2 - after )) kB in the second flood (limit $again kB): memory is not bounded"
pb_pass "memory bounded: VmRSS grew by $growth kB, then $(( after2 - after )) kB for the same flood again"

pb_stop_daemon
[ "$PB_DAEMON_RC" = 0 ] || pb_fail "exit status $PB_DAEMON_RC"
