/* test_protocol.c: the protocol module against the vectors of serial-protocol.md 3, 4, 7-9
 * and 12, the firmware dialects named in issue 4, and hostile input (over-long lines, missing
 * values, odd numbers). Expected temperatures and positions are written as text ("T0=23.0/220.0
 * B=60.0") and every number is compared exactly after strtod, so a one-ulp parse error fails. */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "printer/protocol.h"

/* ---- classification ------------------------------------------------------------------------ */

static const struct { const char *line; enum protocol_kind kind; } kinds[] = {
    /* serial-protocol.md 6: anything starting with "ok" is an ack, whatever it carries */
    { "ok", PROTOCOL_OK },
    { "ok T:21.3 /0.0 B:21.2 /0.0 @:0 B@:0", PROTOCOL_OK },
    { "ok N12 P15 B3", PROTOCOL_OK },                            /* ADVANCED_OK */
    { "ok X:62.417 Y:64.781 Z:0.2 E:2.72328 Count: A:6241 B:6478 C:20", PROTOCOL_OK },
    { "wait", PROTOCOL_WAIT },
    { "waiting", PROTOCOL_OTHER },
    /* 3.3, 8: busy lines, including the one that drives PausedForUser */
    { "busy: processing", PROTOCOL_BUSY },
    { "echo:busy: processing", PROTOCOL_BUSY },
    { "echo:busy: paused for user", PROTOCOL_BUSY },
    { "start", PROTOCOL_START },
    /* 7.1: "resend" / "rs" compared lower-cased */
    { "Resend: 5", PROTOCOL_RESEND },
    { "resend:5", PROTOCOL_RESEND },
    { "RESEND: 5", PROTOCOL_RESEND },
    { "rs N23 expected checksum 109", PROTOCOL_RESEND },
    /* 9: "error:" in any case, Klipper's "!!", Repetier's "fatal:" */
    { "Error:Printer halted. kill() called!", PROTOCOL_ERROR },
    { "error:checksum mismatch, Last Line: 5", PROTOCOL_ERROR },
    { "ERROR: something", PROTOCOL_ERROR },
    { "!! Lost communication with MCU 'mcu'", PROTOCOL_ERROR },
    { "fatal: Heater decoupled", PROTOCOL_ERROR },
    /* 12.9: action commands and other "//" debug output */
    { "//action:pause", PROTOCOL_ACTION },
    { "// action:notification Hello", PROTOCOL_ACTION },
    { "// debug", PROTOCOL_DEBUG },
    { "//", PROTOCOL_DEBUG },
    { "//Action:pause", PROTOCOL_DEBUG },
    /* 8: echo lines are not errors */
    { "echo:Active Extruder: 0", PROTOCOL_ECHO },
    { "echo:Unknown command: \"G999\"", PROTOCOL_ECHO },
    { "echo:T3 Invalid extruder", PROTOCOL_ECHO },
    /* 3.2: "cap:" prefix in any case */
    { "Cap:AUTOREPORT_TEMP:1", PROTOCOL_CAPABILITY },
    { "cap:eeprom:0", PROTOCOL_CAPABILITY },
    /* 3.1: "NAME:" anywhere or "NAME." at the start */
    { "FIRMWARE_NAME:Marlin 2.0.7.2 (Nov 27 2020 14:30:11) SOURCE_CODE_URL:https://github.com/"
      "MarlinFirmware/Marlin PROTOCOL_VERSION:1.0 MACHINE_TYPE:Ender 5 Pro EXTRUDER_COUNT:1",
      PROTOCOL_FIRMWARE },
    { "NAME. Malyan VER: 3.7 MODEL: M300 HW: HG01", PROTOCOL_FIRMWARE },
    { "NAME: Malyan VER: 2.9 MODEL: M200 HW: HA02", PROTOCOL_FIRMWARE },
    /* 12.1: temperature reports without "ok" (autoreport, M109/M190 waits) */
    { "T:21.3 /0.0 B:21.2 /0.0 @:0 B@:0", PROTOCOL_TEMPERATURE },
    { "T:180.2 E:0 W:?", PROTOCOL_TEMPERATURE },
    { "T0:21.3 /0.0 T1:22.0 /0.0 B:21.2 /0.0", PROTOCOL_TEMPERATURE },
    { "B:60.0 /60.0", PROTOCOL_TEMPERATURE },
    { "T:20.0 /0.0 B:20.0 /0.0 T0:20.0 /0.0 @:0 B@:0 P:0.0 A:25.0", PROTOCOL_TEMPERATURE },
    /* 12.2: position reports without "ok" (M114 on some firmware, M154 autoreport) */
    { "X:0.00 Y:0.00 Z:0.00 E:0.00 Count X:0 Y:0 Z:0", PROTOCOL_POSITION },
    { "X:62.417 Y:64.781 Z:0.2 E:2.72328 Count: A:6241 B:6478 C:20", PROTOCOL_POSITION },
    /* 12.3 and everything else */
    { "SD card ok", PROTOCOL_OTHER },
    { "SD printing byte 1317/8610", PROTOCOL_OTHER },
    { "File opened: big.gcode  Size: 8610", PROTOCOL_OTHER },
    { "Not SD printing", PROTOCOL_OTHER },
    { "TargetExtr0:200", PROTOCOL_OTHER },
    { "Count: A:6241 B:6478 C:20", PROTOCOL_OTHER },
    { "", PROTOCOL_OTHER },
};

START_TEST(test_classify_names_the_kind_of_each_line)
{
    ck_assert_msg(protocol_classify(kinds[_i].line) == kinds[_i].kind, "\"%s\": got %d, want %d",
                  kinds[_i].line, (int)protocol_classify(kinds[_i].line), (int)kinds[_i].kind);
}
END_TEST

static const struct { const char *line; bool temps, position; } dispatch[] = {
    /* serial-protocol.md 12.1 and 12.2 dispatch rules */
    { "T:23.0 B:60.0", true, false },
    { "ok T:21.3 /0.0", true, false },
    { "T0:21.3 /0.0", true, false },
    { "ok T0:21.3 /0.0 T1:20.0 /0.0", true, false },
    { "B:60.0 /60.0", true, false },
    { "ok B:60.0", true, false },
    { "echo: B:5 A:3", false, false },                 /* "A:" excludes the B test */
    { "T:20.0 /0.0 B:20.0 /0.0 T0:20.0 /0.0 @:0 B@:0 P:0.0 A:25.0", true, false },
    { "Count: A:6241 B:6478 C:20", false, false },
    { "X:62.417 Y:64.781 Z:0.2 E:2.72328 Count: A:6241 B:6478 C:20", false, true },
    { "X:62.417 Y:64.781 Z:0.2", false, true },        /* dispatched, but no complete report */
    { "ok X:0.0 Y:0.0 Z:0.0 E:0.0 T:20.0", false, true }, /* position wins */
    { "ok", false, false },
    { "ok N12 P15 B3", false, false },
    { "TargetExtr0:200", false, false },
};

START_TEST(test_dispatch_checks_position_before_temperatures)
{
    ck_assert_msg(protocol_has_temperatures(dispatch[_i].line) == dispatch[_i].temps, "%s",
                  dispatch[_i].line);
    ck_assert_msg(protocol_has_position(dispatch[_i].line) == dispatch[_i].position, "%s",
                  dispatch[_i].line);
}
END_TEST

/* ---- temperatures ---------------------------------------------------------------------------- */

