/* test_config_files.c: config_load on the file as a whole: unknown settings and groups with
 * the name it suggests instead, groups and keys of the wrong shape, files that cannot be read,
 * syntax errors, @include, and that each error names the file and line as the user gave them
 * (the message is cut to the caller's buffer, or left out). */
#include <check.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "config_helpers.h"
#include "printbridge/config.h"

/* ---- unknown names, groups and shapes --------------------------------------------------- */

START_TEST(test_unknown_key_suggests_a_close_known_key)
{
    expect_error("mqtt: {\n  hots = \"broker\";\n};\n", 2,
                 "unknown setting 'mqtt.hots'; did you mean 'mqtt.host'?");
    expect_error("printer: { baudrat = 1; };\n", 1,
                 "unknown setting 'printer.baudrat'; did you mean 'printer.baudrate'?");
    expect_error("scripts: { afterprinterconnected = \"G28\"; };\n", 1,
                 "unknown setting 'scripts.afterprinterconnected'; did you mean "
                 "'scripts.afterPrinterConnected'?");
}
END_TEST

START_TEST(test_unknown_key_without_a_close_match_has_no_suggestion)
{
    expect_error("mqtt: { colour = \"red\"; };\n", 1, "unknown setting 'mqtt.colour'");
    expect_error("scripts: { beforePrintStartd = \"G28\"; };\n", 1,
                 "unknown setting 'scripts.beforePrintStartd'; did you mean 'scripts.beforePrintStarted'?");
}
END_TEST

START_TEST(test_key_in_the_wrong_group_suggests_the_right_group)
{
    expect_error("mqtt: { baudrate = 115200; };\n", 1,
                 "unknown setting 'mqtt.baudrate'; did you mean 'printer.baudrate'?");
}
END_TEST

START_TEST(test_key_outside_any_group_suggests_the_groups_holding_it)
{
    expect_error("log: {};\nlevel = \"debug\";\n", 2,
                 "unknown setting 'level'; did you mean 'log.level'?");
    expect_error("port = 1883;\n", 1,
                 "unknown setting 'port'; did you mean 'printer.port' or 'mqtt.port'?");
}
END_TEST

START_TEST(test_unknown_group_is_an_error)
{
    expect_error("mqtt: {};\nmqqt: { port = 1; };\n", 2,
                 "unknown group 'mqqt'; did you mean 'mqtt'?");
    expect_error("serial: { port = \"auto\"; };\n", 1,
                 "unknown group 'serial'; the groups are printer, mqtt, topics, qos, filter, profile, scripts, storage, analysis, homeassistant, timelapse, slicing and log");
}
END_TEST

START_TEST(test_nested_group_inside_a_group_is_unknown)
{
    expect_error("mqtt: {\n  ssl: { cafile = \"x\"; };\n};\n", 2, "unknown setting 'mqtt.ssl'");
}
END_TEST

START_TEST(test_group_given_a_scalar_or_list_is_an_error)
{
    expect_error("mqtt = 5;\n", 1, "mqtt must be a group, e.g. mqtt: { host = \"localhost\"; };");
    expect_error("printer = ( { port = \"auto\"; } );\n", 1,
                 "printer must be a group, e.g. printer: { port = \"auto\"; };");
    expect_error("log = \"debug\";\n", 1, "log must be a group, e.g. log: { level = \"info\"; };");
}
END_TEST

START_TEST(test_key_given_a_group_is_an_error)
{
    expect_error("mqtt: {\n  port: { value = 1883; };\n};\n", 2,
                 "mqtt.port must be an integer, e.g. port = 1883;");
    expect_error("printer: { baudrate = [ 115200 ]; };\n", 1,
                 "printer.baudrate must be an integer or \"auto\", e.g. baudrate = 115200;");
}
END_TEST

/* ---- files and syntax -------------------------------------------------------------------- */

START_TEST(test_missing_file_names_errno)
{
    char path[PATH_MAX + 32], want[PATH_MAX + 128];
    snprintf(path, sizeof path, "%s/missing.conf", tmpdir);
    snprintf(want, sizeof want, "%s: cannot read config file: No such file or directory", path);
    expect_load_error_of(path, -ENOENT, want);
}
END_TEST

START_TEST(test_error_text_is_truncated_to_the_buffer_and_may_be_omitted)
{
    struct config c;
    char err[16];
    char full[PATH_MAX + 128];

    snprintf(full, sizeof full, "%s/none.conf: cannot read config file: No such file or "
                                "directory", tmpdir);
    snprintf(conf, sizeof conf, "%s/none.conf", tmpdir);
    ck_assert_int_eq(config_load(&c, conf, err, sizeof err), -ENOENT);
    ck_assert_uint_eq(strlen(err), sizeof err - 1);
    ck_assert_int_eq(strncmp(err, full, sizeof err - 1), 0);
    ck_assert_int_eq(config_load(&c, conf, NULL, 0), -ENOENT);
    ck_assert(is_zeroed(&c));
}
END_TEST

