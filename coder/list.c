/* lac_list: what `lacgpu -l` shows, from the stream headers and block records alone (no model,
 * no decoding). Reads every format version. */
#include <string.h>

#include "codecs.h"
#include "container.h"
#include "container2.h"
#include "io.h"
#include "lac_error.h"

/* the caller's block callback and where the walk is */
typedef struct lister {
    lac_block_fn fn;
    lac_stream_fn sfn;
    void *ctx;
    uint64_t stream, index;
    uint8_t hash[32]; /* the current stream's model */
    int hash_len;
} lister;

static void count(lac_file_info *info, int method, uint64_t plain, uint64_t packed) {
    info->blocks++;
    info->method_blocks[method]++;
    info->method_plain[method] += plain;
    info->method_packed[method] += packed;
    if (method == LAC_METHOD_STORED) info->stored_blocks++;
}

static void report(lister *l, uint64_t off, int method, uint32_t tokens, uint32_t plain,
                   uint32_t packed) {
    if (l->fn) {
        lac_block_info b = {l->stream, l->index, off, method, tokens, plain, packed};
        l->fn(l->ctx, &b);
    }
    l->index++;
}

static lac_status list_v1(lacio_reader *r, uint8_t rec[LACZ_HEADER_SIZE], int first,
                          lac_file_info *info, lister *l, lac_error *err) {
    uint64_t hoff = r->n - 5;
    lac_status s = lacio_get_exact(r, rec + 5, LACZ_HEADER_SIZE - 5, "stream header", err);
    lacz_header h;
    if (!s) s = lacz_header_parse(rec, hoff, &h, err);
    if (s) return s;
    memcpy(l->hash, h.model_hash, 32), l->hash_len = 32;
    if (first) {
        info->numerics_version = h.numerics_version;
        memcpy(info->model_hash, h.model_hash, 32);
        info->model_hash_len = 32;
        memcpy(info->model_name, h.model_name, sizeof info->model_name);
        info->coder = h.coder;
        info->block_tokens = h.block_tokens;
    }
    info->sha256 = first ? 1 : info->sha256;
    uint64_t plain = 0, blocks = 0;
    for (;;) {
        uint8_t brec[LACZ_BLOCK_HEADER_SIZE];
        uint64_t off = r->n;
        lacz_block_header bh;
        s = lacio_get_exact(r, brec, sizeof brec, "block header", err);
        if (!s) s = lacz_block_header_parse(brec, off, h.block_tokens, &bh, err);
        if (s) return s;
        if (bh.type == LACZ_BLOCK_END) break;
        if ((s = lacio_skip(r, bh.packed_len, "block data", err))) return s;
        blocks++;
        plain += bh.plain_len;
        int method = bh.type == LACZ_BLOCK_STORED ? LAC_METHOD_STORED : LAC_METHOD_MODEL;
        count(info, method, bh.plain_len, bh.packed_len);
        report(l, off, method, bh.n_tokens, bh.plain_len, bh.packed_len);
        info->tokens += bh.n_tokens;
    }
    uint8_t frec[LACZ_FOOTER_SIZE];
    uint64_t foff = r->n;
    lacz_footer f;
    s = lacio_get_exact(r, frec, sizeof frec, "footer", err);
    if (!s) s = lacz_footer_parse(frec, foff, &f, err);
    if (s) return s;
    if (f.plain_bytes != plain || f.blocks != blocks)
        return lac_fail(err, LAC_ERR_CORRUPT,
                        "footer at offset %llu: %llu bytes in %llu blocks recorded, block "
                        "headers give %llu bytes in %llu blocks", (unsigned long long)foff,
                        (unsigned long long)f.plain_bytes, (unsigned long long)f.blocks,
                        (unsigned long long)plain, (unsigned long long)blocks);
    info->plain_bytes += plain;
    return LAC_OK;
}

/* Reads bytes into buf until parse() stops asking for more. */
static lac_status read_v2_record(lacio_reader *r, uint32_t block_tokens, lacz2_record *rec,
                                 uint64_t *at, lac_error *err) {
    uint8_t buf[LACZ2_RECORD_MAX];
    uint64_t off = *at = r->n;
    size_t used = 0;
    for (size_t n = 1; n <= LACZ2_RECORD_MAX; n++) {
        lac_status s = lacio_get_exact(r, buf + n - 1, 1, "block record", err);
        if (s) return s;
        s = lacz2_record_parse(buf, n, off, block_tokens, rec, &used, err);
        if (s != LAC_ERR_TRUNCATED) return s;
    }
    return lac_fail(err, LAC_ERR_FORMAT, "block record at offset %llu: too long",
                    (unsigned long long)off);
}

