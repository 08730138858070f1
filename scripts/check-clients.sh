#!/usr/bin/env bash
# check-clients.sh BUILD [--screenshot FILE]: the example Node-RED flow against a real
# Node-RED (make check-clients; CI runs it after make check).
#
# Installs the pinned Node-RED and dashboard (examples/node-red/package-lock.json) with
# `npm ci` into BUILD/clients/node-red, starts a private mosquitto, the printer simulator,
# printbridge and Node-RED headless on loopback with examples/node-red/flows.json (its
# broker node pointed at the private broker, plus a tap writing what the flow saw to a file),
# and asserts that the flow saw hotend and bed temperatures, and the PrintDone of a file
# uploaded and printed over MQTT.
#
# With --screenshot FILE the dashboard is also rendered by headless chromium into FILE.
set -euo pipefail
BUILD=$(cd "${1:?usage: check-clients.sh BUILD [--screenshot FILE]}" && pwd)
SHOT=
[ "${2:-}" = --screenshot ] && SHOT=$(realpath -m "${3:?--screenshot needs a file}")
SRCDIR=$(cd "$(dirname "$0")/.." && pwd)
export PB_BUILD=$BUILD PB_SRCDIR=$SRCDIR

"$SRCDIR/scripts/install-deps.sh" --clients ${SHOT:+--screenshot}

# ---- Node-RED, pinned; reinstalled only when the lock file changed
NR=$BUILD/clients/node-red
mkdir -p "$NR"
if ! cmp -s "$SRCDIR/examples/node-red/package-lock.json" "$NR/package-lock.json" || [ ! -x "$NR/node_modules/.bin/node-red" ]; then
  cp "$SRCDIR/examples/node-red/package.json" "$SRCDIR/examples/node-red/package-lock.json" "$NR/"
  echo "check-clients: npm ci (Node-RED and node-red-dashboard as pinned in examples/node-red/package-lock.json)"
  (cd "$NR" && npm ci --no-audit --no-fund --loglevel=error)
fi

. "$SRCDIR/test/it/lib.sh"
pb_init
pb_start_broker_any
pb_start_sim
PB_CFG_EXTRA='homeassistant: { enabled = false; };' pb_write_config "$PB_DIR/pb.conf"

# ---- the example flow, pointed at the private broker, with a tap
SEEN=$PB_DIR/seen.jsonl
UI_PORT=$(pb_free_port)
node - "$SRCDIR/examples/node-red/flows.json" "$PB_DIR/flows.json" "$PB_MQTT_PORT" "$SEEN" <<'EOF'
const fs = require('fs');
const [src, dst, port, seen] = process.argv.slice(2);
const flow = JSON.parse(fs.readFileSync(src, 'utf8'));
const byName = (n) => flow.find((x) => x.name === n) || (() => { throw new Error('no node ' + n); })();
const broker = flow.find((x) => x.type === 'mqtt-broker');
broker.broker = '127.0.0.1';
broker.port = String(port);
// the tap: one JSON line per message the flow's key nodes emitted
flow.push({ id: 'pbtest_tap', type: 'function', z: 'pb_tab', name: 'test tap', outputs: 1,
            func: 'msg.payload = JSON.stringify({ from: msg.pbFrom || "", topic: msg.topic, payload: msg.payload });\nreturn msg;',
            wires: [['pbtest_file']] });
flow.push({ id: 'pbtest_file', type: 'file', z: 'pb_tab', name: 'test sink', filename: seen, filenameType: 'str',
            appendNewline: true, createDir: true, overwriteFile: 'false', encoding: 'none', wires: [[]] });
