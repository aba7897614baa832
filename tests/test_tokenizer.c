/* GPT-2 tokenizer: golden ids, losslessness, streaming invariance, the length cap, errors.
 * The tokenizer is built from the Hugging Face files in $LAC_SHARED/tokenizer/gpt2. */
#include <criterion/criterion.h>
#include <dirent.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lac.h"
#include "model.h"
#include "tokenizer_internal.h"
#include "vocab.h"

#define EOT 50256
#define MAXPT LAC_TOKENIZER_MAX_PRETOKEN

static lac_vocab_owned g_vocab;
static lac_tokenizer *g_tk;

static const char *shared_dir(void) {
    static char buf[4096];
    const char *s = getenv("LAC_SHARED");
    if (s && *s) return s;
    const char *src = getenv("LAC_SOURCE_DIR");
    snprintf(buf, sizeof buf, "%s/../shared", src && *src ? src : ".");
    return buf;
}

static char *path_in(const char *rel) {
    static char buf[8][8192];
    static int k;
    char *b = buf[k++ & 7];
    int w = snprintf(b, 8192, "%.4000s/%.4000s", shared_dir(), rel);
    cr_assert(w > 0 && w < 8192);
    return b;
}

static uint8_t *read_all(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    cr_assert_not_null(f, "cannot open %s", path);
    fseek(f, 0, SEEK_END);
    long sz = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *b = malloc((size_t)sz + 1);
    cr_assert_not_null(b);
    cr_assert_eq(fread(b, 1, (size_t)sz, f), (size_t)sz);
    fclose(f);
    *len = (size_t)sz;
    return b;
}

static void setup(void) {
    lac_error err = {0};
    lac_status st = lac_vocab_load_hf(path_in("tokenizer/gpt2/vocab.json"),
                                      path_in("tokenizer/gpt2/merges.txt"), &g_vocab, &err);
    cr_assert_eq(st, LAC_OK, "vocab: %s", err.msg);
    st = lac_tokenizer_create_from_vocab(&g_vocab.v, &g_tk, &err);
    cr_assert_eq(st, LAC_OK, "tokenizer: %s", err.msg);
}

static void teardown(void) {
    lac_tokenizer_free(g_tk);
    g_tk = NULL;
    lac_vocab_owned_free(&g_vocab);
}

TestSuite(tokenizer, .init = setup, .fini = teardown);

/* ---- helpers --------------------------------------------------------------------------- */

