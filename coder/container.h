/* The .lacz container (docs/FORMAT.md): serialising and strictly parsing the stream header,
 * block headers, the end marker and the footer. No model, no I/O: fixed-size byte records in,
 * validated structs out. Every parse error names the record, the field and its file offset. */
#ifndef LAC_CONTAINER_H
#define LAC_CONTAINER_H
#include <stddef.h>
#include <stdint.h>
#include "lac.h"

/* Bit-reversed "LACZ": not valid UTF-8, so never mistaken for text. */
#define LACZ_MAGIC_0 0x32
#define LACZ_MAGIC_1 0x82
#define LACZ_MAGIC_2 0xC2
#define LACZ_MAGIC_3 0x5A

#define LACZ_V1_VERSION 1u
#define LACZ_HEADER_SIZE 132u
#define LACZ_BLOCK_HEADER_SIZE 28u
#define LACZ_FOOTER_SIZE 52u

/* Caps (documented in docs/FORMAT.md): a parser refuses larger values before allocating. */
#define LACZ_MAX_BLOCK_TOKENS 65536u
#define LACZ_MAX_BLOCK_PLAIN (1u << 24) /* 16 MiB of plaintext per block */
/* A coded block never needs more than 4 bytes per token plus the coder's flush. */
#define LACZ_CODED_MAX_PACKED(n_tokens) (4u * (uint32_t)(n_tokens) + 16u)

/* No flags are defined in format version 1; any set bit is refused. */
#define LACZ_FLAGS_KNOWN 0u

enum {
    LACZ_BLOCK_CODED = 0x43,  /* 'C': range-coded tokens */
    LACZ_BLOCK_STORED = 0x53, /* 'S': raw bytes */
    LACZ_BLOCK_END = 0x45     /* 'E': end marker, the footer follows */
};

typedef struct lacz_header {
    uint32_t format_version;   /* LACZ_V1_VERSION */
    uint32_t numerics_version; /* LAC_NUMERICS_VERSION */
    uint32_t flags;
    lac_coder_params coder;
    uint32_t block_tokens;
    uint8_t model_hash[32];
    char model_name[64]; /* NUL-terminated, NUL-padded */
} lacz_header;

typedef struct lacz_block_header {
    uint8_t type; /* LACZ_BLOCK_* */
    uint32_t n_tokens;
    uint32_t plain_len;
    uint32_t packed_len;
    uint8_t checksum[8]; /* first 8 bytes of SHA-256 of the block's plaintext */
} lacz_block_header;

typedef struct lacz_footer {
    uint64_t plain_bytes; /* total plaintext of this stream */
    uint64_t blocks;      /* data blocks (coded + stored) of this stream */
    uint8_t sha256[32];   /* SHA-256 of the whole plaintext of this stream */
} lacz_footer;

/* SHA-256 (OpenSSL EVP) of n bytes. Returns 0, or -1 if OpenSSL failed. */
int lacz_sha256(const void *data, size_t n, uint8_t out[32]);
/* The 8-byte block checksum of a plaintext. */
int lacz_block_checksum(const void *data, size_t n, uint8_t out[8]);

/* 1 when buf[0..n) starts with the magic (n >= 4). */
int lacz_is_magic(const uint8_t *buf, size_t n);
/* 1 when buf[0..n), n < 4, is the start of the magic (a truncated magic). */
int lacz_is_magic_prefix(const uint8_t *buf, size_t n);

/* Fills h for a new file: current versions, no flags, the given params and model. */
void lacz_header_init(lacz_header *h, const lac_coder_params *coder, uint32_t block_tokens,
                      const uint8_t model_hash[32], const char *model_name);
/* Checks the fields a writer controls (params, block_tokens, name). */
lac_status lacz_header_check(const lacz_header *h, uint64_t offset, lac_error *err);

void lacz_header_write(const lacz_header *h, uint8_t out[LACZ_HEADER_SIZE]);
/* Strict parse: magic, version, header check, then every field. offset is where the header
 * starts in the file (for messages). */
lac_status lacz_header_parse(const uint8_t in[LACZ_HEADER_SIZE], uint64_t offset,
                             lacz_header *h, lac_error *err);

void lacz_block_header_write(const lacz_block_header *b, uint8_t out[LACZ_BLOCK_HEADER_SIZE]);
/* Strict parse of a block header or the end marker. block_tokens is the stream header's (a
 * coded block holds at most that many tokens). */
lac_status lacz_block_header_parse(const uint8_t in[LACZ_BLOCK_HEADER_SIZE], uint64_t offset,
                                   uint32_t block_tokens, lacz_block_header *b, lac_error *err);
/* Fills b as the end marker. */
void lacz_end_marker(lacz_block_header *b);

void lacz_footer_write(const lacz_footer *f, uint8_t out[LACZ_FOOTER_SIZE]);
lac_status lacz_footer_parse(const uint8_t in[LACZ_FOOTER_SIZE], uint64_t offset,
                             lacz_footer *f, lac_error *err);

#endif
