/* x86_avx2_pack.c - AVX2 products over packed weights (kernels.h, "Packed
 * weights") for Q4_0, Q8_0, Q4_K and Q6_K, for CPUs without AVX-512.
 *
 * A 64-byte word chunk holds the same 4 weight bytes of the group's 16
 * rows; a 256-bit register takes half of it, 8 rows, so each group is
 * computed as two halves of 8 rows side by side in the int32 lanes.
 * Without int8 dot products (VNNI) the bytes go through maddubs (unsigned
 * x signed pairs into int16) and madd (int16 pairs into int32):
 *   Q4_0: nibbles 0..15 times activations within +-127 give pairs of at
 *         most 3810, so the 8 words of a block add up in int16 (30480)
 *         before one madd; the activation block's -8 sum(y) then removes
 *         the offset 8, as in the AVX-512 kernel.
 *   Q8_0: the stored bytes are q xor 0x80; flipped back to signed q, |q|
 *         goes to maddubs and q's sign onto the activation (pairs at most
 *         2 * 128 * 127), one madd per word.
 *   Q4_K, Q6_K: below, at their tiles.
 * Floats follow the reference vec_dot exactly - (d_w * d_y) * sum, added
 * block after block with separate multiplies and adds - so each element
 * equals tf_ref_pack_gemm bit for bit.
 */
#if defined(__clang__)
#pragma clang attribute push(__attribute__((target("avx2,fma,f16c"))), apply_to = function)
#elif defined(__GNUC__)
#pragma GCC target("avx2,fma,f16c")
#endif

#include "x86_avx2.h"
#include "pack.h"

#define PR TF_PACK_ROWS
#define Q4_0_COL (PR * 18)
#define Q8_0_COL (PR * 34)
#define MAXT 4

/* Activation word (4 int8) at p, in every lane. */
TF_ALWAYS __m256i bw(const void *p)
{
    int32_t v;
    memcpy(&v, p, 4);
    return _mm256_set1_epi32(v);
}

/* Bytes 32 h .. 32 h + 31 of word chunk c: rows 8 h .. 8 h + 7. */
TF_ALWAYS __m256i chunk(const uint8_t *words, int c, int h)
{
    return _mm256_loadu_si256((const __m256i *)(words + 64 * c + 32 * h));
}

/* The 8 rows' halves of half h, as floats. */
TF_ALWAYS __m256 halves(const uint8_t *p, int h)
{
    return _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(p + 16 * h)));
}

TF_ALWAYS __m256 add_term(__m256 acc, __m256 dw, float dy, __m256i s)
{
    return _mm256_add_ps(acc, _mm256_mul_ps(_mm256_mul_ps(dw, _mm256_set1_ps(dy)), _mm256_cvtepi32_ps(s)));
}

#define Y(t) ((const tf_block_q8_0s *)(a + (t) * as) + b)

/* Block column b of rows 8 h .. 8 h + 7 of a group (w: the column) times
 * NT tokens, added to acc[0..NT). */
TF_ALWAYS void q4_0_block(const uint8_t *w, int h, const uint8_t *a, size_t as, int64_t b,
                          __m256 *acc, const int NT)
{
    const __m256i m4 = _mm256_set1_epi8(0x0f), ones = _mm256_set1_epi16(1);
    __m256i p[MAXT];
    TF_UNROLL for (int t = 0; t < NT; t++) p[t] = _mm256_setzero_si256();
    TF_UNROLL for (int c = 0; c < 4; c++) {
        __m256i v = chunk(w + 32, c, h);
        __m256i lo = _mm256_and_si256(v, m4), hi = _mm256_and_si256(_mm256_srli_epi16(v, 4), m4);
        TF_UNROLL for (int t = 0; t < NT; t++) {
            p[t] = _mm256_add_epi16(p[t], _mm256_maddubs_epi16(lo, bw(Y(t)->qs + 4 * c)));
            p[t] = _mm256_add_epi16(p[t], _mm256_maddubs_epi16(hi, bw(Y(t)->qs + 16 + 4 * c)));
        }
    }
    __m256 dw = halves(w, h);
    TF_UNROLL for (int t = 0; t < NT; t++) {
        __m256i s = _mm256_add_epi32(_mm256_madd_epi16(p[t], ones), _mm256_set1_epi32(Y(t)->bias));
        acc[t] = add_term(acc[t], dw, Y(t)->d, s);
    }
}

