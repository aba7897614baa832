/* GPT-2 byte-level BPE tokenizer: streaming, lossless on every byte string.
 *
 * Pre-tokenization. The input is cut into pre-tokens, each of which is BPE-merged on its own:
 *
 *  1. UTF-8. The bytes are read as strict UTF-8 (RFC 3629: no overlong forms, no surrogates,
 *     nothing above U+10FFFF). A byte that does not start a complete valid sequence is
 *     *invalid*; decoding resumes at the next byte. The input is thus a sequence of maximal
 *     valid spans and maximal runs of invalid bytes. At the very end of the input, an
 *     incomplete sequence is invalid bytes (while streaming it is held back until the next
 *     bytes decide).
 *  2. Valid spans go through the GPT-2 pattern
 *        's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
 *     (PCRE2, UTF + UCP, JIT), matched left to right like Python's re.findall. \s is Unicode
 *     White_Space, as in the reference implementations (tiktoken, the `regex` module):
 *     [\t\n\x0B\f\r\x{85}\p{Z}]. PCRE2's own UCP \s lacks U+0085, so the class is spelled out.
 *     The span's end acts as the end of the subject: the pattern does not see across an invalid
 *     byte (so `\s+(?!\S)` may take a whitespace run that an invalid byte follows).
 *  3. Each maximal run of invalid bytes is cut into pre-tokens of TK_MAX_PRETOKEN bytes counted
 *     from the start of the run (the last piece shorter), and BPE-merged like any other bytes.
 *     Nothing is ever dropped or replaced, so detokenize(tokenize(x)) == x for every x.
 *  4. Length cap. A pre-token is at most TK_MAX_PRETOKEN (4096) bytes: at position p the
 *     pattern sees the subject [p, min(span end, w)), where w is the last character boundary
 *     at or below p + 4096. A run longer than that (100 MB of one letter or one space) thus
 *     becomes 4096-byte pre-tokens. Because the window is placed relative to p, which depends
 *     only on the bytes before it, this is a function of the whole input alone: chunking never
 *     changes it, and the tokenizer holds at most ~4 KiB of unfinished input. Texts without
 *     4 KiB runs are tokenized exactly like the reference.
 *
 * Streaming. lac_tokenizer_feed buffers at most one unfinished pre-token (plus up to 3 bytes of
 * an incomplete UTF-8 sequence). A match found with PCRE2_PARTIAL_HARD that did not touch the
 * end of the buffered bytes is final (more input cannot change it); a partial match is held
 * back. Invalid-byte pieces are final once they reach 4096 bytes or a valid character follows.
 * A feed with final != 0 flushes everything and leaves the tokenizer as after
 * lac_tokenizer_reset; so does an error. Each feed call re-examines the held-back pre-token
 * (at most 4 KiB), so feeding a long run one byte at a time is slow (~0.1 MB/s): feed blocks.
 *
 * BPE. The merge of lowest rank is applied first, leftmost among equals, one at a time
 * (tiktoken's order; the same result as OpenAI's encoder.py for GPT-2's merges). Short
 * pre-tokens use a small array loop; long ones a binary heap over a linked list, so a 4 KiB
 * pre-token costs O(n log n). A direct-mapped cache maps short pre-tokens to their ids, and a
 * few recent long ones are kept too (a long run repeats the same 4096-byte pre-token).
 * The end-of-text token is never produced: it is excluded from the merge results and bytes.
 */
#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#include <stdlib.h>
#include <string.h>

#include "lac_error.h"
#include "model.h"
#include "tokenizer_internal.h"
#include "vocab.h"

#define TK_MAX_PRETOKEN LAC_TOKENIZER_MAX_PRETOKEN /* pattern window, invalid-run piece */
#define TK_SLICE 65536       /* input bytes appended to the buffer per processing round */
#define TK_SMALL_BPE 48      /* pre-tokens up to this many bytes use the array BPE */
#define TK_MAX_TOKEN 65536   /* longest vocab token accepted */

#define CACHE_BITS 15     /* most slots: 2 MiB */
#define CACHE_BITS_MIN 8  /* first slots: 16 KiB */
#define CACHE_KEY 26
#define CACHE_IDS 8
#define LONG_CACHE 4 /* pre-tokens longer than CACHE_KEY: a few recent ones (runs repeat) */

#define RANK_NONE UINT32_MAX

/* \s written as Unicode White_Space */
#define WS "\\t\\n\\x0B\\f\\r\\x{85}\\p{Z}"
static const char k_pattern[] = "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^" WS
                                "\\p{L}\\p{N}]+|[" WS "]+(?![^" WS "])|[" WS "]+";

