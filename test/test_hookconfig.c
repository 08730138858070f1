/* test_hookconfig.c: the events and inbound groups through config_load: the example
 * subscriptions of OctoPrint's event documentation carried over, the defaults, and one
 * FILE:LINE line (and -EINVAL) for each kind of mistake. */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "printbridge/config.h"

static char path[64];
static struct config cfg;
static char err[1024];

static int load(const char *text)
{
    snprintf(path, sizeof path, "/tmp/pb-hookcfg-%d.conf", (int)getpid());
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    fputs(text, f);
    fclose(f);
    config_free(&cfg);
    int rc = config_load(&cfg, path, err, sizeof err);
    unlink(path);
    return rc;
}

static void teardown(void)
{
    config_free(&cfg);
}

static void assert_error(const char *text, int line, const char *needle)
{
    char prefix[128];
    ck_assert_int_eq(load(text), -EINVAL);
    snprintf(prefix, sizeof prefix, "%s:%d: ", path, line);
    ck_assert_msg(strncmp(err, prefix, strlen(prefix)) == 0, "error '%s' is not at line %d", err, line);
    ck_assert_msg(strstr(err, needle) != NULL, "error '%s' lacks '%s'", err, needle);
}

START_TEST(test_defaults_without_groups)
{
    ck_assert_int_eq(load("log: { level = \"info\"; };\n"), 0);
    ck_assert_ptr_null(cfg.hooks);
    const struct hookconfig *hc = hookconfig_or_defaults(cfg.hooks);
    ck_assert(hc->events_enabled);
    ck_assert(hc->inbound_enabled);
    ck_assert_int_eq(hc->max_payload, 65536);
    ck_assert_int_eq(hc->max_concurrent, 4);
    ck_assert_double_eq(hc->timeout, 60);
    ck_assert_double_eq(hc->progress_percent, 10);
    ck_assert_uint_eq(hc->nsubs, 0);
}
END_TEST

/* the example of OctoPrint's event documentation, in libconfig syntax */
START_TEST(test_octoprint_example_carries_over)
{
    ck_assert_int_eq(load("events: {\n"
                          "  enabled = true;\n"
                          "  subscriptions = (\n"
                          "    { event = \"Disconnected\"; type = \"system\"; enabled = false; name = \"Disconnected\";\n"
                          "      command = \"python ~/growl.py -t mygrowlserver -d \\\"Lost connection to printer\\\" -a OctoPrint\"; },\n"
                          "    { event = [ \"PrintStarted\", \"PrintFailed\", \"PrintDone\", \"PrintCancelled\" ];\n"
                          "      command = \"python ~/growl.py -d \\\"Event {__eventname} ({name})\\\"\"; type = \"system\"; name = \"Multiple Events\"; },\n"
                          "    { event = \"Connected\"; command = [ \"M115\", \"M117 printer connected!\", \"G28\" ]; type = \"gcode\"; },\n"
                          "    { event = \"PrintDone\"; command = \"curl -s {name} | logger\"; type = \"system\"; shell = true; timeout = 5; debug = true; }\n"
                          "  );\n"
                          "  triggers = ( { name = \"runout\"; match = \"^echo:.*[Rr]unout\"; direction = \"received\"; cooldown = 30; } );\n"
                          "};\n"
                          "inbound: { enabled = false; max_payload = 1024; gcode_deny = [ \"M112\", \"M3*\" ];\n"
                          "  handlers = ( { name = \"light\"; topic = \"cmd/light/+\"; type = \"system\"; command = \"/usr/bin/light {__payload}\"; } ); };\n"),
                     0);
    const struct hookconfig *hc = cfg.hooks;
    ck_assert_ptr_nonnull(hc);
    ck_assert_uint_eq(hc->nsubs, 4);
    ck_assert(!hc->subs[0].enabled);
    ck_assert_int_eq(hc->subs[0].type, HOOK_SYSTEM);
    ck_assert_uint_eq(hc->subs[1].nevents, 4);
    ck_assert_str_eq(hc->subs[1].events[3], "PrintCancelled");
    ck_assert_str_eq(hc->subs[2].name, "Connected");   /* defaults to the first event */
    ck_assert_uint_eq(hc->subs[2].ncommands, 3);
    ck_assert_int_eq(hc->subs[2].type, HOOK_GCODE);
    ck_assert(hc->subs[3].shell && hc->subs[3].debug);
    ck_assert_double_eq(hc->subs[3].timeout, 5);
    ck_assert_uint_eq(hc->ntriggers, 1);
    ck_assert_double_eq(hc->triggers[0].cooldown, 30);
    ck_assert(!hc->inbound_enabled);
    ck_assert_int_eq(hc->max_payload, 1024);
    ck_assert_str_eq(hc->gcode_deny[1], "M3*");
    ck_assert_ptr_null(hc->gcode_deny[2]);
    ck_assert_ptr_null(hc->gcode_allow);
    ck_assert_str_eq(hc->handlers[0].topic, "cmd/light/+");
}
END_TEST

