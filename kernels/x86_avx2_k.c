/* x86_avx2_k.c - AVX2 kernels of the K-quants (Q2_K .. Q6_K against Q8_K
 * activations).  Installed with x86_avx2.c's (same flags, same CPUs).
 *
 * A super-block is 8 chunks of 32 elements.  Per chunk the weight quants
 * are unpacked to unsigned bytes u in element order, and
 *   isum += madd(maddubs(u, y), sc)      8 int32 lanes
 * where sc holds, per int16 pair, the scale of that pair's sub-block
 * (16-element sub-blocks: one scale per 128-bit lane).  maddubs cannot
 * saturate: u <= 63 and |y| <= 128.  What the unsigned bytes add (Q3_K:
 * u = q + 4, Q6_K: u = q + 32) or the formats subtract (the mins of
 * Q2_K/Q4_K/Q5_K) comes from Q8_K's 16-element sums (bsums):
 *   Q3_K/Q6_K: isum += madd(-B * scales, bsums);
 *   Q2_K/Q4_K/Q5_K: mins = madd(min per bsum, bsums), scaled by dmin;
 * then acc += d_w * d_y * isum (- dmin_w * d_y * mins) per super-block.
 * Integer sums are exact, so only that float chain's order matters, and
 * it is the same in every tile shape.
 */
#if defined(TF_AVXVNNI) && defined(__clang__)
#pragma clang attribute push(__attribute__((target("avx2,fma,f16c,avxvnni"))), apply_to = function)
#elif defined(TF_AVXVNNI) && defined(__GNUC__)
#pragma GCC target("avx2,fma,f16c,avxvnni")
#elif defined(__clang__)
#pragma clang attribute push(__attribute__((target("avx2,fma,f16c"))), apply_to = function)
#elif defined(__GNUC__)
#pragma GCC target("avx2,fma,f16c")
#endif

#include "x86_avx2.h"

/* One super-block's scales: e holds int16 scales arranged so chunk c's
 * pair scales are one byte shuffle away (see chunk_scale), mb the 16
 * factors against bsums, then d and dmin. */
typedef struct {
    __m256i e, mb;
    float d, dmin;
} sk;

/* Chunk c's scale per int16 pair (dot_us_scaled): word c of each 128-bit
 * lane of e, in both halves of each int32 lane, or (VNNI) the low half
 * (shuffle index 0x80 gives a zero byte). */
TF_ALWAYS __m256i chunk_scale(const sk *S, int c)
{
    const uint32_t lo = 0x0100u * (2 * c + 1) + 2 * c;
#if defined(TF_AVXVNNI)
    const uint32_t hi = 0x8080u;
#else
    const uint32_t hi = lo;
#endif
    return _mm256_shuffle_epi8(S->e, _mm256_set1_epi32((int)(hi << 16 | lo)));
}

/* 16-element sub-blocks: chunk c's low lane is sub-block 2c, its high lane
 * 2c + 1, so e = even scales in the low lane, odd ones in the high lane. */
TF_ALWAYS __m256i spread16(__m128i sc8, int is_signed)
{
    const __m128i eo = _mm_setr_epi8(0, 2, 4, 6, 8, 10, 12, 14, 1, 3, 5, 7, 9, 11, 13, 15);
    __m128i v = _mm_shuffle_epi8(sc8, eo);
    return is_signed ? _mm256_cvtepi8_epi16(v) : _mm256_cvtepu8_epi16(v);
}

/* ---- per-format scales and chunks ----------------------------------------
 * Chunk c covers elements 32c .. 32c + 31.  Q2_K/Q3_K/Q6_K: g = c/4,
 * k = c%4 (2-bit field k of byte 32g + l); Q4_K/Q5_K: nibble c%2 of
 * qs[32(c/2) + l], fifth bit c of qh[l]. */

