/* coder/rangecoder.c — 64-bit range coder with carry propagation (docs/CODER.md).
 *
 * State: low (64 bits; a carry out of it goes into the bytes already written) and range
 * (64 bits), initially low = 0, range = 2^64 - 1. Encoding symbol (cum, freq) of a table that
 * sums to 2^P:
 *     r = range >> P
 *     low += r * cum                                  (carry -> already written bytes)
 *     range = (cum + freq == 2^P) ? range - r * cum   (the top symbol takes the remainder)
 *                                 : r * freq
 *     while range < 2^56: emit low >> 56, low <<= 8, range <<= 8
 * After normalisation range >= 2^56, so r >= 2^25 and every symbol gets a non-empty interval.
 * The decoder keeps code = (stream value) - low and mirrors the same steps; the stream is read
 * big-endian, with zero bytes past its end. */
#include "rangecoder.h"

#include <stdlib.h>
#include <string.h>

#define RC_TOP ((uint64_t)1 << 56)

void lac_rc_enc_init(lac_rc_encoder *e) {
    memset(e, 0, sizeof *e);
    e->low = 0;
    e->range = UINT64_MAX;
}

void lac_rc_enc_free(lac_rc_encoder *e) {
    if (!e) return;
    free(e->buf);
    e->buf = NULL;
    e->n = e->cap = 0;
}

static int enc_reserve(lac_rc_encoder *e, size_t extra) {
    if (e->cap - e->n >= extra) return 0;
    size_t cap = e->cap ? e->cap : 256;
    while (cap - e->n < extra) {
        if (cap > SIZE_MAX / 2) return -1;
        cap *= 2;
    }
    uint8_t *nb = realloc(e->buf, cap);
    if (!nb) return -1;
    e->buf = nb;
    e->cap = cap;
    return 0;
}

/* Adds 1 to the bytes written so far: trailing 0xFF bytes become 0x00 and the byte before them
 * is incremented. The coded value never reaches 1.0, so a byte that is not 0xFF is always
 * found; if not (impossible for valid state), the encoder is marked failed. */
static void enc_carry(lac_rc_encoder *e) {
    size_t i = e->n;
    while (i > 0 && e->buf[i - 1] == 0xFF) e->buf[--i] = 0x00;
    if (i == 0) {
        e->oom = 1;
        return;
    }
    e->buf[i - 1]++;
}

void lac_rc_encode(lac_rc_encoder *e, uint32_t cum, uint32_t freq, uint32_t P) {
    if (e->oom) return;
    /* An invalid symbol would break the code (freq 0 would even hang): refuse it. */
    if (P < 1 || P > 31 || freq == 0 || (uint64_t)cum + freq > ((uint64_t)1 << P)) {
        e->oom = 1;
        return;
    }
    const uint64_t r = e->range >> P;
    const uint64_t old = e->low;
    e->low += r * cum;
    if (e->low < old) enc_carry(e);
    if ((uint64_t)cum + freq == ((uint64_t)1 << P))
        e->range -= r * cum;
    else
        e->range = r * freq;
    if (e->range >= RC_TOP) return;
    /* range >= r >= 2^25 here, so at most 4 bytes come out */
    if (enc_reserve(e, 4)) {
        e->oom = 1;
        return;
    }
    while (e->range < RC_TOP) {
        e->buf[e->n++] = (uint8_t)(e->low >> 56);
        e->low <<= 8;
        e->range <<= 8;
    }
}

/* Minimal flush: the fewest top bytes of a value x in [low, low + range) (a carry out of x is
 * propagated as in encode); the decoder reads zeros after them. Trailing zero bytes of the
 * whole block are then dropped, since the decoder supplies them anyway. */
int lac_rc_enc_finish(lac_rc_encoder *e) {
    if (e->oom) return -1;
    for (unsigned k = 0; k <= 8; k++) {
        /* step = 2^(64 - 8k); x = low rounded up to a multiple of step (65 bits: carry, x). */
        const uint64_t mask = k == 8 ? 0 : (UINT64_MAX >> (8 * k));
        const uint64_t t = e->low + mask;
        const int carry = t < e->low;
        const uint64_t x = t & ~mask;
        if (x - e->low >= e->range) continue; /* true difference < step <= 2^64 */
        if (carry) enc_carry(e);
        if (e->oom || enc_reserve(e, k)) {
            e->oom = 1;
            return -1;
        }
        for (unsigned j = 0; j < k; j++) e->buf[e->n++] = (uint8_t)(x >> (56 - 8 * j));
        e->low = x;
        e->range = 0;
        break;
    }
    /* k = 8 always succeeds (x = low), so the loop ended by break. */
    while (e->n > 0 && e->buf[e->n - 1] == 0) e->n--;
    return 0;
}

int lac_rc_enc_pad(lac_rc_encoder *e, size_t n) {
    if (e->oom) return -1;
    if (e->n >= n) return 0;
    if (enc_reserve(e, n - e->n)) return e->oom = 1, -1;
    memset(e->buf + e->n, 0, n - e->n);
    e->n = n;
    return 0;
}

static inline uint8_t dec_byte(lac_rc_decoder *d) {
    if (d->p < d->end) return *d->p++;
    d->past++;
    return 0;
}

void lac_rc_dec_init(lac_rc_decoder *d, const uint8_t *buf, size_t n) {
    d->p = buf;
    d->end = buf ? buf + n : buf;
    d->code = 0;
    d->past = 0;
    for (int i = 0; i < 8; i++) d->code = (d->code << 8) | dec_byte(d);
    d->range = UINT64_MAX;
}

static inline uint32_t clamp_p(uint32_t P) {
    return P < 1 ? 1 : P > 31 ? 31 : P;
}

uint32_t lac_rc_decode_target(const lac_rc_decoder *d, uint32_t P) {
    P = clamp_p(P);
    const uint64_t r = d->range >> P; /* >= 2^25: range >= 2^56 after every update */
    const uint64_t t = d->code / r;
    const uint64_t top = ((uint64_t)1 << P) - 1;
    /* The top symbol's interval is up to r - 1 wider than r * freq; garbage can be anything. */
    return (uint32_t)(t > top ? top : t);
}

void lac_rc_decode_update(lac_rc_decoder *d, uint32_t cum, uint32_t freq, uint32_t P) {
    /* Clamp invalid symbols so that garbage never hangs or traps (the result is garbage). */
    P = clamp_p(P);
    const uint64_t total = (uint64_t)1 << P;
    if (cum >= total) cum = (uint32_t)(total - 1);
    if (freq == 0) freq = 1;
    if ((uint64_t)cum + freq > total) freq = (uint32_t)(total - cum);

    const uint64_t r = d->range >> P;
    d->code -= r * cum; /* wraps only on garbage or a wrong symbol: defined, harmless */
    if ((uint64_t)cum + freq == total)
        d->range -= r * cum;
    else
        d->range = r * freq;
    while (d->range < RC_TOP) {
        d->code = (d->code << 8) | dec_byte(d);
        d->range <<= 8;
    }
}

size_t lac_rc_dec_consumed(const lac_rc_decoder *d, const uint8_t *buf) {
    return buf ? (size_t)(d->p - buf) : 0;
}
