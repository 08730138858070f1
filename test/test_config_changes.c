/* test_config_changes.c: what a reload changed. config_group_changed and config_key_changed
 * compare two loaded configurations key by key as the key table lists them; options.c asks
 * them one question per group: must the broker connection be rebuilt (mqtt_connection_changed),
 * did the printer profile change (profile_changed, which publishes PrinterProfileModified).
 * Every key of the table is changed in turn, so a key added later is covered here without an
 * edit; a table of our own proves that a key added to a group is compared with no new code. */
#include <check.h>
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "app/options.h"
#include "config/keys.h"
#include "printbridge/config.h"

/* What rebuilds the broker connection: every mqtt key the connection is made of and the
 * status topic (will and status). Home Assistant's prefix is not among them: discovery
 * moves its birth subscription on the same connection. */
static const char *const connection_keys[] = {
    "mqtt.host", "mqtt.port", "mqtt.base_topic", "mqtt.client_id", "mqtt.username",
    "mqtt.password", "mqtt.keepalive", "mqtt.protocol", "mqtt.status_retain", "mqtt.tls",
    "mqtt.tls_ca_file", "mqtt.tls_cert_file", "mqtt.tls_key_file", "mqtt.tls_insecure",
    "mqtt.queue_limit", "mqtt.queue_file", "topics.status", NULL,
};

/* mqtt keys the publisher applies in place, and password_file, compared as the password it
 * yields: none of them rebuilds the connection. */
static const char *const publishing_keys[] = {
    "mqtt.retain", "mqtt.timestamp_field", "mqtt.temperature_threshold",
    "mqtt.temperature_min_interval", "mqtt.temperature_decimals", "mqtt.printer_data",
    "mqtt.state_interval", "mqtt.stats_interval", "mqtt.password_file", "mqtt.republish_interval", NULL,
};

static bool named(const char *const *list, const struct key *k)
{
    char full[128];
    snprintf(full, sizeof full, "%s.%s", k->group, k->name);
    for (; *list; list++)
        if (strcmp(*list, full) == 0)
            return true;
    return false;
}

/* Changes key k in c, a shallow copy that is never freed: new strings are static. */
static void change(const struct key *k, struct config *c)
{
    static char text[] = "changed", other[] = "changed too", line[] = "M117 changed";
    void *f = key_field(k, c);
    switch (k->kind) {
    case KIND_STRING:
        *(char **)f = *(char **)f && strcmp(*(char **)f, text) == 0 ? other : text;
        break;
    case KIND_INT:
    case KIND_BAUD:
    case KIND_LEVEL:
        *(int *)f += 1;
        break;
    case KIND_FLOAT:
        *(double *)f += 0.5;
        break;
    case KIND_BOOL:
        *(bool *)f = !*(bool *)f;
        break;
    case KIND_SCRIPT:
    case KIND_NAMES:
        ((char **)f)[0] = ((char **)f)[0] ? NULL : line;
        break;
    }
}

/* ---- every key of the table, changed in turn ------------------------------------------- */

START_TEST(test_nothing_changed_between_equal_configurations)
{
    struct config a, b;
    config_defaults(&a);
    config_defaults(&b);
    for (size_t g = 0; g < keys_ngroups; g++)
        ck_assert_msg(!config_group_changed(&a, &b, keys_groups[g].name, NULL), "%s",
                      keys_groups[g].name);
    ck_assert(!mqtt_connection_changed(&a, &b));
    ck_assert(!profile_changed(&a, &b));
    config_free(&a);
    config_free(&b);
}
END_TEST

START_TEST(test_a_changed_key_changes_its_group_and_no_other)
{
    struct config a, b;
    config_defaults(&a);
    for (size_t i = 0; i < keys_count; i++) {
        const struct key *k = &keys_table[i];
        b = a;
        change(k, &b);
        ck_assert_msg(config_key_changed(&a, &b, k->group, k->name), "%s.%s", k->group, k->name);
        for (size_t g = 0; g < keys_ngroups; g++)
            ck_assert_msg(config_group_changed(&a, &b, keys_groups[g].name, NULL) ==
                              (strcmp(keys_groups[g].name, k->group) == 0),
                          "%s.%s changed group %s", k->group, k->name, keys_groups[g].name);
        const char *const except[] = { k->name, NULL };
        ck_assert_msg(!config_group_changed(&a, &b, k->group, except), "%s.%s not left out",
                      k->group, k->name);
    }
    config_free(&a);
}
END_TEST

START_TEST(test_every_profile_key_and_only_those_is_a_profile_change)
{
    struct config a, b;
    config_defaults(&a);
    for (size_t i = 0; i < keys_count; i++) {
        const struct key *k = &keys_table[i];
        b = a;
        change(k, &b);
        ck_assert_msg(profile_changed(&a, &b) == (strcmp(k->group, "profile") == 0), "%s.%s",
                      k->group, k->name);
    }
    config_free(&a);
}
END_TEST

/* The keys that rebuilt the connection still do, the publishing ones still do not, and an
 * mqtt key in neither list (one added later) rebuilds it: a needless reconnect at worst. */
