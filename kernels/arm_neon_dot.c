/* arm_neon_dot.c - AArch64 kernels built on the Armv8.2 dot product
 * (sdot: signed bytes, groups of 4 summed into int32 lanes), compiled
 * with +dotprod and installed by dispatch.c only when HWCAP reports it:
 * Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, IQ4_NL (against Q8_0/Q8_1) and Q4_K, Q6_K
 * (against Q8_K).
 *
 * Weights are unpacked to signed bytes (q - 8, q - 16, the IQ4_NL grid,
 * q - 32 for Q6_K; Q4_1/Q5_1/Q4_K keep their unsigned q, which fit in
 * int8), so no offset needs taking back out.  Per 32-element block:
 *   int32 lanes = sdot(sdot(0, q_lo, y_lo), q_hi, y_hi)
 *   acc        += float(lanes) * (d_w * d_y)      (+ m_w * s_y in lane 0)
 * and per K-quant super-block the sub-block sums are scaled in integers,
 * then acc += d_w d_y isum (- dmin_w d_y mins).  One tile body per type
 * (simd_tile.h): gemm and vec_dot agree bit for bit.
 */
#include <arm_neon.h>
#include "simd_tile.h"

TF_ALWAYS float hsum4(float32x4_t v)
{
    float32x2_t s = vadd_f32(vget_low_f32(v), vget_high_f32(v));
    return vget_lane_f32(vpadd_f32(s, s), 0);
}

TF_ALWAYS float h2f(uint16_t h) { return vgetq_lane_f32(vcvt_f32_f16(vreinterpret_f16_u16(vdup_n_u16(h))), 0); }

/* ---- 32-element formats ------------------------------------------------- */

typedef struct { int8x16_t lo, hi; float d, m; } w32;
typedef struct { int8x16_t lo, hi; float d, s; } a32;

#define BLK(T, p, i) ((const T *)(p) + (i))

/* Low nibbles (elements 0..15) and high nibbles (16..31). */
TF_ALWAYS void nibbles(const uint8_t *qs, uint8x16_t *lo, uint8x16_t *hi)
{
    uint8x16_t b = vld1q_u8(qs);
    *lo = vandq_u8(b, vdupq_n_u8(0x0f));
    *hi = vshrq_n_u8(b, 4);
}

/* Fifth bits of a Q5 block as 0x10 bytes (bit i of qh: element i). */
TF_ALWAYS void hbits(const uint8_t *qh4, uint8x16_t *lo, uint8x16_t *hi)
{
    const uint8x16_t bit = {1, 2, 4, 8, 16, 32, 64, 128, 1, 2, 4, 8, 16, 32, 64, 128};
    uint8x16_t b0 = vcombine_u8(vdup_n_u8(qh4[0]), vdup_n_u8(qh4[1]));
    uint8x16_t b1 = vcombine_u8(vdup_n_u8(qh4[2]), vdup_n_u8(qh4[3]));
    *lo = vandq_u8(vtstq_u8(b0, bit), vdupq_n_u8(0x10));
    *hi = vandq_u8(vtstq_u8(b1, bit), vdupq_n_u8(0x10));
}

TF_ALWAYS w32 w_q4_0(const uint8_t *p, int64_t i)
{
    const tf_block_q4_0 *x = BLK(tf_block_q4_0, p, i);
    uint8x16_t lo, hi;
    nibbles(x->qs, &lo, &hi);
    const int8x16_t k8 = vdupq_n_s8(8);
    w32 W = {vsubq_s8(vreinterpretq_s8_u8(lo), k8), vsubq_s8(vreinterpretq_s8_u8(hi), k8),
             h2f(x->d), 0};
    return W;
}

TF_ALWAYS w32 w_q4_1(const uint8_t *p, int64_t i)
{
    const tf_block_q4_1 *x = BLK(tf_block_q4_1, p, i);
    uint8x16_t lo, hi;
    nibbles(x->qs, &lo, &hi);
    w32 W = {vreinterpretq_s8_u8(lo), vreinterpretq_s8_u8(hi), h2f(x->d), h2f(x->m)};
    return W;
}

TF_ALWAYS w32 w_q5_0(const uint8_t *p, int64_t i)
{
    const tf_block_q5_0 *x = BLK(tf_block_q5_0, p, i);
    uint8x16_t lo, hi, hl, hh;
    nibbles(x->qs, &lo, &hi);
    hbits(x->qh, &hl, &hh);
    const int8x16_t k16 = vdupq_n_s8(16);
    w32 W = {vsubq_s8(vreinterpretq_s8_u8(vorrq_u8(lo, hl)), k16),
             vsubq_s8(vreinterpretq_s8_u8(vorrq_u8(hi, hh)), k16), h2f(x->d), 0};
    return W;
}