/* Compares a result with "NAME=ACTUAL[/TARGET] ..."; numbers compared exactly. */
static void check_temps(const char *line, const struct protocol_temps *t, const char *want)
{
    char buf[512];
    int n = 0;
    snprintf(buf, sizeof buf, "%s", want);
    for (char *save, *tok = strtok_r(buf, " ", &save); tok; tok = strtok_r(NULL, " ", &save), n++) {
        ck_assert_msg(n < t->count, "%s: only %d sensors, want more (%s)", line, t->count, want);
        char *eq = strchr(tok, '='), *slash;
        ck_assert_ptr_nonnull(eq);
        *eq = '\0';
        ck_assert_msg(strcmp(t->t[n].sensor, tok) == 0, "%s: sensor %d is %s, want %s", line, n,
                      t->t[n].sensor, tok);
        ck_assert_msg(t->t[n].actual == strtod(eq + 1, &slash), "%s: %s actual %.17g", line, tok,
                      t->t[n].actual);
        if (*slash == '/') {
            ck_assert_msg(t->t[n].has_target, "%s: %s has no target", line, tok);
            ck_assert_msg(t->t[n].target == strtod(slash + 1, NULL), "%s: %s target %.17g", line,
                          tok, t->t[n].target);
        } else {
            ck_assert_msg(!t->t[n].has_target, "%s: %s has a target", line, tok);
        }
    }
    ck_assert_msg(n == t->count, "%s: %d sensors, want %d (%s)", line, t->count, n, want);
}

struct temp_vector { const char *line; int current; const char *want; int max_tool; };

static const struct temp_vector temp_vectors[] = {
    /* serial-protocol.md 12.1, parser vectors */
    { "T:23.0 B:60.0", 0, "T0=23.0 B=60.0", 0 },
    { "T:23.0 B:60.0", 1, "T1=23.0 B=60.0", 1 },
    { "T:23.0/220.0 B:60.0/70.0", 0, "T0=23.0/220.0 B=60.0/70.0", 0 },
    { "ok T:23.0/220.0 T0:23.0/220.0 T1:50.2/210.0 T2:39.4/220.0 B:60.0", 0,
      "T0=23.0/220.0 T1=50.2/210.0 T2=39.4/220.0 B=60.0", 2 },
    { "ok T:50.2/210.0 T0:23.0/220.0 T1:50.2/210.0 T2:39.4/220.0 B:60.0", 1,
      "T0=23.0/220.0 T1=50.2/210.0 T2=39.4/220.0 B=60.0", 2 },
    { "ok T:-55.7/0 T0:-55.7/0 T1:150.0/210.0", 0, "T0=-55.7/0 T1=150.0/210.0", 1 },
    { "ok T:150.0/210.0 T0:-55.7/0 T1:150.0/210.0", 1, "T0=-55.7/0 T1=150.0/210.0", 1 },
    { "T:210.04 /210.00 B:52.00 /52.00 @:85 B@:31pS_XYZ:5", 0, "T0=210.04/210.0 B=52.0/52.0", 0 },
    { "T:210.04 /210.00 B:52.00 /52.00 @:85 31pS_XYZ:5", 0,
      "T0=210.04/210.0 B=52.0/52.0 31pS_XYZ=5", 0 },
    { "T:210.04 /210.00 B:52.00 /52.00 @:85 F0:255.0 /255.0", 0,
      "T0=210.04/210.0 B=52.0/52.0 F0=255.0/255.0", 0 },
    { "T:210.04 /210.00 @B:52.00 /52.00", 0, "T0=210.04/210.0", 0 },
    { "T:210.04 /210.00 @B:52.00 /52.00 TXYZ:2", 0, "T0=210.04/210.0 TXYZ=2", 0 },
    { "T:210.04 /210.00 B:52.00 /52.00 @:85 B:1234.0 /1234.0", 0, "T0=210.04/210.0 B=52.0/52.0", 0 },

    /* serial-protocol.md 12.1, canonicalisation vectors written as report lines */
    { "T:23", 0, "T0=23", 0 },
    { "T:23", 1, "T1=23", 1 },
    { "T:23 T0:23 T1:42", 0, "T0=23 T1=42", 1 },
    { "T:42 T0:23 T1:42", 1, "T0=23 T1=42", 1 },
    { "T:21 T0:23 T1:42", 0, "T0=23 T1=42", 1 },                /* the Tn values win */
    { "T:41 T0:23 T1:42", 1, "T0=23 T1=42", 1 },
    { "T:23 T1:42", 1, "T0=23 T1=42", 1 },                      /* Smoothieware: T is T0 */
    { "T0:23 T1:42", 1, "T0=23 T1=42", 1 },
    { "T:23 T0:23", 1, "T0=23 T1=23", 1 },                      /* T copied to the missing Tc */

    /* issue 4: the firmware dialects */
    /* Marlin */
    { "ok T:21.3 /0.0 B:21.2 /0.0 @:0 B@:0", 0, "T0=21.3/0.0 B=21.2/0.0", 0 },
    /* OctoPrint's virtual printer */
    { "ok T:21.30/ 0.00 B:21.30/ 0.00 @:64", 0, "T0=21.3/0.0 B=21.3/0.0", 0 },
    /* Marlin M109 wait: as upstream, "E:0" is a custom sensor "E" (0.0, no target). It is
     * never published while it reads 0 (wire-format 8 skips all-falsy entries), but while
     * tool 1 heats it becomes temperature/E with actual 1.0 */
    { "T:180.2 E:0 W:?", 0, "T0=180.2 E=0", 0 },
    { "T:180.2 E:1 W:?", 1, "T1=180.2 E=1", 1 },
    { "T:60.1 E:0 B:58.3", 0, "T0=60.1 B=58.3 E=0", 0 },        /* M190 wait */
    /* Marlin multi-extruder */
    { "ok T:201.3 /210.0 B:60.1 /60.0 T0:201.3 /210.0 T1:25.0 /0.0 @:127 B@:0 @0:127 @1:0", 0,
      "T0=201.3/210.0 T1=25.0/0.0 B=60.1/60.0", 1 },
    /* Prusa: P (PINDA) and A (ambient) are custom sensors */
    { "T:20.0 /0.0 B:20.0 /0.0 T0:20.0 /0.0 @:0 B@:0 P:0.0 A:25.0", 0,
      "T0=20.0/0.0 B=20.0/0.0 P=0.0 A=25.0", 0 },
    /* RepRapFirmware */
    { "T:21.3 /0.0 B:21.2 /0.0", 0, "T0=21.3/0.0 B=21.2/0.0", 0 },
    { "ok T0:21.3 /0.0 T1:22.4 /0.0 B:21.2 /0.0", 0, "T0=21.3/0.0 T1=22.4/0.0 B=21.2/0.0", 1 },
    /* Smoothieware */
    { "ok T:21.3 /0.0 @0 B:21.2 /0.0 @0", 0, "T0=21.3/0.0 B=21.2/0.0", 0 },
    { "ok T:21.3 /0.0 @0 T1:22.0 /0.0 @0 B:21.2 /0.0 @0", 1, "T0=21.3/0.0 T1=22.0/0.0 B=21.2/0.0",
      1 },
    /* Repetier (its TargetExtr lines are tested below) */
    { "T:21.30 /0 B:21.20 /0 B@:0 @:0", 0, "T0=21.3/0 B=21.2/0", 0 },
    /* a chamber, reported as C (whether it is one is up to the caller) */
    { "T:21.3 /0.0 B:21.2 /0.0 C:30.5 /40.0", 0, "T0=21.3/0.0 B=21.2/0.0 C=30.5/40.0", 0 },

    /* number forms FLOAT accepts, and ones it stops short of */
    { "T:.5 B:+3", 0, "T0=0.5 B=3", 0 },
    { "T:21 /0.", 0, "T0=21/0", 0 },                            /* "0." matches as "0" */
    { "T:21. /0", 0, "T0=21", 0 },              /* the "." left behind stops the target */
    { "T:1.2.3", 0, "T0=1.2/0.3", 0 },          /* the "/" is optional: ".3" is the target */
    { "T:1e5", 0, "T0=1", 0 },                                  /* no exponents in FLOAT */
    { "T:0x1A", 0, "T0=0", 0 },
    { "T:-0.0", 0, "T0=-0.0", 0 },
    { "T:0.1 B:92.00714527141359", 0, "T0=0.1 B=92.00714527141359", 0 },
    { "T:000000000000000000000000000000000000021.3", 0, "T0=21.3", 0 },
    { "T:21.3\t/\t0.0", 0, "T0=21.3/0.0", 0 },
    { "T:21.3 60.0", 0, "T0=21.3/60.0", 0 },                    /* the "/" is optional */
    /* missing or broken values */
    { "T: B:", 0, "", 0 },
    { "T:abc B:20", 0, "B=20", 0 },
    { "T:- B:-.", 0, "", 0 },
    { "T:21.3 /", 0, "T0=21.3", 0 },
    { "T:21.3B:20.0", 0, "T0=21.3", 0 },                        /* B needs a space before it */
    { "ok", 0, "", 0 },
    { "", 0, "", 0 },
    /* tool numbers: leading zeros and numbers above PROTOCOL_MAX_TOOL are dropped */
    { "T0:20 T7:21 T8:22 T99999999999999999999:23", 0, "T0=20 T7=21", 7 },
    { "T00:20 T01:21 T1:22", 0, "T1=22", 1 },
    { "T:20 T9:30", 1, "T0=20", 1 },          /* as upstream, T9 still makes T "more than T" */
    { "T:20", 12, "T12=20", 12 },             /* the caller's tool is trusted */
    { "T:20", -1, "T0=20", 0 },
    /* custom names must fit PROTOCOL_SENSOR_NAME with their NUL */
    { "T:20 ABCDEFGHIJKLMNOPQRSTUVWXYZ012345:1 ABCDEFGHIJKLMNOPQRSTUVWXYZ01234:2", 0,
      "T0=20 ABCDEFGHIJKLMNOPQRSTUVWXYZ01234=2", 0 },
    /* more sensors than fit: tools, B and C are kept, custom ones in order until full */
    { "T:1 A1:1 A2:2 A3:3 A4:4 A5:5 A6:6 A7:7 A8:8 A9:9 A10:10 A11:11 A12:12 A13:13 A14:14 "
      "A15:15 A16:16 B:60 C:30", 0,
      "T0=1 B=60 C=30 A1=1 A2=2 A3=3 A4=4 A5=5 A6=6 A7=7 A8=8 A9=9 A10=10 A11=11 A12=12 A13=13", 0 },
};

