/* x86_avx2.c - AVX2/FMA/F16C kernels of the float formats and the
 * 32-element block formats, and the activation quantizers (Q8_0, Q8_1,
 * Q8_K).  Compiled with -mavx2 -mfma -mf16c (ISA_FLAGS_ in the Makefile)
 * and installed by dispatch.c only when CPUID reports all three, so
 * nothing here may run, or be inlined into code that runs, on other CPUs.
 * The K-quant dots are in x86_avx2_k.c.
 *
 * Contract with the reference (tests/test_kernels*.c hold us to it):
 * quantizers produce identical bytes; dots compute the same exact integer
 * block sums and differ only in the order floats are accumulated.  Every
 * dot is one tile body (simd_tile.h) so gemm and vec_dot agree bit for bit.
 *
 * 32-element formats, per block and element pair (weight row, token):
 *   int32 lanes = maddubs(u, y') summed in pairs    (8 lanes, 4 elements each)
 *   acc        += float(lanes) * (d_w * d_y)
 * with u = |q| and y' = y carrying q's sign for the signed formats (Q4_0,
 * Q5_0, Q8_0, IQ4_NL), u = q for Q4_1/Q5_1, which add m_w * s_y in lane 0.
 */
/* The Makefile's flags are what count; the pragma only lets the file also
 * build in a plain cc line that lists every kernels/ file. */
#if defined(TF_AVXVNNI) && defined(__clang__)
#pragma clang attribute push(__attribute__((target("avx2,fma,f16c,avxvnni"))), apply_to = function)
#elif defined(TF_AVXVNNI) && defined(__GNUC__)
#pragma GCC target("avx2,fma,f16c,avxvnni")
#elif defined(__clang__)
#pragma clang attribute push(__attribute__((target("avx2,fma,f16c"))), apply_to = function)
#elif defined(__GNUC__)
#pragma GCC target("avx2,fma,f16c")
#endif

#include <math.h>
#include "x86_avx2.h"
#include "act.h"

/* ---- float formats: 8 elements a step, zero-padded tail --------------- */

TF_ALWAYS __m256 ld_f32(const uint8_t *p) { return _mm256_loadu_ps((const float *)p); }

TF_ALWAYS __m256 ld_f16(const uint8_t *p)
{
    return _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)p));
}

TF_ALWAYS __m256 ld_bf16(const uint8_t *p)
{
    __m256i v = _mm256_cvtepu16_epi32(_mm_loadu_si128((const __m128i *)p));
    return _mm256_castsi256_ps(_mm256_slli_epi32(v, 16));
}

/* Step at element i of rows w, a (ES bytes per element); TAIL: the last
 * n - i < 8 elements, copied into zeroed buffers first. */
#define FLOAT_STEP(LD, ES, TAIL)                                                 \
    do {                                                                         \
        __m256 A_[FTA];                                                            \
        uint8_t buf_[32] = {0};                                                  \
        TF_UNROLL for (int t = 0; t < RA; t++) {                                 \
            const uint8_t *p_ = a + t * as + i * (ES);                           \
            if (TAIL) {                                                          \
                memcpy(buf_, p_, (size_t)(n - i) * (ES));                        \
                p_ = buf_;                                                       \
            }                                                                    \
            A_[t] = LD(p_);                                                      \
        }                                                                        \
        TF_UNROLL for (int r = 0; r < RW; r++) {                                 \
            const uint8_t *p_ = w + r * ws + i * (ES);                           \
            if (TAIL) {                                                          \
                memcpy(buf_, p_, (size_t)(n - i) * (ES));                        \
                p_ = buf_;                                                       \
            }                                                                    \
            __m256 W_ = LD(p_);                                                  \
            TF_UNROLL for (int t = 0; t < RA; t++)                               \
                acc[r][t] = _mm256_fmadd_ps(W_, A_[t], acc[r][t]);               \
        }                                                                        \
    } while (0)

