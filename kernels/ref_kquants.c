/* ref_kquants.c - portable kernels of the K-quant super-block formats
 * (Q2_K, Q3_K, Q4_K, Q5_K, Q6_K weights; Q8_K activations).
 *
 * Each format gets an unpacker (block -> signed/unsigned integer quants in
 * element order plus integer sub-block scales) and a packer that is its
 * exact inverse; dequantization and the dots share the unpacker, so a
 * layout mistake cannot hide in one path only.  Element orders (fixed by
 * the format), for element e of a 256-element block:
 *   Q2_K/Q3_K: 2-bit field (e%128)/32 of qs[32*(e/128) + e%32];
 *              Q3_K's third bit is bit e/32 of hmask[e%32].
 *   Q4_K/Q5_K: nibble (e%64)/32 of qs[32*(e/64) + e%32];
 *              Q5_K's fifth bit is bit e/32 of qh[e%32].
 *   Q6_K:      nibble (e%128)/64 of ql[64*(e/128) + e%64],
 *              2-bit field (e%128)/32 of qh[32*(e/128) + e%32].
 *
 * Quantizers: a valid but simpler search than the reference engine's
 * (which weights errors and tunes its step grids per format).  Each
 * sub-block gets the least-squares scale (and min) that is best over a
 * small grid of candidate scales, sub-block scales are rounded onto the
 * super-block grid, and every element is then re-quantized against the
 * scale it will really be multiplied by.  Files we write are therefore
 * correct and close to, but not byte-identical with, the reference's.
 */
#include <math.h>
#include "ref.h"

#define NSUB16 (TF_QK_K / 16)
#define NSUB32 (TF_QK_K / 32)

static inline int clampi(int v, int lo, int hi) { return v < lo ? lo : v > hi ? hi : v; }

/* ---- sub-block fitting (shared by the quantizers) --------------------- */

/* Squared error of x ~ s*L + b with each L the best level in [0, nmax]. */
static float asym_err(const float *x, int n, int nmax, float s, float b)
{
    float err = 0;
    for (int i = 0; i < n; i++) {
        int l = s > 0 ? clampi(tf_nearest_int((x[i] - b) / s), 0, nmax) : 0;
        float e = s * l + b - x[i];
        err += e * e;
    }
    return err;
}

/* x ~ s*L - m, L in [0, nmax], m >= 0 (formats that subtract a min).
 * Tries the levels that stretching [min, max] onto nmax-1 .. nmax+1 steps
 * produces and keeps the least-squares (s, m) with the smallest error. */
static float fit_asym(const float *x, int n, int nmax, float *m_out)
{
    float mn = x[0], mx = x[0];
    for (int i = 1; i < n; i++) {
        mn = x[i] < mn ? x[i] : mn;
        mx = x[i] > mx ? x[i] : mx;
    }
    if (mn > 0) /* the min is subtracted, never added */
        mn = 0;
    if (mx <= mn) {
        *m_out = -mn;
        return 0;
    }
    float best_s = (mx - mn) / nmax, best_b = mn;
    float best = asym_err(x, n, nmax, best_s, best_b);
    for (int k = 0; k <= 20; k++) {
        float is = (nmax - 1 + 0.1f * k) / (mx - mn);
        float sl = 0, sl2 = 0, sx = 0, slx = 0;
        for (int i = 0; i < n; i++) {
            float l = (float)clampi(tf_nearest_int(is * (x[i] - mn)), 0, nmax);
            sl += l; sl2 += l * l; sx += x[i]; slx += l * x[i];
        }
        float den = n * sl2 - sl * sl;
        if (den <= 0)
            continue;
        float s = (n * slx - sl * sx) / den, b = (sl2 * sx - sl * slx) / den;
        if (b > 0) { /* constrained optimum: the min pinned at 0 */
            b = 0;
            s = slx / sl2;
        }
        if (s <= 0)
            continue;
        float err = asym_err(x, n, nmax, s, b);
        if (err < best) {
            best = err;
            best_s = s;
            best_b = b;
        }
    }
    *m_out = -best_b;
    return best_s;
}

