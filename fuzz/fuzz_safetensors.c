/* libFuzzer target for the Hugging Face checkpoint parsers of engine/convert_hf.c, through
 * their in-memory entry points (engine/hf_internal.h): config.json and safetensors headers.
 *
 * Input: u16 LE k, then k bytes of config.json text, then a safetensors image. Checks, besides
 * ASan/UBSan and the error-message rules: an accepted config is within the model-file caps
 * (n_embd % n_head == 0, eot < V); an accepted safetensors image, re-read here with cJSON,
 * has every entry inside the data section, sized shape x dtype, and no two non-empty entries
 * sharing a byte. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "fuzz_common.h"
#include "hf_internal.h"
#include "model_file.h"

typedef struct {
    double b, e;
} range;

static int cmp_range(const void *a, const void *b) {
    const range *x = a, *y = b;
    return x->b < y->b ? -1 : x->b > y->b;
}

/* Independent check of an accepted image: ranges inside the data, no overlaps. */
static void check_accepted(const uint8_t *buf, size_t size, size_t n_tensors) {
    uint64_t n = lac_le_get64(buf);
    if (n > size - 8) FUZZ_FAIL("accepted a header length beyond the file");
    double data_len = (double)(size - 8 - n);
    cJSON *j = cJSON_ParseWithLength((const char *)buf + 8, (size_t)n);
    if (!j) FUZZ_FAIL("accepted a header cJSON cannot parse");
    size_t cnt = 0, k = 0;
    for (cJSON *it = j->child; it; it = it->next) cnt++;
    range *r = calloc(cnt ? cnt : 1, sizeof *r);
    for (cJSON *it = j->child; it; it = it->next) {
        if (!strcmp(it->string, "__metadata__")) continue;
        cJSON *of = cJSON_GetObjectItemCaseSensitive(it, "data_offsets");
        double b = cJSON_GetArrayItem(of, 0)->valuedouble, e = cJSON_GetArrayItem(of, 1)->valuedouble;
        if (!(b >= 0 && e >= b && e <= data_len)) FUZZ_FAIL("accepted offsets [%g, %g) outside %g", b, e, data_len);
        if (e > b) r[k++] = (range){b, e};
    }
    if (k > n_tensors) FUZZ_FAIL("more entries than the parser counted");
    qsort(r, k, sizeof *r, cmp_range);
    for (size_t i = 1; i < k; i++)
        if (r[i].b < r[i - 1].e) FUZZ_FAIL("accepted overlapping tensors [%g,%g) and [%g,%g)",
                                           r[i - 1].b, r[i - 1].e, r[i].b, r[i].e);
    /* (r[i-1].e is the running maximum: sorted, pairwise-disjoint so far) */
    free(r);
    cJSON_Delete(j);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 2) return 0;
    size_t k = (size_t)(data[0] | data[1] << 8);
    if (k > size - 2) k = size - 2;
    /* exact-size copies, so that ASan sees any read past either part */
    char *cfg_txt = malloc(k ? k : 1);
    size_t sn = size - 2 - k;
    uint8_t *st_img = malloc(sn ? sn : 1);
    if (!cfg_txt || !st_img) abort();
    memcpy(cfg_txt, data + 2, k);
    memcpy(st_img, data + 2 + k, sn);

    lac_error err;
    lac_model_config cfg;
    lac_status st = lac_hf_parse_config(cfg_txt, k, "config.json", &cfg, &err);
    fuzz_check_error(st, &err);
    if (st == LAC_OK) {
        if (!cfg.n_head || cfg.n_embd % cfg.n_head || cfg.eot_token >= cfg.vocab_size ||
            cfg.n_layer > LACM_MAX_LAYER || cfg.vocab_size > LACM_MAX_VOCAB ||
            cfg.n_ctx > LACM_MAX_CTX || cfg.n_inner > LACM_MAX_INNER ||
            !(cfg.ln_eps > 0 && cfg.ln_eps < 1))
            FUZZ_FAIL("accepted an out-of-range config");
    }

    size_t nt = 0;
    st = lac_hf_check_safetensors(st_img, sn, "model.safetensors", &nt, &err);
    fuzz_check_error(st, &err);
    if (st == LAC_OK) check_accepted(st_img, sn, nt);
    free(cfg_txt);
    free(st_img);
    return 0;
}