TF_ALWAYS w32 w_q5_1(const uint8_t *p, int64_t i)
{
    const tf_block_q5_1 *x = BLK(tf_block_q5_1, p, i);
    uint8x16_t lo, hi, hl, hh;
    nibbles(x->qs, &lo, &hi);
    hbits(x->qh, &hl, &hh);
    w32 W = {vreinterpretq_s8_u8(vorrq_u8(lo, hl)), vreinterpretq_s8_u8(vorrq_u8(hi, hh)),
             h2f(x->d), h2f(x->m)};
    return W;
}

TF_ALWAYS w32 w_q8_0(const uint8_t *p, int64_t i)
{
    const tf_block_q8_0 *x = BLK(tf_block_q8_0, p, i);
    w32 W = {vld1q_s8(x->qs), vld1q_s8(x->qs + 16), h2f(x->d), 0};
    return W;
}

TF_ALWAYS w32 w_iq4_nl(const uint8_t *p, int64_t i)
{
    const tf_block_iq4_nl *x = BLK(tf_block_iq4_nl, p, i);
    const int8x16_t grid = vld1q_s8(tf_iq4nl_values);
    uint8x16_t lo, hi;
    nibbles(x->qs, &lo, &hi);
    w32 W = {vqtbl1q_s8(grid, lo), vqtbl1q_s8(grid, hi), h2f(x->d), 0};
    return W;
}

TF_ALWAYS a32 a_q8_0(const uint8_t *p, int64_t i)
{
    const tf_block_q8_0 *y = BLK(tf_block_q8_0, p, i);
    a32 A = {vld1q_s8(y->qs), vld1q_s8(y->qs + 16), h2f(y->d), 0};
    return A;
}

TF_ALWAYS a32 a_q8_1(const uint8_t *p, int64_t i)
{
    const tf_block_q8_1 *y = BLK(tf_block_q8_1, p, i);
    a32 A = {vld1q_s8(y->qs), vld1q_s8(y->qs + 16), h2f(y->d), h2f(y->s)};
    return A;
}

TF_ALWAYS float32x4_t dot32(float32x4_t acc, w32 W, a32 A)
{
    int32x4_t s = vdotq_s32(vdotq_s32(vdupq_n_s32(0), W.lo, A.lo), W.hi, A.hi);
    return vfmaq_f32(acc, vcvtq_f32_s32(s), vdupq_n_f32(W.d * A.d));
}

TF_ALWAYS float32x4_t dot32m(float32x4_t acc, w32 W, a32 A)
{
    acc = dot32(acc, W, A);
    return vfmaq_f32(acc, vsetq_lane_f32(W.m, vdupq_n_f32(0), 0), vdupq_n_f32(A.s));
}

#define DEF32(NAME, WP, AP, DOT)                                                            \
    TF_ALWAYS void NAME##_t(int64_t n, const uint8_t *w, size_t ws, const uint8_t *a,      \
                            size_t as, float *out, size_t os, const int RW, const int RA)  \
    {                                                                                       \
        float32x4_t acc[4][4];                                                              \
        TF_UNROLL for (int r = 0; r < RW; r++)                                              \
            TF_UNROLL for (int t = 0; t < RA; t++) acc[r][t] = vdupq_n_f32(0);              \
        for (int64_t i = 0; i < n / TF_QK; i++) {                                           \
            a32 A_[4];                                                                      \
            TF_UNROLL for (int t = 0; t < RA; t++) A_[t] = AP(a + t * as, i);               \
            TF_UNROLL for (int r = 0; r < RW; r++) {                                        \
                w32 W_ = WP(w + r * ws, i);                                                 \
                TF_UNROLL for (int t = 0; t < RA; t++)                                      \
                    acc[r][t] = DOT(acc[r][t], W_, A_[t]);                                  \
            }                                                                               \
        }                                                                                   \
        TF_UNROLL for (int r = 0; r < RW; r++)                                              \
            TF_UNROLL for (int t = 0; t < RA; t++) out[t * os + r] = hsum4(acc[r][t]);      \
    }                                                                                       \
    TF_DEF_GEMM(NAME, 4, 4)

