/* Internal view of a loaded model: fp32 weight pointers in the layout the engine wants.
 * Matmul weights are [in][out] row-major (Hugging Face Conv1D layout), so output columns are
 * contiguous: out[t][n] = b[n] + sum_k x[t][k] * W[k*out + n] (docs/NUMERICS.md). */
#ifndef LAC_MODEL_H
#define LAC_MODEL_H
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include "lac.h"
#include "vocab.h"

typedef struct lac_layer_weights {
    const float *ln1_w, *ln1_b;       /* [C] */
    const float *attn_w, *attn_b;     /* [C][3C], [3C]; columns q | k | v, head h at h*64.. */
    const float *proj_w, *proj_b;     /* [C][C], [C] */
    const float *ln2_w, *ln2_b;       /* [C] */
    const float *fc_w, *fc_b;         /* [C][n_inner], [n_inner] */
    const float *fcproj_w, *fcproj_b; /* [n_inner][C], [C] */
    /* F16 model files only (else NULL): the four matmul weights as stored in the file image,
     * IEEE halves, little-endian, same [in][out] layout. Every half widens exactly to the fp32
     * value above (docs/NUMERICS.md §0), so a backend may read these instead (half the bytes). */
    const uint8_t *attn_w16, *proj_w16, *fc_w16, *fcproj_w16;
} lac_layer_weights;

struct lac_model {
    lac_model_config cfg;
    const float *wte;          /* [V][C] token embeddings (also the tied LM head) */
    /* F16 files only (else NULL): wte as stored in the file image, [V][C] little-endian halves
     * (each widens exactly to wte's value): the CPU's packed LM head is built from these */
    const uint8_t *wte16;
    /* [C][V] wte transposed, and (F16 files) the same in halves: read them through
     * lac_model_wte_t / lac_model_wte_t_f16, which build them on first use. Most engines never
     * do (the CPU's packed head is built from wte / wte16): 51 MiB and 80 ms of a lac-tiny
     * load that a one-block file does not pay. */
    const float *wte_t;
    const uint16_t *wte_t_f16;
    const float *wpe;          /* [n_ctx][C] */
    lac_layer_weights *layers; /* [n_layer] */
    const float *lnf_w, *lnf_b;
    lac_vocab vocab;
    uint8_t hash[32];
    uint64_t n_params;
    uint64_t file_size;
    /* storage owned by model.c */
    void *map;
    size_t map_size;
    void *owned; /* widened fp32 data */
    void *owned_extra;
    void *wte_t_built, *wte_t_f16_built; /* what lac_model_wte_t* built (else NULL) */
    /* The tokenizer's read-only tables for this vocabulary (engine/tokenizer.c), built by the
     * first lac_tokenizer_create and shared by every later one: a compression no longer
     * rebuilds them. Set once by an atomic compare-and-swap; freed by lac_model_close. The
     * block starts with its own free function (lac_cache_free_fn), so that a model closes
     * without the tokenizer's code linked in (the CUDA emulator's build has none). */
    void *tok_tables;
};

typedef void (*lac_cache_free_fn)(void *block);
/* Frees what the model caches for its users (lac_model_close; tests' own models). */
static inline void lac_model_free_caches(lac_model *m) {
    if (m->tok_tables) (*(lac_cache_free_fn *)m->tok_tables)(m->tok_tables);
    m->tok_tables = NULL;
    free(m->wte_t_built);
    free(m->wte_t_f16_built);
    m->wte_t_built = m->wte_t_f16_built = NULL;
}

/* wte transposed, [C][V], built on the first call and kept with the model (two threads may
 * build it at once: the first to publish wins, as for tok_tables). NULL: out of memory. */
const float *lac_model_wte_t(const lac_model *m);
/* The same in the file's halves (F16 files; NULL for other storage or out of memory). */
const uint16_t *lac_model_wte_t_f16(const lac_model *m);

/* Builds an in-memory model with random weights of cfg's shapes (seeded, deterministic,
 * GPT-2-like init: N(0, 0.02) weights, LayerNorm w=1 b=0 plus small noise), with the GPT-2
 * vocabulary given (or a synthetic byte-level vocab of cfg->vocab_size tokens if v is NULL).
 * Used by `weights_tools random`, tests and fuzzers. */
lac_status lac_model_create_random(const lac_model_config *cfg, uint64_t seed,
                                   const lac_vocab *v, lac_model **out, lac_error *err);
#endif
