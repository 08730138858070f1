/* test_words.c: shell-like word splitting (quotes, ~, escapes), refusal of shell syntax and
 * shell quoting, the ground the no-shell hook mode stands on. */
#include <check.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "printbridge/base.h"

static void assert_split(const char *line, const char *const *expected)
{
    struct words w;
    char err[256];
    int rc = words_split(line, "/home/pi", &w, err, sizeof err);
    ck_assert_msg(rc == 0, "split '%s' failed: %s", line, err);
    size_t n = 0;
    while (expected[n])
        n++;
    ck_assert_uint_eq(w.n, n);
    for (size_t i = 0; i < n; i++)
        ck_assert_str_eq(w.v[i], expected[i]);
    ck_assert_ptr_null(w.v[n]);
    words_free(&w);
}

static void assert_refused(const char *line, const char *needle)
{
    struct words w;
    char err[256];
    ck_assert_int_eq(words_split(line, "/home/pi", &w, err, sizeof err), -EINVAL);
    ck_assert_msg(strstr(err, needle) != NULL, "'%s': error '%s' lacks '%s'", line, err, needle);
    words_free(&w);
}

START_TEST(test_split_like_a_shell)
{
    /* OctoPrint's documented example of a hook command line */
    assert_split("python ~/growl.py -t mygrowlserver -d \"Lost connection to printer\" -a OctoPrint",
                 (const char *const[]){ "python", "/home/pi/growl.py", "-t", "mygrowlserver", "-d",
                                        "Lost connection to printer", "-a", "OctoPrint", NULL });
    assert_split("  a\tb  ", (const char *const[]){ "a", "b", NULL });
    assert_split("'it''s' \"x y\"z", (const char *const[]){ "its", "x yz", NULL });
    assert_split("a\\ b \\'c", (const char *const[]){ "a b", "'c", NULL });
    assert_split("\"say \\\"hi\\\" \\\\ \\n\"", (const char *const[]){ "say \"hi\" \\ \\n", NULL });
    assert_split("'' x", (const char *const[]){ "", "x", NULL });
    assert_split("~ ~/a a~ '~/q' ~user", (const char *const[]){ "/home/pi", "/home/pi/a", "a~", "~/q", "~user", NULL });
    assert_split("curl -d '{\"content\": \"{name} done\"}' https://x/y?a=1",
                 (const char *const[]){ "curl", "-d", "{\"content\": \"{name} done\"}", "https://x/y?a=1", NULL });
    assert_split("'a|b;c&d$(e)`f`'", (const char *const[]){ "a|b;c&d$(e)`f`", NULL });
}
END_TEST

START_TEST(test_shell_syntax_is_refused_with_a_hint)
{
    assert_refused("ls | wc", "'|' at character 4 needs a shell");
    assert_refused("a; rm -rf /", "';'");
    assert_refused("a && b", "'&'");
    assert_refused("echo > f", "'>'");
    assert_refused("echo $HOME", "'$'");
    assert_refused("echo $(id)", "'$'");
    assert_refused("echo `id`", "'`'");
    assert_refused("echo \"$HOME\"", "'$' inside");
    assert_refused("echo 'x", "unterminated ' quote starting at character 6");
    assert_refused("echo \"x", "unterminated \"");
    assert_refused("echo x\\", "trailing backslash");
    assert_refused("   ", "empty");
    assert_refused("", "empty");
    assert_refused("a | b", "shell = true");
}
END_TEST

START_TEST(test_shell_quote_survives_hostile_text)
{
    char *q = words_shell_quote("it's $(touch x); rm -rf / `id` \"q\"\n");
    ck_assert_str_eq(q, "'it'\\''s $(touch x); rm -rf / `id` \"q\"\n'");
    free(q);
    q = words_shell_quote("");
    ck_assert_str_eq(q, "''");
    free(q);
    /* quoting then splitting gives the original back */
    const char *hostile = "a'b\"c\\d $e `f` ;|&<>()";
    q = words_shell_quote(hostile);
    struct words w;
    char err[128];
    ck_assert_int_eq(words_split(q, NULL, &w, err, sizeof err), 0);
    ck_assert_uint_eq(w.n, 1);
    ck_assert_str_eq(w.v[0], hostile);
    words_free(&w);
    free(q);
}
END_TEST

Suite *words_suite(void);
Suite *words_suite(void)
{
    Suite *s = suite_create("words");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_split_like_a_shell);
    tcase_add_test(tc, test_shell_syntax_is_refused_with_a_hint);
    tcase_add_test(tc, test_shell_quote_survives_hostile_text);
    suite_add_tcase(s, tc);
    return s;
}
