/* backend_cpu_moe.c - mixture-of-experts gating and expert FFNs on the CPU.
 *
 * Gating picks each token's top k experts.  Ties (equal probabilities)
 * go to the lower expert index, so routing is deterministic.
 *
 * The expert FFN groups the batch by expert: a counting sort lists, for
 * every expert, the (token, slot) pairs routed to it in token order; then
 * the loops run experts outer, this thread's weight rows middle and the
 * expert's tokens inner.  Each row of a used expert is therefore read from
 * memory once per batch however many tokens chose it, unused experts are
 * never touched, and decoding one token reads exactly its k experts.
 * Every output element is one vec_dot (gate, up) or a sum over the token's
 * experts in expert-index order (down) computed by the one thread that
 * owns its row, so results do not depend on the thread count.
 */
#include <math.h>
#include <string.h>

#include "backend_cpu.h"

_Atomic uint64_t tf_cpu_moe_bytes_read;

void tf_cpu_moe_gate(const tf_node *nd, const float *logits, float *out, int32_t T, int ith,
                     int nth)
{
    int n_exp = nd->ip[0], k = nd->ip[1], gating = nd->ip[2];
    bool norm = nd->ip[3] != 0;
    float scale = nd->fp[0];
    int64_t lo, hi;
    tf_cpu_split(T, ith, nth, &lo, &hi);
    float probs[TF_MAX_EXPERTS];
    for (int64_t t = lo; t < hi; t++) {
        const float *l = logits + t * n_exp;
        if (gating == TF_GATING_SIGMOID) {
            for (int e = 0; e < n_exp; e++) probs[e] = 1.0f / (1.0f + expf(-l[e]));
        } else {
            float mx = -INFINITY;
            for (int e = 0; e < n_exp; e++) mx = l[e] > mx ? l[e] : mx;
            double sum = 0;
            for (int e = 0; e < n_exp; e++) sum += probs[e] = expf(l[e] - mx);
            for (int e = 0; e < n_exp; e++) probs[e] = (float)(probs[e] / sum);
        }
        float *ids = out + t * 2 * k, *w = ids + k;
        float wsum = 0;
        for (int j = 0; j < k; j++) {
            int best = -1;
            for (int e = 0; e < n_exp; e++) {
                bool taken = false;
                for (int p = 0; p < j; p++) taken |= (int)ids[p] == e;
                /* strict '>': on a tie the lower index, seen first, stays */
                if (!taken && (best < 0 || probs[e] > probs[best])) best = e;
            }
            ids[j] = (float)best;
            w[j] = probs[best];
            wsum += w[j];
        }
        /* Sigmoid weights can all be tiny: clamp the divisor (the
         * reference does the same) rather than divide by ~0. */
        if (wsum < 6.103515625e-5f) wsum = 6.103515625e-5f;
        for (int j = 0; j < k; j++) w[j] = (norm ? w[j] / wsum : w[j]) * scale;
    }
}

void tf_cpu_sigmoid_gate(const float *x, const float *gate, float *out, int64_t ne0, int32_t T,
                         int ith, int nth)
{
    int64_t lo, hi;
    tf_cpu_split(ne0 * T, ith, nth, &lo, &hi);
    for (int64_t i = lo; i < hi; i++) out[i] = x[i] / (1.0f + expf(-gate[i / ne0]));
}

static const uint8_t *expert_data(const tf_weight *w, int e)
{
    return (const uint8_t *)w->data + (size_t)e * (size_t)w->ne[1] * w->row_bytes;
}

/* Layout of s->moe_route for n_exp experts: off[n_exp + 1] (expert e's
 * pairs are list[off[e] .. off[e+1]) ), cursor[n_exp], list[T * k] where
 * each entry is t * k + j (token t's j-th choice). */
static void build_routes(const float *gate, int32_t T, int k, int n_exp, int32_t *off)
{
    int32_t *cur = off + n_exp + 1, *list = cur + n_exp;
    memset(off, 0, (size_t)(n_exp + 1) * sizeof *off);
    for (int32_t t = 0; t < T; t++)
        for (int j = 0; j < k; j++) off[(int)gate[t * 2 * k + j] + 1]++;
    for (int e = 0; e < n_exp; e++) {
        off[e + 1] += off[e];
        cur[e] = off[e];
    }
    for (int32_t t = 0; t < T; t++) /* token order within each expert */
        for (int j = 0; j < k; j++) list[cur[(int)gate[t * 2 * k + j]]++] = t * k + j;
}