static uint64_t rng_state = 0x9E3779B97F4A7C15ull;
static uint64_t rnd(void) { /* splitmix64 */
    uint64_t z = (rng_state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

/* chunk: 0 = one feed; > 0 = fixed chunk size; < 0 = random sizes in 1..-chunk */
static lac_tokens tokenize(const uint8_t *s, size_t n, long chunk) {
    lac_tokens t = {0};
    lac_error err = {0};
    lac_tokenizer_reset(g_tk);
    size_t off = 0;
    while (chunk != 0 && off < n) {
        size_t c = chunk > 0 ? (size_t)chunk : 1 + (size_t)(rnd() % (uint64_t)(-chunk));
        if (c > n - off) c = n - off;
        cr_assert_eq(lac_tokenizer_feed(g_tk, s + off, c, 0, &t, &err), LAC_OK, "%s", err.msg);
        off += c;
    }
    cr_assert_eq(lac_tokenizer_feed(g_tk, s + off, n - off, 1, &t, &err), LAC_OK, "%s", err.msg);
    return t;
}

static void check_roundtrip(const uint8_t *s, size_t n, const lac_tokens *t, const char *what) {
    size_t off = 0;
    for (size_t i = 0; i < t->n; i++) {
        cr_assert_neq(t->ids[i], EOT, "%s: produced the end-of-text id", what);
        size_t len;
        const uint8_t *b = lac_token_bytes(g_tk, t->ids[i], &len);
        cr_assert_not_null(b, "%s: id %d has no bytes", what, t->ids[i]);
        cr_assert(off + len <= n && !memcmp(s + off, b, len),
                  "%s: token %zu (id %d) does not match the input at byte %zu", what, i,
                  t->ids[i], off);
        off += len;
    }
    cr_assert_eq(off, n, "%s: decoded %zu of %zu bytes", what, off, n);
}

static void check_same(const lac_tokens *a, const lac_tokens *b, const char *what) {
    size_t k = 0;
    while (k < a->n && k < b->n && a->ids[k] == b->ids[k]) k++;
    cr_assert(k == a->n && k == b->n, "%s: ids differ at %zu (%zu vs %zu ids)", what, k, a->n,
              b->n);
}

/* whole == every chunking, and lossless */
static void check_all(const uint8_t *s, size_t n, const char *what) {
    lac_tokens whole = tokenize(s, n, 0);
    check_roundtrip(s, n, &whole, what);
    static const long chunks[] = {1, 2, 3, 7, 4093, 4099, -5, -300, -9000};
    for (size_t c = 0; c < sizeof chunks / sizeof chunks[0]; c++) {
        if (chunks[c] > 0 && n / (size_t)chunks[c] > 200000) continue; /* keep CI fast */
        if (chunks[c] < 0 && n / (size_t)(-chunks[c]) > 200000) continue;
        lac_tokens t = tokenize(s, n, chunks[c]);
        char w[256];
        snprintf(w, sizeof w, "%s (chunks %ld)", what, chunks[c]);
        check_same(&whole, &t, w);
        lac_tokens_free(&t);
    }
    lac_tokens_free(&whole);
}

static int32_t *read_ids(const char *path, size_t *count) {
    size_t len;
    char *txt = (char *)read_all(path, &len);
    txt[len] = '\0';
    size_t cap = 1024, n = 0;
    int32_t *ids = malloc(cap * sizeof *ids);
    char *p = txt, *end;
    for (;;) {
        long v = strtol(p, &end, 10);
        if (end == p) break;
        if (n == cap) ids = realloc(ids, (cap *= 2) * sizeof *ids);
        ids[n++] = (int32_t)v;
        p = end;
    }
    free(txt);
    *count = n;
    return ids;
}

/* ---- golden ids -------------------------------------------------------------------------- */

static void check_golden(const char *text_rel, const char *ids_rel) {
    size_t n, nids;
    uint8_t *s = read_all(path_in(text_rel), &n);
    int32_t *gold = read_ids(path_in(ids_rel), &nids);
    cr_assert_gt(nids, 0, "%s: empty golden file", ids_rel);
    lac_tokens t = tokenize(s, n, 0);
    size_t k = 0;
    while (k < t.n && k < nids && t.ids[k] == gold[k]) k++;
    cr_assert(k == t.n && k == nids, "%s: id %zu is %d, golden %d (%zu vs %zu ids)", text_rel, k,
              k < t.n ? t.ids[k] : -1, k < nids ? gold[k] : -1, t.n, nids);
    /* the same ids when streamed in random chunks */
    lac_tokens c = tokenize(s, n, -700);
    check_same(&t, &c, text_rel);
    check_roundtrip(s, n, &t, text_rel);
    lac_tokens_free(&c);
    lac_tokens_free(&t);
    free(gold);
    free(s);
}

/* Every FILE.ids of tokenizer/golden: FILE lies next to it (tricky.txt) or in the Canterbury
 * corpus (README.txt there). */
Test(tokenizer, golden_every_file) {
    DIR *d = opendir(path_in("tokenizer/golden"));
    cr_assert_not_null(d, "cannot list %s", path_in("tokenizer/golden"));
    int count = 0, tricky = 0;
    for (struct dirent *e; (e = readdir(d));) {
        size_t len = strlen(e->d_name);
        if (len < 5 || strcmp(e->d_name + len - 4, ".ids")) continue;
        char name[256], text[512], ids[512], probe[512];
        cr_assert_lt(len, sizeof name);
        memcpy(name, e->d_name, len - 4);
        name[len - 4] = '\0';
        snprintf(probe, sizeof probe, "tokenizer/golden/%s", name);
        FILE *f = fopen(path_in(probe), "rb");
        if (f) fclose(f);
        snprintf(text, sizeof text, "%s/%s", f ? "tokenizer/golden" : "corpus/canterbury", name);
        snprintf(ids, sizeof ids, "tokenizer/golden/%s", e->d_name);
        check_golden(text, ids);
        count++;
        tricky += !strcmp(name, "tricky.txt");
    }
    closedir(d);
    cr_assert_geq(count, 8, "only %d golden files found", count);
    cr_assert(tricky, "tricky.txt.ids was not checked");
}

Test(tokenizer, tricky_chunked_every_way) {
    size_t n;
    uint8_t *s = read_all(path_in("tokenizer/golden/tricky.txt"), &n);
    check_all(s, n, "tricky.txt");
    free(s);
}

Test(tokenizer, endoftext_is_plain_text) {
    const char *s = "<|endoftext|>";
    lac_tokens t = tokenize((const uint8_t *)s, strlen(s), 0);
    static const int32_t want[] = {27, 91, 437, 1659, 5239, 91, 29}; /* < | end of text | > */
    cr_assert_eq(t.n, 7);
    for (size_t i = 0; i < 7; i++) cr_assert_eq(t.ids[i], want[i], "id %zu", i);
    check_roundtrip((const uint8_t *)s, strlen(s), &t, "<|endoftext|>");
    lac_tokens_free(&t);
    size_t len;
    const uint8_t *b = lac_token_bytes(g_tk, EOT, &len);
    cr_assert(b && len == 13 && !memcmp(b, s, 13), "id 50256 spells <|endoftext|>");
}

Test(tokenizer, empty_input) {
    lac_tokens t = {0};
    lac_error err = {0};
    cr_assert_eq(lac_tokenizer_feed(g_tk, NULL, 0, 0, &t, &err), LAC_OK);
    cr_assert_eq(lac_tokenizer_feed(g_tk, "", 0, 0, &t, &err), LAC_OK);
    cr_assert_eq(lac_tokenizer_feed(g_tk, NULL, 0, 1, &t, &err), LAC_OK);
    cr_assert_eq(t.n, 0);
    lac_tokens_free(&t);
}

Test(tokenizer, holds_back_only_the_growing_pretoken) {
    lac_tokens t = {0};
    lac_error err = {0};
    cr_assert_eq(lac_tokenizer_feed(g_tk, "Hello world", 11, 0, &t, &err), LAC_OK);
    cr_assert_eq(t.n, 1, "'Hello' is final, ' world' could grow");
    cr_assert_eq(t.ids[0], 15496);
    cr_assert_eq(lac_tokenizer_feed(g_tk, "s", 1, 0, &t, &err), LAC_OK);
    cr_assert_eq(t.n, 1);
    cr_assert_eq(lac_tokenizer_feed(g_tk, "!\xE2\x82", 3, 0, &t, &err), LAC_OK);
    cr_assert_eq(t.n, 2, "' worlds' is final once '!' arrives");
    /* "€" arrives in two pieces: '!' + incomplete char is held */
    cr_assert_eq(lac_tokenizer_feed(g_tk, "\xAC", 1, 1, &t, &err), LAC_OK);
    lac_tokens w = tokenize((const uint8_t *)"Hello worlds!\xE2\x82\xAC", 16, 0);
    check_same(&w, &t, "Hello worlds!€");
    lac_tokens_free(&w);
    lac_tokens_free(&t);
}

/* ---- losslessness ------------------------------------------------------------------------ */

Test(tokenizer, canterbury_roundtrip) {
    static const char *files[] = {"alice29.txt", "asyoulik.txt", "cp.html", "fields.c",
                                  "grammar.lsp", "kennedy.xls",  "lcet10.txt", "plrabn12.txt",
                                  "ptt5",        "sum",          "xargs.1"};
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        char rel[256];
        snprintf(rel, sizeof rel, "corpus/canterbury/%s", files[i]);
        size_t n;
        uint8_t *s = read_all(path_in(rel), &n);
        lac_tokens t = tokenize(s, n, 0);
        check_roundtrip(s, n, &t, rel);
        lac_tokens c = tokenize(s, n, -20000);
        check_same(&t, &c, rel);
        lac_tokens_free(&c);
        lac_tokens_free(&t);
        free(s);
    }
}

Test(tokenizer, binaries_chunked_every_way) {
    static const char *files[] = {"cp.html", "sum"};
    for (size_t i = 0; i < 2; i++) {
        char rel[256];
        snprintf(rel, sizeof rel, "corpus/canterbury/%s", files[i]);
        size_t n;
        uint8_t *s = read_all(path_in(rel), &n);
        check_all(s, n, rel);
        free(s);
    }
    /* a slice of kennedy.xls and of ptt5 (many NULs, runs of 0xFF) */
    static const char *big[] = {"kennedy.xls", "ptt5"};
    for (size_t i = 0; i < 2; i++) {
        char rel[256];
        snprintf(rel, sizeof rel, "corpus/canterbury/%s", big[i]);
        size_t n;
        uint8_t *s = read_all(path_in(rel), &n);
        check_all(s, n < 60000 ? n : 60000, rel);
        free(s);
    }
}

/* Appends one random piece of a "nasty" text to s. */
static size_t gen_piece(uint8_t *s) {
    static const char *words[] = {"'s", "'t", "'re", "'ve", "'m", "'ll", "'d", "'", "''",
                                  "don't", "IT'S", "<|endoftext|>", "hello", " world", "123",
                                  "4.5", "\r\n", "\t", "...", "!!", "e\xCC\x81", "\xE2\x80\x8D",
                                  "\xF0\x9F\x98\x80", "\xC2\x85", "\xC2\xA0", "\xE3\x80\x80",
                                  "\xE2\x80\xA8", "\xD9\xA3", "\xE2\x85\xB7", "\xE4\xBD\xA0"};
    static const uint8_t bad[][4] = {{1, 0x80},       {1, 0xBF},       {2, 0xC0, 0x80},
                                     {2, 0xC1, 0xBF}, {3, 0xE0, 0x80, 0x80},
                                     {3, 0xED, 0xA0, 0x80}, {1, 0xF5},  {1, 0xFF},
                                     {2, 0xE2, 0x82}, {3, 0xF0, 0x9F, 0x98}, {1, 0xFE},
                                     {3, 0xF4, 0x90, 0x80}, {1, 0x00}};
    switch (rnd() % 8) {
    case 0: { /* whitespace run */
        size_t k = 1 + rnd() % 12;
        static const char ws[] = {' ', ' ', ' ', '\n', '\t', '\r', '\v', '\f'};
        for (size_t i = 0; i < k; i++) s[i] = (uint8_t)ws[rnd() % sizeof ws];
        return k;
    }
    case 1:
    case 2: {
        const char *w = words[rnd() % (sizeof words / sizeof words[0])];
        size_t k = strlen(w);
        if (!strcmp(w, "\xC2\x85") || k == 0) k = 2;
        memcpy(s, w, k);
        return k;
    }
    case 3: {
        const uint8_t *b = bad[rnd() % (sizeof bad / sizeof bad[0])];
        memcpy(s, b + 1, b[0]);
        return b[0];
    }
    case 4: { /* random byte */
        s[0] = (uint8_t)rnd();
        return 1;
    }
    case 5: { /* random valid code point */
        uint32_t cp;
        do cp = (uint32_t)(rnd() % 0x110000); while (cp >= 0xD800 && cp < 0xE000);
        if (cp < 0x80) { s[0] = (uint8_t)cp; return 1; }
        if (cp < 0x800) { s[0] = (uint8_t)(0xC0 | cp >> 6); s[1] = (uint8_t)(0x80 | (cp & 63)); return 2; }
        if (cp < 0x10000) {
            s[0] = (uint8_t)(0xE0 | cp >> 12); s[1] = (uint8_t)(0x80 | (cp >> 6 & 63));
            s[2] = (uint8_t)(0x80 | (cp & 63)); return 3;
        }
        s[0] = (uint8_t)(0xF0 | cp >> 18); s[1] = (uint8_t)(0x80 | (cp >> 12 & 63));
        s[2] = (uint8_t)(0x80 | (cp >> 6 & 63)); s[3] = (uint8_t)(0x80 | (cp & 63));
        return 4;
    }
    default: { /* ASCII letters/digits/punctuation */
        size_t k = 1 + rnd() % 8;
        for (size_t i = 0; i < k; i++) s[i] = (uint8_t)(' ' + rnd() % 95);
        return k;
    }
    }
}

Test(tokenizer, random_strings_roundtrip_and_chunking) {
    uint8_t *s = malloc(1 << 16);
    for (int iter = 0; iter < 300; iter++) {
        size_t target = 1 + rnd() % (iter < 250 ? 200 : 12000), n = 0;
        if (iter % 3 == 0) {
            while (n < target) s[n++] = (uint8_t)rnd(); /* pure random bytes */
        } else {
            while (n < target) n += gen_piece(s + n);
        }
        char what[64];
        snprintf(what, sizeof what, "random string %d (%zu bytes)", iter, n);
        lac_tokens whole = tokenize(s, n, 0);
        check_roundtrip(s, n, &whole, what);
        lac_tokens a = tokenize(s, n, 1);
        check_same(&whole, &a, what);
        lac_tokens b = tokenize(s, n, -(long)(1 + rnd() % 64));
        check_same(&whole, &b, what);
        lac_tokens_free(&a);
        lac_tokens_free(&b);
        lac_tokens_free(&whole);
    }
    free(s);
}

/* Invalid bytes split the text: the pattern never sees across them. */
Test(tokenizer, invalid_bytes_are_boundaries) {
    static const char *parts[] = {"Hello  ", "\xFF\xC0", " world's", "\x80", "123\n\n",
                                  "\xED\xA0\x80", "'re"};
    uint8_t s[64];
    size_t n = 0, ncat = 0;
    int32_t cat[64];
    for (size_t i = 0; i < sizeof parts / sizeof parts[0]; i++) {
        size_t k = strlen(parts[i]);
        memcpy(s + n, parts[i], k);
        n += k;
        lac_tokens t = tokenize((const uint8_t *)parts[i], k, 0);
        cr_assert_leq(ncat + t.n, 64);
        memcpy(cat + ncat, t.ids, t.n * sizeof *cat);
        ncat += t.n;
        lac_tokens_free(&t);
    }
    lac_tokens whole = tokenize(s, n, 0);
    lac_tokens pieces = {.ids = cat, .n = ncat, .cap = 64};
    check_same(&pieces, &whole, "text split by invalid bytes");
    lac_tokens_free(&whole);
}

/* ---- long runs and the pre-token cap -------------------------------------------------- */

static void concat_check(const uint8_t *s, size_t n, size_t cut, const char *what) {
    lac_tokens whole = tokenize(s, n, 0), a = tokenize(s, cut, 0), b = tokenize(s + cut, n - cut, 0);
    cr_assert_eq(whole.n, a.n + b.n, "%s: %zu ids, pieces give %zu + %zu", what, whole.n, a.n,
                 b.n);
    for (size_t i = 0; i < whole.n; i++)
        cr_assert_eq(whole.ids[i], i < a.n ? a.ids[i] : b.ids[i - a.n], "%s: id %zu", what, i);
    lac_tokens_free(&whole);
    lac_tokens_free(&a);
    lac_tokens_free(&b);
}

Test(tokenizer, pretoken_cap_is_documented_rule) {
    uint8_t *s = malloc(3 * MAXPT);
    size_t n = MAXPT + 904;
    memset(s, 'a', n);
    concat_check(s, n, MAXPT, "letters");
    memset(s, 0xFF, n);
    concat_check(s, n, MAXPT, "invalid bytes");
    memset(s, ' ', n);
    s[n - 1] = 'x';
    concat_check(s, n, MAXPT, "spaces"); /* the window ends inside the run of spaces */
    /* 'x' then 2-byte letters: byte MAXPT is a continuation byte, so the window ends at
     * MAXPT - 1 */
    s[0] = 'x';
    for (size_t i = 1; i + 1 < 2 * MAXPT; i += 2) s[i] = 0xC3, s[i + 1] = 0xA9;
    concat_check(s, 2 * MAXPT - 1, MAXPT - 1, "two-byte letters");
    free(s);
}

/* CPU time: steady on a loaded CI machine */
static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

Test(tokenizer, long_runs_fast_and_lossless) {
    size_t n = 1 << 20;
    uint8_t *s = malloc(n);
    static const uint8_t fill[] = {'a', ' ', '\n', 0xFF, '7', '-'};
    for (size_t f = 0; f < sizeof fill; f++) {
        memset(s, fill[f], n);
        double t0 = now();
        lac_tokens t = tokenize(s, n, 0);
        double dt = now() - t0;
        cr_assert_lt(dt, 5.0, "1 MB of 0x%02x took %.2f s", fill[f], dt);
        char what[64];
        snprintf(what, sizeof what, "1 MB of 0x%02x", fill[f]);
        check_roundtrip(s, n, &t, what);
        lac_tokens c = tokenize(s, n, -100000);
        check_same(&t, &c, what);
        lac_tokens_free(&c);
        lac_tokens_free(&t);
    }
    /* 1 MB of random letters: 4096-byte pre-tokens that are all different (no cache help);
     * the heap BPE does this in well under a second */
    for (size_t i = 0; i < n; i++) s[i] = (uint8_t)('a' + rnd() % 26);
    double t0 = now();
    lac_tokens r = tokenize(s, n, 0);
    double dt = now() - t0;
    cr_assert_lt(dt, 10.0, "1 MB of random letters took %.2f s", dt);
    check_roundtrip(s, n, &r, "1 MB of random letters");
    lac_tokens_free(&r);
    /* 1 MB of 'é' */
    for (size_t i = 0; i < n; i += 2) s[i] = 0xC3, s[i + 1] = 0xA9;
    lac_tokens t = tokenize(s, n, 0);
    check_roundtrip(s, n, &t, "1 MB of e-acute");
    lac_tokens c = tokenize(s, n, -3001);
    check_same(&t, &c, "1 MB of e-acute");
    lac_tokens_free(&c);
    lac_tokens_free(&t);
    free(s);
}

/* ---- BPE --------------------------------------------------------------------------------- */

/* OpenAI encoder.py's bpe(), over token ids: repeatedly take the pair of lowest rank and merge
 * all its occurrences left to right. Independent of the tokenizer's tables. */
typedef struct {
    int32_t a, b, id;
    uint32_t rank;
} ref_merge;
static ref_merge *g_ref;
static size_t g_nref;

static int ref_cmp(const void *x, const void *y) {
    const ref_merge *p = x, *q = y;
    if (p->a != q->a) return p->a < q->a ? -1 : 1;
    if (p->b != q->b) return p->b < q->b ? -1 : 1;
    return p->rank < q->rank ? -1 : p->rank > q->rank;
}

static ref_merge *ref_find(int32_t a, int32_t b) {
    size_t lo = 0, hi = g_nref;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (g_ref[mid].a < a || (g_ref[mid].a == a && g_ref[mid].b < b)) lo = mid + 1;
        else hi = mid;
    }
    return lo < g_nref && g_ref[lo].a == a && g_ref[lo].b == b ? &g_ref[lo] : NULL;
}