START_TEST(test_temperature_vectors)
{
    const struct temp_vector *v = &temp_vectors[_i];
    struct protocol_temps t;
    int n = protocol_parse_temperatures(v->line, v->current, &t);
    ck_assert_int_eq(n, t.count);
    check_temps(v->line, &t, v->want);
    ck_assert_msg(t.max_tool == v->max_tool, "%s: max_tool %d, want %d", v->line, t.max_tool,
                  v->max_tool);
}
END_TEST

START_TEST(test_temperature_rounding_matches_python_float)
{
    struct protocol_temps t;
    /* 2^53 + 1 lies exactly between two doubles; the far-away final 1 decides the rounding
     * (Python: float("9007199254740993.000...0001") == 9007199254740994.0) */
    char line[400] = "T:9007199254740993.";
    memset(line + strlen(line), '0', 300);
    strcpy(line + 19 + 300, "1");
    ck_assert_int_eq(protocol_parse_temperatures(line, 0, &t), 1);
    ck_assert(t.t[0].actual == 9007199254740994.0);
    ck_assert_int_eq(protocol_parse_temperatures("T:9007199254740993", 0, &t), 1);
    ck_assert(t.t[0].actual == 9007199254740992.0);
}
END_TEST

START_TEST(test_temperature_overflow_gives_infinity_like_python)
{
    char line[512] = "T:";
    struct protocol_temps t;
    memset(line + 2, '1', 400);
    line[402] = '\0';
    ck_assert_int_eq(protocol_parse_temperatures(line, 0, &t), 1);
    ck_assert(isinf(t.t[0].actual) && t.t[0].actual > 0);
    strcpy(line, "T:0.");
    memset(line + 4, '0', 400);
    strcpy(line + 404, "1");
    ck_assert_int_eq(protocol_parse_temperatures(line, 0, &t), 1);
    ck_assert(t.t[0].actual == 0.0);
}
END_TEST

START_TEST(test_temperature_parser_survives_hostile_lines)
{
    size_t len = 200000;
    char *line = malloc(len + 1);
    struct protocol_temps t;
    ck_assert_ptr_nonnull(line);
    /* a long run of digits after a sensor */
    memset(line, '5', len);
    memcpy(line, "T:", 2);
    line[len] = '\0';
    ck_assert_int_eq(protocol_parse_temperatures(line, 0, &t), 1);
    ck_assert(isinf(t.t[0].actual));
    /* nothing but distinct custom sensors */
    size_t o = 0;
    for (int k = 0; o + 16 < len; k++)
        o += (size_t)sprintf(line + o, "S%d:%d ", k, k);
    ck_assert_int_eq(protocol_parse_temperatures(line, 0, &t), PROTOCOL_MAX_SENSORS);
    free(line);
}
END_TEST

/* Every parser over long repetitive lines: none may crash, overrun or take quadratic time. */
static const char *const hostile_pieces[] = {
    "T:1 ", "B:", " ", "\t", "/", "9", ".", "-", "@:", "T0:", "X", "X:1 Y:2 Z:3 ", "X:", "E0:1 ",
    "NAME:", "A ", "KEY:v ", "Cap:", "File opened: ", " Size:", "1/", "//action:", "Error:",
    "\xff", "N", "rs",
};

START_TEST(test_every_parser_survives_hostile_lines)
{
    const size_t len = 100000;
    char *line = malloc(len + 1), *out = malloc(len + 1), *out2 = malloc(len + 1);
    ck_assert(line && out && out2);
    const char *piece = hostile_pieces[_i];
    size_t n = strlen(piece), i;
    for (i = 0; i + n <= len; i += n)
        memcpy(line + i, piece, n);
    line[i] = '\0';

    struct protocol_temps t;
    struct protocol_position pos;
    struct protocol_firmware fw;
    struct protocol_sd_entry e;
    bool b;
    double d;
    long l;
    unsigned long u, u2;

    protocol_classify(line);
    int count = protocol_parse_temperatures(line, 0, &t);
    ck_assert(count >= 0 && count <= PROTOCOL_MAX_SENSORS);
    protocol_parse_position(line, &pos);
    ck_assert(protocol_parse_firmware(line, &fw) <= PROTOCOL_MAX_FIELDS);
    protocol_parse_capability(line, out, len + 1, &b);
    protocol_parse_resend(line, &u);
    protocol_classify_error(line);
    protocol_error_text(line, out, len + 1);
    protocol_error_needs_next_line(line);
    protocol_error_join(line, line, out, len + 1);
    protocol_error_faq(line);
    protocol_parse_action(line, out, len + 1, out2, len + 1);
    protocol_parse_repetier_target(line, out, len + 1, &d);
    protocol_parse_sd_progress(line, &u, &u2);
    protocol_parse_file_opened(line, out, len + 1, &u);
    protocol_parse_file_list_line(line, &e);
    protocol_gcode_of(line, out, len + 1);
    protocol_gcode_subcode(line, &u);
    protocol_param_float(line, 'S', &d);
    protocol_param_int(line, 'N', &l);
    free(line);
    free(out);
    free(out2);
}
END_TEST

