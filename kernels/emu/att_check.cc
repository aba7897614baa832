/* att_check.cc — the attention kernels (kernels/attention.cu, built for host emulation) against a
 * direct host transcription of docs/NUMERICS.md §6, bit for bit, on shapes that emu_check's
 * small models do not reach: positions across key-tile edges (64), groups of up to 32 rows and
 * partial groups, n_ctx not a multiple of the tile or of 4, head sizes not a multiple of 4 and
 * above 64 (the wider prefill kernel), one-row groups (step kernel) at tile edges, and several
 * streams. Positions after a stream's last row are left NaN in the cache (never read). Exit
 * status 0 = all equal. Built and run by kernels/emu/check.sh. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <vector>

#include "lac_cuda.h"
extern "C" {
#include "lac_math.h"
}

static uint64_t rng = 987654321;
static float gauss(float sd) {
    auto unit = [] {
        rng = rng * 6364136223846793005ull + 1442695040888963407ull;
        return (double)(rng >> 11) * 0x1.0p-53;
    };
    const double u = unit() + 1e-300, v = unit();
    return (float)(sd * sqrt(-2.0 * log(u)) * cos(6.283185307179586 * v));
}

/* NUMERICS §1 R32 */
static float r32(const float *x, int n) {
    float p[32] = {0};
    for (int i = 0; i < n; i++) p[i % 32] = p[i % 32] + x[i];
    for (int s = 16; s >= 1; s >>= 1)
        for (int j = 0; j < s; j++) p[j] = p[j] + p[j + s];
    return p[0];
}

/* One stream's rows in one call: `n` rows at positions start .. start + n - 1. */
struct rows_of {
    int stream, start, n;
};

static int failures;

