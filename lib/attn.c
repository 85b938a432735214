/* attn.c - tiled causal attention: the block schedule, the portable C
 * block (fallback and oracle for the SIMD ones), the run-time choice of
 * implementation, and the former straightforward version (tests).
 * See attn.h for the algorithm and its numerics. */
#include <math.h>
#include <string.h>

#include "attn.h"
#include "kernels.h"

#define BK TF_ATTN_BK
#define RMAX TF_ATTN_RMAX

#if defined(__x86_64__)
void tf_attn_block_avx2(const tf_attn *a, int g, int h0, int nh, int t0, int nt, float *scratch);
void tf_attn_block_avx512(const tf_attn *a, int g, int h0, int nh, int t0, int nt, float *scratch);
#endif

/* Scratch layout (floats; attn_simd.h uses the same): qt [hd][RMAX] (q
 * transposed, rows as columns), acc [RMAX][hdp], m, l, 1/l [RMAX] each,
 * st [NS][RMAX] (scores, then probabilities: every tile's when the block
 * ends before position NS, else one tile's), tile [BK][hdp] (K, then V). */
size_t tf_attn_scratch_floats(int hd)
{
    size_t hdp = (size_t)tf_attn_hdp(hd);
    return tf_attn_align16((size_t)hd * RMAX) + RMAX * hdp + 3 * RMAX + TF_ATTN_NS * RMAX +
           BK * hdp + 16;
}

static float round_f16(float x) { return tf_f16_to_f32(tf_f32_to_f16(x)); }

/* Rows [b0, b0 + nk) of KV head g of cache c -> tile [nk][hdp] floats. */
static void load_tile_ref(const tf_attn *a, const void *c, int g, int32_t b0, int nk, float *tile,
                          int hdp)
{
    for (int j = 0; j < nk; j++) {
        const uint8_t *row = (const uint8_t *)c + (size_t)(b0 + j) * a->row_bytes;
        float *dst = tile + (size_t)j * hdp;
        for (int d = 0; d < a->hd; d++)
            dst[d] = a->f16 ? tf_f16_to_f32(((const uint16_t *)row)[(size_t)g * a->hd + d])
                            : ((const float *)row)[(size_t)g * a->hd + d];
        for (int d = a->hd; d < hdp; d++) dst[d] = 0;
    }
}

/* Scores of one tile for row r: st[j][r] = scale * q_r . k_j, j < nv. */
static void scores_ref(const tf_attn *a, const float *qt, const float *tile, int hdp, int r, int nv,
                       float *st)
{
    for (int j = 0; j < nv; j++) {
        float s = 0;
        for (int d = 0; d < a->hd; d++) s += qt[(size_t)d * RMAX + r] * tile[(size_t)j * hdp + d];
        st[j * RMAX + r] = s * a->scale;
    }
}

/* Pass 1 for row r over nv scores: running maximum and rescaled sum. */
static void stats_ref(const float *st, int r, int nv, float *m, float *l)
{
    float mx = -INFINITY, sum = 0;
    for (int j = 0; j < nv; j++) mx = st[j * RMAX + r] > mx ? st[j * RMAX + r] : mx;
    float mn = m[r] > mx ? m[r] : mx;
    for (int j = 0; j < nv; j++) sum += expf(st[j * RMAX + r] - mn);
    l[r] = l[r] * expf(m[r] - mn) + sum;
    m[r] = mn;
}

/* Pass 2 for row r: acc_r += sum over j < nv of p_j * v_j, with the
 * probabilities p_j = e^(s_j - m) / l (rounded to F16 for an F16 cache). */
static void accumulate_ref(const tf_attn *a, float *st, int r, int nv, float m, float inv,
                           const float *tile, int hdp, float *acc)
{
    for (int j = 0; j < nv; j++) {
        float p = expf(st[j * RMAX + r] - m) * inv;
        if (a->f16) p = round_f16(p);
        for (int d = 0; d < hdp; d++) acc[d] += p * tile[(size_t)j * hdp + d];
    }
}