static const struct { const char *sensor, *key; } sensor_keys[] = {
    /* serial-protocol.md 12.1 / wire-format.md 8 MQTT keys */
    { "T0", "tool0" }, { "T3", "tool3" }, { "B", "bed" }, { "C", "chamber" },
    { "P", "P" }, { "31pS_XYZ", "31pS_XYZ" }, { "TXYZ", "TXYZ" }, { "T", "T" },
};

START_TEST(test_sensor_key_maps_to_mqtt_names)
{
    char out[32];
    int n = protocol_sensor_key(sensor_keys[_i].sensor, out, sizeof out);
    ck_assert_str_eq(out, sensor_keys[_i].key);
    ck_assert_int_eq(n, (int)strlen(sensor_keys[_i].key));
}
END_TEST

START_TEST(test_sensor_key_refuses_small_buffer)
{
    char out[5];
    ck_assert_int_eq(protocol_sensor_key("T0", out, sizeof out), -1);
    ck_assert_int_eq(protocol_sensor_key("B", out, sizeof out), 3);
    ck_assert_int_eq(protocol_sensor_key("C", out, sizeof out), -1);
}
END_TEST

static const struct { const char *line; int rc; const char *sensor; double target; } repetier[] = {
    /* serial-protocol.md 12.1, Repetier target temperatures (re.match: start of line) */
    { "TargetExtr0:200", 0, "T0", 200.0 },
    { "TargetExtr1:210.5", 0, "T1", 210.5 },
    { "TargetBed:60", 0, "B", 60.0 },
    { "TargetBed:-.5", 0, "B", -0.5 },
    { "ok TargetExtr0:200", -1, NULL, 0 },
    { "TargetExtr:200", -1, NULL, 0 },
    { "TargetExtr0:", -1, NULL, 0 },
    { "TargetBed:", -1, NULL, 0 },
    { "TargetExtr99999999999999999999999:1", -1, NULL, 0 },
};

START_TEST(test_repetier_target_vectors)
{
    char sensor[8];
    double target = -1;
    int rc = protocol_parse_repetier_target(repetier[_i].line, sensor, sizeof sensor, &target);
    ck_assert_msg(rc == repetier[_i].rc, "%s", repetier[_i].line);
    if (rc == 0) {
        ck_assert_str_eq(sensor, repetier[_i].sensor);
        ck_assert(target == repetier[_i].target);
    }
}
END_TEST

/* ---- position -------------------------------------------------------------------------------- */

/* "X Y Z e=E" or "X Y Z e0=.. e1=.."; "" for no position. */
static const struct { const char *line, *want; } positions[] = {
    /* serial-protocol.md 12.2 */
    { "ok X:62.417 Y:64.781 Z:0.2 E:2.72328 Count: A:6241 B:6478 C:20", "62.417 64.781 0.2 e=2.72328" },
    { "X:62.417 Y:64.781 Z:0.2 E:2.72328 Count: A:6241 B:6478 C:20", "62.417 64.781 0.2 e=2.72328" },
    { "X:96.99 Y:88.31 Z:0.30 E0:0.0 E1:0.0 E2:0.0 E3:0.0 E4:0.0 E5:0.0",
      "96.99 88.31 0.3 e0=0.0 e1=0.0 e2=0.0 e3=0.0 e4=0.0 e5=0.0" },
    { "X:150.0 Y:150.0 Z:  0.7 E:  0.0", "150.0 150.0 0.7 e=0.0" },
    { "", "" },
    { "X:62.417 Y:64.781 Z:0.2", "" },
    { "ok X:0.0 Y:0.0 Z:0.0 E:0.0 Count: A:0 B:0 C:0", "0.0 0.0 0.0 e=0.0" },
    /* issue 4 */
    { "X:0.00 Y:0.00 Z:0.00 E:0.00 Count X:0 Y:0 Z:0", "0.0 0.0 0.0 e=0.0" },
    /* the first "X:" that starts a complete report counts (re.search) */
    { "Count X:1 Y:2 Z:3 X:4.5 Y:5.5 Z:6.5 E:7.5", "4.5 5.5 6.5 e=7.5" },
    { "X:1Y:2Z:3E:4", "1 2 3 e=4" },
    { "X:-1.5 Y:+2 Z:.5 E:-.25", "-1.5 2 0.5 e=-0.25" },
    { "X:1 Y:2 Z:3 E:", "" },
    { "X:1 Y:2 Z:3 E", "" },
    { "X: Y:2 Z:3 E:4", "" },
    { "X:1 Z:3 Y:2 E:4", "" },
    { "x:1 y:2 z:3 e:4", "" },
    { "X:1 Y=2 Z:3 E:4", "" },
    /* E<n> beyond PROTOCOL_MAX_EXTRUDERS is matched but not stored; gaps are NAN */
    { "X:1 Y:2 Z:3 E1:5 E9:6", "1 2 3 e1=5" },
    { "X:1 Y:2 Z:3 E0:1 E0:2", "1 2 3 e0=2" },                  /* later wins, as a dict */
};

START_TEST(test_position_vectors)
{
    struct protocol_position p;
    const char *line = positions[_i].line, *want = positions[_i].want;
    bool ok = protocol_parse_position(line, &p);
    ck_assert_msg(ok == (want[0] != '\0'), "%s", line);
    if (!ok)
        return;
    char *end;
    ck_assert(p.x == strtod(want, &end));
    ck_assert(p.y == strtod(end, &end));
    ck_assert(p.z == strtod(end, &end));
    end += strspn(end, " ");
    if (strncmp(end, "e=", 2) == 0) {
        ck_assert(p.has_e);
        ck_assert(p.e == strtod(end + 2, NULL));
        ck_assert_int_eq(p.extruders, 0);
        return;
    }
    ck_assert(!p.has_e);
    double want_en[PROTOCOL_MAX_EXTRUDERS];
    int want_n = 0;
    for (int i = 0; i < PROTOCOL_MAX_EXTRUDERS; i++)
        want_en[i] = NAN;
    while (*end == 'e') {
        int id = (int)strtol(end + 1, &end, 10);
        want_en[id] = strtod(end + 1, &end);
        want_n = id + 1;
        end += strspn(end, " ");
    }
    ck_assert_int_eq(p.extruders, want_n);
    for (int i = 0; i < want_n; i++)
        ck_assert_msg(isnan(want_en[i]) ? isnan(p.en[i]) : p.en[i] == want_en[i], "%s e%d", line, i);
}
END_TEST

/* ---- firmware and capabilities ------------------------------------------------------------- */