TF_ALWAYS void sk_q2_K(sk *S, const tf_block_q2_K *x)
{
    __m128i sb = _mm_loadu_si128((const __m128i *)x->scales);
    S->e = spread16(_mm_and_si128(sb, _mm_set1_epi8(0x0f)), 0);
    S->mb = _mm256_cvtepu8_epi16(_mm_and_si128(_mm_srli_epi16(sb, 4), _mm_set1_epi8(0x0f)));
    S->d = h2f(x->d);
    S->dmin = h2f(x->dmin);
}

TF_ALWAYS __m256i u_q2_K(const tf_block_q2_K *x, int c)
{
    __m256i q = _mm256_loadu_si256((const __m256i *)(x->qs + 32 * (c / 4)));
    return _mm256_and_si256(_mm256_srli_epi16(q, 2 * (c % 4)), _mm256_set1_epi8(3));
}

/* Q3_K scales: 16 six-bit values, low nibbles in bytes 0..7 (scale j and
 * j + 8), top 2 bits at 2*(j/4) of byte 8 + j%4; minus 32. */
TF_ALWAYS __m128i scales_q3_K(const uint8_t s[12])
{
    int64_t lo8;
    int32_t hi4;
    memcpy(&lo8, s, 8);
    memcpy(&hi4, s + 8, 4);
    __m128i l = _mm_cvtsi64_si128(lo8);
    __m128i lo = _mm_and_si128(_mm_unpacklo_epi64(l, _mm_srli_epi16(l, 4)), _mm_set1_epi8(0x0f));
    __m128i h = _mm_srlv_epi32(_mm_set1_epi32(hi4), _mm_setr_epi32(0, 2, 4, 6));
    h = _mm_and_si128(h, _mm_set1_epi8(3));
    return _mm_sub_epi8(_mm_or_si128(lo, _mm_slli_epi16(h, 4)), _mm_set1_epi8(32));
}

TF_ALWAYS void sk_q3_K(sk *S, const tf_block_q3_K *x)
{
    __m128i sc = scales_q3_K(x->scales);
    S->e = spread16(sc, 1);
    S->mb = _mm256_mullo_epi16(_mm256_cvtepi8_epi16(sc), _mm256_set1_epi16(-4));
    S->d = h2f(x->d);
    S->dmin = 0;
}

TF_ALWAYS __m256i u_q3_K(const tf_block_q3_K *x, int c)
{
    __m256i q = _mm256_loadu_si256((const __m256i *)(x->qs + 32 * (c / 4)));
    __m256i u = _mm256_and_si256(_mm256_srli_epi16(q, 2 * (c % 4)), _mm256_set1_epi8(3));
    __m256i hm = _mm256_loadu_si256((const __m256i *)x->hmask);
    __m256i bit = _mm256_set1_epi8((char)(1 << c));
    __m256i h = _mm256_cmpeq_epi8(_mm256_and_si256(hm, bit), bit);
    return _mm256_or_si256(u, _mm256_and_si256(h, _mm256_set1_epi8(4)));
}

/* Q4_K/Q5_K: the 6-bit scales and mins (layout in ref_kquants.c) as
 * bytes sc 0..7, m 0..7; the scale of chunk c is sc c in both lanes. */
TF_ALWAYS void sk_q45_K(sk *S, const uint8_t s[12], uint16_t d, uint16_t dmin)
{
    uint32_t u0, u1, u2;
    memcpy(&u0, s, 4);
    memcpy(&u1, s + 4, 4);
    memcpy(&u2, s + 8, 4);
    uint32_t sc_lo = u0 & 0x3f3f3f3fu, m_lo = u1 & 0x3f3f3f3fu;
    uint32_t sc_hi = (u2 & 0x0f0f0f0fu) | ((u0 >> 6) & 0x03030303u) << 4;
    uint32_t m_hi = ((u2 >> 4) & 0x0f0f0f0fu) | ((u1 >> 6) & 0x03030303u) << 4;
    __m128i sm = _mm_setr_epi32((int)sc_lo, (int)sc_hi, (int)m_lo, (int)m_hi);
    S->e = _mm256_cvtepu8_epi16(_mm_unpacklo_epi64(sm, sm));
    __m128i m = _mm_unpackhi_epi64(sm, sm);
    S->mb = _mm256_cvtepu8_epi16(_mm_unpacklo_epi8(m, m)); /* m_j for bsums 2j, 2j+1 */
    S->d = h2f(d);
    S->dmin = h2f(dmin);
}