static int32_t id_of_bytes(const uint8_t *p, size_t n) {
    const lac_vocab *v = &g_vocab.v;
    for (uint32_t i = 0; i < v->n_tokens; i++)
        if (v->tok_off[i + 1] - v->tok_off[i] == n && !memcmp(v->tok_bytes + v->tok_off[i], p, n))
            return (int32_t)i;
    return -1;
}

static void ref_build(void) {
    const lac_vocab *v = &g_vocab.v;
    g_nref = v->n_merges;
    g_ref = malloc(g_nref * sizeof *g_ref);
    for (uint32_t r = 0; r < v->n_merges; r++)
        g_ref[r] = (ref_merge){(int32_t)v->merges[2 * r], (int32_t)v->merges[2 * r + 1], -1, r};
    qsort(g_ref, g_nref, sizeof *g_ref, ref_cmp);
}

static size_t ref_bpe(const uint8_t *s, size_t n, int32_t *w) {
    for (size_t i = 0; i < n; i++) w[i] = id_of_bytes(s + i, 1);
    size_t cnt = n;
    for (;;) {
        ref_merge *best = NULL;
        for (size_t i = 0; i + 1 < cnt; i++) {
            ref_merge *m = ref_find(w[i], w[i + 1]);
            if (m && (!best || m->rank < best->rank)) best = m;
        }
        if (!best) break;
        int32_t id = best->id;
        if (id < 0) {
            const lac_vocab *v = &g_vocab.v;
            uint8_t cat[2048];
            size_t la = v->tok_off[best->a + 1] - v->tok_off[best->a];
            size_t lb = v->tok_off[best->b + 1] - v->tok_off[best->b];
            memcpy(cat, v->tok_bytes + v->tok_off[best->a], la);
            memcpy(cat + la, v->tok_bytes + v->tok_off[best->b], lb);
            id = best->id = id_of_bytes(cat, la + lb);
        }
        size_t k = 0;
        for (size_t i = 0; i < cnt;) {
            if (i + 1 < cnt && w[i] == best->a && w[i + 1] == best->b) {
                w[k++] = id;
                i += 2;
            } else {
                w[k++] = w[i++];
            }
        }
        cnt = k;
    }
    return cnt;
}

