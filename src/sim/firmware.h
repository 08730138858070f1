/* firmware.h: the simulated printer's firmware core (firmware.c, executor.c, commands.c).
 *
 * The core is a state machine: it takes received bytes and the current monotonic time in
 * milliseconds, and produces reply bytes in an output buffer. It never touches a file
 * descriptor except the SD folder and the record file, so tests drive it with a fake clock.
 * main.c owns the pseudo-terminal, the control socket, signals and the poll loop. Every
 * symbol starts with sim_ so nothing collides with the daemon in the test runner. */
#ifndef PRINTBRIDGE_SIM_FIRMWARE_H
#define PRINTBRIDGE_SIM_FIRMWARE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "options.h"

#define SIM_NO_DEADLINE INT64_MAX

struct sim_fw;

/* Creates a firmware from o (copied; its strings must outlive the firmware). Opens the
 * record file if o->record_path is set. Returns 0 and *out, or a negative errno with a
 * message in err (-EINVAL: extruders or buffer out of range, -ENOTDIR, -ENOENT: --sd-dir,
 * ...). The caller calls sim_fw_boot before feeding input. */
int sim_fw_create(struct sim_fw **out, const struct sim_options *o, char *err, size_t errsz);
void sim_fw_destroy(struct sim_fw *fw);

/* Power-on or reset: all motion, queue, SD-print and line-number state is cleared, heater
 * targets go to 0 (actual temperatures keep their physical value), and the boot banner is
 * queued. Output queued before is kept, so it reaches the host before "start". */
void sim_fw_boot(struct sim_fw *fw, int64_t now_ms);

/* Received bytes from the host, in any chunking. Emergency commands act here, at arrival. */
void sim_fw_feed(struct sim_fw *fw, const char *data, size_t n, int64_t now_ms);
/* Advances the clock: temperatures, timers, then executes queued commands until one blocks. */
void sim_fw_run(struct sim_fw *fw, int64_t now_ms);
/* The next time sim_fw_run has something to do (SIM_NO_DEADLINE: only on new input). */
int64_t sim_fw_next_deadline(const struct sim_fw *fw, int64_t now_ms);
/* False while so much unprocessed input is queued that reading more should wait. */
bool sim_fw_wants_input(const struct sim_fw *fw);

/* Reply bytes waiting to be written; consume what was written. */
const char *sim_fw_output(const struct sim_fw *fw, size_t *len);
void sim_fw_consume_output(struct sim_fw *fw, size_t n);
void sim_fw_discard_output(struct sim_fw *fw);
/* Pushes buffered record lines to the record file. */
void sim_fw_flush_record(struct sim_fw *fw);

/* True once a hang-up was requested (--disconnect-after); the firmware then does nothing
 * until the next sim_fw_boot. sim_fw_request_hangup asks for one (control "disconnect"). */
bool sim_fw_hangup_requested(const struct sim_fw *fw);
void sim_fw_request_hangup(struct sim_fw *fw);
bool sim_fw_halted(const struct sim_fw *fw);

/* ---- injections used by the control socket ---- */

/* Heater index for "tool0".."toolN", "bed", "chamber" (also "T0", "B", "C"); -ENOENT if
 * there is no such heater. */
int sim_fw_heater_lookup(const struct sim_fw *fw, const char *name);
/* Emits a line exactly as given (plus "\n"), or raw bytes without a newline. */
void sim_fw_emit(struct sim_fw *fw, const char *text);
void sim_fw_emit_raw(struct sim_fw *fw, const char *data, size_t n);
/* Pins the actual temperature of heater h (the model no longer moves it) or releases it. */
void sim_fw_pin_temperature(struct sim_fw *fw, int h, double celsius, int64_t now_ms);
void sim_fw_unpin_temperature(struct sim_fw *fw, int h, int64_t now_ms);
void sim_fw_set_target(struct sim_fw *fw, int h, double celsius, int64_t now_ms);
/* Thermal runaway of heater h (h < 0: the first heater with a target, else tool0), then kill. */
void sim_fw_runaway(struct sim_fw *fw, int h, int64_t now_ms);
/* kill(): "Error:Printer halted. kill() called!" and silence until the next boot. */
void sim_fw_kill(struct sim_fw *fw);
/* The user pressed the knob: ends M0/M1/M600 waits and heating waits (like M108). */
void sim_fw_continue(struct sim_fw *fw);
/* One-line state summary for the control socket's "status". */
void sim_fw_describe(struct sim_fw *fw, int64_t now_ms, char *out, size_t outsz);

#endif
