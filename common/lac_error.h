/* Internal error helpers shared by every part of liblac. */
#ifndef LAC_ERROR_INTERNAL_H
#define LAC_ERROR_INTERNAL_H
#include "lac.h"

#if defined(__GNUC__)
#define LAC_PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#define LAC_PRINTF(a, b)
#endif

/* Sets err (when non-NULL) to code with a printf-style one-line message; returns code, so
 * error paths read `return lac_fail(err, LAC_ERR_FORMAT, "%s: bad magic", path);`. */
lac_status lac_fail(lac_error *err, lac_status code, const char *fmt, ...) LAC_PRINTF(3, 4);

#endif