TF_ALWAYS void q8_0_block(const uint8_t *w, int h, const uint8_t *a, size_t as, int64_t b,
                          __m256 *acc, const int NT)
{
    const __m256i flip = _mm256_set1_epi8((char)0x80), ones = _mm256_set1_epi16(1);
    __m256i s[MAXT];
    TF_UNROLL for (int t = 0; t < NT; t++) s[t] = _mm256_setzero_si256();
    TF_UNROLL for (int c = 0; c < 8; c++) {
        __m256i q = _mm256_xor_si256(chunk(w + 32, c, h), flip); /* signed again */
        __m256i aq = _mm256_abs_epi8(q);
        TF_UNROLL for (int t = 0; t < NT; t++) {
            __m256i y = _mm256_sign_epi8(bw(Y(t)->qs + 4 * c), q);
            s[t] = _mm256_add_epi32(s[t], _mm256_madd_epi16(_mm256_maddubs_epi16(aq, y), ones));
        }
    }
    __m256 dw = halves(w, h);
    TF_UNROLL for (int t = 0; t < NT; t++) acc[t] = add_term(acc[t], dw, Y(t)->d, s[t]);
}

/* ---- Q4_K: 8 sub-blocks of 32, 6-bit scales and mins ------------------
 * A sub-block's 8 words add up in int16 as Q4_0's do (16 products of at
 * most 15 x 127 per lane: 30480), and one madd against the row's scale,
 * set in both int16 halves of its lane, gives scale x sum in int32: no
 * 32-bit multiply.  The mins take the activation's pairs of sub-block sums
 * (pack.h) in one madd per pair. */
#define Q4_K_COL (PR * 144)
#define Q4_K_MAXT 3 /* 5 registers a token: 2 tokens 151 GFLOP/s, 3 162, 4 160 */

/* Unsigned bytes i0 and i1 of each lane of v as the lane's int16 pair
 * (one shuffle within each 128-bit half). */
TF_ALWAYS __m256i ubyte_pair(__m256i v, int i0, int i1)
{
    const __m256i ctl = _mm256_setr_epi8(i0, -1, i1, -1, 4 + i0, -1, 4 + i1, -1, 8 + i0, -1, 8 + i1, -1,
                                         12 + i0, -1, 12 + i1, -1, i0, -1, i1, -1, 4 + i0, -1, 4 + i1, -1,
                                         8 + i0, -1, 8 + i1, -1, 12 + i0, -1, 12 + i1, -1);
    return _mm256_shuffle_epi8(v, ctl);
}

#define YK(t) ((const tf_block_q8_Ks *)(a + (t) * as) + b)