/* Rows per block: a block of weight rows (about 32 KiB) stays in cache
 * while every token routed to the expert is dotted with it, so weights
 * come from memory once per batch and each activation row is loaded once
 * per block rather than once per row. */
static int64_t block_rows(size_t row_bytes)
{
    int64_t n = (int64_t)(32768 / (row_bytes ? row_bytes : 1));
    return n < 1 ? 1 : n;
}

/* h[(t*k + j) * ff + r] = silu(gate_e[r] . x_t) * (up_e[r] . x_t) for the
 * rows r of this thread, e = token t's j-th expert.  Returns the weight
 * bytes read. */
static uint64_t gate_up(const tf_node *nd, const int32_t *off, int n_exp, int k, const uint8_t *ag,
                        size_t rbg, const uint8_t *au, size_t rbu, float *h, int ith, int nth)
{
    const tf_weight *wg = nd->w, *wu = nd->w2;
    const tf_type_kernels *kg = tf_kernels_of(wg->type), *ku = tf_kernels_of(wu->type);
    tf_swiglu_fn swiglu = tf_kernels_of(TF_TYPE_F32)->swiglu;
    const int32_t *list = off + 2 * n_exp + 1;
    int64_t K = wg->ne[0], ff = wg->ne[1], lo, hi;
    tf_cpu_split(ff, ith, nth, &lo, &hi);
    uint64_t bytes = 0;
    for (int e = 0; e < n_exp; e++) {
        if (off[e] == off[e + 1] || lo >= hi) continue;
        const uint8_t *ge = expert_data(wg, e), *ue = expert_data(wu, e);
        int64_t rblk = block_rows(wg->row_bytes + wu->row_bytes);
        for (int64_t r0 = lo; r0 < hi; r0 += rblk) {
            int64_t r1 = r0 + rblk < hi ? r0 + rblk : hi;
            for (int32_t i = off[e]; i < off[e + 1]; i++) {
                int32_t tj = list[i], t = tj / k;
                const uint8_t *at = ag + (size_t)t * rbg, *bt = au + (size_t)t * rbu;
                for (int64_t r = r0; r < r1; r += 64) {
                    float g[64], u[64];
                    int m = r1 - r < 64 ? (int)(r1 - r) : 64;
                    for (int j = 0; j < m; j++) {
                        g[j] = kg->vec_dot(K, ge + (size_t)(r + j) * wg->row_bytes, at);
                        u[j] = ku->vec_dot(K, ue + (size_t)(r + j) * wu->row_bytes, bt);
                    }
                    swiglu(g, u, h + (int64_t)tj * ff + r, m);
                }
            }
        }
        bytes += (uint64_t)(hi - lo) * (wg->row_bytes + wu->row_bytes);
    }
    return bytes;
}

/* out[t][r] = sum over token t's experts (in expert order) of
 * weight_tj * (down_e[r] . h_tj), for this thread's rows r. */
static uint64_t down(const tf_node *nd, const int32_t *off, int n_exp, int k, const float *gate,
                     const uint8_t *act, size_t rb, int32_t T, float *out, int ith, int nth)
{
    const tf_weight *wd = nd->w3;
    const tf_type_kernels *kd = tf_kernels_of(wd->type);
    const int32_t *list = off + 2 * n_exp + 1;
    int64_t ff = wd->ne[0], n_embd = nd->ne0, lo, hi;
    tf_cpu_split(n_embd, ith, nth, &lo, &hi);
    if (lo >= hi) return 0;
    for (int32_t t = 0; t < T; t++)
        memset(out + t * n_embd + lo, 0, (size_t)(hi - lo) * sizeof *out);
    uint64_t bytes = 0;
    for (int e = 0; e < n_exp; e++) {
        if (off[e] == off[e + 1]) continue;
        const uint8_t *de = expert_data(wd, e);
        int64_t rblk = block_rows(wd->row_bytes);
        for (int64_t r0 = lo; r0 < hi; r0 += rblk) {
            int64_t r1 = r0 + rblk < hi ? r0 + rblk : hi;
            for (int32_t i = off[e]; i < off[e + 1]; i++) {
                int32_t tj = list[i], t = tj / k, j = tj % k;
                float wgt = gate[(int64_t)t * 2 * k + k + j];
                const uint8_t *at = act + (size_t)tj * rb;
                float *o = out + t * n_embd;
                for (int64_t r = r0; r < r1; r++)
                    o[r] += wgt * kd->vec_dot(ff, de + (size_t)r * wd->row_bytes, at);
            }
        }
        bytes += (uint64_t)(hi - lo) * wd->row_bytes;
    }
    return bytes;
}

