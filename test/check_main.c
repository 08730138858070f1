/* check_main.c: the one Check runner. Suites are found by the Makefile (every
 * `Suite *<name>_suite(void)` in test/test_*.c) and listed in the generated suites.h, so
 * `make check` ends with a single summary line covering unit and integration tests. */
#include <check.h>
#include <stdlib.h>

#define PB_SUITE(name) Suite *name##_suite(void);
#include "suites.h"
#undef PB_SUITE

int main(void)
{
    SRunner *sr = srunner_create(NULL);
#define PB_SUITE(name) srunner_add_suite(sr, name##_suite());
#include "suites.h"
#undef PB_SUITE
    srunner_run_all(sr, CK_ENV);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
