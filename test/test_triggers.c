/* test_triggers.c: line triggers fire SerialLineMatched {name, direction, line} for the
 * configured direction only, honour the cooldown, and reload their patterns. */
#include <check.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "printbridge/base.h"
#include "printbridge/hooks.h"

static json_t *seen;

static void sink(void *ctx, const char *name, json_t *payload, long long ts)
{
    (void)ctx;
    (void)ts;
    if (strcmp(name, EVENT_SERIAL_LINE_MATCHED) == 0)
        json_array_append(seen, payload);
}

static char *seen_text(size_t i)
{
    return pyjson_dumps(json_array_get(seen, i));
}

START_TEST(test_matches_fire_events_by_direction_with_cooldown)
{
    struct events ev;
    events_init(&ev);
    events_add_sink(&ev, sink, NULL);
    seen = json_array();
    struct hookconfig hc = *hookconfig_or_defaults(NULL);
    struct trigger_def defs[2] = {
        { .name = "runout", .match = "[Ff]ilament [Rr]unout", .direction = TRIGGER_RECEIVED, .cooldown = 3600 },
        { .name = "m600", .match = "^M600( |$)", .direction = TRIGGER_BOTH },
    };
    hc.triggers = defs;
    hc.ntriggers = 2;
    struct triggers *t;
    char err[256];
    ck_assert_int_eq(triggers_create(&t, &hc, &ev, NULL, err, sizeof err), 0);
    triggers_on_line(t, TRIGGER_SENT, "M117 Filament runout test");     /* wrong direction */
    triggers_on_line(t, TRIGGER_RECEIVED, "echo:Filament Runout detected");
    triggers_on_line(t, TRIGGER_RECEIVED, "echo:Filament Runout detected");   /* cooldown */
    triggers_on_line(t, TRIGGER_SENT, "M600");
    triggers_on_line(t, TRIGGER_SENT, "M6000");
    triggers_on_line(t, TRIGGER_RECEIVED, "M600 X10 \xff");
    ck_assert_uint_eq(json_array_size(seen), 3);
    char *s = seen_text(0);
    ck_assert_str_eq(s, "{\"name\": \"runout\", \"direction\": \"received\", \"line\": \"echo:Filament Runout detected\"}");
    free(s);
    s = seen_text(1);
    ck_assert_str_eq(s, "{\"name\": \"m600\", \"direction\": \"sent\", \"line\": \"M600\"}");
    free(s);
    s = seen_text(2);
    ck_assert_str_eq(s, "{\"name\": \"m600\", \"direction\": \"received\", \"line\": \"M600 X10 \\u00ff\"}");
    free(s);
    /* reload: the new pattern applies */
    struct trigger_def other = { .name = "busy", .match = "busy: paused", .direction = TRIGGER_RECEIVED };
    hc.triggers = &other;
    hc.ntriggers = 1;
    ck_assert_int_eq(triggers_set_config(t, &hc, err, sizeof err), 0);
    triggers_on_line(t, TRIGGER_RECEIVED, "echo:busy: paused for user");
    triggers_on_line(t, TRIGGER_RECEIVED, "echo:Filament Runout detected");
    ck_assert_uint_eq(json_array_size(seen), 4);
    other.match = "([";
    ck_assert_int_eq(triggers_set_config(t, &hc, err, sizeof err), -EINVAL);
    ck_assert(strstr(err, "events.triggers busy: ") != NULL);
    triggers_on_line(t, TRIGGER_RECEIVED, "echo:busy: paused for user");
    ck_assert_uint_eq(json_array_size(seen), 4);   /* off after a failed reload */
    triggers_free(t);
    json_decref(seen);
}
END_TEST

Suite *triggers_suite(void);
Suite *triggers_suite(void)
{
    Suite *s = suite_create("triggers");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_matches_fire_events_by_direction_with_cooldown);
    suite_add_tcase(s, tc);
    return s;
}
