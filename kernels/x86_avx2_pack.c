/* x86_avx2_pack.c - AVX2 products over packed weights (kernels.h, "Packed
 * weights") for Q4_0 and Q8_0, for CPUs without AVX-512.
 *
 * A 64-byte word chunk holds the same 4 weight bytes of the group's 16
 * rows; a 256-bit register takes half of it, 8 rows, so each group is
 * computed as two halves of 8 rows side by side in the int32 lanes.
 * Without int8 dot products (VNNI) the bytes go through maddubs (unsigned
 * x signed pairs into int16) and madd (int16 pairs into int32):
 *   Q4_0: nibbles 0..15 times activations within +-127 give pairs of at
 *         most 3810, so the 8 words of a block add up in int16 (30480)
 *         before one madd; the activation block's -8 sum(y) then removes
 *         the offset 8, as in the AVX-512 kernel.
 *   Q8_0: the stored bytes are q xor 0x80; flipped back to signed q, |q|
 *         goes to maddubs and q's sign onto the activation (pairs at most
 *         2 * 128 * 127), one madd per word.
 * Floats follow the reference vec_dot exactly - (d_w * d_y) * sum, added
 * block after block with separate multiplies and adds - so each element
 * equals tf_ref_pack_gemm bit for bit.
 */
#if defined(__clang__)
#pragma clang attribute push(__attribute__((target("avx2,fma,f16c"))), apply_to = function)
#elif defined(__GNUC__)
#pragma GCC target("avx2,fma,f16c")
#endif

#include "x86_avx2.h"
#include "pack.h"

#define PR TF_PACK_ROWS
#define Q4_0_COL (PR * 18)
#define Q8_0_COL (PR * 34)
#define MAXT 4

/* Activation word (4 int8) at p, in every lane. */
TF_ALWAYS __m256i bw(const void *p)
{
    int32_t v;
    memcpy(&v, p, 4);
    return _mm256_set1_epi32(v);
}

/* Bytes 32 h .. 32 h + 31 of word chunk c: rows 8 h .. 8 h + 7. */
TF_ALWAYS __m256i chunk(const uint8_t *words, int c, int h)
{
    return _mm256_loadu_si256((const __m256i *)(words + 64 * c + 32 * h));
}

/* The 8 rows' halves of half h, as floats. */
TF_ALWAYS __m256 halves(const uint8_t *p, int h)
{
    return _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(p + 16 * h)));
}

TF_ALWAYS __m256 add_term(__m256 acc, __m256 dw, float dy, __m256i s)
{
    return _mm256_add_ps(acc, _mm256_mul_ps(_mm256_mul_ps(dw, _mm256_set1_ps(dy)), _mm256_cvtepi32_ps(s)));
}

#define Y(t) ((const tf_block_q8_0s *)(a + (t) * as) + b)

/* Rows 8 h .. 8 h + 7 of a group times NT tokens. */
TF_ALWAYS void q4_0_tile(int64_t nb, const uint8_t *w, int h, const uint8_t *a, size_t as,
                         float *out, size_t os, const int NT)
{
    __m256 acc[MAXT];
    TF_UNROLL for (int t = 0; t < NT; t++) acc[t] = _mm256_setzero_ps();
    const __m256i m4 = _mm256_set1_epi8(0x0f), ones = _mm256_set1_epi16(1);
    for (int64_t b = 0; b < nb; b++, w += Q4_0_COL) {
        __m256i p[MAXT];
        TF_UNROLL for (int t = 0; t < NT; t++) p[t] = _mm256_setzero_si256();
        TF_UNROLL for (int c = 0; c < 4; c++) {
            __m256i v = chunk(w + 32, c, h);
            __m256i lo = _mm256_and_si256(v, m4), hi = _mm256_and_si256(_mm256_srli_epi16(v, 4), m4);
            TF_UNROLL for (int t = 0; t < NT; t++) {
                p[t] = _mm256_add_epi16(p[t], _mm256_maddubs_epi16(lo, bw(Y(t)->qs + 4 * c)));
                p[t] = _mm256_add_epi16(p[t], _mm256_maddubs_epi16(hi, bw(Y(t)->qs + 16 + 4 * c)));
            }
        }
        __m256 dw = halves(w, h);
        TF_UNROLL for (int t = 0; t < NT; t++) {
            __m256i s = _mm256_add_epi32(_mm256_madd_epi16(p[t], ones), _mm256_set1_epi32(Y(t)->bias));
            acc[t] = add_term(acc[t], dw, Y(t)->d, s);
        }
    }
    TF_UNROLL for (int t = 0; t < NT; t++) _mm256_storeu_ps(out + t * os, acc[t]);
}