/* want: "KEY=value|KEY=value"; name: the firmware name ("" when upstream has none) */
static const struct { const char *line, *want, *name; } firmware[] = {
    /* serial-protocol.md 12.5 */
    { "KEY1:Value 1 FIRMWARE_NAME:Some Firmware With Spaces KEY2:Value 2",
      "KEY1=Value 1|FIRMWARE_NAME=Some Firmware With Spaces|KEY2=Value 2",
      "Some Firmware With Spaces" },
    { "NAME: Malyan VER: 2.9 MODEL: M200 HW: HA02", "NAME=Malyan|VER=2.9|MODEL=M200|HW=HA02",
      "Malyan 2.9" },
    { "NAME. Malyan\tVER: 3.8\tMODEL: M100\tHW: HB02", "NAME=Malyan|VER=3.8|MODEL=M100|HW=HB02",
      "Malyan 3.8" },
    { "NAME. Malyan VER: 3.7 MODEL: M300 HW: HG01", "NAME=Malyan|VER=3.7|MODEL=M300|HW=HG01",
      "Malyan 3.7" },
    { "FIRMWARE_NAME:Marlin 1.1.0 From Archive SOURCE_CODE_URL:http:// ... PROTOCOL_VERSION:1.0 "
      "MACHINE_TYPE:www.cxsw3d.com EXTRUDER_COUNT:1 UUID:00000000-0000-0000-0000-000000000000",
      "FIRMWARE_NAME=Marlin 1.1.0 From Archive|SOURCE_CODE_URL=http:// ...|PROTOCOL_VERSION=1.0|"
      "MACHINE_TYPE=www.cxsw3d.com|EXTRUDER_COUNT=1|UUID=00000000-0000-0000-0000-000000000000",
      "Marlin 1.1.0 From Archive" },
    { "FIRMWARE_NAME:Marlin 2.0.7.2 (Nov 27 2020 14:30:11) SOURCE_CODE_URL:https://github.com/"
      "MarlinFirmware/Marlin PROTOCOL_VERSION:1.0 MACHINE_TYPE:Ender 5 Pro EXTRUDER_COUNT:1 "
      "UUID:cede2a2f-41a2-4748-9b12-c55c62f367ff",
      "FIRMWARE_NAME=Marlin 2.0.7.2 (Nov 27 2020 14:30:11)|SOURCE_CODE_URL=https://github.com/"
      "MarlinFirmware/Marlin|PROTOCOL_VERSION=1.0|MACHINE_TYPE=Ender 5 Pro|EXTRUDER_COUNT=1|"
      "UUID=cede2a2f-41a2-4748-9b12-c55c62f367ff",
      "Marlin 2.0.7.2 (Nov 27 2020 14:30:11)" },
    { "KEY1:VALUE1 _KEY2:INVALID 123:INVALID 1KEY:INVALID KEY2:VALUE2",
      "KEY1=VALUE1 _KEY2:INVALID 123:INVALID 1KEY:INVALID|KEY2=VALUE2", "" },
    /* serial-protocol.md 17 (simulator) */
    { "FIRMWARE_NAME:Virtual Marlin 1.0 PROTOCOL_VERSION:1.0",
      "FIRMWARE_NAME=Virtual Marlin 1.0|PROTOCOL_VERSION=1.0", "Virtual Marlin 1.0" },
    /* NAME + VER is a name only for Malyan, as upstream */
    { "NAME: Foo VER: 1.0", "NAME=Foo|VER=1.0", "" },
    { "NAME: Malyan", "NAME=Malyan", "" },
    { "NAME: malyan VER: 4.0", "NAME=malyan|VER=4.0", "malyan 4.0" },
    /* "NAME." only counts at the start of the line */
    { "X NAME. Malyan VER: 3.7", "VER=3.7", "" },
    /* an empty FIRMWARE_NAME is still the name (no Malyan fallback) */
    { "FIRMWARE_NAME: NAME: Malyan VER: 1", "FIRMWARE_NAME=|NAME=Malyan|VER=1", "" },
    /* a duplicate key keeps its place and takes the later value */
    { "A:1 B:2 A:3", "A=3|B=2", "" },
    /* text before the first key is dropped; lowercase or glued keys do not split */
    { "echo:FIRMWARE_NAME:x", "", "" },
    { "Marlin FIRMWARE_NAME:x y:z KEY:", "FIRMWARE_NAME=x y:z|KEY=", "x y:z" },
    { "  \t", "", "" },
    { "", "", "" },
};

START_TEST(test_firmware_vectors)
{
    struct protocol_firmware fw;
    char got[2048] = "";
    int n = protocol_parse_firmware(firmware[_i].line, &fw);
    ck_assert_int_eq(n, fw.count);
    for (int i = 0; i < fw.count; i++) {
        size_t len = strlen(got);
        snprintf(got + len, sizeof got - len, "%s%s=%s", i ? "|" : "", fw.f[i].key, fw.f[i].value);
    }
    ck_assert_str_eq(got, firmware[_i].want);
    ck_assert_str_eq(fw.name, firmware[_i].name);
}
END_TEST

START_TEST(test_firmware_drops_oversized_pairs_instead_of_cutting)
{
    char line[1200];
    struct protocol_firmware fw;
    int n = snprintf(line, sizeof line, "FIRMWARE_NAME:");
    memset(line + n, 'x', 300);
    snprintf(line + n + 300, sizeof line - (size_t)n - 300, " PROTOCOL_VERSION:1.0 ");
    ck_assert_int_eq(protocol_parse_firmware(line, &fw), 1);
    ck_assert_str_eq(fw.f[0].key, "PROTOCOL_VERSION");
    ck_assert_str_eq(fw.name, "");

    /* a 48-byte key does not fit key[48] with its NUL */
    snprintf(line, sizeof line, "%s:v OK:1", "ABCDEFGHIJKLMNOPQRSTUVWXYZABCDEFGHIJKLMNOPQRSTUV");
    ck_assert_int_eq(protocol_parse_firmware(line, &fw), 1);
    ck_assert_str_eq(fw.f[0].key, "OK");

    /* at most PROTOCOL_MAX_FIELDS pairs */
    n = 0;
    for (int i = 0; i < 40; i++)
        n += snprintf(line + n, sizeof line - (size_t)n, "K%d:%d ", i, i);
    ck_assert_int_eq(protocol_parse_firmware(line, &fw), PROTOCOL_MAX_FIELDS);
    ck_assert_str_eq(fw.f[PROTOCOL_MAX_FIELDS - 1].key, "K23");
}
END_TEST

static const struct { const char *line; int rc; const char *name; bool enabled; } caps[] = {
    /* serial-protocol.md 12.6 */
    { "Cap:EEPROM:1", 0, "EEPROM", true },
    { "Cap:EEPROM:0", 0, "EEPROM", false },
    { "AUTOREPORT_TEMP:1", 0, "AUTOREPORT_TEMP", true },
    { "AUTOREPORT_TEMP:0", 0, "AUTOREPORT_TEMP", false },
    { "TOO:MANY:FIELDS", -1, NULL, false },
    { "Cap:", -1, NULL, false },
    { "TOOLITTLEFIELDS", -1, NULL, false },
    { "WRONG:FLAG", -1, NULL, false },
    /* upstream lower-cases the line and upper-cases the name */
    { "cap:autoreport_temp:1", 0, "AUTOREPORT_TEMP", true },
    { "CAP:Extended_M20:1", 0, "EXTENDED_M20", true },
    { "Cap:CHAMBER_TEMPERATURE:1", 0, "CHAMBER_TEMPERATURE", true },
    { "Cap:EEPROM:2", -1, NULL, false },
    { "Cap:EEPROM:10", -1, NULL, false },
    { "Cap:EEPROM: 1", -1, NULL, false },
    { "Cap::1", -1, NULL, false },
    { "", -1, NULL, false },
};

START_TEST(test_capability_vectors)
{
    char name[64] = "unchanged";
    bool enabled = !caps[_i].enabled;
    int rc = protocol_parse_capability(caps[_i].line, name, sizeof name, &enabled);
    ck_assert_msg(rc == caps[_i].rc, "%s", caps[_i].line);
    if (rc == 0) {
        ck_assert_str_eq(name, caps[_i].name);
        ck_assert(enabled == caps[_i].enabled);
    }
}
END_TEST

