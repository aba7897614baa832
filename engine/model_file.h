/* The on-disk layout of a lacgpu model file (docs/MODEL_FORMAT.md), internal to engine/.
 *
 * All integers are little-endian. Sections start on 64-byte boundaries:
 *   header (256 bytes) | tok_off u32[V+1] | tok_bytes | merges u32[2*M] | directory | tensors
 * model.c reads files, model_write.c writes them; both use the layout and hash helpers here. */
#ifndef LAC_MODEL_FILE_H
#define LAC_MODEL_FILE_H
#include <stddef.h>
#include <stdint.h>
#include <openssl/evp.h>

#include "lac.h"
#include "model.h"
#include "lac_le.h"
#include "vocab.h"

#define LACM_MAGIC "LACMODL\x1a"
#define LACM_HEADER_SIZE 256u
#define LACM_ALIGN 64u
#define LACM_DIR_ENTRY_SIZE 80u
#define LACM_NAME_LEN 48u /* tensor name field in a directory entry, NUL-padded */
#define LACM_HASH_TAG "lacgpu model identity v1" /* domain tag, hashed with its NUL */
#define LACM_FLAG_RANDOM 1u

/* Caps (a file beyond these is refused with LAC_ERR_LIMIT). */
#define LACM_MAX_LAYER 256u
#define LACM_MAX_EMBD 16384u
#define LACM_MAX_HEAD 1024u
#define LACM_MAX_CTX 65536u
#define LACM_MAX_VOCAB (1u << 22)
#define LACM_MAX_INNER 65536u
#define LACM_MAX_MERGES (1u << 22)
#define LACM_MAX_VOCAB_BYTES (1u << 28)
#define LACM_MAX_TOKEN_BYTES 1024u /* one token's bytes, as engine/vocab_hf.c */

/* Header field offsets. */
enum {
    LACM_H_MAGIC = 0,        /* 8 bytes */
    LACM_H_VERSION = 8,      /* u32 format version */
    LACM_H_HEADER_SIZE = 12, /* u32, 256 */
    LACM_H_N_LAYER = 16,
    LACM_H_N_HEAD = 20,
    LACM_H_N_EMBD = 24,
    LACM_H_N_CTX = 28,
    LACM_H_VOCAB = 32,
    LACM_H_N_INNER = 36,
    LACM_H_LN_EPS = 40,      /* f32 bits */
    LACM_H_EOT = 44,
    LACM_H_STORAGE = 48,     /* lac_dtype */
    LACM_H_FLAGS = 52,       /* bit 0: random weights */
    LACM_H_NAME = 56,        /* 64 bytes, NUL-terminated, NUL-padded */
    LACM_H_N_MERGES = 120,
    LACM_H_N_TENSORS = 124,
    LACM_H_TOK_OFF = 128,    /* u64 offsets of the sections */
    LACM_H_TOK_BYTES = 136,
    LACM_H_TOK_BYTES_LEN = 144,
    LACM_H_MERGES = 152,
    LACM_H_DIR = 160,
    LACM_H_DATA = 168,       /* first tensor */
    LACM_H_FILE_SIZE = 176,
    LACM_H_HASH = 184,       /* 32 bytes: identity hash */
    LACM_H_CHECK = 216,      /* 8 bytes: first 8 bytes of SHA-256 of header[0..216) */
    /* 224..255 reserved, zero */
};

/* Tensor directory entry (80 bytes): name[48], u32 dtype, u32 ndim, u32 shape[2],
 * u64 offset, u64 nbytes. */
enum {
    LACM_E_NAME = 0,
    LACM_E_DTYPE = 48,
    LACM_E_NDIM = 52,
    LACM_E_SHAPE0 = 56,
    LACM_E_SHAPE1 = 60,
    LACM_E_OFFSET = 64,
    LACM_E_NBYTES = 72,
};

/* Per-layer tensors, in file order. */
enum {
    LACM_T_LN1_W, LACM_T_LN1_B, LACM_T_ATTN_W, LACM_T_ATTN_B, LACM_T_PROJ_W, LACM_T_PROJ_B,
    LACM_T_LN2_W, LACM_T_LN2_B, LACM_T_FC_W, LACM_T_FC_B, LACM_T_FCPROJ_W, LACM_T_FCPROJ_B,
    LACM_T_PER_LAYER
};

