/* Salvage (lac_params.salvage, lacgpu -d --salvage): damage inside one block of a multi-block
 * file costs exactly that block. Every other block's plaintext comes back byte for byte, the
 * damaged block is reported through lac_params.damage with its stream, index, file offset and
 * plaintext range, and the result is still LAC_ERR_CORRUPT. Uses the tiny random model
 * (tests/helpers/lacz_testutil.h) with small blocks, so that files have many blocks. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lac.h"
#include "lacz_testutil.h"

static lac_model *g_m;

static void setup(void) {
    g_m = tiny_model(7);
    cr_assert(g_m);
}
static void teardown(void) { lac_model_close(g_m); }

TestSuite(salvage, .init = setup, .fini = teardown);

/* Text the tiny model codes (merged tokens), with a binary run in the middle (stored block). */
static tmem plaintext(void) {
    tmem t = {0};
    static const char a[] = "the tree in the rain, and then the sun shone on the hill. she said "
                            "that the old stone house on the north road had stood there since "
                            "the last time it snowed, and the sheep were in the shed.\n";
    tmem_write(&t, a, sizeof a - 1);
    uint8_t bin[200];
    for (int i = 0; i < 200; i++) bin[i] = (uint8_t)(i * 37 + 1);
    tmem_write(&t, bin, sizeof bin);
    tmem_write(&t, a, sizeof a - 1);
    return t;
}

typedef struct reports {
    lac_damage d[64];
    int n;
} reports;

static void on_damage(void *ctx, const lac_damage *d) {
    reports *r = ctx;
    if (r->n < 64) r->d[r->n] = *d;
    r->n++;
}

typedef struct run {
    lac_status s;
    lac_stats st;
    reports rep;
    tmem out;
    char msg[512];
} run;

static void salvage_run(const tmem *z, int streams, int salvage, run *r) {
    lac_params p;
    tiny_params(&p, 8, streams);
    p.salvage = salvage;
    p.damage = on_damage;
    memset(&r->rep, 0, sizeof r->rep);
    p.damage_ctx = &r->rep;
    lac_error err;
    r->s = decompress_mem(g_m, &p, z->p, z->n, &r->out, &r->st, &err);
    snprintf(r->msg, sizeof r->msg, "%s", err.msg);
}

static tmem compress_text(const tmem *t) {
    lac_params p;
    tiny_params(&p, 8, 1);
    tmem z;
    lac_error err;
    cr_assert_eq(compress_mem_v1(g_m, &p, t->p, t->n, &z, &err), LAC_OK, "%s", err.msg);
    return z;
}

/* out must be t without [off, off + len). */
static void expect_all_but(const tmem *out, const tmem *t, uint64_t off, uint64_t len) {
    cr_assert_eq(out->n, t->n - len, "%zu bytes out, %zu expected", out->n, (size_t)(t->n - len));
    cr_assert_arr_eq(out->p, t->p, off, "bytes before the damaged block differ");
    cr_assert_arr_eq(out->p + off, t->p + off + len, t->n - off - len,
                     "bytes after the damaged block differ");
}

/* Damage the payload of each block in turn (first byte: never slack), with 1 and 3 streams. */
Test(salvage, each_block_in_turn) {
    tmem t = plaintext(), z = compress_text(&t);
    rec_block b[256];
    int nb = walk_blocks(z.p, z.n, b, 256, NULL);
    cr_assert_gt(nb, 8, "want many blocks, got %d", nb);
    int stored = 0;
    for (int k = 0; k < nb; k++) stored += b[k].type == LACZ_BLOCK_STORED;
    cr_assert_gt(stored, 0, "want a stored block too");
    for (int streams = 1; streams <= 3; streams += 2)
        for (int k = 0; k < nb; k++) {
            uint8_t *pay = z.p + b[k].off + LACZ_BLOCK_HEADER_SIZE;
            pay[0] ^= 0xA5;
            run r;
            salvage_run(&z, streams, 1, &r);
            pay[0] ^= 0xA5;
            cr_assert_eq(r.s, LAC_ERR_CORRUPT, "block %d: %s", k, r.msg);
            cr_assert_eq(r.st.damaged_blocks, 1, "block %d", k);
            cr_assert_eq(r.rep.n, 1, "block %d: %d reports", k, r.rep.n);
            cr_assert_eq(r.rep.d[0].stream, 0);
            cr_assert_eq(r.rep.d[0].block, (uint64_t)k);
            cr_assert_eq(r.rep.d[0].file_offset, b[k].off);
            cr_assert_eq(r.rep.d[0].plain_offset, b[k].plain_off);
            cr_assert_eq(r.rep.d[0].plain_len, b[k].plain_len);
            expect_all_but(&r.out, &t, b[k].plain_off, b[k].plain_len);
            tmem_free(&r.out);
        }
    tmem_free(&z);
    tmem_free(&t);
}

