/* ref_quants.c - portable kernels of the 32-element block formats:
 * Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, IQ4_NL (weights) and Q8_0, Q8_1
 * (activations).
 *
 * Element order inside a block (fixed by the format): byte j of qs holds
 * element j in its low nibble and element j + 16 in its high nibble; the
 * fifth bit of Q5 element i is bit i of the little-endian 32-bit qh.
 *
 * The quantizers reproduce the reference engine's deterministic ones
 * operation for operation (same scale choice, same float expressions, same
 * rounding), so quantizing the F32 model gives byte-identical files; the
 * tests hold us to that.  Dots are integer sums per block, scaled once per
 * block and accumulated in float.
 */
#include <math.h>
#include <float.h>
#include "ref.h"

const int8_t tf_iq4nl_values[16] = {
    -127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113,
};

/* Value of largest magnitude, sign kept (first one wins a tie): symmetric
 * formats map it onto their most negative level, which is one step wider
 * than the positive side. */
static float signed_absmax(const float *x, int n)
{
    float amax = 0, max = 0;
    for (int j = 0; j < n; j++) {
        if (fabsf(x[j]) > amax) {
            amax = fabsf(x[j]);
            max = x[j];
        }
    }
    return max;
}

static void min_max(const float *x, int n, float *mn, float *mx)
{
    float lo = FLT_MAX, hi = -FLT_MAX;
    for (int j = 0; j < n; j++) {
        if (x[j] < lo) lo = x[j];
        if (x[j] > hi) hi = x[j];
    }
    *mn = lo;
    *mx = hi;
}

/* Truncation of (value + 0.5), clamped: the reference's rounding for these
 * formats (ties go up).  Compares before converting so inf/NaN input
 * cannot reach an undefined float->int conversion. */
static inline int trunc_clamp(float v, int hi)
{
    if (!(v > 0))
        return 0;
    return v >= (float)hi ? hi : (int)v;
}

/* ---- Q4_0: x = d * (q - 8) -------------------------------------------- */

void tf_ref_to_float_q4_0(const void *src, float *dst, int64_t n)
{
    const tf_block_q4_0 *b = src;
    for (int64_t i = 0; i < n / TF_QK; i++, dst += TF_QK) {
        float d = tf_h2f(b[i].d);
        for (int j = 0; j < 16; j++) {
            dst[j] = ((b[i].qs[j] & 0xf) - 8) * d;
            dst[j + 16] = ((b[i].qs[j] >> 4) - 8) * d;
        }
    }
}

void tf_ref_from_float_q4_0(const float *src, void *dst, int64_t n)
{
    tf_block_q4_0 *b = dst;
    for (int64_t i = 0; i < n / TF_QK; i++, src += TF_QK) {
        float d = signed_absmax(src, TF_QK) / -8;
        float id = d != 0 ? 1.0f / d : 0.0f;
        b[i].d = tf_f2h(d);
        for (int j = 0; j < 16; j++) {
            int lo = trunc_clamp(src[j] * id + 8.5f, 15);
            int hi = trunc_clamp(src[j + 16] * id + 8.5f, 15);
            b[i].qs[j] = (uint8_t)(lo | hi << 4);
        }
    }
}

float tf_ref_vec_dot_q4_0(int64_t n, const void *w, const void *a)
{
    const tf_block_q4_0 *x = w;
    const tf_block_q8_0 *y = a;
    float sum = 0;
    for (int64_t i = 0; i < n / TF_QK; i++) {
        int s = 0;
        for (int j = 0; j < 16; j++)
            s += ((x[i].qs[j] & 0xf) - 8) * y[i].qs[j] +
                 ((x[i].qs[j] >> 4) - 8) * y[i].qs[j + 16];
        sum += (tf_h2f(x[i].d) * tf_h2f(y[i].d)) * (float)s;
    }
    return sum;
}

/* ---- Q4_1: x = d * q + m ---------------------------------------------- */

void tf_ref_to_float_q4_1(const void *src, float *dst, int64_t n)
{
    const tf_block_q4_1 *b = src;
    for (int64_t i = 0; i < n / TF_QK; i++, dst += TF_QK) {
        float d = tf_h2f(b[i].d), m = tf_h2f(b[i].m);
        for (int j = 0; j < 16; j++) {
            dst[j] = (b[i].qs[j] & 0xf) * d + m;
            dst[j + 16] = (b[i].qs[j] >> 4) * d + m;
        }
    }
}

