/* engine.c — the public lac_engine_* API: options, backend selection, stream positions and
 * argument checks. The numeric work is done by a backend (engine/backend.h). */
#include <omp.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "backend.h"
#include "lac_error.h"

/* Rows per backend call in forward_code / forward_freqs without a fused op (bounds the
 * scratch logits to LAC_CODE_CHUNK x vocab floats). Chunking never changes the bits. */
#define LAC_CODE_CHUNK 64

struct lac_engine {
    const lac_model *m;
    const lac_backend_ops *ops;
    void *state;
    const char *name;
    int n_streams, max_rows;
    uint64_t rows;       /* rows handed to the backend so far (lac_engine_device_rows) */
    int *pos;            /* [n_streams] */
    int *cnt, *sub_pos;  /* [n_streams] scratch for split calls */
    int *done;           /* [n_streams] rows of each stream run_chunks has passed on */
    const int32_t **sub_tok;
    float **sub_logits;
    float *scratch;      /* scratch_rows x V logits for the unfused code/freqs/decode paths */
    int n_threads;       /* CPU threads quantizing the rows of the unfused paths */
    uint32_t *qrows;     /* [n_threads][V] their frequency rows (kept: no allocation per
                          * decoding step) */
};

lac_device lac_device_resolve(lac_device d, int cuda_index, uint64_t *free_bytes) {
    if (free_bytes) *free_bytes = 0;
#ifdef LAC_HAVE_CUDA
    if (d == LAC_DEVICE_AUTO) d = lac_cuda_device_count() > 0 ? LAC_DEVICE_CUDA : LAC_DEVICE_CPU;
    if (d == LAC_DEVICE_CUDA && free_bytes) *free_bytes = lac_cuda_free_memory(cuda_index);
#else
    (void)cuda_index;
    if (d == LAC_DEVICE_AUTO) d = LAC_DEVICE_CPU;
#endif
    return d;
}

uint64_t lac_engine_kv_bytes(const lac_model_config *cfg, int n_streams) {
    if (!cfg || n_streams <= 0) return 0;
    return 2ull * cfg->n_layer * cfg->n_ctx * cfg->n_embd * sizeof(float) * (uint64_t)n_streams;
}

/* Free physical memory of this machine in bytes (0 when unknown). */
static uint64_t host_free_memory(void) {
#if defined(_SC_AVPHYS_PAGES) && defined(_SC_PAGESIZE)
    long pages = sysconf(_SC_AVPHYS_PAGES), psz = sysconf(_SC_PAGESIZE);
    if (pages > 0 && psz > 0) return (uint64_t)pages * (uint64_t)psz;
#endif
    return 0;
}

int lac_engine_auto_streams(const lac_model *m, lac_device device, int cuda_index,
                            lac_engine_purpose purpose, int *max_rows) {
    if (max_rows) *max_rows = 0;
    if (!m) return 1;
    uint64_t free_b = 0;
    const lac_device d = lac_device_resolve(device, cuda_index, &free_b);
    const int gpu = d == LAC_DEVICE_CUDA;
    const uint64_t kv = lac_engine_kv_bytes(&m->cfg, 1);
    uint64_t budget;
    int cap;
    if (gpu) {
        /* a third of the GPU's free memory, at most 256 streams: decoding hundreds of blocks
         * in lock-step is what keeps a GPU busy; larger forward calls too */
        budget = free_b ? free_b / 3 : (4ull << 30);
        cap = 256;
        if (max_rows) *max_rows = 16384;
    } else if (purpose == LAC_PURPOSE_DECOMPRESS && d == LAC_DEVICE_CPU) {
        /* CPU decoding: B streams share each pass over the weights, and a step's matmuls
         * keep reading each weight tile for all of them (bench/results: B = 32 runs at several
         * times B = 8's tokens/s). A quarter of the free memory, at most 1 GiB of KV cache. */
        const uint64_t fm = host_free_memory();
        budget = fm ? fm / 4 : (512ull << 20);
        if (budget > (1ull << 30)) budget = 1ull << 30;
        if (budget < (512ull << 20)) budget = 512ull << 20;
        cap = 64;
    } else {
        /* CPU compression (each block is one prefill) and the scalar reference: 512 MiB */
        budget = 512ull << 20;
        cap = 8;
    }
    uint64_t b = kv ? budget / kv : 1;
    if (b < 1) b = 1;
    if (b > (uint64_t)cap) b = (uint64_t)cap;
    return (int)b;
}