typedef struct merge_slot {
    uint64_t key; /* (left << 32) | right */
    uint32_t rank;
    int32_t id; /* merged token */
} merge_slot;

typedef struct cache_slot {
    uint32_t hash;
    uint8_t klen; /* 0 = empty */
    uint8_t nids;
    uint8_t key[CACHE_KEY];
    int32_t ids[CACHE_IDS];
} cache_slot; /* one cache line */
_Static_assert(sizeof(cache_slot) == 64, "cache_slot is one 64-byte line");

/* What a tokenizer only reads, built once per vocabulary: the byte and merge tables and the
 * compiled pattern (PCRE2's JIT compilation maps executable memory: the dearest part of a
 * tokenizer's creation). A model keeps its own (lac_tokenizer_create), shared by all its
 * tokenizers, also across threads: nothing here is written after tables_new, and PCRE2 allows
 * one compiled pattern to be matched by several threads (each with its own match data). */
typedef struct tok_tables {
    lac_cache_free_fn release; /* first: lac_model_free_caches calls it (model.h) */
    lac_vocab v;
    int32_t eot;
    int32_t byte_id[256];
    merge_slot *mt;
    uint32_t mt_bits;
    pcre2_code *re;
    int jit;
} tok_tables;

struct lac_tokenizer {
    const tok_tables *t;
    tok_tables *own; /* t when the tokenizer owns it (lac_tokenizer_create_from_vocab), or NULL */
    pcre2_match_data *md;

    uint8_t *buf; /* unfinished input */
    size_t n, cap;
    size_t vend; /* buf[0, vend) is known to be complete valid UTF-8 characters */

    /* direct-mapped, 2^cache_bits slots: it starts small and doubles when half full (up to
     * 2^CACHE_BITS), so that a short text does not pay for clearing 2 MiB */
    cache_slot *cache;
    uint32_t cache_bits;
    size_t cache_used;
    struct {
        size_t klen, nids; /* klen 0 = empty */
        uint8_t *key;
        int32_t *ids;
    } lc[LONG_CACHE];
    unsigned lc_next;

    /* BPE scratch, TK_MAX_PRETOKEN entries each (heap: 3x) */
    int32_t *sid, *sprev, *snext;
    uint64_t *heap;
    int32_t *ids_tmp;
};

/* ---- UTF-8 ------------------------------------------------------------------------------ */

/* Length of the valid character at s (1..4), 0 if the avail bytes are a proper prefix of a
 * valid character (more input could complete it), -1 if s[0] starts no valid character. */
static int utf8_char(const uint8_t *s, size_t avail) {
    uint8_t c = s[0];
    if (c < 0x80) return 1;
    int len;
    uint8_t lo = 0x80, hi = 0xBF; /* allowed range of the second byte */
    if (c >= 0xC2 && c <= 0xDF) {
        len = 2;
    } else if (c >= 0xE0 && c <= 0xEF) {
        len = 3;
        if (c == 0xE0) lo = 0xA0;
        if (c == 0xED) hi = 0x9F;
    } else if (c >= 0xF0 && c <= 0xF4) {
        len = 4;
        if (c == 0xF0) lo = 0x90;
        if (c == 0xF4) hi = 0x8F;
    } else {
        return -1;
    }
    for (int i = 1; i < len; i++) {
        if ((size_t)i >= avail) return 0;
        uint8_t lo_i = i == 1 ? lo : 0x80, hi_i = i == 1 ? hi : 0xBF;
        if (s[i] < lo_i || s[i] > hi_i) return -1;
    }
    return len;
}

static int is_cont(uint8_t c) { return (c & 0xC0) == 0x80; }

/* ---- merge table ---------------------------------------------------------------------- */

static uint32_t hash64(uint64_t k, uint32_t bits) {
    return (uint32_t)((k * 0x9E3779B97F4A7C15ull) >> (64 - bits));
}

static inline const merge_slot *merge_find(const tok_tables *t, int32_t a, int32_t b) {
    uint64_t key = ((uint64_t)(uint32_t)a << 32) | (uint32_t)b;
    uint32_t mask = (1u << t->mt_bits) - 1;
    for (uint32_t i = hash64(key, t->mt_bits);; i = (i + 1) & mask) {
        const merge_slot *s = &t->mt[i];
        if (s->rank == RANK_NONE) return NULL;
        if (s->key == key) return s;
    }
}

