/*
 * lac.h — the one public header of liblac, the lossless LLM text compressor.
 *
 * Everything that cli/, weights_tools/ and bench/ use is declared here. The library never
 * calls exit() and never prints: every function that can fail returns a lac_status and fills
 * a lac_error with a one-line message that names the file or field concerned.
 *
 * Pieces, in dependency order:
 *   errors      lac_status, lac_error
 *   models      lac_model (an mmapped model file, see docs/MODEL_FORMAT.md)
 *   tokenizer   GPT-2 byte-level BPE, streaming, lossless on any byte string
 *   engine      GPT-2 forward pass under docs/NUMERICS.md, CPU or CUDA, B streams with KV cache
 *   coder       logits -> integer frequencies -> 64-bit range coder
 *   stream API  lac_compress / lac_decompress / lac_list over the .lacz format (docs/FORMAT.md)
 */
#ifndef LAC_H
#define LAC_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define LAC_VERSION_MAJOR 0
#define LAC_VERSION_MINOR 1
#define LAC_VERSION_PATCH 0
#define LAC_VERSION_STRING "0.1.0"

/* Version of docs/NUMERICS.md. Recorded in every .lacz; a decoder refuses other versions. */
#define LAC_NUMERICS_VERSION 1
/* Version of docs/FORMAT.md (.lacz container) that lac_compress writes; every earlier version
 * keeps decoding. */
#define LAC_FORMAT_VERSION 2
/* Version of docs/MODEL_FORMAT.md (model files). */
#define LAC_MODEL_FORMAT_VERSION 1

/* ------------------------------------------------------------------------------------------
 * Errors
 * ---------------------------------------------------------------------------------------- */
typedef enum lac_status {
    LAC_OK = 0,
    LAC_ERR_ARG,            /* invalid argument from the caller */
    LAC_ERR_IO,             /* open/read/write/mmap failed */
    LAC_ERR_NOMEM,          /* allocation failed */
    LAC_ERR_FORMAT,         /* malformed input (model file, checkpoint, JSON, .lacz) */
    LAC_ERR_VERSION,        /* a version this build does not know (e.g. a future format) */
    LAC_ERR_TRUNCATED,      /* input ends early */
    LAC_ERR_CORRUPT,        /* a checksum or hash does not match */
    LAC_ERR_MODEL_MISMATCH, /* the .lacz was made with another model */
    LAC_ERR_UNSUPPORTED,    /* not available in this build (e.g. CUDA) */
    LAC_ERR_DEVICE,         /* GPU runtime error */
    LAC_ERR_LIMIT,          /* a value beyond a documented cap */
    LAC_ERR_INTERRUPTED,    /* the caller's interrupt flag was raised */
    LAC_ERR_INTERNAL        /* a library liblac relies on failed (OpenSSL's SHA-256) */
} lac_status;

typedef struct lac_error {
    lac_status code;
    char msg[512]; /* one line, no trailing newline; "" when code == LAC_OK */
} lac_error;

/* Short stable name of a status ("io", "format", ...). */
const char *lac_status_name(lac_status s);
/* Clears an error (code LAC_OK, empty message). NULL-safe. */
void lac_error_clear(lac_error *err);

/* ------------------------------------------------------------------------------------------
 * Models
 * ---------------------------------------------------------------------------------------- */
typedef enum lac_dtype { LAC_DTYPE_F32 = 0, LAC_DTYPE_F16 = 1, LAC_DTYPE_BF16 = 2 } lac_dtype;

typedef struct lac_model_config {
    uint32_t n_layer;
    uint32_t n_head;
    uint32_t n_embd;     /* C */
    uint32_t n_ctx;      /* max positions (learned position table size) */
    uint32_t vocab_size; /* V */
    uint32_t n_inner;    /* MLP width, 4*C for all GPT-2 models */
    float ln_eps;        /* LayerNorm epsilon, 1e-5 for GPT-2 */
    uint32_t eot_token;  /* <|endoftext|>, 50256 for GPT-2 */
    lac_dtype storage;   /* how tensors are stored in the file (always fp32 in compute) */
    int is_random;       /* 1 when made by `weights_tools random` */
    char name[64];       /* human name, e.g. "lac-tiny" or "gpt2" (NUL-terminated) */
} lac_model_config;

