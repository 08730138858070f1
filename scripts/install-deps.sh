#!/usr/bin/env bash
# install-deps.sh: installs, from Debian packages, exactly what one make target needs.
#
#   scripts/install-deps.sh [--check|--list] [SET...]      (no SET: build)
#
# Each set lists requirements as "TEST PACKAGE": the test looks for the thing itself (a command,
# a pkg-config module, a file, or a program that must link), never only for the package name,
# because a package can be present without what a target uses from it (clang without its
# sanitizer and libFuzzer runtimes, for one). With --check nothing is installed: the missing
# packages are printed and the exit status is 1. --list prints every package the sets name, one
# a line, present or not, and installs nothing. The Makefile calls `--check SET || SET` before
# each target that needs a set, so a bare machine installs what it needs and nothing more.
#
#   build       compiler, pkg-config, libuv, jansson, libconfig, libserialport, Paho MQTT C
#   test        make check: Check, a broker and its clients, openssl, socat, curl, procps, Jinja2
#               (test/it/ha_view.py renders Home Assistant templates)
#   demo        make demo: the broker and its clients
#   fuzz        make fuzz: clang with its libFuzzer, ASan and UBSan runtimes
#   faults      make check-faults: valgrind
#   clients     make check-clients: Node.js and npm (screenshot: chromium)
#   brokers     make check-brokers: RabbitMQ with its MQTT plugin (Debian's rabbitmq-server), socat
#   tools       make check-tools: ffmpeg and PrusaSlicer
#   klipper     make check-klipper: what the Klipper harness (klipper-vp) names: Python 3 with
#               cffi, greenlet, Jinja2, pyserial and MarkupSafe, and gcc, make and tar
#   bench       make bench: Printrun's printcore and gcoder (Debian's printcore package)
#   deb         make deb: Debian's package tools (dpkg-buildpackage, debhelper, lintian)
#   debroot     make check-deb: mmdebstrap, for a clean Debian root to install the package in
#
# A broker installed here is for tests, which start their own on free loopback ports: when apt
# starts the packaged mosquitto service, it is stopped and disabled again, so nothing is left
# listening on port 1883. RabbitMQ is kept from starting at all during the install (a
# policy-rc.d that refuses every service start, removed afterwards) and disabled, with the
# Erlang port mapper it would bring along.
set -euo pipefail

usage() { echo "usage: $0 [--check|--list] [build|test|demo|fuzz|faults|clients|screenshot|tools|klipper|brokers|bench|deb|debroot]..." >&2; exit 2; }

CHECK=0
LIST=0
SETS=()
for arg in "$@"; do
  case $arg in
    --check) CHECK=1 ;;
    --list) LIST=1 ;;
    build|test|demo|fuzz|faults|clients|screenshot|tools|klipper|brokers|bench|deb|debroot) SETS+=("$arg") ;;
    --*) s=${arg#--}; case $s in build|test|demo|fuzz|faults|clients|screenshot|tools|klipper|brokers|bench|deb|debroot) SETS+=("$s") ;; *) usage ;; esac ;;
    *) usage ;;
  esac
done
[ ${#SETS[@]} -gt 0 ] || SETS=(build)

requires() {
  case $1 in
    build) printf '%s\n' "cmd:cc build-essential" "cmd:make build-essential" "cmd:pkg-config pkg-config" \
             "pc:libuv libuv1-dev" "pc:jansson libjansson-dev" "pc:libconfig libconfig-dev" \
             "pc:libserialport libserialport-dev" "file:/usr/include/MQTTAsync.h libpaho-mqtt-dev" \
             "lib:libpaho-mqtt3as.so libpaho-mqtt-dev" ;;
    test)  requires build
           printf '%s\n' "pc:check check" "lib:libsubunit.a libsubunit-dev" "cmd:python3 python3" \
             "cmd:mosquitto mosquitto" "cmd:mosquitto_sub mosquitto-clients" "cmd:mosquitto_pub mosquitto-clients" \
             "cmd:openssl openssl" "cmd:pkill procps" "cmd:socat socat" "cmd:curl curl" \
             "file:/usr/lib/python3/dist-packages/jinja2/__init__.py python3-jinja2" ;;
    demo)  printf '%s\n' "cmd:mosquitto mosquitto" "cmd:mosquitto_sub mosquitto-clients" "cmd:mosquitto_pub mosquitto-clients" ;;
    fuzz)  printf '%s\n' "cmd:clang clang" "link:fuzzer libclang-rt-dev" ;;
    faults) printf '%s\n' "cmd:valgrind valgrind" ;;
    clients) printf '%s\n' "cmd:node nodejs" "cmd:npm npm" ;;
    brokers) printf '%s\n' "file:/usr/lib/rabbitmq/bin/rabbitmq-server rabbitmq-server" \
               "file:/usr/lib/rabbitmq/bin/rabbitmqctl rabbitmq-server" "cmd:epmd erlang-base" "cmd:socat socat" ;;
    screenshot) printf '%s\n' "cmd:chromium chromium" ;;
    tools) printf '%s\n' "cmd:ffmpeg ffmpeg" "cmd:prusa-slicer prusa-slicer" ;;
    klipper) printf '%s\n' "cmd:python3 python3" "cmd:gcc gcc" "cmd:make make" "cmd:tar tar" \
             "file:/usr/lib/python3/dist-packages/cffi/__init__.py python3-cffi" \
             "file:/usr/lib/python3/dist-packages/greenlet/__init__.py python3-greenlet" \
             "file:/usr/lib/python3/dist-packages/jinja2/__init__.py python3-jinja2" \
             "file:/usr/lib/python3/dist-packages/serial/__init__.py python3-serial" \
             "file:/usr/lib/python3/dist-packages/markupsafe/__init__.py python3-markupsafe" ;;
    deb)   requires build
           printf '%s\n' "cmd:dpkg-buildpackage dpkg-dev" "cmd:dh debhelper" "cmd:lintian lintian" ;;
    debroot) printf '%s\n' "cmd:mmdebstrap mmdebstrap" ;;
    bench) printf '%s\n' "cmd:python3 python3" \
             "file:/usr/lib/python3/dist-packages/printrun/printcore.py printcore" \
             "file:/usr/lib/python3/dist-packages/printrun/gcoder.py printcore" ;;
  esac
}

