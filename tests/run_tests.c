/* The single test binary: every suite of tests/suites.def in one SRunner.
 * CK_RUN_SUITE / CK_RUN_CASE select; CK_FORK=no runs in-process (gdb). */
#include <check.h>
#include <stdlib.h>

#include "tests/suites.h"

int main(void)
{
    SRunner *sr = srunner_create(NULL);
#define SUITE(name) srunner_add_suite(sr, name##_suite());
#include "tests/suites.def"
#undef SUITE
    srunner_run_all(sr, CK_ENV);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
