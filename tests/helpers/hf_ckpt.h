/* Test helper: writes small synthetic Hugging Face GPT-2 checkpoint directories (config.json,
 * safetensors single or sharded, vocab.json + merges.txt or encoder.json + vocab.bpe), in every
 * layout the converter must accept, plus deliberately broken variants.
 *
 * Tensors are numbered in GPT-2 order: 0 wte, 1 wpe, then 12 per layer (ln_1.weight, ln_1.bias,
 * attn.c_attn.weight, attn.c_attn.bias, attn.c_proj.weight, attn.c_proj.bias, ln_2.weight,
 * ln_2.bias, mlp.c_fc.weight, mlp.c_fc.bias, mlp.c_proj.weight, mlp.c_proj.bias), then
 * ln_f.weight, ln_f.bias. hf_ckpt_value() gives every element's value; the values are multiples
 * of 1/256 below 0.5 in magnitude, exact in F32, F16 and BF16. */
#ifndef HF_CKPT_H
#define HF_CKPT_H
#include <stddef.h>
#include <stdint.h>

typedef struct hf_ckpt_opts {
    uint32_t n_layer, n_head, n_embd, n_ctx;
    uint32_t n_merges;       /* vocab_size = 256 + n_merges + 1 (<|endoftext|> last), <= 64 */
    const char *dtype;       /* "F32", "F16" or "BF16" */
    int prefix;              /* names start with "transformer." */
    int attn_buffers;        /* add h.N.attn.bias [1,1,n_ctx,n_ctx] and h.N.attn.masked_bias [] */
    int lm_head;             /* 0 absent, 1 present and equal to wte, 2 present and different */
    int shards;              /* 0: model.safetensors; N >= 1: N shards + index.json */
    int encoder_names;       /* encoder.json + vocab.bpe instead of vocab.json + merges.txt */
    int n_inner_null;        /* "n_inner": null instead of 4*n_embd */
    /* faults (applied to model.safetensors or the first shard) */
    const char *skip_tensor;      /* HF name (without prefix) left out */
    const char *bad_shape_tensor; /* HF name whose first dimension is off by one (data too) */
    const char *bad_dtype;        /* dtype string written for wte */
    int overlap;                  /* wpe's data_offsets overlap wte's */
    int out_of_range;             /* the last tensor's data_offsets end past the data */
    uint64_t header_len_add;      /* added to the 8-byte header length */
    uint64_t truncate;            /* bytes cut off the end of the file */
    int garbage_header;           /* the JSON header is not JSON */
    const char *config_extra;     /* extra members for config.json, e.g. "\"a\": true" */
    int bad_config_json;          /* config.json is not JSON */
    int bad_index_json;           /* model.safetensors.index.json is not JSON (shards only) */
} hf_ckpt_opts;

/* A small valid checkpoint: 2 layers, 2 heads, n_embd 16, n_ctx 16, 20 merges, F32. */
void hf_ckpt_defaults(hf_ckpt_opts *o);
/* Creates dir (mkdir -p of the last component) and writes the checkpoint. 0 on success. */
int hf_ckpt_write(const char *dir, const hf_ckpt_opts *o);
/* Value of element i of tensor k (GPT-2 order above) of a checkpoint. */
float hf_ckpt_value(uint32_t k, uint64_t i);
uint32_t hf_ckpt_vocab_size(const hf_ckpt_opts *o);
/* Raw bytes of token id (as written to vocab.json), length in *len. */
const uint8_t *hf_ckpt_token(const hf_ckpt_opts *o, uint32_t id, size_t *len);
/* Merge pair j (left id, right id). */
void hf_ckpt_merge(uint32_t j, uint32_t *left, uint32_t *right);

/* Independent fp16 references for tests: decoding by ldexp (portable), and the CPU's F16C
 * conversions (round to nearest even) where available (hf_have_hw_f16() != 0). */
float hf_f16_decode(uint16_t h);
int hf_have_hw_f16(void);
uint16_t hf_hw_f32_to_f16(float f);

/* Test scratch directories: a fresh directory under /tmp, and recursive removal. */
char *hf_tmpdir(void);
void hf_rmtree(const char *dir);
/* Number of entries in dir whose name contains needle. */
int hf_count_entries(const char *dir, const char *needle);
#endif
