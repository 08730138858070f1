/* test_fuzz_seeds.c: every fuzz target's inputs under test/fuzz/<target>/seeds/ and
 * test/fuzz/<target>/crashes/ (inputs that once crashed, kept as regression tests) replayed
 * through the same code as `make fuzz`, here with gcc or clang and, in check-san, ASan and
 * UBSan. */
#include <check.h>
#include <glob.h>
#include <stdio.h>
#include <stdlib.h>

#define LLVMFuzzerTestOneInput fuzz_protocol_one
#include "fuzz/fuzz_protocol.c"
#undef LLVMFuzzerTestOneInput
#define LLVMFuzzerTestOneInput fuzz_analysis_one
#include "fuzz/fuzz_analysis.c"
#undef LLVMFuzzerTestOneInput
#define LLVMFuzzerTestOneInput fuzz_config_one
#include "fuzz/fuzz_config.c"
#undef LLVMFuzzerTestOneInput
#define LLVMFuzzerTestOneInput fuzz_placeholders_one
#include "fuzz/fuzz_placeholders.c"
#undef LLVMFuzzerTestOneInput
#define LLVMFuzzerTestOneInput fuzz_topicfilter_one
#include "fuzz/fuzz_topicfilter.c"
#undef LLVMFuzzerTestOneInput
#define LLVMFuzzerTestOneInput fuzz_commands_one
#include "fuzz/fuzz_commands.c"
#undef LLVMFuzzerTestOneInput

typedef int fuzz_fn(const uint8_t *data, size_t size);

static const struct { const char *name; fuzz_fn *fn; } targets[] = {
    { "protocol", fuzz_protocol_one },
    { "analysis", fuzz_analysis_one },
    { "config", fuzz_config_one },
    { "placeholders", fuzz_placeholders_one },
    { "topicfilter", fuzz_topicfilter_one },
    { "commands", fuzz_commands_one },
};

static int replay_dir(const char *target, const char *kind, fuzz_fn *fn)
{
    const char *src = getenv("PB_SRCDIR");
    char pattern[4096];
    glob_t g;
    int n = 0;
    snprintf(pattern, sizeof pattern, "%s/test/fuzz/%s/%s/*", src ? src : ".", target, kind);
    if (glob(pattern, 0, NULL, &g) != 0)
        return 0;
    for (size_t i = 0; i < g.gl_pathc; i++) {
        FILE *f = fopen(g.gl_pathv[i], "rb");
        ck_assert_msg(f != NULL, "cannot open %s", g.gl_pathv[i]);
        static uint8_t buf[1 << 20];
        size_t len = fread(buf, 1, sizeof buf, f);
        fclose(f);
        uint8_t *copy = malloc(len ? len : 1);   /* exact size, so ASan sees an overread */
        memcpy(copy, buf, len);
        fn(copy, len);
        free(copy);
        n++;
    }
    globfree(&g);
    return n;
}

START_TEST(test_fuzz_seeds_and_past_crashes_replay_cleanly)
{
    int seeds = replay_dir(targets[_i].name, "seeds", targets[_i].fn);
    replay_dir(targets[_i].name, "crashes", targets[_i].fn);
    ck_assert_msg(seeds > 0, "no seeds for fuzz target %s in test/fuzz/%s/seeds/", targets[_i].name, targets[_i].name);
}
END_TEST

Suite *fuzzseeds_suite(void);
Suite *fuzzseeds_suite(void)
{
    Suite *s = suite_create("fuzzseeds");
    TCase *tc = tcase_create("replay");
    tcase_set_timeout(tc, 60);
    tcase_add_loop_test(tc, test_fuzz_seeds_and_past_crashes_replay_cleanly, 0, (int)(sizeof targets / sizeof targets[0]));
    suite_add_tcase(s, tc);
    return s;
}