TF_ALWAYS void sk_q4_K(sk *S, const tf_block_q4_K *x) { sk_q45_K(S, x->scales, x->d, x->dmin); }
TF_ALWAYS void sk_q5_K(sk *S, const tf_block_q5_K *x) { sk_q45_K(S, x->scales, x->d, x->dmin); }

TF_ALWAYS __m256i u_q4_K(const tf_block_q4_K *x, int c)
{
    __m256i q = _mm256_loadu_si256((const __m256i *)(x->qs + 32 * (c / 2)));
    return _mm256_and_si256(_mm256_srli_epi16(q, 4 * (c % 2)), _mm256_set1_epi8(0x0f));
}

TF_ALWAYS __m256i u_q5_K(const tf_block_q5_K *x, int c)
{
    __m256i q = _mm256_loadu_si256((const __m256i *)(x->qs + 32 * (c / 2)));
    __m256i u = _mm256_and_si256(_mm256_srli_epi16(q, 4 * (c % 2)), _mm256_set1_epi8(0x0f));
    __m256i hm = _mm256_loadu_si256((const __m256i *)x->qh);
    __m256i bit = _mm256_set1_epi8((char)(1 << c));
    __m256i h = _mm256_cmpeq_epi8(_mm256_and_si256(hm, bit), bit);
    return _mm256_or_si256(u, _mm256_and_si256(h, _mm256_set1_epi8(0x10)));
}

TF_ALWAYS void sk_q6_K(sk *S, const tf_block_q6_K *x)
{
    __m128i sc = _mm_loadu_si128((const __m128i *)x->scales);
    S->e = spread16(sc, 1);
    S->mb = _mm256_mullo_epi16(_mm256_cvtepi8_epi16(sc), _mm256_set1_epi16(-32));
    S->d = h2f(x->d);
    S->dmin = 0;
}

/* Q6_K chunk c: g = c/4, k = c%4: nibble k/2 of ql[64g + 32(k%2) + l],
 * field k of qh[32g + l]. */
TF_ALWAYS __m256i u_q6_K(const tf_block_q6_K *x, int c)
{
    int g = c / 4, k = c % 4;
    __m256i ql = _mm256_loadu_si256((const __m256i *)(x->ql + 64 * g + 32 * (k % 2)));
    __m256i qh = _mm256_loadu_si256((const __m256i *)(x->qh + 32 * g));
    __m256i lo = _mm256_and_si256(_mm256_srli_epi16(ql, 4 * (k / 2)), _mm256_set1_epi8(0x0f));
    __m256i hi = _mm256_and_si256(_mm256_srli_epi16(qh, 2 * k), _mm256_set1_epi8(3));
    return _mm256_or_si256(lo, _mm256_slli_epi16(hi, 4));
}

/* ---- the tile body -------------------------------------------------------
 * MIN: 1 for the formats with mins (a second float term), 0 for the
 * biased ones (the bsums term joins isum). */