/* Number of tensors: wte, wpe, 12 per layer, ln_f.weight, ln_f.bias. */
static inline uint32_t lacm_n_tensors(uint32_t n_layer) { return 4u + 12u * n_layer; }

/* Canonical (Hugging Face, no prefix) name and shape of tensor i in file order.
 * Returns the number of dimensions (1 or 2). name must hold LACM_NAME_LEN bytes. */
int lacm_tensor_spec(const lac_model_config *cfg, uint32_t i, char *name, uint32_t shape[2]);

/* Checks a config's fields against the caps (used by the loader and the writer). */
lac_status lacm_check_config(const char *label, const lac_model_config *c, lac_error *err);

/* Byte size of one element of a storage dtype (4 or 2), 0 for an unknown dtype. */
size_t lacm_dtype_size(uint32_t dtype);
const char *lacm_dtype_name(uint32_t dtype);

static inline uint64_t lacm_align(uint64_t x) {
    return (x + (LACM_ALIGN - 1)) & ~(uint64_t)(LACM_ALIGN - 1);
}

/* Exact conversions between fp32 and the 16-bit dtypes. Narrowing rounds to nearest even;
 * the callers reject values that do not fit (overflow to infinity). */
float lacm_f16_to_f32(uint16_t h);
float lacm_bf16_to_f32(uint16_t h);
uint16_t lacm_f32_to_f16(float f);
uint16_t lacm_f32_to_bf16(float f);
/* Element i of a little-endian F32/F16/BF16 array at any alignment, widened to fp32. */
float lacm_load_value(const uint8_t *s, lac_dtype dt, size_t i);

/* Feeds the identity-hash prefix (domain tag, computation-defining config fields, vocab and
 * merges) into ctx. Tensor fp32 values follow in file order. */
int lacm_hash_prefix(EVP_MD_CTX *ctx, const lac_model_config *cfg, const lac_vocab *v);


/* ---- streaming writer (engine/model_write.c) ------------------------------------------------
 * Tensors are appended in file order, in pieces of any size, from fp32/f16/bf16 sources: the
 * writer narrows to the storage dtype, hashes the widened values, and at the end writes the
 * header. Writing to a path goes through a temp file in the same directory that is renamed on
 * success and removed on failure or abort. */
typedef struct lacm_writer lacm_writer;

/* Checks cfg (shapes, caps, vocab_size == v->n_tokens, eot < V, name) and starts a file.
 * out_path NULL: writes into memory (lacm_writer_finish_mem). */
lac_status lacm_writer_begin(lacm_writer **out, const char *out_path, const lac_model_config *cfg,
                             const lac_vocab *v, lac_error *err);
/* Appends n values of dtype src_dtype (unaligned pointers are fine). label names the source
 * (file and tensor) in error messages, or NULL. */
lac_status lacm_writer_append(lacm_writer *w, const void *src, lac_dtype src_dtype, uint64_t n,
                              const char *label, lac_error *err);
/* Index of the tensor the next append goes to (lacm_n_tensors when all are written). */
uint32_t lacm_writer_tensor(const lacm_writer *w);
/* Finishes a file: header, flush, fsync, rename. Frees w in every case. */
lac_status lacm_writer_finish(lacm_writer *w, lac_error *err);
/* Finishes an in-memory image: *buf (malloc'd) of *size bytes. Frees w in every case. */
lac_status lacm_writer_finish_mem(lacm_writer *w, uint8_t **buf, size_t *size, lac_error *err);
/* Abandons w (removes the temp file). NULL-safe. */
void lacm_writer_abort(lacm_writer *w);

/* ---- loader (engine/model.c) ---- */
/* Parses and checks an image (mmapped file or memory). label names it in messages. On success
 * m's pointers point into img (F32) or into memory owned by m. */
lac_status lacm_parse(const uint8_t *img, size_t size, const char *label, lac_model *m,
                      lac_error *err);
#endif
