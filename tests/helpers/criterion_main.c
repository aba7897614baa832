/* The main of every criterion test executable (linked with the helpers): criterion's own,
 * except that skips are not passes. Criterion exits 0 when a test called cr_skip_test, so
 * ctest would show "Passed" for a run whose GPU tests never ran. Here a run with skipped tests
 * and no failures prints one line per skipped test and exits 77, which ctest reports as
 * "Skipped" (SKIP_RETURN_CODE 77, tests/CMakeLists.txt). A failure still exits 1. */
#include <criterion/criterion.h>
#include <criterion/hooks.h>
#include <stdio.h>

#define LAC_EXIT_SKIPPED 77

/* Counted here, not from the global stats: those count the tests --filter left out as
 * skipped too, and a filtered run is not a skip. */
static size_t g_skipped, g_tests;

ReportHook(POST_TEST)(struct criterion_test_stats *st) {
    g_tests++;
    if (st->test_status == CR_STATUS_SKIPPED) {
        g_skipped++;
        printf("SKIPPED: %s::%s: %s\n", st->test->category, st->test->name,
               st->message ? st->message : "");
    }
}

int main(int argc, char *argv[]) {
    struct criterion_test_set *tests = criterion_initialize();
    int rc = 0;
    if (criterion_handle_args(argc, argv, true)) rc = !criterion_run_all_tests(tests);
    criterion_finalize(tests);
    if (rc == 0 && g_skipped > 0) {
        printf("%zu of %zu tests skipped (exit status %d: ctest shows the run as skipped)\n",
               g_skipped, g_tests, LAC_EXIT_SKIPPED);
        rc = LAC_EXIT_SKIPPED;
    }
    return rc;
}