/* Valid keys of row r (position pos) in the tile [b0, b0 + nk). */
static int n_valid(int32_t pos, int32_t b0, int nk)
{
    int32_t nv = pos + 1 - b0;
    return nv < 0 ? 0 : nv < nk ? (int)nv : nk;
}

static void block_ref(const tf_attn *a, int g, int h0, int nh, int t0, int nt, float *scratch)
{
    int hd = a->hd, hdp = tf_attn_hdp(hd), R = nh * nt;
    float *qt = scratch, *acc = qt + tf_attn_align16((size_t)hd * RMAX);
    float *m = acc + RMAX * hdp, *l = m + RMAX, *inv = l + RMAX;
    float *st = inv + RMAX, *tile = st + TF_ATTN_NS * RMAX;
    for (int r = 0; r < R; r++) {
        const float *q = a->q + (size_t)(t0 + r / nh) * a->q_stride + (size_t)(h0 + r % nh) * hd;
        for (int d = 0; d < hd; d++) qt[(size_t)d * RMAX + r] = a->f16 ? round_f16(q[d]) : q[d];
        for (int d = 0; d < hdp; d++) acc[(size_t)r * hdp + d] = 0;
        m[r] = -INFINITY;
        l[r] = 0;
    }
    int32_t last = a->n_past + t0 + nt - 1, pos0 = a->n_past + t0;
    bool keep = last < TF_ATTN_NS;
    for (int32_t b0 = 0; b0 <= last; b0 += BK) {
        int nk = last + 1 - b0 < BK ? (int)(last + 1 - b0) : BK;
        float *stb = keep ? st + (size_t)b0 * RMAX : st;
        load_tile_ref(a, a->k, g, b0, nk, tile, hdp);
        for (int r = 0; r < R; r++) {
            int nv = n_valid(pos0 + r / nh, b0, nk);
            scores_ref(a, qt, tile, hdp, r, nv, stb);
            if (nv) stats_ref(stb, r, nv, m, l);
        }
    }
    for (int r = 0; r < R; r++) inv[r] = 1.0f / l[r];
    for (int32_t b0 = 0; b0 <= last; b0 += BK) {
        int nk = last + 1 - b0 < BK ? (int)(last + 1 - b0) : BK;
        float *stb = keep ? st + (size_t)b0 * RMAX : st;
        if (!keep) load_tile_ref(a, a->k, g, b0, nk, tile, hdp);
        for (int r = 0; r < R && !keep; r++) scores_ref(a, qt, tile, hdp, r, n_valid(pos0 + r / nh, b0, nk), stb);
        load_tile_ref(a, a->v, g, b0, nk, tile, hdp);
        for (int r = 0; r < R; r++)
            accumulate_ref(a, stb, r, n_valid(pos0 + r / nh, b0, nk), m[r], inv[r], tile, hdp,
                           acc + (size_t)r * hdp);
    }
    for (int r = 0; r < R; r++) {
        float *o = a->out + (size_t)(t0 + r / nh) * a->out_stride + (size_t)(h0 + r % nh) * hd;
        memcpy(o, acc + (size_t)r * hdp, (size_t)hd * sizeof(float));
    }
}

tf_attn_block_fn tf_attn_block_of(const char *level)
{
    if (!strcmp(level, "ref")) return block_ref;
#if defined(__x86_64__)
    if (!tf_kernels_level_of(level, TF_TYPE_F16)) return NULL; /* CPU lacks it */
    if (!strcmp(level, "avx2")) return tf_attn_block_avx2;
    if (!strcmp(level, "avx512")) return tf_attn_block_avx512;
#endif
    return NULL;
}

/* The level the matmul kernels run at (TINFER_KERNELS and the CPU decide). */
const char *tf_attn_level(void)
{
#if defined(__x86_64__)
    const tf_type_kernels *cur = tf_kernels_of(TF_TYPE_F16);
    if (cur && cur == tf_kernels_level_of("avx512", TF_TYPE_F16)) return "avx512";
    if (cur && cur == tf_kernels_level_of("avx2", TF_TYPE_F16)) return "avx2";
#endif
    return "ref";
}

