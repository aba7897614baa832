/* Speculative decoding (coder/decode_spec.c) and its predictor (coder/predict.c): the ids
 * decoded with guesses are the plain loop's, on real text with lac-tiny. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "decode_spec.h"
#include "engine_testutil.h"
#include "lac.h"
#include "predict.h"
#include "rangecoder.h"

Test(predict, suffix_match) {
    lac_predictor p;
    cr_assert_eq(lac_pred_init(&p, 64), 0);
    int32_t g[8];
    int order;
    cr_expect_eq(lac_pred_propose(&p, g, 4, &order), 0);
    const int32_t seq[] = {1, 2, 3, 4, 5, 9, 1, 2, 3};
    for (int i = 0; i < 9; i++) lac_pred_push(&p, seq[i]);
    /* "1 2 3" was followed by "4 5 9 1 2 3" */
    cr_assert_eq(lac_pred_propose(&p, g, 4, &order), 4);
    cr_expect_eq(order, 3);
    cr_expect(g[0] == 4 && g[1] == 5 && g[2] == 9 && g[3] == 1);
    /* a match running into the present repeats with its period: 7 8 7 8 7 -> 8 7 8 ... */
    lac_pred_reset(&p);
    const int32_t rep[] = {7, 8, 7, 8, 7};
    for (int i = 0; i < 5; i++) lac_pred_push(&p, rep[i]);
    cr_assert_eq(lac_pred_propose(&p, g, 5, &order), 5);
    cr_expect(g[0] == 8 && g[1] == 7 && g[2] == 8 && g[3] == 7 && g[4] == 8);
    /* no earlier occurrence of the suffix: no guess */
    lac_pred_push(&p, 99);
    lac_pred_push(&p, 100);
    cr_expect_eq(lac_pred_propose(&p, g, 4, &order), 0);
    cr_expect_eq(order, 0);
    /* pushes beyond cap are ignored */
    for (int i = 0; i < 200; i++) lac_pred_push(&p, i % 5);
    cr_expect_eq(p.n, 64);
    lac_pred_free(&p);
}

static lac_model *tm;
static lac_tokenizer *tk;
static void setup(void) {
    lac_error err;
    const char *path = getenv("LAC_DEFAULT_MODEL");
    cr_assert(path, "LAC_DEFAULT_MODEL is not set");
    cr_assert_eq(lac_model_open(path, &tm, &err), LAC_OK, "%s", err.msg);
    cr_assert_eq(lac_tokenizer_create(tm, &tk, &err), LAC_OK, "%s", err.msg);
}
static void teardown(void) {
    lac_tokenizer_free(tk);
    lac_model_close(tm);
}
TestSuite(spec, .init = setup, .fini = teardown, .timeout = 600);

/* Codes ids[0..n) as one block (inputs [eot, ids...]) with the engine + range coder. */
static uint8_t *encode(const int32_t *ids, int n, const lac_coder_params *p, size_t *len) {
    lac_engine_options o = {.device = LAC_DEVICE_CPU, .n_threads = 2, .n_streams = 1};
    lac_engine *e;
    lac_error err;
    cr_assert_eq(lac_engine_create(tm, &o, &e, &err), LAC_OK, "%s", err.msg);
    int32_t *in = malloc((size_t)n * sizeof *in);
    uint32_t *cum = malloc((size_t)n * sizeof *cum), *fr = malloc((size_t)n * sizeof *fr);
    cr_assert(in && cum && fr);
    in[0] = (int32_t)lac_model_get_config(tm)->eot_token;
    memcpy(in + 1, ids, (size_t)(n - 1) * sizeof *in);
    const int32_t *tp[1] = {in}, *tg[1] = {ids};
    int cnt[1] = {n};
    uint32_t *cp[1] = {cum}, *fp[1] = {fr};
    cr_assert_eq(lac_engine_forward_code(e, tp, cnt, tg, p, cp, fp, &err), LAC_OK, "%s", err.msg);
    lac_rc_encoder rc;
    lac_rc_enc_init(&rc);
    for (int i = 0; i < n; i++) lac_rc_encode(&rc, cum[i], fr[i], p->precision);
    cr_assert_eq(lac_rc_enc_finish(&rc), 0);
    *len = rc.n;
    free(in);
    free(cum);
    free(fr);
    lac_engine_free(e);
    return rc.buf;
}

