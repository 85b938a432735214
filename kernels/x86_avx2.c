/* x86_avx2.c - AVX2/FMA/F16C versions of the hot kernels.  Compiled with
 * -mavx2 -mfma -mf16c (ISA_FLAGS_ in the Makefile) and installed by
 * dispatch.c only when CPUID reports all three, so nothing here may run,
 * or be inlined into code that runs, on other CPUs.
 *
 * Contract with the reference (tests/test_kernels.c holds us to it):
 * quantizers produce identical bytes; dots compute the same exact integer
 * block sums and differ only in the order floats are accumulated.
 *
 * Integer products use maddubs (unsigned x signed bytes -> pairs summed in
 * int16).  Weight quants are made unsigned (or |x| with the sign moved
 * onto the activation) so no pair sum can saturate for any value our or
 * the reference's quantizers produce; a crafted Q8_0 block holding -128 in
 * both operands could saturate, which costs accuracy, never safety.
 */
/* The Makefile's flags are what count; the pragma only lets the file also
 * build in a plain cc line that lists every kernels/ file. */
#if defined(__clang__)
#pragma clang attribute push(__attribute__((target("avx2,fma,f16c"))), apply_to = function)
#elif defined(__GNUC__)
#pragma GCC target("avx2,fma,f16c")
#endif

#include <immintrin.h>
#include <math.h>
#include "ref.h"

static inline float hsum8(__m256 v)
{
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

static inline int hsum8i(__m256i v)
{
    __m128i s = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0x4e));
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0xb1));
    return _mm_cvtsi128_si32(s);
}

static inline float h2f(uint16_t h) { return _cvtsh_ss(h); }

/* Sum of u[i] * s[i] over 32 bytes, u unsigned, s signed, as 8 int32. */
static inline __m256i dot_us(__m256i u, __m256i s)
{
    return _mm256_madd_epi16(_mm256_maddubs_epi16(u, s), _mm256_set1_epi16(1));
}

/* Same for two signed operands: the sign of x moves onto y. */
static inline __m256i dot_ss(__m256i x, __m256i y)
{
    return dot_us(_mm256_sign_epi8(x, x), _mm256_sign_epi8(y, x));
}

/* 32 nibbles of a 16-byte block in element order: low nibbles (elements
 * 0..15) in the low lane, high nibbles (16..31) in the high lane. */
static inline __m256i nibbles32(const uint8_t *qs)
{
    __m128i b = _mm_loadu_si128((const __m128i *)qs);
    __m256i v = _mm256_set_m128i(_mm_srli_epi16(b, 4), b);
    return _mm256_and_si256(v, _mm256_set1_epi8(0x0f));
}

/* ---- float formats ----------------------------------------------------- */

static float vec_dot_f32(int64_t n, const void *w, const void *a)
{
    const float *x = w, *y = a;
    __m256 acc[4] = {_mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps(),
                     _mm256_setzero_ps()};
    int64_t i = 0;
    for (; i + 32 <= n; i += 32)
        for (int k = 0; k < 4; k++)
            acc[k] = _mm256_fmadd_ps(_mm256_loadu_ps(x + i + 8 * k),
                                     _mm256_loadu_ps(y + i + 8 * k), acc[k]);
    float sum = hsum8(_mm256_add_ps(_mm256_add_ps(acc[0], acc[1]), _mm256_add_ps(acc[2], acc[3])));
    for (; i < n; i++)
        sum += x[i] * y[i];
    return sum;
}

static float vec_dot_f16(int64_t n, const void *w, const void *a)
{
    const uint16_t *x = w, *y = a;
    __m256 acc[4] = {_mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps(),
                     _mm256_setzero_ps()};
    int64_t i = 0;
    for (; i + 32 <= n; i += 32)
        for (int k = 0; k < 4; k++) {
            __m256 vx = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(x + i + 8 * k)));
            __m256 vy = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(y + i + 8 * k)));
            acc[k] = _mm256_fmadd_ps(vx, vy, acc[k]);
        }
    float sum = hsum8(_mm256_add_ps(_mm256_add_ps(acc[0], acc[1]), _mm256_add_ps(acc[2], acc[3])));
    for (; i < n; i++)
        sum += h2f(x[i]) * h2f(y[i]);
    return sum;
}

