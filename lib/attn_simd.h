/* attn_simd.h - one block of tiled attention (attn.h) written once for a
 * vector width and included by attn_avx2.c and attn_avx512.c, which
 * define the vector macros below.  It follows attn.c's block_ref step by
 * step with the same scratch layout; the query rows are the vector lanes
 * for the scores and the softmax (one lane per row: every row gets the
 * same operations in the same order in any block), the head dimension
 * for the weighted sum of V.
 *
 * Expected: VL (floats per vector), VEC, VZERO(), VSET1(x), VLOAD(p),
 * VSTORE(p, v), VFMA(a, b, c) = a * b + c, VMUL, VADD, VSUB, VMAX,
 * VSEL_LE(x, y, a, b) = x <= y ? a : b per lane, VROUND(x) (to nearest
 * integer), VPOW2I(n) = 2^n for integer-valued n in [-126, 127],
 * VLOADH(p) (VL halves -> floats), VRNDH(x) (round to F16 and back),
 * ATTN_BLOCK (the function's name). */
#include <math.h>
#include <string.h>

#include "attn.h"
#include "kernels.h"

#define BK TF_ATTN_BK
#define RMAX TF_ATTN_RMAX

/* e^x for x <= 0: x = n ln2 + r with |r| <= ln2 / 2 (ln2 split in two
 * parts so n ln2 is exact), e^r by its Taylor series to r^7 (remainder
 * < 6e-9 relative, below float rounding), times 2^n from the exponent
 * bits.  0 below -87 (the scores are relative to the row maximum, so such
 * a term can't change a float sum); e^0 is exactly 1. */
static inline VEC vexp(VEC x)
{
    const VEC lo = VSET1(-87.0f);
    VEC xc = VMAX(x, lo);
    VEC n = VROUND(VMUL(xc, VSET1(1.44269504088896341f)));
    VEC r = VFMA(n, VSET1(-0.693359375f), xc);   /* 355/512: exact products */
    r = VFMA(n, VSET1(2.12194440054690583e-4f), r); /* ln2 - 355/512, negated */
    VEC p = VSET1(1.0f / 5040);
    p = VFMA(p, r, VSET1(1.0f / 720));
    p = VFMA(p, r, VSET1(1.0f / 120));
    p = VFMA(p, r, VSET1(1.0f / 24));
    p = VFMA(p, r, VSET1(1.0f / 6));
    p = VFMA(p, r, VSET1(0.5f));
    p = VFMA(p, r, VSET1(1.0f));
    p = VFMA(p, r, VSET1(1.0f));
    return VSEL_LE(lo, x, VMUL(p, VPOW2I(n)), VZERO());
}

/* Rows [b0, b0 + nk) of KV head g of cache c -> tile [nk][hdp] floats. */
static void load_tile(const tf_attn *a, const void *c, int g, int32_t b0, int nk, float *tile,
                      int hdp)
{
    int hd = a->hd;
    for (int j = 0; j < nk; j++) {
        const uint8_t *row = (const uint8_t *)c + (size_t)(b0 + j) * a->row_bytes;
        float *dst = tile + (size_t)j * hdp;
        int d = 0;
        if (a->f16) {
            const uint16_t *src = (const uint16_t *)row + (size_t)g * hd;
            for (; d + VL <= hd; d += VL) VSTORE(dst + d, VLOADH(src + d));
            for (; d < hd; d++) dst[d] = tf_f16_to_f32(src[d]);
        } else {
            memcpy(dst, (const float *)row + (size_t)g * hd, (size_t)hd * sizeof(float));
            d = hd;
        }
        for (; d < hdp; d++) dst[d] = 0;
    }
}

