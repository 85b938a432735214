/* x86_avx512.c - AVX-512 (F/BW/VL/DQ) + VNNI kernels of the float formats
 * and the 32-element block formats (Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, IQ4_NL).
 * Installed by dispatch.c only when CPUID and XCR0 report all of them; the
 * K-quants are in x86_avx512_k.c, BF16's native dot in x86_avx512bf16.c.
 *
 * Every type is one tile body (simd_tile.h): a 4 x 4 block of weight rows
 * by activation rows, one float accumulator per element.  The 32-element
 * formats take two blocks per 512-bit step (lanes 0..7 the first block,
 * 8..15 the second; an odd last block runs with the upper half zero):
 *   int32 lanes = dpbusd(-B * sum(y), q, y)      (q unsigned, see below)
 *   acc        += float(lanes) * (d_w * d_y)     (per block)
 * and, for the offset formats (Q4_1, Q5_1), acc += m_w * s_y in one lane
 * per block.  Weight bytes are made unsigned: the nibbles as they are,
 * Q8_0 xor 0x80 (B = 128), IQ4_NL's grid + 128 (B = 128), Q4_0 B = 8,
 * Q5_0 B = 16.
 */
#if defined(__clang__)
#pragma clang attribute push(__attribute__((target("avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512dq,avx512vnni"))), apply_to = function)
#elif defined(__GNUC__)
#pragma GCC target("avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512dq,avx512vnni")
#endif

#include "x86_avx512.h"
#include "act.h"

/* ---- float formats: 16 elements a step, masked tail ------------------ */

/* The first min(left, 16) lanes (left > 0): a step's mask, tail or not. */
TF_ALWAYS __mmask16 lanes16(int64_t left)
{
    return left >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << left) - 1);
}

TF_ALWAYS __m512 ld_f32(const uint8_t *p, int64_t i, __mmask16 m)
{
    return _mm512_maskz_loadu_ps(m, (const float *)p + i);
}

TF_ALWAYS __m512 ld_f16(const uint8_t *p, int64_t i, __mmask16 m)
{
    return _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(m, (const uint16_t *)p + i));
}

TF_ALWAYS __m512 ld_bf16(const uint8_t *p, int64_t i, __mmask16 m)
{
    __m512i v = _mm512_cvtepu16_epi32(_mm256_maskz_loadu_epi16(m, (const uint16_t *)p + i));
    return _mm512_castsi512_ps(_mm512_slli_epi32(v, 16));
}

#define FLOAT_STEP(LD, M)                                                       \
    do {                                                                        \
        __m512 A_[FTA];                                                         \
        TF_UNROLL for (int t = 0; t < RA; t++) A_[t] = LD(a + t * as, i, M);    \
        TF_UNROLL for (int r = 0; r < RW; r++) {                                \
            __m512 W_ = LD(w + r * ws, i, M);                                   \
            TF_UNROLL for (int t = 0; t < RA; t++)                              \
                acc[r][t] = _mm512_fmadd_ps(W_, A_[t], acc[r][t]);              \
        }                                                                       \
    } while (0)

#define DEF_FLOAT(NAME, LD)                                                                 \
    TF_ALWAYS void NAME##_t(int64_t n, const uint8_t *w, size_t ws, const uint8_t *a,      \
                            size_t as, float *out, size_t os, const int RW, const int RA)  \
    {                                                                                       \
        __m512 acc[FTW][FTA];                                                               \
        TF_UNROLL for (int r = 0; r < RW; r++)                                              \
            TF_UNROLL for (int t = 0; t < RA; t++) acc[r][t] = _mm512_setzero_ps();         \
        int64_t i = 0;                                                                      \
        for (; i + 16 <= n; i += 16)                                                        \
            FLOAT_STEP(LD, (__mmask16)0xffff);                                              \
        if (i < n) {                                                                        \
            __mmask16 m = lanes16(n - i);                                                    \
            FLOAT_STEP(LD, m);                                                              \
        }                                                                                   \
        TF_UNROLL for (int r = 0; r < RW; r++)                                              \
            TF_UNROLL for (int t = 0; t < RA; t++) out[t * os + r] = hsum16(acc[r][t]);     \
    }                                                                                       \
    TF_DEF_GEMM(NAME, FTW, FTA)

/* Float tiles: 6 x 4 (24 accumulators of the 32 registers): each step
 * reads 10 vectors for 24 FMAs; the rows come from L2 at 4096 elements. */
#define FTW 6
#define FTA 4
DEF_FLOAT(f32, ld_f32)
DEF_FLOAT(f16, ld_f16)
DEF_FLOAT(bf16, ld_bf16)

/* ---- 32-element formats ------------------------------------------------- */

typedef struct { __m512i q; __m512 d, m; } w32; /* m: Q4_1/Q5_1 only */
typedef struct { __m512i q, b; __m512 d, s; } a32; /* s: Q8_1 only */

