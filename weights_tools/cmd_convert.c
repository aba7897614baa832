/* weights_tools convert HF_DIR -o MODEL [--dtype f32|f16|bf16] [--name NAME] [-f] */
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "lac.h"
#include "wt.h"

int wt_convert(int argc, char **argv) {
    const char *dir = NULL, *out = NULL, *name = NULL;
    int storage = -1, force = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "-o") && i + 1 < argc) {
            out = argv[++i];
        } else if (!strcmp(a, "--dtype") && i + 1 < argc) {
            lac_dtype d;
            lac_error perr;
            if (lac_dtype_parse(argv[++i], &d, &perr) != LAC_OK) {
                fprintf(stderr, "weights_tools convert: --dtype: %s\n", perr.msg);
                return 2;
            }
            storage = (int)d;
        } else if (!strcmp(a, "--name") && i + 1 < argc) {
            name = argv[++i];
        } else if (!strcmp(a, "-f") || !strcmp(a, "--force")) {
            force = 1;
        } else if (a[0] == '-' && a[1]) {
            fprintf(stderr, "weights_tools convert: unknown or incomplete option '%s'\n", a);
            return 2;
        } else if (!dir) {
            dir = a;
        } else {
            fprintf(stderr, "weights_tools convert: unexpected argument '%s'\n", a);
            return 2;
        }
    }
    if (!dir || !out) {
        fprintf(stderr, "usage: weights_tools convert HF_DIR -o MODEL [--dtype f32|f16|bf16] "
                        "[--name NAME] [-f]\n");
        return 2;
    }
    struct stat sb;
    if (!force && stat(out, &sb) == 0) {
        fprintf(stderr, "weights_tools convert: %s exists (use -f to overwrite)\n", out);
        return 1;
    }
    lac_error err;
    lac_error_clear(&err);
    if (lac_convert_hf(dir, out, storage, name, &err) != LAC_OK) {
        fprintf(stderr, "weights_tools convert: %s\n", err.msg);
        return 1;
    }
    lac_model *m = NULL;
    if (lac_model_open(out, &m, &err) != LAC_OK) {
        fprintf(stderr, "weights_tools convert: %s\n", err.msg);
        return 1;
    }
    char hex[65];
    lac_hash_hex(lac_model_hash(m), hex);
    printf("%s: %llu parameters, %llu bytes, sha256 %s\n", out,
           (unsigned long long)lac_model_param_count(m), (unsigned long long)lac_model_file_size(m),
           hex);
    lac_model_close(m);
    return 0;
}