/* Devices the options spread over: n_devices, every GPU for LAC_DEVICES_ALL (0 when there is
 * none), 1 for a single device. */
static int device_count(const lac_engine_options *o) {
    if (o->n_devices == LAC_DEVICES_ALL) {
#ifdef LAC_HAVE_CUDA
        int n = lac_cuda_device_count();
        return n < LAC_MAX_DEVICES ? n : LAC_MAX_DEVICES;
#else
        return 0;
#endif
    }
    return o->n_devices > 1 ? o->n_devices : 1;
}

int lac_engine_options_streams(const lac_model *m, const lac_engine_options *o,
                               lac_engine_purpose purpose, int *max_rows) {
    if (max_rows) *max_rows = 0;
    if (!o) return lac_engine_auto_streams(m, LAC_DEVICE_AUTO, 0, purpose, max_rows);
    const int n = device_count(o) > 1 ? device_count(o) : 1;
    int rows = 0;
    const long b = (long)lac_engine_auto_streams(m, o->device, o->cuda_index, purpose, &rows) * n;
    if (max_rows && rows) *max_rows = rows * n;
    return b < LAC_MAX_STREAMS ? (int)b : LAC_MAX_STREAMS;
}

void lac_engine_options_auto(const lac_model *m, lac_engine_purpose purpose,
                             lac_engine_options *o) {
    if (!m || !o) return;
    int rows = 0;
    const int b = lac_engine_options_streams(m, o, purpose, &rows);
    const int n = device_count(o) > 1 ? device_count(o) : 1;
    if (o->n_streams == 0) o->n_streams = b;
    if (o->max_rows == 0) o->max_rows = rows ? rows : (int)m->cfg.n_ctx * n;
}

/* Several devices: LAC_DEVICES_ALL becomes every GPU; one device is the plain engine. */
static lac_status resolve_devices(lac_engine_options *o, lac_error *err) {
    if (o->n_devices == LAC_DEVICES_ALL) {
        if (lac_device_resolve(o->device, o->cuda_index, NULL) != LAC_DEVICE_CUDA)
            return lac_fail(err, LAC_ERR_ARG, "engine: every device (cuda:all) is for CUDA only");
        const int n = device_count(o);
        if (n == 0)
            return lac_fail(err, LAC_ERR_UNSUPPORTED, "engine: cuda:all: no GPU found%s",
#ifdef LAC_HAVE_CUDA
                            ""
#else
                            " (built without CUDA)"
#endif
            );
        for (int i = 0; i < n; i++) o->devices[i] = i;
        o->n_devices = n;
        o->cuda_index = 0;
    }
    if (o->n_devices <= 1) o->n_devices = 0;
    return LAC_OK;
}