#define DEF_FLOAT(NAME, LD, ES)                                                             \
    TF_ALWAYS void NAME##_t(int64_t n, const uint8_t *w, size_t ws, const uint8_t *a,      \
                            size_t as, float *out, size_t os, const int RW, const int RA)  \
    {                                                                                       \
        __m256 acc[FTW][FTA];                                                                   \
        TF_UNROLL for (int r = 0; r < RW; r++)                                              \
            TF_UNROLL for (int t = 0; t < RA; t++) acc[r][t] = _mm256_setzero_ps();         \
        int64_t i = 0;                                                                      \
        for (; i + 8 <= n; i += 8)                                                          \
            FLOAT_STEP(LD, ES, 0);                                                          \
        if (i < n)                                                                          \
            FLOAT_STEP(LD, ES, 1);                                                          \
        TF_UNROLL for (int r = 0; r < RW; r++)                                              \
            TF_UNROLL for (int t = 0; t < RA; t++) out[t * os + r] = hsum8(acc[r][t]);      \
    }                                                                                       \
    TF_DEF_GEMM(NAME, FTW, FTA)

#define FTW 4 /* 16 ymm registers: 8 accumulators, 2 + 1 operands */
#define FTA 2
DEF_FLOAT(f32, ld_f32, 4)
DEF_FLOAT(f16, ld_f16, 2)
DEF_FLOAT(bf16, ld_bf16, 2)

/* ---- 32-element formats ------------------------------------------------- */

/* q: the quants (signed formats: signed, else unsigned), u = |q| (signed
 * formats), d broadcast, m in lane 0 (Q4_1/Q5_1). */
typedef struct { __m256i q, u; __m256 d, m; } w32;
typedef struct { __m256i q; __m256 d, s; } a32;

#define BLK(T, p, i) ((const T *)(p) + (i))

TF_ALWAYS w32 w_signed(__m256i q, uint16_t d)
{
    w32 W = {q, _mm256_sign_epi8(q, q), _mm256_set1_ps(h2f(d)), _mm256_setzero_ps()};
    return W;
}

TF_ALWAYS w32 w_q4_0(const uint8_t *p, int64_t i)
{
    const tf_block_q4_0 *x = BLK(tf_block_q4_0, p, i);
    return w_signed(_mm256_sub_epi8(nibbles32(x->qs), _mm256_set1_epi8(8)), x->d);
}

TF_ALWAYS w32 w_q5_0(const uint8_t *p, int64_t i)
{
    const tf_block_q5_0 *x = BLK(tf_block_q5_0, p, i);
    __m256i h = _mm256_and_si256(bits32(x->qh), _mm256_set1_epi8(0x10));
    __m256i q = _mm256_sub_epi8(_mm256_or_si256(nibbles32(x->qs), h), _mm256_set1_epi8(16));
    return w_signed(q, x->d);
}

TF_ALWAYS w32 w_q8_0(const uint8_t *p, int64_t i)
{
    const tf_block_q8_0 *x = BLK(tf_block_q8_0, p, i);
    return w_signed(_mm256_loadu_si256((const __m256i *)x->qs), x->d);
}

TF_ALWAYS w32 w_iq4_nl(const uint8_t *p, int64_t i)
{
    const tf_block_iq4_nl *x = BLK(tf_block_iq4_nl, p, i);
    const __m256i grid = _mm256_broadcastsi128_si256(_mm_loadu_si128((const __m128i *)tf_iq4nl_values));
    return w_signed(_mm256_shuffle_epi8(grid, nibbles32(x->qs)), x->d);
}

TF_ALWAYS w32 w_unsigned(__m256i q, uint16_t d, uint16_t m)
{
    w32 W = {q, q, _mm256_set1_ps(h2f(d)), _mm256_setr_ps(h2f(m), 0, 0, 0, 0, 0, 0, 0)};
    return W;
}

TF_ALWAYS w32 w_q4_1(const uint8_t *p, int64_t i)
{
    const tf_block_q4_1 *x = BLK(tf_block_q4_1, p, i);
    return w_unsigned(nibbles32(x->qs), x->d, x->m);
}

TF_ALWAYS w32 w_q5_1(const uint8_t *p, int64_t i)
{
    const tf_block_q5_1 *x = BLK(tf_block_q5_1, p, i);
    __m256i h = _mm256_and_si256(bits32(x->qh), _mm256_set1_epi8(0x10));
    return w_unsigned(_mm256_or_si256(nibbles32(x->qs), h), x->d, x->m);
}

