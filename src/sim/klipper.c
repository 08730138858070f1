/* klipper.c: the simulator's Klipper dialect (--firmware klipper), what klippy's G-code pty
 * says where Marlin would say something else: refused moves as "!! " errors followed by the
 * usual ok, "// Unknown command:", STATUS, and the shutdown state that M112 enters and only
 * FIRMWARE_RESTART leaves (M105, M110, M115 and STATUS are still answered meanwhile; anything
 * else gets "!! Shutdown due to M112 command"). The build volume is Klipper's harness printer:
 * 0..200 mm on X, Y and Z. */
#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "firmware_state.h"

#define KLIPPER_MAX_MM 200.0
#define SHUTDOWN_REASON "Shutdown due to M112 command"

static bool word_is(const char *text, const char *word)
{
    size_t n = strlen(word);
    return strncasecmp(text, word, n) == 0 && (text[n] == '\0' || isspace((unsigned char)text[n]));
}

/* What Klipper still does while shut down: the reports and the way out. */
static bool allowed_in_shutdown(const char *text)
{
    return word_is(text, "M105") || word_is(text, "M110") || word_is(text, "M115") || word_is(text, "STATUS") ||
           word_is(text, "FIRMWARE_RESTART") || word_is(text, "M112");
}

static void firmware_restart(struct sim_fw *fw)
{
    fw->klipper_shutdown = false;
    fw->homed = 0;
    sim_fw_emit(fw, "// Klipper state: Disconnect");
    sim_fw_emit(fw, "// Klipper state: Ready");
}

bool sim_fw_klipper_command(struct sim_fw *fw, const char *text)
{
    if (fw->klipper_shutdown && !allowed_in_shutdown(text)) {
        sim_fw_emit(fw, "!! " SHUTDOWN_REASON);
        return true;
    }
    if (word_is(text, "STATUS")) {
        sim_fw_emit(fw, fw->klipper_shutdown ? "!! " SHUTDOWN_REASON : "// Klipper state: Ready");
        return true;
    }
    if (word_is(text, "FIRMWARE_RESTART")) {
        firmware_restart(fw);
        return true;
    }
    return false;
}

bool sim_fw_klipper_move_refused(struct sim_fw *fw, const double target[4])
{
    for (int i = 0; i < 3; i++) {
        if (target[i] == fw->pos[i])
            continue;
        const char *why = !(fw->homed & (1u << i)) ? "Must home axis first"
                          : (target[i] < 0 || target[i] > KLIPPER_MAX_MM) ? "Move out of range" : NULL;
        if (why) {
            sim_fw_emitf(fw, "!! %s: %.3f %.3f %.3f [%.3f]", why, target[0], target[1], target[2], target[3]);
            return true;
        }
    }
    return false;
}

void sim_fw_klipper_unknown(struct sim_fw *fw, const char *text)
{
    size_t n = strcspn(text, " \t");
    char word[64];
    if (n >= sizeof word)
        n = sizeof word - 1;
    for (size_t i = 0; i < n; i++)
        word[i] = (char)toupper((unsigned char)text[i]);
    word[n] = '\0';
    sim_fw_emitf(fw, "// Unknown command:\"%s\"", word);
}

void sim_fw_klipper_shutdown(struct sim_fw *fw)
{
    if (fw->klipper_shutdown)
        return;
    fw->klipper_shutdown = true;
    for (int i = 0; i < fw->nheaters; i++)
        fw->heat[i].target = 0;
    sim_fw_sd_close_read(fw);
    sim_fw_emit(fw, "// Klipper state: Shutdown");
}