static inline uint32_t pair_rank(const lac_tokenizer *tk, int32_t a, int32_t b, int32_t *id) {
    const merge_slot *s = merge_find(tk->t, a, b);
    if (!s) {
        *id = -1;
        return RANK_NONE;
    }
    *id = s->id;
    return s->rank;
}

static lac_status build_tables(tok_tables *t, lac_error *err) {
    const lac_vocab *v = &t->v;
    lac_status st = LAC_OK;
    uint8_t *cat = NULL;
    lac_vocab_map bm = {0};

    int map_failed = lac_vocab_map_init(&bm, v);
    cat = malloc(2 * TK_MAX_TOKEN);
    if (map_failed || !cat) {
        st = lac_fail(err, LAC_ERR_NOMEM, "tokenizer: out of memory");
        goto done;
    }
    for (int i = 0; i < 256; i++) t->byte_id[i] = -1;
    for (uint32_t id = 0; id < v->n_tokens; id++) {
        if ((int32_t)id == t->eot) continue;
        const uint8_t *p = v->tok_bytes + v->tok_off[id];
        size_t len = v->tok_off[id + 1] - v->tok_off[id];
        if (!len || lac_vocab_map_find(&bm, p, len) >= 0) continue; /* first id wins */
        lac_vocab_map_add(&bm, id);
        if (len == 1) t->byte_id[p[0]] = (int32_t)id;
    }
    for (int b = 0; b < 256; b++)
        if (t->byte_id[b] < 0) {
            st = lac_fail(err, LAC_ERR_FORMAT, "tokenizer: vocab has no token for byte 0x%02x", b);
            goto done;
        }

    t->mt_bits = 4;
    while ((1u << t->mt_bits) < 2u * v->n_merges + 16) t->mt_bits++;
    t->mt = malloc(((size_t)1 << t->mt_bits) * sizeof *t->mt);
    if (!t->mt) {
        st = lac_fail(err, LAC_ERR_NOMEM, "tokenizer: out of memory");
        goto done;
    }
    for (size_t i = 0; i < ((size_t)1 << t->mt_bits); i++) t->mt[i].rank = RANK_NONE;
    uint32_t mask = (1u << t->mt_bits) - 1;
    for (uint32_t r = 0; r < v->n_merges; r++) {
        uint32_t a = v->merges[2 * (size_t)r], b = v->merges[2 * (size_t)r + 1];
        if (a >= v->n_tokens || b >= v->n_tokens) {
            st = lac_fail(err, LAC_ERR_FORMAT, "tokenizer: merge %u names id %u beyond the vocab",
                          r, a >= v->n_tokens ? a : b);
            goto done;
        }
        size_t la = v->tok_off[a + 1] - v->tok_off[a], lb = v->tok_off[b + 1] - v->tok_off[b];
        memcpy(cat, v->tok_bytes + v->tok_off[a], la);
        memcpy(cat + la, v->tok_bytes + v->tok_off[b], lb);
        int64_t id = lac_vocab_map_find(&bm, cat, la + lb);
        if (id < 0) {
            st = lac_fail(err, LAC_ERR_FORMAT,
                          "tokenizer: merge %u (%u, %u) yields no token of the vocab", r, a, b);
            goto done;
        }
        uint64_t key = ((uint64_t)a << 32) | b;
        uint32_t i = hash64(key, t->mt_bits);
        while (t->mt[i].rank != RANK_NONE && t->mt[i].key != key) i = (i + 1) & mask;
        if (t->mt[i].rank != RANK_NONE) continue; /* a repeated pair keeps its lowest rank */
        t->mt[i].key = key;
        t->mt[i].rank = r;
        t->mt[i].id = (int32_t)id;
    }
done:
    lac_vocab_map_free(&bm);
    free(cat);
    return st;
}

static lac_status check_vocab(const lac_vocab *v, lac_error *err) {
    if (!v || !v->tok_off || !v->tok_bytes || (v->n_merges && !v->merges))
        return lac_fail(err, LAC_ERR_ARG, "tokenizer: vocab is missing its tables");
    if (v->n_tokens < 256 || v->n_tokens > (1u << 24))
        return lac_fail(err, LAC_ERR_FORMAT, "tokenizer: vocab has %u tokens (need 256..2^24)",
                        v->n_tokens);
    if (v->n_merges > (1u << 24))
        return lac_fail(err, LAC_ERR_FORMAT, "tokenizer: vocab has %u merges (max 2^24)",
                        v->n_merges);
    for (uint32_t i = 0; i < v->n_tokens; i++)
        if (v->tok_off[i + 1] < v->tok_off[i] || v->tok_off[i + 1] - v->tok_off[i] > TK_MAX_TOKEN)
            return lac_fail(err, LAC_ERR_FORMAT, "tokenizer: vocab token %u has a bad offset", i);
    return LAC_OK;
}

