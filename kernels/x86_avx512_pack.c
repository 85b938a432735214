/* x86_avx512_pack.c - AVX-512 VNNI products over packed weights (kernels.h,
 * "Packed weights") for Q4_0, Q8_0, Q4_K and Q6_K, and F16's FMA products.
 *
 * A 64-byte word chunk of a packed block holds the same 4 weight bytes of
 * 16 rows, so one dpbusd against an activation word broadcast to every
 * lane adds 4 products to each of the 16 rows' int32 sums: the 16 rows of
 * a group are computed side by side in the 16 lanes and the weights are
 * read once, as one sequential stream per group, whatever the batch.
 * Decoding streams the weights at memory speed; prompts reuse each
 * unpacked chunk for a tile of up to 8 tokens (4 for Q4_K).
 *
 * Floats: each lane does exactly what the reference vec_dot does for its
 * row - the same exact integer block sums, then (d_w * d_y) * sum added
 * to the row's total block after block, with separate multiplies and adds
 * (no FMA) - so results equal tf_ref_pack_gemm bit for bit.
 */
#if defined(__clang__)
#pragma clang attribute push(__attribute__((target("avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512dq,avx512vnni"))), apply_to = function)
#elif defined(__GNUC__)
#pragma GCC target("avx2,fma,f16c,avx512f,avx512bw,avx512vl,avx512dq,avx512vnni")
#endif

#include "x86_avx512.h"
#include "pack.h"

#define PR TF_PACK_ROWS

/* Activation word (4 int8) at p, in every lane. */
TF_ALWAYS __m512i bw(const void *p)
{
    int32_t v;
    memcpy(&v, p, 4);
    return _mm512_set1_epi32(v);
}

TF_ALWAYS __m512i chunk(const uint8_t *p, int w) { return _mm512_loadu_si512(p + 64 * w); }

TF_ALWAYS __m512 halves(const uint8_t *p) { return _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)p)); }

/* acc += (d_w * d_y) * float(s), the reference's order. */
TF_ALWAYS __m512 add_term(__m512 acc, __m512 dw, float dy, __m512i s)
{
    return _mm512_add_ps(acc, _mm512_mul_ps(_mm512_mul_ps(dw, _mm512_set1_ps(dy)), _mm512_cvtepi32_ps(s)));
}

/* ---- Q4_0 and Q8_0: 32-element blocks, Q8_0S activations ------------- */

/* Bytes of one block column of a group: the 16 rows' blocks, starting
 * with their halves (32 bytes per scale field), then the words. */
#define Q4_0_COL (PR * 18)
#define Q8_0_COL (PR * 34)
#define Q4_K_COL (PR * 144)
#define Q6_K_COL (PR * 210)

TF_ALWAYS void q4_0_tile(int64_t nb, const uint8_t *w, const uint8_t *a, size_t as, float *out,
                         size_t os, const int NT)
{
    __m512 acc[8];
    TF_UNROLL for (int t = 0; t < NT; t++) acc[t] = _mm512_setzero_ps();
    const __m512i m4 = _mm512_set1_epi8(0x0f);
    for (int64_t b = 0; b < nb; b++, w += Q4_0_COL) {
        __m512 dw = halves(w); /* the words follow, from w + 32 */
        __m512i q[8]; /* q[c]: elements 4c..4c+3, q[4 + c]: 16 + 4c.. */
        TF_UNROLL for (int c = 0; c < 4; c++) {
            __m512i v = chunk(w + 32, c);
            q[c] = _mm512_and_si512(v, m4);
            q[4 + c] = _mm512_and_si512(_mm512_srli_epi16(v, 4), m4);
        }
        TF_UNROLL for (int t = 0; t < NT; t++) {
            const tf_block_q8_0s *y = (const tf_block_q8_0s *)(a + t * as) + b;
            __m512i s0 = _mm512_set1_epi32(y->bias), s1 = _mm512_setzero_si512();
            TF_UNROLL for (int c = 0; c < 4; c++) {
                s0 = _mm512_dpbusd_epi32(s0, q[c], bw(y->qs + 4 * c));
                s1 = _mm512_dpbusd_epi32(s1, q[4 + c], bw(y->qs + 16 + 4 * c));
            }
            acc[t] = add_term(acc[t], dw, y->d, _mm512_add_epi32(s0, s1));
        }
    }
    TF_UNROLL for (int t = 0; t < NT; t++) _mm512_storeu_ps(out + t * os, acc[t]);
}

