/* fuzz_commands.c: the inbound command decoder: any client allowed to publish to
 * <base>command/# controls these bytes. Input: "relative-topic\0payload". Every decoded
 * command is checked against the state rules and its G-code lines against allow/deny lists. */
#include <stdbool.h>

#include "fuzz_common.h"
#include "printbridge/commands.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *topic = fuzz_cstr(data, size);
    size_t tl = strlen(topic);
    const char *payload = tl < size ? (const char *)data + tl + 1 : "";
    size_t plen = tl < size ? size - tl - 1 : 0;
    struct command c;
    char err[256];
    memset(&c, 0, sizeof c);
    if (commands_decode(topic, payload, plen, &c, err, sizeof err) == 0) {
        (void)commands_check_state(&c, PRINTER_PRINTING, err, sizeof err);
        (void)commands_check_state(&c, PRINTER_OPERATIONAL, err, sizeof err);
        char *allow[] = { "G1", "M10*", NULL }, *deny[] = { "M112", NULL }, *none[] = { NULL };
        for (size_t i = 0; i < c.nlines; i++) {
            (void)commands_check_gcode(c.lines[i], allow, deny, err, sizeof err);
            (void)commands_check_gcode(c.lines[i], none, none, err, sizeof err);
        }
    }
    commands_command_free(&c);
    free(topic);
    return 0;
}