Test(tokenizer, bpe_matches_reference_algorithm) {
    ref_build();
    static int32_t a[MAXPT], b[MAXPT], c[MAXPT];
    uint8_t s[600];
    static const char *alpha[] = {"abcdefghijklmnopqrstuvwxyz", " eatonish", "0123456789",
                                  "-=*#. !", " \n\t"};
    for (int iter = 0; iter < 200; iter++) {
        size_t n = 1 + rnd() % (iter < 150 ? 40 : 590);
        const char *al = alpha[rnd() % 5];
        size_t m = strlen(al);
        for (size_t i = 0; i < n; i++) s[i] = iter % 7 == 0 ? (uint8_t)rnd() : (uint8_t)al[rnd() % m];
        size_t na = lac_tokenizer_bpe(g_tk, s, n, 0, a);
        size_t nb = lac_tokenizer_bpe(g_tk, s, n, 1, b);
        size_t nc = ref_bpe(s, n, c);
        cr_assert(na == nc && !memcmp(a, c, na * sizeof *a), "iter %d: array BPE != reference",
                  iter);
        cr_assert(nb == nc && !memcmp(b, c, nb * sizeof *b), "iter %d: heap BPE != reference",
                  iter);
    }
    free(g_ref);
}

/* ---- lac_tokenizer_create from a model -------------------------------------------------- */

