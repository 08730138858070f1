/* fuzz_protocol.c: the firmware line parser. Every line a printer (or a noisy cable) sends
 * goes through protocol_classify and the protocol_parse_* functions the printer module picks;
 * here all of them see every input, with small output buffers to probe the length checks. */
#include <stdbool.h>
#include <stdio.h>

#include "fuzz_common.h"
#include "printer/protocol.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *line = fuzz_cstr(data, size);
    char a[64], b[16], small[4];
    unsigned long u1, u2;
    bool flag;
    int i1, i2;
    double d;
    long l;

    (void)protocol_classify(line);
    (void)protocol_has_temperatures(line);
    (void)protocol_has_position(line);
    struct protocol_temps t;
    int n = protocol_parse_temperatures(line, (int)(size % 10) - 1, &t);
    for (int i = 0; i < n && i < t.count; i++) {
        (void)protocol_sensor_key(t.t[i].sensor, a, sizeof a);
        (void)protocol_sensor_key(t.t[i].sensor, small, sizeof small);
    }
    struct protocol_position pos;
    (void)protocol_parse_position(line, &pos);
    static struct protocol_firmware fw;
    (void)protocol_parse_firmware(line, &fw);
    (void)protocol_parse_capability(line, a, sizeof a, &flag);
    (void)protocol_parse_capability(line, small, sizeof small, &flag);
    (void)protocol_parse_resend(line, &u1);
    (void)protocol_parse_advanced_ok(line, &flag, &u1, &i1, &i2);
    (void)protocol_classify_error(line);
    protocol_error_text(line, a, sizeof a);
    protocol_error_text(line, small, sizeof small);
    (void)protocol_error_needs_next_line(line);
    (void)protocol_error_faq(line);
    (void)protocol_error_is_split(line);
    /* the second half of a split error: the input split in two at its middle */
    size_t half = size / 2;
    char *first = fuzz_cstr(data, half), *second = fuzz_cstr(data + half, size - half);
    char joined[128];
    (void)protocol_error_join(first, second, joined, sizeof joined);
    (void)protocol_error_join(first, second, small, sizeof small);
    free(first);
    free(second);
    (void)protocol_parse_action(line, a, sizeof a, b, sizeof b);
    (void)protocol_parse_action(line, small, sizeof small, small, sizeof small);
    (void)protocol_parse_repetier_target(line, b, sizeof b, &d);
    (void)protocol_parse_sd_progress(line, &u1, &u2);
    (void)protocol_parse_file_opened(line, a, sizeof a, &u1);
    static struct protocol_sd_entry e;
    if (protocol_parse_file_list_line(line, &e) == 0) {
        (void)protocol_sd_name_is_gcode(e.name);
        if (e.has_timestamp)
            (void)protocol_m20_timestamp_to_unix(e.timestamp);
    }
    /* the same functions read commands the host sends */
    (void)protocol_gcode_of(line, a, sizeof a);
    (void)protocol_gcode_of(line, small, sizeof small);
    (void)protocol_gcode_subcode(line, &u1);
    for (const char *p = "SETXYZF"; *p; p++) {
        (void)protocol_param_float(line, *p, &d);
        (void)protocol_param_int(line, *p, &l);
    }
    free(line);
    return 0;
}
