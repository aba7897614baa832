/* Scale-out (issue 15): the multi-device engine (engine/backend_multi.c) must give the bits of
 * one engine and really hand every device a share; device and dtype names (lac_device_parse,
 * lac_dtype_parse); the chunk cuts (coder/chunk.c) and stream groups of a .lacz. The dispatch
 * is tested with several CPU engines: the same code drives several GPUs. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "engine_testutil.h"
#include "lac.h"
#include "lacz_testutil.h"

/* ---- names ---- */
Test(names, devices) {
    lac_engine_options o;
    lac_error err;
    memset(&o, 0, sizeof o);
    o.n_threads = 3;
    cr_assert_eq(lac_device_parse("cuda:0,2", &o, &err), LAC_OK, "%s", err.msg);
    cr_expect_eq(o.device, LAC_DEVICE_CUDA);
    cr_expect_eq(o.n_devices, 2);
    cr_expect_eq(o.devices[0], 0);
    cr_expect_eq(o.devices[1], 2);
    cr_expect_eq(o.n_threads, 3, "other fields are kept");
    cr_assert_eq(lac_device_parse("cuda:all", &o, &err), LAC_OK);
    cr_expect_eq(o.n_devices, LAC_DEVICES_ALL);
    cr_assert_eq(lac_device_parse("cuda:7", &o, &err), LAC_OK);
    cr_expect(o.device == LAC_DEVICE_CUDA && o.cuda_index == 7 && o.n_devices == 0);
    cr_assert_eq(lac_device_parse("cpu,cpu,cpu", &o, &err), LAC_OK);
    cr_expect(o.device == LAC_DEVICE_CPU && o.n_devices == 3);
    cr_assert_eq(lac_device_parse("cpu-scalar", &o, &err), LAC_OK);
    cr_expect(o.device == LAC_DEVICE_CPU_SCALAR && o.n_devices == 0);
    cr_assert_eq(lac_device_parse("cpu-scalar,cpu-scalar", &o, &err), LAC_OK);
    cr_expect(o.device == LAC_DEVICE_CPU_SCALAR && o.n_devices == 2);
    cr_assert_eq(lac_device_parse("auto", &o, &err), LAC_OK);
    cr_expect(o.device == LAC_DEVICE_AUTO && o.n_devices == 0);
    const char *bad[] = {"", "gpu", "cuda:", "cuda:256", "cuda:1,1", "cuda:0,", "cuda:x",
                         "cpu,cuda", "cpu,", "scalar", "cuda:-1",
                         "cuda:0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        lac_engine_options before = o;
        cr_expect_neq(lac_device_parse(bad[i], &o, &err), LAC_OK, "'%s' accepted", bad[i]);
        cr_expect(err.msg[0] != '\0', "'%s': no message", bad[i]);
        cr_expect_eq(memcmp(&before, &o, sizeof o), 0, "'%s' changed the options", bad[i]);
    }
}

Test(names, dtypes) {
    lac_dtype d;
    lac_error err;
    const char *names[] = {"f32", "f16", "bf16"};
    for (int i = 0; i < 3; i++) {
        cr_assert_eq(lac_dtype_parse(names[i], &d, &err), LAC_OK);
        cr_expect_str_eq(lac_dtype_name(d), names[i]);
    }
    cr_expect_eq(lac_dtype_parse("fp32", &d, &err), LAC_ERR_ARG);
    cr_expect(strstr(err.msg, "fp32") != NULL);
    cr_expect_str_eq(lac_dtype_name((lac_dtype)9), "?");
}

/* ---- the multi-device engine against one engine ---- */
#define B 5
#define T 12
static lac_model *rm;
static void setup_model(void) { rm = etu_random_model(2, 2, 32, 64, 97, 7); }
static void free_model(void) { etu_free_model(rm); }

static lac_engine *make_threads(int n_devices, int n_streams, int n_threads) {
    lac_engine_options o = {.device = LAC_DEVICE_CPU, .n_threads = n_threads,
                            .n_streams = n_streams,
                            .max_rows = 2 * T, .n_devices = n_devices};
    lac_engine *e = NULL;
    lac_error err;
    cr_assert_eq(lac_engine_create(rm, &o, &e, &err), LAC_OK, "%s", err.msg);
    return e;
}
static lac_engine *make(int n_devices, int n_streams) {
    return make_threads(n_devices, n_streams, 1);
}