static lac_model *small_model(const lac_vocab *v, uint32_t vocab_size) {
    lac_model_config c;
    lac_error err = {0};
    cr_assert_eq(lac_model_config_preset("tiny", &c, &err), LAC_OK, "%s", err.msg);
    c.n_layer = 1;
    c.n_embd = 64;
    c.n_head = 1;
    c.n_inner = 256;
    c.n_ctx = 16;
    c.vocab_size = vocab_size;
    c.eot_token = vocab_size - 1;
    lac_model *m = NULL;
    cr_assert_eq(lac_model_create_random(&c, 7, v, &m, &err), LAC_OK, "%s", err.msg);
    return m;
}

Test(tokenizer, create_from_model) {
    /* a model carrying the GPT-2 vocabulary tokenizes like the HF files */
    lac_model *m = small_model(&g_vocab.v, g_vocab.v.n_tokens);
    lac_tokenizer *tk = NULL;
    lac_error err = {0};
    cr_assert_eq(lac_tokenizer_create(m, &tk, &err), LAC_OK, "%s", err.msg);
    size_t n;
    uint8_t *s = read_all(path_in("tokenizer/golden/tricky.txt"), &n);
    lac_tokens a = tokenize(s, n, 0), b = {0};
    cr_assert_eq(lac_tokenizer_feed(tk, s, n, 1, &b, &err), LAC_OK, "%s", err.msg);
    check_same(&a, &b, "tricky.txt, tokenizer of a model");
    lac_tokens_free(&a);
    lac_tokens_free(&b);
    lac_tokenizer_free(tk);
    lac_model_close(m);

    /* a synthetic byte-level vocabulary (random test models) is lossless too */
    m = small_model(NULL, 512);
    cr_assert_eq(lac_tokenizer_create(m, &tk, &err), LAC_OK, "%s", err.msg);
    lac_tokens t = {0};
    cr_assert_eq(lac_tokenizer_feed(tk, s, n, 1, &t, &err), LAC_OK, "%s", err.msg);
    size_t off = 0;
    for (size_t i = 0; i < t.n; i++) {
        size_t len;
        const uint8_t *b2 = lac_token_bytes(tk, t.ids[i], &len);
        cr_assert(b2 && off + len <= n && !memcmp(s + off, b2, len), "synthetic vocab, id %zu", i);
        cr_assert_neq(t.ids[i], 511, "synthetic vocab: produced the end-of-text id");
        off += len;
    }
    cr_assert_eq(off, n);
    cr_assert_lt(t.n, n, "the synthetic merges merge something");
    lac_tokens_free(&t);
    lac_tokenizer_free(tk);
    lac_model_close(m);
    free(s);
    lac_error e2 = {0};
    cr_assert_eq(lac_tokenizer_create(NULL, &tk, &e2), LAC_ERR_ARG);
}