TF_ALWAYS a32 a_q8_0(const uint8_t *p, int64_t i)
{
    const tf_block_q8_0 *y = BLK(tf_block_q8_0, p, i);
    a32 A = {_mm256_loadu_si256((const __m256i *)y->qs), _mm256_set1_ps(h2f(y->d)),
             _mm256_setzero_ps()};
    return A;
}

TF_ALWAYS a32 a_q8_1(const uint8_t *p, int64_t i)
{
    const tf_block_q8_1 *y = BLK(tf_block_q8_1, p, i);
    a32 A = {_mm256_loadu_si256((const __m256i *)y->qs), _mm256_set1_ps(h2f(y->d)),
             _mm256_set1_ps(h2f(y->s))};
    return A;
}

TF_ALWAYS __m256 dot_signed(__m256 acc, w32 W, a32 A)
{
    __m256i s = dot_us(W.u, _mm256_sign_epi8(A.q, W.q));
    return _mm256_fmadd_ps(_mm256_cvtepi32_ps(s), _mm256_mul_ps(W.d, A.d), acc);
}

TF_ALWAYS __m256 dot_offset(__m256 acc, w32 W, a32 A)
{
    __m256i s = dot_us(W.u, A.q);
    acc = _mm256_fmadd_ps(_mm256_cvtepi32_ps(s), _mm256_mul_ps(W.d, A.d), acc);
    return _mm256_fmadd_ps(W.m, A.s, acc);
}

#define DEF32(NAME, WP, AP, DOT)                                                            \
    TF_ALWAYS void NAME##_t(int64_t n, const uint8_t *w, size_t ws, const uint8_t *a,      \
                            size_t as, float *out, size_t os, const int RW, const int RA)  \
    {                                                                                       \
        __m256 acc[QTW][QTA];                                                                   \
        TF_UNROLL for (int r = 0; r < RW; r++)                                              \
            TF_UNROLL for (int t = 0; t < RA; t++) acc[r][t] = _mm256_setzero_ps();         \
        for (int64_t i = 0; i < n / TF_QK; i++) {                                           \
            a32 A_[QTA];                                                                      \
            TF_UNROLL for (int t = 0; t < RA; t++) A_[t] = AP(a + t * as, i);               \
            TF_UNROLL for (int r = 0; r < RW; r++) {                                        \
                w32 W_ = WP(w + r * ws, i);                                                 \
                TF_UNROLL for (int t = 0; t < RA; t++)                                      \
                    acc[r][t] = DOT(acc[r][t], W_, A_[t]);                                  \
            }                                                                               \
        }                                                                                   \
        TF_UNROLL for (int r = 0; r < RW; r++)                                              \
            TF_UNROLL for (int t = 0; t < RA; t++) out[t * os + r] = hsum8(acc[r][t]);      \
    }                                                                                       \
    TF_DEF_GEMM(NAME, QTW, QTA)

/* 4 x 2 and 2 x 4 measured a little faster than 2 x 2 and 3 x 2 (Zen 4,
 * thread CPU time); 4 x 2 keeps two tokens' activations in registers. */
#define QTW 4
#define QTA 2
DEF32(q4_0, w_q4_0, a_q8_0, dot_signed)
DEF32(q4_1, w_q4_1, a_q8_1, dot_offset)
DEF32(q5_0, w_q5_0, a_q8_0, dot_signed)
DEF32(q5_1, w_q5_1, a_q8_1, dot_offset)
DEF32(q8_0, w_q8_0, a_q8_0, dot_signed)
DEF32(iq4_nl, w_iq4_nl, a_q8_0, dot_signed)

/* ---- activation quantizers ---------------------------------------------- */

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

/* Largest |v| ignoring NaN, as the reference's "fabsf(x) > amax" scan
 * (max_ps returns its second operand when either is NaN). */