TF_ALWAYS void q8_0_tile(int64_t nb, const uint8_t *w, const uint8_t *a, size_t as, float *out,
                         size_t os, const int NT)
{
    __m512 acc[8];
    TF_UNROLL for (int t = 0; t < NT; t++) acc[t] = _mm512_setzero_ps();
    for (int64_t b = 0; b < nb; b++, w += Q8_0_COL) {
        __m512 dw = halves(w); /* the words follow, from w + 32 */
        __m512i q[8]; /* q + 128, elements 4c..4c+3 */
        TF_UNROLL for (int c = 0; c < 8; c++) q[c] = chunk(w + 32, c);
        TF_UNROLL for (int t = 0; t < NT; t++) {
            const tf_block_q8_0s *y = (const tf_block_q8_0s *)(a + t * as) + b;
            __m512i s0 = _mm512_set1_epi32(y->bias), s1 = _mm512_setzero_si512();
            TF_UNROLL for (int c = 0; c < 8; c += 2) {
                s0 = _mm512_dpbusd_epi32(s0, q[c], bw(y->qs + 4 * c));
                s1 = _mm512_dpbusd_epi32(s1, q[c + 1], bw(y->qs + 4 * c + 4));
            }
            acc[t] = add_term(acc[t], dw, y->d, _mm512_add_epi32(s0, s1));
        }
    }
    TF_UNROLL for (int t = 0; t < NT; t++) _mm512_storeu_ps(out + t * os, acc[t]);
}

/* ---- Q4_K: 8 sub-blocks of 32, 6-bit scales and mins ------------------ */

/* The 12 scale bytes of each lane's row -> the 6-bit scales of sub-blocks
 * 0..3 (sl) and 4..7 (sh) and the mins (ml, mh), one per byte. */
TF_ALWAYS void q4_K_scales(const uint8_t *words, __m512i *sl, __m512i *sh, __m512i *ml, __m512i *mh)
{
    const __m512i s0 = chunk(words, 0), s1 = chunk(words, 1), s2 = chunk(words, 2);
    const __m512i k3f = _mm512_set1_epi8(0x3f), k0f = _mm512_set1_epi8(0x0f),
                  k30 = _mm512_set1_epi8(0x30);
    *sl = _mm512_and_si512(s0, k3f);
    *ml = _mm512_and_si512(s1, k3f);
    *sh = _mm512_or_si512(_mm512_and_si512(s2, k0f), _mm512_and_si512(_mm512_srli_epi32(s0, 2), k30));
    *mh = _mm512_or_si512(_mm512_and_si512(_mm512_srli_epi32(s2, 4), k0f),
                          _mm512_and_si512(_mm512_srli_epi32(s1, 2), k30));
}

/* Byte j of each lane of v, as an int32. */
TF_ALWAYS __m512i byte_of(__m512i v, int j)
{
    return _mm512_and_si512(_mm512_srli_epi32(v, 8 * j), _mm512_set1_epi32(0xff));
}

/* Bytes 2k and 2k+1 of each lane of v as an int16 pair (low half first). */
TF_ALWAYS __m512i byte_duo(__m512i v, int k)
{
    __m512i x = _mm512_and_si512(_mm512_srli_epi32(v, 16 * k), _mm512_set1_epi32(0xffff));
    return _mm512_and_si512(_mm512_or_si512(x, _mm512_slli_epi32(x, 8)), _mm512_set1_epi32(0x00ff00ff));
}

