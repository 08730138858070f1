/* test_man_pages.c: printbridge.conf(5), as this build made it ($PB_BUILD/man/), describes
 * every group and setting: each key of the key table (src/config/keys.c), of the events and
 * inbound groups, and each setting etc/printbridge.conf documents has its own ".B group.key"
 * entry, and each group its ".SS group" heading. The page is made from etc/printbridge.conf
 * (scripts/conf2man.awk), so a key missing here is missing from that file or lost on the way. */
#include <check.h>
#include <ctype.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/keys.h"
#include "printbridge/config.h"

/* the events and inbound groups are read by hookconfig.c, not through the key table */
static const char *const hook_keys[] = {
    "events.enabled", "events.timeout", "events.max_concurrent", "events.max_queued",
    "events.max_output", "events.progress_percent", "events.progress_minutes",
    "events.progress_layers", "events.subscriptions", "events.triggers",
    "inbound.enabled", "inbound.max_payload", "inbound.gcode_allow", "inbound.gcode_deny",
    "inbound.handlers",
};

static char *slurp(const char *envdir, const char *fallback, const char *rel)
{
    const char *dir = getenv(envdir);
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/%s", dir && *dir ? dir : fallback, rel);
    FILE *f = fopen(path, "r");
    ck_assert_msg(f != NULL, "cannot open %s (make builds it)", path);
    char *text = calloc(1, 1 << 20);
    ck_assert_ptr_nonnull(text);
    size_t n = fread(text, 1, (1 << 20) - 1, f);
    ck_assert_uint_lt(n, (1 << 20) - 1);
    fclose(f);
    return text;
}

/* whether the page has the line ".B <what>" (or ".SS <what>"), exactly */
static bool has_line(const char *page, const char *macro, const char *what)
{
    char line[256];
    snprintf(line, sizeof line, "\n%s %s\n", macro, what);
    return strstr(page, line) != NULL;
}

START_TEST(test_every_key_of_the_key_table_has_an_entry)
{
    char *page = slurp("PB_BUILD", "build", "man/printbridge.conf.5");
    char full[160];
    for (size_t i = 0; i < keys_count; i++) {
        snprintf(full, sizeof full, "%s.%s", keys_table[i].group, keys_table[i].name);
        ck_assert_msg(has_line(page, ".B", full), "printbridge.conf(5) has no entry for %s", full);
    }
    for (size_t i = 0; i < sizeof hook_keys / sizeof hook_keys[0]; i++)
        ck_assert_msg(has_line(page, ".B", hook_keys[i]), "printbridge.conf(5) has no entry for %s", hook_keys[i]);
    free(page);
}
END_TEST

START_TEST(test_every_group_has_a_heading)
{
    char *page = slurp("PB_BUILD", "build", "man/printbridge.conf.5");
    for (size_t i = 0; i < keys_ngroups; i++)
        ck_assert_msg(has_line(page, ".SS", keys_groups[i].name), "printbridge.conf(5) has no section %s",
                      keys_groups[i].name);
    ck_assert_msg(has_line(page, ".SS", "events") && hookconfig_owns("events"), "no section events");
    ck_assert_msg(has_line(page, ".SS", "inbound") && hookconfig_owns("inbound"), "no section inbound");
    free(page);
}
END_TEST

/* every "#name = value;" of etc/printbridge.conf, inside its group */
START_TEST(test_every_setting_of_the_example_file_has_an_entry)
{
    char *page = slurp("PB_BUILD", "build", "man/printbridge.conf.5");
    char *conf = slurp("PB_SRCDIR", ".", "etc/printbridge.conf");
    char group[64] = "", name[64], full[160];
    int found = 0;
    for (char *line = strtok(conf, "\n"); line; line = strtok(NULL, "\n")) {
        char *p = line + strspn(line, " \t");
        if (sscanf(p, "%63[A-Za-z_]: {", name) == 1 && strchr(p, '{'))
            snprintf(group, sizeof group, "%s", name);
        else if (p[0] == '#' && isalpha((unsigned char)p[1]) && sscanf(p + 1, "%63[A-Za-z_] =", name) == 1 &&
                 strchr(p, '=')) {
            snprintf(full, sizeof full, "%s.%s", group, name);
            ck_assert_msg(has_line(page, ".B", full), "printbridge.conf(5) has no entry for %s", full);
            found++;
        }
    }
    ck_assert_int_ge(found, (int)keys_count);
    free(conf);
    free(page);
}
END_TEST

Suite *man_pages_suite(void);
Suite *man_pages_suite(void)
{
    Suite *s = suite_create("man_pages");
    TCase *tc = tcase_create("printbridge.conf.5");
    tcase_add_test(tc, test_every_key_of_the_key_table_has_an_entry);
    tcase_add_test(tc, test_every_group_has_a_heading);
    tcase_add_test(tc, test_every_setting_of_the_example_file_has_an_entry);
    suite_add_tcase(s, tc);
    return s;
}