/* ---- create / free -------------------------------------------------------------------- */

static void tables_free(tok_tables *t) {
    if (!t) return;
    pcre2_code_free(t->re);
    free(t->mt);
    free(t);
}

static void tables_release(void *t) { tables_free(t); }

static lac_status tables_new(const lac_vocab *v, int64_t eot, tok_tables **out, lac_error *err) {
    *out = NULL;
    lac_status st = check_vocab(v, err);
    if (st != LAC_OK) return st;
    tok_tables *t = calloc(1, sizeof *t);
    if (!t) return lac_fail(err, LAC_ERR_NOMEM, "tokenizer: out of memory");
    t->release = tables_release;
    t->v = *v;
    t->eot = (eot >= 0 && eot < (int64_t)v->n_tokens) ? (int32_t)eot : -1;
    st = build_tables(t, err);
    if (st != LAC_OK) {
        tables_free(t);
        return st;
    }
    int ecode;
    PCRE2_SIZE eoff;
    t->re = pcre2_compile((PCRE2_SPTR)k_pattern, PCRE2_ZERO_TERMINATED,
                          PCRE2_UTF | PCRE2_UCP | PCRE2_ANCHORED, &ecode, &eoff, NULL);
    if (!t->re) {
        PCRE2_UCHAR msg[128];
        pcre2_get_error_message(ecode, msg, sizeof msg);
        tables_free(t);
        return lac_fail(err, LAC_ERR_UNSUPPORTED, "tokenizer: PCRE2 pattern error at %zu: %s",
                        (size_t)eoff, (const char *)msg);
    }
    /* JIT is a speed-up only; the interpreter gives the same matches. */
    t->jit = pcre2_jit_compile(t->re, PCRE2_JIT_COMPLETE | PCRE2_JIT_PARTIAL_HARD) == 0;
    *out = t;
    return LAC_OK;
}

/* The model's tables, built on its first tokenizer. Two threads may build them at once: the
 * first to publish wins and the other frees its copy (a compare-and-swap, no lock: a model
 * has no mutex, and building twice is harmless). The model is otherwise read-only; the
 * cache slot is the one field written after loading, and lac_model_close frees it. */
