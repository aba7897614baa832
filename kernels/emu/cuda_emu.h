/* cuda_emu.h — just enough of CUDA to run the kernels (kernels/ .cu files) on the host, for checking the kernels
 * and the backend against the CPU reference on a machine without a GPU (kernels/emu/check.sh).
 *
 * Compile the .cu files as C++20 with -DLAC_CUDA_EMU. A launch runs its blocks one after the
 * other, each CUDA thread a fiber; __syncthreads is a barrier of the block's threads, and the
 * warp shuffles exchange values through a per-warp buffer between two warp barriers. So the
 * code runs with the real thread/warp structure, and every thread executes exactly the
 * arithmetic the GPU would (fp32 + - * / fmaf sqrtf are correctly rounded on both; build with
 * -ffp-contract=off). "Device" memory is host memory filled with NaN patterns by cudaMalloc,
 * so that reading something never written shows up. Not for speed: tiny models only. */
#ifndef LAC_CUDA_EMU_H
#define LAC_CUDA_EMU_H

#include <functional>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <ucontext.h>
#include <vector>

#define __global__
#define __device__
#define __host__
#define __forceinline__ inline
#define __launch_bounds__(n)
#define __restrict__ __restrict
#define __shared__ static /* blocks run one at a time: one copy per kernel is per block */
#define __constant__

struct dim3 {
    unsigned x, y, z;
    dim3(unsigned a = 1, unsigned b = 1, unsigned c = 1) : x(a), y(b), z(c) {}
};

namespace emu {
/* One CUDA thread = one fiber (ucontext) on the calling host thread; a barrier parks the fiber
 * until every participant has arrived. Fibers are resumed round-robin, so a block's threads
 * interleave only at barriers, which is all that CUDA guarantees too. */
struct barrier {
    unsigned count = 0, need = 0, gen = 0;
};
struct ctx {
    dim3 tid, bid, bdim;
    barrier *block_bar, *warp_bar;
    uint64_t *warp_slots;
    void *dyn_smem;
};
struct fiber {
    ucontext_t uc;
    ctx c;
    bool done;
};
inline ctx cur;
inline ucontext_t sched;
inline fiber *running;
inline const std::function<void()> *body_fn;

inline void wait(barrier &b) {
    const unsigned g = b.gen;
    if (++b.count == b.need) {
        b.count = 0;
        b.gen++;
        return;
    }
    fiber *me = running;
    while (b.gen == g) swapcontext(&me->uc, &sched);
    cur = me->c;
}

inline void fiber_entry() {
    (*body_fn)();
    running->done = true; /* returning resumes `sched` (uc_link) */
}

/* Runs body() for every block of grid with block.x threads. */
inline void run(dim3 grid, dim3 block, size_t smem, const std::function<void()> &body) {
    const unsigned nt = block.x * block.y * block.z, nw = (nt + 31) / 32;
    const size_t stack = 64 * 1024;
    barrier bar;
    bar.need = nt;
    std::vector<barrier> wbar(nw);
    for (unsigned w = 0; w < nw; w++) wbar[w].need = (w + 1 < nw || nt % 32 == 0) ? 32 : nt % 32;
    std::vector<uint64_t> slots((size_t)nw * 32);
    std::vector<unsigned char> dyn(smem ? smem : 1, 0xff);
    std::vector<fiber> f(nt);
    static char *stacks; /* kept between launches: only ever grows */
    static size_t stacks_n;
    if (stacks_n < (size_t)nt * stack) {
        free(stacks);
        stacks_n = (size_t)nt * stack;
        stacks = (char *)malloc(stacks_n);
        if (!stacks) abort();
    }
    body_fn = &body;
    for (unsigned by = 0; by < grid.y; by++)
        for (unsigned bx = 0; bx < grid.x; bx++) {
            for (unsigned t = 0; t < nt; t++) {
                fiber &fb = f[t];
                fb.c = ctx{dim3(t, 0, 0), dim3(bx, by, 0), block, &bar, &wbar[t / 32],
                           &slots[(size_t)(t / 32) * 32], dyn.data()};
                fb.done = false;
                getcontext(&fb.uc);
                fb.uc.uc_stack.ss_sp = &stacks[(size_t)t * stack];
                fb.uc.uc_stack.ss_size = stack;
                fb.uc.uc_link = &sched;
                makecontext(&fb.uc, fiber_entry, 0);
            }
            for (unsigned left = nt; left;) {
                left = 0;
                for (unsigned t = 0; t < nt; t++) {
                    if (f[t].done) continue;
                    running = &f[t];
                    cur = f[t].c;
                    swapcontext(&sched, &f[t].uc);
                    left += !f[t].done;
                }
            }
        }
}

template <class K> struct launcher {
    K k;
    dim3 g, b;
    size_t smem;
    template <class... A> void operator()(A... a) {
        K kk = k;
        std::function<void()> fn = [=] { kk(a...); };
        run(g, b, smem, fn);
    }
};
template <class K> launcher<K *> launch_of(dim3 g, dim3 b, size_t smem, K *k) {
    return launcher<K *>{k, g, b, smem};
}
} // namespace emu

#define threadIdx (emu::cur.tid)
#define blockIdx (emu::cur.bid)
#define blockDim (emu::cur.bdim)

