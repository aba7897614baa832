/* weights_tools info MODEL: name, config, parameter count, storage dtype, size, hash. */
#include <stdio.h>

#include "lac.h"
#include "wt.h"

int wt_info(int argc, char **argv) {
    if (argc != 2 || argv[1][0] == '-') {
        fprintf(stderr, "usage: weights_tools info MODEL\n");
        return 2;
    }
    lac_error err;
    lac_error_clear(&err);
    lac_model *m = NULL;
    if (lac_model_open(argv[1], &m, &err) != LAC_OK) {
        fprintf(stderr, "weights_tools info: %s\n", err.msg);
        return 1;
    }
    const lac_model_config *c = lac_model_get_config(m);
    char hex[65];
    lac_hash_hex(lac_model_hash(m), hex);
    printf("file:        %s\n", argv[1]);
    printf("name:        %s\n", c->name);
    printf("n_layer:     %u\n", c->n_layer);
    printf("n_head:      %u\n", c->n_head);
    printf("n_embd:      %u\n", c->n_embd);
    printf("n_ctx:       %u\n", c->n_ctx);
    printf("vocab_size:  %u\n", c->vocab_size);
    printf("n_inner:     %u\n", c->n_inner);
    printf("ln_eps:      %g\n", (double)c->ln_eps);
    printf("eot_token:   %u\n", c->eot_token);
    printf("parameters:  %llu\n", (unsigned long long)lac_model_param_count(m));
    printf("storage:     %s\n", lac_dtype_name(c->storage));
    printf("file_size:   %llu\n", (unsigned long long)lac_model_file_size(m));
    printf("sha256:      %s\n", hex);
    printf("random:      %s\n", c->is_random ? "yes" : "no");
    lac_model_close(m);
    return 0;
}