/* Blocks: nh heads of one KV group x bt tokens.  Each row's arithmetic is
 * the same in any block, so the shape only balances the threads: rows
 * share the tiles' loads, and there should be a few blocks per thread. */
void tf_attn_run(const tf_attn *a, float *scratch, int ith, int nth)
{
    tf_attn_block_fn fn = tf_attn_block_of(tf_attn_level());
    if (a->T <= 0 || a->n_head_kv <= 0 || a->n_head < a->n_head_kv) return;
    int G = a->n_head / a->n_head_kv;
    int hs = G < RMAX ? G : RMAX;
    int bt = RMAX / hs < a->T ? RMAX / hs : a->T;
    int64_t nhs, ntb, units;
    for (;;) {
        nhs = (G + hs - 1) / hs;
        ntb = (a->T + bt - 1) / bt;
        units = (int64_t)a->n_head_kv * nhs * ntb;
        if (units >= 2 * (int64_t)nth || (bt == 1 && hs == 1)) break;
        if (bt > 1) bt = (bt + 1) / 2;
        else hs = (hs + 1) / 2;
    }
    /* Round robin: later token blocks see more positions, so contiguous
     * chunks would leave the last thread with the most work. */
    for (int64_t u = ith; u < units; u += nth) {
        int64_t tb = u / ((int64_t)a->n_head_kv * nhs), rest = u % ((int64_t)a->n_head_kv * nhs);
        int g = (int)(rest / nhs), hsub = (int)(rest % nhs);
        int h0 = g * G + hsub * hs, nh = G - hsub * hs < hs ? G - hsub * hs : hs;
        int t0 = (int)(tb * bt), nt = a->T - t0 < bt ? a->T - t0 : bt;
        fn(a, g, h0, nh, t0, nt, scratch);
    }
}

/* ---- the former version (oracle) -------------------------------------- */

static float kv_at(const tf_attn *a, const void *c, int64_t j, int64_t i)
{
    const uint8_t *row = (const uint8_t *)c + (size_t)j * a->row_bytes;
    return a->f16 ? tf_f16_to_f32(((const uint16_t *)row)[i]) : ((const float *)row)[i];
}

void tf_attn_naive(const tf_attn *a, float *scratch, int64_t lo, int64_t hi)
{
    int hd = a->hd, group = a->n_head / a->n_head_kv;
    for (int64_t th = lo; th < hi; th++) {
        int64_t t = th / a->n_head, h = th % a->n_head, kvh = h / group;
        int64_t n_kv = a->n_past + t + 1;
        const float *q = a->q + (size_t)t * a->q_stride + (size_t)h * hd;
        float *out = a->out + (size_t)t * a->out_stride + (size_t)h * hd;
        float *scores = scratch, *qr = scratch + a->n_past + a->T;
        for (int d = 0; d < hd; d++) qr[d] = a->f16 ? round_f16(q[d]) : q[d];
        float mx = -INFINITY;
        for (int64_t j = 0; j < n_kv; j++) {
            float dot = 0;
            for (int d = 0; d < hd; d++) dot += qr[d] * kv_at(a, a->k, j, kvh * hd + d);
            scores[j] = dot * a->scale;
            if (scores[j] > mx) mx = scores[j];
        }
        double sum = 0;
        for (int64_t j = 0; j < n_kv; j++) {
            scores[j] = expf(scores[j] - mx);
            sum += scores[j];
        }
        float inv = (float)(1.0 / sum);
        for (int d = 0; d < hd; d++) out[d] = 0;
        for (int64_t j = 0; j < n_kv; j++) {
            float p = scores[j] * inv;
            if (a->f16) p = round_f16(p);
            for (int d = 0; d < hd; d++) out[d] += p * kv_at(a, a->v, j, kvh * hd + d);
        }
    }
}