void tf_ref_from_float_q4_1(const float *src, void *dst, int64_t n)
{
    tf_block_q4_1 *b = dst;
    for (int64_t i = 0; i < n / TF_QK; i++, src += TF_QK) {
        float mn, mx;
        min_max(src, TF_QK, &mn, &mx);
        float d = (mx - mn) / 15;
        float id = d != 0 ? 1.0f / d : 0.0f;
        b[i].d = tf_f2h(d);
        b[i].m = tf_f2h(mn);
        for (int j = 0; j < 16; j++) {
            int lo = trunc_clamp((src[j] - mn) * id + 0.5f, 15);
            int hi = trunc_clamp((src[j + 16] - mn) * id + 0.5f, 15);
            b[i].qs[j] = (uint8_t)(lo | hi << 4);
        }
    }
}

/* sum((d q + m) * dy qy) = d dy sum(q qy) + m * (dy sum(qy)); the last
 * factor is Q8_1's s. */
float tf_ref_vec_dot_q4_1(int64_t n, const void *w, const void *a)
{
    const tf_block_q4_1 *x = w;
    const tf_block_q8_1 *y = a;
    float sum = 0;
    for (int64_t i = 0; i < n / TF_QK; i++) {
        int s = 0;
        for (int j = 0; j < 16; j++)
            s += (x[i].qs[j] & 0xf) * y[i].qs[j] + (x[i].qs[j] >> 4) * y[i].qs[j + 16];
        sum += (tf_h2f(x[i].d) * tf_h2f(y[i].d)) * (float)s +
               tf_h2f(x[i].m) * tf_h2f(y[i].s);
    }
    return sum;
}

/* ---- Q5_0 / Q5_1: a fifth bit per element from qh --------------------- */

static inline uint32_t load_qh(const uint8_t qh[4])
{
    return (uint32_t)qh[0] | (uint32_t)qh[1] << 8 | (uint32_t)qh[2] << 16 |
           (uint32_t)qh[3] << 24;
}

/* The 32 unsigned 5-bit quants of a block, in element order. */
static inline void unpack_q5(const uint8_t qs[16], const uint8_t qh4[4], int q[32])
{
    uint32_t qh = load_qh(qh4);
    for (int j = 0; j < 16; j++) {
        q[j] = (qs[j] & 0xf) | (int)((qh >> j) & 1) << 4;
        q[j + 16] = (qs[j] >> 4) | (int)((qh >> (j + 16)) & 1) << 4;
    }
}

static inline void pack_q5(const int q[32], uint8_t qs[16], uint8_t qh4[4])
{
    uint32_t qh = 0;
    for (int j = 0; j < 16; j++) {
        qs[j] = (uint8_t)((q[j] & 0xf) | (q[j + 16] & 0xf) << 4);
        qh |= (uint32_t)(q[j] >> 4) << j | (uint32_t)(q[j + 16] >> 4) << (j + 16);
    }
    for (int k = 0; k < 4; k++)
        qh4[k] = (uint8_t)(qh >> (8 * k));
}

void tf_ref_to_float_q5_0(const void *src, float *dst, int64_t n)
{
    const tf_block_q5_0 *b = src;
    int q[32];
    for (int64_t i = 0; i < n / TF_QK; i++, dst += TF_QK) {
        float d = tf_h2f(b[i].d);
        unpack_q5(b[i].qs, b[i].qh, q);
        for (int j = 0; j < 32; j++)
            dst[j] = (q[j] - 16) * d;
    }
}

void tf_ref_from_float_q5_0(const float *src, void *dst, int64_t n)
{
    tf_block_q5_0 *b = dst;
    int q[32];
    for (int64_t i = 0; i < n / TF_QK; i++, src += TF_QK) {
        float d = signed_absmax(src, TF_QK) / -16;
        float id = d != 0 ? 1.0f / d : 0.0f;
        b[i].d = tf_f2h(d);
        for (int j = 0; j < 32; j++)
            q[j] = trunc_clamp(src[j] * id + 16.5f, 31);
        pack_q5(q, b[i].qs, b[i].qh);
    }
}

float tf_ref_vec_dot_q5_0(int64_t n, const void *w, const void *a)
{
    const tf_block_q5_0 *x = w;
    const tf_block_q8_0 *y = a;
    float sum = 0;
    int q[32];
    for (int64_t i = 0; i < n / TF_QK; i++) {
        unpack_q5(x[i].qs, x[i].qh, q);
        int s = 0;
        for (int j = 0; j < 32; j++)
            s += (q[j] - 16) * y[i].qs[j];
        sum += (tf_h2f(x[i].d) * tf_h2f(y[i].d)) * (float)s;
    }
    return sum;
}

