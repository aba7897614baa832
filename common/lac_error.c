#include "lac_error.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

const char *lac_status_name(lac_status s) {
    switch (s) {
    case LAC_OK: return "ok";
    case LAC_ERR_ARG: return "argument";
    case LAC_ERR_IO: return "io";
    case LAC_ERR_NOMEM: return "out of memory";
    case LAC_ERR_FORMAT: return "format";
    case LAC_ERR_VERSION: return "version";
    case LAC_ERR_TRUNCATED: return "truncated";
    case LAC_ERR_CORRUPT: return "corrupt";
    case LAC_ERR_MODEL_MISMATCH: return "model mismatch";
    case LAC_ERR_UNSUPPORTED: return "unsupported";
    case LAC_ERR_DEVICE: return "device";
    case LAC_ERR_LIMIT: return "limit";
    case LAC_ERR_INTERRUPTED: return "interrupted";
    case LAC_ERR_INTERNAL: return "internal";
    }
    return "unknown";
}

void lac_error_clear(lac_error *err) {
    if (!err) return;
    err->code = LAC_OK;
    err->msg[0] = '\0';
}

lac_status lac_fail(lac_error *err, lac_status code, const char *fmt, ...) {
    if (!err) return code;
    err->code = code;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->msg, sizeof err->msg, fmt, ap);
    va_end(ap);
    /* keep messages on one line */
    for (char *p = err->msg; *p; p++)
        if (*p == '\n' || *p == '\r') *p = ' ';
    return code;
}