/* qb: rows per group for the prefill kernel (groups of one row go to the step kernel). */
static void check(const char *what, int H, int hd, int n_ctx, int qb, int B,
                  std::vector<rows_of> calls) {
    const int C = H * hd;
    int R = 0;
    for (auto &c : calls) R += c.n;
    /* the cache: positions 0 .. last row of each stream random, the rest NaN (cudaMalloc) */
    float *kc, *vc, *qkv, *out;
    int32_t *str, *pos, *gfirst, *gn;
    const size_t cache = (size_t)B * n_ctx * C;
    cudaMalloc(&kc, cache * sizeof(float));
    cudaMalloc(&vc, cache * sizeof(float));
    cudaMalloc(&qkv, (size_t)R * 3 * C * sizeof(float));
    cudaMalloc(&out, (size_t)R * C * sizeof(float));
    cudaMalloc(&str, R * sizeof(int32_t));
    cudaMalloc(&pos, R * sizeof(int32_t));
    cudaMalloc(&gfirst, R * sizeof(int32_t));
    cudaMalloc(&gn, R * sizeof(int32_t));
    std::vector<int> last(B, -1);
    int r = 0;
    for (auto &c : calls)
        for (int i = 0; i < c.n; i++, r++) {
            str[r] = c.stream;
            pos[r] = c.start + i;
            if (pos[r] > last[c.stream]) last[c.stream] = pos[r];
        }
    for (int b = 0; b < B; b++)
        for (int j = 0; j <= last[b]; j++)
            for (int i = 0; i < C; i++) {
                kc[((size_t)b * n_ctx + j) * C + i] = gauss(1.0f);
                vc[((size_t)b * n_ctx + j) * C + i] = gauss(1.0f);
            }
    for (size_t i = 0; i < (size_t)R * 3 * C; i++) qkv[i] = gauss(2.0f); /* peaky scores */
    /* groups as the backend builds them: multi-row groups first, then one-row groups */
    int ng = 0, nm = 0;
    for (int pass = 0; pass < 2; pass++) {
        int r0 = 0;
        for (auto &c : calls) {
            for (int i = 0; i < c.n; i += qb) {
                const int n = c.n - i < qb ? c.n - i : qb;
                if ((n > 1) != (pass == 0)) continue;
                gfirst[ng] = r0 + i;
                gn[ng++] = n;
            }
            r0 += c.n;
        }
        if (pass == 0) nm = ng;
    }
    lac_cuda_attention(out, qkv, kc, vc, str, pos, gfirst, gn, ng, nm, qb, C, H, n_ctx, 0);

    /* reference: NUMERICS §6 as written */
    const float scale = 1.0f / sqrtf((float)hd);
    std::vector<float> e(n_ctx), o(hd);
    int bad = 0;
    for (r = 0; r < R; r++)
        for (int h = 0; h < H; h++) {
            const float *q = qkv + (size_t)r * 3 * C + h * hd;
            const float *K = kc + (size_t)str[r] * n_ctx * C + h * hd;
            const float *V = vc + (size_t)str[r] * n_ctx * C + h * hd;
            const int t = pos[r];
            float m = -INFINITY;
            for (int j = 0; j <= t; j++) {
                float acc = 0.0f;
                for (int d = 0; d < hd; d++) acc = fmaf(q[d], K[(size_t)j * C + d], acc);
                e[j] = acc * scale;
                if (e[j] > m) m = e[j];
            }
            for (int j = 0; j <= t; j++) e[j] = lac_expf(e[j] - m);
            const float S = r32(e.data(), t + 1);
            for (int d = 0; d < hd; d++) {
                float acc = 0.0f;
                for (int j = 0; j <= t; j++) acc = fmaf(e[j], V[(size_t)j * C + d], acc);
                o[d] = acc / S;
            }
            if (memcmp(o.data(), out + (size_t)r * C + h * hd, hd * sizeof(float)) != 0) {
                if (!bad)
                    printf("     first difference: row %d (stream %d, position %d), head %d\n", r,
                           str[r], t, h);
                bad++;
            }
        }
    printf("%s %s: hd %d, n_ctx %d, qb %d, %d rows, %d groups (%d of one row): %d of %d "
           "(row, head) differ\n",
           bad ? "FAIL" : "ok  ", what, hd, n_ctx, qb, R, ng, ng - nm, bad, R * H);
    failures += bad != 0;
    for (void *p : {(void *)kc, (void *)vc, (void *)qkv, (void *)out, (void *)str, (void *)pos,
                    (void *)gfirst, (void *)gn})
        cudaFree(p);
}

int main(void) {
    /* GPT-2 head size: prefill across the 64-position tiles with full and partial groups of
     * 32, a second stream continuing at 100 (its cache before it from "earlier calls"), and
     * one-row groups at both sides of the tile edges */
    check("hd 64 prefill + steps", 1, 64, 150, 32, 4,
          {{0, 0, 70}, {1, 100, 50}, {2, 0, 1}, {2, 63, 1}, {2, 64, 1}, {3, 127, 1},
           {3, 128, 1}, {3, 149, 1}});
    /* head size not a multiple of 4 (scalar loads and d tails), smaller groups */
    check("hd 18", 2, 18, 70, 8, 2, {{0, 0, 70}, {1, 5, 3}, {1, 66, 1}});
    /* head size above 64: the wider prefill kernel; groups of 16; rows 60..80 of a stream */
    check("hd 80", 1, 80, 83, 16, 2, {{0, 60, 21}, {1, 0, 2}, {1, 64, 1}, {1, 82, 1}});
    /* odd head size, n_ctx = 64 + 1, groups of 2 and 32 with the last row at the tile edge */
    check("hd 5", 3, 5, 65, 32, 2, {{0, 0, 65}, {1, 62, 2}, {1, 0, 1}});
    /* GPT-2's n_ctx: two groups near the end of the context, steps at 500 and 1023 */
    check("hd 64 n_ctx 1024", 2, 64, 1024, 32, 2, {{0, 960, 64}, {1, 1023, 1}, {1, 500, 1}});
    printf(failures ? "ATTENTION CHECK FAILED (%d)\n" : "attention check: all equal\n",
           failures);
    return failures ? 1 : 0;
}
