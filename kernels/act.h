/* act.h - internal to kernels/: the exponential behind the SwiGLU kernels
 * (tf_swiglu_fn), written once as operations every level performs in the
 * same order, so the portable and SIMD kernels agree bit for bit.
 *
 * exp(x) = 2^n * p(r): n = floor(x log2(e) + 1/2), r = x - n ln2 with ln2
 * split in two (the high part has few mantissa bits, so n * LN2_HI is
 * exact), p the degree-6 Taylor polynomial of e^r on |r| <= ln2 / 2
 * (truncation below 1.2e-7, about an ulp).  x is clamped to [-87, 88] so
 * 2^n stays a normal float; NaN passes the clamp and stays NaN.  Every
 * step is a separate IEEE multiply or add (no FMA): a level that fused
 * them would round differently.
 */
#ifndef TF_ACT_H
#define TF_ACT_H

#include <math.h>
#include <stdint.h>

#define TF_EXP_LO (-87.0f)
#define TF_EXP_HI 88.0f
#define TF_LOG2E 1.44269504f
#define TF_LN2_HI 0.693359375f
#define TF_LN2_LO (-2.12194440e-4f)
#define TF_EXP_C6 (1.0f / 720)
#define TF_EXP_C5 (1.0f / 120)
#define TF_EXP_C4 (1.0f / 24)
#define TF_EXP_C3 (1.0f / 6)
#define TF_EXP_C2 0.5f

/* The RMS norm's scale (tf_rms_norm_fn): p holds the 8 partial sums of
 * squares of x[0..i), element k in p[k % 8] (the SIMD levels fill them
 * 8 or 16 elements at a time); the rest of the row goes in the same way,
 * then the sums combine in the one fixed order.  Every level ends here,
 * so none can drift. */
static inline float tf_rms_scale(double p[8], const float *x, int64_t i, int64_t n, float eps)
{
    for (; i < n; i++)
        p[i % 8] += (double)x[i] * x[i];
    double ss = ((p[0] + p[1]) + (p[2] + p[3])) + ((p[4] + p[5]) + (p[6] + p[7]));
    return 1.0f / sqrtf((float)(ss / n) + eps);
}

/* The SIMD levels' version: W is the vector width in bits (256, 512), VT
 * and VI its float and integer vector types.  Written once so the levels
 * cannot drift apart; max/min return their second operand for NaN, so x
 * stays NaN through the clamp as in the scalar code. */
#define TF_DEF_EXP_POLY(NAME, W, VT, VI)                                                        \
    static inline VT NAME(VT x)                                                               \
    {                                                                                         \
        x = _mm##W##_min_ps(_mm##W##_set1_ps(TF_EXP_HI), _mm##W##_max_ps(_mm##W##_set1_ps(TF_EXP_LO), x)); \
        VT n = _mm##W##_floor_ps(                                                             \
            _mm##W##_add_ps(_mm##W##_mul_ps(x, _mm##W##_set1_ps(TF_LOG2E)), _mm##W##_set1_ps(0.5f))); \
        VT r = _mm##W##_sub_ps(x, _mm##W##_mul_ps(n, _mm##W##_set1_ps(TF_LN2_HI)));           \
        r = _mm##W##_sub_ps(r, _mm##W##_mul_ps(n, _mm##W##_set1_ps(TF_LN2_LO)));              \
        VT p = _mm##W##_add_ps(_mm##W##_mul_ps(_mm##W##_set1_ps(TF_EXP_C6), r), _mm##W##_set1_ps(TF_EXP_C5)); \
        p = _mm##W##_add_ps(_mm##W##_mul_ps(p, r), _mm##W##_set1_ps(TF_EXP_C4));              \
        p = _mm##W##_add_ps(_mm##W##_mul_ps(p, r), _mm##W##_set1_ps(TF_EXP_C3));              \
        p = _mm##W##_add_ps(_mm##W##_mul_ps(p, r), _mm##W##_set1_ps(TF_EXP_C2));              \
        p = _mm##W##_add_ps(_mm##W##_mul_ps(p, r), _mm##W##_set1_ps(1.0f));                   \
        p = _mm##W##_add_ps(_mm##W##_mul_ps(p, r), _mm##W##_set1_ps(1.0f));                   \
        VI e = _mm##W##_slli_epi32(_mm##W##_add_epi32(_mm##W##_cvtps_epi32(n), _mm##W##_set1_epi32(127)), 23); \
        return _mm##W##_mul_ps(p, _mm##W##_castsi##W##_ps(e));                                \
    }

#endif
