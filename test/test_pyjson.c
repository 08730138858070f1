/* test_pyjson.c: pyjson output against the bytes Python's json.dumps() writes (the rules of
 * docs/wire-format.md 2), sample event and temperature payloads rebuilt with jansson, and the NaN and bad-UTF-8 paths printer data can take. The expected strings were
 * produced by CPython 3.11; the tests themselves need no Python. */
#include <check.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "printbridge/base.h"

/* Dumps j, releases it and compares with want. */
static void check_dump(json_t *j, const char *want)
{
    ck_assert_ptr_nonnull(j);
    char *got = pyjson_dumps(j);
    ck_assert_ptr_nonnull(got);
    ck_assert_str_eq(got, want);
    free(got);
    json_decref(j);
}

/* ---- floats ---------------------------------------------------------------------------------- */

static const struct { double x; const char *repr; } floats[] = {
    /* docs/wire-format.md 2.4: floats as Python's repr */
    { 0.0, "0.0" },
    { 210.0, "210.0" },
    { 23.24, "23.24" },
    { 0.3, "0.3" },
    { 92.00714527141359, "92.00714527141359" },
    { 5252.172917127609, "5252.172917127609" },
    { 1e16, "1e+16" },
    { 1e-05, "1e-05" },
    { 1.5e300, "1.5e+300" },
    { 1000000000000000.0, "1000000000000000.0" },
    { 0.0001, "0.0001" },
    { -0.0, "-0.0" },
    /* shortest round-trip float text, as json.dumps writes it */
    { 0.1, "0.1" },
    { 10295.38853000338, "10295.38853000338" },
    { 24.5, "24.5" },
    { 123456789012345678.0, "1.2345678901234568e+17" },
    /* around the fixed/exponent switch and other shapes repr produces */
    { 9999999999999998.0, "9999999999999998.0" },
    { 0.00012345, "0.00012345" },
    { 0.000012345, "1.2345e-05" },
    { 60.0, "60.0" },
    { -55.7, "-55.7" },
    { 1.0, "1.0" },
    { 100.0, "100.0" },
    { 1e22, "1e+22" },
    { 1.7976931348623157e308, "1.7976931348623157e+308" },
    { 5e-324, "5e-324" },
    { 2.2250738585072014e-308, "2.2250738585072014e-308" },
    { 9007199254740993.0, "9007199254740992.0" },
    /* powers of two, whose rounding interval is asymmetric  */
    { 0x1p-1000, "9.332636185032189e-302" },
    { 0x1p+900, "8.452712498170644e+270" },
    { 0x1p+60, "1.152921504606847e+18" },
    { 0.5, "0.5" },
};

START_TEST(test_format_double_matches_python_repr)
{
    char out[32];
    int n = pyjson_format_double(floats[_i].x, out, sizeof out);
    ck_assert_str_eq(out, floats[_i].repr);
    ck_assert_int_eq(n, (int)strlen(floats[_i].repr));
}
END_TEST

START_TEST(test_format_double_refuses_non_finite_and_small_buffers)
{
    char out[32];
    ck_assert_int_eq(pyjson_format_double(NAN, out, sizeof out), -EDOM);
    ck_assert_int_eq(pyjson_format_double(INFINITY, out, sizeof out), -EDOM);
    ck_assert_int_eq(pyjson_format_double(-INFINITY, out, sizeof out), -EDOM);
    ck_assert_int_eq(pyjson_format_double(23.24, out, 5), -ENOSPC);       /* "23.24" needs 6 */
    ck_assert_int_eq(pyjson_format_double(23.24, out, 6), 5);
    ck_assert_str_eq(out, "23.24");
    ck_assert_int_eq(pyjson_format_double(-1.7976931348623157e308, out, sizeof out), 24);
}
END_TEST

START_TEST(test_reals_inside_documents_use_repr)
{
    json_t *a = json_array();
    for (size_t i = 0; i < sizeof floats / sizeof floats[0]; i++)
        json_array_append_new(a, json_real(floats[i].x));
    char *got = pyjson_dumps(a);
    ck_assert_ptr_nonnull(got);
    char want[2048] = "[";
    for (size_t i = 0; i < sizeof floats / sizeof floats[0]; i++) {
        strcat(want, i ? ", " : "");
        strcat(want, floats[i].repr);
    }
    strcat(want, "]");
    ck_assert_str_eq(got, want);
    free(got);
    json_decref(a);
}
END_TEST

/* ---- strings, literals, containers ---------------------------------------------------------- */

