/* libFuzzer target for the .lacz reader and decoder of both format versions (coder/decompress.c,
 * decode_blocks.c, resync.c, list.c, container.c, container2.c, codecs.c; docs/FORMAT.md) and of
 * raw messages (coder/raw.c): lac_list and lac_decompress over an in-memory reader, with the
 * tiny random model of fuzz_common.h (1 layer, 8 wide, 300-token synthetic vocabulary).
 * The writer has its own target, fuzz_compress.
 *
 * Input: byte 0 = mode, byte 1 = parameter byte, then the body.
 *   mode bit 0: rewrite the check fields of the body before decoding (v1: stream header, block
 *               headers, footer; v2: every record's check), so that mutations reach the fields
 *               and payloads behind them
 *   mode bit 1: salvage
 *   mode bit 2: two streams (blocks decoded in lock-step)
 *   mode bit 3: short reads (1 + param % 7 bytes per read call)
 *   mode bit 4: unused (round trips, compress then decompress, are fuzz_compress's: a round
 *               trip costs as much as ten decoder inputs)
 * Checks, besides ASan/UBSan/leaks, hangs and the error-message rules: lac_decompress succeeds
 * only if lac_list succeeds and then writes exactly the listed plaintext size; a failure writes
 * no more than 2^24 bytes per record read; test mode (no writer) agrees with a real writer. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "container.h"
#include "container2.h"
#include "fuzz_common.h"

static void put_check(uint8_t *p, size_t n) { /* check(bytes 0..n) at p + n */
    uint8_t d[EVP_MAX_MD_SIZE];
    unsigned dl = 0;
    EVP_Digest(p, n, d, &dl, EVP_sha256(), NULL);
    memcpy(p + n, d, 4);
}

