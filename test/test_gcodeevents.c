/* test_gcodeevents.c: G-code events and ZChange semantics (docs/protocol.md 15.1, 15.5, 15.6). */
#include <check.h>
#include <string.h>

#include "printer/gcodeevents.h"
#include "printer/protocol.h"

START_TEST(test_gcode_event_table)
{
    static const struct { const char *gcode, *event; } v[] = {
        { "M80", "PowerOn" }, { "M81", "PowerOff" }, { "G28", "Home" }, { "G4", "Dwelling" },
        { "M0", "Waiting" }, { "M1", "Waiting" }, { "M226", "Waiting" }, { "M245", "Cooling" },
        { "M300", "Alert" }, { "M240", "Conveyor" }, { "M40", "Eject" },
        { "M600", "FilamentChange" }, { "M701", "FilamentChange" }, { "M702", "FilamentChange" },
    };
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++)
        ck_assert_str_eq(gcodeevents_for(v[i].gcode), v[i].event);
    ck_assert_ptr_null(gcodeevents_for("G1"));
    ck_assert_ptr_null(gcodeevents_for("M112"));   /* EStop comes from the emergency stop */
    ck_assert_ptr_null(gcodeevents_for(""));
    /* "M600 T1" and "M80.1" are found through their parsed G-code */
    char g[16];
    protocol_gcode_of("M80.1", g, sizeof g);
    ck_assert_str_eq(gcodeevents_for(g), "PowerOn");
}
END_TEST

struct zstep { const char *cmd; bool fires; double new_z; bool has_old; double old_z; };

static void run_steps(enum gcodeevents_zmode mode, const struct zstep *s, size_t n)
{
    struct gcodeevents_z t;
    gcodeevents_z_init(&t, mode);
    for (size_t i = 0; i < n; i++) {
        char g[16];
        double nz = -1, oz = -1;
        bool ho = true;
        protocol_gcode_of(s[i].cmd, g, sizeof g);
        bool f = gcodeevents_z_sent(&t, g, s[i].cmd, &nz, &oz, &ho);
        ck_assert_msg(f == s[i].fires, "step %zu (%s): fires %d", i, s[i].cmd, f);
        if (f) {
            ck_assert_msg(nz == s[i].new_z, "step %zu: new %g", i, nz);
            ck_assert_msg(ho == s[i].has_old, "step %zu: has_old %d", i, ho);
            if (ho)
                ck_assert_msg(oz == s[i].old_z, "step %zu: old %g", i, oz);
        }
    }
}

START_TEST(test_zchange_octoprint_semantics)
{
    static const struct zstep s[] = {
        { "G1 Z0.2 F3000", true, 0.2, false, 0 },   /* first after connect: old is null */
        { "G91", false, 0, false, 0 },
        { "G1 Z0.2", false, 0, false, 0 },          /* no G91 tracking: same literal value */
        { "G1 X10 Y10 E1", false, 0, false, 0 },
        { "G1 Z0.4", true, 0.4, true, 0.2 },
        { "G0 Z1.0", true, 1.0, true, 0.4 },        /* a Z-hop fires up ... */
        { "G0 Z0.4", true, 0.4, true, 1.0 },        /* ... and down */
        { "G92 Z0", false, 0, false, 0 },           /* no G92 handling */
        { "G28", false, 0, false, 0 },              /* no G28 reset */
        { "g1 z5", false, 0, false, 0 },            /* the upper-case Z/F pre-check */
        { "G1 F100 z5", true, 5, true, 0.4 },       /* ... passes on F, and floatZ is any case */
        { "M104 Z9", false, 0, false, 0 },
    };
    run_steps(GCODEEVENTS_Z_OCTOPRINT, s, sizeof s / sizeof s[0]);
}
END_TEST

START_TEST(test_zchange_layer_mode_ignores_z_hop)
{
    static const struct zstep s[] = {
        { "G1 Z0.2 F3000", false, 0, false, 0 },
        { "G1 X10 Y10 E1.5", true, 0.2, false, 0 },  /* extruding at 0.2: first layer */
        { "G1 Z0.8", false, 0, false, 0 },           /* hop */
        { "G0 X50 Y50", false, 0, false, 0 },
        { "G1 Z0.2", false, 0, false, 0 },
        { "G1 X60 E2.0", false, 0, false, 0 },       /* back on 0.2: no layer change */
        { "G1 Z0.4", false, 0, false, 0 },
        { "G1 E1.5", false, 0, false, 0 },           /* a retraction is no extrusion */
        { "G1 X70 E2.5", true, 0.4, true, 0.2 },
        { "M83", false, 0, false, 0 },
        { "G1 Z0.6", false, 0, false, 0 },
        { "G1 X1 E-0.5", false, 0, false, 0 },       /* relative retraction */
        { "G1 X2 E0.5", true, 0.6, true, 0.4 },
    };
    run_steps(GCODEEVENTS_Z_LAYER, s, sizeof s / sizeof s[0]);
}
END_TEST

START_TEST(test_zchange_forget_makes_old_null_and_tracks_feed_rate)
{
    struct gcodeevents_z t;
    double nz, oz;
    bool ho;
    gcodeevents_z_init(&t, GCODEEVENTS_Z_OCTOPRINT);
    ck_assert(gcodeevents_z_sent(&t, "G1", "G1 Z1 F1200", &nz, &oz, &ho));
    ck_assert(t.has_f && t.f == 1200);
    gcodeevents_z_sent(&t, "G28", "G28 F600", &nz, &oz, &ho);
    ck_assert(t.f == 600);
    gcodeevents_z_forget(&t);
    ck_assert(gcodeevents_z_sent(&t, "G1", "G1 Z2", &nz, &oz, &ho));
    ck_assert(!ho && nz == 2);
}
END_TEST

/* The layers PrintProgress counts come from the same rule in both ZChange modes. */
START_TEST(test_layers_in_octoprint_mode)
{
    static const char *const cmds[] = { "G1 Z0.2 F3000", "G1 X10 E1", "G1 Z1.2", "G1 Z0.2", "G1 X20 E2",
                                        "G1 Z0.4", "G1 X1 E3", "M83", "G1 Z0.6", "G1 X2 E-1", "G1 X3 E1" };
    static const double want[] = { 0.2, 0.4, 0.6 };
    struct gcodeevents_z t;
    size_t got = 0;
    gcodeevents_z_init(&t, GCODEEVENTS_Z_OCTOPRINT);
    for (size_t i = 0; i < sizeof cmds / sizeof cmds[0]; i++) {
        char g[16];
        double nz, oz;
        bool ho;
        protocol_gcode_of(cmds[i], g, sizeof g);
        gcodeevents_z_sent(&t, g, cmds[i], &nz, &oz, &ho);
        if (t.layer_due) {
            t.layer_due = false;
            ck_assert_msg(got < 3 && t.layer_z == want[got], "step %zu (%s): layer at %g", i, cmds[i], t.layer_z);
            got++;
        }
    }
    ck_assert_uint_eq(got, 3);
}
END_TEST

Suite *gcodeevents_suite(void);
Suite *gcodeevents_suite(void)
{
    Suite *s = suite_create("gcodeevents");
    TCase *tc = tcase_create("events");
    tcase_add_test(tc, test_gcode_event_table);
    tcase_add_test(tc, test_zchange_octoprint_semantics);
    tcase_add_test(tc, test_zchange_layer_mode_ignores_z_hop);
    tcase_add_test(tc, test_zchange_forget_makes_old_null_and_tracks_feed_rate);
    tcase_add_test(tc, test_layers_in_octoprint_mode);
    suite_add_tcase(s, tc);
    return s;
}