TF_ALWAYS void q4_K_tile(int64_t nb, const uint8_t *w, const uint8_t *a, size_t as, float *out,
                         size_t os, const int NT)
{
    __m512 acc[4];
    TF_UNROLL for (int t = 0; t < NT; t++) acc[t] = _mm512_setzero_ps();
    const __m512i m4 = _mm512_set1_epi8(0x0f);
    for (int64_t b = 0; b < nb; b++, w += Q4_K_COL) {
        const uint8_t *words = w + 64; /* after d and dmin: scales 0..2, qs 3..34 */
        /* Scales are made when used, not all kept: with 4 tokens' sums
         * live, 16 more registers would spill. */
        __m512i sl, sh, ml, mh, isum[4], isum16[4], msum[4];
        q4_K_scales(words, &sl, &sh, &ml, &mh);
        TF_UNROLL for (int t = 0; t < NT; t++) {
            const tf_block_q8_Ks *y = (const tf_block_q8_Ks *)(a + t * as) + b;
            isum[t] = isum16[t] = msum[t] = _mm512_setzero_si512();
            TF_UNROLL for (int k = 0; k < 4; k++) /* sum of min_j * (sub-block j's sum), exact */
                msum[t] = _mm512_dpwssd_epi32(msum[t], byte_duo(k < 2 ? ml : mh, k & 1), _mm512_set1_epi32(y->pre[k]));
        }
        TF_UNROLL for (int g = 0; g < 4; g++) {
            __m512i lo[4], hi[4];
            TF_UNROLL for (int t = 0; t < NT; t++) lo[t] = hi[t] = _mm512_setzero_si512();
            TF_UNROLL for (int c = 0; c < 8; c++) {
                __m512i v = chunk(words, 3 + 8 * g + c);
                /* the high nibbles in place, 16 times their value: one
                 * op less per chunk; isum16 is divided by 16 once a block */
                __m512i l = _mm512_and_si512(v, m4), h = _mm512_andnot_si512(m4, v);
                TF_UNROLL for (int t = 0; t < NT; t++) {
                    const int8_t *yq = ((const tf_block_q8_Ks *)(a + t * as) + b)->q.qs + 64 * g + 4 * c;
                    lo[t] = _mm512_dpbusd_epi32(lo[t], l, bw(yq));
                    hi[t] = _mm512_dpbusd_epi32(hi[t], h, bw(yq + 32));
                }
            }
            /* sub-blocks 2g and 2g + 1 */
            __m512i sc0 = byte_of(g < 2 ? sl : sh, (2 * g) & 3), sc1 = byte_of(g < 2 ? sl : sh, (2 * g + 1) & 3);
            TF_UNROLL for (int t = 0; t < NT; t++) {
                isum[t] = _mm512_add_epi32(isum[t], _mm512_mullo_epi32(lo[t], sc0));
                isum16[t] = _mm512_add_epi32(isum16[t], _mm512_mullo_epi32(hi[t], sc1));
            }
        }
        /* exact: every term of isum16 is a multiple of 16, and its
         * magnitude stays below 4 x 32 x 16 x 15 x 128 x 63 < 2^31 */
        TF_UNROLL for (int t = 0; t < NT; t++)
            isum[t] = _mm512_add_epi32(isum[t], _mm512_srai_epi32(isum16[t], 4));
        __m512 dw = halves(w), dm = halves(w + 32);
        TF_UNROLL for (int t = 0; t < NT; t++) {
            __m512 dy = _mm512_set1_ps(((const tf_block_q8_Ks *)(a + t * as) + b)->q.d);
            __m512 term = _mm512_sub_ps(_mm512_mul_ps(_mm512_mul_ps(dy, dw), _mm512_cvtepi32_ps(isum[t])),
                                        _mm512_mul_ps(_mm512_mul_ps(dy, dm), _mm512_cvtepi32_ps(msum[t])));
            acc[t] = _mm512_add_ps(acc[t], term);
        }
    }
    TF_UNROLL for (int t = 0; t < NT; t++) _mm512_storeu_ps(out + t * os, acc[t]);
}

/* ---- Q6_K: 16 sub-blocks of 16, int8 scales, values - 32 -------------- */