static inline float absmax_vec(const __m256 *v, int k)
{
    __m256 absmask = _mm256_castsi256_ps(_mm256_set1_epi32(0x7fffffff));
    __m256 m = _mm256_setzero_ps();
    for (int j = 0; j < k; j++)
        m = _mm256_max_ps(_mm256_and_ps(v[j], absmask), m);
    __m128 s = _mm_max_ps(_mm256_castps256_ps128(m), _mm256_extractf128_ps(m, 1));
    s = _mm_max_ps(s, _mm_movehl_ps(s, s));
    s = _mm_max_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

/* One 32-element block: d = amax / 127, q = roundf(x / d); returns d and
 * the sum of the quants (for Q8_1's s). */
static inline float quant_block32(const float *src, int8_t *qs, int *sum)
{
    __m256 v[4];
    for (int k = 0; k < 4; k++)
        v[k] = _mm256_loadu_ps(src + 8 * k);
    float d = absmax_vec(v, 4) / 127;
    __m256 id = _mm256_set1_ps(d != 0 ? 1.0f / d : 0.0f);
    __m256i q[4];
    for (int k = 0; k < 4; k++) {
        /* the reference's rule: clamp to +-127, NaN (from inf/NaN input) to 0 */
        __m256 r = round_away(_mm256_mul_ps(v[k], id));
        r = _mm256_and_ps(r, _mm256_cmp_ps(r, r, _CMP_ORD_Q));
        r = _mm256_min_ps(_mm256_max_ps(r, _mm256_set1_ps(-127.0f)), _mm256_set1_ps(127.0f));
        q[k] = _mm256_cvtps_epi32(r);
    }
    _mm256_storeu_si256((__m256i *)qs, pack32(q[0], q[1], q[2], q[3]));
    *sum = hsum8i(_mm256_add_epi32(_mm256_add_epi32(q[0], q[1]), _mm256_add_epi32(q[2], q[3])));
    return d;
}

static void from_float_q8_0(const float *src, void *dst, int64_t n)
{
    tf_block_q8_0 *b = dst;
    int sum;
    for (int64_t i = 0; i < n / TF_QK; i++, src += TF_QK)
        b[i].d = tf_f2h(quant_block32(src, b[i].qs, &sum));
}

/* F16C's conversion rounds to nearest even like tf_f2h, subnormals and
 * overflow to infinity included, and keeps a NaN's top payload bits with
 * the quiet bit set, as tf_f2h does: the same bits for every input. */
static void from_float_f16(const float *src, void *dst, int64_t n)
{
    uint16_t *h = dst;
    int64_t i = 0;
    for (; i + 8 <= n; i += 8)
        _mm_storeu_si128((__m128i *)(h + i),
                         _mm256_cvtps_ph(_mm256_loadu_ps(src + i), _MM_FROUND_TO_NEAREST_INT));
    for (; i < n; i++)
        h[i] = tf_f2h(src[i]);
}

/* tf_f2bf 16 at a time in integer arithmetic (no rounding mode, no
 * denormal flushing): round to nearest even on the bits, NaNs keep their
 * top payload bits with the quiet bit set. */
TF_ALWAYS __m256i f2bf8(__m256i u)
{
    const __m256i abs = _mm256_set1_epi32(0x7fffffff), inf = _mm256_set1_epi32(0x7f800000),
                  half = _mm256_set1_epi32(0x7fff), one = _mm256_set1_epi32(1), quiet = _mm256_set1_epi32(0x40);
    __m256i nan = _mm256_cmpgt_epi32(_mm256_and_si256(u, abs), inf);
    __m256i r = _mm256_add_epi32(_mm256_add_epi32(u, half), _mm256_and_si256(_mm256_srli_epi32(u, 16), one));
    return _mm256_blendv_epi8(_mm256_srli_epi32(r, 16), _mm256_or_si256(_mm256_srli_epi32(u, 16), quiet), nan);
}

static void from_float_bf16(const float *src, void *dst, int64_t n)
{
    uint16_t *h = dst;
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) {
        __m256i a = f2bf8(_mm256_loadu_si256((const __m256i *)(src + i))),
                b = f2bf8(_mm256_loadu_si256((const __m256i *)(src + i + 8)));
        /* packus interleaves the 128-bit lanes: a0 b0 a1 b1 -> a0 a1 b0 b1 */
        _mm256_storeu_si256((__m256i *)(h + i), _mm256_permute4x64_epi64(_mm256_packus_epi32(a, b), 0xd8));
    }
    for (; i < n; i++)
        h[i] = tf_f2bf(src[i]);
}

/* F16C gives tf_h2f's value for every half but signalling NaNs, which it
 * quiets; tf_h2f keeps a NaN's payload as it is, so infinities and NaNs
 * (exponent 31) take tf_h2f's bits: sign | 0x7f800000 | payload << 13. */