/* prefill (uneven counts, one idle stream), a truncation, then decoding steps */
static void drive(lac_engine *e, uint32_t *freqs_out, uint32_t *cum_out, int32_t *sym_out) {
    lac_coder_params p;
    lac_coder_params_default(&p);
    const size_t V = 97;
    static int32_t tok[B][T], tgt[B][T];
    for (int b = 0; b < B; b++)
        for (int i = 0; i < T; i++) tok[b][i] = (b * 31 + i * 7) % 97, tgt[b][i] = (b + i * 5) % 97;
    const int32_t *tp[B], *gp[B];
    uint32_t *cp[B], *fp[B], *qp[B];
    int counts[B] = {T, 3, 0, 7, T};
    static uint32_t cum[B][T], freq[B][T];
    for (int b = 0; b < B; b++) {
        tp[b] = tok[b], gp[b] = tgt[b], cp[b] = cum[b], fp[b] = freq[b];
        qp[b] = freqs_out + (size_t)b * 2 * V;
    }
    lac_error err;
    cr_assert_eq(lac_engine_forward_code(e, tp, counts, gp, &p, cp, fp, &err), LAC_OK, "%s",
                 err.msg);
    for (int b = 0; b < B; b++)
        for (int i = 0; i < counts[b]; i++) cum_out[b * T + i] = cum[b][i] ^ (freq[b][i] << 1);
    cr_assert_eq(lac_engine_truncate(e, 0, 4, &err), LAC_OK);
    lac_engine_reset(e, 4);
    int two[B] = {2, 2, 2, 2, 0};
    cr_assert_eq(lac_engine_forward_freqs(e, tp, two, &p, qp, &err), LAC_OK, "%s", err.msg);
    int one[B] = {1, 0, 1, 1, 1};
    uint32_t targets[B] = {1u << 20, 5, 1u << 29, 77, 12345};
    uint32_t c[B], f[B];
    cr_assert_eq(lac_engine_forward_decode(e, tp, one, &p, targets, sym_out, c, f, &err), LAC_OK,
                 "%s", err.msg);
    const int want_pos[B] = {7, 5, 3, 10, 1};
    for (int b = 0; b < B; b++)
        cr_expect_eq(lac_engine_position(e, b), want_pos[b], "stream %d", b);
}

/* drive() on both engines: the same outputs */
static void expect_same_bits(lac_engine *one, lac_engine *many) {
    const size_t V = 97;
    uint32_t *q1 = calloc(B * 2 * V, 4), *qn = calloc(B * 2 * V, 4);
    uint32_t c1[B * T] = {0}, cn[B * T] = {0};
    int32_t s1[B] = {0}, sn[B] = {0};
    drive(one, q1, c1, s1);
    drive(many, qn, cn, sn);
    cr_expect_eq(memcmp(c1, cn, sizeof c1), 0, "forward_code differs");
    cr_expect_eq(memcmp(q1, qn, B * 2 * V * 4), 0, "forward_freqs differs");
    cr_expect_eq(memcmp(s1, sn, sizeof s1), 0, "forward_decode differs");
    free(q1);
    free(qn);
}

Test(multidev, same_bits_as_one_engine, .init = setup_model, .fini = free_model) {
    lac_engine *one = make(0, B), *three = make(3, B);
    expect_same_bits(one, three);
    cr_expect_eq(lac_engine_devices(one), 1);
    cr_assert_eq(lac_engine_devices(three), 3);
    uint64_t sum = 0;
    for (int i = 0; i < 3; i++) {
        cr_expect_gt(lac_engine_device_rows(three, i), 0, "device %d had no work", i);
        sum += lac_engine_device_rows(three, i);
    }
    cr_expect_eq(sum, lac_engine_device_rows(one, 0), "rows: %llu on 3 devices, %llu on one",
                 (unsigned long long)sum, (unsigned long long)lac_engine_device_rows(one, 0));
    cr_expect_eq(lac_engine_device_rows(three, 3), 0);
    cr_expect(strstr(lac_engine_device_name(three), "3 devices: cpu") != NULL, "%s",
              lac_engine_device_name(three));
    lac_engine_free(one);
    lac_engine_free(three);
}

