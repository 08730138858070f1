/* test_framing.c: checksum and framing vectors (docs/protocol.md 3.2), comment stripping
 * (section 4) and the line reader's handling of split, noisy and over-long input. */
#include <check.h>
#include <errno.h>
#include <string.h>

#include "printbridge/serial.h"

static const struct { unsigned long n; const char *cmd, *wire; } frames[] = {
    /* docs/protocol.md 3.2 worked examples */
    { 0, "M110 N0", "N0 M110 N0*125\n" },
    { 1, "M115", "N1 M115*39\n" },
    { 2, "M21", "N2 M21*18\n" },
    { 2, "M105", "N2 M105*37\n" },
    { 3, "M105", "N3 M105*36\n" },
    { 1, "G28", "N1 G28*18\n" },
    { 5, "G1 X10 Y10 Z0.2 F3000", "N5 G1 X10 Y10 Z0.2 F3000*31\n" },
    { 4, "M105", "N4 M105*35\n" },
};

START_TEST(test_frame_matches_reference_vectors)
{
    char out[128];
    int len = framing_frame(out, sizeof out, frames[_i].n, frames[_i].cmd);
    ck_assert_int_eq(len, (int)strlen(frames[_i].wire));
    ck_assert_str_eq(out, frames[_i].wire);
}
END_TEST

START_TEST(test_frame_refuses_small_buffer)
{
    char out[8];
    ck_assert_int_eq(framing_frame(out, sizeof out, 0, "M110 N0"), -E2BIG);
}
END_TEST

static const struct { const char *in, *out; } comments[] = {
    /* docs/protocol.md 2.3, comment-stripping vectors */
    { "M117 Test", "M117 Test" },
    { "M117 Test ; foo", "M117 Test" },
    { "M117 Test \\; foo", "M117 Test \\; foo" },
    { "M117 Test \\\\; foo", "M117 Test \\\\" },
    { "M117 Test \\\\\\; foo", "M117 Test \\\\\\; foo" },
    { "; foo", "" },
    { "  \t \r    \n", "" },
};

START_TEST(test_strip_comment_vectors)
{
    char buf[64];
    strcpy(buf, comments[_i].in);
    size_t len = framing_strip_comment(buf);
    ck_assert_str_eq(buf, comments[_i].out);
    ck_assert_uint_eq(len, strlen(comments[_i].out));
}
END_TEST

struct collected { char lines[8][FRAMING_MAX_LINE + 1]; int n; };

static void collect(void *ctx, const char *line, size_t len)
{
    struct collected *c = ctx;
    ck_assert_uint_eq(strlen(line), len);
    if (c->n < 8)
        strcpy(c->lines[c->n], line);
    c->n++;
}

START_TEST(test_reader_joins_split_chunks_and_strips_crlf)
{
    struct framing_reader r;
    struct collected c = { .n = 0 };
    framing_reader_init(&r);
    framing_reader_feed(&r, "o", 1, collect, &c);
    framing_reader_feed(&r, "k\r\nT:21.3 /0.0", 14, collect, &c);
    ck_assert_int_eq(c.n, 1);
    framing_reader_feed(&r, " B:20.0 /0.0\r\n\r\n  \nstart\n", 26, collect, &c);
    ck_assert_int_eq(c.n, 3);
    ck_assert_str_eq(c.lines[0], "ok");
    ck_assert_str_eq(c.lines[1], "T:21.3 /0.0 B:20.0 /0.0");
    ck_assert_str_eq(c.lines[2], "start");
}
END_TEST

START_TEST(test_reader_removes_nul_bytes)
{
    struct framing_reader r;
    struct collected c = { .n = 0 };
    framing_reader_init(&r);
    framing_reader_feed(&r, "o\0k\n", 4, collect, &c);
    ck_assert_int_eq(c.n, 1);
    ck_assert_str_eq(c.lines[0], "ok");
    ck_assert_uint_eq(r.nul_bytes, 1);
}
END_TEST

START_TEST(test_reader_drops_overlong_line_whole)
{
    struct framing_reader r;
    struct collected c = { .n = 0 };
    char big[FRAMING_MAX_LINE + 10];
    framing_reader_init(&r);
    memset(big, 'x', sizeof big);
    framing_reader_feed(&r, big, sizeof big, collect, &c);
    framing_reader_feed(&r, "tail\nok\n", 8, collect, &c);
    ck_assert_int_eq(c.n, 1);
    ck_assert_str_eq(c.lines[0], "ok");
    ck_assert_uint_eq(r.overflows, 1);
}
END_TEST

START_TEST(test_reader_accepts_line_of_exactly_max_length)
{
    struct framing_reader r;
    struct collected c = { .n = 0 };
    char big[FRAMING_MAX_LINE + 1];
    framing_reader_init(&r);
    memset(big, 'y', FRAMING_MAX_LINE);
    big[FRAMING_MAX_LINE] = '\n';
    framing_reader_feed(&r, big, sizeof big, collect, &c);
    ck_assert_int_eq(c.n, 1);
    ck_assert_uint_eq(strlen(c.lines[0]), FRAMING_MAX_LINE);
    ck_assert_uint_eq(r.overflows, 0);
}
END_TEST

Suite *framing_suite(void);
Suite *framing_suite(void)
{
    Suite *s = suite_create("framing");
    TCase *tc = tcase_create("core");
    tcase_add_loop_test(tc, test_frame_matches_reference_vectors, 0, sizeof frames / sizeof frames[0]);
    tcase_add_test(tc, test_frame_refuses_small_buffer);
    tcase_add_loop_test(tc, test_strip_comment_vectors, 0, sizeof comments / sizeof comments[0]);
    tcase_add_test(tc, test_reader_joins_split_chunks_and_strips_crlf);
    tcase_add_test(tc, test_reader_removes_nul_bytes);
    tcase_add_test(tc, test_reader_drops_overlong_line_whole);
    tcase_add_test(tc, test_reader_accepts_line_of_exactly_max_length);
    suite_add_tcase(s, tc);
    return s;
}