static lac_status model_tables(const lac_model *m, const tok_tables **out, lac_error *err) {
    void **slot = (void **)&((lac_model *)m)->tok_tables;
    tok_tables *t = __atomic_load_n(slot, __ATOMIC_ACQUIRE);
    if (!t) {
        lac_status st = tables_new(&m->vocab, m->cfg.eot_token, &t, err);
        if (st != LAC_OK) return st;
        void *seen = NULL;
        if (!__atomic_compare_exchange_n(slot, &seen, t, 0, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) {
            tables_free(t);
            t = seen;
        }
    }
    *out = t;
    return LAC_OK;
}

static cache_slot *cache_new(uint32_t bits) {
    const size_t bytes = ((size_t)1 << bits) * sizeof(cache_slot);
    cache_slot *c = aligned_alloc(64, bytes);
    if (c) memset(c, 0, bytes);
    return c;
}

/* The per-tokenizer state over tables t (owned: freed with the tokenizer). */
static lac_status tokenizer_new(const tok_tables *t, tok_tables *owned, lac_tokenizer **out,
                                lac_error *err) {
    lac_tokenizer *tk = calloc(1, sizeof *tk);
    if (!tk) {
        tables_free(owned);
        return lac_fail(err, LAC_ERR_NOMEM, "tokenizer: out of memory");
    }
    tk->t = t;
    tk->own = owned;
    tk->md = pcre2_match_data_create(1, NULL);
    tk->cap = TK_MAX_PRETOKEN + 16 + TK_SLICE;
    tk->buf = malloc(tk->cap);
    tk->cache_bits = CACHE_BITS_MIN;
    tk->cache = cache_new(tk->cache_bits);
    tk->sid = malloc(TK_MAX_PRETOKEN * sizeof *tk->sid);
    tk->sprev = malloc(TK_MAX_PRETOKEN * sizeof *tk->sprev);
    tk->snext = malloc(TK_MAX_PRETOKEN * sizeof *tk->snext);
    tk->ids_tmp = malloc(TK_MAX_PRETOKEN * sizeof *tk->ids_tmp);
    tk->heap = malloc(3 * TK_MAX_PRETOKEN * sizeof *tk->heap);
    int lc_ok = 1;
    for (int i = 0; i < LONG_CACHE; i++) {
        tk->lc[i].key = malloc(TK_MAX_PRETOKEN);
        tk->lc[i].ids = malloc(TK_MAX_PRETOKEN * sizeof *tk->lc[i].ids);
        lc_ok = lc_ok && tk->lc[i].key && tk->lc[i].ids;
    }
    if (!tk->md || !tk->buf || !tk->cache || !tk->sid || !tk->sprev || !tk->snext ||
        !tk->ids_tmp || !tk->heap || !lc_ok) {
        lac_tokenizer_free(tk);
        return lac_fail(err, LAC_ERR_NOMEM, "tokenizer: out of memory");
    }
    *out = tk;
    return LAC_OK;
}

lac_status lac_tokenizer_create_from_vocab(const lac_vocab *v, lac_tokenizer **out,
                                           lac_error *err) {
    lac_error_clear(err); /* lac.h: msg is "" when the result is LAC_OK */
    if (!out) return lac_fail(err, LAC_ERR_ARG, "tokenizer: no output pointer");
    *out = NULL;
    /* No config here: the end-of-text token is the one spelled "<|endoftext|>", if any. */
    int64_t eot = -1;
    static const char eot_text[] = "<|endoftext|>";
    if (v && v->tok_off && v->tok_bytes && v->n_tokens <= (1u << 24))
        for (uint32_t i = v->n_tokens; i-- > 0;) {
            if (v->tok_off[i + 1] < v->tok_off[i]) break; /* check_vocab reports it */
            if (v->tok_off[i + 1] - v->tok_off[i] == sizeof eot_text - 1 &&
                !memcmp(v->tok_bytes + v->tok_off[i], eot_text, sizeof eot_text - 1)) {
                eot = i;
                break;
            }
        }
    tok_tables *t = NULL;
    lac_status st = tables_new(v, eot, &t, err);
    if (st != LAC_OK) return st;
    return tokenizer_new(t, t, out, err);
}

lac_status lac_tokenizer_create(const lac_model *m, lac_tokenizer **out, lac_error *err) {
    lac_error_clear(err); /* lac.h: msg is "" when the result is LAC_OK */
    if (!out) return lac_fail(err, LAC_ERR_ARG, "tokenizer: no output pointer");
    *out = NULL;
    if (!m) return lac_fail(err, LAC_ERR_ARG, "tokenizer: no model");
    const tok_tables *t = NULL;
    lac_status st = model_tables(m, &t, err);
    if (st != LAC_OK) return st;
    return tokenizer_new(t, NULL, out, err);
}

void lac_tokenizer_free(lac_tokenizer *tk) {
    if (!tk) return;
    pcre2_match_data_free(tk->md);
    free(tk->buf);
    free(tk->cache);
    free(tk->sid);
    free(tk->sprev);
    free(tk->snext);
    free(tk->ids_tmp);
    free(tk->heap);
    for (int i = 0; i < LONG_CACHE; i++) {
        free(tk->lc[i].key);
        free(tk->lc[i].ids);
    }
    tables_free(tk->own);
    free(tk);
}

void lac_tokenizer_reset(lac_tokenizer *tk) {
    if (!tk) return;
    tk->n = 0;
    tk->vend = 0;
}

const uint8_t *lac_token_bytes(const lac_tokenizer *tk, int32_t id, size_t *len) {
    if (!tk || id < 0 || (uint32_t)id >= tk->t->v.n_tokens) {
        if (len) *len = 0;
        return NULL;
    }
    const lac_vocab *v = &tk->t->v;
    if (len) *len = v->tok_off[id + 1] - v->tok_off[id];
    return v->tok_bytes + v->tok_off[id];
}

void lac_tokens_free(lac_tokens *t) {
    if (!t) return;
    free(t->ids);
    t->ids = NULL;
    t->n = t->cap = 0;
}

static lac_status tokens_push(lac_tokens *t, const int32_t *ids, size_t k, lac_error *err) {
    if (t->n + k > t->cap) {
        size_t nc = t->cap ? t->cap : 256;
        while (nc < t->n + k) nc *= 2;
        int32_t *p = realloc(t->ids, nc * sizeof *p);
        if (!p) return lac_fail(err, LAC_ERR_NOMEM, "tokenizer: out of memory for %zu ids", nc);
        t->ids = p;
        t->cap = nc;
    }
    memcpy(t->ids + t->n, ids, k * sizeof *ids);
    t->n += k;
    return LAC_OK;
}

/* ---- BPE ------------------------------------------------------------------------------ */

/* Array BPE for short pre-tokens: O(n^2), tiny constants. */
static size_t bpe_small(const lac_tokenizer *tk, const uint8_t *s, size_t n, int32_t *ids,
                        uint32_t *rk, int32_t *mid) {
    for (size_t i = 0; i < n; i++) ids[i] = tk->t->byte_id[s[i]];
    for (size_t i = 0; i + 1 < n; i++) rk[i] = pair_rank(tk, ids[i], ids[i + 1], &mid[i]);
    size_t cnt = n;
    while (cnt > 1) {
        size_t best = 0;
        uint32_t br = rk[0];
        for (size_t i = 1; i + 1 < cnt; i++)
            if (rk[i] < br) {
                br = rk[i];
                best = i;
            }
        if (br == RANK_NONE) break;
        ids[best] = mid[best];
        size_t tail = cnt - best - 2; /* entries after best+1 */
        memmove(ids + best + 1, ids + best + 2, tail * sizeof *ids);
        memmove(rk + best + 1, rk + best + 2, tail * sizeof *rk);
        memmove(mid + best + 1, mid + best + 2, tail * sizeof *mid);
        cnt--;
        if (best > 0) rk[best - 1] = pair_rank(tk, ids[best - 1], ids[best], &mid[best - 1]);
        if (best + 1 < cnt) rk[best] = pair_rank(tk, ids[best], ids[best + 1], &mid[best]);
    }
    return cnt;
}

/* Min-heap of (rank << 32 | left position): lowest rank first, leftmost among equals. */
static void heap_sift_down(uint64_t *h, size_t n, size_t i) {
    uint64_t e = h[i];
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= n) break;
        if (c + 1 < n && h[c + 1] < h[c]) c++;
        if (e <= h[c]) break;
        h[i] = h[c];
        i = c;
    }
    h[i] = e;
}

