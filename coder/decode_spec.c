/* decode_spec.c — exact speculative decoding of one block (coder/decode_spec.h). */
#include "decode_spec.h"

#include <stdlib.h>
#include <string.h>

#include "lac_error.h"
#include "predict.h"

#define SPEC_K_LIMIT 63

int lac_decode_spec_default_k(const lac_engine *e) {
    const char *name = lac_engine_device_name(e);
    /* CPU fast backend: k + 1 rows read the weights once, like one row. k = 3 measured best
     * (bench/results/cpu-amd-epyc-2c/spec.tsv: 1.02x prose, 1.15x code, 1.49x logs; k = 7:
     * 1.13x, 1.06x, 1.28x) */
    return name && !strncmp(name, "cpu-", 4) && strncmp(name, "cpu-scalar", 10) ? 3 : 0;
}

lac_status lac_decode_block_spec(lac_engine *e, int stream, lac_rc_decoder *rc,
                                 const lac_coder_params *p, int32_t first_input,
                                 uint32_t n_tokens, int32_t end_sym, int k_max, int32_t *out,
                                 uint32_t *n_done, lac_spec_stats *st, lac_error *err) {
    if (n_done) *n_done = 0;
    if (!e || !rc || !p || (!out && n_tokens))
        return lac_fail(err, LAC_ERR_ARG, "decode_spec: engine, decoder, params or out is NULL");
    const int B = lac_engine_streams(e);
    if (stream < 0 || stream >= B)
        return lac_fail(err, LAC_ERR_ARG, "decode_spec: no stream %d", stream);
    lac_status s = lac_coder_params_check(p, err);
    if (s) return s;
    if (k_max < 0) k_max = 0;
    if (k_max > SPEC_K_LIMIT) k_max = SPEC_K_LIMIT;
    lac_engine_reset(e, stream);
    if (!n_tokens) return LAC_OK;
    const uint32_t V = lac_model_get_config(lac_engine_model(e))->vocab_size;
    const uint32_t P = p->precision;
    const size_t rows = (size_t)k_max + 1;
    float *lg = malloc(rows * V * sizeof *lg);
    uint32_t *fr = malloc((size_t)V * sizeof *fr);
    const int32_t **tok = calloc((size_t)B, sizeof *tok);
    float **lgp = calloc((size_t)B, sizeof *lgp);
    int *cnt = calloc((size_t)B, sizeof *cnt);
    lac_predictor pred;
    const int pred_ok = lac_pred_init(&pred, (int)n_tokens) == 0;
    if (!lg || !fr || !tok || !lgp || !cnt || !pred_ok) {
        s = lac_fail(err, LAC_ERR_NOMEM, "decode_spec: out of memory (%zu logit rows)", rows);
        goto done;
    }
    int32_t in[SPEC_K_LIMIT + 1];
    int32_t prev = first_input;
    int k_cur = k_max; /* adaptive: shrinks after misses, grows after full hits */
    /* A guessed row costs part of a step whether or not it is right: after a call whose first
     * guess missed, stop guessing for `backoff` calls (doubling on each further miss, up to 32; a hit resets
     * it), so that text the predictor cannot guess (prose) decodes at the plain speed. */
    int backoff = 0, quiet = 0;
    uint32_t i = 0;
    int ended = 0;
    while (i < n_tokens && !ended) {
        int k = k_cur;
        if ((uint32_t)k > n_tokens - i - 1) k = (int)(n_tokens - i - 1);
        const int resting = quiet > 0;
        if (resting) quiet--, k = 0;
        const int ng = k > 0 ? lac_pred_propose(&pred, in + 1, k, NULL) : 0;
        in[0] = prev;
        const int pos = lac_engine_position(e, stream);
        tok[stream] = in;
        cnt[stream] = ng + 1;
        lgp[stream] = lg;
        s = lac_engine_forward(e, tok, cnt, lgp, err);
        if (s) goto done;
        int r = 0;
        for (;; r++) {
            const uint32_t target = lac_rc_decode_target(rc, P);
            lac_quantize_freqs(p, lg + (size_t)r * V, V, fr);
            uint32_t cum, f;
            const int32_t sym = (int32_t)lac_freqs_find(fr, V, target, &cum, &f);
            lac_rc_decode_update(rc, cum, f, P);
            out[i++] = sym;
            lac_pred_push(&pred, sym);
            prev = sym;
            if (sym == end_sym) {
                ended = 1;
                break;
            }
            if (r >= ng || sym != in[r + 1]) break;
        }
        /* rows 0..r had true inputs; the rest are dropped from the cache */
        if (r < ng && !ended) {
            s = lac_engine_truncate(e, stream, pos + r + 1, err);
            if (s) goto done;
        }
        if (st) {
            st->calls++;
            st->guessed += (uint64_t)ng;
            st->accepted += (uint64_t)r;
        }
        if (ng > 0) {
            if (r == 0) { /* the first guess missed: back off */
                backoff = backoff ? (backoff * 2 > 32 ? 32 : backoff * 2) : 1;
                quiet = backoff;
            } else if (r > 0) {
                backoff = 0;
            }
            if (r == ng && ng == k_cur) k_cur = k_cur * 2 > k_max ? k_max : k_cur * 2;
            else if (r < ng) k_cur = r + 1 > k_cur ? k_cur : r + 1;
        } else if (k_cur < k_max && !resting) {
            k_cur++;
        }
        if (k_cur < 1 && k_max > 0) k_cur = 1;
    }
    if (st) st->tokens += i;
    if (n_done) *n_done = i;
done:
    if (pred_ok) lac_pred_free(&pred);
    free(lg);
    free(fr);
    free(tok);
    free(lgp);
    free(cnt);
    return s;
}