typedef struct lac_model lac_model;

/* Opens a model file (mmap), checks its structure and its identity hash. */
lac_status lac_model_open(const char *path, lac_model **out, lac_error *err);
void lac_model_close(lac_model *m);
const lac_model_config *lac_model_get_config(const lac_model *m);
/* SHA-256 identity of the model (docs/MODEL_FORMAT.md): every .lacz records it. */
const uint8_t *lac_model_hash(const lac_model *m);
uint64_t lac_model_param_count(const lac_model *m);
uint64_t lac_model_file_size(const lac_model *m);
/* The bytes of token id in the model's vocabulary (NULL and *len = 0 out of range): decoding
 * needs no tokenizer (no regex to compile, no caches to clear). */
const uint8_t *lac_model_token_bytes(const lac_model *m, uint32_t id, size_t *len);
/* The length of the model's longest token in bytes (a decoder's lookahead bound). */
uint32_t lac_model_max_token_len(const lac_model *m);
/* Lower-case hex of 32 bytes into out[65]. */
void lac_hash_hex(const uint8_t hash[32], char out[65]);

/* ---- model tools (weights_tools uses these) ---- */
/* Converts a Hugging Face GPT-2 directory (config.json, model.safetensors or shards with
 * model.safetensors.index.json, vocab.json + merges.txt or encoder.json + vocab.bpe) into a
 * model file. storage: the dtype to store tensors in; -1 keeps the checkpoint's own dtype.
 * name: the model's human name (NULL: the directory's base name). On error no file is left. */
lac_status lac_convert_hf(const char *hf_dir, const char *out_path, int storage,
                          const char *name, lac_error *err);
/* Shapes of the official configs: "gpt2", "gpt2-medium", "gpt2-large", "gpt2-xl", "tiny"
 * (lac-tiny's shapes: 8 layers, 256 wide, 4 heads). */
lac_status lac_model_config_preset(const char *preset, lac_model_config *cfg, lac_error *err);
/* Writes a model with random weights of cfg's shapes (marked random in the header). vocab_from
 * is a model whose tokenizer is copied, or NULL for the GPT-2 vocab files found in hf_vocab_dir
 * (vocab.json + merges.txt), or both NULL for a synthetic byte-level vocabulary. */
lac_status lac_model_write_random(const lac_model_config *cfg, uint64_t seed,
                                  const lac_model *vocab_from, const char *hf_vocab_dir,
                                  lac_dtype storage, const char *out_path, lac_error *err);

/* ------------------------------------------------------------------------------------------
 * Tokenizer (GPT-2 byte-level BPE; see engine/tokenizer.c for the invalid-UTF-8 rule)
 * ---------------------------------------------------------------------------------------- */
typedef struct lac_tokenizer lac_tokenizer;

/* A growable id array owned by the caller. Zero-initialise it; free with lac_tokens_free. */
typedef struct lac_tokens {
    int32_t *ids;
    size_t n, cap;
} lac_tokens;
void lac_tokens_free(lac_tokens *t);

lac_status lac_tokenizer_create(const lac_model *m, lac_tokenizer **out, lac_error *err);
void lac_tokenizer_free(lac_tokenizer *tk);
/* Forget buffered input (start of a new independent text). */
void lac_tokenizer_reset(lac_tokenizer *tk);
/* Feeds n bytes; appends every finished token to *out. Only the trailing pre-token that could
 * still grow is held back. final != 0 flushes everything. Chunking never changes the ids. */
lac_status lac_tokenizer_feed(lac_tokenizer *tk, const void *data, size_t n, int final,
                              lac_tokens *out, lac_error *err);
/* The bytes of one token id (NULL/0 for an id out of range). */
const uint8_t *lac_token_bytes(const lac_tokenizer *tk, int32_t id, size_t *len);

/* ------------------------------------------------------------------------------------------
 * Engine: the GPT-2 forward pass
 * ---------------------------------------------------------------------------------------- */