TF_ALWAYS void q4_K_block(const uint8_t *w, int h, const uint8_t *a, size_t as, int64_t b,
                          __m256 *acc, const int NT)
{
    const __m256i m4 = _mm256_set1_epi8(0x0f);
    const uint8_t *words = w + 64; /* after d and dmin: scales 0..2, qs 3..34 */
    const __m256i s0 = chunk(words, 0, h), s1 = chunk(words, 1, h), s2 = chunk(words, 2, h);
    const __m256i k3f = _mm256_set1_epi8(0x3f), k0f = _mm256_set1_epi8(0x0f),
                  k30 = _mm256_set1_epi8(0x30);
    /* the 6-bit scales (sl: sub-blocks 0..3, sh: 4..7) and mins, a byte each */
    __m256i sl = _mm256_and_si256(s0, k3f), ml = _mm256_and_si256(s1, k3f);
    __m256i sh = _mm256_or_si256(_mm256_and_si256(s2, k0f), _mm256_and_si256(_mm256_srli_epi32(s0, 2), k30));
    __m256i mh = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi32(s2, 4), k0f),
                                 _mm256_and_si256(_mm256_srli_epi32(s1, 2), k30));
    __m256i isum[Q4_K_MAXT], msum[Q4_K_MAXT];
    TF_UNROLL for (int t = 0; t < NT; t++) {
        isum[t] = _mm256_setzero_si256();
        msum[t] = _mm256_madd_epi16(ubyte_pair(ml, 0, 1), _mm256_set1_epi32(YK(t)->pre[0]));
        msum[t] = _mm256_add_epi32(msum[t], _mm256_madd_epi16(ubyte_pair(ml, 2, 3), _mm256_set1_epi32(YK(t)->pre[1])));
        msum[t] = _mm256_add_epi32(msum[t], _mm256_madd_epi16(ubyte_pair(mh, 0, 1), _mm256_set1_epi32(YK(t)->pre[2])));
        msum[t] = _mm256_add_epi32(msum[t], _mm256_madd_epi16(ubyte_pair(mh, 2, 3), _mm256_set1_epi32(YK(t)->pre[3])));
    }
    TF_UNROLL for (int g = 0; g < 4; g++) {
        __m256i lo[Q4_K_MAXT], hi[Q4_K_MAXT];
        TF_UNROLL for (int t = 0; t < NT; t++) lo[t] = hi[t] = _mm256_setzero_si256();
        TF_UNROLL for (int c = 0; c < 8; c++) {
            __m256i v = chunk(words, 3 + 8 * g + c, h);
            __m256i l = _mm256_and_si256(v, m4), u = _mm256_and_si256(_mm256_srli_epi16(v, 4), m4);
            TF_UNROLL for (int t = 0; t < NT; t++) {
                const int8_t *yq = YK(t)->q.qs + 64 * g + 4 * c;
                lo[t] = _mm256_add_epi16(lo[t], _mm256_maddubs_epi16(l, bw(yq)));
                hi[t] = _mm256_add_epi16(hi[t], _mm256_maddubs_epi16(u, bw(yq + 32)));
            }
        }
        /* sub-blocks 2g and 2g + 1 */
        int j0 = (2 * g) & 3, j1 = (2 * g + 1) & 3;
        __m256i sc0 = ubyte_pair(g < 2 ? sl : sh, j0, j0), sc1 = ubyte_pair(g < 2 ? sl : sh, j1, j1);
        TF_UNROLL for (int t = 0; t < NT; t++)
            isum[t] = _mm256_add_epi32(isum[t], _mm256_add_epi32(_mm256_madd_epi16(lo[t], sc0),
                                                                 _mm256_madd_epi16(hi[t], sc1)));
    }
    __m256 dw = halves(w, h), dm = halves(w + 32, h);
    TF_UNROLL for (int t = 0; t < NT; t++) {
        __m256 dy = _mm256_set1_ps(YK(t)->q.d);
        __m256 term = _mm256_sub_ps(_mm256_mul_ps(_mm256_mul_ps(dy, dw), _mm256_cvtepi32_ps(isum[t])),
                                    _mm256_mul_ps(_mm256_mul_ps(dy, dm), _mm256_cvtepi32_ps(msum[t])));
        acc[t] = _mm256_add_ps(acc[t], term);
    }
}

/* ---- Q6_K: 16 sub-blocks of 16, int8 scales, values - 32 --------------
 * Values 0..63 against activations within +-127: two words (4 products
 * per int16 lane, 32004 at most) add up in int16, then one madd against
 * the sub-block's scale in both halves of the lane; the offset 32 comes
 * from the activation's sub-block sums (Q8_K's bsums), a pair of them per
 * madd against a pair of scales, once a block. */
#define Q6_K_COL (PR * 210)
#define Q6_K_MAXT 8 /* some sums spill; still faster than 4 (160) or 6 (166): 174 GFLOP/s */

/* Values of sub-block pair k (0..3) of a word chunk triple q (as the
 * AVX-512 kernel's q6_K_vals), rows 8 h .. 8 h + 7. */
TF_ALWAYS __m256i q6_K_vals(const uint8_t *q, int k, int h)
{
    const __m256i m4 = _mm256_set1_epi8(0x0f);
    __m256i H = chunk(q, 0, h), L = chunk(q, 1 + (k & 1), h);
    __m256i lo = k < 2 ? L : _mm256_srli_epi16(L, 4);
    __m256i hi = k == 0 ? _mm256_slli_epi16(_mm256_and_si256(H, _mm256_set1_epi8(0x03)), 4)
               : k == 1 ? _mm256_slli_epi16(_mm256_and_si256(H, _mm256_set1_epi8(0x0c)), 2)
               : k == 2 ? _mm256_and_si256(H, _mm256_set1_epi8(0x30))
                        : _mm256_and_si256(_mm256_srli_epi16(H, 2), _mm256_set1_epi8(0x30));
    return _mm256_or_si256(_mm256_and_si256(lo, m4), hi);
}

