/* Next-token guesses for exact speculative decoding (coder/decode_spec.c): given the tokens
 * decoded so far in a block, propose the tokens that followed the most recent earlier
 * occurrence of the longest matching suffix (orders LAC_PRED_MAX_ORDER down to
 * LAC_PRED_MIN_ORDER), the way an LZ77 match model copies text. Guesses only ever cost time:
 * the decoder keeps the model's rows up to the first wrong one, so the bits never depend on
 * them. O(1) per push and per proposal (one hash table per order, verified on lookup). */
#ifndef LAC_PREDICT_H
#define LAC_PREDICT_H
#include <stdint.h>

#define LAC_PRED_MAX_ORDER 4
#define LAC_PRED_MIN_ORDER 2
#define LAC_PRED_HASH_BITS 12

typedef struct lac_predictor {
    int32_t *tok;  /* the tokens pushed so far */
    int n, cap;
    int32_t table[LAC_PRED_MAX_ORDER + 1][1 << LAC_PRED_HASH_BITS]; /* -1 or an end index */
} lac_predictor;

/* cap: the most tokens that will be pushed (a block's n_tokens). Returns 0, -1 out of memory. */
int lac_pred_init(lac_predictor *p, int cap);
void lac_pred_free(lac_predictor *p);
void lac_pred_reset(lac_predictor *p);
/* Appends one decoded token (ignored beyond cap). */
void lac_pred_push(lac_predictor *p, int32_t tok);
/* Writes up to k guesses for the next tokens to out; returns how many (0: no match). *order
 * (may be NULL) receives the order of the match (0 when none). */
int lac_pred_propose(const lac_predictor *p, int32_t *out, int k, int *order);
#endif