/* Sub-engines of 2 threads with row groups (LAC_ROW_GROUPS=1: every call of 2+ streams): the
 * multi backend runs them inside its own parallel region, where a nested region gets a team of
 * one, and that one thread must still run every group (it once ran group 0 only: wrong logits,
 * and `lacgpu -d --device cpu,cpu` failed on files of many blocks). */
Test(multidev, row_groups_in_sub_engines, .init = setup_model, .fini = free_model) {
    setenv("LAC_ROW_GROUPS", "1", 1);
    lac_engine *one = make_threads(0, B, 2), *two = make_threads(2, B, 2);
    unsetenv("LAC_ROW_GROUPS");
    expect_same_bits(one, two);
    cr_expect_eq(lac_engine_devices(two), 2);
    lac_engine_free(one);
    lac_engine_free(two);
}

Test(multidev, no_more_devices_than_streams, .init = setup_model, .fini = free_model) {
    lac_engine *e = make(4, 2);
    cr_expect_eq(lac_engine_devices(e), 2);
    lac_engine_free(e);
    e = make(4, 1); /* one stream: the plain engine */
    cr_expect_eq(lac_engine_devices(e), 1);
    cr_expect(strstr(lac_engine_device_name(e), "devices") == NULL);
    lac_engine_free(e);
    lac_engine_options o = {.device = LAC_DEVICE_CPU, .n_streams = 2, .n_devices = 99};
    lac_engine *x = NULL;
    lac_error err;
    cr_expect_eq(lac_engine_create(rm, &o, &x, &err), LAC_ERR_ARG);
    o.n_devices = LAC_DEVICES_ALL; /* every GPU: not for the CPU */
    cr_expect_neq(lac_engine_create(rm, &o, &x, &err), LAC_OK);
    cr_expect_null(x);
}

Test(multidev, automatic_streams_per_device, .init = setup_model, .fini = free_model) {
    lac_engine_options o = {.device = LAC_DEVICE_CPU};
    int r1 = 0, r2 = 0;
    const int b1 = lac_engine_options_streams(rm, &o, LAC_PURPOSE_COMPRESS, &r1);
    o.n_devices = 2;
    const int b2 = lac_engine_options_streams(rm, &o, LAC_PURPOSE_COMPRESS, &r2);
    cr_expect_eq(b2, 2 * b1);
    cr_expect_eq(r2, 2 * r1);
}

/* ---- the stream API on several engines: the same .lacz ---- */
/* In-memory I/O: tmem of tests/helpers/lacz_testutil.h; and a pread over it for chunk cuts. */
static long mem_pread(void *ctx, void *buf, size_t n, uint64_t off) {
    const tmem *m = ctx;
    if (off >= m->n) return 0;
    size_t k = m->n - off < n ? m->n - (size_t)off : n;
    memcpy(buf, m->p + off, k);
    return (long)k;
}

static lac_model *tiny(void) {
    const char *path = getenv("LAC_DEFAULT_MODEL");
    lac_model *m = NULL;
    lac_error err;
    cr_assert(path && *path, "LAC_DEFAULT_MODEL is not set");
    cr_assert_eq(lac_model_open(path, &m, &err), LAC_OK, "%s", err.msg);
    return m;
}

static tmem compress_with(const lac_model *m, const char *text, size_t n, int n_devices,
                         lac_stats *st) {
    lac_params p;
    lac_params_default(&p);
    p.engine.device = LAC_DEVICE_CPU;
    p.engine.n_threads = 1;
    p.engine.n_devices = n_devices;
    p.block_tokens = 48;
    tmem in = {(uint8_t *)text, n, n, 0, 0}, out = {0};
    lac_error err;
    cr_assert_eq(lac_compress(m, &p, tmem_read, &in, tmem_write, &out, st, &err), LAC_OK, "%s",
                 err.msg);
    return out;
}