START_TEST(test_the_connection_is_rebuilt_for_exactly_its_keys)
{
    struct config a, b;
    config_defaults(&a);
    for (size_t i = 0; i < keys_count; i++) {
        const struct key *k = &keys_table[i];
        bool want = named(connection_keys, k) ||
                    (strcmp(k->group, "mqtt") == 0 && !named(publishing_keys, k));
        b = a;
        change(k, &b);
        ck_assert_msg(mqtt_connection_changed(&a, &b) == want, "%s.%s: want %d", k->group,
                      k->name, want);
    }
    for (const char *const *n = connection_keys; *n; n++) { /* the lists name real keys */
        char group[64];
        const char *dot = strchr(*n, '.');
        snprintf(group, sizeof group, "%.*s", (int)(dot - *n), *n);
        ck_assert_msg(keys_find(group, dot + 1), "%s is not in the key table", *n);
    }
    for (const char *const *n = publishing_keys; *n; n++)
        ck_assert_msg(keys_find("mqtt", *n + 5), "%s is not in the key table", *n);
    config_free(&a);
}
END_TEST

START_TEST(test_an_unknown_group_or_key_counts_as_changed)
{
    struct config a;
    config_defaults(&a);
    ck_assert(config_group_changed(&a, &a, "profil", NULL));
    ck_assert(config_group_changed(&a, &a, "events", NULL)); /* hookconfig's, not the table's */
    ck_assert(config_key_changed(&a, &a, "mqtt", "hots"));
    ck_assert(config_key_changed(&a, &a, "profil", "extruders"));
    ck_assert(!config_key_changed(&a, &a, "profile", "extruders"));
    config_free(&a);
}
END_TEST

/* ---- a key added to a group ----------------------------------------------------------------- */

struct sample {
    int extruders;
    double width;
    bool chamber;
    char *name;
    char *lines[CONFIG_MAX_SCRIPT_LINES + 1];
};

#define SAMPLE_KEY(name, kind, field) \
    { "profile", name, kind, 0, 0, 0, NULL, offsetof(struct sample, field), name " = ...;", NULL }

static const struct key table_before[] = {
    SAMPLE_KEY("extruders", KIND_INT, extruders),
    SAMPLE_KEY("width", KIND_FLOAT, width),
};

/* the same table with one key of each remaining kind added to the group */
static const struct key table_after[] = {
    SAMPLE_KEY("extruders", KIND_INT, extruders),
    SAMPLE_KEY("width", KIND_FLOAT, width),
    SAMPLE_KEY("chamber", KIND_BOOL, chamber),
    SAMPLE_KEY("name", KIND_STRING, name),
    SAMPLE_KEY("lines", KIND_SCRIPT, lines),
};

#define N(t) (sizeof t / sizeof t[0])

START_TEST(test_a_key_added_to_a_group_is_compared_without_new_code)
{
    static char ender[] = "ender", prusa[] = "prusa", g28[] = "G28", g29[] = "G29";
    struct sample a = { .extruders = 1, .width = 200, .name = ender, .lines = { g28 } };
    struct sample b = a;

    ck_assert(!keys_group_differs(table_after, N(table_after), "profile", NULL, &a, &b));
    b.name = prusa;     /* only the added string differs */
    ck_assert(!keys_group_differs(table_before, N(table_before), "profile", NULL, &a, &b));
    ck_assert(keys_group_differs(table_after, N(table_after), "profile", NULL, &a, &b));
    ck_assert(!keys_group_differs(table_after, N(table_after), "printer", NULL, &a, &b));
    const char *const except[] = { "name", NULL };
    ck_assert(!keys_group_differs(table_after, N(table_after), "profile", except, &a, &b));

    b = a;
    b.chamber = true;   /* the added bool */
    ck_assert(!keys_group_differs(table_before, N(table_before), "profile", NULL, &a, &b));
    ck_assert(keys_group_differs(table_after, N(table_after), "profile", NULL, &a, &b));

    b = a;
    b.lines[1] = g29;   /* the added script, one line longer */
    ck_assert(!keys_group_differs(table_before, N(table_before), "profile", NULL, &a, &b));
    ck_assert(keys_group_differs(table_after, N(table_after), "profile", NULL, &a, &b));

    b = a;
    b.name = NULL;      /* unset is not equal to set */
    ck_assert(keys_group_differs(table_after, N(table_after), "profile", NULL, &a, &b));
    a.name = NULL;
    ck_assert(!keys_group_differs(table_after, N(table_after), "profile", NULL, &a, &b));
}
END_TEST

/* ---- through config_load, as a reload sees them ------------------------------------------- */

static char dir[64];