static inline void __syncthreads(void) { emu::wait(*emu::cur.block_bar); }

template <class T> static inline T __shfl_down_sync(unsigned, T v, int s) {
    static_assert(sizeof(T) <= 8, "shuffle of at most 8 bytes");
    const unsigned lane = emu::cur.tid.x % 32;
    memcpy(&emu::cur.warp_slots[lane], &v, sizeof v);
    emu::wait(*emu::cur.warp_bar);
    T r = v;
    if (lane + (unsigned)s < 32) memcpy(&r, &emu::cur.warp_slots[lane + (unsigned)s], sizeof r);
    emu::wait(*emu::cur.warp_bar);
    return r;
}

template <class T> static inline T __shfl_sync(unsigned, T v, int src) {
    const unsigned lane = emu::cur.tid.x % 32;
    memcpy(&emu::cur.warp_slots[lane], &v, sizeof v);
    emu::wait(*emu::cur.warp_bar);
    T r;
    memcpy(&r, &emu::cur.warp_slots[(unsigned)src % 32], sizeof r);
    emu::wait(*emu::cur.warp_bar);
    return r;
}

static inline int min(int a, int b) { return a < b ? a : b; }
static inline unsigned min(unsigned a, unsigned b) { return a < b ? a : b; }
static inline int max(int a, int b) { return a > b ? a : b; }

#define LAC_LAUNCH(grid, block, smem, st, ...) \
    ((void)(st), emu::launch_of(dim3(grid), dim3(block), (size_t)(smem), __VA_ARGS__))
#define LAC_DYNAMIC_SHARED(type, name) type *name = (type *)emu::cur.dyn_smem

/* ---- runtime API --------------------------------------------------------------------------- */
typedef enum cudaError { cudaSuccess = 0, cudaErrorMemoryAllocation = 2 } cudaError_t;
typedef enum cudaMemcpyKind {
    cudaMemcpyHostToDevice = 1,
    cudaMemcpyDeviceToHost = 2,
    cudaMemcpyDeviceToDevice = 3
} cudaMemcpyKind;
typedef struct emu_stream *cudaStream_t;
enum { cudaStreamNonBlocking = 1 };
enum cudaFuncAttribute { cudaFuncAttributeMaxDynamicSharedMemorySize = 8 };
struct cudaDeviceProp {
    char name[256];
    size_t sharedMemPerBlockOptin;
};

static inline const char *cudaGetErrorString(cudaError_t e) {
    return e == cudaSuccess ? "no error" : "out of memory (emulated)";
}
static inline cudaError_t cudaGetLastError(void) { return cudaSuccess; }
static inline cudaError_t cudaGetDeviceCount(int *n) {
    *n = 1;
    return cudaSuccess;
}
static inline cudaError_t cudaSetDevice(int) { return cudaSuccess; }
static inline cudaError_t cudaGetDeviceProperties(cudaDeviceProp *p, int) {
    memset(p, 0, sizeof *p);
    strcpy(p->name, "host emulation");
    p->sharedMemPerBlockOptin = 227 * 1024;
    return cudaSuccess;
}
static inline cudaError_t cudaStreamCreateWithFlags(cudaStream_t *s, unsigned) {
    *s = (cudaStream_t)malloc(1);
    return cudaSuccess;
}
static inline cudaError_t cudaStreamDestroy(cudaStream_t s) {
    free((void *)s);
    return cudaSuccess;
}
static inline cudaError_t cudaStreamSynchronize(cudaStream_t) { return cudaSuccess; }
static inline cudaError_t cudaDeviceSynchronize(void) { return cudaSuccess; }
template <class T> static inline cudaError_t cudaMalloc(T **p, size_t n) {
    *p = (T *)malloc(n ? n : 1);
    if (!*p) return cudaErrorMemoryAllocation;
    memset((void *)*p, 0xff, n); /* NaN / huge integers: unwritten reads show */
    return cudaSuccess;
}
template <class T> static inline cudaError_t cudaMallocHost(T **p, size_t n) {
    return cudaMalloc(p, n);
}
static inline cudaError_t cudaFree(void *p) {
    free(p);
    return cudaSuccess;
}
static inline cudaError_t cudaFreeHost(void *p) { return cudaFree(p); }
static inline cudaError_t cudaMemcpy(void *d, const void *s, size_t n, cudaMemcpyKind) {
    memcpy(d, s, n);
    return cudaSuccess;
}
static inline cudaError_t cudaMemcpyAsync(void *d, const void *s, size_t n, cudaMemcpyKind k,
                                          cudaStream_t) {
    return cudaMemcpy(d, s, n, k);
}
template <class T, class S>
static inline cudaError_t cudaMemcpyToSymbol(T &sym, const S *src, size_t n) {
    memcpy((void *)&sym, (const void *)src, n);
    return cudaSuccess;
}
template <class F> static inline cudaError_t cudaFuncSetAttribute(F, cudaFuncAttribute, int) {
    return cudaSuccess;
}

/* ---- attention (kernels/layers.cu) -------------------------------------------------------- */
/* float4: 16-byte aligned, so the kernels' float4 reads of shared and global memory work */
struct alignas(16) float4 {
    float x, y, z, w;
};
/* ---- end attention ------------------------------------------------------------------------- */

#endif