/* Squared error of x ~ s*L, L the best level in [-nmax, nmax-1]. */
static float sym_err(const float *x, int n, int nmax, float s)
{
    float err = 0;
    for (int i = 0; i < n; i++) {
        int l = s != 0 ? clampi(tf_nearest_int(x[i] / s), -nmax, nmax - 1) : 0;
        float e = s * l - x[i];
        err += e * e;
    }
    return err;
}

/* x ~ s*L, L in [-nmax, nmax-1]: signed scale, the value of largest
 * magnitude lands near -nmax (the wider side of the range). */
static float fit_sym(const float *x, int n, int nmax)
{
    float amax = 0, max = 0;
    for (int i = 0; i < n; i++) {
        if (fabsf(x[i]) > amax) {
            amax = fabsf(x[i]);
            max = x[i];
        }
    }
    if (amax < 1e-15f)
        return 0;
    float best_s = -max / nmax, best = sym_err(x, n, nmax, best_s);
    for (int k = -9; k <= 9; k++) {
        float is = -(nmax + 0.1f * k) / max, slx = 0, sl2 = 0;
        for (int i = 0; i < n; i++) {
            float l = (float)clampi(tf_nearest_int(is * x[i]), -nmax, nmax - 1);
            slx += l * x[i];
            sl2 += l * l;
        }
        if (sl2 <= 0)
            continue;
        float s = slx / sl2, err = sym_err(x, n, nmax, s);
        if (err < best) {
            best = err;
            best_s = s;
        }
    }
    return best_s;
}

/* Rounds non-negative sub-block values onto 0..qmax steps of a super-block
 * scale; returns that scale (as float; the caller stores it as f16 and
 * must re-read it for the requantization). */
static float quant_scales_u(const float *v, int n, int qmax, int *q)
{
    float max = 0;
    for (int j = 0; j < n; j++)
        max = v[j] > max ? v[j] : max;
    float d = max / qmax, id = d > 0 ? 1 / d : 0;
    for (int j = 0; j < n; j++)
        q[j] = clampi(tf_nearest_int(id * v[j]), 0, qmax);
    return d;
}

/* Signed sub-block scales onto [lo, hi] steps; the one of largest
 * magnitude maps to lo. */
static float quant_scales_s(const float *v, int n, int lo, int hi, int *q)
{
    float amax = 0, max = 0;
    for (int j = 0; j < n; j++) {
        if (fabsf(v[j]) > amax) {
            amax = fabsf(v[j]);
            max = v[j];
        }
    }
    float d = amax > 0 ? max / lo : 0, id = d != 0 ? 1 / d : 0;
    for (int j = 0; j < n; j++)
        q[j] = clampi(tf_nearest_int(id * v[j]), lo, hi);
    return d;
}

/* Element quants of an offset format, against the scales actually stored. */
static void requant_asym(const float *x, int n, int nmax, float d, float m, int *L)
{
    for (int i = 0; i < n; i++)
        L[i] = d > 0 ? clampi(tf_nearest_int((x[i] + m) / d), 0, nmax) : 0;
}

static void requant_sym(const float *x, int n, int nmax, float d, int *L)
{
    for (int i = 0; i < n; i++)
        L[i] = d != 0 ? clampi(tf_nearest_int(x[i] / d), -nmax, nmax - 1) : 0;
}

/* ---- Q2_K: x = d*sc*q - dmin*m, q in 0..3, 4-bit sc and m per 16 ------ */

static void unpack_q2_K(const tf_block_q2_K *b, int8_t q[TF_QK_K])
{
    for (int g = 0; g < 2; g++) /* e = 128g + 32k + l */
        for (int k = 0; k < 4; k++)
            for (int l = 0; l < 32; l++)
                q[128 * g + 32 * k + l] = (int8_t)((b->qs[32 * g + l] >> (2 * k)) & 3);
}

