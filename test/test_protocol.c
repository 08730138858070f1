/* test_protocol.c: how the protocol module reads the lines a printer sends: the kind of each
 * line, temperature, position, firmware and capability reports in the dialects of the common
 * firmware, action commands, and hostile input (over-long lines, missing values, odd numbers)
 * for every parser. Expected temperatures and positions are written as text ("T0=23.0/220.0
 * B=60.0") and every number is compared exactly after strtod, so a one-ulp parse error fails.
 * Resends and errors, SD card lines and sent commands are tested in test_protocol_errors.c,
 * test_protocol_sd.c and test_protocol_commands.c. */
#include <check.h>
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check_table.h"
#include "printer/protocol.h"

/* ---- classification ------------------------------------------------------------------------ */

static const struct { const char *line; enum protocol_kind kind; } kinds[] = {
    /* anything starting with "ok" is an ack, whatever it carries */
    { "ok", PROTOCOL_OK },
    { "ok T:21.3 /0.0 B:21.2 /0.0 @:0 B@:0", PROTOCOL_OK },
    { "ok N12 P15 B3", PROTOCOL_OK },                            /* ADVANCED_OK */
    { "ok X:62.417 Y:64.781 Z:0.2 E:2.72328 Count: A:6241 B:6478 C:20", PROTOCOL_OK },
    { "wait", PROTOCOL_WAIT },
    { "waiting", PROTOCOL_OTHER },
    /* busy lines, including the one that drives PausedForUser */
    { "busy: processing", PROTOCOL_BUSY },
    { "echo:busy: processing", PROTOCOL_BUSY },
    { "echo:busy: paused for user", PROTOCOL_BUSY },
    { "start", PROTOCOL_START },
    /* "resend" / "rs" compared lower-cased */
    { "Resend: 5", PROTOCOL_RESEND },
    { "resend:5", PROTOCOL_RESEND },
    { "RESEND: 5", PROTOCOL_RESEND },
    { "rs N23 expected checksum 109", PROTOCOL_RESEND },
    /* "error:" in any case, Klipper's "!!", Repetier's "fatal:" */
    { "Error:Printer halted. kill() called!", PROTOCOL_ERROR },
    { "error:checksum mismatch, Last Line: 5", PROTOCOL_ERROR },
    { "ERROR: something", PROTOCOL_ERROR },
    { "!! Lost communication with MCU 'mcu'", PROTOCOL_ERROR },
    { "fatal: Heater decoupled", PROTOCOL_ERROR },
    /* action commands and other "//" debug output */
    { "//action:pause", PROTOCOL_ACTION },
    { "// action:notification Hello", PROTOCOL_ACTION },
    { "// debug", PROTOCOL_DEBUG },
    { "//", PROTOCOL_DEBUG },
    { "//Action:pause", PROTOCOL_DEBUG },
    /* echo lines are not errors */
    { "echo:Active Extruder: 0", PROTOCOL_ECHO },
    { "echo:Unknown command: \"G999\"", PROTOCOL_ECHO },
    { "echo:T3 Invalid extruder", PROTOCOL_ECHO },
    /* "cap:" prefix in any case */
    { "Cap:AUTOREPORT_TEMP:1", PROTOCOL_CAPABILITY },
    { "cap:eeprom:0", PROTOCOL_CAPABILITY },
    /* "NAME:" anywhere or "NAME." at the start */
    { "FIRMWARE_NAME:Marlin 2.0.7.2 (Nov 27 2020 14:30:11) SOURCE_CODE_URL:https://github.com/"
      "MarlinFirmware/Marlin PROTOCOL_VERSION:1.0 MACHINE_TYPE:Ender 5 Pro EXTRUDER_COUNT:1",
      PROTOCOL_FIRMWARE },
    { "NAME. Malyan VER: 3.7 MODEL: M300 HW: HG01", PROTOCOL_FIRMWARE },
    { "NAME: Malyan VER: 2.9 MODEL: M200 HW: HA02", PROTOCOL_FIRMWARE },
    /* temperature reports without "ok" (autoreport, M109/M190 waits) */
    { "T:21.3 /0.0 B:21.2 /0.0 @:0 B@:0", PROTOCOL_TEMPERATURE },
    { "T:180.2 E:0 W:?", PROTOCOL_TEMPERATURE },
    { "T0:21.3 /0.0 T1:22.0 /0.0 B:21.2 /0.0", PROTOCOL_TEMPERATURE },
    { "B:60.0 /60.0", PROTOCOL_TEMPERATURE },
    { "T:20.0 /0.0 B:20.0 /0.0 T0:20.0 /0.0 @:0 B@:0 P:0.0 A:25.0", PROTOCOL_TEMPERATURE },
    /* position reports without "ok" (M114 on some firmware, M154 autoreport) */
    { "X:0.00 Y:0.00 Z:0.00 E:0.00 Count X:0 Y:0 Z:0", PROTOCOL_POSITION },
    { "X:62.417 Y:64.781 Z:0.2 E:2.72328 Count: A:6241 B:6478 C:20", PROTOCOL_POSITION },
    /* SD card lines and everything else */
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
    /* which parser a report line goes to */
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
    /* parser vectors */
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

    /* canonicalisation vectors written as report lines */
    { "T:23", 0, "T0=23", 0 },
    { "T:23", 1, "T1=23", 1 },
    { "T:23 T0:23 T1:42", 0, "T0=23 T1=42", 1 },
    { "T:42 T0:23 T1:42", 1, "T0=23 T1=42", 1 },
    { "T:21 T0:23 T1:42", 0, "T0=23 T1=42", 1 },                /* the Tn values win */
    { "T:41 T0:23 T1:42", 1, "T0=23 T1=42", 1 },
    { "T:23 T1:42", 1, "T0=23 T1=42", 1 },                      /* Smoothieware: T is T0 */
    { "T0:23 T1:42", 1, "T0=23 T1=42", 1 },
    { "T:23 T0:23", 1, "T0=23 T1=23", 1 },                      /* T copied to the missing Tc */

    /* the firmware dialects */
    /* Marlin */
    { "ok T:21.3 /0.0 B:21.2 /0.0 @:0 B@:0", 0, "T0=21.3/0.0 B=21.2/0.0", 0 },
    /* OctoPrint's virtual printer */
    { "ok T:21.30/ 0.00 B:21.30/ 0.00 @:64", 0, "T0=21.3/0.0 B=21.3/0.0", 0 },
    /* Marlin M109 wait: as upstream, "E:0" is a custom sensor "E" (0.0, no target). It is
     * never published while it reads 0 (see docs/wire-format.md), but while tool 1 heats it
     * becomes temperature/E with actual 1.0 */
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

/* Numbers as slicers write them take a short exact path; the result must be the same double
 * strtod gives (glibc rounds correctly, as Python's float() does), on both sides of the limits
 * of that path (15 significant digits, powers of ten up to 22). */
START_TEST(test_param_float_equals_strtod_on_both_paths)
{
    static const char *const edges[] = {
        "0.1", "-0.0", "0", "00012.5000", "123456789012345", "1234567890123456", "9007199254740993",
        "0.0000000000000000000001", "0.00000000000000000000001", "1000000000000000000000",
        "10000000000000000000000", "100000000000000000000000", "999999999999999.9", ".5", "-7.",
        "0.3000000000000000444", "2.2250738585072011", "4.9406564584124654",
    };
    char line[128];
    double v;
    for (size_t i = 0; i < sizeof edges / sizeof edges[0]; i++) {
        snprintf(line, sizeof line, "G1 X%s F100", edges[i]);
        ck_assert(protocol_param_float(line, 'X', &v));
        ck_assert_msg(v == strtod(edges[i], NULL) && signbit(v) == signbit(strtod(edges[i], NULL)),
                      "%s: %.17g", edges[i], v);
    }
    uint64_t x = 88172645463325252ULL;
    for (int i = 0; i < 200000; i++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        int idigits = (int)(x % 12), fdigits = (int)((x >> 8) % 24);
        char num[64];
        size_t o = 0;
        if ((x >> 16) & 1)
            num[o++] = '-';
        uint64_t y = x;
        for (int d = 0; d < idigits + 1; d++, y = y * 6364136223846793005ULL + 1442695040888963407ULL)
            num[o++] = (char)('0' + (y >> 60) % 10);
        if (fdigits) {
            num[o++] = '.';
            for (int d = 0; d < fdigits; d++, y = y * 6364136223846793005ULL + 1442695040888963407ULL)
                num[o++] = (char)('0' + (y >> 60) % 10);
        }
        num[o] = '\0';
        snprintf(line, sizeof line, "G1 Z%s", num);
        ck_assert(protocol_param_float(line, 'Z', &v));
        ck_assert_msg(v == strtod(num, NULL), "%s: %.17g, strtod %.17g", num, v, strtod(num, NULL));
    }
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
    /* the MQTT keys of docs/wire-format.md */
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
    ck_assert_int_eq(protocol_sensor_key("T0", out, sizeof out), -E2BIG);
    ck_assert_int_eq(protocol_sensor_key("B", out, sizeof out), 3);
    ck_assert_int_eq(protocol_sensor_key("C", out, sizeof out), -E2BIG);
}
END_TEST

static const struct { const char *line; int rc; const char *sensor; double target; } repetier[] = {
    /* Repetier target temperatures (re.match: start of line) */
    { "TargetExtr0:200", 0, "T0", 200.0 },
    { "TargetExtr1:210.5", 0, "T1", 210.5 },
    { "TargetBed:60", 0, "B", 60.0 },
    { "TargetBed:-.5", 0, "B", -0.5 },
    { "ok TargetExtr0:200", -EINVAL, NULL, 0 },
    { "TargetExtr:200", -EINVAL, NULL, 0 },
    { "TargetExtr0:", -EINVAL, NULL, 0 },
    { "TargetBed:", -EINVAL, NULL, 0 },
    { "TargetExtr99999999999999999999999:1", -EINVAL, NULL, 0 },
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
    { "ok X:62.417 Y:64.781 Z:0.2 E:2.72328 Count: A:6241 B:6478 C:20", "62.417 64.781 0.2 e=2.72328" },
    { "X:62.417 Y:64.781 Z:0.2 E:2.72328 Count: A:6241 B:6478 C:20", "62.417 64.781 0.2 e=2.72328" },
    { "X:96.99 Y:88.31 Z:0.30 E0:0.0 E1:0.0 E2:0.0 E3:0.0 E4:0.0 E5:0.0",
      "96.99 88.31 0.3 e0=0.0 e1=0.0 e2=0.0 e3=0.0 e4=0.0 e5=0.0" },
    { "X:150.0 Y:150.0 Z:  0.7 E:  0.0", "150.0 150.0 0.7 e=0.0" },
    { "", "" },
    { "X:62.417 Y:64.781 Z:0.2", "" },
    { "ok X:0.0 Y:0.0 Z:0.0 E:0.0 Count: A:0 B:0 C:0", "0.0 0.0 0.0 e=0.0" },
    /* the dialect with "Count X:" */
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
    /* the simulator */
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
    { "Cap:EEPROM:1", 0, "EEPROM", true },
    { "Cap:EEPROM:0", 0, "EEPROM", false },
    { "AUTOREPORT_TEMP:1", 0, "AUTOREPORT_TEMP", true },
    { "AUTOREPORT_TEMP:0", 0, "AUTOREPORT_TEMP", false },
    { "TOO:MANY:FIELDS", -EINVAL, NULL, false },
    { "Cap:", -EINVAL, NULL, false },
    { "TOOLITTLEFIELDS", -EINVAL, NULL, false },
    { "WRONG:FLAG", -EINVAL, NULL, false },
    /* upstream lower-cases the line and upper-cases the name */
    { "cap:autoreport_temp:1", 0, "AUTOREPORT_TEMP", true },
    { "CAP:Extended_M20:1", 0, "EXTENDED_M20", true },
    { "Cap:CHAMBER_TEMPERATURE:1", 0, "CHAMBER_TEMPERATURE", true },
    { "Cap:EEPROM:2", -EINVAL, NULL, false },
    { "Cap:EEPROM:10", -EINVAL, NULL, false },
    { "Cap:EEPROM: 1", -EINVAL, NULL, false },
    { "Cap::1", -EINVAL, NULL, false },
    { "", -EINVAL, NULL, false },
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
    ck_assert_int_eq(protocol_parse_capability("Cap:EEPROM:1", name, sizeof name, &enabled), -EINVAL);
    ck_assert_int_eq(protocol_parse_capability("Cap:EEPRO:1", name, sizeof name, &enabled), 0);
}
END_TEST

/* ---- actions ------------------------------------------------------------------------------- */

static const struct { const char *line; int rc; const char *name, *params; } actions[] = {
    { "//action:pause", 0, "pause", "" },
    { "// action:pause", 0, "pause", "" },
    { "//action:paused", 0, "paused", "" },
    { "//action:sd_inserted", 0, "sd_inserted", "" },
    { "// action:notification Hello", 0, "notification", "Hello" },
    { "//action:prompt_begin Filament runout detected", 0, "prompt_begin", "Filament runout detected" },
    { "//action:prompt_choice   Yes please  ", 0, "prompt_choice", "Yes please" },
    { "//  action:  resume  ", 0, "resume", "" },
    { "//action:", -EINVAL, NULL, NULL },
    { "// debug", -EINVAL, NULL, NULL },
    { "action:pause", -EINVAL, NULL, NULL },
    { "//Action:pause", -EINVAL, NULL, NULL },
    { "ok", -EINVAL, NULL, NULL },
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
    ck_assert_int_eq(protocol_parse_action("//action:paused", name, sizeof name, params, sizeof params), -EINVAL);
    ck_assert_int_eq(protocol_parse_action("//action:x abcd", name, sizeof name, params, sizeof params), -EINVAL);
}
END_TEST

/* ---- suite --------------------------------------------------------------------------------- */

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
    tcase_add_test(tc, test_param_float_equals_strtod_on_both_paths);
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

    tc = tcase_create("actions");
    LOOP(tc, test_action_vectors, actions);
    tcase_add_test(tc, test_action_refuses_small_buffers);
    suite_add_tcase(s, tc);

    return s;
}