lac_status lac_engine_create(const lac_model *m, const lac_engine_options *opt,
                             lac_engine **out, lac_error *err) {
    lac_error_clear(err); /* lac.h: msg is "" when the result is LAC_OK */
    if (!out) return lac_fail(err, LAC_ERR_ARG, "engine: out is NULL");
    *out = NULL;
    if (!m || !opt) return lac_fail(err, LAC_ERR_ARG, "engine: model or options is NULL");
    const lac_model_config *c = &m->cfg;
    if (c->n_layer == 0 || c->n_head == 0 || c->n_embd == 0 || c->n_embd % c->n_head != 0 ||
        c->n_ctx == 0 || c->vocab_size == 0 || c->n_inner == 0)
        return lac_fail(err, LAC_ERR_ARG, "engine: model config has invalid shapes");
    if (opt->n_streams < 0 || opt->n_streams > LAC_MAX_STREAMS)
        return lac_fail(err, LAC_ERR_ARG, "engine: n_streams %d out of range 0..%d",
                        opt->n_streams, LAC_MAX_STREAMS);
    if (opt->n_threads < 0 || opt->n_threads > 4096)
        return lac_fail(err, LAC_ERR_ARG, "engine: n_threads %d out of range 0..4096",
                        opt->n_threads);
    if (opt->max_rows < 0 || opt->max_rows > (1 << 20))
        return lac_fail(err, LAC_ERR_ARG, "engine: max_rows %d out of range 0..1048576",
                        opt->max_rows);
    if ((int)opt->device < (int)LAC_DEVICE_AUTO || (int)opt->device > (int)LAC_DEVICE_CUDA)
        return lac_fail(err, LAC_ERR_ARG, "engine: unknown device %d", (int)opt->device);
    if (opt->n_devices < LAC_DEVICES_ALL || opt->n_devices > LAC_MAX_DEVICES)
        return lac_fail(err, LAC_ERR_ARG, "engine: n_devices %d out of range -1..%d",
                        opt->n_devices, LAC_MAX_DEVICES);
    lac_engine_options o = *opt;
    /* 0: chosen for the device and its memory (decompression's choice: most streams) */
    lac_engine_options_auto(m, LAC_PURPOSE_DECOMPRESS, &o);
    lac_status st = resolve_devices(&o, err);
    if (st != LAC_OK) return st;
    if (o.n_devices > 1 && o.n_streams == 1) { /* one stream: one device does it all */
        if (o.device == LAC_DEVICE_CUDA) o.cuda_index = o.devices[0];
        o.n_devices = 0;
    }

    const lac_backend_ops *ops = NULL;
    o.device = lac_device_resolve(opt->device, opt->cuda_index, NULL); /* AUTO: CUDA or CPU */
    switch (o.device) {
    case LAC_DEVICE_CPU: ops = &lac_backend_cpu; break;
    case LAC_DEVICE_CPU_SCALAR: ops = &lac_backend_cpu_scalar; break;
    case LAC_DEVICE_CUDA:
#ifdef LAC_HAVE_CUDA
        ops = &lac_backend_cuda;
        break;
#else
        return lac_fail(err, LAC_ERR_UNSUPPORTED, "engine: built without CUDA");
#endif
    default:
        return lac_fail(err, LAC_ERR_ARG, "engine: unknown device %d", (int)opt->device);
    }
    if (o.n_devices > 1) ops = &lac_backend_multi; /* one sub-engine a device of that kind */

    lac_engine *e = calloc(1, sizeof *e);
    if (!e) return lac_fail(err, LAC_ERR_NOMEM, "engine: out of memory");
    e->m = m;
    e->ops = ops;
    e->n_streams = o.n_streams;
    e->max_rows = o.max_rows;
    e->n_threads = o.n_threads > 0 ? o.n_threads : omp_get_max_threads();
    if (e->n_threads < 1) e->n_threads = 1;
    size_t B = (size_t)o.n_streams;
    e->pos = calloc(B, sizeof *e->pos);
    e->cnt = calloc(B, sizeof *e->cnt);
    e->sub_pos = calloc(B, sizeof *e->sub_pos);
    e->done = calloc(B, sizeof *e->done);
    e->sub_tok = calloc(B, sizeof *e->sub_tok);
    e->sub_logits = calloc(B, sizeof *e->sub_logits);
    if (!e->pos || !e->cnt || !e->sub_pos || !e->done || !e->sub_tok || !e->sub_logits) {
        lac_engine_free(e);
        return lac_fail(err, LAC_ERR_NOMEM, "engine: out of memory");
    }
    st = ops->create(m, &o, &e->state, &e->name, err);
    if (st != LAC_OK) {
        e->state = NULL;
        lac_engine_free(e);
        return st;
    }
    *out = e;
    return LAC_OK;
}

void lac_engine_free(lac_engine *e) {
    if (!e) return;
    if (e->state) e->ops->destroy(e->state);
    free(e->pos);
    free(e->cnt);
    free(e->sub_pos);
    free(e->done);
    free(e->sub_tok);
    free(e->sub_logits);
    free(e->scratch);
    free(e->qrows);
    free(e);
}

const char *lac_engine_device_name(const lac_engine *e) { return e ? e->name : ""; }

