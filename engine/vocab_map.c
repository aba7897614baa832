/* Token bytes -> id lookup over a lac_vocab: open addressing on FNV-1a, used while building
 * merge tables (the HF-file parser and the tokenizer). */
#include <stdlib.h>
#include <string.h>

#include "vocab.h"

static uint64_t fnv1a(const uint8_t *p, size_t n) {
    uint64_t h = 1469598103934665603ull;
    for (size_t i = 0; i < n; i++) h = (h ^ p[i]) * 1099511628211ull;
    return h;
}

int lac_vocab_map_init(lac_vocab_map *m, const lac_vocab *v) {
    uint32_t cap = 1;
    while (cap < 2u * v->n_tokens) cap <<= 1;
    m->v = v;
    m->mask = cap - 1;
    m->slots = calloc(cap, sizeof *m->slots);
    return m->slots ? 0 : -1;
}

int64_t lac_vocab_map_find(const lac_vocab_map *m, const uint8_t *p, size_t n) {
    const lac_vocab *v = m->v;
    for (uint32_t i = (uint32_t)fnv1a(p, n) & m->mask;; i = (i + 1) & m->mask) {
        uint32_t s = m->slots[i];
        if (!s) return -1;
        uint32_t id = s - 1;
        size_t len = v->tok_off[id + 1] - v->tok_off[id];
        if (len == n && !memcmp(v->tok_bytes + v->tok_off[id], p, n)) return id;
    }
}

void lac_vocab_map_add(lac_vocab_map *m, uint32_t id) {
    const lac_vocab *v = m->v;
    const uint8_t *p = v->tok_bytes + v->tok_off[id];
    size_t len = v->tok_off[id + 1] - v->tok_off[id];
    if (lac_vocab_map_find(m, p, len) >= 0) return; /* the first id of a duplicate wins */
    uint32_t i = (uint32_t)fnv1a(p, len) & m->mask;
    while (m->slots[i]) i = (i + 1) & m->mask;
    m->slots[i] = id + 1;
}

void lac_vocab_map_free(lac_vocab_map *m) {
    free(m->slots);
    m->slots = NULL;
}
