/* See segment.h. Cells of 64 bytes are classed text or binary by lacs_looks_binary; a text run
 * shorter than LACZ_MIN_TEXT that touches binary data becomes binary; a segment is a maximal
 * stretch of one class. */
#include "segment.h"

#include <string.h>

#include "stream_util.h"

static int cell_is_binary(const uint8_t *s, size_t n, size_t i) {
    size_t a = i * LACZ_CELL, len = n - a < LACZ_CELL ? n - a : LACZ_CELL;
    return lacs_looks_binary(s + a, len);
}

/* Cuts a long text segment at its last line end within 4 KiB before max. */
static size_t text_cut(const uint8_t *s, size_t max) {
    size_t lo = max > 4096 ? max - 4096 : 0;
    for (size_t i = max; i > lo; i--)
        if (s[i - 1] == '\n') return i;
    return max;
}

size_t lacz_next_segment(const uint8_t *s, size_t n, int final, size_t text_max, int *is_text) {
    size_t ncell = final ? (n + LACZ_CELL - 1) / LACZ_CELL : n / LACZ_CELL;
    int cls = -1; /* the segment's class: 1 binary, 0 text, -1 not yet known */
    size_t end = 0, i = 0;
    while (i < ncell) {
        int c = cell_is_binary(s, n, i);
        size_t j = i + 1;
        while (j < ncell && cell_is_binary(s, n, j) == c) j++;
        int at_end = j == ncell, eff = c;
        if (!c && (j - i) * LACZ_CELL < LACZ_MIN_TEXT) {
            if (at_end && !final) break; /* the run may still grow */
            if (cls == 1 || !at_end) eff = 1; /* binary before it, or after it */
        }
        if (cls == -1) cls = eff;
        else if (eff != cls) break;
        end = j;
        i = j;
        if (!cls && end * LACZ_CELL >= text_max) break;
    }
    if (cls == -1 || (end == ncell && !final)) return 0;
    size_t len = end * LACZ_CELL < n ? end * LACZ_CELL : n;
    *is_text = cls == 0;
    if (*is_text && len > text_max) len = text_cut(s, text_max);
    return len;
}
