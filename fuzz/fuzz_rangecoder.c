/* libFuzzer target for the range coder (coder/rangecoder.c, docs/CODER.md).
 *
 * Input layout: byte 0 = P (1..31, mod 31), byte 1 = number of symbols selector, then table
 * bytes, then the rest. Two checks on every input:
 *  1. Decoding the rest as a garbage stream never reads out of bounds (ASan), never hangs,
 *     always yields targets < 2^P and never consumes more than the buffer.
 *  2. The rest, read as a symbol sequence, round-trips through encode/decode exactly and the
 *     decoder consumes exactly the coded bytes. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "rangecoder.h"

#define MAX_SYM 64

typedef struct tab {
    uint32_t P, n;
    uint32_t freq[MAX_SYM], cum[MAX_SYM];
} tab;

/* Builds a table of n symbols summing to 2^P from the input bytes (each freq >= 1). */
static void build_table(tab *t, const uint8_t *d, size_t len, size_t *pos) {
    t->P = 1 + (len > 0 ? d[0] % 31 : 0);
    uint64_t total = (uint64_t)1 << t->P;
    uint32_t n = 1 + (len > 1 ? d[1] % MAX_SYM : 0);
    if (n > total) n = (uint32_t)total;
    t->n = n;
    *pos = len < 2 ? len : 2;
    /* weights from the next n bytes; spread 2^P - n in proportion, remainder to the last */
    uint64_t wsum = 0, weight[MAX_SYM];
    for (uint32_t i = 0; i < n; i++) {
        weight[i] = (*pos < len ? d[(*pos)++] : 1) + 1u;
        wsum += weight[i];
    }
    uint64_t left = total - n, given = 0;
    for (uint32_t i = 0; i < n; i++) {
        uint64_t extra = left * weight[i] / wsum;
        t->freq[i] = (uint32_t)(1 + extra);
        given += extra;
    }
    t->freq[n - 1] += (uint32_t)(left - given);
    uint64_t c = 0;
    for (uint32_t i = 0; i < n; i++) {
        t->cum[i] = (uint32_t)c;
        c += t->freq[i];
    }
    if (c != total) abort();
}

static uint32_t find(const tab *t, uint32_t target) {
    uint32_t s = 0;
    while (s + 1 < t->n && t->cum[s + 1] <= target) s++;
    return s;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    tab t;
    size_t pos;
    build_table(&t, data, size, &pos);
    const uint8_t *rest = data + pos;
    size_t nrest = size - pos;

    /* 1. garbage decode */
    lac_rc_decoder d;
    lac_rc_dec_init(&d, rest, nrest);
    for (size_t i = 0; i < nrest + 16; i++) {
        uint32_t target = lac_rc_decode_target(&d, t.P);
        if ((uint64_t)target >= ((uint64_t)1 << t.P)) abort();
        uint32_t s = find(&t, target);
        lac_rc_decode_update(&d, t.cum[s], t.freq[s], t.P);
        if (lac_rc_dec_consumed(&d, rest) > nrest) abort();
    }

    /* 2. round trip of the rest as symbols */
    uint32_t *syms = malloc((nrest ? nrest : 1) * sizeof *syms);
    if (!syms) return 0;
    lac_rc_encoder e;
    lac_rc_enc_init(&e);
    for (size_t i = 0; i < nrest; i++) {
        syms[i] = rest[i] % t.n;
        lac_rc_encode(&e, t.cum[syms[i]], t.freq[syms[i]], t.P);
    }
    if (lac_rc_enc_finish(&e) != 0) abort();
    lac_rc_dec_init(&d, e.buf, e.n);
    for (size_t i = 0; i < nrest; i++) {
        uint32_t s = find(&t, lac_rc_decode_target(&d, t.P));
        if (s != syms[i]) abort();
        lac_rc_decode_update(&d, t.cum[s], t.freq[s], t.P);
    }
    if (lac_rc_dec_consumed(&d, e.buf) != e.n) abort();
    lac_rc_enc_free(&e);
    free(syms);
    return 0;
}
