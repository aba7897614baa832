/* bench_cuda_attention — lacgpu's causal attention kernels (kernels/attention.cu) timed alone, on
 * the GPT-2 124M shapes (C = 768, 12 heads, head size 64, n_ctx = 1024):
 *   prefill: B = 16 streams x T = 1024 rows in one call (groups of qb rows: the backend's
 *            choice, then every other qb that fits, for comparison);
 *   steps:   S streams (default 256), one row each at positions 480..543.
 *
 *   bench_cuda_attention [reps] [step_streams]        (default 10, 256)
 *
 * Prints ms per call, the effective bandwidth (q + each stream's K/V prefix once + out, over the
 * time) and GFLOP/s (2 flops per fmaf of the scores and of the weighted sum). Checks sampled
 * (row, head) outputs bit for bit against a host transcription of NUMERICS §6. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <vector>

#include "lac_cuda.h"
#include "lac_cuda_prog.h"
extern "C" {
#include "lac_math.h"
}


enum { C = 768, H = 12, HD = 64, NCTX = 1024 };


static float *dev_filled(size_t n, uint32_t seed) {
    float *p;
    LAC_CUDA_OR_EXIT(cudaMalloc(&p, n * sizeof(float)));
    lac_fill(p, n, seed);
    return p;
}

static std::vector<float> to_host(const float *d, size_t n) {
    std::vector<float> h(n);
    LAC_CUDA_OR_EXIT(cudaMemcpy(h.data(), d, n * sizeof(float), cudaMemcpyDeviceToHost));
    return h;
}

/* NUMERICS §6 for one (row, head) on the host; returns 1 when out equals it bit for bit */
static int check_one(const float *qkv, const float *kc, const float *vc, const float *out,
                     int r, int b, int t, int h) {
    const float scale = 1.0f / sqrtf((float)HD);
    std::vector<float> e(t + 1);
    const float *q = qkv + (size_t)r * 3 * C + h * HD;
    const float *K = kc + (size_t)b * NCTX * C + h * HD, *V = vc + (size_t)b * NCTX * C + h * HD;
    float m = -INFINITY;
    for (int j = 0; j <= t; j++) {
        float acc = 0.0f;
        for (int d = 0; d < HD; d++) acc = fmaf(q[d], K[(size_t)j * C + d], acc);
        e[j] = acc * scale;
        if (e[j] > m) m = e[j];
    }
    float p[32] = {0};
    for (int j = 0; j <= t; j++) {
        e[j] = lac_expf(e[j] - m);
        p[j % 32] = p[j % 32] + e[j];
    }
    for (int s = 16; s >= 1; s >>= 1)
        for (int j = 0; j < s; j++) p[j] = p[j] + p[j + s];
    for (int d = 0; d < HD; d++) {
        float acc = 0.0f;
        for (int j = 0; j <= t; j++) acc = fmaf(e[j], V[(size_t)j * C + d], acc);
        const float o = acc / p[0];
        if (memcmp(&o, out + (size_t)r * C + h * HD + d, sizeof o) != 0) return 0;
    }
    return 1;
}

/* One configuration: rows (stream, position) in row order, groups of up to qb rows of one
 * stream (one-row groups after the others, as the backend builds them). */
struct setup {
    int R, n_groups, n_multi;
    int32_t *d_tab; /* stream [R], pos [R], group_first [R], group_n [R] */
    std::vector<int32_t> str, pos;
};

static setup make_setup(int B, int T, const int *start, int qb) {
    setup s;
    s.R = B * T;
    std::vector<int32_t> tab(4 * (size_t)s.R);
    int32_t *gf = tab.data() + 2 * s.R, *gn = tab.data() + 3 * s.R;
    s.n_groups = 0;
    for (int b = 0; b < B; b++)
        for (int i = 0; i < T; i++) {
            s.str.push_back(b);
            s.pos.push_back(start[b] + i);
        }
    for (int pass = 0; pass < 2; pass++) {
        for (int b = 0; b < B; b++)
            for (int i = 0; i < T; i += qb) {
                const int n = T - i < qb ? T - i : qb;
                if ((n > 1) != (pass == 0)) continue;
                gf[s.n_groups] = b * T + i;
                gn[s.n_groups++] = n;
            }
        if (pass == 0) s.n_multi = s.n_groups;
    }
    memcpy(tab.data(), s.str.data(), s.R * sizeof(int32_t));
    memcpy(tab.data() + s.R, s.pos.data(), s.R * sizeof(int32_t));
    LAC_CUDA_OR_EXIT(cudaMalloc(&s.d_tab, tab.size() * sizeof(int32_t)));
    LAC_CUDA_OR_EXIT(cudaMemcpy(s.d_tab, tab.data(), tab.size() * sizeof(int32_t), cudaMemcpyHostToDevice));
    return s;
}

