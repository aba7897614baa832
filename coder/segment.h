/* Cutting the input into segments (compress.c): runs of text for the model and runs of binary
 * data for the classic codecs, decided from the bytes alone, 64 bytes at a time. */
#ifndef LAC_SEGMENT_H
#define LAC_SEGMENT_H
#include <stddef.h>
#include <stdint.h>

#define LACZ_CELL 64u
/* A text run shorter than this next to binary data goes with the binary data: a file name
 * inside a tar header is not worth a model block. */
#define LACZ_MIN_TEXT 256u

/* The first segment of s[0..n): returns its length and sets *is_text. final: no byte follows
 * s[n-1] that may join it (end of input, or the caller's window is full). Without final, 0
 * means "more input is needed to decide". A text segment is cut at text_max bytes (at the last
 * line end in its final 4 KiB when there is one). */
size_t lacz_next_segment(const uint8_t *s, size_t n, int final, size_t text_max, int *is_text);
#endif
