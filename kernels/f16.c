/* f16.c - IEEE half / bfloat16 conversions and the float-format kernels
 * (F32, F16, BF16 weights; each is dotted against activations in its own
 * format, as the reference engine does, so F16 weights see activations
 * rounded to F16 first).
 *
 * The conversions themselves live in ref.h so quantized kernels inline
 * them; these are the public, out-of-line entry points.
 */
#include "ref.h"

float tf_f16_to_f32(uint16_t h) { return tf_h2f(h); }
uint16_t tf_f32_to_f16(float f) { return tf_f2h(f); }
float tf_bf16_to_f32(uint16_t h) { return tf_bf2f(h); }
uint16_t tf_f32_to_bf16(float f) { return tf_f2bf(f); }

/* ---- F32 --------------------------------------------------------------- */

void tf_ref_to_float_f32(const void *src, float *dst, int64_t n)
{
    memmove(dst, src, (size_t)n * sizeof(float));
}

void tf_ref_from_float_f32(const float *src, void *dst, int64_t n)
{
    memmove(dst, src, (size_t)n * sizeof(float));
}

/* The float dots accumulate in double: products are exact in double, so
 * the only rounding is the final one and the result is the oracle the
 * SIMD versions (which sum in float lanes) are measured against. */
float tf_ref_vec_dot_f32(int64_t n, const void *w, const void *a)
{
    const float *x = w, *y = a;
    double sum = 0;
    for (int64_t i = 0; i < n; i++)
        sum += (double)x[i] * y[i];
    return (float)sum;
}

/* ---- F16 --------------------------------------------------------------- */

void tf_ref_to_float_f16(const void *src, float *dst, int64_t n)
{
    const uint16_t *h = src;
    for (int64_t i = 0; i < n; i++)
        dst[i] = tf_h2f(h[i]);
}

void tf_ref_from_float_f16(const float *src, void *dst, int64_t n)
{
    uint16_t *h = dst;
    for (int64_t i = 0; i < n; i++)
        h[i] = tf_f2h(src[i]);
}

float tf_ref_vec_dot_f16(int64_t n, const void *w, const void *a)
{
    const uint16_t *x = w, *y = a;
    double sum = 0;
    for (int64_t i = 0; i < n; i++)
        sum += (double)tf_h2f(x[i]) * tf_h2f(y[i]);
    return (float)sum;
}

/* ---- BF16 -------------------------------------------------------------- */

void tf_ref_to_float_bf16(const void *src, float *dst, int64_t n)
{
    const uint16_t *h = src;
    for (int64_t i = 0; i < n; i++)
        dst[i] = tf_bf2f(h[i]);
}

void tf_ref_from_float_bf16(const float *src, void *dst, int64_t n)
{
    uint16_t *h = dst;
    for (int64_t i = 0; i < n; i++)
        h[i] = tf_f2bf(src[i]);
}

float tf_ref_vec_dot_bf16(int64_t n, const void *w, const void *a)
{
    const uint16_t *x = w, *y = a;
    double sum = 0;
    for (int64_t i = 0; i < n; i++)
        sum += (double)tf_bf2f(x[i]) * tf_bf2f(y[i]);
    return (float)sum;
}
