/* weights_tools: model conversion, inspection, tokenization and evaluation.
 * Thin dispatcher: all work is done by liblac through lac.h. */
#include <stdio.h>
#include <string.h>

#include "lac.h"
#include "wt.h"

static void usage(FILE *f) {
    fprintf(f,
            "usage: weights_tools COMMAND [ARGS]\n"
            "  convert HF_DIR -o MODEL [--dtype f32|f16|bf16] [--name NAME]\n"
            "                                   convert a Hugging Face GPT-2 checkpoint\n"
            "  info MODEL                       config, parameters, dtype, size and hash\n"
            "  random --config gpt2|gpt2-medium|gpt2-large|gpt2-xl|tiny --seed N -o MODEL\n"
            "         [--vocab-from MODEL] [--dtype f32|f16|bf16]\n"
            "                                   a model with random weights (for benches)\n"
            "  tokenize MODEL [FILE]            token ids of FILE (or stdin), one per line\n"
            "  detokenize MODEL [FILE]          bytes of the ids in FILE (or stdin)\n"
            "  eval MODEL FILE [--block-tokens N] [--threads N] [--device DEV]\n"
            "                                   ideal code length: sum of -log2 p(token)\n"
            "  -h, --help    -V, --version\n");
}

int main(int argc, char **argv) {
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    const char *cmd = argv[1];
    if (!strcmp(cmd, "-h") || !strcmp(cmd, "--help")) {
        usage(stdout);
        return 0;
    }
    if (!strcmp(cmd, "-V") || !strcmp(cmd, "--version")) {
        printf("weights_tools %s (liblac, model format %d)\n", LAC_VERSION_STRING,
               LAC_MODEL_FORMAT_VERSION);
        return 0;
    }
    static const struct {
        const char *name;
        int (*fn)(int, char **);
    } cmds[] = {{"convert", wt_convert},   {"info", wt_info},
                {"random", wt_random},     {"tokenize", wt_tokenize},
                {"detokenize", wt_detokenize}, {"eval", wt_eval}};
    for (size_t i = 0; i < sizeof cmds / sizeof cmds[0]; i++)
        if (!strcmp(cmd, cmds[i].name)) return cmds[i].fn(argc - 1, argv + 1);
    fprintf(stderr, "weights_tools: unknown command '%s' (try -h)\n", cmd);
    return 2;
}