int lac_engine_devices(const lac_engine *e) {
    if (!e) return 0;
    return e->ops == &lac_backend_multi ? lac_multi_devices(e->state) : 1;
}

uint64_t lac_engine_device_rows(const lac_engine *e, int i) {
    if (!e) return 0;
    if (e->ops == &lac_backend_multi) return lac_engine_device_rows(lac_multi_sub(e->state, i), 0);
    return i == 0 ? e->rows : 0;
}

void lac_engine_set_position(lac_engine *e, int stream, int pos) {
    if (e && stream >= 0 && stream < e->n_streams) e->pos[stream] = pos;
}

void lac_engine_reset(lac_engine *e, int stream) {
    if (e && stream >= 0 && stream < e->n_streams) e->pos[stream] = 0;
}

int lac_engine_streams(const lac_engine *e) { return e ? e->n_streams : 0; }
const lac_model *lac_engine_model(const lac_engine *e) { return e ? e->m : NULL; }

lac_status lac_engine_truncate(lac_engine *e, int stream, int pos, lac_error *err) {
    if (!e || stream < 0 || stream >= e->n_streams)
        return lac_fail(err, LAC_ERR_ARG, "engine: truncate: no stream %d", stream);
    if (pos < 0 || pos > e->pos[stream])
        return lac_fail(err, LAC_ERR_ARG, "engine: truncate: stream %d position %d is not in "
                        "0..%d", stream, pos, e->pos[stream]);
    /* the caches are positional: rows at pos and above are simply overwritten later, and no
     * row reads a cache entry above its own position (docs/NUMERICS.md §6, §7) */
    e->pos[stream] = pos;
    return LAC_OK;
}

int lac_engine_position(const lac_engine *e, int stream) {
    if (!e || stream < 0 || stream >= e->n_streams) return -1;
    return e->pos[stream];
}

/* Checks a forward call's arguments; *total receives the number of rows. */
static lac_status check_call(lac_engine *e, const int32_t *const *tokens,
                             const int *counts, const void *outs, long *total, lac_error *err) {
    if (!e) return lac_fail(err, LAC_ERR_ARG, "engine: engine is NULL");
    if (!tokens || !counts || !outs)
        return lac_fail(err, LAC_ERR_ARG, "engine: tokens, counts or output array is NULL");
    const lac_model_config *c = &e->m->cfg;
    long n = 0;
    for (int b = 0; b < e->n_streams; b++) {
        if (counts[b] < 0)
            return lac_fail(err, LAC_ERR_ARG, "engine: counts[%d] = %d is negative", b,
                            counts[b]);
        if (counts[b] == 0) continue;
        if ((long)e->pos[b] + counts[b] > (long)c->n_ctx)
            return lac_fail(err, LAC_ERR_LIMIT,
                            "engine: stream %d: position %d + %d tokens exceeds n_ctx %u", b,
                            e->pos[b], counts[b], c->n_ctx);
        if (!tokens[b])
            return lac_fail(err, LAC_ERR_ARG, "engine: tokens[%d] is NULL", b);
        for (int i = 0; i < counts[b]; i++)
            if (tokens[b][i] < 0 || (uint32_t)tokens[b][i] >= c->vocab_size)
                return lac_fail(err, LAC_ERR_ARG,
                                "engine: stream %d token %d: id %d out of range 0..%u", b, i,
                                (int)tokens[b][i], c->vocab_size - 1);
        n += counts[b];
    }
    *total = n;
    e->rows += (uint64_t)n;
    return LAC_OK;
}

/* Takes up to `limit` rows from the remaining counts (done[b] already processed), in stream
 * order; fills e->cnt and e->sub_pos, e->sub_tok. Returns the rows taken. */
static int next_chunk(lac_engine *e, const int32_t *const *tokens, const int *counts,
                      const int *done, int limit) {
    int taken = 0;
    for (int b = 0; b < e->n_streams; b++) {
        int left = counts[b] - done[b];
        int k = left < limit - taken ? left : limit - taken;
        if (k < 0) k = 0;
        e->cnt[b] = k;
        e->sub_pos[b] = e->pos[b] + done[b];
        e->sub_tok[b] = k ? tokens[b] + done[b] : NULL;
        taken += k;
    }
    return taken;
}

