/* x86_avx512.h - helpers shared by the AVX-512 kernel files (include only
 * from files compiled with the AVX-512 flags, see ISA_FLAGS_ in the
 * Makefile: F, BW, VL, DQ and VNNI).
 *
 * Integer dots use VNNI's dpbusd (unsigned bytes x signed bytes, groups of
 * 4 summed into int32 lanes without intermediate saturation), so weights
 * are made unsigned and the offset comes back out through the activation
 * sums: dot(q - B, y) = dot(q, y) - B * sum(y).  Exact for every input.
 */
#ifndef TF_X86_AVX512_H
#define TF_X86_AVX512_H

#include <immintrin.h>
#include "simd_tile.h"

TF_ALWAYS float hsum16(__m512 v)
{
    __m256 h = _mm256_add_ps(_mm512_castps512_ps256(v), _mm512_extractf32x8_ps(v, 1));
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(h), _mm256_extractf128_ps(h, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

/* Two halves -> a vector with a in lanes 0..7 and b in lanes 8..15. */
TF_ALWAYS __m512 h2f_pair(uint16_t a, uint16_t b)
{
    __m128 f = _mm_cvtph_ps(_mm_cvtsi32_si128((int)((uint32_t)a | (uint32_t)b << 16)));
    const __m512i idx = _mm512_setr_epi32(0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1);
    return _mm512_permutexvar_ps(idx, _mm512_castps128_ps512(f));
}

/* Two 32-byte rows -> one vector (b == NULL: upper half zero). */
TF_ALWAYS __m512i load_pair32(const void *a, const void *b)
{
    __m256i lo = _mm256_loadu_si256((const __m256i *)a);
    if (!b)
        return _mm512_zextsi256_si512(lo);
    return _mm512_inserti64x4(_mm512_castsi256_si512(lo), _mm256_loadu_si256((const __m256i *)b), 1);
}

/* A vector whose low 32 bytes are lo and high 32 bytes are hi. */
TF_ALWAYS __m512i set2_epi8(char lo, char hi)
{
    return _mm512_inserti64x4(_mm512_set1_epi8(lo), _mm256_set1_epi8(hi), 1);
}

/* The same 32 bytes in both halves. */
TF_ALWAYS __m512i bcast32(const void *p)
{
    return _mm512_broadcast_i64x4(_mm256_loadu_si256((const __m256i *)p));
}

#endif