/* Several damaged bytes in one block, and two damaged blocks: each is reported, the rest is
 * intact. */
Test(salvage, two_damaged_blocks) {
    tmem t = plaintext(), z = compress_text(&t);
    rec_block b[256];
    int nb = walk_blocks(z.p, z.n, b, 256, NULL);
    int k1 = 1, k2 = nb - 2;
    for (uint32_t i = 0; i < b[k1].packed_len; i += 3) z.p[b[k1].off + LACZ_BLOCK_HEADER_SIZE + i] ^= 0xFF;
    z.p[b[k2].off + LACZ_BLOCK_HEADER_SIZE] ^= 0x01;
    run r;
    salvage_run(&z, 2, 1, &r);
    cr_assert_eq(r.s, LAC_ERR_CORRUPT, "%s", r.msg);
    cr_assert(strstr(r.msg, "2 damaged blocks"), "%s", r.msg);
    cr_assert_eq(r.rep.n, 2);
    cr_assert_eq(r.rep.d[0].block, (uint64_t)k1);
    cr_assert_eq(r.rep.d[1].block, (uint64_t)k2);
    size_t l1 = b[k1].plain_len, l2 = b[k2].plain_len;
    size_t o1 = (size_t)b[k1].plain_off, o2 = (size_t)b[k2].plain_off;
    cr_assert_eq(r.out.n, t.n - l1 - l2);
    cr_assert_arr_eq(r.out.p, t.p, o1);
    cr_assert_arr_eq(r.out.p + o1, t.p + o1 + l1, o2 - o1 - l1);
    cr_assert_arr_eq(r.out.p + o2 - l1, t.p + o2 + l2, t.n - o2 - l2);
    tmem_free(&r.out);
    tmem_free(&z);
    tmem_free(&t);
}

/* Without salvage the same damage stops the decoder at that block, naming it and its offset;
 * what was written before is intact. */
Test(salvage, without_salvage_the_block_is_named) {
    tmem t = plaintext(), z = compress_text(&t);
    rec_block b[256];
    int nb = walk_blocks(z.p, z.n, b, 256, NULL);
    int k = nb / 2;
    z.p[b[k].off + LACZ_BLOCK_HEADER_SIZE] ^= 0x40;
    run r;
    salvage_run(&z, 1, 0, &r);
    cr_assert_eq(r.s, LAC_ERR_CORRUPT, "%s", r.msg);
    char want[64];
    snprintf(want, sizeof want, "block %d at offset %zu", k, b[k].off);
    cr_assert(strstr(r.msg, want), "'%s' not in: %s", want, r.msg);
    cr_assert_eq(r.rep.n, 0, "no salvage: no reports");
    cr_assert_leq(r.out.n, b[k].plain_off);
    cr_assert_arr_eq(r.out.p, t.p, r.out.n);
    tmem_free(&r.out);
    tmem_free(&z);
    tmem_free(&t);
}

/* Concatenated streams: a damaged block of the second stream is reported with stream 1 and
 * its offset in the whole output. */
Test(salvage, second_stream) {
    tmem t = plaintext(), z = compress_text(&t);
    rec_block b[256];
    int nb = walk_blocks(z.p, z.n, b, 256, NULL);
    size_t n1 = z.n;
    tmem zz = {0};
    tmem_write(&zz, z.p, n1);
    tmem_write(&zz, z.p, n1);
    int k = 2;
    zz.p[n1 + b[k].off + LACZ_BLOCK_HEADER_SIZE] ^= 0x22;
    run r;
    salvage_run(&zz, 1, 1, &r);
    cr_assert_eq(r.s, LAC_ERR_CORRUPT, "%s", r.msg);
    cr_assert_eq(r.rep.n, 1);
    cr_assert_eq(r.rep.d[0].stream, 1);
    cr_assert_eq(r.rep.d[0].block, (uint64_t)k);
    cr_assert_eq(r.rep.d[0].file_offset, n1 + b[k].off);
    cr_assert_eq(r.rep.d[0].plain_offset, t.n + b[k].plain_off);
    tmem tt = {0};
    tmem_write(&tt, t.p, t.n);
    tmem_write(&tt, t.p, t.n);
    expect_all_but(&r.out, &tt, t.n + b[k].plain_off, b[k].plain_len);
    (void)nb;
    tmem_free(&tt);
    tmem_free(&r.out);
    tmem_free(&zz);
    tmem_free(&z);
    tmem_free(&t);
}

/* An intact file under salvage: OK, no reports, exact output. */
Test(salvage, intact_file) {
    tmem t = plaintext(), z = compress_text(&t);
    run r;
    salvage_run(&z, 2, 1, &r);
    cr_assert_eq(r.s, LAC_OK, "%s", r.msg);
    cr_assert_eq(r.rep.n, 0);
    cr_assert_eq(r.out.n, t.n);
    cr_assert_arr_eq(r.out.p, t.p, t.n);
    tmem_free(&r.out);
    tmem_free(&z);
    tmem_free(&t);
}