void tf_ref_to_float_q5_1(const void *src, float *dst, int64_t n)
{
    const tf_block_q5_1 *b = src;
    int q[32];
    for (int64_t i = 0; i < n / TF_QK; i++, dst += TF_QK) {
        float d = tf_h2f(b[i].d), m = tf_h2f(b[i].m);
        unpack_q5(b[i].qs, b[i].qh, q);
        for (int j = 0; j < 32; j++)
            dst[j] = q[j] * d + m;
    }
}

void tf_ref_from_float_q5_1(const float *src, void *dst, int64_t n)
{
    tf_block_q5_1 *b = dst;
    int q[32];
    for (int64_t i = 0; i < n / TF_QK; i++, src += TF_QK) {
        float mn, mx;
        min_max(src, TF_QK, &mn, &mx);
        float d = (mx - mn) / 31;
        float id = d != 0 ? 1.0f / d : 0.0f;
        b[i].d = tf_f2h(d);
        b[i].m = tf_f2h(mn);
        for (int j = 0; j < 32; j++)
            q[j] = trunc_clamp((src[j] - mn) * id + 0.5f, 31);
        pack_q5(q, b[i].qs, b[i].qh);
    }
}

float tf_ref_vec_dot_q5_1(int64_t n, const void *w, const void *a)
{
    const tf_block_q5_1 *x = w;
    const tf_block_q8_1 *y = a;
    float sum = 0;
    int q[32];
    for (int64_t i = 0; i < n / TF_QK; i++) {
        unpack_q5(x[i].qs, x[i].qh, q);
        int s = 0;
        for (int j = 0; j < 32; j++)
            s += q[j] * y[i].qs[j];
        sum += (tf_h2f(x[i].d) * tf_h2f(y[i].d)) * (float)s +
               tf_h2f(x[i].m) * tf_h2f(y[i].s);
    }
    return sum;
}

/* ---- Q8_0 / Q8_1: x = d * q, d = amax / 127, q = roundf(x / d) -------- */

static float absmax(const float *x, int n)
{
    float amax = 0;
    for (int j = 0; j < n; j++)
        amax = fabsf(x[j]) > amax ? fabsf(x[j]) : amax;
    return amax;
}

/* roundf to int8.  Finite activations give |v| <= 127 (plus rounding), so
 * the clamp changes nothing; NaN (a hostile file's NaN or infinite
 * weights reach the activations) becomes 0 instead of an undefined
 * float-to-int conversion. */
static inline int8_t q8_round(float v)
{
    return v == v ? (int8_t)roundf(fminf(127.0f, fmaxf(-127.0f, v))) : 0;
}

void tf_ref_to_float_q8_0(const void *src, float *dst, int64_t n)
{
    const tf_block_q8_0 *b = src;
    for (int64_t i = 0; i < n / TF_QK; i++, dst += TF_QK) {
        float d = tf_h2f(b[i].d);
        for (int j = 0; j < 32; j++)
            dst[j] = b[i].qs[j] * d;
    }
}

void tf_ref_from_float_q8_0(const float *src, void *dst, int64_t n)
{
    tf_block_q8_0 *b = dst;
    for (int64_t i = 0; i < n / TF_QK; i++, src += TF_QK) {
        float d = absmax(src, TF_QK) / 127;
        float id = d != 0 ? 1.0f / d : 0.0f;
        b[i].d = tf_f2h(d);
        for (int j = 0; j < 32; j++)
            b[i].qs[j] = q8_round(src[j] * id);
    }
}

float tf_ref_vec_dot_q8_0(int64_t n, const void *w, const void *a)
{
    const tf_block_q8_0 *x = w, *y = a;
    float sum = 0;
    for (int64_t i = 0; i < n / TF_QK; i++) {
        int s = 0;
        for (int j = 0; j < 32; j++)
            s += x[i].qs[j] * y[i].qs[j];
        sum += (tf_h2f(x[i].d) * tf_h2f(y[i].d)) * (float)s;
    }
    return sum;
}

void tf_ref_to_float_q8_1(const void *src, float *dst, int64_t n)
{
    const tf_block_q8_1 *b = src;
    for (int64_t i = 0; i < n / TF_QK; i++, dst += TF_QK) {
        float d = tf_h2f(b[i].d);
        for (int j = 0; j < 32; j++)
            dst[j] = b[i].qs[j] * d;
    }
}