typedef enum lac_device {
    LAC_DEVICE_AUTO = 0,       /* CUDA when built and a GPU is present, else CPU */
    LAC_DEVICE_CPU = 1,        /* fast CPU path: OpenMP + AVX2/AVX-512, same bits as scalar */
    LAC_DEVICE_CPU_SCALAR = 2, /* the plain-loop reference */
    LAC_DEVICE_CUDA = 3
} lac_device;

/* Most streams an engine (and the stream API) takes. */
#define LAC_MAX_STREAMS 4096

/* Most devices one engine spreads its streams over (lac_engine_options.devices). */
#define LAC_MAX_DEVICES 16
/* lac_engine_options.n_devices: every GPU present (resolved by lac_engine_create). */
#define LAC_DEVICES_ALL (-1)

typedef struct lac_engine_options {
    lac_device device;
    int cuda_index; /* which GPU for LAC_DEVICE_CUDA (n_devices 0 or 1) */
    int n_threads;  /* CPU threads; 0 = OpenMP default */
    int n_streams;  /* B: independent streams, each with its own KV cache of n_ctx tokens;
                     * 0 = chosen for the device and its memory (lac_engine_auto_streams with
                     * LAC_PURPOSE_DECOMPRESS); lac_engine_streams tells the count */
    int max_rows;   /* most tokens (summed over streams) in one forward call; 0 = chosen
                     * (n_ctx on a CPU, 16384 on a GPU) */
    int n_devices;  /* 0 or 1: one device. N > 1: N engines of kind `device`, the streams cut
                     * into N contiguous shares, run at the same time (one host thread each);
                     * the bits are those of one device. CUDA: on GPUs devices[0..N); CPU: N
                     * engines on the same cores (tests the dispatch; not faster).
                     * LAC_DEVICES_ALL with LAC_DEVICE_CUDA: every GPU present. */
    int devices[LAC_MAX_DEVICES]; /* GPU indices when n_devices > 1 (CUDA only) */
} lac_engine_options;

/* What an engine is for, when its size is chosen automatically. */
typedef enum lac_engine_purpose {
    LAC_PURPOSE_COMPRESS = 0,   /* blocks are prefills: a few streams are enough */
    LAC_PURPOSE_DECOMPRESS = 1  /* one token per stream per step: as many streams as fit */
} lac_engine_purpose;

typedef struct lac_engine lac_engine;

/* The device `d` stands for here: LAC_DEVICE_AUTO becomes LAC_DEVICE_CUDA when CUDA is built
 * and a GPU is present, else LAC_DEVICE_CPU. For CUDA, *free_bytes (when non-NULL) receives the
 * free memory of GPU cuda_index (0 if it cannot be read); for CPUs it is set to 0. */
lac_device lac_device_resolve(lac_device d, int cuda_index, uint64_t *free_bytes);

/* Parses a device name into o->device, o->cuda_index, o->n_devices and o->devices (the other
 * fields are left alone): "auto", "cpu", "cpu-scalar", "cuda" (GPU 0), "cuda:N", "cuda:all"
 * (every GPU), "cuda:0,2" (a list), and "cpu,cpu" / "cpu-scalar,cpu-scalar" (several CPU
 * engines: for testing the multi-device dispatch). LAC_ERR_ARG names what is wrong. */
lac_status lac_device_parse(const char *name, lac_engine_options *o, lac_error *err);
/* Parses a storage dtype name: "f32", "f16" or "bf16". */
lac_status lac_dtype_parse(const char *name, lac_dtype *out, lac_error *err);
/* "f32", "f16", "bf16" ("?" for other values). */
const char *lac_dtype_name(lac_dtype d);

/* Bytes of KV cache for B streams: 2 * n_layer * n_ctx * n_embd * sizeof(float) * B. */
uint64_t lac_engine_kv_bytes(const lac_model_config *cfg, int n_streams);

/* The number of streams (blocks at once) worth using for `purpose` on `device` (AUTO is
 * resolved): on a GPU as many KV caches as fit in a third of its free memory, at most 256; on
 * the CPU for decompression as many as fit in a quarter of the free memory (512 MiB..1 GiB of
 * KV cache), at most 64; on the CPU for compression (and the scalar reference) 512 MiB, at
 * most 8. *max_rows (when non-NULL) receives the max_rows to use, or 0 for the default n_ctx
 * (a GPU gets 16384). Never fails: 1 for a NULL model. */
