/* firmware_state.h: the firmware core's state, shared by the three files of the core and by
 * nothing else (everyone else uses firmware.h). A Marlin board keeps all of this between two
 * bytes on the wire:
 *
 *   received bytes -> line receiver (rx.c) -> emergency parser (M112/M108/M410/M876 act at
 *   arrival) -> pending lines (unvalidated, like a UART buffer)          ... firmware.c
 *   -> intake: N/checksum verdict, resend -> command buffer (--buffer slots, shared with
 *   SD-print lines, host lines first) -> executor: one command at a time; long ones block on
 *   the planner, a dwell, a heater or the user, sending busy:/temperature/paused-for-user
 *   lines meanwhile -> ok                                                 ... executor.c
 *   -> what each command does, the SD card                              ... commands.c
 *
 * plus the heaters, the motion planner (a ring of move end times), autoreports and the
 * seeded faults. Time only enters through the now arguments, so the core runs under a fake
 * clock in tests. Output is appended to one buffer the I/O layer drains. */
#ifndef PRINTBRIDGE_SIM_FIRMWARE_STATE_H
#define PRINTBRIDGE_SIM_FIRMWARE_STATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "printbridge/base.h"

#include "firmware.h"
#include "gcode.h"
#include "heater.h"
#include "rx.h"

#define LINE_MAX_LEN    SIM_RX_LINE_MAX
#define REPORT_MAX      2048
#define PLANNER_SLOTS   16            /* Marlin's BLOCK_BUFFER_SIZE */

enum fault_bits { FAULT_KILL = 1, FAULT_RESET = 2, FAULT_HANGUP = 4 };

/* A buffer entry. A rejected line is queued too (as its verdict), so every host line is
 * answered in the order it arrived whatever the read chunking: that keeps seeded faults
 * reproducible with many lines in flight. */
struct sim_cmd {
    char text[LINE_MAX_LEN + 1];    /* without N, checksum and comment */
    long n;
    bool numbered;
    bool from_sd;
    enum sim_line_verdict verdict;  /* not SIM_LINE_OK: answer with error + Resend + ok */
    long reject_last_n;             /* the last accepted N when it was rejected */
};

/* What the command at the head of the buffer still waits for, checked in this order. */
struct sim_exec {
    bool active;
    bool move_pending;      /* a move waits for a free planner slot */
    double move_ms;
    bool sync;              /* wait until the planner is empty */
    int64_t dwell_ms;       /* dwell to start once synced; -1: none */
    int64_t until;          /* dwelling until this time; 0: not dwelling */
    int heater;             /* waiting for this heater; -1: none */
    bool heater_both_ways;  /* M109 R: also wait while cooling */
    int64_t heat_report_next;
    bool user;              /* waiting for the user (M0/M1/M600) */
    int64_t user_next;
    unsigned home_axes;     /* axes set to 0 when homing ends (bits X=1 Y=2 Z=4) */
    bool send_ok;
    bool ok_delayed;
    int64_t ok_at;
    int64_t busy_next;
    bool has_payload;
    char payload[REPORT_MAX];   /* "ok <payload>" (M105, M114) */
};

struct sim_fw {
    struct sim_options opt;
    bool cap[SIM_CAP_COUNT];
    FILE *record;

    struct strbuf out;             /* replies; the first out_head bytes are written already */
    size_t out_head;
    unsigned long out_dropped;

    struct sim_rx rx;
    int64_t feed_now;              /* the clock of the current sim_fw_feed call */
    struct strbuf pend;            /* received lines, each ended by a NUL; oldest at pend_head */
    size_t pend_head, pend_lines;

    struct sim_cmd *cmds;
    int cmd_head, cmd_count, sd_inflight;
    struct sim_exec ex;
    long last_n;

    bool booted, halted, hangup;
    unsigned homed;                /* axes homed since boot (bits X=1 Y=2 Z=4), for Klipper */
    bool klipper_shutdown;         /* Klipper's shutdown state (M112) until FIRMWARE_RESTART */
    unsigned fault_due;
    bool kill_fired, reset_fired, hangup_fired, runaway_fired;
    unsigned long handled;         /* host lines answered with an ok (sent or dropped) */
    int64_t runaway_at;            /* 0: not armed */

