/* The .lacz version 2 records (docs/FORMAT.md, "Version 2"): the stream header, block records
 * and the footer, written to byte arrays and strictly parsed from them. Variable-length fields
 * are LEB128 varints in their shortest form. No model and no I/O here. */
#ifndef LAC_CONTAINER2_H
#define LAC_CONTAINER2_H
#include <stddef.h>
#include <stdint.h>

#include "lac.h"

#define LACZ2_VERSION 2
#define LACZ2_ID_BYTES 6                /* model identity: the first 6 bytes of its SHA-256 */
#define LACZ2_DEFAULT_BLOCK_TOKENS 1024 /* when the header has no block_tokens field */
#define LACZ2_HEADER_MAX 32             /* 11 bytes at defaults; every optional field: 25 */
#define LACZ2_RECORD_MAX 12             /* tag (<= 5) + varint (<= 4) + check (2) */
#define LACZ2_FOOTER_MAX 42             /* end tag + plain_bytes (<= 10) + SHA-256 */

/* Header flags (the high 5 bits of byte 4, whose low 3 bits are the version): which optional
 * fields follow the model identity, in this order. */
enum {
    LACZ2_F_NUMERICS = 1, /* varint numerics_version (absent: 1) */
    LACZ2_F_CODER = 2,    /* P (1 byte), s (1 byte), temperature (4 bytes, binary32) */
    LACZ2_F_BLOCK = 4,    /* varint block_tokens (absent: 1024) */
    LACZ2_F_SHA256 = 8,   /* the stream check is the whole SHA-256 (absent: its first 4 bytes) */
    LACZ2_F_KNOWN = 15
};

/* Record kinds: the low 3 bits of a record's tag; packed_len is the tag >> 3. */
enum {
    LACZ2_END = 0,        /* tag 0: the footer follows */
    LACZ2_MODEL_FULL = 1, /* block_tokens tokens, range-coded with the model */
    LACZ2_MODEL_PART = 2, /* fewer tokens, then <|endoftext|> coded with the model */
    LACZ2_STORED = 3,     /* the payload is the plaintext */
    LACZ2_LZMA2 = 4,      /* kinds 4..7: a varint plain_len follows the tag; the payload is */
    LACZ2_ZSTD = 5,       /* that method's encoding of the plaintext (method = kind - 2, */
    LACZ2_BROTLI = 6,     /* the lacz_method numbers of codecs.h) */
    LACZ2_BZIP2 = 7,
    /* not a tag value: kind 0 with a payload is the stream's last block, a partial model block
     * without a check of its own (the stream check covers it); the footer follows it */
    LACZ2_MODEL_LAST = 8
};
#define LACZ2_MAX_PLAIN (1u << 24) /* plaintext of one stored or classic record */

typedef struct lacz2_header {
    uint32_t numerics_version;
    lac_coder_params coder;
    uint32_t block_tokens;
    uint8_t model_id[LACZ2_ID_BYTES];
    int sha256; /* 1: the footer holds the whole SHA-256 */
} lacz2_header;

typedef struct lacz2_record {
    int kind;            /* LACZ2_* */
    uint32_t n_tokens;   /* full model blocks; 0 (only decoding tells) for the others */
    uint32_t plain_len;  /* stored and classic kinds; 0 (unknown until decoded) for model */
    uint32_t packed_len; /* payload bytes after the record */
    uint16_t check;      /* first 2 bytes of SHA-256([stream header |] record bytes before the
                          * check | payload): the first record of a stream covers the header */
    uint8_t head[LACZ2_RECORD_MAX];
    size_t head_len; /* record bytes before the check (what the check covers, with the payload) */
} lacz2_record;

/* Shortest LEB128 of v into out (<= 10 bytes); returns its length. */
size_t lacz2_varint_put(uint8_t *out, uint64_t v);
/* Parses a varint of at most max_len bytes from in[0..n). Returns its length, 0 when n bytes
 * do not finish it (more input needed, n < max_len), or -1 when it is malformed (too long, not
 * in its shortest form). */
int lacz2_varint_get(const uint8_t *in, size_t n, size_t max_len, uint64_t *v);

/* A header for a new stream: defaults are left out. */
void lacz2_header_init(lacz2_header *h, const lac_coder_params *coder, uint32_t block_tokens,
                       const uint8_t model_hash[32], int sha256);
size_t lacz2_header_write(const lacz2_header *h, uint8_t out[LACZ2_HEADER_MAX]);
/* Parses in[0..n) (starting with the magic and the version byte). LAC_OK with *used;
 * LAC_ERR_TRUNCATED with *used = 0 when n bytes are not enough yet; other errors name the
 * field and its offset (`off` is the header's offset in the file). The header has no check of
 * its own: the stream's first record check covers it. */
lac_status lacz2_header_parse(const uint8_t *in, size_t n, uint64_t off, lacz2_header *h,
                              size_t *used, lac_error *err);

/* Fills r's head (tag and varint) for a record; the check is set by lacz2_record_seal. */
void lacz2_record_init(lacz2_record *r, int kind, uint32_t n_tokens, uint32_t plain_len,
                       uint32_t packed_len);
/* The record's check; prefix[0..np) is the stream header for a stream's first record, else
 * np = 0. */
uint16_t lacz2_record_check(const lacz2_record *r, const uint8_t *prefix, size_t np,
                            const uint8_t *payload);
/* The record's bytes (head then check) into out; returns the length. */
size_t lacz2_record_write(const lacz2_record *r, uint16_t check, uint8_t out[LACZ2_RECORD_MAX]);
/* Strict parse of a record (or the end tag) from in[0..n): LAC_OK with *used bytes;
 * LAC_ERR_TRUNCATED with *used = 0 when more bytes are needed; LAC_ERR_FORMAT naming the field
 * and offset otherwise. The check is read, not verified (it needs the payload). */
lac_status lacz2_record_parse(const uint8_t *in, size_t n, uint64_t off, uint32_t block_tokens,
                              lacz2_record *r, size_t *used, lac_error *err);
/* Most payload bytes a record of this kind and n_tokens may have. */
uint32_t lacz2_model_max_packed(uint32_t n_tokens);

/* 1 for the model kinds. */
static inline int lacz2_is_model(int kind) {
    return kind == LACZ2_MODEL_FULL || kind == LACZ2_MODEL_PART || kind == LACZ2_MODEL_LAST;
}
/* 1 for the classic codecs' kinds (a varint plain_len follows the tag). */
static inline int lacz2_is_classic(int kind) { return kind >= LACZ2_LZMA2 && kind <= LACZ2_BZIP2; }
/* 1 when the footer follows the record. */
static inline int lacz2_ends_stream(int kind) {
    return kind == LACZ2_END || kind == LACZ2_MODEL_LAST;
}

/* Footer (after the end tag or the last block): varint plain_bytes, then 4 or 32 bytes of
 * SHA-256 of the stream's plaintext. with_end: write the end tag first. */
size_t lacz2_footer_write(uint64_t plain_bytes, const uint8_t sha256[32], int full, int with_end,
                          uint8_t out[LACZ2_FOOTER_MAX]);
#endif
