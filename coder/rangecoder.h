/* 64-bit integer range coder (coder/rangecoder.c, specified in docs/CODER.md). Symbols are
 * given as (cum, freq) with frequencies summing to 2^P, 1 <= P <= 31 (the quantizer uses
 * 28..31).
 *
 * Encoder: low and range are 64-bit (start: 0 and 2^64 - 1); r = range >> P, low += r*cum,
 * range = r*freq, except for the top symbol (cum + freq == 2^P), which takes the remainder
 * range - r*cum. range stays >= 2^56 after normalisation, so r keeps >= 25 bits. A carry out
 * of `low` is propagated into the bytes already written (the encoder writes into its own
 * growable buffer, one block at a time). finish() emits the fewest bytes that pin the final
 * interval and drops trailing zero bytes; the decoder reads zero bytes past the end. An empty
 * message is 0 bytes.
 *
 * Decoder: the same arithmetic on (code - low); it never reads past the buffer and never fails
 * on garbage input: decode_target always returns a value < 2^P, so corrupt data decodes to
 * some symbol sequence, which the block checksum then rejects. A valid block is always
 * consumed exactly: after its last symbol, lac_rc_dec_consumed() == its length. */
#ifndef LAC_RANGECODER_H
#define LAC_RANGECODER_H
#include <stddef.h>
#include <stdint.h>

typedef struct lac_rc_encoder {
    uint8_t *buf; /* malloc'd output */
    size_t n, cap;
    uint64_t low, range;
    int oom; /* set when an allocation failed or a symbol was invalid (freq 0, cum + freq >
              * 2^P, P outside 1..31); all later calls are no-ops, finish() returns -1 */
} lac_rc_encoder;

void lac_rc_enc_init(lac_rc_encoder *e);
void lac_rc_encode(lac_rc_encoder *e, uint32_t cum, uint32_t freq, uint32_t P);
/* Flushes. Returns 0, or -1 if any allocation failed. e->buf[0..n) is the coded block. */
int lac_rc_enc_finish(lac_rc_encoder *e);
/* After finish: zero bytes appended until the output holds n (some of those it dropped, which
 * the decoder supplies anyway: the same code). -1 when out of memory. */
int lac_rc_enc_pad(lac_rc_encoder *e, size_t n);
void lac_rc_enc_free(lac_rc_encoder *e);

typedef struct lac_rc_decoder {
    const uint8_t *p, *end;
    uint64_t code, range; /* code is relative to the encoder's low */
    uint64_t past;        /* zero bytes supplied past the end so far */
} lac_rc_decoder;

void lac_rc_dec_init(lac_rc_decoder *d, const uint8_t *buf, size_t n);
/* The scaled code value, in [0, 2^P): the symbol s with cum[s] <= target < cum[s]+freq[s]. */
uint32_t lac_rc_decode_target(const lac_rc_decoder *d, uint32_t P);
/* Consumes the symbol found for the target. Invalid (cum, freq, P) are clamped into range so
 * that garbage never hangs or traps (what follows is then garbage too). */
void lac_rc_decode_update(lac_rc_decoder *d, uint32_t cum, uint32_t freq, uint32_t P);
/* Bytes consumed so far (for checking that a block used exactly its bytes). */
size_t lac_rc_dec_consumed(const lac_rc_decoder *d, const uint8_t *buf);
#endif
