# lib.sh: helpers for the suites in test/klipper/, which run printbridge against the real
# Klipper host (klippy) on its G-code pseudo-terminal, through the harness in
# ../shared/tools/klipper-vp/run.sh (or KLIPPER_VP=path). On top of test/it/lib.sh:
#   pk_start_klipper   klippy on $PK_TTY, its state folder (virtual SD card) in $PK_STATE
#   pk_config FILE     a daemon configuration for it (debug log: every line sent and received)
#   pk_sent RE [FROM]  how many lines the daemon sent matching RE (after daemon.log line FROM)
# A suite exits 77 with one SKIP line when the harness is absent.
. "$(dirname "${BASH_SOURCE[0]}")/../it/lib.sh"

KLIPPER_VP=${KLIPPER_VP:-$PB_SRCDIR/../shared/tools/klipper-vp/run.sh}
PK_TTY=
PK_STATE=
PK_PID=

pk_skip() { echo "SKIP: $*"; exit 77; }

# pk_init: pb_init, or a skip when there is no harness.
pk_init() {
  [ -x "$KLIPPER_VP" ] || pk_skip "no Klipper harness at $KLIPPER_VP (set KLIPPER_VP=path/to/klipper-vp/run.sh)"
  pb_init
  PK_TTY=$PB_DIR/klipper.tty
  PK_STATE=$PB_DIR/klipper
}

# pk_start_klipper: start klippy serving G-code on $PK_TTY and wait for the pty.
pk_start_klipper() {
  KLIPPER_VP_STATE=$PK_STATE KLIPPER_VP_LOG=$PB_DIR/klippy.log pb_bg "$KLIPPER_VP" "$PK_TTY" >"$PB_DIR/klipper-vp.log" 2>&1
  PK_PID=$!
  PB_PIDS+=("$PK_PID")
  pb_wait_until "$(pb_t 90)" eval '[ -e "$PK_TTY" ] || ! kill -0 $PK_PID 2>/dev/null'
  if [ ! -e "$PK_TTY" ]; then
    cat "$PB_DIR/klipper-vp.log"
    pb_fail "the Klipper harness did not create $PK_TTY (its output is above)"
  fi
}

# pk_config FILE [EXTRA]: the daemon's configuration for Klipper's pty.
pk_config() {
  PB_CFG_PORT=$PK_TTY PB_CFG_SCRIPT='' PB_CFG_EXTRA="${2:-}" pb_write_config "$1"
  sed -i 's/level = "info"/level = "debug"/' "$1"
}

# pk_sent REGEX [FROM]: the number of lines sent to the printer (daemon.log "send: ...",
# line number and checksum included) matching the extended REGEX, after log line FROM.
pk_sent() { tail -n +"$(( ${2:-0} + 1 ))" "$PB_DIR/daemon.log" | grep -Ec -- "send: (N[0-9]+ )?$1" || true; }

# pk_events NAME [FROM]: how many NAME events the subscriber file $LIVE holds after line FROM.
pk_events() { pb_lines "$LIVE" "${2:-0}" | grep -c "^octoprint/event/$1 " || true; }