/* 16 packed bytes of each of two blocks -> the 64 nibbles in element
 * order (block a's 32, then block b's; qb == NULL: zeros). */
TF_ALWAYS __m512i nib_pair(const uint8_t *qa, const uint8_t *qb)
{
    __m128i la = _mm_loadu_si128((const __m128i *)qa);
    __m256i y = qb ? _mm256_inserti128_si256(_mm256_castsi128_si256(la),
                                             _mm_loadu_si128((const __m128i *)qb), 1)
                   : _mm256_zextsi128_si256(la);
    const __m512i idx = _mm512_setr_epi64(0, 1, 0, 1, 2, 3, 2, 3);
    const __m512i cnt = _mm512_setr_epi64(0, 0, 4, 4, 0, 0, 4, 4);
    __m512i z = _mm512_permutexvar_epi64(idx, _mm512_castsi256_si512(y));
    return _mm512_and_si512(_mm512_srlv_epi64(z, cnt), _mm512_set1_epi8(0x0f));
}

/* Fifth bits of two Q5 blocks as 0x10 bytes. */
TF_ALWAYS __m512i hbit_pair(const uint8_t *ha, const uint8_t *hb)
{
    uint32_t a, b = 0;
    memcpy(&a, ha, 4);
    if (hb)
        memcpy(&b, hb, 4);
    return _mm512_maskz_mov_epi8((__mmask64)a | (__mmask64)b << 32, _mm512_set1_epi8(0x10));
}

/* The per-block offset term (m) in lanes 0 and 8 only. */
TF_ALWAYS __m512 m_pair(uint16_t a, uint16_t b)
{
    return _mm512_maskz_mov_ps(0x0101, h2f_pair(a, b));
}

/* Weight preparations: blocks i and i + 1 of row p (two == 0: i only). */
#define BLK(T, p, i) ((const T *)(p) + (i))

TF_ALWAYS w32 w_q4_0(const uint8_t *p, int64_t i, int two)
{
    const tf_block_q4_0 *x = BLK(tf_block_q4_0, p, i);
    w32 W = {nib_pair(x[0].qs, two ? x[1].qs : NULL), h2f_pair(x[0].d, two ? x[1].d : 0),
             _mm512_setzero_ps()};
    return W;
}

TF_ALWAYS w32 w_q4_1(const uint8_t *p, int64_t i, int two)
{
    const tf_block_q4_1 *x = BLK(tf_block_q4_1, p, i);
    w32 W = {nib_pair(x[0].qs, two ? x[1].qs : NULL), h2f_pair(x[0].d, two ? x[1].d : 0),
             m_pair(x[0].m, two ? x[1].m : 0)};
    return W;
}

TF_ALWAYS w32 w_q5_0(const uint8_t *p, int64_t i, int two)
{
    const tf_block_q5_0 *x = BLK(tf_block_q5_0, p, i);
    __m512i q = _mm512_or_si512(nib_pair(x[0].qs, two ? x[1].qs : NULL),
                                hbit_pair(x[0].qh, two ? x[1].qh : NULL));
    w32 W = {q, h2f_pair(x[0].d, two ? x[1].d : 0), _mm512_setzero_ps()};
    return W;
}

TF_ALWAYS w32 w_q5_1(const uint8_t *p, int64_t i, int two)
{
    const tf_block_q5_1 *x = BLK(tf_block_q5_1, p, i);
    __m512i q = _mm512_or_si512(nib_pair(x[0].qs, two ? x[1].qs : NULL),
                                hbit_pair(x[0].qh, two ? x[1].qh : NULL));
    w32 W = {q, h2f_pair(x[0].d, two ? x[1].d : 0), m_pair(x[0].m, two ? x[1].m : 0)};
    return W;
}

TF_ALWAYS w32 w_q8_0(const uint8_t *p, int64_t i, int two)
{
    const tf_block_q8_0 *x = BLK(tf_block_q8_0, p, i);
    __m512i q = load_pair32(x[0].qs, two ? x[1].qs : NULL);
    w32 W = {_mm512_xor_si512(q, _mm512_set1_epi8((char)0x80)),
             h2f_pair(x[0].d, two ? x[1].d : 0), _mm512_setzero_ps()};
    return W;
}

TF_ALWAYS w32 w_iq4_nl(const uint8_t *p, int64_t i, int two)
{
    const tf_block_iq4_nl *x = BLK(tf_block_iq4_nl, p, i);
    /* the grid + 128, as unsigned bytes */
    const __m512i grid = _mm512_broadcast_i32x4(_mm_setr_epi8(
        1, 24, 45, 63, 79, 93, 106, 118, (char)129, (char)141, (char)153, (char)166,
        (char)181, (char)197, (char)217, (char)241));
    w32 W = {_mm512_shuffle_epi8(grid, nib_pair(x[0].qs, two ? x[1].qs : NULL)),
             h2f_pair(x[0].d, two ? x[1].d : 0), _mm512_setzero_ps()};
    return W;
}