START_TEST(test_strings_escape_like_ensure_ascii)
{
    /* docs/wire-format.md 2.1, 2.3: separators and string escapes */
    json_t *o = json_object();
    json_object_set_new(o, "unit", json_string("\xc2\xb0" "C"));
    json_object_set_new(o, "path", json_string("W\xc3\xbcrfel/tr\xc3\xa4ger.gcode"));
    json_object_set_new(o, "emoji", json_string("\xf0\x9f\x98\x80"));
    json_object_set_new(o, "ctrl", json_string("a\tb\nc\x01\x1f\x7f\"\\"));
    check_dump(o, "{\"unit\": \"\\u00b0C\", \"path\": \"W\\u00fcrfel/tr\\u00e4ger.gcode\", "
                  "\"emoji\": \"\\ud83d\\ude00\", \"ctrl\": \"a\\tb\\nc\\u0001\\u001f\\u007f\\\"\\\\\"}");
}
END_TEST

START_TEST(test_strings_escape_short_forms_nul_and_astral)
{
    /* \b and \f short, "/" kept, NUL, U+2028, U+FFFF and U+10FFFF */
    json_t *a = json_array();
    json_array_append_new(a, json_stringn("\b\f/\0\xe2\x80\xa8\xef\xbf\xbf\xf4\x8f\xbf\xbf", 14));
    json_array_append_new(a, json_string("\r"));
    json_array_append_new(a, json_string(""));
    check_dump(a, "[\"\\b\\f/\\u0000\\u2028\\uffff\\udbff\\udfff\", \"\\r\", \"\"]");
}
END_TEST

START_TEST(test_keys_are_escaped_like_values)
{
    json_t *o = json_object();
    json_object_set_new(o, "\xc2\xb0\"\n", json_true());
    json_object_setn_new(o, "a\0b", 3, json_false());
    check_dump(o, "{\"\\u00b0\\\"\\n\": true, \"a\\u0000b\": false}");
}
END_TEST

START_TEST(test_literals_and_integers)
{
    /* docs/wire-format.md 2.3, 2.5 */
    json_t *a = json_array();
    json_array_append_new(a, json_true());
    json_array_append_new(a, json_false());
    json_array_append_new(a, json_null());
    json_array_append_new(a, json_integer(0));
    json_array_append_new(a, json_integer(-5));
    json_array_append_new(a, json_integer(1700000000));
    json_array_append_new(a, json_integer(9007199254740993LL));
    json_array_append_new(a, json_integer(LLONG_MAX));
    json_array_append_new(a, json_integer(LLONG_MIN));
    check_dump(a, "[true, false, null, 0, -5, 1700000000, 9007199254740993, "
                  "9223372036854775807, -9223372036854775808]");
}
END_TEST

START_TEST(test_scalars_dump_on_their_own)
{
    check_dump(json_string("x"), "\"x\"");
    check_dump(json_real(0.3), "0.3");
    check_dump(json_integer(3), "3");
    check_dump(json_null(), "null");
}
END_TEST

START_TEST(test_containers_nest_with_python_separators)
{
    /* empty containers and nesting */
    json_t *o = json_object();
    json_object_set_new(o, "e", json_object());
    json_object_set_new(o, "l", json_array());
    json_object_set_new(o, "a", json_pack("[i, s, n, b, b]", 1, "x", 1, 0));
    json_object_set_new(o, "n", json_pack("{s: {s: [[], {}]}}", "k", "m"));
    check_dump(o, "{\"e\": {}, \"l\": [], \"a\": [1, \"x\", null, true, false], "
                  "\"n\": {\"k\": {\"m\": [[], {}]}}}");
    check_dump(json_object(), "{}");
    check_dump(json_array(), "[]");
}
END_TEST

START_TEST(test_keys_keep_insertion_order)
{
    /* docs/wire-format.md 2.4 */
    json_t *o = json_object();
    json_object_set_new(o, "z", json_integer(1));
    json_object_set_new(o, "a", json_integer(2));
    json_object_set_new(o, "m", json_integer(3));
    check_dump(json_incref(o), "{\"z\": 1, \"a\": 2, \"m\": 3}");
    /* replacing keeps the position; deleting and adding again moves to the end */
    json_object_set_new(o, "z", json_integer(9));
    check_dump(json_incref(o), "{\"z\": 9, \"a\": 2, \"m\": 3}");
    json_object_del(o, "a");
    json_object_set_new(o, "a", json_integer(2));
    check_dump(o, "{\"z\": 9, \"m\": 3, \"a\": 2}");
}
END_TEST

/* ---- the wire contract's sample payloads -------------------------------------------------- */

static json_t *event(json_t *payload, const char *name, json_int_t ts)
{
    json_object_set_new(payload, "_event", json_string(name));
    json_object_set_new(payload, "_timestamp", json_integer(ts));
    return payload;
}