START_TEST(test_capability_refuses_small_name_buffer)
{
    char name[6];
    bool enabled;
    ck_assert_int_eq(protocol_parse_capability("Cap:EEPROM:1", name, sizeof name, &enabled), -1);
    ck_assert_int_eq(protocol_parse_capability("Cap:EEPRO:1", name, sizeof name, &enabled), 0);
}
END_TEST

/* ---- resend -------------------------------------------------------------------------------- */

static const struct { const char *line; int rc; unsigned long n; } resends[] = {
    /* serial-protocol.md 7.1 and 12.7 */
    { "Resend:23", 0, 23 },
    { "Resend: N23", 0, 23 },
    { "Resend: N:23", 0, 23 },
    { "rs 23", 0, 23 },
    { "rs N23", 0, 23 },
    { "rs N:23", 0, 23 },
    { "rs N23 expected checksum 109", 0, 23 },
    { "Resend: 6", 0, 6 },
    { "RESEND: 0", 0, 0 },
    { "Resend:", -1, 0 },
    { "Resend: N", -1, 0 },
    { "ok", -1, 0 },
    { "Error:Line Number is not Last Line Number+1, Last Line: 5", -1, 0 },
    { "Resend: 99999999999999999999999999", -1, 0 },
};

START_TEST(test_resend_vectors)
{
    unsigned long n = 12345;
    int rc = protocol_parse_resend(resends[_i].line, &n);
    ck_assert_msg(rc == resends[_i].rc, "%s", resends[_i].line);
    if (rc == 0)
        ck_assert_uint_eq(n, resends[_i].n);
}
END_TEST

/* ---- errors -------------------------------------------------------------------------------- */

static const struct { const char *line; enum protocol_error_class cls; } errors[] = {
    /* serial-protocol.md 9, class table in its order */
    { "Error:No Line Number with checksum, Last Line: 5", PROTOCOL_ERROR_RECOVERABLE },
    { "Error:Missing linenumber", PROTOCOL_ERROR_RECOVERABLE },
    { "Error:checksum mismatch, Last Line: 5", PROTOCOL_ERROR_RESEND },
    { "Error:Line Number is not Last Line Number+1, Last Line: 5", PROTOCOL_ERROR_RESEND },
    { "Error:No Checksum with line number, Last Line: 5", PROTOCOL_ERROR_RESEND },
    { "Error:Wrong linenumber", PROTOCOL_ERROR_RESEND },
    { "Error:format error", PROTOCOL_ERROR_RESEND },
    { "Error:expected line 5 got 4", PROTOCOL_ERROR_RESEND },
    { "error:CHECKSUM MISMATCH", PROTOCOL_ERROR_RESEND },
    { "Error:volume.init failed", PROTOCOL_ERROR_SD },
    { "Error:openRoot failed", PROTOCOL_ERROR_SD },
    { "Error:workDir open failed", PROTOCOL_ERROR_SD },
    { "Error:error writing to file", PROTOCOL_ERROR_SD },
    { "Error:Cannot open subdir", PROTOCOL_ERROR_SD },
    { "Error:open failed, File: foo.g.", PROTOCOL_ERROR_SD },
    { "Error:Cannot enter subdir: foo", PROTOCOL_ERROR_SD },
    { "Error:Unknown command: \"G999\"", PROTOCOL_ERROR_UNKNOWN_COMMAND },
    { "Error:Printer halted. kill() called!", PROTOCOL_ERROR_FATAL },
    { "Error:Thermal Runaway, system stopped! Heater_ID: bed", PROTOCOL_ERROR_FATAL },
    { "Error:MINTEMP triggered, system stopped! Heater_ID: E0", PROTOCOL_ERROR_FATAL },
    { "!! Lost communication with MCU 'mcu'", PROTOCOL_ERROR_FATAL },
    { "fatal:Heater decoupled", PROTOCOL_ERROR_FATAL },
    { "ERROR:something else", PROTOCOL_ERROR_FATAL },
    { "Error:", PROTOCOL_ERROR_FATAL },
    /* not error lines */
    { "ok", PROTOCOL_ERROR_NONE },
    { "echo:Unknown command: \"G999\"", PROTOCOL_ERROR_NONE },
    { "Resend: 5", PROTOCOL_ERROR_NONE },
    { "FATAL:upper case is no Repetier error", PROTOCOL_ERROR_NONE },
    { "! single bang", PROTOCOL_ERROR_NONE },
    { "", PROTOCOL_ERROR_NONE },
};

START_TEST(test_error_classes_follow_reference_order)
{
    ck_assert_msg(protocol_classify_error(errors[_i].line) == errors[_i].cls, "%s: got %d",
                  errors[_i].line, (int)protocol_classify_error(errors[_i].line));
}
END_TEST

static const struct { const char *line, *text; } error_texts[] = {
    /* serial-protocol.md 9 step 4: the text after "Error:" or "!!", trimmed */
    { "Error:Printer halted. kill() called!", "Printer halted. kill() called!" },
    { "Error: Thermal Runaway \t", "Thermal Runaway" },
    { "error:lower", "lower" },
    { "!! Lost communication with MCU 'mcu'", "Lost communication with MCU 'mcu'" },
    /* step 1: "fatal:" becomes "Error:fatal:", so the text keeps it */
    { "fatal:Heater decoupled", "fatal:Heater decoupled" },
    { "Error:", "" },
    { "  echo:not an error  ", "echo:not an error" },
};

START_TEST(test_error_text_strips_prefix_and_space)
{
    char out[128];
    protocol_error_text(error_texts[_i].line, out, sizeof out);
    ck_assert_str_eq(out, error_texts[_i].text);
}
END_TEST

START_TEST(test_error_text_cuts_at_character_boundary)
{
    char out[3];
    protocol_error_text("Error:W\xc3\xbcrfel", out, sizeof out);
    ck_assert_str_eq(out, "W");
    char four[4];
    protocol_error_text("Error:W\xc3\xbcrfel", four, sizeof four);
    ck_assert_str_eq(four, "W\xc3\xbc");
}
END_TEST

static const struct { const char *line; bool next; } kill_lines[] = {
    /* serial-protocol.md 9 step 3, regex_marlinKillError (case-sensitive) */
    { "Error:Heating failed, system stopped! Heater_ID: 0", true },
    { "Error:Thermal Runaway, system stopped! Heater_ID: bed", true },
    { "Error:Thermal Malfunction, system stopped! Heater_ID: 0", true },
    { "Error:MAXTEMP triggered, system stopped! Heater_ID: 0", true },
    { "Error:MINTEMP triggered, system stopped! Heater_ID: 0", true },
    { "Error:Invalid extruder number !", true },
    { "Error:Watchdog barked, please turn off the printer.", true },
    { "Error:KILL caused by KILL button/pin", true },
    { "!! Thermal Runaway", true },
    { "Error:Printer halted. kill() called!", false },
    { "Error:thermal runaway", false },
    { "echo:Thermal Runaway", false },
    { "Thermal Runaway", false },
};

START_TEST(test_kill_errors_need_the_next_line)
{
    ck_assert_msg(protocol_error_needs_next_line(kill_lines[_i].line) == kill_lines[_i].next, "%s",
                  kill_lines[_i].line);
}
END_TEST

