#!/usr/bin/env bash
# install-deps.sh: install what printbridge needs to build, test and run its demo, from
# Debian/Ubuntu packages. `--check` only reports whether anything is missing (exit 1 if so).
# make calls this by itself when a library or tool is missing.
# `--bench` adds what `make bench` compares against (Printrun's printcore and gcoder, from the
# Debian package `printcore`, the part of Printrun without its GUI); make bench calls
# `install-deps.sh --bench --check` and installs only when that fails, so a bare machine's
# `make check` never needs them. `--bench --check` checks both sets.
set -euo pipefail

BENCH=0
CHECK=0
TOOLS=0
for arg in "$@"; do
  case $arg in
    --bench) BENCH=1 ;;
    --tools) TOOLS=1 ;;   # `make check-tools` (issue 11): ffmpeg and PrusaSlicer
    --check) CHECK=1 ;;
    --faults|--clients|--screenshot) ;;   # handled below
    *) echo "usage: $0 [--bench] [--tools] [--faults] [--clients [--screenshot]] [--check]" >&2; exit 2 ;;
  esac
done

PACKAGES=(build-essential pkg-config clang libpaho-mqtt-dev libserialport-dev libjansson-dev
          libconfig-dev check libsubunit-dev libuv1-dev mosquitto mosquitto-clients openssl
          procps socat curl)
# Each requirement: "what to test" (cmd:NAME, pc:MODULE or file:PATH) and the package giving it.
REQUIRES=(
  "cmd:cc build-essential" "cmd:make build-essential" "cmd:pkg-config pkg-config"
  "cmd:clang clang"
  "pc:libuv libuv1-dev" "pc:jansson libjansson-dev" "pc:libconfig libconfig-dev"
  "pc:libserialport libserialport-dev" "pc:check check" "file:/usr/include/MQTTAsync.h libpaho-mqtt-dev"
  "file:/usr/lib/x86_64-linux-gnu/libsubunit.a libsubunit-dev"
  "cmd:mosquitto mosquitto" "cmd:mosquitto_sub mosquitto-clients" "cmd:mosquitto_pub mosquitto-clients"
  "cmd:openssl openssl" "cmd:pkill procps" "cmd:socat socat" "cmd:curl curl"
)
if [ "$BENCH" = 1 ]; then
  PACKAGES+=(python3 printcore)
  REQUIRES+=("file:/usr/bin/python3 python3"
             "file:/usr/lib/python3/dist-packages/printrun/printcore.py printcore"
             "file:/usr/lib/python3/dist-packages/printrun/gcoder.py printcore")
fi
if [ "$TOOLS" = 1 ]; then
  PACKAGES+=(ffmpeg prusa-slicer)
  REQUIRES+=("cmd:ffmpeg ffmpeg" "cmd:prusa-slicer prusa-slicer")
fi

# --clients [--screenshot]: Node.js and npm for `make check-clients` (Node-RED 4.1 runs on
# Debian 12's Node.js 20), plus chromium for the dashboard screenshot. Only check-clients asks
# for them, so `make check` on a bare machine never needs them.
install_clients() {
  local need=() sudo=
  command -v node >/dev/null 2>&1 || need+=(nodejs)
  command -v npm >/dev/null 2>&1 || need+=(npm)
  if [ "${1:-}" = --screenshot ] && ! command -v chromium >/dev/null 2>&1; then need+=(chromium); fi
  [ ${#need[@]} -eq 0 ] && return 0
  if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null 2>&1 || { echo "install-deps: not root and no sudo; install as root: ${need[*]}" >&2; return 1; }
    sudo=sudo
  fi
  echo "install-deps: installing ${need[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get update -qq
  $sudo apt-get install -y -qq --no-install-recommends "${need[@]}" >&2
}
# --faults: valgrind for make check-faults' memcheck drill (make calls it when missing).
if [ "${1:-}" = "--faults" ]; then
  command -v valgrind >/dev/null 2>&1 && exit 0
  [ "${2:-}" = "--check" ] && { echo "missing: valgrind"; exit 1; }
  sudo=
  if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null 2>&1 || { echo "install-deps: not root and no sudo; install valgrind as root" >&2; exit 1; }
    sudo=sudo
  fi
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get update -qq && $sudo apt-get install -y -qq --no-install-recommends valgrind >&2
  exit $?
fi
if [ "${1:-}" = "--clients" ]; then
  install_clients "${2:-}"
  exit $?
fi

missing=()
for req in "${REQUIRES[@]}"; do
  what=${req%% *}; pkg=${req#* }
  case $what in
    cmd:*)  command -v "${what#cmd:}" >/dev/null 2>&1 && continue ;;
    pc:*)   command -v pkg-config >/dev/null 2>&1 && pkg-config --exists "${what#pc:}" && continue ;;
    file:*) f=${what#file:}
            # multiarch path differs off x86_64: accept any libsubunit.a / header location
            [ -e "$f" ] && continue
            [ -n "$(compgen -G "/usr/lib/*/$(basename "$f")")" ] && continue ;;
  esac
  missing+=("$pkg")
done
# paho's library has no pkg-config file: look for the shared object directly
if [ -z "$(compgen -G "/usr/lib/*/libpaho-mqtt3as.so")$(compgen -G "/usr/lib/libpaho-mqtt3as.so")" ]; then
  missing+=(libpaho-mqtt-dev)
fi

if [ "$CHECK" = 1 ]; then
  if [ ${#missing[@]} -gt 0 ]; then
    echo "missing: $(printf '%s\n' "${missing[@]}" | sort -u | tr '\n' ' ')"
    exit 1
  fi
  exit 0
fi

if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: everything is installed"
  exit 0
fi

SUDO=
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null 2>&1 || { echo "install-deps: not root and no sudo; install these as root: ${PACKAGES[*]}" >&2; exit 1; }
  SUDO=sudo
fi
echo "install-deps: installing ${PACKAGES[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
# policy-rc.d keeps the packaged mosquitto service from starting in containers; tests run their own broker
$SUDO apt-get install -y -qq --no-install-recommends "${PACKAGES[@]}" >&2
echo "install-deps: done" >&2