START_TEST(test_event_samples_of_wire_format_5_4)
{
    /* docs/wire-format.md 5.12 */
    check_dump(event(json_pack("{s:s, s:s}", "state_id", "OPERATIONAL", "state_string", "Operational"),
                     "PrinterStateChanged", 1795272086),
               "{\"state_id\": \"OPERATIONAL\", \"state_string\": \"Operational\", "
               "\"_event\": \"PrinterStateChanged\", \"_timestamp\": 1795272086}");
    check_dump(event(json_pack("{s:f, s:f}", "new", 0.3, "old", 0.2), "ZChange", 1795272086),
               "{\"new\": 0.3, \"old\": 0.2, \"_event\": \"ZChange\", \"_timestamp\": 1795272086}");
    check_dump(event(json_pack("{s:s, s:i}", "port", "/dev/ttyUSB0", "baudrate", 115200),
                     "Connected", 1795272086),
               "{\"port\": \"/dev/ttyUSB0\", \"baudrate\": 115200, \"_event\": \"Connected\", "
               "\"_timestamp\": 1795272086}");
    check_dump(event(json_object(), "Startup", 1795272086),
               "{\"_event\": \"Startup\", \"_timestamp\": 1795272086}");
    check_dump(event(json_object(), "Disconnected", 1700000000),
               "{\"_event\": \"Disconnected\", \"_timestamp\": 1700000000}");
    check_dump(event(json_object(), "PausedForUser", 1700000000),
               "{\"_event\": \"PausedForUser\", \"_timestamp\": 1700000000}");
    /* the real-world PrintDone */
    check_dump(event(json_pack("{s:s, s:s, s:s, s:I, s:s, s:f}", "name", "cube.gcode", "path",
                               "cube.gcode", "origin", "local", "size", (json_int_t)2823042,
                               "owner", "admin", "time", 5252.172917127609),
                     "PrintDone", 1700000000),
               "{\"name\": \"cube.gcode\", \"path\": \"cube.gcode\", \"origin\": \"local\", "
               "\"size\": 2823042, \"owner\": \"admin\", \"time\": 5252.172917127609, "
               "\"_event\": \"PrintDone\", \"_timestamp\": 1700000000}");
}
END_TEST

START_TEST(test_temperature_samples_of_wire_format_8)
{
    /* docs/wire-format.md 7.1 */
    check_dump(json_pack("{s:o, s:o, s:I}", "actual", pyjson_real_or_null(23.24), "target",
                         pyjson_real_or_null(0.0), "_timestamp", (json_int_t)1700000000),
               "{\"actual\": 23.24, \"target\": 0.0, \"_timestamp\": 1700000000}");
    check_dump(json_pack("{s:o, s:o, s:I}", "actual", pyjson_real_or_null(24.5), "target",
                         pyjson_real_or_null(60.0), "_timestamp", (json_int_t)1700000000),
               "{\"actual\": 24.5, \"target\": 60.0, \"_timestamp\": 1700000000}");
    /* a sensor without a target */
    check_dump(json_pack("{s:o, s:n, s:I}", "actual", pyjson_real_or_null(25.0), "target",
                         "_timestamp", (json_int_t)1700000000),
               "{\"actual\": 25.0, \"target\": null, \"_timestamp\": 1700000000}");
}
END_TEST

/* ---- NaN, bad UTF-8, broken trees ------------------------------------------------------------ */

START_TEST(test_non_finite_reals_become_null)
{
    /* jansson refuses NaN: a plain json_real() would silently drop the key */
    ck_assert_ptr_null(json_real(NAN));
    json_t *o = json_object();
    json_object_set_new(o, "actual", pyjson_real_or_null(NAN));
    json_object_set_new(o, "target", pyjson_real_or_null(INFINITY));
    json_object_set_new(o, "low", pyjson_real_or_null(-INFINITY));
    json_object_set_new(o, "ok", pyjson_real_or_null(21.3));
    check_dump(o, "{\"actual\": null, \"target\": null, \"low\": null, \"ok\": 21.3}");
}
END_TEST

START_TEST(test_dumps_returns_null_for_what_it_cannot_write)
{
    ck_assert_ptr_null(pyjson_dumps(NULL));

    /* a string that bypassed jansson's UTF-8 check */
    json_t *o = json_object();
    json_object_set_new(o, "name", json_stringn_nocheck("W\xfcrfel", 6));
    ck_assert_ptr_null(pyjson_dumps(o));
    json_decref(o);

    /* nesting deeper than any payload, as a cycle would be */
    json_t *root = json_array(), *cur = root;
    for (int i = 0; i < 2000; i++) {
        json_t *next = json_array();
        json_array_append_new(cur, next);
        cur = next;
    }
    ck_assert_ptr_null(pyjson_dumps(root));
    json_decref(root);
}
END_TEST