void tf_ref_to_float_q2_K(const void *src, float *dst, int64_t n)
{
    const tf_block_q2_K *b = src;
    int8_t q[TF_QK_K];
    for (int64_t i = 0; i < n / TF_QK_K; i++, dst += TF_QK_K) {
        float d = tf_h2f(b[i].d), dmin = tf_h2f(b[i].dmin);
        unpack_q2_K(&b[i], q);
        for (int e = 0; e < TF_QK_K; e++) {
            int s = b[i].scales[e / 16];
            dst[e] = d * (s & 0xf) * q[e] - dmin * (s >> 4);
        }
    }
}

void tf_ref_from_float_q2_K(const float *src, void *dst, int64_t n)
{
    tf_block_q2_K *b = dst;
    float sc[NSUB16], mn[NSUB16];
    int qs[NSUB16], qm[NSUB16], L[TF_QK_K];
    for (int64_t i = 0; i < n / TF_QK_K; i++, src += TF_QK_K) {
        for (int j = 0; j < NSUB16; j++)
            sc[j] = fit_asym(src + 16 * j, 16, 3, &mn[j]);
        b[i].d = tf_f2h(quant_scales_u(sc, NSUB16, 15, qs));
        b[i].dmin = tf_f2h(quant_scales_u(mn, NSUB16, 15, qm));
        float d = tf_h2f(b[i].d), dmin = tf_h2f(b[i].dmin);
        for (int j = 0; j < NSUB16; j++) {
            b[i].scales[j] = (uint8_t)(qs[j] | qm[j] << 4);
            requant_asym(src + 16 * j, 16, 3, d * qs[j], dmin * qm[j], L + 16 * j);
        }
        memset(b[i].qs, 0, sizeof b[i].qs);
        for (int e = 0; e < TF_QK_K; e++)
            b[i].qs[32 * (e / 128) + e % 32] |= (uint8_t)(L[e] << (2 * ((e % 128) / 32)));
    }
}

float tf_ref_vec_dot_q2_K(int64_t n, const void *w, const void *a)
{
    const tf_block_q2_K *x = w;
    const tf_block_q8_K *y = a;
    int8_t q[TF_QK_K];
    float sum = 0;
    for (int64_t i = 0; i < n / TF_QK_K; i++) {
        unpack_q2_K(&x[i], q);
        int isum = 0, msum = 0;
        for (int j = 0; j < NSUB16; j++) {
            int s = 0;
            for (int l = 0; l < 16; l++)
                s += q[16 * j + l] * y[i].qs[16 * j + l];
            isum += (x[i].scales[j] & 0xf) * s;
            msum += (x[i].scales[j] >> 4) * y[i].bsums[j];
        }
        sum += y[i].d * tf_h2f(x[i].d) * (float)isum -
               y[i].d * tf_h2f(x[i].dmin) * (float)msum;
    }
    return sum;
}

/* ---- Q3_K: x = d*sc*q, q in -4..3, signed 6-bit sc per 16 ------------- */

/* 16 six-bit scales: low nibbles in bytes 0..7 (two per byte, scale j and
 * j+8), top 2 bits in bytes 8..11 (byte 8 + j%4, field j/4). */
static void unpack_q3_K(const tf_block_q3_K *b, int8_t q[TF_QK_K], int sc[NSUB16])
{
    for (int j = 0; j < NSUB16; j++) {
        int lo = (b->scales[j % 8] >> (4 * (j / 8))) & 0xf;
        int hi = (b->scales[8 + j % 4] >> (2 * (j / 4))) & 3;
        sc[j] = (lo | hi << 4) - 32;
    }
    for (int g = 0; g < 2; g++)
        for (int k = 0; k < 4; k++)
            for (int l = 0; l < 32; l++) {
                int low = (b->qs[32 * g + l] >> (2 * k)) & 3;
                int high = (b->hmask[l] >> (4 * g + k)) & 1;
                q[128 * g + 32 * k + l] = (int8_t)(low - 4 + 4 * high);
            }
}