/* Values of sub-block pair k (0..3) of a Q6_K word chunk triple q: low
 * nibbles from ql (L0 for k = 0, 2; L1 for k = 1, 3), 2 high bits from qh. */
TF_ALWAYS __m512i q6_K_vals(const uint8_t *q, int k)
{
    const __m512i m4 = _mm512_set1_epi8(0x0f);
    __m512i H = chunk(q, 0), L = chunk(q, 1 + (k & 1));
    __m512i lo = k < 2 ? L : _mm512_srli_epi16(L, 4);
    __m512i hi = k == 0 ? _mm512_slli_epi16(_mm512_and_si512(H, _mm512_set1_epi8(0x03)), 4)
               : k == 1 ? _mm512_slli_epi16(_mm512_and_si512(H, _mm512_set1_epi8(0x0c)), 2)
               : k == 2 ? _mm512_and_si512(H, _mm512_set1_epi8(0x30))
                        : _mm512_and_si512(_mm512_srli_epi16(H, 2), _mm512_set1_epi8(0x30));
    return _mm512_or_si512(_mm512_and_si512(lo, m4), hi);
}

TF_ALWAYS void q6_K_tile(int64_t nb, const uint8_t *w, const uint8_t *a, size_t as, float *out,
                         size_t os, const int NT)
{
    /* The totals live in out, not in registers: 8 tokens' sums and
     * scaled sums take 16 of them already. */
    TF_UNROLL for (int t = 0; t < NT; t++) _mm512_storeu_ps(out + t * os, _mm512_setzero_ps());
    for (int64_t b = 0; b < nb; b++, w += Q6_K_COL) {
        /* words (ref_pack.c): the scales 0..3, then per (n, c) from 4 +
         * 3 (8n + c): qh[32n + 4c..], ql[64n + 4c..], ql[64n + 32 + 4c..] */
        const uint8_t *words = w + 32; /* after d */
        __m512i isum[8];
        TF_UNROLL for (int t = 0; t < NT; t++) isum[t] = _mm512_setzero_si512();
        /* One sub-block j = 8n + 2k + h (elements 128n + 32k + 16h..) at a
         * time: NT sums live, not 4 NT (the registers would spill). */
        TF_UNROLL for (int n = 0; n < 2; n++)
            TF_UNROLL for (int h = 0; h < 2; h++)
                TF_UNROLL for (int k = 0; k < 4; k++) {
                    int j = 8 * n + 2 * k + h;
                    __m512i s[8];
                    TF_UNROLL for (int t = 0; t < NT; t++) /* -32 * bsum */
                        s[t] = _mm512_set1_epi32(((const tf_block_q8_Ks *)(a + t * as) + b)->pre[j]);
                    TF_UNROLL for (int c = 4 * h; c < 4 * h + 4; c++) {
                        __m512i e = q6_K_vals(words + 64 * (4 + 3 * (8 * n + c)), k);
                        TF_UNROLL for (int t = 0; t < NT; t++) {
                            const int8_t *yq = ((const tf_block_q8_Ks *)(a + t * as) + b)->q.qs;
                            s[t] = _mm512_dpbusd_epi32(s[t], e, bw(yq + 128 * n + 4 * c + 32 * k));
                        }
                    }
                    /* sub-block j's int8 scale, sign-extended */
                    __m512i sc = _mm512_srai_epi32(_mm512_slli_epi32(chunk(words, j / 4), 24 - 8 * (j % 4)), 24);
                    TF_UNROLL for (int t = 0; t < NT; t++)
                        isum[t] = _mm512_add_epi32(isum[t], _mm512_mullo_epi32(s[t], sc));
                }
        __m512 dw = halves(w);
        TF_UNROLL for (int t = 0; t < NT; t++)
            _mm512_storeu_ps(out + t * os, add_term(_mm512_loadu_ps(out + t * os), dw,
                                                    ((const tf_block_q8_Ks *)(a + t * as) + b)->q.d, isum[t]));
    }
}

