/* Raw messages (lac_params.raw; docs/FORMAT.md, "Raw messages"): one range-coder stream of the
 * message's tokens and a closing <|endoftext|>, with nothing around it. */
#ifndef LAC_RAW_H
#define LAC_RAW_H
#include "lac.h"
lac_status lacz_compress_raw(const lac_model *m, const lac_params *p, lac_read_fn rd, void *rctx,
                             lac_write_fn wr, void *wctx, lac_stats *st, lac_error *err);
lac_status lacz_decompress_raw(const lac_model *m, const lac_params *p, lac_read_fn rd,
                               void *rctx, lac_write_fn wr, void *wctx, lac_stats *st,
                               lac_error *err);
#endif