void tf_ref_to_float_q3_K(const void *src, float *dst, int64_t n)
{
    const tf_block_q3_K *b = src;
    int8_t q[TF_QK_K];
    int sc[NSUB16];
    for (int64_t i = 0; i < n / TF_QK_K; i++, dst += TF_QK_K) {
        float d = tf_h2f(b[i].d);
        unpack_q3_K(&b[i], q, sc);
        for (int e = 0; e < TF_QK_K; e++)
            dst[e] = d * sc[e / 16] * q[e];
    }
}

void tf_ref_from_float_q3_K(const float *src, void *dst, int64_t n)
{
    tf_block_q3_K *b = dst;
    float sc[NSUB16];
    int qs[NSUB16], L[TF_QK_K];
    for (int64_t i = 0; i < n / TF_QK_K; i++, src += TF_QK_K) {
        for (int j = 0; j < NSUB16; j++)
            sc[j] = fit_sym(src + 16 * j, 16, 4);
        b[i].d = tf_f2h(quant_scales_s(sc, NSUB16, -32, 31, qs));
        float d = tf_h2f(b[i].d);
        memset(b[i].scales, 0, sizeof b[i].scales);
        for (int j = 0; j < NSUB16; j++) {
            int v = qs[j] + 32;
            b[i].scales[j % 8] |= (uint8_t)((v & 0xf) << (4 * (j / 8)));
            b[i].scales[8 + j % 4] |= (uint8_t)((v >> 4) << (2 * (j / 4)));
            requant_sym(src + 16 * j, 16, 4, d * qs[j], L + 16 * j);
        }
        memset(b[i].qs, 0, sizeof b[i].qs);
        memset(b[i].hmask, 0, sizeof b[i].hmask);
        for (int e = 0; e < TF_QK_K; e++) {
            int v = L[e] + 4; /* 0..7: bit 2 set means "no -4" */
            b[i].qs[32 * (e / 128) + e % 32] |= (uint8_t)((v & 3) << (2 * ((e % 128) / 32)));
            b[i].hmask[e % 32] |= (uint8_t)((v >> 2) << (e / 32));
        }
    }
}

float tf_ref_vec_dot_q3_K(int64_t n, const void *w, const void *a)
{
    const tf_block_q3_K *x = w;
    const tf_block_q8_K *y = a;
    int8_t q[TF_QK_K];
    int sc[NSUB16];
    float sum = 0;
    for (int64_t i = 0; i < n / TF_QK_K; i++) {
        unpack_q3_K(&x[i], q, sc);
        int isum = 0;
        for (int j = 0; j < NSUB16; j++) {
            int s = 0;
            for (int l = 0; l < 16; l++)
                s += q[16 * j + l] * y[i].qs[16 * j + l];
            isum += sc[j] * s;
        }
        sum += tf_h2f(x[i].d) * y[i].d * (float)isum;
    }
    return sum;
}

/* ---- Q4_K / Q5_K: x = d*sc*q - dmin*m, 6-bit sc and m per 32 ---------- */

/* 8 scales + 8 mins in 12 bytes: pairs 0..3 whole in bytes 0..3 (scale)
 * and 4..7 (min); pairs 4..7 keep their low nibbles in bytes 8..11 and
 * their top 2 bits in the free top bits of bytes 0..7. */
static void unpack_scales_k4(const uint8_t s[12], int sc[NSUB32], int m[NSUB32])
{
    for (int j = 0; j < NSUB32; j++) {
        if (j < 4) {
            sc[j] = s[j] & 63;
            m[j] = s[j + 4] & 63;
        } else {
            sc[j] = (s[j + 4] & 0xf) | (s[j - 4] >> 6) << 4;
            m[j] = (s[j + 4] >> 4) | (s[j] >> 6) << 4;
        }
    }
}