/* ---- drivers ------------------------------------------------------------ */

/* Tokens per activation block: the block's rows stay in L2 while every
 * group of the range is multiplied with them. */
#define ACT_BLOCK_BYTES (256u << 10)

#define CASE(TILE, k) case k: TILE(nb, w, at, as, o, os, k); break;

#define DEF_PACK(NAME, TILE, ELEMS, BYTES, MAXT, CASES)                                      \
    static void pgemm_##NAME(int64_t n, const void *wp, int ng, const void *a, size_t as, \
                             int na, float *out, size_t os)                               \
    {                                                                                     \
        int64_t nb = n / (ELEMS);                                                         \
        size_t gb = (size_t)nb * (BYTES);                                                 \
        int tb = as ? (int)(ACT_BLOCK_BYTES / as) : na;                                   \
        tb = tb < (MAXT) ? (MAXT) : tb / (MAXT) * (MAXT);                                 \
        for (int t0 = 0; t0 < na; t0 += tb) {                                             \
            int t1 = na - t0 < tb ? na : t0 + tb;                                         \
            for (int g = 0; g < ng; g++) {                                                \
                const uint8_t *w = (const uint8_t *)wp + (size_t)g * gb;                  \
                for (int t = t0; t < t1; t += (MAXT)) {                                   \
                    const uint8_t *at = (const uint8_t *)a + (size_t)t * as;              \
                    float *o = out + (size_t)t * os + (size_t)g * PR;                     \
                    switch (t1 - t < (MAXT) ? t1 - t : (MAXT)) { CASES }                  \
                }                                                                         \
            }                                                                             \
        }                                                                                 \
    }

#define CASES8(T) CASE(T, 1) CASE(T, 2) CASE(T, 3) CASE(T, 4) CASE(T, 5) CASE(T, 6) CASE(T, 7) CASE(T, 8)
#define CASES4(T) CASE(T, 1) CASE(T, 2) CASE(T, 3) CASE(T, 4)

DEF_PACK(q4_0, q4_0_tile, TF_QK, Q4_0_COL, 8, CASES8(q4_0_tile))
DEF_PACK(q8_0, q8_0_tile, TF_QK, Q8_0_COL, 8, CASES8(q8_0_tile))
DEF_PACK(q4_K, q4_K_tile, TF_QK_K, Q4_K_COL, 4, CASES4(q4_K_tile))
DEF_PACK(q6_K, q6_K_tile, TF_QK_K, Q6_K_COL, 8, CASES8(q6_K_tile))

/* ---- F16: 16 lanes per row, the row kernel's chains -------------------
 * Each (row, token) keeps the row kernel's accumulator (lane j: elements
 * j, j + 16, ...) and its hsum16, so results equal vec_dot_f16 of
 * x86_avx512.c bit for bit.  Decoding computes all 16 rows of a group in
 * one pass that reads the group front to back (16 chains in registers);
 * prompts take one row quad x 6 tokens at a time (24 accumulators, 4
 * conversions per 24 FMAs: the activations come as floats), reading the
 * quad's 4 KB run of each block (pack.h). */
#define F16_NT 6
#define F16_ACT_BYTES (256u << 10)

TF_ALWAYS void f16_rows16(int64_t nc, const uint8_t *w, const uint8_t *a, float *out)
{
    __m512 acc[16];
    TF_UNROLL for (int r = 0; r < 16; r++) acc[r] = _mm512_setzero_ps();
    for (int64_t c0 = 0; c0 < nc; c0 += TF_F16_BLOCK) {
        int64_t cb = nc - c0 < TF_F16_BLOCK ? nc - c0 : TF_F16_BLOCK;
        const uint8_t *wb = w + c0 * 512, *ab = a + 64 * c0;
        TF_UNROLL for (int q = 0; q < 4; q++) {
            const uint8_t *wq = wb + q * cb * 128;
            for (int64_t c = 0; c < cb; c++) {
                __m512 x = _mm512_loadu_ps(ab + 64 * c);
                TF_UNROLL for (int r = 0; r < 4; r++)
                    acc[4 * q + r] = _mm512_fmadd_ps(halves(wq + 128 * c + 32 * r), x, acc[4 * q + r]);
            }
        }
    }
    TF_UNROLL for (int r = 0; r < 16; r++) out[r] = hsum16(acc[r]);
}