static lac_status list_v2(lacio_reader *r, uint8_t rec[LACZ2_HEADER_MAX], int first,
                          lac_file_info *info, lister *l, lac_error *err) {
    uint64_t hoff = r->n - 5;
    size_t n = 5, used = 0;
    lacz2_header h;
    lac_status s;
    while ((s = lacz2_header_parse(rec, n, hoff, &h, &used, err)) == LAC_ERR_TRUNCATED &&
           n < LACZ2_HEADER_MAX) {
        if ((s = lacio_get_exact(r, rec + n, 1, "stream header", err))) return s;
        n++;
    }
    if (s) return s;
    memcpy(l->hash, h.model_id, LACZ2_ID_BYTES), l->hash_len = LACZ2_ID_BYTES;
    if (first) {
        info->numerics_version = h.numerics_version;
        memcpy(info->model_hash, h.model_id, LACZ2_ID_BYTES);
        info->model_hash_len = LACZ2_ID_BYTES;
        info->coder = h.coder;
        info->block_tokens = h.block_tokens;
        info->sha256 = h.sha256;
    } else if (!h.sha256) info->sha256 = 0;
    for (;;) {
        lacz2_record b;
        uint64_t off = 0;
        if ((s = read_v2_record(r, h.block_tokens, &b, &off, err))) return s;
        if (b.kind == LACZ2_END) break;
        if ((s = lacio_skip(r, b.packed_len, "block data", err))) return s;
        int method = lacz2_is_model(b.kind) ? LAC_METHOD_MODEL : b.kind - 2;
        count(info, method, b.plain_len, b.packed_len);
        report(l, off, method, b.n_tokens, b.plain_len, b.packed_len);
        info->tokens += b.n_tokens;
        if (b.kind == LACZ2_MODEL_LAST) break;
    }
    uint8_t buf[10];
    uint64_t plain = 0;
    int k = 0;
    for (n = 0; k == 0;) {
        if ((s = lacio_get_exact(r, buf + n, 1, "footer", err))) return s;
        k = lacz2_varint_get(buf, ++n, 10, &plain);
    }
    if (k < 0) return lac_fail(err, LAC_ERR_FORMAT, "footer at offset %llu: malformed length",
                               (unsigned long long)(r->n - n));
    if ((s = lacio_skip(r, h.sha256 ? 32 : 4, "footer check", err))) return s;
    info->plain_bytes += plain;
    return LAC_OK;
}

lac_status lac_list(lac_read_fn rd, void *rctx, lac_file_info *info, lac_error *err) {
    return lac_list_streams(rd, rctx, NULL, NULL, NULL, info, err);
}

lac_status lac_list_blocks(lac_read_fn rd, void *rctx, lac_block_fn fn, void *fn_ctx,
                           lac_file_info *info, lac_error *err) {
    return lac_list_streams(rd, rctx, fn, NULL, fn_ctx, info, err);
}

lac_status lac_list_streams(lac_read_fn rd, void *rctx, lac_block_fn fn, lac_stream_fn sfn,
                            void *fn_ctx, lac_file_info *info, lac_error *err) {
    lac_error_clear(err);
    if (!rd || !info) return lac_fail(err, LAC_ERR_ARG, "lac_list: reader and info are required");
    lister l = {fn, sfn, fn_ctx, 0, 0, {0}, 0};
    memset(info, 0, sizeof *info);
    lacio_reader r;
    lacio_reader_init(&r, rd, rctx);
    lac_status s = LAC_OK;
    for (int nstream = 0; !s; nstream++) {
        uint8_t rec[LACZ_HEADER_SIZE];
        size_t got = 0;
        uint64_t off = r.n;
        if ((s = lacio_get(&r, rec, 5, &got, err))) break;
        if (got == 0 && nstream > 0) break;
        if (got == 0) s = lac_fail(err, LAC_ERR_TRUNCATED, "empty input: not a .lacz file");
        else if (got < 4 || !lacz_is_magic(rec, 4))
            s = lac_fail(err, got < 4 && lacz_is_magic_prefix(rec, got) ? LAC_ERR_TRUNCATED
                                                                        : LAC_ERR_FORMAT,
                         off ? "offset %llu: trailing data that is not a .lacz stream"
                             : "not a .lacz file (bad magic at offset %llu)",
                         (unsigned long long)off);
        else if (got < 5)
            s = lac_fail(err, LAC_ERR_TRUNCATED, "input is truncated in the stream header at "
                         "offset %llu", (unsigned long long)off);
        else if (rec[4] != 1 && (rec[4] & 7) != LACZ2_VERSION)
            s = lac_fail(err, LAC_ERR_VERSION, "header at offset %llu: format version %u is not "
                         "supported (this build reads 1 and 2)", (unsigned long long)off, rec[4] & 7u);
        else {
            if (nstream == 0) info->format_version = rec[4] == 1 ? 1 : rec[4] & 7u;
            l.stream = (uint64_t)nstream, l.index = 0;
            const uint64_t plain0 = info->plain_bytes, blocks0 = info->blocks;
            s = rec[4] == 1 ? list_v1(&r, rec, nstream == 0, info, &l, err)
                            : list_v2(&r, rec, nstream == 0, info, &l, err);
            info->streams++;
            if (!s && sfn) {
                lac_stream_info si = {(uint64_t)nstream, off, r.n - off,
                                      info->plain_bytes - plain0, info->blocks - blocks0,
                                      {0}, l.hash_len};
                memcpy(si.model_hash, l.hash, sizeof si.model_hash);
                sfn(fn_ctx, &si);
            }
        }
    }
    info->packed_bytes = r.n;
    lacio_reader_free(&r);
    return s;
}