/* ---- 32-element formats ----------------------------------------------- */

static float vec_dot_q4_0(int64_t n, const void *w, const void *a)
{
    const tf_block_q4_0 *x = w;
    const tf_block_q8_0 *y = a;
    __m256 acc = _mm256_setzero_ps();
    for (int64_t i = 0; i < n / TF_QK; i++) {
        __m256i qx = _mm256_sub_epi8(nibbles32(x[i].qs), _mm256_set1_epi8(8));
        __m256i qy = _mm256_loadu_si256((const __m256i *)y[i].qs);
        __m256 s = _mm256_cvtepi32_ps(dot_ss(qx, qy));
        acc = _mm256_fmadd_ps(_mm256_set1_ps(h2f(x[i].d) * h2f(y[i].d)), s, acc);
    }
    return hsum8(acc);
}

static float vec_dot_q4_1(int64_t n, const void *w, const void *a)
{
    const tf_block_q4_1 *x = w;
    const tf_block_q8_1 *y = a;
    __m256 acc = _mm256_setzero_ps();
    float offs = 0;
    for (int64_t i = 0; i < n / TF_QK; i++) {
        __m256i qy = _mm256_loadu_si256((const __m256i *)y[i].qs);
        __m256 s = _mm256_cvtepi32_ps(dot_us(nibbles32(x[i].qs), qy));
        acc = _mm256_fmadd_ps(_mm256_set1_ps(h2f(x[i].d) * h2f(y[i].d)), s, acc);
        offs += h2f(x[i].m) * h2f(y[i].s);
    }
    return hsum8(acc) + offs;
}

static float vec_dot_q8_0(int64_t n, const void *w, const void *a)
{
    const tf_block_q8_0 *x = w, *y = a;
    __m256 acc = _mm256_setzero_ps();
    for (int64_t i = 0; i < n / TF_QK; i++) {
        __m256i qx = _mm256_loadu_si256((const __m256i *)x[i].qs);
        __m256i qy = _mm256_loadu_si256((const __m256i *)y[i].qs);
        __m256 s = _mm256_cvtepi32_ps(dot_ss(qx, qy));
        acc = _mm256_fmadd_ps(_mm256_set1_ps(h2f(x[i].d) * h2f(y[i].d)), s, acc);
    }
    return hsum8(acc);
}