/* One backend call on the chunk that next_chunk() left in e->cnt, e->sub_tok and e->sub_pos;
 * done[b] rows of stream b came before it. */
typedef lac_status chunk_fn(lac_engine *e, const int *done, void *ctx, lac_error *err);

/* Runs the `total` rows of counts[] through fn in chunks of at most `limit` rows (stream
 * order), then advances each stream's position by what was computed (the caches hold those
 * tokens, also when a chunk failed). Allocates nothing: a decoding step calls it per token. */
static lac_status run_chunks(lac_engine *e, const int32_t *const *tokens, const int *counts,
                             long total, int limit, chunk_fn *fn, void *ctx, lac_error *err) {
    int *done = e->done;
    memset(done, 0, (size_t)e->n_streams * sizeof *done);
    lac_status st = LAC_OK;
    while (total > 0) {
        const int n = next_chunk(e, tokens, counts, done, limit);
        st = fn(e, done, ctx, err);
        if (st != LAC_OK) break;
        for (int b = 0; b < e->n_streams; b++) done[b] += e->cnt[b];
        total -= n;
    }
    for (int b = 0; b < e->n_streams; b++) e->pos[b] += done[b];
    return st;
}

/* lac_engine_forward: logits straight into the caller's rows. */
static lac_status chunk_logits(lac_engine *e, const int *done, void *ctx, lac_error *err) {
    float *const *logits = ctx;
    const size_t V = e->m->cfg.vocab_size;
    for (int b = 0; b < e->n_streams; b++)
        e->sub_logits[b] = e->cnt[b] ? logits[b] + (size_t)done[b] * V : NULL;
    return e->ops->forward(e->state, e->sub_tok, e->cnt, e->sub_pos, e->sub_logits, err);
}

lac_status lac_engine_forward(lac_engine *e, const int32_t *const *tokens, const int *counts,
                              float *const *logits, lac_error *err) {
    lac_error_clear(err); /* lac.h: msg is "" when the result is LAC_OK */
    long total;
    lac_status st = check_call(e, tokens, counts, logits, &total, err);
    if (st != LAC_OK) return st;
    for (int b = 0; b < e->n_streams; b++)
        if (counts[b] > 0 && !logits[b])
            return lac_fail(err, LAC_ERR_ARG, "engine: logits[%d] is NULL", b);
    return run_chunks(e, tokens, counts, total, e->max_rows, chunk_logits, (void *)logits, err);
}

/* The outputs of forward_code (cum, freq) or forward_freqs (freqs), with the unfused path's
 * scratch row or the fused path's per-chunk pointer tables. */
typedef struct coded_out {
    const int32_t *const *targets;
    const lac_coder_params *p;
    uint32_t *const *cum, *const *freq, *const *freqs;
    const int32_t **tg;  /* fused: targets of the chunk, [n_streams] */
    uint32_t **ptr;      /* fused: cum | freq of the chunk, or freqs, [2][n_streams] */
} coded_out;

/* The chunk's forward pass into the scratch logits (rows of the streams in order). */
static lac_status forward_to_scratch(lac_engine *e, lac_error *err) {
    const size_t V = e->m->cfg.vocab_size;
    size_t off = 0;
    for (int b = 0; b < e->n_streams; b++) {
        e->sub_logits[b] = e->cnt[b] ? e->scratch + off * V : NULL;
        off += (size_t)e->cnt[b];
    }
    return e->ops->forward(e->state, e->sub_tok, e->cnt, e->sub_pos, e->sub_logits, err);
}

/* The unfused code/freqs path: forward into scratch logits, then the host quantizer. */
/* Row i of stream b's chunk quantized: the whole frequency row into o->freqs, or the target's
 * cumulative frequency and frequency (row: V scratch frequencies) */