DEF32(q4_0, w_q4_0, a_q8_0, dot32)
DEF32(q4_1, w_q4_1, a_q8_1, dot32m)
DEF32(q5_0, w_q5_0, a_q8_0, dot32)
DEF32(q5_1, w_q5_1, a_q8_1, dot32m)
DEF32(q8_0, w_q8_0, a_q8_0, dot32)
DEF32(iq4_nl, w_iq4_nl, a_q8_0, dot32)

/* ---- K-quants --------------------------------------------------------------
 * Chunk c of a super-block is elements 32c .. 32c + 31.  Q4_K: nibble c%2
 * of qs[32(c/2) + l], scale/min of sub-block c.  Q6_K: nibble k/2 of
 * ql[64g + 32(k%2) + l] and field k of qh[32g + l] (g = c/4, k = c%4),
 * scales of sub-blocks 2c (first 16) and 2c + 1. */

typedef struct { int32_t sc[16]; int16x8_t m; float d, dmin; } sk;

TF_ALWAYS void sk_q4_K(sk *S, const tf_block_q4_K *x)
{
    const uint8_t *s = x->scales;
    int16_t m[8];
    for (int j = 0; j < 8; j++) {
        S->sc[j] = j < 4 ? s[j] & 63 : (s[j + 4] & 0xf) | (s[j - 4] >> 6) << 4;
        m[j] = (int16_t)(j < 4 ? s[j + 4] & 63 : (s[j + 4] >> 4) | (s[j] >> 6) << 4);
    }
    S->m = vld1q_s16(m);
    S->d = h2f(x->d);
    S->dmin = h2f(x->dmin);
}

TF_ALWAYS void u_q4_K(const tf_block_q4_K *x, int c, int8x16_t *lo, int8x16_t *hi)
{
    uint8x16_t b0 = vld1q_u8(x->qs + 32 * (c / 2)), b1 = vld1q_u8(x->qs + 32 * (c / 2) + 16);
    if (c % 2) {
        *lo = vreinterpretq_s8_u8(vshrq_n_u8(b0, 4));
        *hi = vreinterpretq_s8_u8(vshrq_n_u8(b1, 4));
    } else {
        *lo = vreinterpretq_s8_u8(vandq_u8(b0, vdupq_n_u8(0x0f)));
        *hi = vreinterpretq_s8_u8(vandq_u8(b1, vdupq_n_u8(0x0f)));
    }
}

TF_ALWAYS void sk_q6_K(sk *S, const tf_block_q6_K *x)
{
    for (int j = 0; j < 16; j++)
        S->sc[j] = x->scales[j];
    S->m = vdupq_n_s16(0);
    S->d = h2f(x->d);
    S->dmin = 0;
}

TF_ALWAYS void u_q6_K(const tf_block_q6_K *x, int c, int8x16_t *lo, int8x16_t *hi)
{
    int g = c / 4, k = c % 4;
    const uint8_t *ql = x->ql + 64 * g + 32 * (k % 2), *qh = x->qh + 32 * g;
    uint8x16_t l0 = vld1q_u8(ql), l1 = vld1q_u8(ql + 16);
    uint8x16_t h0 = vld1q_u8(qh), h1 = vld1q_u8(qh + 16);
    const uint8x16_t m4 = vdupq_n_u8(0x0f), m2 = vdupq_n_u8(3);
    if (k / 2) {
        l0 = vshrq_n_u8(l0, 4);
        l1 = vshrq_n_u8(l1, 4);
    } else {
        l0 = vandq_u8(l0, m4);
        l1 = vandq_u8(l1, m4);
    }
    h0 = vandq_u8(vshlq_u8(h0, vdupq_n_s8((int8_t)(-2 * k))), m2);
    h1 = vandq_u8(vshlq_u8(h1, vdupq_n_s8((int8_t)(-2 * k))), m2);
    const int8x16_t k32 = vdupq_n_s8(32);
    *lo = vsubq_s8(vreinterpretq_s8_u8(vorrq_u8(l0, vshlq_n_u8(h0, 4))), k32);
    *hi = vsubq_s8(vreinterpretq_s8_u8(vorrq_u8(l1, vshlq_n_u8(h1, 4))), k32);
}

/* Sub-block sums of chunk c, scaled: Q4_K one scale per chunk, Q6_K one
 * per 16 elements. */
#define KSCALE_q4_K(S, c, p0, p1, isum) \
    vmlaq_n_s32(isum, vaddq_s32(p0, p1), (S).sc[c])
