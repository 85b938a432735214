/* ref_act.c - the portable F32 row kernels: SwiGLU, silu(g) * u = g / (1 +
 * e^-g) * u with the exponential of act.h; the residual add; the RMS norm
 * (kernels.h has the order of its sums).  One element at a time; the SIMD
 * levels compute each lane exactly like this. */
#include <math.h>
#include "act.h"
#include "ref.h"

#if defined(__clang__)
#pragma STDC FP_CONTRACT OFF /* gcc: off already in ISO C mode (-std=c11) */
#endif

static float exp_poly(float x)
{
    x = x < TF_EXP_LO ? TF_EXP_LO : x; /* comparisons keep NaN */
    x = x > TF_EXP_HI ? TF_EXP_HI : x;
    float n = floorf(x * TF_LOG2E + 0.5f);
    float r = x - n * TF_LN2_HI;
    r = r - n * TF_LN2_LO;
    float p = TF_EXP_C6 * r + TF_EXP_C5;
    p = p * r + TF_EXP_C4;
    p = p * r + TF_EXP_C3;
    p = p * r + TF_EXP_C2;
    p = p * r + 1.0f;
    p = p * r + 1.0f;
    uint32_t bits = (uint32_t)((int32_t)n + 127) << 23;
    float scale;
    memcpy(&scale, &bits, sizeof scale);
    return p * scale;
}

void tf_ref_swiglu(const float *g, const float *u, float *out, int64_t n)
{
    for (int64_t i = 0; i < n; i++) {
        if (g[i] != g[i]) { /* NaN: no exponent to build */
            out[i] = g[i] * u[i];
            continue;
        }
        out[i] = g[i] / (1.0f + exp_poly(-g[i])) * u[i];
    }
}

void tf_ref_add(const float *a, const float *b, float *out, int64_t n)
{
    for (int64_t i = 0; i < n; i++)
        out[i] = a[i] + b[i];
}

void tf_ref_rms_norm(const float *x, const float *w, float eps, float *out, int64_t n)
{
    double p[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    float scale = tf_rms_scale(p, x, 0, n, eps);
    for (int64_t i = 0; i < n; i++)
        out[i] = x[i] * scale * w[i];
}