static void quantize_one(const lac_engine *e, const coded_out *o, const int *done, int b, int i,
                         uint32_t *row) {
    const size_t V = e->m->cfg.vocab_size;
    const float *z = e->sub_logits[b] + (size_t)i * V;
    const size_t r = (size_t)done[b] + (size_t)i;
    if (o->freqs) {
        lac_quantize_freqs(o->p, z, (uint32_t)V, o->freqs[b] + r * V);
        return;
    }
    lac_quantize_freqs(o->p, z, (uint32_t)V, row);
    const int32_t tg = o->targets[b][r];
    uint32_t c = 0;
    for (int32_t v = 0; v < tg; v++) c += row[v];
    o->cum[b][r] = c;
    o->freq[b][r] = row[tg];
}

/* One chunk: the forward pass, then its rows quantized on the engine's threads (each row on
 * its own: the integers do not depend on which thread; compression spent a third of its time
 * here on one core while the other waited) */
static lac_status chunk_quantized(lac_engine *e, const int *done, void *ctx, lac_error *err) {
    const coded_out *o = ctx;
    const size_t V = e->m->cfg.vocab_size;
    lac_status st = forward_to_scratch(e, err);
    if (st != LAC_OK) return st;
    for (int b = 0; b < e->n_streams; b++) {
        const int n = e->cnt[b];
        if (n >= 4 && e->n_threads > 1) { /* (no OpenMP region for a step's single row) */
#pragma omp parallel for schedule(dynamic, 1) num_threads(e->n_threads)
            for (int i = 0; i < n; i++) /* (whole rows into o->freqs need no scratch row) */
                quantize_one(e, o, done, b, i,
                             e->qrows ? e->qrows + (size_t)omp_get_thread_num() * V : NULL);
        } else {
            for (int i = 0; i < n; i++) quantize_one(e, o, done, b, i, e->qrows);
        }
    }
    return LAC_OK;
}

/* Rows of the unfused paths' chunks and scratch logits: LAC_CODE_CHUNK a thread (at most
 * LAC_CHUNK_THREADS of them), so that a compressor's chunk holds a stream for each thread and
 * the CPU backend runs them without barriers (row groups, engine/forward_fast.c); never more
 * than the engine's calls (a one-stream decoder's engine takes one row: 1 x V floats). */
#define LAC_CHUNK_THREADS 8
static int scratch_rows(const lac_engine *e) {
    const int t = e->n_threads < LAC_CHUNK_THREADS ? e->n_threads : LAC_CHUNK_THREADS;
    const int chunk = LAC_CODE_CHUNK * (t > 1 ? t : 1);
    return e->max_rows < chunk ? e->max_rows : chunk;
}

static lac_status forward_quantized(lac_engine *e, const int32_t *const *tokens,
                                    const int *counts, coded_out *o, long total,
                                    lac_error *err) {
    const size_t V = e->m->cfg.vocab_size;
    const int chunk = scratch_rows(e);
    if (!e->scratch && !(e->scratch = malloc((size_t)chunk * V * sizeof(float))))
        return lac_fail(err, LAC_ERR_NOMEM, "engine: out of memory (logits)");
    if (!o->freqs && !e->qrows &&
        !(e->qrows = malloc((size_t)e->n_threads * V * sizeof *e->qrows)))
        return lac_fail(err, LAC_ERR_NOMEM, "engine: out of memory (frequencies)");
    return run_chunks(e, tokens, counts, total, chunk, chunk_quantized, o, err);
}

/* The fused paths: the backend quantizes (and codes) itself. */
static lac_status chunk_code(lac_engine *e, const int *done, void *ctx, lac_error *err) {
    const coded_out *o = ctx;
    const int B = e->n_streams;
    for (int b = 0; b < B; b++) {
        o->tg[b] = e->cnt[b] ? o->targets[b] + done[b] : NULL;
        o->ptr[b] = e->cnt[b] ? o->cum[b] + done[b] : NULL;
        o->ptr[B + b] = e->cnt[b] ? o->freq[b] + done[b] : NULL;
    }
    return e->ops->forward_code(e->state, e->sub_tok, e->cnt, e->sub_pos, o->tg, o->p, o->ptr,
                                o->ptr + B, err);
}

