/* See stream_util.h. */
#include "stream_util.h"

#include <stdlib.h>
#include <string.h>

#include "codecs.h"

void lac_params_default(lac_params *p) {
    if (!p) return;
    memset(p, 0, sizeof *p);
    p->engine.device = LAC_DEVICE_AUTO;
    p->engine.cuda_index = 0;
    p->engine.n_threads = 0;
    p->engine.n_streams = 0; /* chosen for the device and its memory */
    p->engine.max_rows = 0;
    p->block_tokens = 0;
    lac_coder_params_default(&p->coder);
}

lac_status lacs_ensure_engine(const lac_model *m, const lac_params *p, int want,
                              int rows_per_stream, lac_engine **eng, int *eng_B, lac_error *err) {
    if (*eng && *eng_B >= want) return LAC_OK;
    lac_engine_free(*eng);
    *eng = NULL;
    *eng_B = 0;
    lac_engine_options o = p->engine;
    o.n_streams = want;
    o.max_rows = want * rows_per_stream;
    lac_status s = lac_engine_create(m, &o, eng, err);
    if (s == LAC_OK) *eng_B = want;
    return s;
}

int lacs_looks_binary(const uint8_t *s, size_t n) {
    size_t bad = 0;
    for (size_t i = 0; i < n;) {
        uint8_t c = s[i];
        if (c == 0) return 1;
        if (c < 0x80) {
            if ((c < 0x20 && !(c >= 0x09 && c <= 0x0d) && c != 0x1b) || c == 0x7f) bad++;
            i++;
            continue;
        }
        size_t len = c >= 0xc2 && c <= 0xdf ? 2 : c >= 0xe0 && c <= 0xef ? 3
                   : c >= 0xf0 && c <= 0xf4 ? 4 : 0;
        if (!len) {
            bad++;
            i++;
            continue;
        }
        size_t j = 1;
        while (j < len && i + j < n && (s[i + j] & 0xc0) == 0x80) j++;
        if (j != len && i + j != n) bad += j;
        i += j;
    }
    return bad * 8 > n;
}

void *lacs_calloc(size_t n, size_t size) { return calloc(n ? n : 1, size ? size : 1); }

const char *lac_method_name(int method) { return lacz_method_name(method); }
