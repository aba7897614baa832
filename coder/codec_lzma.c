/* Raw LZMA2 (liblzma, no .xz container) for the classic fallback (coder/codecs.h). The encoder
 * tries preset 9 | EXTREME and preset 9 and keeps the smaller (9 wins on some binaries:
 * kennedy.xls is 49116 bytes with xz -9, 51868 with xz -9e); both have lc 3, lp 0, pb 2 and the
 * dictionary is a function of the plain length, so the decoder sets the same filter whichever
 * was used, and no properties byte is stored. LZMA2's closing end-of-data byte (0x00) is always
 * there, so it is dropped from the payload and the decoder feeds it back: one byte less per
 * segment. The decoder's memory is the dictionary (bounded by plain_len) plus fixed state. */
#include <lzma.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "codecs.h"
#include "lac_error.h"

/* 4 KiB .. 64 MiB (the preset's own dictionary): the smallest power of two holding the input,
 * which codes exactly as a larger one would (no match reaches further back than the start). */
static void lzma2_options(size_t plain_len, uint32_t preset, lzma_options_lzma *opt) {
    lzma_lzma_preset(opt, preset);
    opt->dict_size = (uint32_t)1 << lacz_codec_log2_fit(plain_len, 12, 26);
}

/* The two encodings of lacz_lzma2_compress need the same blocks (one preset level, one
 * dictionary): about 1.4 MB of match finder and price tables. The second takes the first's
 * back from this pool instead of fresh memory, which costs page faults (under ASan, which maps
 * every large block afresh, they were a third of fuzz_lacz's round trips); lacz_lzma2_compress
 * frees the pool. Blocks carry their size in a 16-byte head (alignment kept): liblzma's free
 * does not pass it. liblzma clears what it needs itself, so a reused block is not cleared. */
#define POOL_KEEP 16
#define POOL_HEAD 16
typedef struct pool {
    void *blk[POOL_KEEP];
    int n;
} pool;

static size_t blk_size(const void *b) {
    size_t z;
    memcpy(&z, b, sizeof z);
    return z;
}

static void *pool_alloc(void *opaque, size_t nmemb, size_t size) {
    pool *pl = opaque;
    if (size && nmemb > (SIZE_MAX - POOL_HEAD) / size) return NULL;
    const size_t want = nmemb * size;
    for (int i = 0; i < pl->n; i++)
        if (blk_size(pl->blk[i]) == want) {
            uint8_t *b = pl->blk[i];
            pl->blk[i] = pl->blk[--pl->n];
            return b + POOL_HEAD;
        }
    uint8_t *b = malloc(POOL_HEAD + want);
    if (!b) return NULL;
    memcpy(b, &want, sizeof want);
    return b + POOL_HEAD;
}

static void pool_free(void *opaque, void *ptr) {
    pool *pl = opaque;
    if (!ptr) return;
    uint8_t *b = (uint8_t *)ptr - POOL_HEAD;
    if (pl->n < POOL_KEEP) pl->blk[pl->n++] = b;
    else free(b);
}

static void pool_end(pool *pl) {
    while (pl->n) free(pl->blk[--pl->n]);
}

static lac_status lzma_fail(lzma_ret r, const char *what, lac_error *err) {
    if (r == LZMA_MEM_ERROR) return lac_fail(err, LAC_ERR_NOMEM, "lzma2: %s: out of memory", what);
    return lac_fail(err, LAC_ERR_CORRUPT, "lzma2: %s failed (liblzma error %d)", what, (int)r);
}

static lac_status encode(const uint8_t *in, size_t n, uint32_t preset, pool *pl, uint8_t *out,
                         size_t cap, size_t *out_len, lac_error *err) {
    lzma_options_lzma opt;
    lzma2_options(n, preset, &opt);
    lzma_filter filters[2] = {{LZMA_FILTER_LZMA2, &opt}, {LZMA_VLI_UNKNOWN, NULL}};
    const lzma_allocator alloc = {pool_alloc, pool_free, pl};
    lzma_stream s = LZMA_STREAM_INIT;
    s.allocator = &alloc;
    lzma_ret r = lzma_raw_encoder(&s, filters);
    if (r != LZMA_OK) {
        lzma_end(&s);
        return r == LZMA_MEM_ERROR ? lzma_fail(r, "encoder", err)
                                   : lac_fail(err, LAC_ERR_ARG, "lzma2: encoder setup error %d", r);
    }
    /* cap bytes plus the end byte that is dropped: the last one lands in `last` */
    uint8_t last = 0xFF;
    int in_last = 0;
    s.next_in = in;
    s.avail_in = n;
    s.next_out = out;
    s.avail_out = cap;
    for (;;) {
        if (s.avail_out == 0) {
            if (in_last) { /* a second byte past cap: it does not fit */
                lzma_end(&s);
                return lac_fail(err, LAC_ERR_LIMIT, "lzma2: output exceeds cap %zu", cap);
            }
            s.next_out = &last;
            s.avail_out = 1;
            in_last = 1;
        }
        r = lzma_code(&s, LZMA_FINISH);
        if (r == LZMA_STREAM_END) break;
        if (r != LZMA_OK) {
            lzma_end(&s);
            return lzma_fail(r, "encode", err);
        }
    }
    size_t total = (size_t)s.total_out;
    int used_last = in_last && s.avail_out == 0;
    lzma_end(&s);
    uint8_t end = used_last ? last : (total ? out[total - 1] : 0xFF);
    if (total == 0 || end != 0x00)
        return lac_fail(err, LAC_ERR_CORRUPT, "lzma2: encoder output lacks the end byte");
    *out_len = total - 1;
    return LAC_OK;
}

