/* weights_tools random --config PRESET --seed N -o MODEL [--vocab-from MODEL] [--dtype D] [-f]
 * Random weights of a real GPT-2 shape, streamed to disk tensor by tensor. The vocabulary comes
 * from --vocab-from, or from the embedded default model (lac-tiny.lacm). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lac.h"
#include "wt.h"

#ifndef LAC_MODEL_BUILD_DIR
#define LAC_MODEL_BUILD_DIR "models"
#endif
#ifndef LAC_MODEL_INSTALL_DIR
#define LAC_MODEL_INSTALL_DIR "/usr/local/share/lacgpu"
#endif
#define DEFAULT_MODEL_FILE "lac-tiny.lacm"

int wt_random(int argc, char **argv) {
    const char *preset = NULL, *out = NULL, *vocab_from = NULL, *seed_s = NULL;
    int storage = -1, force = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *next = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--config") && next) preset = argv[++i];
        else if (!strcmp(a, "--seed") && next) seed_s = argv[++i];
        else if (!strcmp(a, "-o") && next) out = argv[++i];
        else if (!strcmp(a, "--vocab-from") && next) vocab_from = argv[++i];
        else if (!strcmp(a, "--dtype") && next) {
            lac_dtype d;
            lac_error perr;
            if (lac_dtype_parse(argv[++i], &d, &perr) != LAC_OK) {
                fprintf(stderr, "weights_tools random: --dtype: %s\n", perr.msg);
                return 2;
            }
            storage = (int)d;
        } else if (!strcmp(a, "-f") || !strcmp(a, "--force")) force = 1;
        else {
            fprintf(stderr, "weights_tools random: unknown or incomplete argument '%s'\n", a);
            return 2;
        }
    }
    if (!preset || !out || !seed_s) {
        fprintf(stderr, "usage: weights_tools random --config gpt2|gpt2-medium|gpt2-large|gpt2-xl|"
                        "tiny --seed N -o MODEL [--vocab-from MODEL] [--dtype f32|f16|bf16]\n");
        return 2;
    }
    char *end;
    errno = 0;
    unsigned long long seed = strtoull(seed_s, &end, 10);
    if (errno || end == seed_s || *end || seed_s[0] == '-') {
        fprintf(stderr, "weights_tools random: --seed %s is not a non-negative integer\n", seed_s);
        return 2;
    }
    lac_error err;
    lac_error_clear(&err);
    lac_model_config cfg;
    if (lac_model_config_preset(preset, &cfg, &err) != LAC_OK) {
        fprintf(stderr, "weights_tools random: %s\n", err.msg);
        return 2;
    }
    struct stat sb;
    if (!force && stat(out, &sb) == 0) {
        fprintf(stderr, "weights_tools random: %s exists (use -f to overwrite)\n", out);
        return 1;
    }
    snprintf(cfg.name, sizeof cfg.name, "random-%s", preset);
    char path[4096];
    if (!vocab_from) {
        snprintf(path, sizeof path, "%s/%s", LAC_MODEL_BUILD_DIR, DEFAULT_MODEL_FILE);
        if (access(path, R_OK) != 0)
            snprintf(path, sizeof path, "%s/%s", LAC_MODEL_INSTALL_DIR, DEFAULT_MODEL_FILE);
        vocab_from = path;
    }
    lac_model *vm = NULL;
    if (lac_model_open(vocab_from, &vm, &err) != LAC_OK) {
        fprintf(stderr, "weights_tools random: vocabulary: %s\n", err.msg);
        return 1;
    }
    lac_status st = lac_model_write_random(&cfg, seed, vm, NULL,
                                           storage >= 0 ? (lac_dtype)storage : cfg.storage, out,
                                           &err);
    lac_model_close(vm);
    if (st != LAC_OK) {
        fprintf(stderr, "weights_tools random: %s\n", err.msg);
        return 1;
    }
    printf("%s: random %s weights (seed %llu)\n", out, preset, seed);
    return 0;
}