/* Signed bytes i0 and i1 of each lane of v as the lane's int16 pair. */
TF_ALWAYS __m256i sbyte_pair(__m256i v, int i0, int i1)
{
    const __m256i ctl = _mm256_setr_epi8(-1, i0, -1, i1, -1, 4 + i0, -1, 4 + i1, -1, 8 + i0, -1, 8 + i1,
                                         -1, 12 + i0, -1, 12 + i1, -1, i0, -1, i1, -1, 4 + i0, -1, 4 + i1,
                                         -1, 8 + i0, -1, 8 + i1, -1, 12 + i0, -1, 12 + i1);
    return _mm256_srai_epi16(_mm256_shuffle_epi8(v, ctl), 8);
}

TF_ALWAYS void q6_K_block(const uint8_t *w, int h, const uint8_t *a, size_t as, int64_t b,
                          __m256 *acc, const int NT)
{
    /* words (ref_pack.c): the scales 0..3, then per (n, c) from 4 +
     * 3 (8n + c): qh[32n + 4c..], ql[64n + 4c..], ql[64n + 32 + 4c..] */
    const uint8_t *words = w + 32; /* after d */
    __m256i isum[Q6_K_MAXT];
    TF_UNROLL for (int t = 0; t < NT; t++) { /* -32 sum_j scale_j bsum_j */
        __m256i m = _mm256_setzero_si256();
        TF_UNROLL for (int i = 0; i < 8; i++)
            m = _mm256_add_epi32(m, _mm256_madd_epi16(sbyte_pair(chunk(words, i / 2, h), 2 * (i & 1), 2 * (i & 1) + 1),
                                                      bw(YK(t)->q.bsums + 2 * i)));
        isum[t] = _mm256_sub_epi32(_mm256_setzero_si256(), _mm256_slli_epi32(m, 5));
    }
    TF_UNROLL for (int n = 0; n < 2; n++)
        TF_UNROLL for (int hh = 0; hh < 2; hh++)
            TF_UNROLL for (int k = 0; k < 4; k++) {
                int j = 8 * n + 2 * k + hh; /* elements 128n + 32k + 16hh.. */
                __m256i sc = sbyte_pair(chunk(words, j / 4, h), j % 4, j % 4);
                __m256i e[4];
                TF_UNROLL for (int c = 0; c < 4; c++)
                    e[c] = q6_K_vals(words + 64 * (4 + 3 * (8 * n + 4 * hh + c)), k, h);
                TF_UNROLL for (int t = 0; t < NT; t++) {
                    const int8_t *yq = YK(t)->q.qs + 128 * n + 32 * k + 16 * hh;
                    __m256i p0 = _mm256_add_epi16(_mm256_maddubs_epi16(e[0], bw(yq)),
                                                  _mm256_maddubs_epi16(e[1], bw(yq + 4)));
                    __m256i p1 = _mm256_add_epi16(_mm256_maddubs_epi16(e[2], bw(yq + 8)),
                                                  _mm256_maddubs_epi16(e[3], bw(yq + 12)));
                    isum[t] = _mm256_add_epi32(isum[t], _mm256_add_epi32(_mm256_madd_epi16(p0, sc),
                                                                         _mm256_madd_epi16(p1, sc)));
                }
            }
    __m256 dw = halves(w, h);
    TF_UNROLL for (int t = 0; t < NT; t++) acc[t] = add_term(acc[t], dw, YK(t)->q.d, isum[t]);
}

/* ---- drivers: as x86_avx512_pack.c's, each group in two halves ----------
 * A tile of several tokens takes one half at a time (its accumulators
 * fill the registers); a single token takes both halves block after block,
 * so the group is read front to back once: two passes over every other
 * 32 bytes measured half as fast from memory (15 against 29 GB/s). */

#define ACT_BLOCK_BYTES (256u << 10)

/* One copy of a block's code for both halves: two unrolled copies keep
 * twice the scales live and spill (Q4_K and Q6_K decoding 25% slower). */
#if defined(__clang__)
#define TF_NO_UNROLL _Pragma("clang loop unroll(disable)")
#else
#define TF_NO_UNROLL _Pragma("GCC unroll 1")
#endif

