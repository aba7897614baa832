/* The decompressor's state, shared by its stages: decompress.c (streams, headers, footers, the
 * block loop), decode_blocks.c (model blocks in lock-step, classic and stored blocks, checks
 * and output) and resync.c (salvage past a damaged block record). */
#ifndef LAC_DECOMPRESS_H
#define LAC_DECOMPRESS_H
#include <openssl/evp.h>
#include <stdint.h>

#include "container.h"
#include "container2.h"
#include "io.h"
#include "lac.h"

/* One block of either format version, as read from the file. */
typedef struct dblock {
    int method;          /* LAC_METHOD_* */
    uint32_t n_tokens;   /* model blocks: tokens (v2 partial blocks: counted while decoding) */
    uint32_t rows;       /* model blocks: most symbols to decode */
    int eot_ends;        /* v2 partial block: <|endoftext|> ends it */
    int ended;           /* ... and was decoded */
    int hold;            /* v2 last block: written after the footer's stream check */
    uint32_t plain_len;  /* 0 when only decoding tells (v2 model blocks) */
    uint32_t packed_len;
    int has_sum;         /* v1: sum8 is the plaintext's checksum */
    uint8_t sum8[8];
    uint64_t offset;     /* of its header / record */
    uint64_t index;      /* block number in its stream, from 0 */
    lacio_bytes packed, plain;
    int dead;        /* damaged: decoding failed, or (v2) the record's check failed */
    const char *why; /* what was wrong, when dead */
} dblock;

/* What a stream header says, either version. */
typedef struct dstream {
    int version;
    lac_coder_params coder;
    uint32_t block_tokens;
    int sha256; /* v2: the footer holds the whole SHA-256 */
    uint8_t hdr[LACZ2_HEADER_MAX]; /* v2: the header's bytes, covered by the first record */
    size_t hdr_n;
    uint64_t first_off; /* v2: offset of the first record */
    uint64_t hdr_off;   /* v2: offset of the header */
    /* v2: the header names another model: a real mismatch or a damaged header, which the first
     * record's check (it covers the header) tells apart (next_block_v2) */
    int id_mismatch;
    uint8_t id[LACZ2_ID_BYTES];
    /* v2 salvage: the first record did not parse or check, so nothing vouches for the header:
     * its P, s, T or model identity may be wrong, and a model block decoded with them passes
     * its own check (which covers the payload) and would write invented text. Such a stream's
     * model blocks are decoded in lock-step with a shadow encoder, and one is kept only when
     * its tokens code back to its payload byte for byte (lacd_flush). */
    int unvouched;
} dstream;

typedef struct decompressor {
    const lac_model *m;
    const lac_params *p;
    const lac_model_config *cfg;
    lac_engine *eng;
    int eng_B; /* the engine's streams (<= B: sized to the blocks at hand) */
    int B;
    dblock *blk; /* B slots of model blocks waiting for a lock-step batch */
    int nblk;
    dstream hs;
    lacio_writer w;
    lacio_reader r;
    EVP_MD_CTX *sha;
    uint64_t plain_bytes, blocks; /* this stream */
    uint64_t stream;              /* index of this stream in the concatenation */
    uint64_t plain_before;        /* original plaintext bytes of the earlier streams */
    uint32_t max_token_len;       /* the model's longest token, in bytes */
    /* salvage: damaged blocks of unknown length (this stream), and the damaged blocks after the
     * first of them, reported at its end (lacd_report_gaps) */
    int ngaps;
    lac_damage gap[64];
    /* salvage of a v2 stream: the rest of the input, read into memory to search it */
    lacio_bytes rest;
    size_t rest_pos;
    dblock *held; /* the decoded last block of a v2 stream, waiting for the footer */
    lac_stats st;
} decompressor;

/* decode_blocks.c */
/* Decodes the pending model blocks in lock-step and writes them in order. */
lac_status lacd_flush(decompressor *d, lac_error *err);
/* Decodes one stored or classic block (k holds its payload) and writes it. */
lac_status lacd_classic(decompressor *d, dblock *k, lac_error *err);
/* Checks a decoded block and writes it, or under salvage skips a damaged one. */
lac_status lacd_emit(decompressor *d, dblock *k, lac_error *err);
/* Records a damaged block of unknown plaintext length (salvage); its length comes from the
 * footer when it is the stream's only one. */
lac_status lacd_gap(decompressor *d, uint64_t index, uint64_t offset, lac_error *err);
/* decompress.c: reports the queued damage of the stream; foot_plain is the footer's plaintext
 * length, or UINT64_MAX when the footer is lost (a truncated or damaged stream end). */
lac_status lacd_report_gaps(decompressor *d, uint64_t foot_plain, uint64_t foff,
                            lac_error *err);

/* resync.c (salvage) */
/* v1: the block header in rec (read at *off) is damaged: slides forward to the next valid one. */
lac_status lacd_resync_v1(decompressor *d, uint8_t rec[LACZ_BLOCK_HEADER_SIZE], uint64_t *off,
                          lacz_block_header *bh, lac_error *err);
/* v2: the record at `off` is damaged: reads the rest of the input into memory and moves the
 * reader to the next offset holding a valid record (its check matches its payload) followed by
 * another valid record or the end of the stream. *found = 0 when there is none. */
lac_status lacd_resync_v2(decompressor *d, uint64_t off, int *found, lac_error *err);
/* v2: block k (record head[0..hn) at k->offset, payload read) failed its check: when the next
 * record is intact only the payload was damaged (k is skipped with its known length), else the
 * search of lacd_resync_v2 starts inside k. */
lac_status lacd_salvage_v2(decompressor *d, dblock *k, const uint8_t *head, size_t hn,
                           uint64_t *index, lac_error *err);
#endif