static void heap_push(uint64_t *h, size_t *hn, uint64_t e) {
    size_t i = (*hn)++;
    while (i > 0) {
        size_t p = (i - 1) / 2;
        if (h[p] <= e) break;
        h[i] = h[p];
        i = p;
    }
    h[i] = e;
}

/* Rank of the pair starting at pos, or RANK_NONE. */
static uint32_t pair_at(const lac_tokenizer *tk, int32_t pos, int32_t *id) {
    int32_t nx = tk->snext[pos];
    if (nx < 0) return RANK_NONE;
    return pair_rank(tk, tk->sid[pos], tk->sid[nx], id);
}

/* Heap BPE over a linked list: O(n log n). Same merge order as bpe_small. An entry is stale
 * when its pair changed since the push: ranks are unique per pair, so comparing the rank of
 * the pair now at that position is enough. */
static size_t bpe_heap(lac_tokenizer *tk, const uint8_t *s, size_t n, int32_t *ids) {
    int32_t *sid = tk->sid, *prv = tk->sprev, *nxt = tk->snext;
    uint64_t *h = tk->heap;
    size_t hn = 0;
    int32_t id = -1;
    for (size_t i = 0; i < n; i++) {
        sid[i] = tk->t->byte_id[s[i]];
        prv[i] = (int32_t)i - 1;
        nxt[i] = i + 1 < n ? (int32_t)i + 1 : -1;
    }
    for (size_t i = 0; i + 1 < n; i++) {
        uint32_t r = pair_rank(tk, sid[i], sid[i + 1], &id);
        if (r != RANK_NONE) h[hn++] = ((uint64_t)r << 32) | i;
    }
    for (size_t i = hn / 2; i-- > 0;) heap_sift_down(h, hn, i);
    while (hn) {
        uint64_t e = h[0];
        h[0] = h[--hn];
        if (hn) heap_sift_down(h, hn, 0);
        int32_t pos = (int32_t)(uint32_t)e;
        if (sid[pos] < 0 || pair_at(tk, pos, &id) != (uint32_t)(e >> 32)) continue; /* stale */
        int32_t nx = nxt[pos];
        sid[pos] = id;
        sid[nx] = -1;
        nxt[pos] = nxt[nx];
        if (nxt[nx] >= 0) prv[nxt[nx]] = pos;
        uint32_t r;
        if (prv[pos] >= 0 && (r = pair_at(tk, prv[pos], &id)) != RANK_NONE)
            heap_push(h, &hn, ((uint64_t)r << 32) | (uint32_t)prv[pos]);
        if ((r = pair_at(tk, pos, &id)) != RANK_NONE)
            heap_push(h, &hn, ((uint64_t)r << 32) | (uint32_t)pos);
    }
    size_t k = 0;
    for (int32_t i = 0; i >= 0; i = nxt[i]) ids[k++] = sid[i];
    return k;
}