/* Words " a", " b", ..., base 26, n different ones (each a pre-token of its own), twice. */
static uint8_t *distinct_words(size_t n, size_t *len) {
    uint8_t *s = malloc(2 * n * 8);
    cr_assert_not_null(s);
    size_t k = 0;
    for (size_t i = 0; i < 2 * n; i++) {
        s[k++] = ' ';
        size_t v = i % n;
        do {
            s[k++] = (uint8_t)('a' + v % 26);
            v /= 26;
        } while (v);
    }
    *len = k;
    return s;
}

typedef struct tk_job {
    const lac_model *m;
    const uint8_t *s;
    size_t n;
    lac_tokens ids;
    lac_status st;
} tk_job;

static void *tokenize_job(void *arg) { /* no criterion asserts off the main thread */
    tk_job *j = arg;
    lac_tokenizer *tk = NULL;
    lac_error err;
    j->st = lac_tokenizer_create(j->m, &tk, &err);
    if (j->st == LAC_OK) j->st = lac_tokenizer_feed(tk, j->s, j->n, 1, &j->ids, &err);
    lac_tokenizer_free(tk);
    return NULL;
}

Test(tokenizer, model_tables_shared_and_cache_grows) {
    /* 40000 different short pre-tokens: the pre-token cache doubles from its first size to its
     * largest while they go in, and the second time they come from it; the ids must be those
     * of the BPE alone (no cache, no pattern) */
    enum { WORDS = 40000, THREADS = 4 };
    size_t n;
    uint8_t *s = distinct_words(WORDS, &n);
    lac_tokens want = {0};
    int32_t ids[16];
    for (size_t p = 0, q; p < n; p = q) {
        for (q = p + 1; q < n && s[q] != ' '; q++) {}
        size_t k = lac_tokenizer_bpe(g_tk, s + p, q - p, 1, ids);
        for (size_t i = 0; i < k; i++) {
            if (want.n == want.cap) {
                want.cap = want.cap ? 2 * want.cap : 1024;
                want.ids = realloc(want.ids, want.cap * sizeof *want.ids);
                cr_assert_not_null(want.ids);
            }
            want.ids[want.n++] = ids[i];
        }
    }
    /* tokenizers of one model, created and run by several threads at once, share one set of
     * tables: the first creation builds it, the model keeps it until lac_model_close */
    lac_model *m = small_model(&g_vocab.v, g_vocab.v.n_tokens);
    cr_assert_null(m->tok_tables, "a fresh model has no tokenizer tables yet");
    pthread_t th[THREADS];
    tk_job job[THREADS];
    for (int i = 0; i < THREADS; i++) {
        job[i] = (tk_job){.m = m, .s = s, .n = n};
        cr_assert_eq(pthread_create(&th[i], NULL, tokenize_job, &job[i]), 0);
    }
    for (int i = 0; i < THREADS; i++) cr_assert_eq(pthread_join(th[i], NULL), 0);
    const void *tables = m->tok_tables;
    cr_assert_not_null(tables, "the model caches its tokenizer tables");
    for (int i = 0; i < THREADS; i++) {
        cr_assert_eq(job[i].st, LAC_OK, "thread %d: %s", i, lac_status_name(job[i].st));
        check_same(&want, &job[i].ids, "distinct words, a thread's tokenizer of the model");
        lac_tokens_free(&job[i].ids);
    }
    tk_job again = {.m = m, .s = s, .n = n};
    tokenize_job(&again);
    cr_assert_eq(again.st, LAC_OK);
    check_same(&want, &again.ids, "distinct words, a later tokenizer of the model");
    cr_assert_eq(m->tok_tables, tables, "a later tokenizer reuses the model's tables");
    lac_tokens_free(&again.ids);
    lac_model_close(m);
    lac_tokens_free(&want);
    free(s);
}

