/* x86_avx512_k.c - AVX-512 + VNNI kernels of the K-quants (Q2_K .. Q6_K
 * against Q8_K activations).  Installed with x86_avx512.c's.
 *
 * A super-block is 4 steps of 64 elements.  Per step the weight quants are
 * unpacked to unsigned bytes u (in element order) and
 *   p    = dpbusd(0, u, y)          16 int32 lanes, 4 elements each;
 *   isum = dpwssd(isum, p, sc)      p fits int16 (|p| <= 4*63*128), so
 *                                   the pair product with sc = (scale, 0)
 *                                   is p * scale, exactly;
 * sc holds the scale of each lane's sub-block.  What the unsigned bytes
 * add (Q3_K: u = q + 4, Q6_K: u = q + 32) or the formats subtract (the
 * mins of Q2_K/Q4_K/Q5_K) comes from Q8_K's 16-element sums (bsums):
 *   Q3_K/Q6_K: isum += sum_j (-B * scale_j) * bsums_j   (one dpwssd);
 *   Q2_K/Q4_K/Q5_K: mins = sum_j min_j * bsums_j, scaled by dmin.
 * Then acc += d_w * d_y * isum (- dmin_w * d_y * mins), per super-block.
 */
#if defined(__clang__)
#pragma clang attribute push(__attribute__((target("avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512dq,avx512vnni"))), apply_to = function)
#elif defined(__GNUC__)
#pragma GCC target("avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512dq,avx512vnni")
#endif

#include "x86_avx512.h"

/* One super-block of weights, unpacked: quants, per-lane scales of each
 * step, and the 16 int16 factors against bsums (mins, or -B * scales). */
typedef struct {
    __m512i u[4], sc[4];
    __m256i mb;
    float d, dmin;
} wk;

/* Scale j of 16 (16-element sub-blocks) or of 8 (32-element ones) into
 * the lanes of step k: lane l of step k belongs to sub-block 4k + l/4
 * (or 2k + l/8).  e holds the scales as (scale, 0) int16 pairs. */
TF_ALWAYS void spread16(__m512i e, __m512i sc[4])
{
    TF_UNROLL for (int k = 0; k < 4; k++) {
        const __m512i idx = _mm512_add_epi32(_mm512_set1_epi32(4 * k),
            _mm512_setr_epi32(0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3));
        sc[k] = _mm512_permutexvar_epi32(idx, e);
    }
}

TF_ALWAYS void spread8(__m512i e, __m512i sc[4])
{
    TF_UNROLL for (int k = 0; k < 4; k++) {
        const __m512i idx = _mm512_add_epi32(_mm512_set1_epi32(2 * k),
            _mm512_setr_epi32(0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1));
        sc[k] = _mm512_permutexvar_epi32(idx, e);
    }
}

/* 16 signed bytes -> (value, 0) int16 pairs in 16 int32 lanes. */
TF_ALWAYS __m512i pairs_i8(__m128i v)
{
    return _mm512_cvtepu16_epi32(_mm256_cvtepi8_epi16(v));
}

/* Bit fields f and f + 1 of 32 bytes (in both halves of z) as bytes:
 * low half field f, high half field f + 1; fields are `bits` wide. */
TF_ALWAYS __m512i fields2(__m512i z, int f, int bits, int mask)
{
    const __m512i cnt = _mm512_inserti64x4(_mm512_set1_epi16((short)(f * bits)),
                                           _mm256_set1_epi16((short)((f + 1) * bits)), 1);
    return _mm512_and_si512(_mm512_srlv_epi16(z, cnt), _mm512_set1_epi8((char)mask));
}

/* ---- weight unpacking ---------------------------------------------------- */

/* Q2_K: element 128g + 32k + l is field k of qs[32g + l]; step s covers
 * g = s/2, fields 2(s%2) and 2(s%2) + 1. */