/* Activations: Q8_0 with the weight format's offset B folded in. */
TF_ALWAYS a32 a_q8_0(const uint8_t *p, int64_t i, int two, int B)
{
    const tf_block_q8_0 *y = BLK(tf_block_q8_0, p, i);
    a32 A;
    A.q = load_pair32(y[0].qs, two ? y[1].qs : NULL);
    __m512i s = _mm512_dpbusd_epi32(_mm512_setzero_si512(), _mm512_set1_epi8((char)B), A.q);
    A.b = _mm512_sub_epi32(_mm512_setzero_si512(), s);
    A.d = h2f_pair(y[0].d, two ? y[1].d : 0);
    A.s = _mm512_setzero_ps();
    return A;
}

TF_ALWAYS a32 a_q8_1(const uint8_t *p, int64_t i, int two, int B)
{
    (void)B; /* the offset formats carry no B */
    const tf_block_q8_1 *y = BLK(tf_block_q8_1, p, i);
    a32 A;
    A.q = load_pair32(y[0].qs, two ? y[1].qs : NULL);
    A.b = _mm512_setzero_si512();
    A.d = h2f_pair(y[0].d, two ? y[1].d : 0);
    A.s = h2f_pair(y[0].s, two ? y[1].s : 0);
    return A;
}

TF_ALWAYS __m512 dot32(__m512 acc, w32 W, a32 A)
{
    __m512i s = _mm512_dpbusd_epi32(A.b, W.q, A.q);
    return _mm512_fmadd_ps(_mm512_cvtepi32_ps(s), _mm512_mul_ps(W.d, A.d), acc);
}

TF_ALWAYS __m512 dot32m(__m512 acc, w32 W, a32 A)
{
    return _mm512_fmadd_ps(W.m, A.s, dot32(acc, W, A));
}

#define STEP32(WP, AP, DOT, B, TWO)                                             \
    do {                                                                        \
        a32 A_[QTA];                                                            \
        TF_UNROLL for (int t = 0; t < RA; t++) A_[t] = AP(a + t * as, i, TWO, B); \
        TF_UNROLL for (int r = 0; r < RW; r++) {                                \
            w32 W_ = WP(w + r * ws, i, TWO);                                    \
            TF_UNROLL for (int t = 0; t < RA; t++)                              \
                acc[r][t] = DOT(acc[r][t], W_, A_[t]);                          \
        }                                                                       \
    } while (0)

#define DEF32(NAME, WP, AP, DOT, B)                                                         \
    TF_ALWAYS void NAME##_t(int64_t n, const uint8_t *w, size_t ws, const uint8_t *a,      \
                            size_t as, float *out, size_t os, const int RW, const int RA)  \
    {                                                                                       \
        __m512 acc[QTW][QTA];                                                               \
        TF_UNROLL for (int r = 0; r < RW; r++)                                              \
            TF_UNROLL for (int t = 0; t < RA; t++) acc[r][t] = _mm512_setzero_ps();         \
        int64_t nb = n / TF_QK, i = 0;                                                      \
        for (; i + 2 <= nb; i += 2)                                                         \
            STEP32(WP, AP, DOT, B, 1);                                                      \
        if (i < nb)                                                                         \
            STEP32(WP, AP, DOT, B, 0);                                                      \
        TF_UNROLL for (int r = 0; r < RW; r++)                                              \
            TF_UNROLL for (int t = 0; t < RA; t++) out[t * os + r] = hsum16(acc[r][t]);     \
    }                                                                                       \
    TF_DEF_GEMM(NAME, QTW, QTA)

/* 4 x 4 measured best (by thread CPU time, Zen 4) against 4x3, 3x4, 5x3,
 * 2x6, 6x2 and 8x2, though some accumulators spill to the stack. */
#define QTW 4
#define QTA 4
DEF32(q4_0, w_q4_0, a_q8_0, dot32, 8)
DEF32(q4_1, w_q4_1, a_q8_1, dot32m, 0)
DEF32(q5_0, w_q5_0, a_q8_0, dot32, 16)
DEF32(q5_1, w_q5_1, a_q8_1, dot32m, 0)
DEF32(q8_0, w_q8_0, a_q8_0, dot32, 128)
DEF32(iq4_nl, w_iq4_nl, a_q8_0, dot32, 128)

/* ---- Q8_0 activations: 32 floats as two 16-lane vectors -------------- */