static lac_status chunk_freqs(lac_engine *e, const int *done, void *ctx, lac_error *err) {
    const coded_out *o = ctx;
    const size_t V = e->m->cfg.vocab_size;
    for (int b = 0; b < e->n_streams; b++)
        o->ptr[b] = e->cnt[b] ? o->freqs[b] + (size_t)done[b] * V : NULL;
    return e->ops->forward_freqs(e->state, e->sub_tok, e->cnt, e->sub_pos, o->p, o->ptr, err);
}

/* A fused path with its pointer tables (2 * n_streams entries, targets too for code). */
static lac_status forward_fused(lac_engine *e, const int32_t *const *tokens, const int *counts,
                                coded_out *o, long total, chunk_fn *fn, lac_error *err) {
    const size_t B = (size_t)e->n_streams;
    o->tg = calloc(B, sizeof *o->tg);
    o->ptr = calloc(2 * B, sizeof *o->ptr);
    lac_status st = !o->tg || !o->ptr ? lac_fail(err, LAC_ERR_NOMEM, "engine: out of memory")
                                      : run_chunks(e, tokens, counts, total, e->max_rows, fn, o,
                                                   err);
    free(o->tg);
    free(o->ptr);
    return st;
}

lac_status lac_engine_forward_code(lac_engine *e, const int32_t *const *tokens, const int *counts,
                                   const int32_t *const *targets,
                                   const struct lac_coder_params *p, uint32_t *const *cum,
                                   uint32_t *const *freq, lac_error *err) {
    lac_error_clear(err); /* lac.h: msg is "" when the result is LAC_OK */
    long total;
    lac_status st = check_call(e, tokens, counts, cum, &total, err);
    if (st != LAC_OK) return st;
    if (!targets || !freq || !p)
        return lac_fail(err, LAC_ERR_ARG, "engine: targets, freq or coder params is NULL");
    st = lac_coder_params_check(p, err);
    if (st != LAC_OK) return st;
    const lac_model_config *c = &e->m->cfg;
    for (int b = 0; b < e->n_streams; b++) {
        if (counts[b] == 0) continue;
        if (!targets[b] || !cum[b] || !freq[b])
            return lac_fail(err, LAC_ERR_ARG, "engine: targets/cum/freq[%d] is NULL", b);
        for (int i = 0; i < counts[b]; i++)
            if (targets[b][i] < 0 || (uint32_t)targets[b][i] >= c->vocab_size)
                return lac_fail(err, LAC_ERR_ARG,
                                "engine: stream %d target %d: id %d out of range 0..%u", b, i,
                                (int)targets[b][i], c->vocab_size - 1);
    }
    coded_out o = {.targets = targets, .p = p, .cum = cum, .freq = freq};
    if (e->ops->forward_code) return forward_fused(e, tokens, counts, &o, total, chunk_code, err);
    return forward_quantized(e, tokens, counts, &o, total, err);
}

lac_status lac_engine_forward_freqs(lac_engine *e, const int32_t *const *tokens,
                                    const int *counts, const struct lac_coder_params *p,
                                    uint32_t *const *freqs, lac_error *err) {
    lac_error_clear(err); /* lac.h: msg is "" when the result is LAC_OK */
    long total;
    lac_status st = check_call(e, tokens, counts, freqs, &total, err);
    if (st != LAC_OK) return st;
    if (!p) return lac_fail(err, LAC_ERR_ARG, "engine: coder params is NULL");
    st = lac_coder_params_check(p, err);
    if (st != LAC_OK) return st;
    for (int b = 0; b < e->n_streams; b++)
        if (counts[b] > 0 && !freqs[b])
            return lac_fail(err, LAC_ERR_ARG, "engine: freqs[%d] is NULL", b);
    coded_out o = {.p = p, .freqs = freqs};
    if (e->ops->forward_freqs)
        return forward_fused(e, tokens, counts, &o, total, chunk_freqs, err);
    return forward_quantized(e, tokens, counts, &o, total, err);
}

/* The unfused decode path: up to LAC_CODE_CHUNK streams (one row each) per backend call into
 * the scratch logits, then the host quantizer and lac_freqs_find. */