/* ---- errors ------------------------------------------------------------------------------- */

Test(tokenizer, bad_arguments_and_ids) {
    lac_tokens t = {0};
    lac_error err = {0};
    cr_assert_eq(lac_tokenizer_feed(g_tk, NULL, 5, 0, &t, &err), LAC_ERR_ARG);
    cr_assert_neq(err.msg[0], '\0');
    size_t len = 7;
    cr_assert_null(lac_token_bytes(g_tk, -1, &len));
    cr_assert_eq(len, 0);
    cr_assert_null(lac_token_bytes(g_tk, 50257, &len));
    cr_assert_not_null(lac_token_bytes(g_tk, 0, &len));
    cr_assert_eq(len, 1);
}

Test(tokenizer, rejects_bad_vocab) {
    lac_error err = {0};
    lac_tokenizer *tk = NULL;
    /* drop byte tokens: a vocab without every single byte cannot be lossless */
    lac_vocab v = g_vocab.v;
    uint32_t *off = malloc((v.n_tokens + 1) * sizeof *off);
    memcpy(off, v.tok_off, (v.n_tokens + 1) * sizeof *off);
    off[1] = off[0]; /* token 0 becomes empty: byte '!' has no token */
    v.tok_off = off;
    v.n_merges = 0;
    cr_assert_eq(lac_tokenizer_create_from_vocab(&v, &tk, &err), LAC_ERR_FORMAT);
    cr_assert_null(tk);
    cr_assert(strstr(err.msg, "byte"), "message: %s", err.msg);
    /* a merge whose result is not a token */
    v = g_vocab.v;
    uint32_t bad[2] = {(uint32_t)id_of_bytes((const uint8_t *)"\xFF", 1),
                       (uint32_t)id_of_bytes((const uint8_t *)"", 1)}; /* no token 0xFF 0x00 */
    v.merges = bad;
    v.n_merges = 1;
    cr_assert_eq(lac_tokenizer_create_from_vocab(&v, &tk, &err), LAC_ERR_FORMAT);
    cr_assert(strstr(err.msg, "merge 0"), "message: %s", err.msg);
    /* offsets out of order */
    v = g_vocab.v;
    memcpy(off, v.tok_off, (v.n_tokens + 1) * sizeof *off);
    off[5] = off[6] + 1;
    v.tok_off = off;
    cr_assert_eq(lac_tokenizer_create_from_vocab(&v, &tk, &err), LAC_ERR_FORMAT);
    cr_assert_eq(lac_tokenizer_create_from_vocab(NULL, &tk, &err), LAC_ERR_ARG);
    free(off);
}
