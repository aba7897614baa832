/* Long engine checks (label full): the scalar reference over two whole 1024-token blocks of
 * alice29, and every other way of running them, must give the same bits. */
#include <criterion/criterion.h>
#include <stdlib.h>

#include "engine_testutil.h"
#include "lac.h"

static lac_model *tm;

static void setup(void) {
    const char *path = getenv("LAC_DEFAULT_MODEL");
    cr_assert(path && *path, "LAC_DEFAULT_MODEL is not set");
    lac_error err;
    cr_assert_eq(lac_model_open(path, &tm, &err), LAC_OK, "%s", err.msg);
}

static void teardown(void) { lac_model_close(tm); }

Test(engine_full, scalar_two_whole_blocks, .init = setup, .fini = teardown, .timeout = 3600) {
    etu_tiny_bitwise_blocks(tm, 1024, 1024);
}