/* A damaged block header: the decoder slides forward to the next valid header, skips the
 * damaged block (its length comes from the footer) and keeps everything else. */
Test(salvage, damaged_block_header) {
    tmem t = plaintext(), z = compress_text(&t);
    rec_block b[256];
    int nb = walk_blocks(z.p, z.n, b, 256, NULL);
    for (int k = 0; k < nb; k += nb / 4) {
        for (int field = 0; field < 4; field++) {
            static const int at[4] = {0, 5, 12, 26}; /* type, n_tokens, packed_len, check */
            z.p[b[k].off + at[field]] ^= 0x08;
            run r;
            salvage_run(&z, 2, 1, &r);
            z.p[b[k].off + at[field]] ^= 0x08;
            cr_assert_eq(r.s, LAC_ERR_CORRUPT, "block %d byte %d: %s", k, at[field], r.msg);
            cr_assert_eq(r.rep.n, 1, "block %d byte %d: %d reports", k, at[field], r.rep.n);
            cr_assert_eq(r.rep.d[0].block, (uint64_t)k);
            cr_assert_eq(r.rep.d[0].file_offset, b[k].off);
            cr_assert_eq(r.rep.d[0].plain_offset, b[k].plain_off);
            cr_assert_eq(r.rep.d[0].plain_len, b[k].plain_len);
            expect_all_but(&r.out, &t, b[k].plain_off, b[k].plain_len);
            tmem_free(&r.out);
            /* without salvage: an error naming the offset, as before */
            z.p[b[k].off + at[field]] ^= 0x08;
            salvage_run(&z, 1, 0, &r);
            z.p[b[k].off + at[field]] ^= 0x08;
            cr_assert_eq(r.s, LAC_ERR_CORRUPT, "%s", r.msg);
            char want[48];
            snprintf(want, sizeof want, "block header at offset %zu", b[k].off);
            cr_assert(strstr(r.msg, want), "'%s' not in: %s", want, r.msg);
            tmem_free(&r.out);
        }
    }
    tmem_free(&z);
    tmem_free(&t);
}

/* Two damaged block headers: both skipped, both reported, the other blocks intact and in
 * order. A damaged header's plain_len cannot be trusted, so only the footer's total is known:
 * each report carries what the two miss together; the first starts where it is known, the
 * second's original offset is unknown, and both say where the bytes are missing in the output. */
Test(salvage, two_damaged_block_headers) {
    tmem t = plaintext(), z = compress_text(&t);
    rec_block b[256];
    int nb = walk_blocks(z.p, z.n, b, 256, NULL);
    int k1 = 2, k2 = nb - 3;
    z.p[b[k1].off + 9] ^= 0x01;
    z.p[b[k2].off + 17] ^= 0x80;
    run r;
    salvage_run(&z, 1, 1, &r);
    cr_assert_eq(r.s, LAC_ERR_CORRUPT, "%s", r.msg);
    cr_assert_eq(r.rep.n, 2);
    cr_assert_eq(r.rep.d[0].file_offset, b[k1].off);
    cr_assert_eq(r.rep.d[1].file_offset, b[k2].off);
    for (int i = 0; i < 2; i++) {
        cr_assert_eq(r.rep.d[i].plain_len, UINT64_MAX, "report %d", i);
        cr_assert_eq(r.rep.d[i].unknown_len, b[k1].plain_len + b[k2].plain_len, "report %d", i);
        cr_assert_eq(r.rep.d[i].unknown_blocks, 2u, "report %d", i);
    }
    cr_assert_eq(r.rep.d[0].plain_offset, b[k1].plain_off);
    cr_assert_eq(r.rep.d[1].plain_offset, UINT64_MAX, "after a block of unknown length");
    cr_assert_eq(r.rep.d[0].out_offset, b[k1].plain_off);
    cr_assert_eq(r.rep.d[1].out_offset, b[k2].plain_off - b[k1].plain_len);
    tmem want = {0};
    tmem_write(&want, t.p, (size_t)b[k1].plain_off);
    tmem_write(&want, t.p + b[k1 + 1].plain_off, (size_t)(b[k2].plain_off - b[k1 + 1].plain_off));
    tmem_write(&want, t.p + b[k2 + 1].plain_off, (size_t)(t.n - b[k2 + 1].plain_off));
    cr_assert_eq(r.out.n, want.n);
    cr_assert_arr_eq(r.out.p, want.p, want.n);
    tmem_free(&want);
    tmem_free(&r.out);
    tmem_free(&z);
    tmem_free(&t);
}