int lac_engine_auto_streams(const lac_model *m, lac_device device, int cuda_index,
                            lac_engine_purpose purpose, int *max_rows);
/* Fills the zero n_streams and max_rows of *o as lac_engine_auto_streams chooses for o->device,
 * o->cuda_index and purpose; fields already set are kept. */
/* lac_engine_auto_streams for the options' device, times its number of devices (n_devices,
 * every GPU for LAC_DEVICES_ALL), at most LAC_MAX_STREAMS; *max_rows likewise (0: n_ctx per
 * device). The stream API sizes its lock-step batches with this. */
int lac_engine_options_streams(const lac_model *m, const lac_engine_options *o,
                               lac_engine_purpose purpose, int *max_rows);
void lac_engine_options_auto(const lac_model *m, lac_engine_purpose purpose,
                             lac_engine_options *o);

lac_status lac_engine_create(const lac_model *m, const lac_engine_options *opt,
                             lac_engine **out, lac_error *err);
void lac_engine_free(lac_engine *e);
/* Streams of the engine (opt->n_streams, or the automatic choice when it was 0). */
int lac_engine_streams(const lac_engine *e);
/* The model the engine runs. */
const lac_model *lac_engine_model(const lac_engine *e);
/* Device actually used ("cpu-avx512", "cpu-avx2", "cpu-scalar", "cuda:0 NVIDIA H100", ...;
 * several devices: "2 devices: cuda:0 ... + cuda:1 ..."). */
const char *lac_engine_device_name(const lac_engine *e);
/* Devices the engine spreads its streams over (1 for one device, 0 for NULL), and the rows
 * (tokens) device i has computed so far: how a caller sees that every device had work. */
int lac_engine_devices(const lac_engine *e);
uint64_t lac_engine_device_rows(const lac_engine *e, int i);
/* Empties stream b's KV cache: its next token is at position 0. */
void lac_engine_reset(lac_engine *e, int stream);
int lac_engine_position(const lac_engine *e, int stream);
/* Rolls stream b back to position pos (0 <= pos <= its position): its next token is at pos,
 * as if the tokens from pos on had never been given. Exact, because the KV cache is positional
 * (a row reads only the cache entries below its own position): after truncating, every later
 * row has the bits it would have had without the discarded tokens (speculative decoding runs
 * guessed tokens as one prefill and keeps the rows up to the first wrong guess). */
lac_status lac_engine_truncate(lac_engine *e, int stream, int pos, lac_error *err);

/* Appends counts[b] tokens to each stream b (0 <= b < n_streams; counts[b] may be 0) at the
 * stream's current position and writes one logit row (vocab_size floats) per token to
 * logits[b]. Prefill is counts[b] = T, a decoding step is counts[b] = 1: the rows are bitwise
 * identical either way (docs/NUMERICS.md). */
lac_status lac_engine_forward(lac_engine *e, const int32_t *const *tokens, const int *counts,
                              float *const *logits, lac_error *err);

/* Coder parameters are declared below; these two calls fuse the forward pass with the
 * quantizer so that a GPU never ships whole logit rows to the host. Results are bitwise what
 * lac_engine_forward followed by lac_quantize_freqs gives. */
struct lac_coder_params;
/* Compression: for row i of stream b, cum[b][i] = sum of the frequencies of ids below
 * targets[b][i], and freq[b][i] = that target's frequency. */
lac_status lac_engine_forward_code(lac_engine *e, const int32_t *const *tokens, const int *counts,
                                   const int32_t *const *targets,
                                   const struct lac_coder_params *p, uint32_t *const *cum,
                                   uint32_t *const *freq, lac_error *err);
/* Decompression: one full frequency row (vocab_size uint32, summing to 2^P) per token. */
lac_status lac_engine_forward_freqs(lac_engine *e, const int32_t *const *tokens,
                                    const int *counts, const struct lac_coder_params *p,
                                    uint32_t *const *freqs, lac_error *err);