static void make_dir(void)
{
    snprintf(dir, sizeof dir, "/tmp/pb-changes-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(dir));
}

static void remove_dir(void)
{
    char path[128];
    const char *names[] = { "a.conf", "b.conf", "secret" };
    for (size_t i = 0; i < 3; i++) {
        snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        unlink(path);
    }
    rmdir(dir);
}

static void load(const char *name, const char *text, struct config *c)
{
    char path[128], err[512];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    fputs(text, f);
    ck_assert_int_eq(fclose(f), 0);
    ck_assert_msg(config_load(c, path, err, sizeof err) == 0, "%s", err);
}

/* Loads base and base + extra; checks what changed. */
static void expect(const char *base, const char *extra, bool connection, bool profile)
{
    struct config a, b;
    char *text;
    ck_assert_int_ge(asprintf(&text, "%s%s", base, extra), 0);
    load("a.conf", base, &a);
    load("b.conf", text, &b);
    ck_assert_msg(mqtt_connection_changed(&a, &b) == connection, "connection after %s", extra);
    ck_assert_msg(profile_changed(&a, &b) == profile, "profile after %s", extra);
    config_free(&a);
    config_free(&b);
    free(text);
}

START_TEST(test_reloaded_files_compare_as_the_daemon_needs)
{
    const char *base = "mqtt: { host = \"127.0.0.1\"; username = \"u\"; password = \"right\"; };\n";
    char secret[128], *with_file;

    expect(base, "", false, false);
    expect(base, "# a comment only\n", false, false);
    expect(base, "profile: { heated_chamber = true; };\n", false, true);
    expect(base, "profile: { extruders = 2; volume_height = 250; };\n", false, true);
    expect(base, "topics: { status = \"\"; };\n", true, false);
    expect(base, "topics: { event = \"events/{event}\"; };\n", false, false);
    expect(base, "homeassistant: { prefix = \"ha\"; };\n", false, false);
    expect(base, "homeassistant: { republish_delay = 1; };\n", false, false);
    expect(base, "filter: { events_off = [ \"ZChange\" ]; };\n", false, false);
    expect(base, "qos: { event = 1; };\n", false, false);
    expect(base, "log: { level = \"debug\"; };\n", false, false);
    const char *no_mqtt = "printer: { port = \"auto\"; };\n";
    expect(no_mqtt, "mqtt: { retain = false; stats_interval = 0; temperature_decimals = 1; };\n",
           false, false);
    expect(no_mqtt, "mqtt: { port = 1884; };\n", true, false);
    expect(no_mqtt, "mqtt: { base_topic = \"farm/ender3/\"; };\n", true, false);

    /* the same password from a file: the connection stays; another one rebuilds it */
    snprintf(secret, sizeof secret, "%s/secret", dir);
    FILE *f = fopen(secret, "w");
    ck_assert_ptr_nonnull(f);
    fputs("right\n", f);
    ck_assert_int_eq(fclose(f), 0);
    ck_assert_int_ge(asprintf(&with_file, "mqtt: { host = \"127.0.0.1\"; username = \"u\"; "
                                          "password_file = \"%s\"; };\n", secret), 0);
    struct config a, b;
    load("a.conf", base, &a);
    load("b.conf", with_file, &b);
    ck_assert(!mqtt_connection_changed(&a, &b));
    config_free(&b);
    f = fopen(secret, "w");
    ck_assert_ptr_nonnull(f);
    fputs("other\n", f);
    ck_assert_int_eq(fclose(f), 0);
    load("b.conf", with_file, &b);
    ck_assert(mqtt_connection_changed(&a, &b));
    config_free(&a);
    config_free(&b);
    free(with_file);
}
END_TEST

START_TEST(test_load_errors_are_negative_errnos)
{
    struct config c;
    char err[256], path[128];

    ck_assert_int_eq(config_load(&c, NULL, err, sizeof err), -EINVAL);
    ck_assert_str_eq(err, "(null): no config file given");
    snprintf(path, sizeof path, "%s/none.conf", dir);
    ck_assert_int_eq(config_load(&c, path, err, sizeof err), -ENOENT);
    snprintf(path, sizeof path, "%s/a.conf", dir);
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    fputs("mqtt: { port = 0; };\n", f);
    ck_assert_int_eq(fclose(f), 0);
    ck_assert_int_eq(config_load(&c, path, err, sizeof err), -EINVAL);
}
END_TEST

Suite *config_changes_suite(void);
Suite *config_changes_suite(void)
{
    Suite *s = suite_create("config_changes");
    TCase *tc = tcase_create("table");
    tcase_add_test(tc, test_nothing_changed_between_equal_configurations);
    tcase_add_test(tc, test_a_changed_key_changes_its_group_and_no_other);
    tcase_add_test(tc, test_every_profile_key_and_only_those_is_a_profile_change);
    tcase_add_test(tc, test_the_connection_is_rebuilt_for_exactly_its_keys);
    tcase_add_test(tc, test_an_unknown_group_or_key_counts_as_changed);
    tcase_add_test(tc, test_a_key_added_to_a_group_is_compared_without_new_code);
    suite_add_tcase(s, tc);

    tc = tcase_create("files");
    tcase_add_checked_fixture(tc, make_dir, remove_dir);
    tcase_add_test(tc, test_reloaded_files_compare_as_the_daemon_needs);
    tcase_add_test(tc, test_load_errors_are_negative_errnos);
    suite_add_tcase(s, tc);
    return s;
}