static void pack_scales_k4(const int sc[NSUB32], const int m[NSUB32], uint8_t s[12])
{
    memset(s, 0, 12);
    for (int j = 0; j < NSUB32; j++) {
        if (j < 4) {
            s[j] |= (uint8_t)sc[j];
            s[j + 4] |= (uint8_t)m[j];
        } else {
            s[j + 4] = (uint8_t)((sc[j] & 0xf) | (m[j] & 0xf) << 4);
            s[j - 4] |= (uint8_t)((sc[j] >> 4) << 6);
            s[j] |= (uint8_t)((m[j] >> 4) << 6);
        }
    }
}

/* qh == NULL: Q4_K (no fifth bit). */
static void unpack_q45_K(const uint8_t *qs, const uint8_t *qh, int8_t q[TF_QK_K])
{
    for (int g = 0; g < 4; g++) /* e = 64g + 32h + l */
        for (int h = 0; h < 2; h++)
            for (int l = 0; l < 32; l++)
                q[64 * g + 32 * h + l] = (int8_t)((qs[32 * g + l] >> (4 * h)) & 0xf);
    if (qh) /* bit 2g + h of qh[l] */
        for (int j = 0; j < 8; j++)
            for (int l = 0; l < 32; l++)
                q[32 * j + l] = (int8_t)(q[32 * j + l] | ((qh[l] >> j) & 1) << 4);
}

/* Shared quantizer body; nmax 15 (Q4_K) or 31 (Q5_K, qh != NULL). */
static void quant_q45_K(const float *x, int nmax, uint16_t *dd, uint16_t *dm,
                        uint8_t scales[12], uint8_t *qs, uint8_t *qh)
{
    float sc[NSUB32], mn[NSUB32];
    int qsc[NSUB32], qmn[NSUB32], L[TF_QK_K];
    for (int j = 0; j < NSUB32; j++)
        sc[j] = fit_asym(x + 32 * j, 32, nmax, &mn[j]);
    *dd = tf_f2h(quant_scales_u(sc, NSUB32, 63, qsc));
    *dm = tf_f2h(quant_scales_u(mn, NSUB32, 63, qmn));
    pack_scales_k4(qsc, qmn, scales);
    float d = tf_h2f(*dd), dmin = tf_h2f(*dm);
    for (int j = 0; j < NSUB32; j++)
        requant_asym(x + 32 * j, 32, nmax, d * qsc[j], dmin * qmn[j], L + 32 * j);
    memset(qs, 0, TF_QK_K / 2);
    if (qh)
        memset(qh, 0, TF_QK_K / 8);
    for (int e = 0; e < TF_QK_K; e++) {
        qs[32 * (e / 64) + e % 32] |= (uint8_t)((L[e] & 0xf) << (4 * ((e % 64) / 32)));
        if (qh)
            qh[e % 32] |= (uint8_t)((L[e] >> 4) << (e / 32));
    }
}

static void to_float_q45_K(uint16_t dd, uint16_t dm, const uint8_t s[12],
                           const int8_t q[TF_QK_K], float *dst)
{
    int sc[NSUB32], m[NSUB32];
    unpack_scales_k4(s, sc, m);
    float d = tf_h2f(dd), dmin = tf_h2f(dm);
    for (int e = 0; e < TF_QK_K; e++)
        dst[e] = d * sc[e / 32] * q[e] - dmin * m[e / 32];
}

/* One super-block's dot: integer sums per sub-block, the mins applied
 * through the activation's 16-element partial sums. */
static float dot_q45_K(uint16_t dd, uint16_t dm, const uint8_t s[12],
                       const int8_t q[TF_QK_K], const tf_block_q8_K *y)
{
    int sc[NSUB32], m[NSUB32], isum = 0, msum = 0;
    unpack_scales_k4(s, sc, m);
    for (int j = 0; j < NSUB32; j++) {
        int t = 0;
        for (int l = 0; l < 32; l++)
            t += q[32 * j + l] * y->qs[32 * j + l];
        isum += sc[j] * t;
        msum += m[j] * (y->bsums[2 * j] + y->bsums[2 * j + 1]);
    }
    return y->d * tf_h2f(dd) * (float)isum - y->d * tf_h2f(dm) * (float)msum;
}