    struct sim_heater heat[SIM_MAX_HEATERS];
    int nheaters;                  /* extruders + bed + chamber slot */
    int64_t temp_clock;
    int tool;

    double pos[4];
    bool relative, e_relative;
    double feed;
    double plan[PLANNER_SLOTS];    /* end times (ms) of planned moves, oldest first */
    int plan_head, plan_len;

    int busy_ms;
    int wait_ms;
    int64_t wait_next;
    int64_t temp_every, sd_every, pos_every;
    int64_t temp_next, sd_next, pos_next;

    bool sd_mounted;
    FILE *sd_read;
    char sd_name[LINE_MAX_LEN + 1];
    long long sd_size, sd_pos;
    bool sd_printing, sd_eof;
    FILE *sd_write;

    uint64_t rng_resend, rng_drop, rng_garbage;
};

/* ---- small helpers ---- */

/* splitmix64: tiny, seedable, and every fault gets its own stream so one fault's draws do not
 * shift another's when timing-dependent lines (autoreports, busy) come and go. */
static inline uint64_t rng_next(uint64_t *s)
{
    uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static inline bool rng_chance(uint64_t *s, double p)
{
    if (p <= 0)
        return false;
    return (double)(rng_next(s) >> 11) * (1.0 / 9007199254740992.0) < p;
}

static inline int bed_index(const struct sim_fw *fw) { return fw->opt.extruders; }

static inline int chamber_index(const struct sim_fw *fw) { return fw->opt.extruders + 1; }

/* ---- firmware.c ---- */

/* A line of output, like sim_fw_emit. */
void sim_fw_emitf(struct sim_fw *fw, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* An executed command for --record. */
void sim_fw_record(struct sim_fw *fw, const char *text);
void sim_fw_target_set(struct sim_fw *fw, int h, double celsius, int64_t now);
/* The flavor's heater and position reports of the current state (see flavor.h). */
int sim_fw_format_temps(struct sim_fw *fw, char *out, size_t outsz);
int sim_fw_format_position(struct sim_fw *fw, char *out, size_t outsz);
/* The oldest received line not taken yet (NULL: none), and taking it. */
const char *sim_fw_pend_peek(const struct sim_fw *fw);
void sim_fw_pend_pop(struct sim_fw *fw);

/* ---- executor.c ---- */

void sim_fw_plan_clear(struct sim_fw *fw);
/* Takes lines into the command buffer and executes them until one blocks. */
void sim_fw_execute(struct sim_fw *fw, int64_t now);
/* Autoreports and the idle "wait" that are due. */
void sim_fw_report_timers(struct sim_fw *fw, int64_t now);

/* ---- klipper.c ---- */

/* Klipper's answers where they differ from Marlin's. Each returns true when it handled the
 * command (its output emitted; the executor still sends the ok, as Klipper does). */
bool sim_fw_klipper_command(struct sim_fw *fw, const char *text);
/* A G0/G1 Klipper refuses: "!! Must home axis first: ..." or "!! Move out of range: ...". */
bool sim_fw_klipper_move_refused(struct sim_fw *fw, const double target[4]);
void sim_fw_klipper_unknown(struct sim_fw *fw, const char *text);
/* M112: "// Klipper state: Shutdown", heaters off, commands refused until FIRMWARE_RESTART. */
void sim_fw_klipper_shutdown(struct sim_fw *fw);

/* ---- commands.c ---- */

/* Does what the command text (N, checksum and comment already removed) asks. */
void sim_fw_dispatch(struct sim_fw *fw, const char *text, int64_t now);
void sim_fw_sd_close_read(struct sim_fw *fw);
void sim_fw_sd_close_write(struct sim_fw *fw);
/* The next executable line of the file being printed into out (LINE_MAX_LEN + 1 bytes). */
bool sim_fw_sd_next_line(struct sim_fw *fw, char *out);
void sim_fw_report_sd_status(struct sim_fw *fw);

#endif