static void to_float_f16(const void *src, float *dst, int64_t n)
{
    const uint16_t *h = src;
    const __m256i e31 = _mm256_set1_epi32(0x7c00), pay = _mm256_set1_epi32(0x3ff),
                  sgn = _mm256_set1_epi32(0x8000), inf = _mm256_set1_epi32(0x7f800000);
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        __m128i v = _mm_loadu_si128((const __m128i *)(h + i));
        __m256i w = _mm256_cvtepu16_epi32(v);
        __m256i special = _mm256_cmpeq_epi32(_mm256_and_si256(w, e31), e31);
        __m256i bits = _mm256_or_si256(_mm256_or_si256(_mm256_slli_epi32(_mm256_and_si256(w, sgn), 16), inf),
                                       _mm256_slli_epi32(_mm256_and_si256(w, pay), 13));
        __m256 f = _mm256_blendv_ps(_mm256_cvtph_ps(v), _mm256_castsi256_ps(bits), _mm256_castsi256_ps(special));
        _mm256_storeu_ps(dst + i, f);
    }
    for (; i < n; i++)
        dst[i] = tf_h2f(h[i]);
}

static void from_float_q8_1(const float *src, void *dst, int64_t n)
{
    tf_block_q8_1 *b = dst;
    int sum;
    for (int64_t i = 0; i < n / TF_QK; i++, src += TF_QK) {
        float d = quant_block32(src, b[i].qs, &sum);
        b[i].d = tf_f2h(d);
        b[i].s = tf_f2h((float)sum * d);
    }
}

static void from_float_q8_K(const float *src, void *dst, int64_t n)
{
    tf_block_q8_K *b = dst;
    const __m256 absmask = _mm256_castsi256_ps(_mm256_set1_epi32(0x7fffffff));
    for (int64_t i = 0; i < n / TF_QK_K; i++, src += TF_QK_K) {
        /* The block is read from src (L1) in each pass, not kept in an
         * array: 32 vectors do not fit the 16 registers, and the compiler
         * turned such a copy into a rep movs that cost more than the rest. */
        __m256 m = _mm256_setzero_ps();
        for (int k = 0; k < 32; k++)
            m = _mm256_max_ps(_mm256_and_ps(_mm256_loadu_ps(src + 8 * k), absmask), m);
        float amax = absmax_vec(&m, 1);
        if (amax == 0) {
            memset(&b[i], 0, sizeof b[i]);
            continue;
        }
        /* The first element of that magnitude sets the sign (the last one
         * when none compares equal: NaN input), as in the reference. */
        int at = TF_QK_K - 1;
        const __m256 am = _mm256_set1_ps(amax);
        for (int k = 0; k < 32; k++) {
            __m256 a = _mm256_and_ps(_mm256_loadu_ps(src + 8 * k), absmask);
            int mk = _mm256_movemask_ps(_mm256_cmp_ps(a, am, _CMP_EQ_OQ));
            if (mk) {
                at = 8 * k + __builtin_ctz((unsigned)mk);
                break;
            }
        }
        float iscale = -127.f / src[at];
        __m256 is = _mm256_set1_ps(iscale), lim = _mm256_set1_ps(127.0f);
        for (int g = 0; g < 8; g++) {
            __m256i q[4]; /* in registers: a copy on the stack measured 3x slower in place */
            TF_UNROLL for (int k = 0; k < 4; k++) {
                __m256 r = _mm256_round_ps(_mm256_mul_ps(_mm256_loadu_ps(src + 32 * g + 8 * k), is),
                                           _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
                r = _mm256_and_ps(r, _mm256_cmp_ps(r, r, _CMP_ORD_Q)); /* NaN -> 0 */
                q[k] = _mm256_cvtps_epi32(_mm256_min_ps(r, lim));
            }
            b[i].bsums[2 * g] = (int16_t)hsum8i(_mm256_add_epi32(q[0], q[1]));
            b[i].bsums[2 * g + 1] = (int16_t)hsum8i(_mm256_add_epi32(q[2], q[3]));
            _mm256_storeu_si256((__m256i *)(b[i].qs + 32 * g), pack32(q[0], q[1], q[2], q[3]));
        }
        b[i].d = 1 / iscale;
    }
}

/* ---- SwiGLU: act.h's exponential, 8 lanes at a time ------------------ */

TF_DEF_EXP_POLY(exp_poly8, 256, __m256, __m256i)

static inline __m256 swiglu8(__m256 g, __m256 u)
{
    __m256 e = exp_poly8(_mm256_xor_ps(g, _mm256_set1_ps(-0.0f)));
    return _mm256_mul_ps(_mm256_div_ps(g, _mm256_add_ps(_mm256_set1_ps(1.0f), e)), u);
}

static void swiglu(const float *g, const float *u, float *out, int64_t n)
{
    int64_t i = 0;
    for (; i + 8 <= n; i += 8)
        _mm256_storeu_ps(out + i, swiglu8(_mm256_loadu_ps(g + i), _mm256_loadu_ps(u + i)));
    if (i < n) { /* the tail through the same lanes: same bits as a full step */
        float gt[8] = {0}, ut[8] = {0}, ot[8];
        memcpy(gt, g + i, (size_t)(n - i) * sizeof(float));
        memcpy(ut, u + i, (size_t)(n - i) * sizeof(float));
        _mm256_storeu_ps(ot, swiglu8(_mm256_loadu_ps(gt), _mm256_loadu_ps(ut)));
        memcpy(out + i, ot, (size_t)(n - i) * sizeof(float));
    }
}

/* ---- residual add and RMS norm (kernels.h): the reference's operations,
 * 8 lanes at a time; the norm's 8 partial sums are the lanes of two double
 * vectors, so the bits match the reference ---------------------------- */

static void add_rows(const float *a, const float *b, float *out, int64_t n)
{
    int64_t i = 0;
    for (; i + 8 <= n; i += 8)
        _mm256_storeu_ps(out + i, _mm256_add_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i)));
    for (; i < n; i++)
        out[i] = a[i] + b[i];
}