/* Decompression, one step: counts[b] is 0 or 1 (tokens[b][0] is stream b's next input). For
 * each stream with a token, the frequency row of that position is searched for the symbol whose
 * interval [cum, cum + freq) holds targets[b] (a value below 2^P, from the range decoder):
 * sym[b], cum[b] and freq[b] receive it; streams without a token are left alone. Bitwise what
 * lac_engine_forward_freqs + lac_freqs_find give, but only 12 bytes per stream leave a GPU. */
lac_status lac_engine_forward_decode(lac_engine *e, const int32_t *const *tokens,
                                     const int *counts, const struct lac_coder_params *p,
                                     const uint32_t *targets, int32_t *sym, uint32_t *cum,
                                     uint32_t *freq, lac_error *err);

/* ------------------------------------------------------------------------------------------
 * Coder: quantized logits -> integer frequencies -> range coder (docs/FORMAT.md §coder)
 * ---------------------------------------------------------------------------------------- */
/* The accepted coder parameters (as zstd exports ZSTD_minCLevel): docs/NUMERICS.md §9. */
#define LAC_PRECISION_MIN 28u
#define LAC_PRECISION_MAX 31u
#define LAC_PRECISION_DEFAULT 30u
#define LAC_FRAC_BITS_MIN 8u
#define LAC_FRAC_BITS_MAX 12u
#define LAC_FRAC_BITS_DEFAULT 12u

typedef struct lac_coder_params {
    uint32_t precision;  /* P: frequencies sum to 2^P, LAC_PRECISION_MIN..LAC_PRECISION_MAX */
    uint32_t frac_bits;  /* s: logits are quantized to multiples of 2^-s in log2 units,
                            LAC_FRAC_BITS_MIN..LAC_FRAC_BITS_MAX */
    float temperature;   /* T > 0, default 1 */
} lac_coder_params;

/* Defaults: P = 30, s = 12, T = 1. */
void lac_coder_params_default(lac_coder_params *p);
lac_status lac_coder_params_check(const lac_coder_params *p, lac_error *err);

/* Fills freq[0..V-1] (each >= 1, sum exactly 2^P) from one fp32 logit row. Integer-only after
 * the documented quantization step; identical on every machine. */
void lac_quantize_freqs(const lac_coder_params *p, const float *logits, uint32_t vocab,
                        uint32_t *freq);
/* The symbol s of a frequency row with cum(s) <= target < cum(s) + freq[s], where cum(s) is the
 * sum of freq[i] for i < s; a target at or above the row's total is clamped to the last
 * symbol. Writes *cum and *freq (either may be NULL). Returns s (0 for an empty row). */
uint32_t lac_freqs_find(const uint32_t *freq, uint32_t vocab, uint32_t target, uint32_t *cum,
                        uint32_t *sym_freq);

/* ------------------------------------------------------------------------------------------
 * Stream API: the .lacz format
 * ---------------------------------------------------------------------------------------- */
/* Reads up to n bytes; returns the count (0 at end of input) or -1 on error (errno set). */
typedef long (*lac_read_fn)(void *ctx, void *buf, size_t n);
/* Writes all n bytes; returns 0, or -1 on error (errno set). */
typedef int (*lac_write_fn)(void *ctx, const void *buf, size_t n);
/* Progress: bytes of input whose coding (compression) or decoding (decompression) is finished,
 * with partial credit for a batch of blocks in flight, and output produced so far. Called after
 * every forward call and every block written. */
typedef void (*lac_progress_fn)(void *ctx, uint64_t in_bytes, uint64_t out_bytes);

/* Salvage: one damaged block that was skipped (its plaintext is missing from the output). */
typedef struct lac_damage {
    uint64_t stream;       /* which concatenated .lacz stream, from 0 */
    uint64_t block;        /* block index within that stream, from 0 */
    uint64_t file_offset;  /* of the block header in the input */
    uint64_t plain_offset; /* where its plaintext starts in the original (undamaged) output;
                            * UINT64_MAX: unknown (after a block of unknown length) */
    uint64_t plain_len;    /* bytes of plaintext missing; UINT64_MAX: unknown (below) */
    uint64_t out_offset;   /* where they are missing in this output: the bytes written before */
    /* v2 model blocks store no plaintext length, nor can a damaged v1 block header be trusted
     * with one: only the stream's footer gives the total. A stream's only such block gets its
     * length from it; several share it: unknown_len is the bytes they miss together
     * (UINT64_MAX: the footer is lost too), unknown_blocks how many they are (docs/FORMAT.md,
     * "Salvage"). Both 0 when plain_len is known. */
    uint64_t unknown_len, unknown_blocks;
} lac_damage;
typedef void (*lac_damage_fn)(void *ctx, const lac_damage *d);