START_TEST(test_append_says_why)
{
    struct strbuf b = { .max = SIZE_MAX };
    json_t *o = json_pack("{s:i}", "a", 1);
    ck_assert_int_eq(strbuf_puts(&b, "payload "), 0);
    ck_assert_int_eq(pyjson_append(&b, o), 0);
    ck_assert_str_eq(b.s, "payload {\"a\": 1}");
    strbuf_free(&b);

    b.max = 5;                                      /* {"a": 1} is 8 bytes */
    ck_assert_int_eq(pyjson_append(&b, o), -E2BIG);
    strbuf_free(&b);
    json_decref(o);

    o = json_object();
    json_object_set_new(o, "name", json_stringn_nocheck("W\xfcrfel", 6));
    b.max = SIZE_MAX;
    ck_assert_int_eq(pyjson_append(&b, o), -EINVAL);
    strbuf_free(&b);
    json_decref(o);
}
END_TEST

static const struct { const char *in; size_t n; const char *json; } lossy[] = {
    /* docs/wire-format.md 2.7: UTF-8 first, latin-1 for the whole string if that fails */
    { "W\xfcrfel", 6, "\"W\\u00fcrfel\"" },
    { "W\xc3\xbcrfel", 7, "\"W\\u00fcrfel\"" },
    { "\xc3\xbc\xff", 3, "\"\\u00c3\\u00bc\\u00ff\"" },            /* one bad byte: all latin-1 */
    { "\xed\xa0\x80", 3, "\"\\u00ed\\u00a0\\u0080\"" },            /* encoded surrogate */
    { "\xc0\xaf", 2, "\"\\u00c0\\u00af\"" },                       /* overlong "/" */
    { "\xf4\x90\x80\x80", 4, "\"\\u00f4\\u0090\\u0080\\u0080\"" }, /* above U+10FFFF */
    { "\xe2\x82", 2, "\"\\u00e2\\u0082\"" },                       /* cut sequence */
    { "\xf0\x9f\x98\x80", 4, "\"\\ud83d\\ude00\"" },
    { "a\0b", 3, "\"a\\u0000b\"" },
    { "M117 \xb0" "C", 7, "\"M117 \\u00b0C\"" },
    { "", 0, "\"\"" },
};

START_TEST(test_string_lossy_falls_back_to_latin1)
{
    check_dump(pyjson_string_lossy(lossy[_i].in, lossy[_i].n), lossy[_i].json);
}
END_TEST

START_TEST(test_large_documents_grow_the_buffer)
{
    json_t *a = json_array();
    char big[5001];
    memset(big, 'x', 5000);
    big[5000] = '\0';
    for (int i = 0; i < 200; i++)
        json_array_append_new(a, json_string(big));
    char *got = pyjson_dumps(a);
    ck_assert_ptr_nonnull(got);
    ck_assert_uint_eq(strlen(got), 2 + 200 * 5002 + 199 * 2);
    free(got);
    json_decref(a);
}
END_TEST

#define LOOP(tc, fn, table) tcase_add_loop_test(tc, fn, 0, (int)(sizeof(table) / sizeof((table)[0])))

Suite *pyjson_suite(void);
Suite *pyjson_suite(void)
{
    Suite *s = suite_create("pyjson");

    TCase *tc = tcase_create("floats");
    LOOP(tc, test_format_double_matches_python_repr, floats);
    tcase_add_test(tc, test_format_double_refuses_non_finite_and_small_buffers);
    tcase_add_test(tc, test_reals_inside_documents_use_repr);
    suite_add_tcase(s, tc);

    tc = tcase_create("documents");
    tcase_add_test(tc, test_strings_escape_like_ensure_ascii);
    tcase_add_test(tc, test_strings_escape_short_forms_nul_and_astral);
    tcase_add_test(tc, test_keys_are_escaped_like_values);
    tcase_add_test(tc, test_literals_and_integers);
    tcase_add_test(tc, test_scalars_dump_on_their_own);
    tcase_add_test(tc, test_containers_nest_with_python_separators);
    tcase_add_test(tc, test_keys_keep_insertion_order);
    tcase_add_test(tc, test_event_samples_of_wire_format_5_4);
    tcase_add_test(tc, test_temperature_samples_of_wire_format_8);
    tcase_add_test(tc, test_large_documents_grow_the_buffer);
    suite_add_tcase(s, tc);

    tc = tcase_create("unrepresentable");
    tcase_add_test(tc, test_non_finite_reals_become_null);
    tcase_add_test(tc, test_dumps_returns_null_for_what_it_cannot_write);
    tcase_add_test(tc, test_append_says_why);
    LOOP(tc, test_string_lossy_falls_back_to_latin1, lossy);
    suite_add_tcase(s, tc);

    return s;
}