#define KSCALE_q6_K(S, c, p0, p1, isum) \
    vmlaq_n_s32(vmlaq_n_s32(isum, p0, (S).sc[2 * (c)]), p1, (S).sc[2 * (c) + 1])

#define DEFK(NAME, BT)                                                                      \
    TF_ALWAYS void NAME##_t(int64_t n, const uint8_t *w, size_t ws, const uint8_t *a,      \
                            size_t as, float *out, size_t os, const int RW, const int RA)  \
    {                                                                                       \
        float32x4_t acc[2][2];                                                              \
        TF_UNROLL for (int r = 0; r < RW; r++)                                              \
            TF_UNROLL for (int t = 0; t < RA; t++) acc[r][t] = vdupq_n_f32(0);              \
        for (int64_t i = 0; i < n / TF_QK_K; i++) {                                         \
            const BT *x[2];                                                                 \
            const tf_block_q8_K *y[2];                                                      \
            sk S[2];                                                                        \
            int32x4_t isum[2][2];                                                           \
            TF_UNROLL for (int r = 0; r < RW; r++) {                                        \
                x[r] = (const BT *)(w + r * ws) + i;                                        \
                sk_##NAME(&S[r], x[r]);                                                     \
                TF_UNROLL for (int t = 0; t < RA; t++) isum[r][t] = vdupq_n_s32(0);         \
            }                                                                               \
            TF_UNROLL for (int t = 0; t < RA; t++) y[t] = (const tf_block_q8_K *)(a + t * as) + i; \
            TF_UNROLL for (int c = 0; c < 8; c++)                                           \
                TF_UNROLL for (int r = 0; r < RW; r++) {                                    \
                    int8x16_t lo, hi;                                                       \
                    u_##NAME(x[r], c, &lo, &hi);                                            \
                    TF_UNROLL for (int t = 0; t < RA; t++) {                                \
                        int32x4_t p0 = vdotq_s32(vdupq_n_s32(0), lo, vld1q_s8(y[t]->qs + 32 * c)); \
                        int32x4_t p1 = vdotq_s32(vdupq_n_s32(0), hi,                        \
                                                 vld1q_s8(y[t]->qs + 32 * c + 16));         \
                        isum[r][t] = KSCALE_##NAME(S[r], c, p0, p1, isum[r][t]);            \
                    }                                                                       \
                }                                                                           \
            TF_UNROLL for (int r = 0; r < RW; r++)                                          \
                TF_UNROLL for (int t = 0; t < RA; t++) {                                    \
                    /* mins: m_j against bsums 2j + 2j+1 (Q6_K: m is 0) */                 \
                    int16x8_t bs = vpaddq_s16(vld1q_s16(y[t]->bsums), vld1q_s16(y[t]->bsums + 8)); \
                    int32x4_t ms = vmull_s16(vget_low_s16(bs), vget_low_s16(S[r].m));       \
                    ms = vmlal_s16(ms, vget_high_s16(bs), vget_high_s16(S[r].m));           \
                    acc[r][t] = vfmaq_f32(acc[r][t], vcvtq_f32_s32(isum[r][t]),             \
                                          vdupq_n_f32(y[t]->d * S[r].d));                   \
                    acc[r][t] = vfmsq_f32(acc[r][t], vcvtq_f32_s32(ms),                     \
                                          vdupq_n_f32(y[t]->d * S[r].dmin));                \
                }                                                                           \
        }                                                                                   \
        TF_UNROLL for (int r = 0; r < RW; r++)                                              \
            TF_UNROLL for (int t = 0; t < RA; t++) out[t * os + r] = hsum4(acc[r][t]);      \
    }                                                                                       \
    TF_DEF_GEMM(NAME, 2, 2)

DEFK(q4_K, tf_block_q4_K)
DEFK(q6_K, tf_block_q6_K)

void tf_kernels_install_neon_dot(tf_type_kernels *t)
{
    TF_SET(t, TF_TYPE_Q4_0, q4_0);
    TF_SET(t, TF_TYPE_Q4_1, q4_1);
    TF_SET(t, TF_TYPE_Q5_0, q5_0);
    TF_SET(t, TF_TYPE_Q5_1, q5_1);
    TF_SET(t, TF_TYPE_Q8_0, q8_0);
    TF_SET(t, TF_TYPE_IQ4_NL, iq4_nl);
    TF_SET(t, TF_TYPE_Q4_K, q4_K);
    TF_SET(t, TF_TYPE_Q6_K, q6_K);
}