START_TEST(test_mistakes_are_one_line_with_position)
{
    assert_error("events: {\n subscriptions = (\n  { event = \"A\"; command = \"x\"; type = \"macro\"; }\n );\n};\n", 3,
                 "events.subscriptions entry 1 'type' must be \"gcode\" or \"system\"");
    assert_error("events: {\n subscriptions = (\n  { event = \"A\"; type = \"gcode\"; }\n );\n};\n", 3, "missing 'command'");
    assert_error("events: {\n subscriptions = (\n  { command = \"G28\"; type = \"gcode\"; }\n );\n};\n", 3, "missing 'event'");
    assert_error("events: {\n subscriptions = (\n  { event = ( \"A\", 3 ); command = \"G28\"; type = \"gcode\"; }\n );\n};\n", 3,
                 "'event' element 2 must be a string");
    assert_error("events: {\n subscriptions = (\n  { event = \"A\";\n    enabled = \"yes\"; command = \"G28\"; type = \"gcode\"; }\n );\n};\n",
                 4, "'enabled' must be true or false");
    assert_error("events: {\n subscriptions = (\n  { event = \"A\"; command = \"ls | wc\"; type = \"system\"; }\n );\n};\n", 3,
                 "command 1: '|' at character 4 needs a shell");
    assert_error("events: {\n subscriptions = (\n  { event = \"HookFinished\"; command = \"x\"; type = \"system\"; }\n );\n};\n", 3,
                 "HookFinished cannot trigger");
    assert_error("events: {\n subscriptions = (\n  { event = \"A\"; command = \"x\"; type = \"system\"; colour = 1; }\n );\n};\n", 3,
                 "unknown setting 'colour'");
    assert_error("events: {\n  bogus = 1;\n};\n", 2, "unknown setting 'events.bogus'");
    assert_error("events: {\n  timeout = 0;\n};\n", 2, "events.timeout must be between 0.1 and 86400");
    assert_error("events: {\n  triggers = ( { name = \"x\"; match = \"([\"; } );\n};\n", 2, "not a valid extended regular expression");
    assert_error("inbound: {\n handlers = ( { name = \"a\"; topic = \"a/#/b\"; type = \"gcode\"; command = \"G28\"; } );\n};\n", 2,
                 "topic \"a/#/b\" has '#'");
    assert_error("inbound: {\n handlers = ( { name = \"a\"; topic = \"command/x\"; type = \"gcode\"; command = \"G28\"; } );\n};\n", 2,
                 "built in");
    assert_error("inbound: {\n handlers = ( { topic = \"a\"; type = \"gcode\"; command = \"G28\"; } );\n};\n", 2, "missing 'name'");
    assert_error("inbound: {\n handlers = ( { name = \"a\"; type = \"gcode\"; command = \"G28\"; },\n"
                 "  { name = \"a\"; type = \"gcode\"; command = \"G29\"; } );\n};\n", 3, "already used by entry 1");
    assert_error("inbound: {\n gcode_deny = [ \"M112 S1\" ];\n};\n", 2, "must be one G-code word");
    assert_error("inbound: {\n max_payload = 1;\n};\n", 2, "inbound.max_payload must be between 16");
    assert_error("inbound = 3;\n", 1, "inbound must be a group");
}
END_TEST

Suite *hookconfig_suite(void);
Suite *hookconfig_suite(void)
{
    Suite *s = suite_create("hookconfig");
    TCase *tc = tcase_create("core");
    tcase_add_checked_fixture(tc, NULL, teardown);
    tcase_add_test(tc, test_defaults_without_groups);
    tcase_add_test(tc, test_octoprint_example_carries_over);
    tcase_add_test(tc, test_mistakes_are_one_line_with_position);
    suite_add_tcase(s, tc);
    return s;
}