/* Rows 8 h0 .. 8 (h0 + NH) - 1 of a group (NH halves) times NT tokens. */
#define DEF_TILE(NAME, COL, MT)                                                             \
    TF_ALWAYS void NAME##_tile(int64_t nb, const uint8_t *w, int h0, const uint8_t *a,     \
                               size_t as, float *out, size_t os, const int NH, const int NT) \
    {                                                                                       \
        __m256 acc[2][MT];                                                                  \
        TF_UNROLL for (int hh = 0; hh < NH; hh++)                                           \
            TF_UNROLL for (int t = 0; t < NT; t++) acc[hh][t] = _mm256_setzero_ps();        \
        if (NH == 1)                                                                        \
            for (int64_t b = 0; b < nb; b++, w += (COL))                                    \
                NAME##_block(w, h0, a, as, b, acc[0], NT);                                  \
        else                                                                                \
            for (int64_t b = 0; b < nb; b++, w += (COL))                                    \
                TF_NO_UNROLL for (int hh = 0; hh < NH; hh++)                                \
                    NAME##_block(w, h0 + hh, a, as, b, acc[hh], NT);                        \
        TF_UNROLL for (int hh = 0; hh < NH; hh++)                                           \
            TF_UNROLL for (int t = 0; t < NT; t++)                                          \
                _mm256_storeu_ps(out + t * os + 8 * hh, acc[hh][t]);                        \
    }

DEF_TILE(q4_0, Q4_0_COL, MAXT)
DEF_TILE(q8_0, Q8_0_COL, MAXT)
DEF_TILE(q4_K, Q4_K_COL, Q4_K_MAXT)
DEF_TILE(q6_K, Q6_K_COL, Q6_K_MAXT)

#define CASE(TILE, k) case k: TILE(nb, w, h, at, as, o + 8 * h, os, 1, k); break;

#define DEF_PACK(NAME, ELEMS, BYTES, MT, CASES)                                             \
    static void pgemm_##NAME(int64_t n, const void *wp, int ng, const void *a, size_t as, \
                             int na, float *out, size_t os)                               \
    {                                                                                     \
        int64_t nb = n / (ELEMS);                                                         \
        size_t gb = (size_t)nb * (BYTES);                                                 \
        if (na == 1) {                                                                    \
            for (int g = 0; g < ng; g++)                                                  \
                NAME##_tile(nb, (const uint8_t *)wp + (size_t)g * gb, 0, a, as,           \
                            out + (size_t)g * PR, os, 2, 1);                              \
            return;                                                                       \
        }                                                                                 \
        int tb = as ? (int)(ACT_BLOCK_BYTES / as) : na;                                   \
        tb = tb < (MT) ? (MT) : tb / (MT) * (MT);                                         \
        for (int t0 = 0; t0 < na; t0 += tb) {                                             \
            int t1 = na - t0 < tb ? na : t0 + tb;                                         \
            for (int g = 0; g < ng; g++)                                                  \
                for (int h = 0; h < 2; h++) {                                             \
                    const uint8_t *w = (const uint8_t *)wp + (size_t)g * gb;              \
                    for (int t = t0; t < t1; t += (MT)) {                                 \
                        const uint8_t *at = (const uint8_t *)a + (size_t)t * as;          \
                        float *o = out + (size_t)t * os + (size_t)g * PR;                 \
                        switch (t1 - t < (MT) ? t1 - t : (MT)) { CASES }                  \
                    }                                                                     \
                }                                                                         \
        }                                                                                 \
    }

#define CASES3(T) CASE(T, 1) CASE(T, 2) CASE(T, 3)
#define CASES4(T) CASES3(T) CASE(T, 4)
#define CASES8(T) CASES4(T) CASE(T, 5) CASE(T, 6) CASE(T, 7) CASE(T, 8)

DEF_PACK(q4_0, TF_QK, Q4_0_COL, MAXT, CASES4(q4_0_tile))
DEF_PACK(q8_0, TF_QK, Q8_0_COL, MAXT, CASES4(q8_0_tile))
DEF_PACK(q4_K, TF_QK_K, Q4_K_COL, Q4_K_MAXT, CASES3(q4_K_tile))
DEF_PACK(q6_K, TF_QK_K, Q6_K_COL, Q6_K_MAXT, CASES8(q6_K_tile))

void tf_kernels_install_avx2_pack(tf_type_kernels *t)
{
    t[TF_TYPE_Q4_0].pack_gemm = pgemm_q4_0;
    t[TF_TYPE_Q8_0].pack_gemm = pgemm_q8_0;
    t[TF_TYPE_Q4_K].pack_gemm = pgemm_q4_K;
    t[TF_TYPE_Q6_K].pack_gemm = pgemm_q6_K;
}

#if defined(__clang__)
#pragma clang attribute pop
#endif