typedef struct decode_out {
    const lac_coder_params *p;
    const uint32_t *targets;
    int32_t *sym;
    uint32_t *cum, *freq;
} decode_out;

/* stream b's row quantized and its symbol found from its target (row: V scratch) */
static void decode_one(const lac_engine *e, const decode_out *o, int b, uint32_t *row) {
    if (!e->cnt[b]) return;
    const uint32_t V = e->m->cfg.vocab_size;
    lac_quantize_freqs(o->p, e->sub_logits[b], V, row);
    o->sym[b] = (int32_t)lac_freqs_find(row, V, o->targets[b], &o->cum[b], &o->freq[b]);
}

static lac_status chunk_decode(lac_engine *e, const int *done, void *ctx, lac_error *err) {
    (void)done; /* one row per stream: no stream comes back in a later chunk */
    const decode_out *o = ctx;
    const size_t V = e->m->cfg.vocab_size;
    lac_status st = forward_to_scratch(e, err);
    if (st != LAC_OK) return st;
    /* each stream's row on its own (lock-step decoding: up to 64 rows a step, a quarter of a
     * step's time on one core when done in turn) */
    if (e->n_streams >= 4 && e->n_threads > 1) {
#pragma omp parallel for schedule(dynamic, 1) num_threads(e->n_threads)
        for (int b = 0; b < e->n_streams; b++)
            decode_one(e, o, b, e->qrows + (size_t)omp_get_thread_num() * V);
    } else {
        for (int b = 0; b < e->n_streams; b++) decode_one(e, o, b, e->qrows);
    }
    return LAC_OK;
}

static lac_status decode_unfused(lac_engine *e, const int32_t *const *tokens, const int *counts,
                                 long total, decode_out *o, lac_error *err) {
    const size_t V = e->m->cfg.vocab_size;
    const int chunk = scratch_rows(e);
    if (!e->scratch && !(e->scratch = malloc((size_t)chunk * V * sizeof(float))))
        return lac_fail(err, LAC_ERR_NOMEM, "engine: out of memory (logits)");
    if (!e->qrows && !(e->qrows = malloc((size_t)e->n_threads * V * sizeof *e->qrows)))
        return lac_fail(err, LAC_ERR_NOMEM, "engine: out of memory (frequencies)");
    return run_chunks(e, tokens, counts, total, chunk, chunk_decode, o, err);
}

lac_status lac_engine_forward_decode(lac_engine *e, const int32_t *const *tokens,
                                     const int *counts, const struct lac_coder_params *p,
                                     const uint32_t *targets, int32_t *sym, uint32_t *cum,
                                     uint32_t *freq, lac_error *err) {
    lac_error_clear(err); /* lac.h: msg is "" when the result is LAC_OK */
    long total;
    lac_status st = check_call(e, tokens, counts, sym, &total, err);
    if (st != LAC_OK) return st;
    if (!p || !targets || !cum || !freq)
        return lac_fail(err, LAC_ERR_ARG, "engine: coder params, targets, cum or freq is NULL");
    st = lac_coder_params_check(p, err);
    if (st != LAC_OK) return st;
    for (int b = 0; b < e->n_streams; b++) {
        if (counts[b] > 1)
            return lac_fail(err, LAC_ERR_ARG,
                            "engine: decode step: counts[%d] = %d (0 or 1 token per stream)", b,
                            counts[b]);
        if (counts[b] && (uint64_t)targets[b] >= ((uint64_t)1 << p->precision))
            return lac_fail(err, LAC_ERR_ARG, "engine: decode target %u of stream %d is not below 2^%u",
                            targets[b], b, p->precision);
    }
    if (total == 0) return LAC_OK;
    if (!e->ops->forward_decode || total > e->max_rows) {
        decode_out o = {.p = p, .targets = targets, .sym = sym, .cum = cum, .freq = freq};
        return decode_unfused(e, tokens, counts, total, &o, err);
    }
    st = e->ops->forward_decode(e->state, tokens, counts, e->pos, p, targets, sym, cum, freq,
                                err);
    if (st != LAC_OK) return st;
    for (int b = 0; b < e->n_streams; b++) e->pos[b] += counts[b];
    return LAC_OK;
}
