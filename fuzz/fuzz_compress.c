/* libFuzzer target for the writer (lac_compress, coder/compress.c, segment.c, codecs.c, raw.c;
 * docs/FORMAT.md): compresses the body with the tiny random model of fuzz_common.h, then
 * decompresses and lists the result, which must give the body back. fuzz_lacz fuzzes the
 * reader on arbitrary files; this target is the writer's (one target per entry point, and
 * a round trip costs ten decoder inputs: the classic encoders' tables).
 *
 * Input: byte 0 = mode, byte 1 = parameter byte, then the body (at most 2048 bytes are used).
 *   mode bit 2: two streams (blocks decoded in lock-step)
 *   mode bit 3: short reads (1 + param % 7 bytes per read call)
 *   mode bit 5: a raw message (--raw) on both sides
 *   (bits 0, 1, 4, 6 and 7 are unused; fuzz_lacz's round-trip inputs, which had bit 4 set,
 *   replay here unchanged)
 *   param: block_tokens 1 + param % 16; the writer's methods: bit 6 the model alone, else
 *   bits 4-5: every method (0, the default), or the model and one classic choice (lzma2;
 *   brotli; zstd and bzip2)
 * Checks, besides ASan/UBSan/leaks, hangs and the error-message rules: compression succeeds,
 * the decoded text is the body, lac_list gives its plain and packed sizes. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_common.h"

/* The methods the writer may use. Each classic encoder at full effort allocates a few hundred
 * kB to 1.4 MB of tables, all fresh pages under ASan (its large allocations are mmapped each
 * time): trying all four on every input was half of the time. Each still meets every input
 * whose param picks it, and all four together (lacz_codec_best's whole pick, the default) a
 * quarter of those with the classic codecs. */
static unsigned writer_methods(uint8_t prm) {
    static const unsigned one[4] = {0, LAC_METHOD_BIT(LAC_METHOD_LZMA2),
                                    LAC_METHOD_BIT(LAC_METHOD_BROTLI),
                                    LAC_METHOD_BIT(LAC_METHOD_ZSTD) |
                                        LAC_METHOD_BIT(LAC_METHOD_BZIP2)};
    if (prm & 0x40) return LAC_METHOD_BIT(LAC_METHOD_MODEL); /* the model's blocks */
    const unsigned k = (prm >> 4) & 3u;
    return k ? LAC_METHOD_BIT(LAC_METHOD_MODEL) | one[k] : 0; /* 0: every method */
}

static void roundtrip(const lac_model *m, uint8_t mode, uint8_t prm, const uint8_t *x, size_t n) {
    lac_params p;
    lac_params_default(&p);
    p.engine.device = LAC_DEVICE_CPU;
    p.engine.n_threads = 1;
    p.engine.n_streams = (mode & 4) ? 2 : 1;
    p.raw = (mode & 32) != 0;
    p.methods = writer_methods(prm);
    p.block_tokens = 1u + prm % 16u;
    fuzz_reader r = {x, n, 0, (mode & 8) ? 1u + prm % 7u : 0};
    fuzz_writer packed = {{0}, 0};
    lac_error err;
    lac_stats st;
    lac_status s = lac_compress(m, &p, fuzz_read, &r, fuzz_write, &packed, &st, &err);
    fuzz_check_error(s, &err);
    if (s) FUZZ_FAIL("compress failed on %zu bytes: %s", n, err.msg);
    fuzz_reader r2 = {packed.out.p, packed.out.n, 0, r.step};
    fuzz_writer plain = {{0}, n};
    s = lac_decompress(m, &p, fuzz_read, &r2, fuzz_write, &plain, &st, &err);
    if (s) FUZZ_FAIL("decompress of a fresh file failed: %s", err.msg);
    if (plain.out.n != n || (n && memcmp(plain.out.p, x, n))) FUZZ_FAIL("round trip differs");
    lac_file_info info;
    fuzz_reader r3 = {packed.out.p, packed.out.n, 0, 0};
    s = p.raw ? LAC_OK : lac_list(fuzz_read, &r3, &info, &err);
    if (!p.raw && (s || info.plain_bytes != n || info.packed_bytes != packed.out.n))
        FUZZ_FAIL("list of a fresh file: %s", s ? err.msg : "sizes differ");
    free(packed.out.p);
    free(plain.out.p);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 2) return 0;
    size_t n = size - 2 > 2048 ? 2048 : size - 2;
    uint8_t *body = malloc(n ? n : 1); /* exact size: ASan sees over-reads */
    if (!body) abort();
    memcpy(body, data + 2, n);
    roundtrip(fuzz_tiny_model(), data[0], data[1], body, n);
    free(body);
    return 0;
}
