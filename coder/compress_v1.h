/* The format version 1 writer (compress_v1.c): test support only. */
#ifndef LAC_COMPRESS_V1_H
#define LAC_COMPRESS_V1_H
#include "lac.h"
lac_status lacz_compress_v1(const lac_model *m, const lac_params *p, lac_read_fn rd, void *rctx,
                            lac_write_fn wr, void *wctx, lac_stats *st, lac_error *err);
#endif