START_TEST(test_error_join_builds_the_reference_text)
{
    /* serial-protocol.md 9 step 3 example */
    char joined[256], text[256];
    int n = protocol_error_join("Error:Thermal Runaway, system stopped! Heater_ID: bed",
                                "Error:Printer halted. kill() called!", joined, sizeof joined);
    ck_assert_int_eq(n, (int)strlen(joined));
    protocol_error_text(joined, text, sizeof text);
    ck_assert_str_eq(text, "Thermal Runaway, system stopped! Heater_ID: bed - Printer halted. "
                           "kill() called!");
    ck_assert_int_eq(protocol_classify_error(joined), PROTOCOL_ERROR_FATAL);
    ck_assert_str_eq(protocol_error_faq(text), "firmware-thermal-runaway");

    /* the second line need not be an error line */
    protocol_error_join("Error:MINTEMP triggered", "  Heater_ID: 0 ", joined, sizeof joined);
    ck_assert_str_eq(joined, "Error:MINTEMP triggered - Heater_ID: 0");

    char small[10];
    ck_assert_int_eq(protocol_error_join("Error:abc", "Error:def", small, sizeof small), -1);
    ck_assert_int_eq(protocol_error_join("abc", "Error:def", small, sizeof small), 9);
    ck_assert_str_eq(small, "abc - def");
}
END_TEST

static const struct { const char *line; bool split; } split_lines[] = {
    /* serial-protocol.md 9 step 3, regex_minMaxError "Error:[0-9]\n" */
    { "Error:0", true },
    { "Error:9", true },
    { "Error:0: Extruder switched off. MAXTEMP triggered !", false },
    { "Error:10", false },
    { "error:0", false },
    { "Error:", false },
};

START_TEST(test_split_minmax_error_is_recognised)
{
    ck_assert_msg(protocol_error_is_split(split_lines[_i].line) == split_lines[_i].split, "%s",
                  split_lines[_i].line);
}
END_TEST

START_TEST(test_split_minmax_error_joined_is_a_kill_error)
{
    char line[128];
    snprintf(line, sizeof line, "%s%s", "Error:0", ": Extruder switched off. MAXTEMP triggered !");
    ck_assert(protocol_error_needs_next_line(line));
    ck_assert_int_eq(protocol_classify_error(line), PROTOCOL_ERROR_FATAL);
}
END_TEST

static const struct { const char *text, *faq; } faqs[] = {
    /* serial-protocol.md 10.1 */
    { "MINTEMP triggered, system stopped! Heater_ID: 0", "firmware-mintemp" },
    { "Err: MAXTEMP: E0", "firmware-maxtemp" },
    { "Thermal Runaway, system stopped! Heater_ID: bed", "firmware-thermal-runaway" },
    { "Heating failed, system stopped! Heater_ID: 0", "firmware-heating-failed" },
    { "Probing Failed", "firmware-probing-failed" },
    { "Bed Leveling failed", "firmware-probing-failed" },
    { "Failed to reach the reference point", "firmware-probing-failed" },
    { "BLTouch error", "firmware-probing-failed" },
    { "Printer halted. kill() called!", NULL },
    { "", NULL },
};

START_TEST(test_error_faq_ids)
{
    const char *faq = protocol_error_faq(faqs[_i].text);
    if (faqs[_i].faq)
        ck_assert_str_eq(faq, faqs[_i].faq);
    else
        ck_assert_ptr_null(faq);
}
END_TEST

/* ---- actions ------------------------------------------------------------------------------- */

static const struct { const char *line; int rc; const char *name, *params; } actions[] = {
    /* serial-protocol.md 12.9 */
    { "//action:pause", 0, "pause", "" },
    { "// action:pause", 0, "pause", "" },
    { "//action:paused", 0, "paused", "" },
    { "//action:sd_inserted", 0, "sd_inserted", "" },
    { "// action:notification Hello", 0, "notification", "Hello" },
    { "//action:prompt_begin Filament runout detected", 0, "prompt_begin", "Filament runout detected" },
    { "//action:prompt_choice   Yes please  ", 0, "prompt_choice", "Yes please" },
    { "//  action:  resume  ", 0, "resume", "" },
    { "//action:", -1, NULL, NULL },
    { "// debug", -1, NULL, NULL },
    { "action:pause", -1, NULL, NULL },
    { "//Action:pause", -1, NULL, NULL },
    { "ok", -1, NULL, NULL },
};

START_TEST(test_action_vectors)
{
    char name[32], params[64];
    int rc = protocol_parse_action(actions[_i].line, name, sizeof name, params, sizeof params);
    ck_assert_msg(rc == actions[_i].rc, "%s", actions[_i].line);
    if (rc == 0) {
        ck_assert_str_eq(name, actions[_i].name);
        ck_assert_str_eq(params, actions[_i].params);
    }
}
END_TEST

START_TEST(test_action_refuses_small_buffers)
{
    char name[6], params[4];
    ck_assert_int_eq(protocol_parse_action("//action:pause", name, sizeof name, params, sizeof params), 0);
    ck_assert_int_eq(protocol_parse_action("//action:paused", name, sizeof name, params, sizeof params), -1);
    ck_assert_int_eq(protocol_parse_action("//action:x abcd", name, sizeof name, params, sizeof params), -1);
}
END_TEST

/* ---- SD card ------------------------------------------------------------------------------- */

static const struct { const char *line; int rc; unsigned long cur, total; } sd_progress[] = {
    /* serial-protocol.md 12.3 */
    { "SD printing byte 1317/8610", 0, 1317, 8610 },
    { "SD printing byte 0/0", 0, 0, 0 },
    { "SD printing byte 12/", -1, 0, 0 },
    { "Not SD printing", -1, 0, 0 },
};

START_TEST(test_sd_progress_vectors)
{
    unsigned long cur = 99, total = 99;
    int rc = protocol_parse_sd_progress(sd_progress[_i].line, &cur, &total);
    ck_assert_int_eq(rc, sd_progress[_i].rc);
    if (rc == 0) {
        ck_assert_uint_eq(cur, sd_progress[_i].cur);
        ck_assert_uint_eq(total, sd_progress[_i].total);
    }
}
END_TEST

static const struct { const char *line; int rc; const char *name; unsigned long size; } opened[] = {
    /* serial-protocol.md 12.3 */
    { "File opened: big.gcode  Size: 8610", 0, "big.gcode", 8610 },
    { "File opened: my file.gcode Size: 12", 0, "my file.gcode", 12 },
    { "File opened:foo.g Size:5", 0, "foo.g", 5 },
    { "File opened: a Size: x Size: 7", 0, "a Size: x", 7 },
    { "File opened: Size: 5", 0, "", 5 },
    { "File opened: big.gcode", -1, NULL, 0 },
    { "File selected", -1, NULL, 0 },
};

START_TEST(test_file_opened_vectors)
{
    char name[64];
    unsigned long size = 0;
    int rc = protocol_parse_file_opened(opened[_i].line, name, sizeof name, &size);
    ck_assert_msg(rc == opened[_i].rc, "%s", opened[_i].line);
    if (rc == 0) {
        ck_assert_str_eq(name, opened[_i].name);
        ck_assert_uint_eq(size, opened[_i].size);
    }
}
END_TEST