byName('Temperature per heater').wires[0].push('pbtest_tap');
byName('Print finished or failed').wires[0].push('pbtest_tap');
byName('Notification text').wires[0].push('pbtest_tap');
fs.writeFileSync(dst, JSON.stringify(flow, null, 1));
EOF
cat >"$PB_DIR/settings.js" <<EOF
module.exports = {
    uiHost: "127.0.0.1",
    uiPort: $UI_PORT,
    userDir: "$PB_DIR/nr",
    flowFile: "$PB_DIR/flows.json",
    credentialSecret: false,
    diagnostics: { enabled: false },
    telemetry: { enabled: false },
    externalModules: { autoInstall: false, palette: { allowInstall: false } },
    editorTheme: { tours: false },
    logging: { console: { level: "info", metrics: false, audit: false } },
};
EOF
mkdir -p "$PB_DIR/nr"
NRLOG=$PB_DIR/node-red.log
pb_bg node "$NR/node_modules/node-red/red.js" --settings "$PB_DIR/settings.js" >"$NRLOG" 2>&1
PB_PIDS+=($!)
NR_PID=$!
pb_wait_until "$(pb_t 60)" grep -q 'Started flows' "$NRLOG" || { tail -n 30 "$NRLOG"; pb_fail "Node-RED did not start its flows"; }
pb_wait_until "$(pb_t 20)" grep -q "Connected to broker: .*127.0.0.1:$PB_MQTT_PORT" "$NRLOG" ||
  { tail -n 30 "$NRLOG"; pb_fail "Node-RED's broker node did not connect to the test broker"; }
if grep -q '\[error\]' "$NRLOG"; then tail -n 30 "$NRLOG"; pb_fail "Node-RED logged an error loading the example flow"; fi
# the admin API serves the flow that runs
curl -sf "http://127.0.0.1:$UI_PORT/flows" | grep -q '"Temperature per heater"' || pb_fail "the admin API does not show the example flow"
pb_pass "Node-RED $(grep -o 'Node-RED version: v[0-9.]*' "$NRLOG" | cut -d' ' -f3) runs the example flow (Node.js $(node --version))"

# ---- a printer: printbridge and the simulator heat tool0 to 210 and the bed to 60
pb_start_daemon "$PB_DIR/pb.conf"
pb_wait_until "$(pb_t 30)" grep -qs '"topic":"tool0 target","payload":210' "$SEEN" ||
  { tail -n 5 "$SEEN" 2>/dev/null; pb_fail "the flow did not see tool0's target 210 from printbridge"; }
pb_wait_until "$(pb_t 30)" grep -qs '"topic":"bed","payload":[0-9.]*}' "$SEEN" || pb_fail "the flow did not see the bed temperature"
pb_pass "the flow charted temperatures published by printbridge"

# ---- a real print: uploaded and started over MQTT, its PrintDone reaches the flow
printf 'G28\nG1 Z0.2 F3000\nG1 X10 Y10 E1\nG1 X20 Y10 E2\n' |
  mosquitto_pub -h 127.0.0.1 -p "$PB_MQTT_PORT" -q 1 -t octoprint/command/upload/cube.gcode -s
pb_wait_until "$(pb_t 10)" test -f "$PB_DIR/files/cube.gcode" || pb_fail "the upload did not arrive in the storage folder"
mosquitto_pub -h 127.0.0.1 -p "$PB_MQTT_PORT" -q 1 -t octoprint/command/job -m '{"command": "start", "path": "cube.gcode"}'
pb_wait_until "$(pb_t 30)" grep -qs '"topic":"Print finished","payload":"cube.gcode finished after [0-9]* min"' "$SEEN" ||
  { cat "$SEEN"; pb_fail "the flow did not turn printbridge's PrintDone into its notification"; }
pb_pass "the flow saw printbridge's PrintDone of a real print and produced its notification"

# ---- the dashboard, rendered
if [ -n "$SHOT" ]; then
  sleep 8    # a few more temperature points on the chart
  prof=$(mktemp -d)
  timeout 90 chromium --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
    --disable-background-networking --disable-component-update --disable-sync --user-data-dir="$prof" \
    --virtual-time-budget=8000 --hide-scrollbars --screenshot="$SHOT" --window-size=1280,900 \
    "http://127.0.0.1:$UI_PORT/ui/" >"$PB_DIR/chromium.log" 2>&1 || { tail -n 5 "$PB_DIR/chromium.log"; rm -rf "$prof"; pb_fail "chromium failed"; }
  rm -rf "$prof"
  pb_pass "dashboard screenshot in $SHOT"
fi
pb_stop_daemon TERM
echo "PASS check-clients ($SECONDS s)"