/* the plain loop (what coder/decode_blocks.c runs for batches): one lac_engine_forward_decode step per token */
static void decode_plain(const uint8_t *buf, size_t len, int n, const lac_coder_params *p,
                         int32_t *out) {
    lac_engine_options o = {.device = LAC_DEVICE_CPU, .n_threads = 2, .n_streams = 1};
    lac_engine *e;
    lac_error err;
    cr_assert_eq(lac_engine_create(tm, &o, &e, &err), LAC_OK, "%s", err.msg);
    lac_rc_decoder rc;
    lac_rc_dec_init(&rc, buf, len);
    int32_t cur = (int32_t)lac_model_get_config(tm)->eot_token;
    const int32_t *tp[1] = {&cur};
    int cnt[1] = {1};
    for (int i = 0; i < n; i++) {
        uint32_t target = lac_rc_decode_target(&rc, p->precision), cum, fr;
        int32_t sym;
        cr_assert_eq(lac_engine_forward_decode(e, tp, cnt, p, &target, &sym, &cum, &fr, &err),
                     LAC_OK, "%s", err.msg);
        lac_rc_decode_update(&rc, cum, fr, p->precision);
        out[i] = cur = sym;
    }
    lac_engine_free(e);
}

static int32_t *tokens_of(const char *path, long max_bytes, int max_tokens, int *n) {
    size_t sz;
    char *txt = etu_read_file(path, &sz);
    cr_assert(txt, "cannot read %s", path);
    if ((long)sz > max_bytes) sz = (size_t)max_bytes;
    lac_tokens t = {0};
    lac_error err;
    lac_tokenizer_reset(tk);
    cr_assert_eq(lac_tokenizer_feed(tk, txt, sz, 1, &t, &err), LAC_OK, "%s", err.msg);
    free(txt);
    *n = (int)t.n < max_tokens ? (int)t.n : max_tokens;
    return t.ids;
}

static void spec_same_as_plain(const char *path, int max_tokens) {
    lac_coder_params p;
    lac_coder_params_default(&p);
    int n;
    int32_t *ids = tokens_of(path, 20000, max_tokens, &n);
    cr_assert(n > 8);
    size_t len;
    uint8_t *buf = encode(ids, n, &p, &len);
    int32_t *plain = malloc((size_t)n * sizeof *plain), *sp = malloc((size_t)n * sizeof *sp);
    cr_assert(plain && sp);
    decode_plain(buf, len, n, &p, plain);
    cr_expect(memcmp(plain, ids, (size_t)n * sizeof *ids) == 0, "%s: plain decode differs", path);
    /* k = 0 (plain through forward), 7 and 63; stream 1 of an engine of 2 */
    const int ks[3] = {0, 7, 63};
    for (int j = 0; j < 3; j++) {
        lac_engine_options o = {.device = LAC_DEVICE_CPU, .n_threads = 2, .n_streams = 2};
        lac_engine *e;
        lac_error err;
        cr_assert_eq(lac_engine_create(tm, &o, &e, &err), LAC_OK, "%s", err.msg);
        lac_rc_decoder rc;
        lac_rc_dec_init(&rc, buf, len);
        lac_spec_stats st = {0};
        memset(sp, 0xff, (size_t)n * sizeof *sp);
        cr_assert_eq(lac_decode_block_spec(e, 1, &rc, &p,
                                           (int32_t)lac_model_get_config(tm)->eot_token,
                                           (uint32_t)n, -1, ks[j], sp, NULL, &st, &err),
                     LAC_OK, "%s", err.msg);
        cr_expect(memcmp(sp, plain, (size_t)n * sizeof *sp) == 0,
                  "%s: k = %d: speculative ids differ from the plain loop", path, ks[j]);
        cr_expect_eq(lac_rc_dec_consumed(&rc, buf), len, "%s: k = %d: bytes consumed", path,
                     ks[j]);
        cr_log_info("%s k=%d: %d tokens, %llu calls, %llu/%llu guesses right", path, ks[j], n,
                    (unsigned long long)st.calls, (unsigned long long)st.accepted,
                    (unsigned long long)st.guessed);
        if (ks[j] == 0) cr_expect_eq(st.calls, (uint64_t)n);
        else cr_expect(st.accepted > 0, "%s: no guess was right", path);
        lac_engine_free(e);
    }
    free(plain);
    free(sp);
    free(buf);
    free(ids);
}

Test(spec, prose_same_as_plain) {
    char *path = etu_shared_path("corpus/canterbury/alice29.txt");
    spec_same_as_plain(path, etu_quick() ? 64 : 160);
    free(path);
}

Test(spec, code_same_as_plain) {
    char path[4096];
    snprintf(path, sizeof path, "%s/engine/engine.c", getenv("LAC_SOURCE_DIR"));
    spec_same_as_plain(path, etu_quick() ? 64 : 160);
}