Test(multidev, stream_api_same_lacz) {
    lac_model *m = tiny();
    char *alice = NULL;
    size_t n = 0;
    char *path = etu_shared_path("corpus/canterbury/alice29.txt");
    alice = etu_read_file(path, &n);
    free(path);
    cr_assert(alice, "alice29.txt not found under LAC_SHARED");
    n = etu_quick() ? 400 : 1200;
    lac_stats s1, s2;
    tmem one = compress_with(m, alice, n, 0, &s1), two = compress_with(m, alice, n, 2, &s2);
    cr_expect_gt(s1.blocks, 2, "too few blocks to spread");
    cr_expect_eq(s1.devices, 1);
    cr_expect_eq(s2.devices, 2, "the stream API used %d devices: %s", s2.devices, s2.device);
    cr_assert_eq(one.n, two.n);
    cr_expect_eq(memcmp(one.p, two.p, one.n), 0, "two devices wrote other bytes");
    /* and decoding on two devices gives the text back */
    lac_params p;
    lac_params_default(&p);
    p.engine.device = LAC_DEVICE_CPU;
    p.engine.n_threads = 1;
    p.engine.n_devices = 2;
    tmem back = {0};
    lac_error err;
    lac_stats sd;
    cr_assert_eq(lac_decompress(m, &p, tmem_read, &two, tmem_write, &back, &sd, &err), LAC_OK,
                 "%s", err.msg);
    cr_expect_eq(sd.devices, 2);
    cr_assert_eq(back.n, n);
    cr_expect_eq(memcmp(back.p, alice, n), 0);
    free(one.p), free(two.p), free(back.p), free(alice);
    lac_model_close(m);
}

/* ---- chunk cuts ---- */
static void expect_pieces(const tmem *in, int n) {
    uint64_t prev = 0;
    lac_error err;
    for (int k = 1; k <= n; k++) {
        uint64_t b = 0, e = 0;
        cr_assert_eq(lac_chunk_range(mem_pread, (void *)in, in->n, k, n, &b, &e, &err), LAC_OK,
                     "%d/%d: %s", k, n, err.msg);
        cr_expect_eq(b, prev, "%d/%d starts at %llu, the previous ended at %llu", k, n,
                     (unsigned long long)b, (unsigned long long)prev);
        cr_expect_lt(b, e, "%d/%d is empty", k, n);
        prev = e;
    }
    cr_expect_eq(prev, in->n, "the pieces do not cover the input");
}

Test(chunk, cuts_at_line_ends) {
    /* 40 lines of 25 bytes: every cut of 4 pieces lands just after a line end */
    tmem in = {malloc(1000), 1000, 1000, 0, 0};
    for (int i = 0; i < 1000; i++) in.p[i] = i % 25 == 24 ? '\n' : 'a' + i % 26;
    expect_pieces(&in, 4);
    lac_error err;
    for (int k = 2; k <= 4; k++) {
        uint64_t b = 0, e = 0;
        cr_assert_eq(lac_chunk_range(mem_pread, &in, in.n, k, 4, &b, &e, &err), LAC_OK);
        cr_expect_eq(in.p[b - 1], '\n', "piece %d/4 starts at %llu, not after a line end", k,
                     (unsigned long long)b);
        cr_expect_lt(b > 250u * (k - 1) ? b - 250u * (k - 1) : 250u * (k - 1) - b, 13);
    }
    /* the nearest line end: one at 499 (cut 500) beats one at 489 */
    memset(in.p, 'x', in.n);
    in.p[489] = '\n', in.p[499] = '\n', in.p[520] = '\n';
    uint64_t b = 0, e = 0;
    cr_assert_eq(lac_chunk_range(mem_pread, &in, in.n, 1, 2, &b, &e, &err), LAC_OK);
    cr_expect_eq(e, 500);
    /* no line end: the exact marks */
    memset(in.p, 'x', in.n);
    cr_assert_eq(lac_chunk_range(mem_pread, &in, in.n, 2, 3, &b, &e, &err), LAC_OK);
    cr_expect(b == 333 && e == 666, "[%llu, %llu)", (unsigned long long)b, (unsigned long long)e);
    for (int n = 1; n <= 9; n++) expect_pieces(&in, n);
    in.n = 7; /* as many pieces as bytes */
    expect_pieces(&in, 7);
    free(in.p);
}