size_t lac_tokenizer_bpe(lac_tokenizer *tk, const uint8_t *s, size_t n, int force_heap,
                         int32_t *ids) {
    if (!n) return 0;
    if (n > TK_MAX_PRETOKEN) n = TK_MAX_PRETOKEN;
    if (n <= TK_SMALL_BPE && !force_heap) {
        uint32_t rk[TK_SMALL_BPE];
        int32_t mid[TK_SMALL_BPE];
        return bpe_small(tk, s, n, ids, rk, mid);
    }
    return bpe_heap(tk, s, n, ids);
}

static uint32_t cache_hash(const uint8_t *p, size_t n) {
    uint64_t h = 0x243F6A8885A308D3ull ^ n;
    while (n >= 8) {
        uint64_t w;
        memcpy(&w, p, 8);
        h = (h ^ w) * 0xFF51AFD7ED558CCDull;
        h ^= h >> 29;
        p += 8;
        n -= 8;
    }
    uint64_t w = 0;
    memcpy(&w, p, n);
    h = (h ^ w) * 0xC4CEB9FE1A85EC53ull;
    h ^= h >> 32;
    return (uint32_t)h;
}

/* Doubles the short pre-token cache, keeping what it holds (a slot's index is the top bits of
 * its hash). Returns 1 when it grew; 0 at the largest size or when out of memory, which only
 * costs speed: the cache never changes an id. */
static int cache_grow(lac_tokenizer *tk) {
    if (tk->cache_bits >= CACHE_BITS) return 0;
    const uint32_t bits = tk->cache_bits + 1;
    cache_slot *c = cache_new(bits);
    if (!c) return 0;
    size_t used = 0;
    for (size_t i = 0; i < ((size_t)1 << tk->cache_bits); i++) {
        const cache_slot *o = &tk->cache[i];
        if (!o->klen) continue;
        c[o->hash >> (32 - bits)] = *o; /* two old slots never meet: one more bit tells them apart */
        used++;
    }
    free(tk->cache);
    tk->cache = c;
    tk->cache_bits = bits;
    tk->cache_used = used;
    return 1;
}

/* BPE-merges one pre-token and appends its ids. */
static lac_status emit(lac_tokenizer *tk, const uint8_t *s, size_t n, lac_tokens *out,
                       lac_error *err) {
    cache_slot *slot = NULL;
    uint32_t h = 0;
    if (n <= CACHE_KEY) {
        h = cache_hash(s, n);
        slot = &tk->cache[h >> (32 - tk->cache_bits)];
        if (slot->klen == n && slot->hash == h && !memcmp(slot->key, s, n))
            return tokens_push(out, slot->ids, slot->nids, err);
    } else {
        for (int i = 0; i < LONG_CACHE; i++)
            if (tk->lc[i].klen == n && !memcmp(tk->lc[i].key, s, n))
                return tokens_push(out, tk->lc[i].ids, tk->lc[i].nids, err);
    }
    size_t k = lac_tokenizer_bpe(tk, s, n, 0, tk->ids_tmp);
    if (!slot && n <= TK_MAX_PRETOKEN) {
        unsigned i = tk->lc_next++ % LONG_CACHE;
        tk->lc[i].klen = n;
        tk->lc[i].nids = k;
        memcpy(tk->lc[i].key, s, n);
        memcpy(tk->lc[i].ids, tk->ids_tmp, k * sizeof *tk->ids_tmp);
    }
    if (slot && k <= CACHE_IDS) {
        if (!slot->klen) { /* a new entry: past half full, the cache doubles first */
            if ((tk->cache_used + 1) * 2 > ((size_t)1 << tk->cache_bits) && cache_grow(tk))
                slot = &tk->cache[h >> (32 - tk->cache_bits)];
            if (!slot->klen) tk->cache_used++;
        }
        slot->hash = h;
        slot->klen = (uint8_t)n;
        slot->nids = (uint8_t)k;
        memcpy(slot->key, s, n);
        memcpy(slot->ids, tk->ids_tmp, k * sizeof *tk->ids_tmp);
    }
    return tokens_push(out, tk->ids_tmp, k, err);
}

