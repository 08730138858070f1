# test_docs_walkthrough.sh: README.md's "Your first print" run exactly as written, against the
# simulator and a private mosquitto, checking the output the README shows.
#
# The README marks its blocks with an HTML comment on the line before the fence:
#   <!-- walkthrough: watch -->   a command for a second terminal: run in the background, its
#                                 output is "what the user sees"
#   <!-- walkthrough: run -->     commands for the first terminal: all run blocks form one
#                                 shell session (set -e), in order, in a fresh folder whose
#                                 build/ holds this build's printbridge and printbridge-sim
#   <!-- walkthrough: output -->  lines the watching terminal must show next, in this order
#                                 (other lines may come between); "…" stands for anything
# The README talks to a broker on localhost:1883; here the clients get the private broker's
# port from their own option files ($XDG_CONFIG_HOME/mosquitto_pub, .../mosquitto_sub) and the
# configuration's "port = 1883;" is pointed at it. Nothing else in the commands is changed.
. "$(dirname "$0")/lib_mqtt.sh"
PB_SRCDIR=${PB_SRCDIR:-$(cd "$(dirname "$0")/../.." && pwd)}
README=$PB_SRCDIR/README.md
m_init
for tool in mosquitto mosquitto_sub mosquitto_pub setsid; do
  command -v "$tool" >/dev/null || m_fail "'$tool' is missing (scripts/install-deps.sh test)"
done
[ -x "$PB_BUILD/printbridge-sim" ] || m_fail "no simulator binary at $PB_BUILD/printbridge-sim"

# --- the marked blocks, in order: $M_DIR/blocks/NN.KIND ------------------------------------------
mkdir -p "$M_DIR/blocks"
awk -v dir="$M_DIR/blocks" '
  /^<!-- walkthrough: (watch|run|output) -->$/ { kind = $3; want = 1; next }
  want && /^```/ { n++; file = sprintf("%s/%02d.%s", dir, n, kind); inblock = 1; want = 0; printf "" >file; next }
  want && !/^[[:space:]]*$/ { print "a walkthrough marker is not followed by a fenced block: " $0 >"/dev/stderr"; exit 1 }
  inblock && /^```/ { inblock = 0; close(file); next }
  inblock { print >>file }
' "$README" || m_fail "README.md: a walkthrough marker without its block"
ls "$M_DIR/blocks" | grep -q '\.watch$' || m_fail "README.md has no <!-- walkthrough: watch --> block"
n_run=$(ls "$M_DIR/blocks" | grep -c '\.run$')
n_out=$(ls "$M_DIR/blocks" | grep -c '\.output$')
[ "$n_run" -ge 5 ] && [ "$n_out" -ge 5 ] || m_fail "README.md's walkthrough has $n_run run and $n_out output blocks; expected at least 5 of each"