/* Activations x (row length K) in the formats the gate and up weights pair
 * with; both come from one quantization when they share it. */
static void prepare_gate_up(cpu_state *s, const tf_node *nd, const float *x, int32_t T,
                            const uint8_t **ag, size_t *rbg, const uint8_t **au, size_t *rbu,
                            int ith, int nth)
{
    int64_t K = nd->w->ne[0];
    uint32_t vg = tf_kernels_of(nd->w->type)->vec_dot_type;
    uint32_t vu = tf_kernels_of(nd->w2->type)->vec_dot_type;
    *rbg = tf_row_size(vg, K);
    *rbu = tf_row_size(vu, K);
    *ag = *au = (const uint8_t *)x;
    if (vg != TF_TYPE_F32) {
        tf_cpu_quantize_rows(x, K, T, vg, s->qbuf, ith, nth);
        *ag = s->qbuf;
    }
    if (vu == vg) {
        *au = *ag;
    } else if (vu != TF_TYPE_F32) {
        uint8_t *second = s->qbuf + tf_cpu_align64(*rbg * (size_t)T);
        tf_cpu_quantize_rows(x, K, T, vu, second, ith, nth);
        *au = second;
    }
}

void tf_cpu_moe_ffn(cpu_state *s, const tf_node *nd, const float *x, const float *gate, float *out,
                    int32_t T, int ith, int nth)
{
    int k = s->c->m->hp.n_expert_used, n_exp = (int)nd->w->ne[2];
    int64_t ff = nd->w->ne[1];
    float *h = s->moe_buf;
    if (ith == 0) build_routes(gate, T, k, n_exp, s->moe_route);
    const uint8_t *ag, *au;
    size_t rbg, rbu, rb;
    prepare_gate_up(s, nd, x, T, &ag, &rbg, &au, &rbu, ith, nth);
    tf_pool_barrier(s->pool); /* routes and activations are ready */
    uint64_t bytes = gate_up(nd, s->moe_route, n_exp, k, ag, rbg, au, rbu, h, ith, nth);
    tf_pool_barrier(s->pool); /* h complete; qbuf free for reuse */
    const uint8_t *act = tf_cpu_prepare_act(s, h, ff, T * k, nd->w3->type, &rb, ith, nth);
    bytes += down(nd, s->moe_route, n_exp, k, gate, act, rb, T, out, ith, nth);
    atomic_fetch_add_explicit(&tf_cpu_moe_bytes_read, bytes, memory_order_relaxed);
}

void tf_cpu_moe_needs(const tf_graph *g, const tf_node *nd, int k, size_t *qbytes,
                      size_t *moe_floats, size_t *route_ints)
{
    size_t n = (size_t)g->n_max, ff = (size_t)nd->w->ne[1], K = (size_t)nd->w->ne[0];
    uint32_t vg = tf_kernels_of(nd->w->type)->vec_dot_type;
    uint32_t vu = tf_kernels_of(nd->w2->type)->vec_dot_type;
    uint32_t vd = tf_kernels_of(nd->w3->type)->vec_dot_type;
    size_t a = tf_cpu_align64(tf_row_size(vg, (int64_t)K) * n) + tf_row_size(vu, (int64_t)K) * n;
    size_t b = tf_row_size(vd, (int64_t)ff) * n * (size_t)k;
    size_t q = a > b ? a : b, f = ff * (size_t)k * n;
    size_t r = 2 * (size_t)nd->w->ne[2] + 1 + n * (size_t)k;
    if (q > *qbytes) *qbytes = q;
    if (f > *moe_floats) *moe_floats = f;
    if (r > *route_ints) *route_ints = r;
}
