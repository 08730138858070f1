/* fuzz_analysis.c: the G-code analyser (uploaded files are untrusted). The input is fed in
 * two chunks split at a point chosen by its first byte, so lines spanning reads are covered;
 * the result goes through the JSON cache format and back. */
#include <jansson.h>

#include "fuzz_common.h"
#include "printbridge/jobs.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct analysis_options o;
    static struct analysis a;
    struct analysis_result r, back;
    analysis_options_default(&o);
    analysis_init(&a, &o);
    size_t cut = size ? data[0] % (size + 1) : 0;
    analysis_feed(&a, (const char *)data, cut);
    analysis_feed(&a, (const char *)data + cut, size - cut);
    analysis_finish(&a, &r);
    (void)analysis_parse_slicer_time((const char *)data, size);
    json_t *j = analysis_to_json(&r);
    if (j) {
        (void)analysis_from_json(j, &back);
        char *s = json_dumps(j, JSON_COMPACT);   /* NaN or inf would fail here: a bug */
        if (!s)
            abort();
        free(s);
        json_decref(j);
    }
    return 0;
}