/* roundf exactly (ties away from zero): x - trunc(x) is exact in float. */
TF_ALWAYS __m512 round_away16(__m512 x)
{
    __m512 t = _mm512_roundscale_ps(x, _MM_FROUND_TO_ZERO | _MM_FROUND_NO_EXC);
    __m512 frac = _mm512_abs_ps(_mm512_sub_ps(x, t));
    __mmask16 up = _mm512_cmp_ps_mask(frac, _mm512_set1_ps(0.5f), _CMP_GE_OQ);
    __m512 one = _mm512_or_ps(_mm512_set1_ps(1.0f), _mm512_and_ps(x, _mm512_set1_ps(-0.0f)));
    return _mm512_mask_add_ps(t, up, t, one);
}

/* The reference's quantizer (d = amax / 127, q = roundf(x / d) clamped to
 * +-127, NaN to 0), half the vector operations of the AVX2 one: both
 * levels give the same bytes. */
static void from_float_q8_0(const float *src, void *dst, int64_t n)
{
    tf_block_q8_0 *b = dst;
    for (int64_t i = 0; i < n / TF_QK; i++, src += TF_QK) {
        __m512 v0 = _mm512_loadu_ps(src), v1 = _mm512_loadu_ps(src + 16);
        /* max_ps returns its second operand when the first is NaN: NaNs
         * are skipped, as by the reference's "fabsf(x) > amax" */
        __m512 m = _mm512_max_ps(_mm512_abs_ps(v1), _mm512_max_ps(_mm512_abs_ps(v0), _mm512_setzero_ps()));
        float d = _mm512_reduce_max_ps(m) / 127;
        __m512 id = _mm512_set1_ps(d != 0 ? 1.0f / d : 0.0f);
        __m512 lim = _mm512_set1_ps(127.0f), nlim = _mm512_set1_ps(-127.0f);
        TF_UNROLL for (int h = 0; h < 2; h++) {
            __m512 r = round_away16(_mm512_mul_ps(h ? v1 : v0, id));
            r = _mm512_maskz_mov_ps(_mm512_cmp_ps_mask(r, r, _CMP_ORD_Q), r); /* NaN -> 0 */
            r = _mm512_min_ps(_mm512_max_ps(r, nlim), lim);
            _mm_storeu_si128((__m128i *)(b[i].qs + 16 * h), _mm512_cvtepi32_epi8(_mm512_cvtps_epi32(r)));
        }
        b[i].d = _cvtss_sh(d, _MM_FROUND_TO_NEAREST_INT);
    }
}

/* ---- SwiGLU: act.h's exponential, 16 lanes at a time, masked tail ------ */

TF_DEF_EXP_POLY(exp_poly16, 512, __m512, __m512i)

static void swiglu(const float *g, const float *u, float *out, int64_t n)
{
    for (int64_t i = 0; i < n; i += 16) {
        __mmask16 m = lanes16(n - i);
        __m512 gv = _mm512_maskz_loadu_ps(m, g + i), uv = _mm512_maskz_loadu_ps(m, u + i);
        __m512 e = exp_poly16(_mm512_xor_ps(gv, _mm512_set1_ps(-0.0f)));
        _mm512_mask_storeu_ps(out + i, m, _mm512_mul_ps(_mm512_div_ps(gv, _mm512_add_ps(_mm512_set1_ps(1.0f), e)), uv));
    }
}

/* ---- residual add and RMS norm (kernels.h): the reference's operations,
 * 16 lanes at a time, masked tail; the norm's 8 partial sums are the
 * lanes of one double vector, so the bits match the reference --------- */

static void add_rows(const float *a, const float *b, float *out, int64_t n)
{
    for (int64_t i = 0; i < n; i += 16) {
        __mmask16 m = lanes16(n - i);
        _mm512_mask_storeu_ps(out + i, m, _mm512_add_ps(_mm512_maskz_loadu_ps(m, a + i), _mm512_maskz_loadu_ps(m, b + i)));
    }
}

static void rms_norm(const float *x, const float *w, float eps, float *out, int64_t n)
{
    __m512d s = _mm512_setzero_pd();
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        __m512d d = _mm512_cvtps_pd(_mm256_loadu_ps(x + i));
        s = _mm512_add_pd(s, _mm512_mul_pd(d, d));
    }
    double p[8];
    _mm512_storeu_pd(p, s);
    __m512 sv = _mm512_set1_ps(tf_rms_scale(p, x, i, n, eps));
    for (i = 0; i < n; i += 16) {
        __mmask16 m = lanes16(n - i);
        _mm512_mask_storeu_ps(out + i, m, _mm512_mul_ps(_mm512_mul_ps(_mm512_maskz_loadu_ps(m, x + i), sv),
                                                        _mm512_maskz_loadu_ps(m, w + i)));
    }
}

void tf_kernels_install_avx512(tf_type_kernels *t)
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
}

#if defined(__clang__)
#pragma clang attribute pop
#endif