/* 4 vectors of 8 int32 (already in range) -> 32 int8 in element order. */
static inline __m256i pack32(__m256i a, __m256i b, __m256i c, __m256i d)
{
    __m256i ab = _mm256_packs_epi32(a, b), cd = _mm256_packs_epi32(c, d);
    __m256i v = _mm256_packs_epi16(ab, cd);
    /* the packs interleave 128-bit lanes; put the 4-byte groups back */
    return _mm256_permutevar8x32_epi32(v, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
}

/* roundf exactly: ties away from zero (x - trunc(x) is exact in float). */
static inline __m256 round_away(__m256 x)
{
    __m256 t = _mm256_round_ps(x, _MM_FROUND_TO_ZERO | _MM_FROUND_NO_EXC);
    __m256 absmask = _mm256_castsi256_ps(_mm256_set1_epi32(0x7fffffff));
    __m256 frac = _mm256_and_ps(_mm256_sub_ps(x, t), absmask);
    __m256 up = _mm256_cmp_ps(frac, _mm256_set1_ps(0.5f), _CMP_GE_OQ);
    __m256 one = _mm256_or_ps(_mm256_set1_ps(1.0f), _mm256_andnot_ps(absmask, x));
    return _mm256_add_ps(t, _mm256_and_ps(up, one));
}

static inline float absmax_vec(const __m256 *v, int k)
{
    __m256 absmask = _mm256_castsi256_ps(_mm256_set1_epi32(0x7fffffff));
    __m256 m = _mm256_and_ps(v[0], absmask);
    for (int j = 1; j < k; j++)
        m = _mm256_max_ps(m, _mm256_and_ps(v[j], absmask));
    __m128 s = _mm_max_ps(_mm256_castps256_ps128(m), _mm256_extractf128_ps(m, 1));
    s = _mm_max_ps(s, _mm_movehl_ps(s, s));
    s = _mm_max_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

static void from_float_q8_0(const float *src, void *dst, int64_t n)
{
    tf_block_q8_0 *b = dst;
    for (int64_t i = 0; i < n / TF_QK; i++, src += TF_QK) {
        __m256 v[4];
        for (int k = 0; k < 4; k++)
            v[k] = _mm256_loadu_ps(src + 8 * k);
        float d = absmax_vec(v, 4) / 127;
        __m256 id = _mm256_set1_ps(d != 0 ? 1.0f / d : 0.0f);
        __m256i q[4];
        for (int k = 0; k < 4; k++)
            q[k] = _mm256_cvtps_epi32(round_away(_mm256_mul_ps(v[k], id)));
        b[i].d = tf_f2h(d);
        _mm256_storeu_si256((__m256i *)b[i].qs, pack32(q[0], q[1], q[2], q[3]));
    }
}

/* ---- K-quants ------------------------------------------------------------ */

static void from_float_q8_K(const float *src, void *dst, int64_t n)
{
    tf_block_q8_K *b = dst;
    for (int64_t i = 0; i < n / TF_QK_K; i++, src += TF_QK_K) {
        __m256 v[32];
        for (int k = 0; k < 32; k++)
            v[k] = _mm256_loadu_ps(src + 8 * k);
        float amax = absmax_vec(v, 32);
        if (amax == 0) {
            memset(&b[i], 0, sizeof b[i]);
            continue;
        }
        int at = 0; /* the first element of that magnitude sets the sign */
        while (at < TF_QK_K - 1 && fabsf(src[at]) != amax) /* bound: NaN input */
            at++;
        float iscale = -127.f / src[at];
        __m256 is = _mm256_set1_ps(iscale), lim = _mm256_set1_ps(127.0f);
        for (int g = 0; g < 8; g++) {
            __m256i q[4];
            for (int k = 0; k < 4; k++) {
                __m256 r = _mm256_round_ps(_mm256_mul_ps(v[4 * g + k], is),
                                           _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
                q[k] = _mm256_cvtps_epi32(_mm256_min_ps(r, lim));
            }
            b[i].bsums[2 * g] = (int16_t)hsum8i(_mm256_add_epi32(q[0], q[1]));
            b[i].bsums[2 * g + 1] = (int16_t)hsum8i(_mm256_add_epi32(q[2], q[3]));
            _mm256_storeu_si256((__m256i *)(b[i].qs + 32 * g), pack32(q[0], q[1], q[2], q[3]));
        }
        b[i].d = 1 / iscale;
    }
}

/* The 8 six-bit scales and mins of Q4_K/Q5_K (layout: ref_kquants.c). */
static inline void scales_k4(const uint8_t s[12], int sc[8], int m[8])
{
    for (int j = 0; j < 4; j++) {
        sc[j] = s[j] & 63;
        m[j] = s[j + 4] & 63;
        sc[j + 4] = (s[j + 8] & 0xf) | (s[j] >> 6) << 4;
        m[j + 4] = (s[j + 8] >> 4) | (s[j + 4] >> 6) << 4;
    }
}

static float vec_dot_q4_K(int64_t n, const void *w, const void *a)
{
    const tf_block_q4_K *x = w;
    const tf_block_q8_K *y = a;
    const __m256i low4 = _mm256_set1_epi8(0x0f);
    __m256 acc = _mm256_setzero_ps();
    float mins = 0;
    for (int64_t i = 0; i < n / TF_QK_K; i++) {
        int sc[8], m[8], msum = 0;
        scales_k4(x[i].scales, sc, m);
        for (int j = 0; j < 8; j++)
            msum += m[j] * (y[i].bsums[2 * j] + y[i].bsums[2 * j + 1]);
        __m256i isum = _mm256_setzero_si256();
        for (int g = 0; g < 4; g++) {
            __m256i q = _mm256_loadu_si256((const __m256i *)(x[i].qs + 32 * g));
            __m256i lo = _mm256_and_si256(q, low4);
            __m256i hi = _mm256_and_si256(_mm256_srli_epi16(q, 4), low4);
            __m256i y0 = _mm256_loadu_si256((const __m256i *)(y[i].qs + 64 * g));
            __m256i y1 = _mm256_loadu_si256((const __m256i *)(y[i].qs + 64 * g + 32));
            __m256i p0 = _mm256_madd_epi16(_mm256_maddubs_epi16(lo, y0),
                                           _mm256_set1_epi16((short)sc[2 * g]));
            __m256i p1 = _mm256_madd_epi16(_mm256_maddubs_epi16(hi, y1),
                                           _mm256_set1_epi16((short)sc[2 * g + 1]));
            isum = _mm256_add_epi32(isum, _mm256_add_epi32(p0, p1));
        }
        float d = y[i].d * h2f(x[i].d);
        acc = _mm256_fmadd_ps(_mm256_set1_ps(d), _mm256_cvtepi32_ps(isum), acc);
        mins += y[i].d * h2f(x[i].dmin) * (float)msum;
    }
    return hsum8(acc) - mins;
}

/* Q6_K: quants are biased to 0..63 so maddubs can take them unsigned; the
 * bias comes back out as 32 * scale * (sum of the 16 activations), which
 * Q8_K's bsums already hold. */
static float vec_dot_q6_K(int64_t n, const void *w, const void *a)
{
    const tf_block_q6_K *x = w;
    const tf_block_q8_K *y = a;
    const __m256i low4 = _mm256_set1_epi8(0x0f), m30 = _mm256_set1_epi8(0x30);
    __m256 acc = _mm256_setzero_ps();
    for (int64_t i = 0; i < n / TF_QK_K; i++) {
        const int8_t *sc = x[i].scales;
        int bias = 0;
        for (int j = 0; j < 16; j++)
            bias += sc[j] * y[i].bsums[j];
        __m256i isum = _mm256_setzero_si256();
        for (int h = 0; h < 2; h++) {
            __m256i qa = _mm256_loadu_si256((const __m256i *)(x[i].ql + 64 * h));
            __m256i qb = _mm256_loadu_si256((const __m256i *)(x[i].ql + 64 * h + 32));
            __m256i qh = _mm256_loadu_si256((const __m256i *)(x[i].qh + 32 * h));
            __m256i u[4] = {
                _mm256_or_si256(_mm256_and_si256(qa, low4),
                                _mm256_and_si256(_mm256_slli_epi16(qh, 4), m30)),
                _mm256_or_si256(_mm256_and_si256(qb, low4),
                                _mm256_and_si256(_mm256_slli_epi16(qh, 2), m30)),
                _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(qa, 4), low4),
                                _mm256_and_si256(qh, m30)),
                _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(qb, 4), low4),
                                _mm256_and_si256(_mm256_srli_epi16(qh, 2), m30)),
            };
            for (int k = 0; k < 4; k++) {
                const int8_t *s = sc + 8 * h + 2 * k;
                __m256i vy = _mm256_loadu_si256((const __m256i *)(y[i].qs + 128 * h + 32 * k));
                __m256i vs = _mm256_set_m128i(_mm_set1_epi16(s[1]), _mm_set1_epi16(s[0]));
                isum = _mm256_add_epi32(isum,
                                        _mm256_madd_epi16(_mm256_maddubs_epi16(u[k], vy), vs));
            }
        }
        isum = _mm256_sub_epi32(isum, _mm256_setr_epi32(32 * bias, 0, 0, 0, 0, 0, 0, 0));
        float d = h2f(x[i].d) * y[i].d;
        acc = _mm256_fmadd_ps(_mm256_set1_ps(d), _mm256_cvtepi32_ps(isum), acc);
    }
    return hsum8(acc);
}

void tf_kernels_install_avx2(tf_type_kernels *t)
{
    t[TF_TYPE_F32].vec_dot = vec_dot_f32;
    t[TF_TYPE_F16].vec_dot = vec_dot_f16;
    t[TF_TYPE_Q4_0].vec_dot = vec_dot_q4_0;
    t[TF_TYPE_Q4_1].vec_dot = vec_dot_q4_1;
    t[TF_TYPE_Q8_0].vec_dot = vec_dot_q8_0;
    t[TF_TYPE_Q8_0].from_float = from_float_q8_0;
    t[TF_TYPE_Q8_K].from_float = from_float_q8_K;
    t[TF_TYPE_Q4_K].vec_dot = vec_dot_q4_K;
    t[TF_TYPE_Q6_K].vec_dot = vec_dot_q6_K;
}

#if defined(__clang__)
#pragma clang attribute pop
#endif