/* st[j][lanes of vector v] = scale * (q_r . k_j) for j < nk. */
static void scores(const tf_attn *a, const float *qt, const float *tile, int hdp, int v, int nk,
                   float *st)
{
    const VEC scale = VSET1(a->scale);
    const float *qv = qt + v * VL;
    int j = 0;
    for (; j + 4 <= nk; j += 4) {
        const float *k0 = tile + (size_t)j * hdp;
        VEC s0 = VZERO(), s1 = VZERO(), s2 = VZERO(), s3 = VZERO();
        for (int d = 0; d < a->hd; d++) {
            VEC q = VLOAD(qv + (size_t)d * RMAX);
            s0 = VFMA(VSET1(k0[d]), q, s0);
            s1 = VFMA(VSET1(k0[hdp + d]), q, s1);
            s2 = VFMA(VSET1(k0[2 * hdp + d]), q, s2);
            s3 = VFMA(VSET1(k0[3 * hdp + d]), q, s3);
        }
        VSTORE(st + (size_t)j * RMAX + v * VL, VMUL(s0, scale));
        VSTORE(st + (size_t)(j + 1) * RMAX + v * VL, VMUL(s1, scale));
        VSTORE(st + (size_t)(j + 2) * RMAX + v * VL, VMUL(s2, scale));
        VSTORE(st + (size_t)(j + 3) * RMAX + v * VL, VMUL(s3, scale));
    }
    for (; j < nk; j++) {
        const float *k0 = tile + (size_t)j * hdp;
        VEC s0 = VZERO();
        for (int d = 0; d < a->hd; d++) s0 = VFMA(VSET1(k0[d]), VLOAD(qv + (size_t)d * RMAX), s0);
        VSTORE(st + (size_t)j * RMAX + v * VL, VMUL(s0, scale));
    }
}

/* Pass 1, one tile, the rows of vector v: mask positions past a row's
 * own (-inf, in st too), then the running maximum m and the sum l of
 * e^(s - m), rescaled when m grows. */
static void stats_tile(int32_t b0, int nk, const float *posf, int v, float *st, float *m, float *l)
{
    const VEC pos = VLOAD(posf + v * VL), ninf = VSET1(-INFINITY);
    VEC mx = ninf;
    for (int j = 0; j < nk; j++) {
        float *p = st + (size_t)j * RMAX + v * VL;
        VEC s = VSEL_LE(VSET1((float)(b0 + j)), pos, VLOAD(p), ninf);
        VSTORE(p, s);
        mx = VMAX(mx, s);
    }
    VEC mo = VLOAD(m + v * VL), mn = VMAX(mo, mx), sum = VZERO();
    for (int j = 0; j < nk; j++) sum = VADD(sum, vexp(VSUB(VLOAD(st + (size_t)j * RMAX + v * VL), mn)));
    VSTORE(l + v * VL, VADD(VMUL(VLOAD(l + v * VL), vexp(VSUB(mo, mn))), sum));
    VSTORE(m + v * VL, mn);
}

/* Pass 2, one tile: st becomes the probabilities e^(s - m) / l, rounded
 * to F16 for an F16 cache as the reference engine does. */
static void probs_tile(int32_t b0, int nk, const float *posf, int v, bool f16, float *st,
                       const float *m, const float *inv)
{
    const VEC pos = VLOAD(posf + v * VL), ninf = VSET1(-INFINITY);
    const VEC mv = VLOAD(m + v * VL), iv = VLOAD(inv + v * VL);
    for (int j = 0; j < nk; j++) {
        float *p = st + (size_t)j * RMAX + v * VL;
        VEC s = VSEL_LE(VSET1((float)(b0 + j)), pos, VLOAD(p), ninf);
        VEC pr = VMUL(vexp(VSUB(s, mv)), iv);
        VSTORE(p, f16 ? VRNDH(pr) : pr);
    }
}

/* acc_r += sum over j < nv of p_jr * v_j, 4 vectors of the head dimension
 * at a time. */
static void accumulate(const float *tile, int hdp, const float *st, int r, int nv, float *acc)
{
    int d = 0;
    for (; d + 4 * VL <= hdp; d += 4 * VL) {
        VEC a0 = VLOAD(acc + d), a1 = VLOAD(acc + d + VL);
        VEC a2 = VLOAD(acc + d + 2 * VL), a3 = VLOAD(acc + d + 3 * VL);
        for (int j = 0; j < nv; j++) {
            const float *vr = tile + (size_t)j * hdp + d;
            VEC w = VSET1(st[(size_t)j * RMAX + r]);
            a0 = VFMA(w, VLOAD(vr), a0);
            a1 = VFMA(w, VLOAD(vr + VL), a1);
            a2 = VFMA(w, VLOAD(vr + 2 * VL), a2);
            a3 = VFMA(w, VLOAD(vr + 3 * VL), a3);
        }
        VSTORE(acc + d, a0);
        VSTORE(acc + d + VL, a1);
        VSTORE(acc + d + 2 * VL, a2);
        VSTORE(acc + d + 3 * VL, a3);
    }
    for (; d < hdp; d += VL) {
        VEC a0 = VLOAD(acc + d);
        for (int j = 0; j < nv; j++)
            a0 = VFMA(VSET1(st[(size_t)j * RMAX + r]), VLOAD(tile + (size_t)j * hdp + d), a0);
        VSTORE(acc + d, a0);
    }
}