static const struct {
    const char *line;
    const char *name;
    bool has_size;
    unsigned long size;
    bool has_ts;
    unsigned long ts;
    const char *longname;
} file_list[] = {
    /* serial-protocol.md 12.4, the simulator's two forms */
    { "test.gco 63", "test.gco", true, 63, false, 0, "" },
    { "big.gco 8610 0x5d757562 \"big.gcode\"", "big.gco", true, 8610, true, 0x5d757562, "big.gcode" },
    /* 12.4 field rules */
    { "LONGNA~1.GCO 12 long name here.gcode", "LONGNA~1.GCO", true, 12, false, 0,
      "long name here.gcode" },
    { "LONGNA~1.GCO 12 0x5d757562 long name here.gcode", "LONGNA~1.GCO", true, 12, true, 0x5d757562,
      "long name here.gcode" },
    { "foo.gco 12 longname.gcode", "foo.gco", true, 12, false, 0, "longname.gcode" },
    { "foo.gco 12 0x5d757562", "foo.gco", true, 12, true, 0x5d757562, "" },
    { "foo.gco", "foo.gco", false, 0, false, 0, "" },
    { "foo bar.gco", "foo bar.gco", false, 0, false, 0, "" },
    { "/dir/x.gcode 100", "/dir/x.gcode", true, 100, false, 0, "" },
    { "foo.gco 12 \"\"", "foo.gco", true, 12, false, 0, "" },
};

START_TEST(test_file_list_vectors)
{
    struct protocol_sd_entry e;
    ck_assert_int_eq(protocol_parse_file_list_line(file_list[_i].line, &e), 0);
    ck_assert_str_eq(e.name, file_list[_i].name);
    ck_assert(e.has_size == file_list[_i].has_size);
    ck_assert_uint_eq(e.size, file_list[_i].size);
    ck_assert(e.has_timestamp == file_list[_i].has_ts);
    ck_assert_uint_eq(e.timestamp, file_list[_i].ts);
    ck_assert_str_eq(e.longname, file_list[_i].longname);
}
END_TEST

START_TEST(test_file_list_refuses_empty_and_oversized)
{
    struct protocol_sd_entry e;
    char line[400];
    ck_assert_int_eq(protocol_parse_file_list_line("   ", &e), -1);
    memset(line, 'a', 300);
    strcpy(line + 300, ".gco 12");
    ck_assert_int_eq(protocol_parse_file_list_line(line, &e), -1);
}
END_TEST

START_TEST(test_m20_timestamp_converts_fat_date_and_time)
{
    /* 0x5d757562: 2026-11-21 14:43:04 */
    ck_assert_int_eq(protocol_m20_timestamp_to_unix(0x5d757562), 1795272184LL);
    /* 1980-01-01 00:00:00, the FAT epoch */
    ck_assert_int_eq(protocol_m20_timestamp_to_unix(0x00210000), 315532800LL);
    ck_assert_int_eq(protocol_m20_timestamp_to_unix(0), -1);              /* month 0 */
    ck_assert_int_eq(protocol_m20_timestamp_to_unix(0x005e0000), -1);     /* 1980-02-30 */
    ck_assert_int_eq(protocol_m20_timestamp_to_unix(0x0221c000), -1);     /* hour 24 */
}
END_TEST

static const struct { const char *name; bool gcode; } sd_names[] = {
    /* serial-protocol.md 12.4: machine-code extensions, ASCII only */
    { "/test.gco", true }, { "BIG.GCODE", true }, { "x.g", true }, { "x.gc~", true },
    { "x.txt", false }, { "noext", false }, { "W\xc3\xbcrfel.gcode", false },
    { "x.gcode.bak", false },
};

START_TEST(test_sd_name_is_gcode)
{
    ck_assert_msg(protocol_sd_name_is_gcode(sd_names[_i].name) == sd_names[_i].gcode, "%s",
                  sd_names[_i].name);
}
END_TEST

/* ---- sent commands --------------------------------------------------------------------------- */

static const struct { const char *cmd, *gcode; bool has_sub; unsigned long sub; } gcodes[] = {
    /* serial-protocol.md 4, command identification */
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
    /* serial-protocol.md 4, parameter vectors */
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
    /* serial-protocol.md 4, parameter vectors */
    { "M110 N0", 'N', true, 0 },
    { "M104 S220.0 T1", 'T', true, 1 },
    { "M104 T1 S220.0", 'T', true, 1 },
    { "N100 M110", 'N', true, 100 },
    /* serial-protocol.md 12.8: the tool of an invalid-extruder report */
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

#define LOOP(tc, fn, table) tcase_add_loop_test(tc, fn, 0, (int)(sizeof(table) / sizeof((table)[0])))

Suite *protocol_suite(void);
Suite *protocol_suite(void)
{
    Suite *s = suite_create("protocol");

    TCase *tc = tcase_create("classify");
    LOOP(tc, test_classify_names_the_kind_of_each_line, kinds);
    LOOP(tc, test_dispatch_checks_position_before_temperatures, dispatch);
    suite_add_tcase(s, tc);

    tc = tcase_create("temperatures");
    LOOP(tc, test_temperature_vectors, temp_vectors);
    tcase_add_test(tc, test_temperature_rounding_matches_python_float);
    tcase_add_test(tc, test_temperature_overflow_gives_infinity_like_python);
    tcase_add_test(tc, test_temperature_parser_survives_hostile_lines);
    LOOP(tc, test_sensor_key_maps_to_mqtt_names, sensor_keys);
    tcase_add_test(tc, test_sensor_key_refuses_small_buffer);
    LOOP(tc, test_repetier_target_vectors, repetier);
    suite_add_tcase(s, tc);

    tc = tcase_create("hostile");
    LOOP(tc, test_every_parser_survives_hostile_lines, hostile_pieces);
    suite_add_tcase(s, tc);

    tc = tcase_create("position");
    LOOP(tc, test_position_vectors, positions);
    suite_add_tcase(s, tc);

    tc = tcase_create("firmware");
    LOOP(tc, test_firmware_vectors, firmware);
    tcase_add_test(tc, test_firmware_drops_oversized_pairs_instead_of_cutting);
    LOOP(tc, test_capability_vectors, caps);
    tcase_add_test(tc, test_capability_refuses_small_name_buffer);
    suite_add_tcase(s, tc);

    tc = tcase_create("resend");
    LOOP(tc, test_resend_vectors, resends);
    suite_add_tcase(s, tc);

    tc = tcase_create("errors");
    LOOP(tc, test_error_classes_follow_reference_order, errors);
    LOOP(tc, test_error_text_strips_prefix_and_space, error_texts);
    tcase_add_test(tc, test_error_text_cuts_at_character_boundary);
    LOOP(tc, test_kill_errors_need_the_next_line, kill_lines);
    tcase_add_test(tc, test_error_join_builds_the_reference_text);
    LOOP(tc, test_split_minmax_error_is_recognised, split_lines);
    tcase_add_test(tc, test_split_minmax_error_joined_is_a_kill_error);
    LOOP(tc, test_error_faq_ids, faqs);
    suite_add_tcase(s, tc);

    tc = tcase_create("actions");
    LOOP(tc, test_action_vectors, actions);
    tcase_add_test(tc, test_action_refuses_small_buffers);
    suite_add_tcase(s, tc);

    tc = tcase_create("sd");
    LOOP(tc, test_sd_progress_vectors, sd_progress);
    LOOP(tc, test_file_opened_vectors, opened);
    LOOP(tc, test_file_list_vectors, file_list);
    tcase_add_test(tc, test_file_list_refuses_empty_and_oversized);
    tcase_add_test(tc, test_m20_timestamp_converts_fat_date_and_time);
    LOOP(tc, test_sd_name_is_gcode, sd_names);
    suite_add_tcase(s, tc);

    tc = tcase_create("commands");
    LOOP(tc, test_gcode_identification_vectors, gcodes);
    tcase_add_test(tc, test_gcode_of_refuses_small_buffer);
    LOOP(tc, test_float_parameter_vectors, float_params);
    LOOP(tc, test_int_parameter_vectors, int_params);
    suite_add_tcase(s, tc);

    return s;
}
