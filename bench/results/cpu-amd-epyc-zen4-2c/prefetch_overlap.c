/* prefetch_overlap.c: does a software prefetch issued during arithmetic land in time on this
 * machine? One thread: 12 x 32 x 256 register-blocked FMA blocks, during which the lines of a
 * region (random 4 KiB-aligned offset in a 2 GiB buffer) are prefetched, spread over the k loop
 * (hint -1: none, 0/1/2: T0/T1/T2); then the region is read and timed. With wstream = 1 each
 * block reads 32 KB of fresh weights from a 64 MB array (as the LM head does), else the same
 * L1-resident 32 KB. Thirteenth session, decode_overlap.txt. Not part of the build:
 *   gcc -O2 -mavx512f -mfma -o prefetch_overlap prefetch_overlap.c
 *   ./prefetch_overlap [region KiB = 256] [compute blocks per region = 16] [wstream = 0]
 * (both cores: taskset -c 0 ./prefetch_overlap & taskset -c 1 ./prefetch_overlap) */
#include <immintrin.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
static double now(void){struct timespec t;clock_gettime(CLOCK_MONOTONIC,&t);return t.tv_sec+t.tv_nsec*1e-9;}
#define K 256
static float W[K*32] __attribute__((aligned(64)));
static float X[12*K] __attribute__((aligned(64)));
static __m512 sink[24];
/* compute block: 12 rows x 32 cols x K from L1; prefetch `lines` lines of p spread over k (hint h) */
static const float *Wc;
static void block(const char *p, int lines, int hint){
  const float *W = Wc;
  __m512 a[24]; for(int i=0;i<24;i++) a[i]=_mm512_setzero_ps();
  int li=0;
  for(int k=0;k<K;k++){
    __m512 w0=_mm512_load_ps(W+k*32), w1=_mm512_load_ps(W+k*32+16);
    for(int r=0;r<12;r++){ __m512 x=_mm512_set1_ps(X[r*K+k]); a[2*r]=_mm512_fmadd_ps(x,w0,a[2*r]); a[2*r+1]=_mm512_fmadd_ps(x,w1,a[2*r+1]); }
    while(li < lines && li*K < (k+1)*lines){
      if(hint==0) _mm_prefetch(p+li*64,_MM_HINT_T0); else if(hint==1) _mm_prefetch(p+li*64,_MM_HINT_T1); else _mm_prefetch(p+li*64,_MM_HINT_T2);
      li++;
    }
  }
  for(int i=0;i<24;i++) sink[i]=_mm512_add_ps(sink[i],a[i]);
}
static float readsum(const float *p, size_t n){ __m512 s0=_mm512_setzero_ps(),s1=s0,s2=s0,s3=s0; for(size_t i=0;i<n;i+=64){s0=_mm512_add_ps(s0,_mm512_load_ps(p+i));s1=_mm512_add_ps(s1,_mm512_load_ps(p+i+16));s2=_mm512_add_ps(s2,_mm512_load_ps(p+i+32));s3=_mm512_add_ps(s3,_mm512_load_ps(p+i+48));} s0=_mm512_add_ps(_mm512_add_ps(s0,s1),_mm512_add_ps(s2,s3)); return _mm512_reduce_add_ps(s0);}
int main(int argc,char**argv){
  size_t GB=(size_t)2<<30; char *buf=aligned_alloc(1<<21,GB); for(size_t i=0;i<GB;i+=4096) buf[i]=1; for(size_t i=0;i<GB/4;i+=1) ((float*)buf)[i]=1.0f;
  for(int i=0;i<K*32;i++) W[i]=1e-3f;
  for(int i=0;i<12*K;i++) X[i]=1e-3f;
  float *Wbig = aligned_alloc(64, (size_t)64<<20); for (size_t i=0;i<((size_t)16<<20);i++) Wbig[i]=1e-3f; int wstream = argc>3 ? atoi(argv[3]) : 0; size_t wpos=0; Wc = W;
  size_t region = (argc>1? atol(argv[1]) : 256) << 10; int nb = argc>2 ? atoi(argv[2]) : 16; /* compute blocks per region */
  int lines = region/64; int per = (lines + nb - 1)/nb;
  srand(1); int reps=200; float s=0;
  for(int hint=-1; hint<=2; hint++){
    double tc=0, tr=0;
    for(int r=0;r<reps;r++){
      size_t off = ((size_t)rand() * 4096) % (GB - region); off &= ~(size_t)4095;
      const char *p = buf + off;
      double t0=now();
      for(int b=0;b<nb;b++) { if (wstream) { Wc = Wbig + wpos; wpos = (wpos + K*32) % (((size_t)16<<20) - K*32); } block(p + (size_t)b*per*64, hint<0?0:per, hint); }
      double t1=now();
      s += readsum((const float*)p, region/4);
      double t2=now(); tc+=t1-t0; tr+=t2-t1;
    }
    printf("hint %2d: compute %.1f us/region, then read %.1f us (%.1f GB/s)\n", hint, tc/reps*1e6, tr/reps*1e6, region/(tr/reps)/1e9);
  }
  printf("%g\n", s);
}