# --- a private broker on localhost, and the clients pointed at it ----------------------------------
PORT=$(m_free_port)
printf 'listener %s localhost\nallow_anonymous true\n' "$PORT" >"$M_DIR/broker.conf"
m_start_broker "$M_DIR/broker.conf" "$PORT"
export XDG_CONFIG_HOME=$M_DIR/xdg
mkdir -p "$XDG_CONFIG_HOME"
printf -- '-p %s\n' "$PORT" >"$XDG_CONFIG_HOME/mosquitto_pub"
printf -- '-p %s\n' "$PORT" >"$XDG_CONFIG_HOME/mosquitto_sub"
grep -q 'port = 1883;' "$M_DIR"/blocks/*.run || m_fail "README.md's configuration has no 'port = 1883;' to point at the test broker"
sed -i "s/port = 1883;/port = $PORT;/" "$M_DIR"/blocks/*.run

TREE=$M_DIR/tree
mkdir -p "$TREE/build"
ln -s "$PB_BUILD/printbridge" "$PB_BUILD/printbridge-sim" "$TREE/build/"
WATCH=$M_DIR/watch.log

# --- the second terminal ------------------------------------------------------------------------------
WATCH_PIDS=()
for b in "$M_DIR"/blocks/*.watch; do
  (cd "$TREE" && exec bash "$b") >>"$WATCH" 2>&1 &
  M_PIDS+=("$!")
  WATCH_PIDS+=("$!")
done
# it listens once a message under octoprint/command/ (nobody acts on it yet) shows
m_wait_until "$(m_t 10)" eval "mosquitto_pub -h localhost -t octoprint/command/walkthrough-ready -m ready 2>/dev/null; grep -q '^octoprint/command/walkthrough-ready ready$' '$WATCH'" ||
  m_fail "the watch command did not show a test message: $(tail -n 3 "$WATCH")"

# --- the first terminal: one shell session, with the expected output checked after each step ---------
SCRIPT=$M_DIR/terminal.sh
{
  echo "set -e"
  echo "cd '$TREE'"
  # __expect FILE: each line of FILE must show in the watch log, in order, after the last match
  cat <<'EOF'
__cursor=$(wc -l <"$WATCH")
__expect() {
  local line re hit deadline
  while IFS= read -r line; do
    [ -n "$line" ] || continue
    re=$(printf '%s' "$line" | LC_ALL=C sed -e 's/[][\.*^$(){}+?|/]/\\&/g' -e 's/…/.*/g')
    deadline=$(( SECONDS + STEP_SECONDS ))
    while :; do
      hit=$(tail -n +"$((__cursor + 1))" "$WATCH" | LC_ALL=C grep -n -m1 -E -- "^$re\$" | cut -d: -f1)
      [ -n "$hit" ] && { __cursor=$((__cursor + hit)); break; }
      if (( SECONDS >= deadline )); then
        echo "WALKTHROUGH: expected within $STEP_SECONDS s, after line $__cursor of what the watching terminal showed:"
        echo "  $line"
        echo "it showed (from line $((__cursor + 1))):"
        tail -n +"$((__cursor + 1))" "$WATCH" | cut -c1-220 | tail -n 15
        exit 1
      fi
      sleep 0.1
    done
  done <"$1"
}
EOF
  for b in "$M_DIR"/blocks/*; do
    case $b in
      *.run) echo "echo '--- $(basename "$b")'"; cat "$b" ;;
      *.output) echo "__expect '$b'" ;;
    esac
  done
  echo "echo WALKTHROUGH-DONE"
} >"$SCRIPT"

# its own process group, so whatever the walkthrough left running can be stopped on a failure
export WATCH STEP_SECONDS=$(m_t 30)
setsid bash "$SCRIPT" >"$M_DIR/daemon-terminal.log" 2>&1 &
TERM_PID=$!
M_PIDS+=("$TERM_PID")
# the watching terminal's commands are children of its shell, which alone is in M_PIDS: a
# mosquitto_sub left behind would retry its vanished broker for ever
stop_group() {
  kill -TERM -- "-$TERM_PID" 2>/dev/null
  for p in "${WATCH_PIDS[@]}"; do pkill -TERM -P "$p" 2>/dev/null; done
  sleep 0.3
  kill -KILL -- "-$TERM_PID" 2>/dev/null
  return 0
}
trap 'rc=$?; stop_group; (exit $rc); m_cleanup' EXIT

m_wait_until "$(m_t 180)" eval "! kill -0 $TERM_PID 2>/dev/null" || m_fail "the walkthrough did not finish within $(m_t 180) s"
wait "$TERM_PID"
rc=$?
if [ "$rc" != 0 ] || ! grep -q '^WALKTHROUGH-DONE$' "$M_DIR/daemon-terminal.log"; then
  echo "--- the first terminal showed:"
  tail -n 30 "$M_DIR/daemon-terminal.log"
  m_fail "a walkthrough step failed (exit $rc)"
fi
m_pass "$n_run command blocks ran as written; the $n_out outputs shown in README.md appeared in order"

# what the user left behind is what the README said: the uploaded file, nothing running
cmp -s "$TREE/build/first-print/cube.gcode" "$TREE/build/first-print/files/cube.gcode" ||
  m_fail "the uploaded cube.gcode is not in the storage folder byte for byte"
[ ! -e "$TREE/build/first-print/printer.tty" ] || m_fail "the simulator's printer.tty is still there after step 6"
m_pass "the upload stored the file; step 6 stopped printbridge and the simulator"
echo "PASS test_docs_walkthrough ($SECONDS s)"