TF_ALWAYS void q8_0_tile(int64_t nb, const uint8_t *w, int h, const uint8_t *a, size_t as,
                         float *out, size_t os, const int NT)
{
    __m256 acc[MAXT];
    TF_UNROLL for (int t = 0; t < NT; t++) acc[t] = _mm256_setzero_ps();
    const __m256i flip = _mm256_set1_epi8((char)0x80), ones = _mm256_set1_epi16(1);
    for (int64_t b = 0; b < nb; b++, w += Q8_0_COL) {
        __m256i s[MAXT];
        TF_UNROLL for (int t = 0; t < NT; t++) s[t] = _mm256_setzero_si256();
        TF_UNROLL for (int c = 0; c < 8; c++) {
            __m256i q = _mm256_xor_si256(chunk(w + 32, c, h), flip); /* signed again */
            __m256i aq = _mm256_abs_epi8(q);
            TF_UNROLL for (int t = 0; t < NT; t++) {
                __m256i y = _mm256_sign_epi8(bw(Y(t)->qs + 4 * c), q);
                s[t] = _mm256_add_epi32(s[t], _mm256_madd_epi16(_mm256_maddubs_epi16(aq, y), ones));
            }
        }
        __m256 dw = halves(w, h);
        TF_UNROLL for (int t = 0; t < NT; t++) acc[t] = add_term(acc[t], dw, Y(t)->d, s[t]);
    }
    TF_UNROLL for (int t = 0; t < NT; t++) _mm256_storeu_ps(out + t * os, acc[t]);
}

/* ---- drivers: as x86_avx512_pack.c's, each group in two halves ---------- */

#define ACT_BLOCK_BYTES (256u << 10)

#define CASE(TILE, k) case k: TILE(nb, w, h, at, as, o + 8 * h, os, k); break;

#define DEF_PACK(NAME, TILE, BYTES)                                                         \
    static void pgemm_##NAME(int64_t n, const void *wp, int ng, const void *a, size_t as, \
                             int na, float *out, size_t os)                               \
    {                                                                                     \
        int64_t nb = n / TF_QK;                                                           \
        size_t gb = (size_t)nb * (BYTES);                                                 \
        int tb = as ? (int)(ACT_BLOCK_BYTES / as) : na;                                   \
        tb = tb < MAXT ? MAXT : tb / MAXT * MAXT;                                         \
        for (int t0 = 0; t0 < na; t0 += tb) {                                             \
            int t1 = na - t0 < tb ? na : t0 + tb;                                         \
            for (int g = 0; g < ng; g++)                                                  \
                for (int h = 0; h < 2; h++) {                                             \
                    const uint8_t *w = (const uint8_t *)wp + (size_t)g * gb;              \
                    for (int t = t0; t < t1; t += MAXT) {                                 \
                        const uint8_t *at = (const uint8_t *)a + (size_t)t * as;          \
                        float *o = out + (size_t)t * os + (size_t)g * PR;                 \
                        switch (t1 - t < MAXT ? t1 - t : MAXT) {                          \
                            CASE(TILE, 1) CASE(TILE, 2) CASE(TILE, 3) CASE(TILE, 4)       \
                        }                                                                 \
                    }                                                                     \
                }                                                                         \
        }                                                                                 \
    }

DEF_PACK(q4_0, q4_0_tile, Q4_0_COL)
DEF_PACK(q8_0, q8_0_tile, Q8_0_COL)

void tf_kernels_install_avx2_pack(tf_type_kernels *t)
{
    t[TF_TYPE_Q4_0].pack_gemm = pgemm_q4_0;
    t[TF_TYPE_Q8_0].pack_gemm = pgemm_q8_0;
}

#if defined(__clang__)
#pragma clang attribute pop
#endif
