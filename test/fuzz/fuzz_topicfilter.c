/* fuzz_topicfilter.c: MQTT topic filter checking and matching . Input:
 * "filter\0topic". A filter always matches itself when it has no wildcard. */
#include <stdbool.h>

#include "fuzz_common.h"
#include "printbridge/base.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *filter = fuzz_cstr(data, size);
    size_t fl = strlen(filter);
    char *topic = fl < size ? fuzz_cstr(data + fl + 1, size - fl - 1) : fuzz_cstr(data, 0);
    char why[128];
    bool valid = topicfilter_check(filter, why, sizeof why) == 0;
    (void)topicfilter_match(filter, topic);
    if (valid && !strpbrk(filter, "+#") && filter[0] && !topicfilter_match(filter, filter))
        abort();
    free(filter);
    free(topic);
    return 0;
}