Test(chunk, errors) {
    tmem in = {(uint8_t *)"abc\ndef\n", 8, 8, 0, 0};
    uint64_t b, e;
    lac_error err;
    cr_expect_eq(lac_chunk_range(mem_pread, &in, 8, 0, 2, &b, &e, &err), LAC_ERR_ARG);
    cr_expect(strstr(err.msg, "K = 0") != NULL, "%s", err.msg);
    cr_expect_eq(lac_chunk_range(mem_pread, &in, 8, 3, 2, &b, &e, &err), LAC_ERR_ARG);
    cr_expect_eq(lac_chunk_range(mem_pread, &in, 8, 1, 9, &b, &e, &err), LAC_ERR_LIMIT);
    cr_expect(strstr(err.msg, "at most 8") != NULL, "%s", err.msg);
    cr_expect_eq(lac_chunk_range(mem_pread, &in, 0, 1, 1, &b, &e, &err), LAC_OK, "empty, 1/1");
    cr_expect(b == 0 && e == 0);
    cr_expect_eq(lac_chunk_range(mem_pread, &in, 0, 1, 2, &b, &e, &err), LAC_ERR_LIMIT);
    /* a size beyond the data: the read comes up short */
    cr_expect_eq(lac_chunk_range(mem_pread, &in, 80, 2, 2, &b, &e, &err), LAC_ERR_TRUNCATED);
}

/* groups of streams: 5 stored streams in 2 groups are streams {0,1} and {2,3,4} */
Test(chunk, stream_groups) {
    lac_model *m = tiny();
    lac_params p;
    lac_params_default(&p);
    p.methods = LAC_METHOD_BIT(LAC_METHOD_STORED); /* no model run: fast */
    tmem all = {0};
    uint64_t starts[6];
    const char *texts[] = {"one\n", "two two\n", "three\n", "four\n", "five five five\n"};
    lac_error err;
    for (int i = 0; i < 5; i++) {
        starts[i] = all.n;
        tmem in = {(uint8_t *)texts[i], strlen(texts[i]), strlen(texts[i]), 0, 0};
        cr_assert_eq(lac_compress(m, &p, tmem_read, &in, tmem_write, &all, NULL, &err), LAC_OK);
    }
    starts[5] = all.n;
    uint64_t b, e;
    all.pos = 0;
    cr_assert_eq(lac_chunk_streams(tmem_read, &all, 1, 2, &b, &e, &err), LAC_OK, "%s", err.msg);
    cr_expect(b == starts[0] && e == starts[2]);
    all.pos = 0;
    cr_assert_eq(lac_chunk_streams(tmem_read, &all, 2, 2, &b, &e, &err), LAC_OK);
    cr_expect(b == starts[2] && e == starts[5]);
    all.pos = 0;
    cr_assert_eq(lac_chunk_streams(tmem_read, &all, 5, 5, &b, &e, &err), LAC_OK);
    cr_expect(b == starts[4] && e == starts[5]);
    all.pos = 0;
    cr_expect_eq(lac_chunk_streams(tmem_read, &all, 1, 6, &b, &e, &err), LAC_ERR_LIMIT);
    cr_expect(strstr(err.msg, "5 streams") != NULL, "%s", err.msg);
    /* the groups decode to the pieces, in order */
    all.pos = 0;
    cr_assert_eq(lac_chunk_streams(tmem_read, &all, 2, 2, &b, &e, &err), LAC_OK);
    tmem grp = {all.p + b, (size_t)(e - b), (size_t)(e - b), 0, 0}, out = {0};
    cr_assert_eq(lac_decompress(m, &p, tmem_read, &grp, tmem_write, &out, NULL, &err), LAC_OK,
                 "%s", err.msg);
    cr_expect(out.n == 26 && !memcmp(out.p, "three\nfour\nfive five five\n", 26));
    free(out.p);
    free(all.p);
    lac_model_close(m);
}