/* Rounded, transposed q of the block's rows; lanes past R get q = 0,
 * position -1 (every key masked) and m = 0, so they stay finite. */
static void load_queries(const tf_attn *a, int h0, int nh, int t0, int nt, int nvec, float *qt,
                         float *acc, int hdp, float *m, float *l, float *posf)
{
    int hd = a->hd, R = nh * nt;
    float tmp[VL];
    for (int r = 0; r < nvec * VL; r++) {
        if (r >= R) {
            for (int d = 0; d < hd; d++) qt[(size_t)d * RMAX + r] = 0;
            posf[r] = -1;
            m[r] = 0;
            l[r] = 1;
            continue;
        }
        const float *q = a->q + (size_t)(t0 + r / nh) * a->q_stride + (size_t)(h0 + r % nh) * hd;
        int d = 0;
        for (; a->f16 && d + VL <= hd; d += VL) {
            VSTORE(tmp, VRNDH(VLOAD(q + d)));
            for (int i = 0; i < VL; i++) qt[(size_t)(d + i) * RMAX + r] = tmp[i];
        }
        for (; d < hd; d++)
            qt[(size_t)d * RMAX + r] = a->f16 ? tf_f16_to_f32(tf_f32_to_f16(q[d])) : q[d];
        memset(acc + (size_t)r * hdp, 0, (size_t)hdp * sizeof(float));
        posf[r] = (float)(a->n_past + t0 + r / nh);
        m[r] = -INFINITY;
        l[r] = 0;
    }
}

void ATTN_BLOCK(const tf_attn *a, int g, int h0, int nh, int t0, int nt, float *scratch)
{
    int hd = a->hd, hdp = tf_attn_hdp(hd), R = nh * nt, nvec = (R + VL - 1) / VL;
    float *qt = scratch, *acc = qt + tf_attn_align16((size_t)hd * RMAX);
    float *m = acc + RMAX * hdp, *l = m + RMAX, *inv = l + RMAX;
    float *st = inv + RMAX, *tile = st + TF_ATTN_NS * RMAX;
    float posf[RMAX];
    load_queries(a, h0, nh, t0, nt, nvec, qt, acc, hdp, m, l, posf);
    int32_t last = a->n_past + t0 + nt - 1; /* the block's last position */
    bool keep = last < TF_ATTN_NS;          /* all scores fit st: no second QK */
    for (int32_t b0 = 0; b0 <= last; b0 += BK) {
        int nk = last + 1 - b0 < BK ? (int)(last + 1 - b0) : BK;
        float *stb = keep ? st + (size_t)b0 * RMAX : st;
        load_tile(a, a->k, g, b0, nk, tile, hdp);
        for (int v = 0; v < nvec; v++) {
            scores(a, qt, tile, hdp, v, nk, stb);
            stats_tile(b0, nk, posf, v, stb, m, l);
        }
    }
    for (int r = 0; r < nvec * VL; r++) inv[r] = 1.0f / l[r];
    for (int32_t b0 = 0; b0 <= last; b0 += BK) {
        int nk = last + 1 - b0 < BK ? (int)(last + 1 - b0) : BK;
        float *stb = keep ? st + (size_t)b0 * RMAX : st;
        if (!keep) load_tile(a, a->k, g, b0, nk, tile, hdp);
        for (int v = 0; v < nvec; v++) {
            if (!keep) scores(a, qt, tile, hdp, v, nk, stb);
            probs_tile(b0, nk, posf, v, a->f16, stb, m, inv);
        }
        load_tile(a, a->v, g, b0, nk, tile, hdp);
        for (int r = 0; r < R; r++) {
            int32_t nv = (int32_t)posf[r] + 1 - b0;
            nv = nv < nk ? nv : nk;
            accumulate(tile, hdp, stb, r, nv > 0 ? nv : 0, acc + (size_t)r * hdp);
        }
    }
    for (int r = 0; r < R; r++) {
        float *o = a->out + (size_t)(t0 + r / nh) * a->out_stride + (size_t)(h0 + r % nh) * hd;
        memcpy(o, acc + (size_t)r * hdp, (size_t)hd * sizeof(float));
    }
}