#define DEFK(NAME, BT, MIN, TW, TA)                                                         \
    TF_ALWAYS void NAME##_t(int64_t n, const uint8_t *w, size_t ws, const uint8_t *a,      \
                            size_t as, float *out, size_t os, const int RW, const int RA)  \
    {                                                                                       \
        __m256 acc[TW][TA];                                                                 \
        TF_UNROLL for (int r = 0; r < RW; r++)                                              \
            TF_UNROLL for (int t = 0; t < RA; t++) acc[r][t] = _mm256_setzero_ps();         \
        for (int64_t i = 0; i < n / TF_QK_K; i++) {                                         \
            const BT *x[TW];                                                                \
            const tf_block_q8_K *y[TA];                                                     \
            sk S[TW];                                                                       \
            __m256i isum[TW][TA];                                                           \
            TF_UNROLL for (int r = 0; r < RW; r++) {                                        \
                x[r] = (const BT *)(w + r * ws) + i;                                        \
                sk_##NAME(&S[r], x[r]);                                                     \
            }                                                                               \
            TF_UNROLL for (int t = 0; t < RA; t++) y[t] = (const tf_block_q8_K *)(a + t * as) + i; \
            TF_UNROLL for (int r = 0; r < RW; r++)                                          \
                TF_UNROLL for (int t = 0; t < RA; t++) isum[r][t] = _mm256_setzero_si256(); \
            TF_UNROLL for (int c = 0; c < 8; c++) {                                         \
                __m256i Y[TA];                                                              \
                TF_UNROLL for (int t = 0; t < RA; t++)                                      \
                    Y[t] = _mm256_loadu_si256((const __m256i *)(y[t]->qs + 32 * c));        \
                TF_UNROLL for (int r = 0; r < RW; r++) {                                    \
                    __m256i u = u_##NAME(x[r], c), sc = chunk_scale(&S[r], c);              \
                    TF_UNROLL for (int t = 0; t < RA; t++)                                  \
                        isum[r][t] = dot_us_scaled(isum[r][t], u, Y[t], sc);                \
                }                                                                           \
            }                                                                               \
            TF_UNROLL for (int r = 0; r < RW; r++)                                          \
                TF_UNROLL for (int t = 0; t < RA; t++) {                                    \
                    __m256i bs = _mm256_loadu_si256((const __m256i *)y[t]->bsums);          \
                    __m256i mb = _mm256_madd_epi16(S[r].mb, bs);                            \
                    if (!(MIN))                                                             \
                        isum[r][t] = _mm256_add_epi32(isum[r][t], mb);                      \
                    acc[r][t] = _mm256_fmadd_ps(_mm256_set1_ps(y[t]->d * S[r].d),           \
                                                _mm256_cvtepi32_ps(isum[r][t]), acc[r][t]); \
                    if (MIN)                                                                \
                        acc[r][t] = _mm256_fnmadd_ps(_mm256_set1_ps(y[t]->d * S[r].dmin),   \
                                                     _mm256_cvtepi32_ps(mb), acc[r][t]);    \
                }                                                                           \
        }                                                                                   \
        TF_UNROLL for (int r = 0; r < RW; r++)                                              \
            TF_UNROLL for (int t = 0; t < RA; t++) out[t * os + r] = hsum8(acc[r][t]);      \
    }                                                                                       \
    TF_DEF_GEMM(NAME, TW, TA)

DEFK(q2_K, tf_block_q2_K, 1, 2, 2)
DEFK(q3_K, tf_block_q3_K, 0, 2, 2)
DEFK(q4_K, tf_block_q4_K, 1, 2, 2)
DEFK(q5_K, tf_block_q5_K, 1, 2, 2)
DEFK(q6_K, tf_block_q6_K, 0, 2, 2)

void TF_X86_INSTALL(_k)(tf_type_kernels *t)
{
    TF_SET(t, TF_TYPE_Q2_K, q2_K);
    TF_SET(t, TF_TYPE_Q3_K, q3_K);
    TF_SET(t, TF_TYPE_Q4_K, q4_K);
    TF_SET(t, TF_TYPE_Q5_K, q5_K);
    TF_SET(t, TF_TYPE_Q6_K, q6_K);
}

#if defined(__clang__)
#pragma clang attribute pop
#endif