START_TEST(test_directory_is_not_a_config_file)
{
    char path[PATH_MAX + 32], want[PATH_MAX + 128];
    snprintf(path, sizeof path, "%s/sub", tmpdir);
    ck_assert_int_eq(mkdir(path, 0755), 0);
    snprintf(want, sizeof want, "%s: cannot read config file: Is a directory", path);
    expect_load_error_of(path, -EISDIR, want);
}
END_TEST

/* Root reads anything, so the load runs in a child that drops to "nobody" first. */
START_TEST(test_unreadable_file_names_permission_denied)
{
    char got[PATH_MAX + 256] = "", want[PATH_MAX + 256];
    int fds[2], status;
    ssize_t n, len = 0;
    pid_t pid;

    write_conf("mqtt: { port = 1883; };\n");
    ck_assert_int_eq(chmod(conf, 0), 0);
    ck_assert_int_eq(chmod(tmpdir, 0755), 0);
    ck_assert_int_eq(pipe(fds), 0);
    pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        struct config c;
        char err[PATH_MAX + 128];
        close(fds[0]);
        if (geteuid() == 0 && (setgid(65534) != 0 || setuid(65534) != 0))
            _exit(3);
        int rc = config_load(&c, conf, err, sizeof err);
        dprintf(fds[1], "%d %s", rc, err);
        _exit(0);
    }
    close(fds[1]);
    while ((n = read(fds[0], got + len, sizeof got - 1 - (size_t)len)) > 0)
        len += n;
    got[len] = '\0';
    close(fds[0]);
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    ck_assert_int_eq(WEXITSTATUS(status), 0);
    snprintf(want, sizeof want, "%d %s: cannot read config file: Permission denied", -EACCES, conf);
    ck_assert_str_eq(got, want);
}
END_TEST

START_TEST(test_syntax_error_names_file_and_line)
{
    expect_error("mqtt: {\n  port = ;\n};\n", 2, "syntax error");
    expect_error("mqtt: {\n  port = 1;\n  port = 2;\n};\n", 3, "duplicate setting name");
    expect_error("scripts: { afterPrinterConnected = [ \"G28\", 5 ]; };\n", 1,
                 "mismatched element type in array");
}
END_TEST

START_TEST(test_syntax_error_at_end_of_file_hints_at_the_likely_cause)
{
    /* the quote is missing on line 2, libconfig notices at the end of the file */
    expect_error("mqtt: {\n  host = \"localhost;\n  port = 1883;\n};\n", 5,
                 "syntax error (check for an unterminated string or missing brace above)");
    expect_error("mqtt: {\n  host = \"localhost\";\n  port = 1883;\n\n# end\n", 6,
                 "syntax error (check for an unterminated string or missing brace above)");
}
END_TEST

START_TEST(test_include_is_relative_to_the_config_file)
{
    char err[PATH_MAX + 256];
    struct config c;
    const char *main_conf;

    write_file("sub/part.conf", "port = 1884;\n");
    main_conf = write_file("sub/main.conf", "mqtt: {\n  @include \"part.conf\"\n};\n");
    snprintf(conf, sizeof conf, "%s", main_conf);
    ck_assert_msg(config_load(&c, conf, err, sizeof err) == 0, "%s", err);
    ck_assert_int_eq(c.mqtt_port, 1884);
    config_free(&c);
}
END_TEST

START_TEST(test_error_inside_an_include_names_the_included_file)
{
    char want[PATH_MAX + 256], main_conf[PATH_MAX + 32];

    write_file("sub/part.conf", "mqtt: {\n  hots = \"x\";\n};\n");
    snprintf(main_conf, sizeof main_conf, "%s",
             write_file("sub/main.conf", "log: {};\n@include \"part.conf\"\n"));
    snprintf(want, sizeof want, "%s/sub/part.conf:2: unknown setting 'mqtt.hots'; did you mean "
                                "'mqtt.host'?", tmpdir);
    expect_load_error_of(main_conf, -EINVAL, want);

    write_file("sub/part.conf", "mqtt: { port = ; };\n");
    snprintf(want, sizeof want, "%s/sub/part.conf:1: syntax error", tmpdir);
    expect_load_error_of(main_conf, -EINVAL, want);
}
END_TEST

START_TEST(test_missing_include_names_the_path_and_errno)
{
    char want[PATH_MAX * 2 + 256], main_conf[PATH_MAX + 32];

    snprintf(main_conf, sizeof main_conf, "%s",
             write_file("sub/main.conf", "log: {};\n@include \"nope.conf\"\n"));
    snprintf(want, sizeof want, "%s:2: cannot open include file '%s/sub/nope.conf': No such file "
                                "or directory", main_conf, tmpdir);
    expect_load_error_of(main_conf, -ENOENT, want);

    snprintf(main_conf, sizeof main_conf, "%s",
             write_file("sub/main.conf", "@include \"/etc/printbridge-nope.conf\"\n"));
    snprintf(want, sizeof want, "%s:1: cannot open include file '/etc/printbridge-nope.conf': "
                                "@include paths are relative to the directory of %s",
             main_conf, main_conf);
    expect_load_error_of(main_conf, -ENOENT, want);
}
END_TEST