lac_status lacz_lzma2_compress(const uint8_t *in, size_t n, uint8_t *out, size_t cap,
                               size_t *out_len, lac_error *err) {
    size_t a = 0, b = 0;
    pool pl = {.n = 0};
    lac_status s = encode(in, n, 9u | LZMA_PRESET_EXTREME, &pl, out, cap, &a, err);
    if (s && s != LAC_ERR_LIMIT) return pool_end(&pl), s;
    /* preset 9 must fit in cap, and be strictly smaller than 9e's output to win */
    size_t room = s ? cap : a ? a - 1 : 0; /* 0: nothing beats an empty payload */
    uint8_t *tmp = room ? malloc(room) : NULL;
    lac_status t = tmp ? encode(in, n, 9u, &pl, tmp, room, &b, err) : LAC_ERR_LIMIT;
    pool_end(&pl);
    if (t == LAC_OK) {
        memcpy(out, tmp, b);
        a = b, s = LAC_OK;
    }
    free(tmp);
    if (t && t != LAC_ERR_LIMIT) return t;
    if (s) return lac_fail(err, LAC_ERR_LIMIT, "lzma2: output exceeds cap %zu", cap);
    *out_len = a;
    return LAC_OK;
}

lac_status lacz_lzma2_decompress(const uint8_t *in, size_t n, uint8_t *out, size_t plain_len,
                                 lac_error *err) {
    lzma_options_lzma opt;
    lzma2_options(plain_len, 9u | LZMA_PRESET_EXTREME, &opt);
    lzma_filter filters[2] = {{LZMA_FILTER_LZMA2, &opt}, {LZMA_VLI_UNKNOWN, NULL}};
    lzma_stream s = LZMA_STREAM_INIT;
    lzma_ret r = lzma_raw_decoder(&s, filters);
    if (r != LZMA_OK) {
        lzma_end(&s);
        return r == LZMA_MEM_ERROR ? lzma_fail(r, "decoder", err)
                                   : lac_fail(err, LAC_ERR_ARG, "lzma2: decoder setup error %d", r);
    }
    /* the payload, then the dropped end byte; the output, then one spare byte that must stay
     * unwritten (a longer stream) */
    static const uint8_t end_byte = 0x00;
    uint8_t spare;
    int fed_end = 0, in_spare = 0;
    s.next_in = in;
    s.avail_in = n;
    s.next_out = out;
    s.avail_out = plain_len;
    lac_status st = LAC_OK;
    for (;;) {
        if (s.avail_in == 0 && !fed_end) {
            s.next_in = &end_byte;
            s.avail_in = 1;
            fed_end = 1;
        }
        if (s.avail_out == 0 && !in_spare) {
            s.next_out = &spare;
            s.avail_out = 1;
            in_spare = 1;
        }
        size_t ai = s.avail_in, ao = s.avail_out;
        r = lzma_code(&s, fed_end ? LZMA_FINISH : LZMA_RUN);
        if (in_spare && s.avail_out == 0) {
            st = lac_fail(err, LAC_ERR_CORRUPT, "lzma2: payload expands beyond %zu bytes",
                          plain_len);
            break;
        }
        if (r == LZMA_STREAM_END) {
            if (!fed_end || s.avail_in != 0)
                st = lac_fail(err, LAC_ERR_CORRUPT, "lzma2: bytes after the end of the stream");
            else if (s.total_out != plain_len)
                st = lac_fail(err, LAC_ERR_CORRUPT, "lzma2: payload expands to %llu bytes, not %zu",
                              (unsigned long long)s.total_out, plain_len);
            break;
        }
        if (r != LZMA_OK) {
            st = r == LZMA_MEM_ERROR ? lzma_fail(r, "decode", err)
                                     : lac_fail(err, LAC_ERR_CORRUPT,
                                                "lzma2: malformed payload at byte %llu (liblzma "
                                                "error %d)",
                                                (unsigned long long)s.total_in, (int)r);
            break;
        }
        if (fed_end && s.avail_in == ai && s.avail_out == ao) { /* no progress: it ends early */
            st = lac_fail(err, LAC_ERR_CORRUPT, "lzma2: payload truncated after %llu bytes of output",
                          (unsigned long long)s.total_out);
            break;
        }
    }
    lzma_end(&s);
    return st;
}