TF_ALWAYS void f16_quad(int64_t nc, const uint8_t *w, int q, const uint8_t *a, size_t as,
                        float *out, size_t os, const int NT)
{
    __m512 acc[4][F16_NT];
    TF_UNROLL for (int r = 0; r < 4; r++)
        TF_UNROLL for (int t = 0; t < NT; t++) acc[r][t] = _mm512_setzero_ps();
    for (int64_t c0 = 0; c0 < nc; c0 += TF_F16_BLOCK) {
        int64_t cb = nc - c0 < TF_F16_BLOCK ? nc - c0 : TF_F16_BLOCK;
        const uint8_t *wq = w + c0 * 512 + q * cb * 128, *ab = a + 64 * c0;
        for (int64_t c = 0; c < cb; c++) {
            __m512 x[F16_NT];
            TF_UNROLL for (int t = 0; t < NT; t++) x[t] = _mm512_loadu_ps(ab + t * as + 64 * c);
            TF_UNROLL for (int r = 0; r < 4; r++) {
                __m512 v = halves(wq + 128 * c + 32 * r);
                TF_UNROLL for (int t = 0; t < NT; t++) acc[r][t] = _mm512_fmadd_ps(v, x[t], acc[r][t]);
            }
        }
    }
    TF_UNROLL for (int r = 0; r < 4; r++)
        TF_UNROLL for (int t = 0; t < NT; t++) out[t * os + 4 * q + r] = hsum16(acc[r][t]);
}

#define QCASE(k) case k: f16_quad(nc, w, q, at, as, o, os, k); break;

static void pgemm_f16(int64_t n, const void *wp, int ng, const void *a, size_t as, int na,
                      float *out, size_t os)
{
    int64_t nc = n / TF_F16_CHUNK;
    size_t gb = (size_t)n * 2 * PR;
    if (na < F16_NT) { /* decoding: every group read once per token, front to back */
        for (int t = 0; t < na; t++)
            for (int g = 0; g < ng; g++)
                f16_rows16(nc, (const uint8_t *)wp + (size_t)g * gb, (const uint8_t *)a + (size_t)t * as,
                           out + (size_t)t * os + (size_t)g * PR);
        return;
    }
    int tb = as ? (int)(F16_ACT_BYTES / as) : na;
    tb = tb < F16_NT ? F16_NT : tb / F16_NT * F16_NT;
    for (int g = 0; g < ng; g++) {
        const uint8_t *w = (const uint8_t *)wp + (size_t)g * gb;
        for (int t0 = 0; t0 < na; t0 += tb) {
            int t1 = na - t0 < tb ? na : t0 + tb;
            for (int q = 0; q < 4; q++)
                for (int t = t0; t < t1; t += F16_NT) {
                    const uint8_t *at = (const uint8_t *)a + (size_t)t * as;
                    float *o = out + (size_t)t * os + (size_t)g * PR;
                    switch (t1 - t < F16_NT ? t1 - t : F16_NT) {
                        QCASE(1) QCASE(2) QCASE(3) QCASE(4) QCASE(5) QCASE(6)
                    }
                }
        }
    }
}

void tf_kernels_install_avx512_pack(tf_type_kernels *t)
{
    t[TF_TYPE_Q4_0].pack_gemm = pgemm_q4_0;
    t[TF_TYPE_Q8_0].pack_gemm = pgemm_q8_0;
    t[TF_TYPE_Q4_K].pack_gemm = pgemm_q4_K;
    t[TF_TYPE_Q6_K].pack_gemm = pgemm_q6_K;
    t[TF_TYPE_F16].pack_gemm = pgemm_f16;
}

#if defined(__clang__)
#pragma clang attribute pop
#endif