void tf_ref_to_float_q4_K(const void *src, float *dst, int64_t n)
{
    const tf_block_q4_K *b = src;
    int8_t q[TF_QK_K];
    for (int64_t i = 0; i < n / TF_QK_K; i++, dst += TF_QK_K) {
        unpack_q45_K(b[i].qs, NULL, q);
        to_float_q45_K(b[i].d, b[i].dmin, b[i].scales, q, dst);
    }
}

void tf_ref_from_float_q4_K(const float *src, void *dst, int64_t n)
{
    tf_block_q4_K *b = dst;
    for (int64_t i = 0; i < n / TF_QK_K; i++, src += TF_QK_K)
        quant_q45_K(src, 15, &b[i].d, &b[i].dmin, b[i].scales, b[i].qs, NULL);
}

float tf_ref_vec_dot_q4_K(int64_t n, const void *w, const void *a)
{
    const tf_block_q4_K *x = w;
    const tf_block_q8_K *y = a;
    int8_t q[TF_QK_K];
    float sum = 0;
    for (int64_t i = 0; i < n / TF_QK_K; i++) {
        unpack_q45_K(x[i].qs, NULL, q);
        sum += dot_q45_K(x[i].d, x[i].dmin, x[i].scales, q, &y[i]);
    }
    return sum;
}

void tf_ref_to_float_q5_K(const void *src, float *dst, int64_t n)
{
    const tf_block_q5_K *b = src;
    int8_t q[TF_QK_K];
    for (int64_t i = 0; i < n / TF_QK_K; i++, dst += TF_QK_K) {
        unpack_q45_K(b[i].qs, b[i].qh, q);
        to_float_q45_K(b[i].d, b[i].dmin, b[i].scales, q, dst);
    }
}

void tf_ref_from_float_q5_K(const float *src, void *dst, int64_t n)
{
    tf_block_q5_K *b = dst;
    for (int64_t i = 0; i < n / TF_QK_K; i++, src += TF_QK_K)
        quant_q45_K(src, 31, &b[i].d, &b[i].dmin, b[i].scales, b[i].qs, b[i].qh);
}

float tf_ref_vec_dot_q5_K(int64_t n, const void *w, const void *a)
{
    const tf_block_q5_K *x = w;
    const tf_block_q8_K *y = a;
    int8_t q[TF_QK_K];
    float sum = 0;
    for (int64_t i = 0; i < n / TF_QK_K; i++) {
        unpack_q45_K(x[i].qs, x[i].qh, q);
        sum += dot_q45_K(x[i].d, x[i].dmin, x[i].scales, q, &y[i]);
    }
    return sum;
}

/* ---- Q6_K: x = d*sc*q, q in -32..31, int8 sc per 16 ------------------- */

static void unpack_q6_K(const tf_block_q6_K *b, int8_t q[TF_QK_K])
{
    for (int g = 0; g < 2; g++) /* e = 128g + 32k + l */
        for (int k = 0; k < 4; k++)
            for (int l = 0; l < 32; l++) {
                int lo = (b->ql[64 * g + 32 * (k & 1) + l] >> (4 * (k >> 1))) & 0xf;
                int hi = (b->qh[32 * g + l] >> (2 * k)) & 3;
                q[128 * g + 32 * k + l] = (int8_t)((lo | hi << 4) - 32);
            }
}

void tf_ref_to_float_q6_K(const void *src, float *dst, int64_t n)
{
    const tf_block_q6_K *b = src;
    int8_t q[TF_QK_K];
    for (int64_t i = 0; i < n / TF_QK_K; i++, dst += TF_QK_K) {
        float d = tf_h2f(b[i].d);
        unpack_q6_K(&b[i], q);
        for (int e = 0; e < TF_QK_K; e++)
            dst[e] = d * b[i].scales[e / 16] * q[e];
    }
}