# link:fuzzer: clang must link a libFuzzer target with ASan and UBSan, which needs the runtime
# archives from libclang-rt-<version>-dev; `clang` alone installs without them.
links_fuzzer() {
  command -v clang >/dev/null 2>&1 || return 1
  local dir rc
  dir=$(mktemp -d)
  printf '%s\n' '#include <stddef.h>' '#include <stdint.h>' \
    'int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n) { (void)d; (void)n; return 0; }' >"$dir/t.c"
  clang -fsanitize=fuzzer,address,undefined -o "$dir/t" "$dir/t.c" >/dev/null 2>&1 && rc=0 || rc=1
  rm -rf "$dir"
  return $rc
}

present() {
  local what=$1
  case $what in
    cmd:*)  command -v "${what#cmd:}" >/dev/null 2>&1 ;;
    pc:*)   command -v pkg-config >/dev/null 2>&1 && pkg-config --exists "${what#pc:}" ;;
    file:*) [ -e "${what#file:}" ] ;;
    lib:*)  [ -n "$(compgen -G "/usr/lib/*/${what#lib:}")$(compgen -G "/usr/lib/${what#lib:}")" ] ;;
    link:fuzzer) links_fuzzer ;;
    *) echo "install-deps: unknown requirement $what" >&2; return 1 ;;
  esac
}

if [ "$LIST" = 1 ]; then
  for set in "${SETS[@]}"; do requires "$set"; done | awk '{ print $2 }' | sort -u
  exit 0
fi

missing=()
for set in "${SETS[@]}"; do
  while read -r what pkg; do
    present "$what" || missing+=("$pkg")
  done < <(requires "$set")
done
if [ ${#missing[@]} -gt 0 ]; then
  mapfile -t missing < <(printf '%s\n' "${missing[@]}" | sort -u)
fi

if [ "$CHECK" = 1 ]; then
  [ ${#missing[@]} -eq 0 ] && exit 0
  echo "missing for ${SETS[*]}: ${missing[*]}"
  exit 1
fi
[ ${#missing[@]} -eq 0 ] && exit 0

SUDO=
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null 2>&1 || { echo "install-deps: not root and no sudo; install these as root: ${missing[*]}" >&2; exit 1; }
  SUDO=sudo
fi
had_broker=0
command -v mosquitto >/dev/null 2>&1 && had_broker=1
echo "install-deps: installing for ${SETS[*]}: ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
no_rabbit_service=0
if printf '%s\n' "${missing[@]}" | grep -qx rabbitmq-server && [ ! -e /usr/sbin/policy-rc.d ]; then
  # policy-rc.d exit 101: "action forbidden"; invoke-rc.d and deb-systemd-invoke start nothing
  printf '#!/bin/sh\nexit 101\n' | $SUDO tee /usr/sbin/policy-rc.d >/dev/null
  $SUDO chmod 0755 /usr/sbin/policy-rc.d
  no_rabbit_service=1
fi
install_rc=0
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2 || install_rc=$?
if [ "$no_rabbit_service" = 1 ]; then
  $SUDO rm -f /usr/sbin/policy-rc.d
  if command -v systemctl >/dev/null 2>&1 && [ -d /run/systemd/system ]; then
    echo "install-deps: the packaged RabbitMQ service is not needed by the tests: disabling it" >&2
    $SUDO systemctl disable --now rabbitmq-server >&2 || true
    $SUDO systemctl disable --now epmd.socket epmd.service >/dev/null 2>&1 || true
  fi
fi
[ "$install_rc" = 0 ] || exit "$install_rc"
if [ "$had_broker" = 0 ] && command -v systemctl >/dev/null 2>&1 && [ -d /run/systemd/system ] &&
   systemctl is-enabled --quiet mosquitto 2>/dev/null; then
  echo "install-deps: the packaged mosquitto service is not needed by the tests: stopping and disabling it" >&2
  $SUDO systemctl disable --now mosquitto >&2 || true
fi
# verify: a package that installed without what the target needs is a failure here, not a
# puzzling link error later
for set in "${SETS[@]}"; do
  while read -r what pkg; do
    present "$what" || { echo "install-deps: $pkg is installed but $what is still missing" >&2; exit 1; }
  done < <(requires "$set")
done
echo "install-deps: done" >&2
