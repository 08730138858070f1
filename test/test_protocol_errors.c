/* test_protocol_errors.c: how the protocol module reads resend requests and error lines: the
 * line number a resend asks for, the class and text of each error, errors that take two lines
 * or arrive split, and the FAQ id of the known firmware failures. */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "check_table.h"
#include "printer/protocol.h"

/* ---- resend -------------------------------------------------------------------------------- */

static const struct { const char *line; int rc; unsigned long n; } resends[] = {
    /* "Resend:" and "rs" with or without "N" or "N:" */
    { "Resend:23", 0, 23 },
    { "Resend: N23", 0, 23 },
    { "Resend: N:23", 0, 23 },
    { "rs 23", 0, 23 },
    { "rs N23", 0, 23 },
    { "rs N:23", 0, 23 },
    { "rs N23 expected checksum 109", 0, 23 },
    { "Resend: 6", 0, 6 },
    { "RESEND: 0", 0, 0 },
    { "Resend:", -EINVAL, 0 },
    { "Resend: N", -EINVAL, 0 },
    { "ok", -EINVAL, 0 },
    { "Error:Line Number is not Last Line Number+1, Last Line: 5", -EINVAL, 0 },
    { "Resend: 99999999999999999999999999", -ERANGE, 0 },
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

static const struct { const char *line; int rc; unsigned long n; } last_lines[] = {
    { "Error:Line Number is not Last Line Number+1, Last Line: 41", 0, 41 },
    { "Error:Line Number is not Last Line Number+1, Last Line: 0", 0, 0 },
    { "Error:Line Number is not Last Line Number+1, Last Line:7  ", 0, 7 },
    /* the counter is reported by other errors too, but they answer a damaged line */
    { "Error:checksum mismatch, Last Line: 41", -EINVAL, 0 },
    { "Error:No Checksum with line number, Last Line: 41", -EINVAL, 0 },
    { "Error:Line Number is not Last Line Number+1, Last Line: ", -EINVAL, 0 },
    { "Error:Line Number is not Last Line Number+1, Last Line: 4x", -EINVAL, 0 },
    { "Resend: 42", -EINVAL, 0 },
    { "Error:Line Number is not Last Line Number+1, Last Line: 99999999999999999999999", -ERANGE, 0 },
};

START_TEST(test_last_line_vectors)
{
    unsigned long n = 12345;
    int rc = protocol_parse_last_line(last_lines[_i].line, &n);
    ck_assert_msg(rc == last_lines[_i].rc, "%s: %d", last_lines[_i].line, rc);
    if (rc == 0)
        ck_assert_uint_eq(n, last_lines[_i].n);
}
END_TEST

/* ---- errors -------------------------------------------------------------------------------- */

static const struct { const char *line; enum protocol_error_class cls; } errors[] = {
    /* the error classes, in the order they are checked */
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

/* Klipper's dialect: which "!! " lines are command errors and which say it shut down */
static const struct { const char *line; enum protocol_klipper kind; } klipper_lines[] = {
    { "!! Must home axis first: 500.000 0.000 0.000 [0.000]", PROTOCOL_KLIPPER_COMMAND_ERROR },
    { "!! Move out of range: 500.000 0.000 0.000 [0.000]", PROTOCOL_KLIPPER_COMMAND_ERROR },
    { "!! Extrude below minimum temp", PROTOCOL_KLIPPER_COMMAND_ERROR },
    { "// Unknown command:\"FOO\"", PROTOCOL_KLIPPER_COMMAND_ERROR },
    { "!! Shutdown due to M112 command", PROTOCOL_KLIPPER_SHUTDOWN },
    { "!! Printer is shutdown", PROTOCOL_KLIPPER_SHUTDOWN },
    { "!! MCU 'mcu' shutdown: Timer too close", PROTOCOL_KLIPPER_SHUTDOWN },
    { "!! Lost communication with MCU 'mcu'", PROTOCOL_KLIPPER_SHUTDOWN },
    { "// Klipper state: Shutdown", PROTOCOL_KLIPPER_SHUTDOWN },
    { "// Klipper state: Ready", PROTOCOL_KLIPPER_READY },
    { "  // Klipper state: Ready", PROTOCOL_KLIPPER_READY },
    { "// Klipper state: Disconnect", PROTOCOL_KLIPPER_NOT_READY },
    { "// Klipper state: Not ready", PROTOCOL_KLIPPER_NOT_READY },
    /* nothing of Klipper's to act on */
    { "// Shutdown due to M112 command", PROTOCOL_KLIPPER_OTHER },
    { "// See the 'min_extrude_temp' config option for details", PROTOCOL_KLIPPER_OTHER },
    { "ok B:22.0 /0.0 T0:22.0 /0.0", PROTOCOL_KLIPPER_OTHER },
    { "Error:Printer halted. kill() called!", PROTOCOL_KLIPPER_OTHER },
    { "echo:Unknown command: \"FOO\"", PROTOCOL_KLIPPER_OTHER },
    { "", PROTOCOL_KLIPPER_OTHER },
};

START_TEST(test_klipper_lines_are_command_errors_or_its_state)
{
    ck_assert_msg(protocol_klipper_line(klipper_lines[_i].line) == klipper_lines[_i].kind, "%s: got %d",
                  klipper_lines[_i].line, (int)protocol_klipper_line(klipper_lines[_i].line));
    bool state = strncmp(klipper_lines[_i].line, "// Klipper state: ", 18) == 0;
    ck_assert_int_eq(protocol_klipper_state_line(klipper_lines[_i].line), state || klipper_lines[_i].line[0] == ' ');
}
END_TEST

static const struct { const char *line, *text; } error_texts[] = {
    /* the text after "Error:" or "!!", trimmed */
    { "Error:Printer halted. kill() called!", "Printer halted. kill() called!" },
    { "Error: Thermal Runaway \t", "Thermal Runaway" },
    { "error:lower", "lower" },
    { "!! Lost communication with MCU 'mcu'", "Lost communication with MCU 'mcu'" },
    /* "fatal:" becomes "Error:fatal:", so the text keeps it */
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

static const struct { const char *line; bool is; const char *cmd, *text; } unknown_lines[] = {
    /* Marlin: the refused command in quotes; the text without "echo:" */
    { "echo:Unknown command: \"G999 X1\"", true, "G999 X1", "Unknown command: \"G999 X1\"" },
    { " Error:Unknown command: \"M999x\"  ", true, "M999x", "Unknown command: \"M999x\"" },
    { "echo: unknown command \"FOO\"", true, "FOO", "unknown command \"FOO\"" },
    { "echo:Unknown command", true, "", "Unknown command" },
    { "echo:Unknown command: \"unterminated", true, "", "Unknown command: \"unterminated" },
    { "echo:busy: processing", false, NULL, NULL },
    { "// Unknown command:\"FOO\"", false, NULL, NULL },
    { "ok", false, NULL, NULL },
};

START_TEST(test_unknown_command_names_the_refused_command)
{
    char cmd[16] = "untouched", text[64] = "untouched";
    bool is = protocol_unknown_command(unknown_lines[_i].line, cmd, sizeof cmd, text, sizeof text);
    ck_assert_msg(is == unknown_lines[_i].is, "%s", unknown_lines[_i].line);
    if (is) {
        ck_assert_str_eq(cmd, unknown_lines[_i].cmd);
        ck_assert_str_eq(text, unknown_lines[_i].text);
    }
}
END_TEST

START_TEST(test_unknown_command_cuts_to_fit)
{
    char cmd[4], text[8];
    ck_assert(protocol_unknown_command("echo:Unknown command: \"G999 X1\"", cmd, sizeof cmd, text, sizeof text));
    ck_assert_str_eq(cmd, "G99");
    ck_assert_str_eq(text, "Unknown");
}
END_TEST

static const struct { const char *line; bool next; } kill_lines[] = {
    /* two-line errors: regex_marlinKillError (case-sensitive) */
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
    /* a two-line error as Marlin sends it */
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
    ck_assert_int_eq(protocol_error_join("Error:abc", "Error:def", small, sizeof small), -E2BIG);
    ck_assert_int_eq(protocol_error_join("abc", "Error:def", small, sizeof small), 9);
    ck_assert_str_eq(small, "abc - def");
}
END_TEST

static const struct { const char *line; bool split; } split_lines[] = {
    /* split errors: regex_minMaxError "Error:[0-9]\n" */
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

/* ---- suite --------------------------------------------------------------------------------- */

Suite *protocol_errors_suite(void);
Suite *protocol_errors_suite(void)
{
    Suite *s = suite_create("protocol_errors");

    TCase *tc = tcase_create("resend");
    LOOP(tc, test_resend_vectors, resends);
    LOOP(tc, test_last_line_vectors, last_lines);
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
    LOOP(tc, test_unknown_command_names_the_refused_command, unknown_lines);
    tcase_add_test(tc, test_unknown_command_cuts_to_fit);
    suite_add_tcase(s, tc);

    tc = tcase_create("klipper");
    LOOP(tc, test_klipper_lines_are_command_errors_or_its_state, klipper_lines);
    suite_add_tcase(s, tc);

    return s;
}