/* libconfig's scanner calls exit() on a directory, which on a SIGHUP reload would end the
 * running daemon: such an include must be refused like any other bad file, nested too. */
START_TEST(test_include_of_a_directory_is_refused_not_fatal)
{
    char want[PATH_MAX * 2 + 256], main_conf[PATH_MAX + 32], part[PATH_MAX + 32];

    snprintf(main_conf, sizeof main_conf, "%s", write_file("sub/main.conf", "log: {};\n@include \"..\"\n"));
    snprintf(want, sizeof want, "%s:2: @include \"..\": %s/sub/.. is not a regular file", main_conf, tmpdir);
    expect_load_error_of(main_conf, -EINVAL, want);

    snprintf(part, sizeof part, "%s", write_file("sub/part.conf", "\n  @include \"\"\n"));
    snprintf(main_conf, sizeof main_conf, "%s", write_file("sub/main.conf", "@include \"part.conf\"\n"));
    snprintf(want, sizeof want, "%s:2: @include \"\": %s/sub/ is not a regular file", part, tmpdir);
    expect_load_error_of(main_conf, -EINVAL, want);
}
END_TEST

/* libconfig drops a lone backslash from an @include name, so ".\." would open "..": a name
 * with a backslash, a line break or no closing quote is refused before libconfig reads it. */
START_TEST(test_include_name_must_be_plain)
{
    static const char *const bad[] = { "@include \".\\.\"\n", "@include \"a\\\"b\"\n",
                                       "@include \"part.conf\n\"\n", "@include \"part.conf" };
    char want[PATH_MAX + 256], main_conf[PATH_MAX + 32];

    write_file("sub/part.conf", "log: {};\n");
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        snprintf(main_conf, sizeof main_conf, "%s", write_file("sub/main.conf", bad[i]));
        snprintf(want, sizeof want, "%s:1: @include: write the file name on one line between "
                                    "double quotes, without backslashes", main_conf);
        expect_load_error_of(main_conf, -EINVAL, want);
    }
}
END_TEST

/* The same file reached through a relative path is reported under that relative path. */
START_TEST(test_errors_name_the_path_as_given)
{
    char cwd[PATH_MAX], rel[PATH_MAX * 2] = "", want[PATH_MAX * 3];

    write_file("sub/part.conf", "mqtt: { port = 0; };\n");
    write_file("sub/main.conf", "@include \"part.conf\"\n");
    ck_assert_ptr_nonnull(getcwd(cwd, sizeof cwd));
    for (const char *p = cwd; *p; p++) /* one "../" per level climbs back to / */
        if (*p == '/' && p[1])
            strcat(rel, "../");
    strcat(rel, tmpdir + 1);
    strcat(rel, "/sub/main.conf");
    snprintf(want, sizeof want, "%.*spart.conf:1: mqtt.port must be between 1 and 65535, not 0",
             (int)(strlen(rel) - strlen("main.conf")), rel);
    expect_load_error_of(rel, -EINVAL, want);
}
END_TEST

Suite *config_files_suite(void);
Suite *config_files_suite(void)
{
    Suite *s = suite_create("config_files");
    TCase *tc;

    tc = tcase_create("names");
    config_test_fixtures(tc);
    tcase_add_test(tc, test_unknown_key_suggests_a_close_known_key);
    tcase_add_test(tc, test_unknown_key_without_a_close_match_has_no_suggestion);
    tcase_add_test(tc, test_key_in_the_wrong_group_suggests_the_right_group);
    tcase_add_test(tc, test_key_outside_any_group_suggests_the_groups_holding_it);
    tcase_add_test(tc, test_unknown_group_is_an_error);
    tcase_add_test(tc, test_nested_group_inside_a_group_is_unknown);
    tcase_add_test(tc, test_group_given_a_scalar_or_list_is_an_error);
    tcase_add_test(tc, test_key_given_a_group_is_an_error);
    suite_add_tcase(s, tc);

    tc = tcase_create("files");
    config_test_fixtures(tc);
    tcase_add_test(tc, test_missing_file_names_errno);
    tcase_add_test(tc, test_error_text_is_truncated_to_the_buffer_and_may_be_omitted);
    tcase_add_test(tc, test_directory_is_not_a_config_file);
    tcase_add_test(tc, test_unreadable_file_names_permission_denied);
    tcase_add_test(tc, test_syntax_error_names_file_and_line);
    tcase_add_test(tc, test_syntax_error_at_end_of_file_hints_at_the_likely_cause);
    tcase_add_test(tc, test_include_is_relative_to_the_config_file);
    tcase_add_test(tc, test_error_inside_an_include_names_the_included_file);
    tcase_add_test(tc, test_missing_include_names_the_path_and_errno);
    tcase_add_test(tc, test_include_of_a_directory_is_refused_not_fatal);
    tcase_add_test(tc, test_include_name_must_be_plain);
    tcase_add_test(tc, test_errors_name_the_path_as_given);
    suite_add_tcase(s, tc);
    return s;
}