static uint32_t get32(const uint8_t *p) {
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* v2: rewrites the check of every record of the stream at b[0..n) (header prefix on the first);
 * returns the offset after its footer's plain_bytes, or 0 when the walk breaks. */
static size_t fix_checks_v2(uint8_t *b, size_t n) {
    lacz2_header h;
    size_t hn = 0, used = 0, pos;
    lac_error e;
    if (lacz2_header_parse(b, n, 0, &h, &hn, &e) != LAC_OK) return 0;
    for (pos = hn;;) {
        lacz2_record r;
        if (lacz2_record_parse(b + pos, n - pos, pos, h.block_tokens, &r, &used, &e)) return 0;
        if (r.kind == LACZ2_END) return pos + used;
        if (r.packed_len > n - pos - used) return 0;
        if (r.kind != LACZ2_MODEL_LAST) {
            uint16_t c = lacz2_record_check(&r, b, pos == hn ? hn : 0, b + pos + used);
            b[pos + used - 2] = (uint8_t)c, b[pos + used - 1] = (uint8_t)(c >> 8);
        }
        pos += used + r.packed_len;
        if (r.kind == LACZ2_MODEL_LAST) return pos;
    }
}

/* Walks the records as the reader would and rewrites every check field. */
static void fix_checks(uint8_t *b, size_t n) {
    size_t pos = 0;
    while (n - pos >= 5 && lacz_is_magic(b + pos, 4) && (b[pos + 4] & 7) == LACZ2_VERSION) {
        size_t end = fix_checks_v2(b + pos, n - pos); /* then skip plain_bytes and the check */
        if (!end) return;
        uint64_t v;
        int k = lacz2_varint_get(b + pos + end, n - pos - end, 10, &v);
        if (k <= 0) return;
        pos += end + (size_t)k + ((b[pos + 4] >> 3) & LACZ2_F_SHA256 ? 32 : 4);
        if (pos > n) return;
    }
    while (n - pos >= LACZ_HEADER_SIZE && lacz_is_magic(b + pos, 4)) {
        put_check(b + pos, LACZ_HEADER_SIZE - 4);
        pos += LACZ_HEADER_SIZE;
        for (;;) {
            if (n - pos < LACZ_BLOCK_HEADER_SIZE) return;
            uint8_t *h = b + pos;
            put_check(h, LACZ_BLOCK_HEADER_SIZE - 4);
            pos += LACZ_BLOCK_HEADER_SIZE;
            if (h[0] == LACZ_BLOCK_END) break;
            uint32_t packed = get32(h + 12);
            if (packed > n - pos) return;
            pos += packed;
        }
        if (n - pos < LACZ_FOOTER_SIZE) return;
        put_check(b + pos, LACZ_FOOTER_SIZE - 4);
        pos += LACZ_FOOTER_SIZE;
    }
}

static void params(lac_params *p, uint8_t mode) {
    lac_params_default(p);
    p->engine.device = LAC_DEVICE_CPU;
    p->engine.n_threads = 1;
    p->engine.n_streams = (mode & 4) ? 2 : 1;
    p->salvage = (mode & 2) != 0;
}

/* raw decoding: a writer that raises the interrupt flag after RAW_OUT_MAX bytes (garbage may
 * decode to a long text before its end; a decoded token costs as much as a whole small input,
 * and what lies beyond a few hundred tokens is the same loop again) */
#define RAW_OUT_MAX 512
typedef struct raw_writer {
    fuzz_writer w;
    volatile int *stop;
} raw_writer;
static int raw_write(void *ctx, const void *buf, size_t n) {
    raw_writer *rw = ctx;
    if (rw->w.out.n + n > RAW_OUT_MAX) *rw->stop = 1;
    return fuzz_write(&rw->w, buf, n);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 2) return 0;
    const lac_model *m = fuzz_tiny_model();
    uint8_t mode = data[0], prm = data[1];
    size_t n = size - 2;
    uint8_t *body = malloc(n ? n : 1); /* exact size: ASan sees over-reads */
    if (!body) abort();
    memcpy(body, data + 2, n);
    if (mode & 32) { /* a raw message: anything decodes to something, and ends */
        lac_params p;
        params(&p, mode);
        p.raw = 1;
        p.salvage = 0;
        /* stop after RAW_OUT_MAX bytes of output through the interrupt flag */
        static volatile int stop;
        stop = 0;
        p.interrupt = &stop;
        fuzz_reader r = {body, n, 0, 0};
        raw_writer w = {{{0}, 0}, &stop};
        lac_error err;
        lac_status s = lac_decompress(m, &p, fuzz_read, &r, raw_write, &w, NULL, &err);
        fuzz_check_error(s, &err);
        if (s && s != LAC_ERR_CORRUPT && s != LAC_ERR_INTERRUPTED)
            FUZZ_FAIL("raw decoding: status %d (%s)", s, err.msg);
        free(w.w.out.p);
        free(body);
        return 0;
    }
    if (mode & 1) fix_checks(body, n);

    lac_error err;
    lac_file_info info;
    fuzz_reader r = {body, n, 0, (mode & 8) ? 1u + prm % 7u : 0};
    lac_status ls = lac_list(fuzz_read, &r, &info, &err);
    fuzz_check_error(ls, &err);

    lac_params p;
    params(&p, mode);
    fuzz_reader r2 = {body, n, 0, r.step};
    /* the decoder writes at most 2^24 bytes per record it could have read (a v2 record has 1
     * byte at least). The listing's plain_bytes is no bound for a failed decoding: a v2
     * footer's length is a claim checked at the end, and model blocks store no length, so a
     * stream that lies there writes its earlier blocks before its footer refuses it (as
     * gzip does on a pipe; the CLI writes files through a temporary one). A decoding that
     * succeeds writes exactly the listed size (checked below). */
    fuzz_writer w = {{0}, (n + 1) << 24};
    lac_stats st;
    lac_status ds = lac_decompress(m, &p, fuzz_read, &r2, fuzz_write, &w, &st, &err);
    fuzz_check_error(ds, &err);
    if (ds == LAC_OK) {
        if (ls != LAC_OK) FUZZ_FAIL("decompress accepted what list refused: %s", err.msg);
        if (w.out.n != info.plain_bytes)
            FUZZ_FAIL("wrote %zu bytes, listed %llu", w.out.n, (unsigned long long)info.plain_bytes);
    }
    if (ds == LAC_OK && p.salvage && st.damaged_blocks) FUZZ_FAIL("damaged blocks but status ok");
    if (!p.salvage && (prm & 0x80)) { /* test mode agrees */
        fuzz_reader r3 = {body, n, 0, 0};
        lac_status ts = lac_decompress(m, &p, fuzz_read, &r3, NULL, NULL, NULL, &err);
        if (ts != ds) FUZZ_FAIL("test mode gives status %d, a writer %d", ts, ds);
    }
    free(w.out.p);
    free(body);
    return 0;
}
