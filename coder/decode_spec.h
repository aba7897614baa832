/* Exact speculative decoding of one coded block on one engine stream (coder/decode_spec.c).
 *
 * The plain decoder runs one model step per token. This one guesses the next tokens from the
 * text decoded so far (coder/predict.h), runs [last token, guesses...] as one prefill, decodes
 * row after row with the range decoder and stops at the first wrong guess; the stream's KV
 * cache is then rolled back (lac_engine_truncate) to the rows that were right. A prefill row is
 * bitwise a one-token step (docs/NUMERICS.md §7), so every frequency row, hence every symbol,
 * is the plain loop's: the encoder needs nothing new. What it saves is weight reads: on a CPU a
 * one-row step is bound by reading the weights, and k + 1 rows cost little more. */
#ifndef LAC_DECODE_SPEC_H
#define LAC_DECODE_SPEC_H
#include <stdint.h>

#include "lac.h"
#include "rangecoder.h"

typedef struct lac_spec_stats {
    uint64_t calls;    /* forward calls made */
    uint64_t tokens;   /* tokens decoded */
    uint64_t guessed;  /* guesses run through the model */
    uint64_t accepted; /* guesses that were right (rows kept) */
} lac_spec_stats;

/* Decodes up to n_tokens symbols of one block from rc into out[0..n_tokens), using stream
 * `stream` of engine e (reset first; the other streams are left alone), stopping after a
 * decoded end_sym (-1: none; a format v2 partial block ends with <|endoftext|>); *n_done
 * (may be NULL) receives the symbols decoded, end_sym included. The first model input is
 * first_input (the end-of-text token for a .lacz block), then each decoded symbol. k_max
 * (0..63) is the most guesses per call; 0 gives the plain one-step-per-token loop (through
 * lac_engine_forward, so the same rows as lac_engine_forward_decode). st (may be NULL)
 * accumulates counts. Corrupt data decodes to some symbols (the block checksum rejects them);
 * ids are always < vocab_size. n_tokens must not exceed the model's n_ctx. */
lac_status lac_decode_block_spec(lac_engine *e, int stream, lac_rc_decoder *rc,
                                 const lac_coder_params *p, int32_t first_input,
                                 uint32_t n_tokens, int32_t end_sym, int k_max, int32_t *out,
                                 uint32_t *n_done, lac_spec_stats *st, lac_error *err);

/* The k_max to use for a block on engine e: guesses pay where one-row steps are bound by
 * weight reads (a CPU engine); 0 elsewhere. */
int lac_decode_spec_default_k(const lac_engine *e);
#endif
