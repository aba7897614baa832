/* predict.c — suffix-match next-token guesses (coder/predict.h). */
#include "predict.h"

#include <stdlib.h>
#include <string.h>

/* hash of tok[end - order .. end - 1] */
static uint32_t hash_at(const int32_t *tok, int end, int order) {
    uint32_t h = 2166136261u ^ (uint32_t)order;
    for (int i = end - order; i < end; i++) h = (h ^ (uint32_t)tok[i]) * 16777619u;
    return (h ^ h >> 15) & ((1u << LAC_PRED_HASH_BITS) - 1);
}

int lac_pred_init(lac_predictor *p, int cap) {
    memset(p, 0, sizeof *p);
    p->cap = cap > 0 ? cap : 1;
    p->tok = malloc((size_t)p->cap * sizeof *p->tok);
    if (!p->tok) return -1;
    lac_pred_reset(p);
    return 0;
}

void lac_pred_free(lac_predictor *p) {
    free(p->tok);
    p->tok = NULL;
}

void lac_pred_reset(lac_predictor *p) {
    p->n = 0;
    memset(p->table, 0xff, sizeof p->table); /* all -1 */
}

void lac_pred_push(lac_predictor *p, int32_t tok) {
    if (p->n >= p->cap) return;
    /* the suffix ending before the new token is now followed by it: remember where */
    for (int o = LAC_PRED_MIN_ORDER; o <= LAC_PRED_MAX_ORDER && o <= p->n; o++)
        p->table[o][hash_at(p->tok, p->n, o)] = p->n;
    p->tok[p->n++] = tok;
}

int lac_pred_propose(const lac_predictor *p, int32_t *out, int k, int *order) {
    if (order) *order = 0;
    for (int o = LAC_PRED_MAX_ORDER; o >= LAC_PRED_MIN_ORDER; o--) {
        if (o > p->n) continue;
        const int at = p->table[o][hash_at(p->tok, p->n, o)];
        if (at < o || at >= p->n) continue;
        /* verify: tok[at - o .. at) == the current suffix (hash collisions guess badly) */
        if (memcmp(p->tok + at - o, p->tok + p->n - o, (size_t)o * sizeof *p->tok)) continue;
        int m = 0;
        for (; m < k && at + m < p->n; m++) out[m] = p->tok[at + m];
        /* a match running into the present repeats with the period n - at */
        for (; m < k; m++) out[m] = out[m - (p->n - at)];
        if (order) *order = o;
        return m;
    }
    return 0;
}