/* How a segment of the input was coded (docs/FORMAT.md, v2 block kinds). */
enum {
    LAC_METHOD_MODEL = 0,  /* the model and the range coder */
    LAC_METHOD_STORED = 1, /* raw bytes */
    LAC_METHOD_LZMA2 = 2,
    LAC_METHOD_ZSTD = 3,
    LAC_METHOD_BROTLI = 4,
    LAC_METHOD_BZIP2 = 5
};
#define LAC_METHODS 6
#define LAC_METHOD_BIT(m) (1u << (m))
/* "model", "stored", "lzma2", "zstd", "brotli", "bzip2" ("?" for other values). */
const char *lac_method_name(int method);

typedef struct lac_params {
    lac_engine_options engine;     /* device, threads; n_streams = blocks coded or decoded at
                                    * once, 0 (the default) = lac_engine_auto_streams' choice
                                    * for the device, its memory and the direction; max_rows
                                    * 0 = chosen too */
    uint32_t block_tokens;         /* compression: tokens per block, 0 = n_ctx */
    lac_coder_params coder;        /* compression only; decompression reads the header */
    int salvage;                   /* decompression: write intact blocks, skip damaged ones */
    lac_progress_fn progress;
    void *progress_ctx;
    volatile const int *interrupt; /* when non-NULL and non-zero, stop with LAC_ERR_INTERRUPTED */
    lac_damage_fn damage;          /* salvage: called for each skipped block (may be NULL) */
    void *damage_ctx;
    int check_sha256;              /* compression: end each stream with the whole SHA-256 of
                                    * its plaintext (default: its first 4 bytes) */
    unsigned methods;              /* compression: LAC_METHOD_BIT()s the writer may choose from
                                    * (stored is always allowed); 0 = all */
    int raw;                       /* both ways: a bare message (docs/FORMAT.md, "Raw
                                    * messages"): no header, no check; the model, P, s and T
                                    * must be the same on both sides; the decoder checks
                                    * nothing and refuses only what no message could be
                                    * (no end within its bytes: LAC_ERR_CORRUPT) */
} lac_params;

void lac_params_default(lac_params *p);

typedef struct lac_stats {
    uint64_t in_bytes, out_bytes;
    uint64_t plain_bytes, packed_bytes; /* plaintext and .lacz sizes, whichever direction */
    uint64_t tokens;
    uint64_t blocks, stored_blocks, damaged_blocks;
    /* per method (LAC_METHOD_*): blocks, plaintext bytes and payload bytes */
    uint64_t method_blocks[LAC_METHODS], method_plain[LAC_METHODS], method_packed[LAC_METHODS];
    double seconds;
    char device[192]; /* the engine's device (lac_engine_device_name), "" if the model never
                       * ran */
    int devices;      /* devices the engine used (lac_engine_devices), 0 if the model never ran */
} lac_stats;

lac_status lac_compress(const lac_model *m, const lac_params *p, lac_read_fn rd, void *rctx,
                        lac_write_fn wr, void *wctx, lac_stats *st, lac_error *err);
/* wr may be NULL: test mode, everything is decoded and verified, nothing written. */
lac_status lac_decompress(const lac_model *m, const lac_params *p, lac_read_fn rd, void *rctx,
                          lac_write_fn wr, void *wctx, lac_stats *st, lac_error *err);