void tf_ref_from_float_q8_1(const float *src, void *dst, int64_t n)
{
    tf_block_q8_1 *b = dst;
    for (int64_t i = 0; i < n / TF_QK; i++, src += TF_QK) {
        float d = absmax(src, TF_QK) / 127;
        float id = d != 0 ? 1.0f / d : 0.0f;
        int sum = 0;
        for (int j = 0; j < 32; j++) {
            b[i].qs[j] = q8_round(src[j] * id);
            sum += b[i].qs[j];
        }
        b[i].d = tf_f2h(d);
        b[i].s = tf_f2h((float)sum * d);
    }
}

/* ---- IQ4_NL: x = d * values[q], a non-uniform 4-bit grid --------------- */

/* Index of the grid value nearest to x; a tie goes to the upper value. */
static int iq4nl_nearest(float x)
{
    const int8_t *v = tf_iq4nl_values;
    if (x <= v[0]) return 0;
    if (x >= v[15]) return 15;
    int hi = 1;
    while (x >= v[hi])
        hi++;
    return x - v[hi - 1] < v[hi] - x ? hi - 1 : hi;
}

/* Weighted least-squares fit of one scale to the grid indices that scale
 * 1/id produces; returns sum(w q x) and sum(w q^2) (weights are x^2, so
 * large values, which matter most to a dot product, are fitted best). */
static void iq4nl_fit(const float *x, float id, float *sqx, float *sq2)
{
    float a = 0, b = 0;
    for (int j = 0; j < TF_QK; j++) {
        float q = tf_iq4nl_values[iq4nl_nearest(id * x[j])];
        float w = x[j] * x[j];
        a += w * q * x[j];
        b += w * q * q;
    }
    *sqx = a;
    *sq2 = b;
}

/* The reference engine's search: start from the scale that maps the
 * largest value onto the grid's end, then try 15 nearby grid stretches and
 * keep the least-squares scale with the smallest weighted error. */
static float iq4nl_block_scale(const float *x)
{
    float amax = 0, max = 0;
    for (int j = 0; j < TF_QK; j++) {
        if (fabsf(x[j]) > amax) {
            amax = fabsf(x[j]);
            max = x[j];
        }
    }
    if (amax < 1e-15f)
        return 0;
    const float v0 = tf_iq4nl_values[0];
    float sqx, sq2;
    iq4nl_fit(x, 1 / (-max / v0), &sqx, &sq2);
    float d = sqx / sq2, best = d * sqx;
    for (int t = -7; t <= 7; t++) {
        iq4nl_fit(x, (t + v0) / max, &sqx, &sq2);
        if (sq2 > 0 && sqx * sqx > best * sq2) {
            d = sqx / sq2;
            best = d * sqx;
        }
    }
    return d;
}

void tf_ref_from_float_iq4_nl(const float *src, void *dst, int64_t n)
{
    tf_block_iq4_nl *b = dst;
    for (int64_t i = 0; i < n / TF_QK; i++, src += TF_QK) {
        float d = iq4nl_block_scale(src);
        float id = d != 0 ? 1 / d : 0;
        b[i].d = tf_f2h(d);
        for (int j = 0; j < 16; j++)
            b[i].qs[j] = (uint8_t)(iq4nl_nearest(id * src[j]) |
                                   iq4nl_nearest(id * src[j + 16]) << 4);
    }
}

void tf_ref_to_float_iq4_nl(const void *src, float *dst, int64_t n)
{
    const tf_block_iq4_nl *b = src;
    for (int64_t i = 0; i < n / TF_QK; i++, dst += TF_QK) {
        float d = tf_h2f(b[i].d);
        for (int j = 0; j < 16; j++) {
            dst[j] = d * tf_iq4nl_values[b[i].qs[j] & 0xf];
            dst[j + 16] = d * tf_iq4nl_values[b[i].qs[j] >> 4];
        }
    }
}

float tf_ref_vec_dot_iq4_nl(int64_t n, const void *w, const void *a)
{
    const tf_block_iq4_nl *x = w;
    const tf_block_q8_0 *y = a;
    float sum = 0;
    for (int64_t i = 0; i < n / TF_QK; i++) {
        int s = 0;
        for (int j = 0; j < 16; j++)
            s += tf_iq4nl_values[x[i].qs[j] & 0xf] * y[i].qs[j] +
                 tf_iq4nl_values[x[i].qs[j] >> 4] * y[i].qs[j + 16];
        sum += (tf_h2f(x[i].d) * tf_h2f(y[i].d)) * (float)s;
    }
    return sum;
}