TF_ALWAYS wk w_q2_K(const tf_block_q2_K *x)
{
    wk W;
    TF_UNROLL for (int s = 0; s < 4; s++)
        W.u[s] = fields2(bcast32(x->qs + 32 * (s / 2)), 2 * (s % 2), 2, 3);
    __m128i sb = _mm_loadu_si128((const __m128i *)x->scales);
    __m128i lo = _mm_and_si128(sb, _mm_set1_epi8(0x0f));
    spread16(_mm512_cvtepu8_epi32(lo), W.sc);
    W.mb = _mm256_cvtepu8_epi16(_mm_and_si128(_mm_srli_epi16(sb, 4), _mm_set1_epi8(0x0f)));
    W.d = _cvtsh_ss(x->d);
    W.dmin = _cvtsh_ss(x->dmin);
    return W;
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

/* Q3_K: low 2 bits as Q2_K; the third bit (set: no -4) is bit 4g + k of
 * hmask[l], i.e. bit 2s (low half) and 2s + 1 (high half) for step s. */
TF_ALWAYS wk w_q3_K(const tf_block_q3_K *x)
{
    wk W;
    __m512i hm = bcast32(x->hmask);
    TF_UNROLL for (int s = 0; s < 4; s++) {
        __m512i u = fields2(bcast32(x->qs + 32 * (s / 2)), 2 * (s % 2), 2, 3);
        __mmask64 h = _mm512_test_epi8_mask(hm, set2_epi8((char)(1 << (2 * s)),
                                                         (char)(1 << (2 * s + 1))));
        W.u[s] = _mm512_mask_add_epi8(u, h, u, _mm512_set1_epi8(4));
    }
    __m128i sc = scales_q3_K(x->scales);
    spread16(pairs_i8(sc), W.sc);
    W.mb = _mm256_mullo_epi16(_mm256_cvtepi8_epi16(sc), _mm256_set1_epi16(-4));
    W.d = _cvtsh_ss(x->d);
    W.dmin = 0;
    return W;
}

/* Q4_K/Q5_K scales and mins (6 bits each, layout in ref_kquants.c), as
 * bytes: sc 0..7 then m 0..7. */
TF_ALWAYS __m128i scales_k4(const uint8_t s[12])
{
    uint32_t u0, u1, u2;
    memcpy(&u0, s, 4);
    memcpy(&u1, s + 4, 4);
    memcpy(&u2, s + 8, 4);
    uint32_t sc_lo = u0 & 0x3f3f3f3fu, m_lo = u1 & 0x3f3f3f3fu;
    uint32_t sc_hi = (u2 & 0x0f0f0f0fu) | ((u0 >> 6) & 0x03030303u) << 4;
    uint32_t m_hi = ((u2 >> 4) & 0x0f0f0f0fu) | ((u1 >> 6) & 0x03030303u) << 4;
    return _mm_setr_epi32((int)sc_lo, (int)sc_hi, (int)m_lo, (int)m_hi);
}

/* Q4_K: step s is qs[32s .. 32s + 31], low nibbles then high nibbles;
 * Q5_K adds bit s'(= 2s, 2s + 1) of qh[l] as 16. */
TF_ALWAYS wk w_q45_K(const uint8_t *qs, const uint8_t *qh, const uint8_t *scales, uint16_t d,
                      uint16_t dmin)
{
    wk W;
    __m512i hm = qh ? bcast32(qh) : _mm512_setzero_si512();
    TF_UNROLL for (int s = 0; s < 4; s++) {
        __m256i q = _mm256_loadu_si256((const __m256i *)(qs + 32 * s));
        __m512i u = _mm512_inserti64x4(_mm512_castsi256_si512(q), _mm256_srli_epi16(q, 4), 1);
        u = _mm512_and_si512(u, _mm512_set1_epi8(0x0f));
        if (qh) {
            __mmask64 h = _mm512_test_epi8_mask(hm, set2_epi8((char)(1 << (2 * s)),
                                                             (char)(1 << (2 * s + 1))));
            u = _mm512_mask_add_epi8(u, h, u, _mm512_set1_epi8(16));
        }
        W.u[s] = u;
    }
    __m128i sm = scales_k4(scales);
    spread8(_mm512_cvtepu8_epi32(sm), W.sc);
    __m128i m = _mm_unpackhi_epi64(sm, sm);
    W.mb = _mm256_cvtepu8_epi16(_mm_unpacklo_epi8(m, m)); /* m_j for bsums 2j, 2j+1 */
    W.d = _cvtsh_ss(d);
    W.dmin = _cvtsh_ss(dmin);
    return W;
}

TF_ALWAYS wk w_q4_K(const tf_block_q4_K *x)
{
    return w_q45_K(x->qs, NULL, x->scales, x->d, x->dmin);
}

TF_ALWAYS wk w_q5_K(const tf_block_q5_K *x)
{
    return w_q45_K(x->qs, x->qh, x->scales, x->d, x->dmin);
}

/* Q6_K: step s covers g = s/2, h = s%2: nibble h of ql[64g .. 64g + 63],
 * high bits fields 2h, 2h + 1 of qh[32g + l]; u = q + 32. */
TF_ALWAYS wk w_q6_K(const tf_block_q6_K *x)
{
    wk W;
    TF_UNROLL for (int s = 0; s < 4; s++) {
        __m512i ql = _mm512_loadu_si512(x->ql + 64 * (s / 2));
        if (s % 2)
            ql = _mm512_srli_epi16(ql, 4);
        ql = _mm512_and_si512(ql, _mm512_set1_epi8(0x0f));
        __m512i hb = fields2(bcast32(x->qh + 32 * (s / 2)), 2 * (s % 2), 2, 3);
        W.u[s] = _mm512_or_si512(ql, _mm512_slli_epi16(hb, 4));
    }
    __m128i sc = _mm_loadu_si128((const __m128i *)x->scales);
    spread16(pairs_i8(sc), W.sc);
    W.mb = _mm256_mullo_epi16(_mm256_cvtepi8_epi16(sc), _mm256_set1_epi16(-32));
    W.d = _cvtsh_ss(x->d);
    W.dmin = 0;
    return W;
}

/* ---- the dots ------------------------------------------------------------ */

TF_ALWAYS __m512i isum_k(const wk *W, const tf_block_q8_K *y, __m512i isum)
{
    TF_UNROLL for (int s = 0; s < 4; s++) {
        __m512i p = _mm512_dpbusd_epi32(_mm512_setzero_si512(), W->u[s],
                                        _mm512_loadu_si512(y->qs + 64 * s));
        isum = _mm512_dpwssd_epi32(isum, p, W->sc[s]);
    }
    return isum;
}

/* Formats with a min: acc += d*dy*isum - dmin*dy*sum(m_j bsums_j). */
TF_ALWAYS __m512 dot_min(__m512 acc, const wk *W, const tf_block_q8_K *y)
{
    __m512i isum = isum_k(W, y, _mm512_setzero_si512());
    __m256i ms = _mm256_madd_epi16(W->mb, _mm256_loadu_si256((const __m256i *)y->bsums));
    acc = _mm512_fmadd_ps(_mm512_set1_ps(y->d * W->d), _mm512_cvtepi32_ps(isum), acc);
    __m512 mf = _mm512_zextps256_ps512(_mm256_cvtepi32_ps(ms));
    return _mm512_fnmadd_ps(_mm512_set1_ps(y->d * W->dmin), mf, acc);
}

/* Biased formats: the -B * scale * bsums terms join isum first. */
TF_ALWAYS __m512 dot_bias(__m512 acc, const wk *W, const tf_block_q8_K *y)
{
    __m512i bs = _mm512_zextsi256_si512(_mm256_loadu_si256((const __m256i *)y->bsums));
    __m512i isum = _mm512_dpwssd_epi32(_mm512_setzero_si512(), bs,
                                       _mm512_zextsi256_si512(W->mb));
    isum = isum_k(W, y, isum);
    return _mm512_fmadd_ps(_mm512_set1_ps(W->d * y->d), _mm512_cvtepi32_ps(isum), acc);
}

#define DEFK(NAME, BT, WP, DOT)                                                             \
    TF_ALWAYS void NAME##_t(int64_t n, const uint8_t *w, size_t ws, const uint8_t *a,      \
                            size_t as, float *out, size_t os, const int RW, const int RA)  \
    {                                                                                       \
        __m512 acc[KTW][KTA];                                                               \
        TF_UNROLL for (int r = 0; r < RW; r++)                                              \
            TF_UNROLL for (int t = 0; t < RA; t++) acc[r][t] = _mm512_setzero_ps();         \
        for (int64_t i = 0; i < n / TF_QK_K; i++) {                                         \
            TF_UNROLL for (int r = 0; r < RW; r++) {                                        \
                wk W_ = WP((const BT *)(w + r * ws) + i);                                   \
                TF_UNROLL for (int t = 0; t < RA; t++)                                      \
                    acc[r][t] = DOT(acc[r][t], &W_, (const tf_block_q8_K *)(a + t * as) + i); \
            }                                                                               \
        }                                                                                   \
        TF_UNROLL for (int r = 0; r < RW; r++)                                              \
            TF_UNROLL for (int t = 0; t < RA; t++) out[t * os + r] = hsum16(acc[r][t]);     \
    }                                                                                       \
    TF_DEF_GEMM(NAME, KTW, KTA)

/* 4 x 4: 3x4, 2x4 and 2x8 measured the same within noise, 4x2 slower. */
#define KTW 4
#define KTA 4
DEFK(q2_K, tf_block_q2_K, w_q2_K, dot_min)
DEFK(q3_K, tf_block_q3_K, w_q3_K, dot_bias)
DEFK(q4_K, tf_block_q4_K, w_q4_K, dot_min)
DEFK(q5_K, tf_block_q5_K, w_q5_K, dot_min)
DEFK(q6_K, tf_block_q6_K, w_q6_K, dot_bias)

void tf_kernels_install_avx512_k(tf_type_kernels *t)
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
