/* In-memory entry points of the Hugging Face converter (engine/convert_hf.c), for the fuzzers
 * (fuzz/fuzz_safetensors.c) and tests. Not part of the API. */
#ifndef LAC_HF_INTERNAL_H
#define LAC_HF_INTERNAL_H
#include <stddef.h>
#include <stdint.h>
#include "lac.h"

/* Parses config.json text (len bytes, not NUL-terminated) as lac_convert_hf does. label names
 * it in messages. */
lac_status lac_hf_parse_config(const char *json, size_t len, const char *label,
                               lac_model_config *cfg, lac_error *err);
/* Parses and checks a safetensors image (header length, JSON header, every entry's dtype,
 * shape and data_offsets, no overlaps) as lac_convert_hf does for each file. *n_tensors
 * (may be NULL) receives the number of tensor entries. */
lac_status lac_hf_check_safetensors(const uint8_t *buf, size_t size, const char *label,
                                    size_t *n_tensors, lac_error *err);
#endif
