/* bzip2 for the classic fallback (coder/codecs.h), default work factor. The stream's 4-byte
 * header "BZh<k>" is dropped and the decoder feeds it back with the k that bz_level gives for
 * the plain length: every block of a stream that decodes to plain_len bytes fits k * 100 kB
 * (below), so k only bounds the decoder's state (400 kB per step of k, 3.6 MB at k = 9) and
 * the encoder's (1.2 MB per step) by what the payload can need. The compressed bits are those
 * of bzip2 -9 at every size: an input that fits one block of level k is one block at level 9
 * too, and a block does not depend on the level it was made at. The low-level API is used
 * both ways: it shows where the stream ends (bytes after it are refused) and writes into
 * bounded buffers. */
#include <bzlib.h>
#include <limits.h>
#include <string.h>

#include "codecs.h"
#include "lac_error.h"

/* The block size level for plain_len bytes: a block holds the input after bzip2's first
 * run-length step, which writes a run of 4..255 equal bytes as 5 bytes, so at most 1.25 x
 * plain_len (+ the margin libbz2 keeps below 100000 k). Inputs above 639 920 bytes get 9, as
 * every input did before the level was fitted (those -9 streams decode the same). */
static int bz_level(size_t plain_len) {
    const size_t need = plain_len + plain_len / 4 + 100;
    return need > 800000 ? 9 : (int)(need / 100000) + 1;
}

static void bz_header(char h[4], size_t plain_len) {
    h[0] = 'B', h[1] = 'Z', h[2] = 'h', h[3] = (char)('0' + bz_level(plain_len));
}

static lac_status bz_fail(int r, const char *what, lac_error *err) {
    if (r == BZ_MEM_ERROR) return lac_fail(err, LAC_ERR_NOMEM, "bzip2: %s: out of memory", what);
    return lac_fail(err, LAC_ERR_CORRUPT, "bzip2: %s failed (libbz2 error %d)", what, r);
}

lac_status lacz_bzip2_compress(const uint8_t *in, size_t n, uint8_t *out, size_t cap,
                               size_t *out_len, lac_error *err) {
    if (n > UINT_MAX)
        return lac_fail(err, LAC_ERR_LIMIT, "bzip2: %zu bytes is beyond the library's 4 GiB", n);
    bz_stream s = {0};
    int r = BZ2_bzCompressInit(&s, bz_level(n), 0, 0);
    if (r != BZ_OK) return bz_fail(r, "encoder setup", err);
    /* the header goes to hdr (then dropped), everything after it to out */
    char hdr[4];
    s.next_in = (char *)(uintptr_t)in; /* libbz2 does not write through next_in */
    s.avail_in = (unsigned)n;
    s.next_out = hdr;
    s.avail_out = sizeof hdr;
    int in_hdr = 1;
    size_t left = cap; /* out bytes not yet handed to libbz2 */
    lac_status st = LAC_OK;
    for (;;) {
        if (s.avail_out == 0) {
            /* libbz2 calls an output-less call a sequence error: stop before it */
            if (left == 0) {
                st = lac_fail(err, LAC_ERR_LIMIT, "bzip2: output exceeds cap %zu", cap);
                break;
            }
            size_t k = left > UINT_MAX ? UINT_MAX : left;
            s.next_out = (char *)out + (cap - left);
            s.avail_out = (unsigned)k;
            left -= k;
            in_hdr = 0;
        }
        r = BZ2_bzCompress(&s, BZ_FINISH);
        if (r == BZ_STREAM_END) break;
        if (r != BZ_FINISH_OK) {
            st = bz_fail(r, "encode", err);
            break;
        }
    }
    if (st == LAC_OK) {
        size_t total = ((size_t)s.total_out_hi32 << 32) | s.total_out_lo32;
        char want[4];
        bz_header(want, n);
        if (in_hdr || total < sizeof hdr || memcmp(hdr, want, sizeof hdr))
            st = lac_fail(err, LAC_ERR_CORRUPT, "bzip2: encoder output lacks its header");
        else
            *out_len = total - sizeof hdr;
    }
    BZ2_bzCompressEnd(&s);
    return st;
}

lac_status lacz_bzip2_decompress(const uint8_t *in, size_t n, uint8_t *out, size_t plain_len,
                                 lac_error *err) {
    if (n > UINT_MAX || plain_len > UINT_MAX)
        return lac_fail(err, LAC_ERR_LIMIT, "bzip2: payload or plain length beyond 4 GiB");
    bz_stream s = {0};
    int r = BZ2_bzDecompressInit(&s, 0, 0);
    if (r != BZ_OK) return bz_fail(r, "decoder setup", err);
    /* the dropped header, then the payload; the output, then one spare byte that must stay
     * unwritten (a longer stream) */
    char spare, hdr[4];
    int fed_payload = 0, in_spare = 0;
    bz_header(hdr, plain_len);
    s.next_in = hdr;
    s.avail_in = sizeof hdr;
    s.next_out = (char *)out;
    s.avail_out = (unsigned)plain_len;
    lac_status st = LAC_OK;
    for (;;) {
        if (s.avail_in == 0 && !fed_payload) {
            s.next_in = (char *)(uintptr_t)in;
            s.avail_in = (unsigned)n;
            fed_payload = 1;
        }
        if (s.avail_out == 0 && !in_spare) {
            s.next_out = &spare;
            s.avail_out = 1;
            in_spare = 1;
        }
        unsigned ai = s.avail_in, ao = s.avail_out;
        r = BZ2_bzDecompress(&s);
        if (in_spare && s.avail_out == 0) {
            st = lac_fail(err, LAC_ERR_CORRUPT, "bzip2: payload expands beyond %zu bytes",
                          plain_len);
            break;
        }
        if (r == BZ_STREAM_END) {
            size_t total = ((size_t)s.total_out_hi32 << 32) | s.total_out_lo32;
            if (!fed_payload || s.avail_in != 0)
                st = lac_fail(err, LAC_ERR_CORRUPT, "bzip2: %u bytes after the end of the stream",
                              s.avail_in);
            else if (total != plain_len)
                st = lac_fail(err, LAC_ERR_CORRUPT, "bzip2: payload expands to %zu bytes, not %zu",
                              total, plain_len);
            break;
        }
        if (r != BZ_OK) {
            st = r == BZ_MEM_ERROR ? bz_fail(r, "decode", err)
                                   : lac_fail(err, LAC_ERR_CORRUPT,
                                              "bzip2: malformed payload (libbz2 error %d)", r);
            break;
        }
        if (fed_payload && s.avail_in == ai && s.avail_out == ao) { /* no progress */
            st = lac_fail(err, LAC_ERR_CORRUPT, "bzip2: payload truncated");
            break;
        }
    }
    BZ2_bzDecompressEnd(&s);
    return st;
}