/* What `lacgpu -l` shows, read without running the model. */
typedef struct lac_file_info {
    uint32_t format_version, numerics_version;
    uint8_t model_hash[32]; /* v1: the whole identity; v2: its first model_hash_len bytes */
    int model_hash_len;     /* 32 (v1) or 6 (v2) */
    char model_name[64];    /* v1 only ("" in v2, which does not record it) */
    lac_coder_params coder;
    uint32_t block_tokens;
    uint64_t blocks, stored_blocks, tokens;
    uint64_t plain_bytes, packed_bytes;
    int streams; /* concatenated .lacz streams */
    int sha256;  /* every stream ends with a whole SHA-256 (v1 always; v2 with check_sha256) */
    /* per method (LAC_METHOD_*): blocks, plaintext bytes (0 for v2 model blocks, whose length
     * only decoding tells: see plain_bytes for the total) and payload bytes */
    uint64_t method_blocks[LAC_METHODS], method_plain[LAC_METHODS], method_packed[LAC_METHODS];
} lac_file_info;
lac_status lac_list(lac_read_fn rd, void *rctx, lac_file_info *info, lac_error *err);

/* One block as its record tells it (lac_list_blocks). */
typedef struct lac_block_info {
    uint64_t stream;     /* which concatenated stream, from 0 */
    uint64_t index;      /* block number in its stream, from 0 */
    uint64_t offset;     /* of its header or record in the input */
    int method;          /* LAC_METHOD_* */
    uint32_t n_tokens;   /* 0 when only decoding tells (v2 partial model blocks) */
    uint32_t plain_len;  /* 0 when only decoding tells (v2 model blocks) */
    uint32_t packed_len; /* payload bytes */
} lac_block_info;
typedef void (*lac_block_fn)(void *ctx, const lac_block_info *b);
/* lac_list, calling fn (may be NULL) for every block, in file order. */
lac_status lac_list_blocks(lac_read_fn rd, void *rctx, lac_block_fn fn, void *fn_ctx,
                           lac_file_info *info, lac_error *err);

/* One stream of a .lacz file as lac_list_streams tells it. */
typedef struct lac_stream_info {
    uint64_t index;       /* from 0 */
    uint64_t offset;      /* of its header in the input */
    uint64_t packed_len;  /* bytes from its header to the end of its footer */
    uint64_t plain_bytes; /* its plaintext (from its footer) */
    uint64_t blocks;
    uint8_t model_hash[32]; /* the model it names, as lac_file_info's (which is the first's) */
    int model_hash_len;
} lac_stream_info;
typedef void (*lac_stream_fn)(void *ctx, const lac_stream_info *s);
/* lac_list_blocks, also calling sfn (may be NULL) after each stream's last block. */
lac_status lac_list_streams(lac_read_fn rd, void *rctx, lac_block_fn bfn, lac_stream_fn sfn,
                            void *fn_ctx, lac_file_info *info, lac_error *err);

/* ------------------------------------------------------------------------------------------
 * Chunks for independent workers (docs/SCALE.md): worker k of n finds its piece from the input
 * alone, so that n processes (GNU parallel, a Slurm array) agree without talking.
 * ---------------------------------------------------------------------------------------- */
/* Reads up to n bytes at offset; returns the count (0 at the end) or -1 on error (errno set). */
typedef long (*lac_pread_fn)(void *ctx, void *buf, size_t n, uint64_t offset);
/* Most pieces (n) lac_chunk_range and lac_chunk_streams take. */
#define LAC_MAX_CHUNKS 1000000
/* The bytes [*begin, *end) of piece k (1..n) of an input of `size` bytes. Cut i (1..n-1) is
 * just after the line end nearest i*size/n (integer division), looked for within
 * min(64 KiB, (size/n - 1)/2) bytes either side (ties: the earlier); without one there, the
 * exact mark. Pieces are never empty: n may be at most size (1 for an empty input). Compressed
 * pieces, concatenated in order, are one .lacz of the whole input. */
lac_status lac_chunk_range(lac_pread_fn rd, void *ctx, uint64_t size, int k, int n,
                           uint64_t *begin, uint64_t *end, lac_error *err);
/* The bytes [*begin, *end) of group k (1..n) of the streams of a .lacz read by rd (from its
 * start): streams [floor((k-1)S/n), floor(kS/n)) of its S streams, so that the groups' outputs
 * concatenated are the whole plaintext. n may be at most S (LAC_ERR_LIMIT names S). */
lac_status lac_chunk_streams(lac_read_fn rd, void *rctx, int k, int n, uint64_t *begin,
                             uint64_t *end, lac_error *err);

#ifdef __cplusplus
}
#endif
#endif /* LAC_H */
