/* fuzz_placeholders.c: hook command templates: placeholder expansion, with and
 * without shell quoting, then word splitting of the result as a hook without a shell does.
 * The input is "template\0json-payload"; a payload that is no JSON object is left out. */
#include <jansson.h>
#include <stdbool.h>

#include "fuzz_common.h"
#include "printbridge/hooks.h"
#include "printbridge/base.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *tmpl = fuzz_cstr(data, size);
    size_t tl = strlen(tmpl);
    json_t *payload = NULL;
    if (tl + 1 < size)
        payload = json_loadb((const char *)data + tl + 1, size - tl - 1, JSON_DECODE_ANY, NULL);
    struct placeholders ph = {
        .eventname = "PrintStarted", .payload = payload, .has_z = true, .current_z = 0.2,
        .filename = "a b.gcode", .filepath = "x/a b.gcode", .fileorigin = "local", .progress = 12.5,
        .now_sec = 1700000000, .now_usec = 5, .raw_payload = "{\"k\": 1}", .topic = "octoprint/command/hook/x",
    };
    (void)placeholders_present(tmpl);
    for (int quote = 0; quote < 2; quote++) {
        char *out;
        if (placeholders_expand(&out, tmpl, &ph, quote, 4096, NULL, NULL) == 0) {
            struct words w = { 0 };
            char err[256];
            if (words_split(out, "/home/pb", &w, err, sizeof err) == 0 && quote) {
                /* every word the splitter returns is NUL-terminated and listed */
                for (size_t i = 0; i < w.n; i++)
                    (void)strlen(w.v[i]);
            }
            words_free(&w);
            free(out);
        }
    }
    char *q = words_shell_quote(tmpl);
    if (q) {
        struct words w = { 0 };
        char err[256];
        /* a quoted string splits back into exactly itself */
        if (tl > 0 && (words_split(q, NULL, &w, err, sizeof err) != 0 || w.n != 1 || strcmp(w.v[0], tmpl) != 0))
            abort();
        words_free(&w);
        free(q);
    }
    json_decref(payload);
    free(tmpl);
    return 0;
}
