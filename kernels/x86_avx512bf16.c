/* x86_avx512bf16.c - BF16 x BF16 dot with AVX512_BF16's dpbf16 (pairs of
 * bf16 products, exact in float, added to float lanes; the instruction
 * flushes subnormals, which moves a result by at most ~1e-38 per
 * element).  Replaces x86_avx512.c's shift-to-float BF16 entry when CPUID
 * reports AVX512_BF16.
 */
#if defined(__clang__)
#pragma clang attribute push(__attribute__((target("avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512dq,avx512vnni,avx512bf16"))), apply_to = function)
#elif defined(__GNUC__)
#pragma GCC target("avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512dq,avx512vnni,avx512bf16")
#endif

#include "x86_avx512.h"

/* 32 elements a step (masked tail): 16 float lanes of pair sums. */
TF_ALWAYS __m512bh ld_bh(const uint8_t *p, int64_t i, __mmask32 m)
{
    return (__m512bh)_mm512_maskz_loadu_epi16(m, (const uint16_t *)p + i);
}

#define BF16_STEP(M)                                                            \
    do {                                                                        \
        __m512bh A_[4];                                                         \
        TF_UNROLL for (int t = 0; t < RA; t++) A_[t] = ld_bh(a + t * as, i, M); \
        TF_UNROLL for (int r = 0; r < RW; r++) {                                \
            __m512bh W_ = ld_bh(w + r * ws, i, M);                              \
            TF_UNROLL for (int t = 0; t < RA; t++)                              \
                acc[r][t] = _mm512_dpbf16_ps(acc[r][t], W_, A_[t]);             \
        }                                                                       \
    } while (0)

TF_ALWAYS void bf16n_t(int64_t n, const uint8_t *w, size_t ws, const uint8_t *a, size_t as,
                       float *out, size_t os, const int RW, const int RA)
{
    __m512 acc[4][4];
    TF_UNROLL for (int r = 0; r < RW; r++)
        TF_UNROLL for (int t = 0; t < RA; t++) acc[r][t] = _mm512_setzero_ps();
    int64_t i = 0;
    for (; i + 32 <= n; i += 32)
        BF16_STEP((__mmask32)0xffffffffu);
    if (i < n) {
        __mmask32 m = (__mmask32)((1ull << (n - i)) - 1);
        BF16_STEP(m);
    }
    TF_UNROLL for (int r = 0; r < RW; r++)
        TF_UNROLL for (int t = 0; t < RA; t++) out[t * os + r] = hsum16(acc[r][t]);
}
TF_DEF_GEMM(bf16n, 4, 4)

void tf_kernels_install_avx512bf16(tf_type_kernels *t)
{
    TF_SET(t, TF_TYPE_BF16, bf16n);
}

#if defined(__clang__)
#pragma clang attribute pop
#endif
