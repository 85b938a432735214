/* x86_avx2.h - helpers shared by the AVX2 kernel files (include only from
 * files compiled with -mavx2 -mfma -mf16c, see ISA_FLAGS_ in the
 * Makefile).
 *
 * Integer products use maddubs (unsigned x signed bytes -> pairs summed in
 * int16 with saturation).  Weight quants are kept small and unsigned, or
 * made |x| with the sign moved onto the activation, so no pair sum can
 * saturate for any value our or the reference's quantizers produce; a
 * crafted block holding -128 in both operands could, which costs
 * accuracy, never safety.
 */
#ifndef TF_X86_AVX2_H
#define TF_X86_AVX2_H

#include <immintrin.h>
#include "simd_tile.h"

TF_ALWAYS float hsum8(__m256 v)
{
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

TF_ALWAYS int hsum8i(__m256i v)
{
    __m128i s = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0x4e));
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0xb1));
    return _mm_cvtsi128_si32(s);
}

TF_ALWAYS float h2f(uint16_t h) { return _cvtsh_ss(h); }

/* The AVX-VNNI build of the same sources (x86_avxvnni.c defines
 * TF_AVXVNNI): dpbusd gives the very int32 lanes maddubs + madd give, in
 * one instruction, so both builds return identical bits. */
#if defined(TF_AVXVNNI)
#define TF_X86_INSTALL(suffix) tf_kernels_install_avxvnni##suffix
#else
#define TF_X86_INSTALL(suffix) tf_kernels_install_avx2##suffix
#endif

/* Sum of u[i] * s[i] over 32 bytes, u unsigned, s signed, as 8 int32
 * (lane j: elements 4j .. 4j + 3). */
TF_ALWAYS __m256i dot_us(__m256i u, __m256i s)
{
#if defined(TF_AVXVNNI)
    return _mm256_dpbusd_avx_epi32(_mm256_setzero_si256(), u, s);
#else
    return _mm256_madd_epi16(_mm256_maddubs_epi16(u, s), _mm256_set1_epi16(1));
#endif
}

/* isum + sc * (lanes of dot_us(u, s)), sc holding each lane's scale as an
 * int16 pair: (scale, scale) for maddubs + madd, (scale, 0) for VNNI's
 * dpwssd (the lanes fit int16 there: |4 * 63 * 128| < 2^15). */
TF_ALWAYS __m256i dot_us_scaled(__m256i isum, __m256i u, __m256i s, __m256i sc)
{
#if defined(TF_AVXVNNI)
    return _mm256_dpwssd_avx_epi32(isum, dot_us(u, s), sc);
#else
    return _mm256_add_epi32(isum, _mm256_madd_epi16(_mm256_maddubs_epi16(u, s), sc));
#endif
}

/* 32 nibbles of a 16-byte block in element order: low nibbles (elements
 * 0..15) in the low lane, high nibbles (16..31) in the high lane. */
TF_ALWAYS __m256i nibbles32(const uint8_t *qs)
{
    __m128i b = _mm_loadu_si128((const __m128i *)qs);
    __m256i v = _mm256_set_m128i(_mm_srli_epi16(b, 4), b);
    return _mm256_and_si256(v, _mm256_set1_epi8(0x0f));
}

/* Bit i of the 32-bit word at p as byte i: 0xff when set, else 0. */
TF_ALWAYS __m256i bits32(const uint8_t *p)
{
    uint32_t v;
    memcpy(&v, p, 4);
    const __m256i spread = _mm256_setr_epi8(0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1,
                                            2, 2, 2, 2, 2, 2, 2, 2, 3, 3, 3, 3, 3, 3, 3, 3);
    const __m256i bit = _mm256_set1_epi64x((long long)0x8040201008040201ull);
    __m256i b = _mm256_shuffle_epi8(_mm256_set1_epi32((int)v), spread);
    return _mm256_cmpeq_epi8(_mm256_and_si256(b, bit), bit);
}

#endif