static void rms_norm(const float *x, const float *w, float eps, float *out, int64_t n)
{
    __m256d s0 = _mm256_setzero_pd(), s1 = _mm256_setzero_pd();
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        __m256 v = _mm256_loadu_ps(x + i);
        __m256d lo = _mm256_cvtps_pd(_mm256_castps256_ps128(v)), hi = _mm256_cvtps_pd(_mm256_extractf128_ps(v, 1));
        s0 = _mm256_add_pd(s0, _mm256_mul_pd(lo, lo));
        s1 = _mm256_add_pd(s1, _mm256_mul_pd(hi, hi));
    }
    double p[8];
    _mm256_storeu_pd(p, s0);
    _mm256_storeu_pd(p + 4, s1);
    float scale = tf_rms_scale(p, x, i, n, eps);
    __m256 sv = _mm256_set1_ps(scale);
    for (i = 0; i + 8 <= n; i += 8)
        _mm256_storeu_ps(out + i, _mm256_mul_ps(_mm256_mul_ps(_mm256_loadu_ps(x + i), sv), _mm256_loadu_ps(w + i)));
    for (; i < n; i++)
        out[i] = x[i] * scale * w[i];
}

void TF_X86_INSTALL()(tf_type_kernels *t)
{
    t[TF_TYPE_F32].swiglu = swiglu;
    t[TF_TYPE_F32].add = add_rows;
    t[TF_TYPE_F32].rms_norm = rms_norm;
    TF_SET(t, TF_TYPE_F32, f32);
    TF_SET(t, TF_TYPE_F16, f16);
    TF_SET(t, TF_TYPE_BF16, bf16);
    TF_SET(t, TF_TYPE_Q4_0, q4_0);
    TF_SET(t, TF_TYPE_Q4_1, q4_1);
    TF_SET(t, TF_TYPE_Q5_0, q5_0);
    TF_SET(t, TF_TYPE_Q5_1, q5_1);
    TF_SET(t, TF_TYPE_Q8_0, q8_0);
    TF_SET(t, TF_TYPE_IQ4_NL, iq4_nl);
    t[TF_TYPE_Q8_0].from_float = from_float_q8_0;
    t[TF_TYPE_Q8_1].from_float = from_float_q8_1;
    t[TF_TYPE_Q8_K].from_float = from_float_q8_K;
    t[TF_TYPE_F16].from_float = from_float_f16;
    t[TF_TYPE_F16].to_float = to_float_f16;
    t[TF_TYPE_BF16].from_float = from_float_bf16;
}

#if defined(__clang__)
#pragma clang attribute pop
#endif