/* Times reps calls (after one warm-up) and checks 8 sampled (row, head) outputs. */
static void run(const char *what, const setup &s, int qb, int reps, const float *qkv,
                const float *kc, const float *vc, float *out, const std::vector<float> &hqkv,
                const std::vector<float> &hk, const std::vector<float> &hv) {
    const int32_t *str = s.d_tab, *pos = s.d_tab + s.R, *gf = s.d_tab + 2 * s.R,
                  *gn = s.d_tab + 3 * s.R;
    auto call = [&] {
        lac_cuda_attention(out, qkv, kc, vc, str, pos, gf, gn, s.n_groups, s.n_multi, qb, C, H,
                           NCTX, 0);
    };
    LAC_CUDA_OR_EXIT(cudaMemset(out, 0xff, (size_t)s.R * C * sizeof(float)));
    call();
    LAC_CUDA_OR_EXIT(cudaGetLastError());
    LAC_CUDA_OR_EXIT(cudaDeviceSynchronize());
    std::vector<float> hout = to_host(out, (size_t)s.R * C);
    cudaEvent_t e0, e1;
    LAC_CUDA_OR_EXIT(cudaEventCreate(&e0));
    LAC_CUDA_OR_EXIT(cudaEventCreate(&e1));
    LAC_CUDA_OR_EXIT(cudaEventRecord(e0));
    for (int i = 0; i < reps; i++) call();
    LAC_CUDA_OR_EXIT(cudaEventRecord(e1));
    LAC_CUDA_OR_EXIT(cudaEventSynchronize(e1));
    float ms = 0;
    LAC_CUDA_OR_EXIT(cudaEventElapsedTime(&ms, e0, e1));
    ms /= (float)reps;
    /* bytes: q and out once per row, each stream's K/V prefix once per head; flops: scores
     * and weighted sums, (t + 1) * HD fmaf each per (row, head) */
    double bytes = 2.0 * s.R * C * sizeof(float), flops = 0;
    std::vector<int> tmax(s.str.back() + 1, -1);
    for (int r = 0; r < s.R; r++) {
        tmax[s.str[r]] = s.pos[r] > tmax[s.str[r]] ? s.pos[r] : tmax[s.str[r]];
        flops += 2.0 * 2.0 * (s.pos[r] + 1) * HD * H;
    }
    for (int t : tmax) bytes += 2.0 * (t + 1) * C * sizeof(float);
    int ok = 0;
    for (int k = 0; k < 8; k++) {
        const int r = (int)((k * 2654435761u + 12345u) % (unsigned)s.R), h = (k * 5) % H;
        ok += check_one(hqkv.data(), hk.data(), hv.data(), hout.data(), r, s.str[r], s.pos[r], h);
    }
    printf("%-8s qb %2d: %5d rows, %5d groups (%5d of one row): %9.3f ms  %8.1f GB/s  %8.1f "
           "GFLOP/s  bitwise %d/8\n",
           what, qb, s.R, s.n_groups, s.n_groups - s.n_multi, ms, bytes / ms * 1e-6,
           flops / ms * 1e-6, ok);
    LAC_CUDA_OR_EXIT(cudaEventDestroy(e0));
    LAC_CUDA_OR_EXIT(cudaEventDestroy(e1));
}

int main(int argc, char **argv) {
    const int reps = argc > 1 ? atoi(argv[1]) : 10;
    const int NS = argc > 2 ? atoi(argv[2]) : 256; /* streams of the step benchmark */
    const int BP = 16, TP = 1024;                  /* prefill */
    cudaDeviceProp prop;
    LAC_CUDA_OR_EXIT(cudaGetDeviceProperties(&prop, 0));
    LAC_CUDA_OR_EXIT(lac_cuda_attention_setup(prop.sharedMemPerBlockOptin));
    const int qb_backend = lac_cuda_attention_rows(NCTX, HD, prop.sharedMemPerBlockOptin);
    printf("device: %s (%d SMs, %zu KiB shared/block opt-in); C = %d, H = %d, n_ctx = %d; "
           "backend qb = %d; reps = %d\n",
           prop.name, prop.multiProcessorCount, (size_t)prop.sharedMemPerBlockOptin / 1024, C, H,
           NCTX, qb_backend, reps);
    const int B = BP > NS ? BP : NS;
    const size_t cache = (size_t)B * NCTX * C, R = (size_t)BP * TP > (size_t)NS ? BP * TP : NS;
    float *kc = dev_filled(cache, 1), *vc = dev_filled(cache, 2), *qkv = dev_filled(R * 3 * C, 3);
    float *out;
    LAC_CUDA_OR_EXIT(cudaMalloc(&out, R * C * sizeof(float)));
    const std::vector<float> hk = to_host(kc, cache), hv = to_host(vc, cache),
                             hqkv = to_host(qkv, R * 3 * C);

    std::vector<int> zero(BP, 0), step_pos(NS);
    for (int b = 0; b < NS; b++) step_pos[b] = 480 + (b * 37) % 64;
    int qbs[] = {qb_backend, 32, 16, 8};
    for (int k = 0; k < 4; k++) {
        const int qb = qbs[k];
        if (qb < 2 || (k > 0 && qb == qb_backend) ||
            lac_cuda_attention_smem(NCTX, HD, qb) > prop.sharedMemPerBlockOptin)
            continue;
        setup s = make_setup(BP, TP, zero.data(), qb);
        run("prefill", s, qb, reps, qkv, kc, vc, out, hqkv, hk, hv);
        LAC_CUDA_OR_EXIT(cudaFree(s.d_tab));
    }
    setup s = make_setup(NS, 1, step_pos.data(), qb_backend);
    run("steps", s, qb_backend, reps, qkv, kc, vc, out, hqkv, hk, hv);
    LAC_CUDA_OR_EXIT(cudaFree(s.d_tab));
    cudaFree(kc);
    cudaFree(vc);
    cudaFree(qkv);
    cudaFree(out);
    return 0;
}
