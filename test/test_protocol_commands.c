/* test_protocol_commands.c: how the protocol module reads the commands the host sends: the
 * G-code word and subcode of a command, and its decimal and integer parameters. */
#include <check.h>
#include <errno.h>
#include <string.h>

#include "check_table.h"
#include "printer/protocol.h"

/* ---- sent commands --------------------------------------------------------------------------- */

static const struct { const char *cmd, *gcode; bool has_sub; unsigned long sub; } gcodes[] = {
    /* command identification */
    { "G0 X0", "G0", false, 0 },
    { "G28 X0 Y0", "G28", false, 0 },
    { "M109 S220.0 T1", "M109", false, 0 },
    { "M117 Hello World", "M117", false, 0 },
    { "T0", "T", false, 0 },
    { "T3", "T", false, 0 },
    { "No match", NULL, false, 0 },
    { "M80.1", "M80", true, 1 },
    { "G28.2", "G28", true, 2 },
    { "T0.3", "T", false, 0 },
    { "M80.nosubcode", "M80", false, 0 },
    /* more */
    { "  G1 X1", "G1", false, 0 },
    { "G01", "G01", false, 0 },
    { "g28", NULL, false, 0 },
    { "F100", NULL, false, 0 },
    { "!!DEBUG:foo", NULL, false, 0 },
    { "@pause", NULL, false, 0 },
    { "G", NULL, false, 0 },
    { "T", NULL, false, 0 },
    { "", NULL, false, 0 },
};

START_TEST(test_gcode_identification_vectors)
{
    char out[16];
    unsigned long sub = 77;
    size_t n = protocol_gcode_of(gcodes[_i].cmd, out, sizeof out);
    if (gcodes[_i].gcode) {
        ck_assert_uint_eq(n, strlen(gcodes[_i].gcode));
        ck_assert_str_eq(out, gcodes[_i].gcode);
    } else {
        ck_assert_uint_eq(n, 0);
    }
    ck_assert(protocol_gcode_subcode(gcodes[_i].cmd, &sub) == gcodes[_i].has_sub);
    if (gcodes[_i].has_sub)
        ck_assert_uint_eq(sub, gcodes[_i].sub);
}
END_TEST

START_TEST(test_gcode_of_refuses_small_buffer)
{
    char out[4];
    ck_assert_uint_eq(protocol_gcode_of("M109 S200", out, sizeof out), 0);
    ck_assert_uint_eq(protocol_gcode_of("M10 S200", out, sizeof out), 3);
}
END_TEST

static const struct { const char *cmd; char letter; bool found; double value; } float_params[] = {
    /* parameter vectors */
    { "G4 P2.0", 'P', true, 2.0 },
    { "M109 S220.0", 'S', true, 220.0 },
    { "G1 X10.0 Y10.0 Z0.2", 'Z', true, 0.2 },
    { "G1X10.0Y10.0Z0.2", 'Z', true, 0.2 },
    { "g1x10.0y10.0z0.2", 'Z', true, 0.2 },
    { "NP100", 'P', false, 0 },
    /* more */
    { "G1 X10.0 Y10.0 Z0.2", 'z', true, 0.2 },
    { "G1X10.0Y10.0Z0.2", 'Y', true, 10.0 },
    { "G1 E-5.5", 'E', true, -5.5 },
    { "G1 E.5", 'E', true, 0.5 },
    { "M104 S+3", 'S', true, 3.0 },
    { "G1 F3000", 'F', true, 3000.0 },
    { "G1 E1e5", 'E', true, 1.0 },
    { "G1 X", 'X', false, 0 },
    { "M104 S T1 S220", 'S', true, 220.0 },                     /* first S with a number */
    { "M104 T1", 'S', false, 0 },
    { "M117 Test", 'S', false, 0 },                             /* "Test": S follows a letter */
    { "M117 S", 'S', false, 0 },
    { "S-", 'S', false, 0 },
    { "R1.5", 'R', true, 1.5 },
    { "G1 X1", '1', false, 0 },
};

START_TEST(test_float_parameter_vectors)
{
    double v = -1;
    bool found = protocol_param_float(float_params[_i].cmd, float_params[_i].letter, &v);
    ck_assert_msg(found == float_params[_i].found, "%s %c", float_params[_i].cmd,
                  float_params[_i].letter);
    if (found)
        ck_assert_msg(v == float_params[_i].value, "%s: %.17g", float_params[_i].cmd, v);
}
END_TEST

static const struct { const char *cmd; char letter; bool found; long value; } int_params[] = {
    /* parameter vectors */
    { "M110 N0", 'N', true, 0 },
    { "M104 S220.0 T1", 'T', true, 1 },
    { "M104 T1 S220.0", 'T', true, 1 },
    { "N100 M110", 'N', true, 100 },
    /* the tool of an invalid-extruder report */
    { "echo:T3 Invalid extruder", 'T', true, 3 },
    /* more */
    { "M104 S220.7", 'S', true, 220 },
    { "M104 S-5", 'S', false, 0 },                              /* \d+ takes no sign */
    { "m104 t2", 'T', true, 2 },
    { "M104 S99999999999999999999999", 'S', false, 0 },
    { "M104", 'T', false, 0 },
};

START_TEST(test_int_parameter_vectors)
{
    long v = -1;
    bool found = protocol_param_int(int_params[_i].cmd, int_params[_i].letter, &v);
    ck_assert_msg(found == int_params[_i].found, "%s %c", int_params[_i].cmd, int_params[_i].letter);
    if (found)
        ck_assert_int_eq(v, int_params[_i].value);
}
END_TEST

/* ---- suite --------------------------------------------------------------------------------- */

Suite *protocol_commands_suite(void);
Suite *protocol_commands_suite(void)
{
    Suite *s = suite_create("protocol_commands");

    TCase *tc = tcase_create("commands");
    LOOP(tc, test_gcode_identification_vectors, gcodes);
    tcase_add_test(tc, test_gcode_of_refuses_small_buffer);
    LOOP(tc, test_float_parameter_vectors, float_params);
    LOOP(tc, test_int_parameter_vectors, int_params);
    suite_add_tcase(s, tc);

    return s;
}