/* ---- pre-tokenization ------------------------------------------------------------------ */

/* Emits every finished pre-token of buf; keeps the unfinished tail. */
static lac_status process(lac_tokenizer *tk, int final, lac_tokens *out, lac_error *err) {
    uint8_t *buf = tk->buf;
    size_t n = tk->n, p = 0, vend = tk->vend;
    lac_status st = LAC_OK;
    while (p < n) {
        if (vend < p) vend = p;
        size_t lim = p + TK_MAX_PRETOKEN;
        while (vend < n && vend < lim) {
            int k = utf8_char(buf + vend, n - vend);
            if (k <= 0) break;
            vend += (size_t)k;
        }
        size_t len;
        if (vend > p) {
            /* a valid span starts at p: the subject is [p, send) */
            size_t send;
            int partial = 0;
            if (vend >= lim) {
                send = lim;
                if (send < vend)
                    while (is_cont(buf[send])) send--;
            } else if (vend == n) {
                send = n;
                partial = !final;
            } else {
                send = vend;
                partial = !final && utf8_char(buf + vend, n - vend) == 0;
            }
            uint32_t opts = PCRE2_NO_UTF_CHECK | (partial ? PCRE2_PARTIAL_HARD : 0);
            const tok_tables *t = tk->t;
            int rc = t->jit ? pcre2_jit_match(t->re, buf + p, send - p, 0, opts, tk->md, NULL)
                            : pcre2_match(t->re, buf + p, send - p, 0, opts, tk->md, NULL);
            if (rc == PCRE2_ERROR_PARTIAL) break;
            if (rc >= 0) {
                len = (size_t)pcre2_get_ovector_pointer(tk->md)[1];
            } else if (rc == PCRE2_ERROR_NOMATCH) {
                len = 0;
            } else {
                PCRE2_UCHAR msg[128];
                pcre2_get_error_message(rc, msg, sizeof msg);
                st = lac_fail(err, LAC_ERR_LIMIT, "tokenizer: PCRE2 match failed: %s",
                              (const char *)msg);
                break;
            }
            if (len == 0 || len > send - p) { /* cannot happen with this pattern */
                int k = utf8_char(buf + p, send - p);
                len = k > 0 ? (size_t)k : 1;
            }
        } else {
            /* invalid bytes (or an incomplete character at the end) start at p */
            size_t q = p;
            int run_end_known = 0;
            while (q < n && q - p < TK_MAX_PRETOKEN) {
                int k = utf8_char(buf + q, n - q);
                if (k > 0) {
                    run_end_known = 1;
                    break;
                }
                if (k == 0 && !final) break; /* the next bytes decide */
                q++;
            }
            if (q - p == TK_MAX_PRETOKEN || (q == n && final)) run_end_known = 1;
            if (!run_end_known || q == p) break;
            len = q - p;
        }
        st = emit(tk, buf + p, len, out, err);
        if (st != LAC_OK) break;
        p += len;
    }
    if (st != LAC_OK) {
        lac_tokenizer_reset(tk);
        return st;
    }
    memmove(buf, buf + p, n - p);
    tk->n = n - p;
    tk->vend = vend > p ? vend - p : 0;
    return LAC_OK;
}

lac_status lac_tokenizer_feed(lac_tokenizer *tk, const void *data, size_t n, int final,
                              lac_tokens *out, lac_error *err) {
    lac_error_clear(err); /* lac.h: msg is "" when the result is LAC_OK */
    if (!tk || !out || (n && !data))
        return lac_fail(err, LAC_ERR_ARG, "tokenizer: feed called with a NULL argument");
    const uint8_t *src = data;
    do {
        size_t take = tk->cap - tk->n;
        if (take > n) take = n;
        if (take) { /* no arithmetic on src when it is NULL (n == 0) */
            memcpy(tk->buf + tk->n, src, take);
            tk->n += take;
            src += take;
            n -= take;
        }
        lac_status st = process(tk, final && n == 0, out, err);
        if (st != LAC_OK) return st;
    } while (n);
    if (final && tk->n) { /* never: a final pass consumes everything; but never lose bytes */
        size_t left = tk->n;
        lac_tokenizer_reset(tk);
        return lac_fail(err, LAC_ERR_FORMAT, "tokenizer: %zu bytes left untokenized at the end",
                        left);
    }
    return LAC_OK;
}