void tf_ref_from_float_q6_K(const float *src, void *dst, int64_t n)
{
    tf_block_q6_K *b = dst;
    float sc[NSUB16];
    int qs[NSUB16], L[TF_QK_K];
    for (int64_t i = 0; i < n / TF_QK_K; i++, src += TF_QK_K) {
        for (int j = 0; j < NSUB16; j++)
            sc[j] = fit_sym(src + 16 * j, 16, 32);
        b[i].d = tf_f2h(quant_scales_s(sc, NSUB16, -128, 127, qs));
        float d = tf_h2f(b[i].d);
        for (int j = 0; j < NSUB16; j++) {
            b[i].scales[j] = (int8_t)qs[j];
            requant_sym(src + 16 * j, 16, 32, d * qs[j], L + 16 * j);
        }
        memset(b[i].ql, 0, sizeof b[i].ql);
        memset(b[i].qh, 0, sizeof b[i].qh);
        for (int e = 0; e < TF_QK_K; e++) {
            int v = L[e] + 32;
            b[i].ql[64 * (e / 128) + e % 64] |= (uint8_t)((v & 0xf) << (4 * ((e % 128) / 64)));
            b[i].qh[32 * (e / 128) + e % 32] |= (uint8_t)((v >> 4) << (2 * ((e % 128) / 32)));
        }
    }
}

float tf_ref_vec_dot_q6_K(int64_t n, const void *w, const void *a)
{
    const tf_block_q6_K *x = w;
    const tf_block_q8_K *y = a;
    int8_t q[TF_QK_K];
    float sum = 0;
    for (int64_t i = 0; i < n / TF_QK_K; i++) {
        unpack_q6_K(&x[i], q);
        int isum = 0;
        for (int j = 0; j < NSUB16; j++) {
            int s = 0;
            for (int l = 0; l < 16; l++)
                s += q[16 * j + l] * y[i].qs[16 * j + l];
            isum += x[i].scales[j] * s;
        }
        sum += tf_h2f(x[i].d) * y[i].d * (float)isum;
    }
    return sum;
}

/* ---- Q8_K: x = d*q; the value of largest magnitude maps to -127 ------- */

void tf_ref_to_float_q8_K(const void *src, float *dst, int64_t n)
{
    const tf_block_q8_K *b = src;
    for (int64_t i = 0; i < n / TF_QK_K; i++, dst += TF_QK_K)
        for (int e = 0; e < TF_QK_K; e++)
            dst[e] = b[i].d * b[i].qs[e];
}

void tf_ref_from_float_q8_K(const float *src, void *dst, int64_t n)
{
    tf_block_q8_K *b = dst;
    for (int64_t i = 0; i < n / TF_QK_K; i++, src += TF_QK_K) {
        float amax = 0, max = 0;
        for (int e = 0; e < TF_QK_K; e++) {
            if (fabsf(src[e]) > amax) {
                amax = fabsf(src[e]);
                max = src[e];
            }
        }
        if (amax == 0) {
            memset(&b[i], 0, sizeof b[i]);
            continue;
        }
        /* Signed scale (not amax/127) so the extreme lands on -127 exactly
         * whatever its sign, as the reference engine's rule has it. */
        float iscale = -127.f / max;
        for (int e = 0; e < TF_QK_K; e++) {
            int v = tf_nearest_int(iscale * src[e]);
            b[i].qs[e] = (int8_t)(v > 127 ? 127 : v);
        }
        for (int j = 0; j < NSUB16; j++) {
            int s = 0;
            for (int l = 0; l < 16; l++)
                s += b[i].qs[16 * j + l];
            b[i].bsums[j] = (int16_t)s;
        }
        b[i].d = 1 / iscale;
    }
}
