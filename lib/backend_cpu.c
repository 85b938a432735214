/* backend_cpu.c - runs a planned graph on the CPU.
 *
 * All threads of the pool walk the node list together; each operation is
 * split so that every output element is computed by exactly one thread in
 * a fixed order, which makes results identical for any thread count.
 * Threads meet at a barrier after each phase.  Matrix products go through
 * the kernel table (kernels/): activations are quantized once per matmul
 * to the weight type's vec_dot_type, then every weight row is dotted with
 * every live token row.
 */
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "attn.h"
#include "blas.h"
#include "backend_cpu.h"

#define MAX_THREADS 256

float *tf_cpu_node_out(cpu_state *s, int i)
{
    return (float *)((char *)s->arena + s->c->graph.nodes[i].offset);
}

/* Rows this node processes: nodes after LAST_ROW see only the wanted rows. */
static int32_t rows_of(cpu_state *s, int i)
{
    return i >= s->c->graph.tail_from ? s->run->n_out : s->run->n_tokens;
}

void tf_cpu_split(int64_t n, int ith, int nth, int64_t *lo, int64_t *hi)
{
    int64_t per = (n + nth - 1) / nth;
    *lo = per * ith < n ? per * ith : n;
    *hi = *lo + per < n ? *lo + per : n;
}

/* ---- elementwise and row ops ---------------------------------------- */

static void op_embed(cpu_state *s, const tf_node *nd, float *out, int32_t T, int ith, int nth)
{
    const tf_type_kernels *k = tf_kernels_of(nd->w->type);
    int64_t lo, hi;
    tf_cpu_split(T, ith, nth, &lo, &hi);
    for (int64_t t = lo; t < hi; t++) {
        const uint8_t *row = (const uint8_t *)nd->w->data + (size_t)s->run->tokens[t] * nd->w->row_bytes;
        k->to_float(row, out + t * nd->ne0, nd->ne0);
    }
}

static void rms_norm_row(const tf_node *nd, const float *x, float *out)
{
    const float *w = nd->w->data;
    int64_t n = nd->ne0, i = 0;
    /* Eight partial sums: one chain of dependent double adds was the
     * norm's whole cost; the order is fixed, so results stay the same on
     * every thread count. */
    double p[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    for (; i + 8 <= n; i += 8)
        for (int k = 0; k < 8; k++) p[k] += (double)x[i + k] * x[i + k];
    for (; i < n; i++) p[i % 8] += (double)x[i] * x[i];
    double ss = ((p[0] + p[1]) + (p[2] + p[3])) + ((p[4] + p[5]) + (p[6] + p[7]));
    float scale = 1.0f / sqrtf((float)(ss / n) + nd->fp[0]);
    for (int64_t i = 0; i < n; i++) out[i] = x[i] * scale * w[i];
}

static void op_rms_norm(const tf_node *nd, const float *x, float *out, int32_t T, int ith, int nth)
{
    int64_t lo, hi;
    tf_cpu_split(T, ith, nth, &lo, &hi);
    for (int64_t t = lo; t < hi; t++) rms_norm_row(nd, x + t * nd->ne0, out + t * nd->ne0);
}

static void op_add(const float *a, const float *b, float *out, int64_t n, int ith, int nth)
{
    int64_t lo, hi;
    tf_cpu_split(n, ith, nth, &lo, &hi);
    for (int64_t i = lo; i < hi; i++) out[i] = a[i] + b[i];
}

static void op_swiglu(const float *g, const float *u, float *out, int64_t n, int ith, int nth)
{
    int64_t lo, hi;
    tf_cpu_split(n, ith, nth, &lo, &hi);
    if (hi > lo)
        tf_kernels_of(TF_TYPE_F32)->swiglu(g + lo, u + lo, out + lo, hi - lo);
}

/* YaRN ramp between the correction dims (1 inside low, 0 beyond high). */
static float yarn_ramp(float low, float high, int i0)
{
    float y = (i0 / 2 - low) / fmaxf(0.001f, high - low);
    return 1.0f - fminf(1.0f, fmaxf(0.0f, y));
}

static float yarn_corr_dim(int n_dims, int n_ctx_orig, float n_rot, float base)
{
    return n_dims * logf(n_ctx_orig / (n_rot * 2 * (float)M_PI)) / (2 * logf(base));
}

static void op_rope(cpu_state *s, const tf_node *nd, const float *x, float *out, int32_t T,
                    int ith, int nth)
{
    const tf_hparams *hp = &s->c->m->hp;
    int mode = nd->ip[0], hd = nd->ip[1], nh = nd->ip[2], n_rot = nd->ip[3];
    float theta_scale = powf(hp->rope_base, -2.0f / n_rot);
    float freq_scale = hp->rope_freq_scale, ext = 0.0f, mscale = 1.0f;
    float corr[2] = {0, 0};
    if (hp->rope_scaling == TF_ROPE_SCALING_YARN) {
        ext = hp->yarn_ext_factor;
        mscale = hp->yarn_attn_factor;
        corr[0] = fmaxf(0, floorf(yarn_corr_dim(n_rot, hp->yarn_orig_ctx, hp->yarn_beta_fast, hp->rope_base)));
        corr[1] = fminf(n_rot - 1, ceilf(yarn_corr_dim(n_rot, hp->yarn_orig_ctx, hp->yarn_beta_slow, hp->rope_base)));
    }
    /* cos and sin of each pair's angle at the token's position, computed
     * once per token for all its heads (this thread's scratch). */
    float *cs = s->scratch + (size_t)ith * s->scratch_stride;
    int64_t lo, hi, cs_t = -1;
    tf_cpu_split((int64_t)T * nh, ith, nth, &lo, &hi);
    for (int64_t th = lo; th < hi; th++) {
        int64_t t = th / nh, h = th % nh;
        const float *src = x + t * nd->ne0 + h * hd;
        float *dst = out + t * nd->ne0 + h * hd;
        if (t != cs_t) {
            float theta = (float)(s->run->n_past + t);
            for (int i0 = 0; i0 < n_rot; i0 += 2) {
                float interp = freq_scale * theta, th_used = interp, ms = mscale;
                if (ext != 0.0f) {
                    float mix = yarn_ramp(corr[0], corr[1], i0) * ext;
                    th_used = interp * (1 - mix) + theta * mix;
                    ms *= 1.0f + 0.1f * logf(1.0f / freq_scale);
                }
                cs[i0] = cosf(th_used) * ms;
                cs[i0 + 1] = sinf(th_used) * ms;
                theta *= theta_scale;
            }
            cs_t = t;
        }
        for (int i0 = 0; i0 < n_rot; i0 += 2) {
            float c = cs[i0], sn = cs[i0 + 1];
            int a = mode == TF_ROPE_NEOX ? i0 / 2 : i0;
            int b = mode == TF_ROPE_NEOX ? i0 / 2 + n_rot / 2 : i0 + 1;
            float x0 = src[a], x1 = src[b];
            dst[a] = x0 * c - x1 * sn;
            dst[b] = x0 * sn + x1 * c;
        }
        for (int i = n_rot; i < hd; i++) dst[i] = src[i];
    }
}

/* ---- matrix products -------------------------------------------------- */

/* Quantize rows [0, n_rows) of x (row length k) into buf as type vdt. */
void tf_cpu_quantize_rows(const float *x, int64_t k, int64_t n_rows, uint32_t vdt, uint8_t *buf,
                          int ith, int nth)
{
    const tf_type_kernels *qk = tf_kernels_of(vdt);
    size_t rb = tf_row_size(vdt, k);
    int64_t lo, hi;
    tf_cpu_split(n_rows, ith, nth, &lo, &hi);
    for (int64_t r = lo; r < hi; r++) qk->from_float(x + r * k, buf + r * rb, k);
}

/* out[t][r] += bias[r] for rows r in [r0, r1), tokens t in [0, T). */
static void add_bias(float *out, int64_t out_stride, const float *bias, int32_t T, int64_t r0,
                     int64_t r1)
{
    for (int32_t t = 0; t < T; t++)
        for (int64_t r = r0; r < r1; r++) out[t * out_stride + r] += bias[r];
}

/* out[t][r] = w[r] . act[t] for rows r in [r0, r1), tokens t in [0, T). */
void tf_cpu_dot_rows(const tf_weight *w, const uint8_t *wdata, const void *act, size_t act_rb,
                     int64_t r0, int64_t r1, int32_t T, float *out, int64_t out_stride,
                     const float *bias)
{
    const tf_type_kernels *k = tf_kernels_of(w->type);
    int64_t K = w->ne[0];
    if (k->gemm && r1 > r0) {
        /* Tiled: each weight block is loaded once per tile of tokens.  The
         * kernel computes every element exactly as vec_dot would, so the
         * bytes do not depend on how rows are split between threads. */
        k->gemm(K, wdata + (size_t)r0 * w->row_bytes, w->row_bytes, (int)(r1 - r0), act, act_rb,
                T, out + r0, (size_t)out_stride);
        if (bias)
            add_bias(out, out_stride, bias, T, r0, r1);
        return;
    }
    for (int64_t r = r0; r < r1; r++) {
        const uint8_t *wr = wdata + (size_t)r * w->row_bytes;
        float b = bias ? bias[r] : 0.0f;
        for (int32_t t = 0; t < T; t++)
            out[t * out_stride + r] = k->vec_dot(K, wr, (const uint8_t *)act + t * act_rb) + b;
    }
}

const void *tf_cpu_prepare_act(cpu_state *s, const float *x, int64_t K, int32_t T, uint32_t wtype,
                               size_t *rb, int ith, int nth)
{
    uint32_t vdt = tf_kernels_of(wtype)->vec_dot_type;
    *rb = tf_row_size(vdt, K);
    if (vdt == TF_TYPE_F32) return x;
    tf_cpu_quantize_rows(x, K, T, vdt, s->qbuf, ith, nth);
    tf_pool_barrier(s->pool);
    return s->qbuf;
}

/* Whether w is computed from its packed copy (kernels.h, "Packed weights"). */
static bool use_packed(const tf_weight *w)
{
    return w->packed && tf_kernels_of(w->type)->pack_gemm;
}

static bool is_float_type(uint32_t t)
{
    return t == TF_TYPE_F32 || t == TF_TYPE_F16 || t == TF_TYPE_BF16;
}

/* Whether w's product of T tokens goes to OpenBLAS (blas.h). */
static bool use_blas(const cpu_state *s, const tf_weight *w, int32_t T)
{
    return s->blas_buf && T >= s->blas_min && is_float_type(w->type);
}

/* The activation format w's product of T tokens reads: OpenBLAS the F32
 * rows as they are (-2), the packed products their own (-1: the type's
 * vec_dot_type with terms of its block sums, kernels/pack.h), everything
 * else the type's vec_dot_type.  Matmuls of one input in different
 * formats quantize it once per format. */
static int act_kind(const cpu_state *s, const tf_weight *w, int32_t T)
{
    if (use_blas(s, w, T))
        return -2;
    if (use_packed(w))
        return -1 - (int)w->type; /* the format differs per type */
    return (int)tf_kernels_of(w->type)->vec_dot_type;
}

/* Few enough tokens that every thread quantizes them all for itself. */
static bool private_rows(int32_t T, int nth)
{
    return T < nth && T <= TF_CPU_PRIV_MAX;
}

/* x's T rows in activation format kind (act_kind) at buf: this thread's
 * share of the rows, or all of them (priv).  Returns the rows to read (x
 * itself for F32 and OpenBLAS) and their stride in *rb. */
static const void *convert_act(int kind, uint32_t wtype, const float *x, int64_t K, int32_t T,
                               uint8_t *buf, size_t *rb, bool priv, int ith, int nth)
{
    *rb = (size_t)K * sizeof(float);
    if (kind == -2 || kind == TF_TYPE_F32)
        return x;
    int64_t lo = 0, hi = T;
    if (!priv)
        tf_cpu_split(T, ith, nth, &lo, &hi);
    if (kind < -2) {
        *rb = tf_pack_act_row_size(wtype, K);
        for (int64_t t = lo; t < hi; t++)
            tf_pack_act_from_float(wtype, x + t * K, buf + t * *rb, K);
    } else {
        *rb = tf_row_size((uint32_t)kind, K);
        tf_cpu_quantize_rows(x, K, T, (uint32_t)kind, buf, priv ? 0 : ith, priv ? 1 : nth);
    }
    return buf;
}

/* OpenBLAS: rows [lo, hi) of a float matrix, converted to F32
 * TF_BLAS_ROWS at a time into the thread's buffer (F32 rows are read in
 * place), times the F32 activations x. */
static void blas_rows(cpu_state *s, const tf_node *nd, const float *x, float *out, int32_t T,
                      int64_t lo, int64_t hi, int ith)
{
    const tf_weight *w = nd->w;
    int64_t K = w->ne[0];
    float *buf = s->blas_buf + (size_t)ith * TF_BLAS_ROWS * (size_t)s->blas_k;
    const tf_type_kernels *k = tf_kernels_of(w->type);
    for (int64_t r = lo; r < hi; r += TF_BLAS_ROWS) {
        int n = (int)(hi - r < TF_BLAS_ROWS ? hi - r : TF_BLAS_ROWS);
        const uint8_t *rows = (const uint8_t *)w->data + (size_t)r * w->row_bytes;
        const float *b = (const float *)rows;
        if (w->type != TF_TYPE_F32) {
            k->to_float(rows, buf, (int64_t)n * K);
            b = buf;
        }
        tf_blas_sgemm_nt(T, n, (int)K, x, (int)K, b, (int)K, out + r, (int)nd->ne0);
    }
}

/* Rows [lo, hi) of nd's product (whole 16-row groups of a packed matrix),
 * every token. */
static void matmul_rows(cpu_state *s, const tf_node *nd, const void *act, size_t rb, float *out,
                        int32_t T, int64_t lo, int64_t hi, int ith)
{
    const tf_weight *w = nd->w;
    if (use_packed(w)) /* quantized types only: never BLAS */
        tf_kernels_of(w->type)->pack_gemm(w->ne[0], w->packed + (size_t)lo * w->row_bytes,
                                          (int)((hi - lo) / TF_PACK_ROWS), act, rb, T, out + lo,
                                          (size_t)nd->ne0);
    else if (use_blas(s, w, T))
        blas_rows(s, nd, act, out, T, lo, hi, ith);
    else
        tf_cpu_dot_rows(w, w->data, act, rb, lo, hi, T, out, nd->ne0, NULL);
    if (nd->w2)
        add_bias(out, nd->ne0, nd->w2->data, T, lo, hi);
}

/* Rows [lo, hi) of every token of node j (a step's ADD or SWIGLU). */
static void after_rows(cpu_state *s, int j, int32_t T, int64_t lo, int64_t hi)
{
    const tf_node *nd = &s->c->graph.nodes[j];
    const float *a = tf_cpu_node_out(s, nd->src[0]), *b = tf_cpu_node_out(s, nd->src[1]);
    float *out = tf_cpu_node_out(s, j);
    for (int32_t t = 0; t < T && hi > lo; t++) {
        size_t o = (size_t)t * (size_t)nd->ne0;
        if (nd->op == TF_OP_ADD)
            for (int64_t r = lo; r < hi; r++) out[o + r] = a[o + r] + b[o + r];
        else
            tf_kernels_of(TF_TYPE_F32)->swiglu(a + o + lo, b + o + lo, out + o + lo, hi - lo);
    }
}

/* ---- a matmul step's rows, shared out in units of 16 -------------------
 * Units are 16 rows of the step's matrices one after the other, or, when
 * a SWIGLU follows gate and up, 16 rows of both at once.  Each thread
 * owns a contiguous run of units and takes chunks from its front; a
 * thread whose run is done takes chunks from the back of the others'
 * runs.  A thread slowed by anything (another process, a busy core, a
 * slower core) no longer holds the step up, and results do not change:
 * each row is computed by one kernel call whatever the chunk (kernels.h). */

#define UNIT_ROWS 16
#define CHUNK_BYTES (64u << 10) /* weights per claim: cheap next to an atomic */

typedef struct step_work {
    const cpu_step *st;
    const tf_node *nd;       /* the step's first matmul */
    const void *act[TF_CPU_MAX_FUSED];
    size_t rb[TF_CPU_MAX_FUSED];
    int64_t units[TF_CPU_MAX_FUSED];
    int64_t total, chunk;
    int32_t T;
    bool pair;               /* units cover gate and up rows together */
} step_work;

static void do_units(cpu_state *s, const step_work *w, int64_t u0, int64_t u1, int ith)
{
    int first = (int)(w->nd - s->c->graph.nodes);
    int64_t base = 0;
    for (int k = 0; k < w->st->n; k++) {
        int64_t a = w->pair ? u0 : u0 - base, b = w->pair ? u1 : u1 - base;
        if (!w->pair)
            base += w->units[k];
        a = a < 0 ? 0 : a;
        b = b > w->units[k] ? w->units[k] : b;
        if (a >= b)
            continue;
        int64_t lo = a * UNIT_ROWS, hi = b * UNIT_ROWS < w->nd[k].ne0 ? b * UNIT_ROWS : w->nd[k].ne0;
        matmul_rows(s, &w->nd[k], w->act[k], w->rb[k], tf_cpu_node_out(s, first + k), w->T, lo, hi,
                    ith);
        if (w->st->after >= 0 && (!w->pair || k == 1)) /* gate and up rows both done */
            after_rows(s, w->st->after, w->T, lo, hi);
    }
}

/* A run of units packed as (front, end) in one atomic word. */
#define RUN(f, e) ((uint64_t)(uint32_t)(e) << 32 | (uint32_t)(f))

/* Up to n units from the front (own run) or the back (another's) of run r:
 * [*u0, *u1); false when it is empty. */
static bool claim(_Atomic uint64_t *r, int64_t n, bool back, int64_t *u0, int64_t *u1)
{
    uint64_t v = atomic_load_explicit(r, memory_order_acquire), nv;
    int64_t f, e, c;
    do {
        f = (int64_t)(uint32_t)v;
        e = (int64_t)(v >> 32);
        if (f >= e)
            return false;
        c = e - f < n ? e - f : n;
        nv = back ? RUN(f, e - c) : RUN(f + c, e);
    } while (!atomic_compare_exchange_weak_explicit(r, &v, nv, memory_order_acq_rel,
                                                    memory_order_acquire));
    *u0 = back ? e - c : f;
    *u1 = back ? e : f + c;
    return true;
}

static void share_units(cpu_state *s, const step_work *w, bool steal, int ith, int nth)
{
    int64_t lo, hi, u0, u1;
    tf_cpu_split(w->total, ith, nth, &lo, &hi);
    if (!steal) {
        do_units(s, w, lo, hi, ith);
        return;
    }
    /* Runs left by the previous step are empty, so a thread that looks
     * before the owner has stored this step's run finds nothing to take. */
    _Atomic uint64_t *mine = &s->runs[ith].r;
    atomic_store_explicit(mine, RUN(lo, hi), memory_order_release);
    /* Most of the run in one call (one unbroken stream for the prefetchers),
     * the last few chunks one at a time, open to the others. */
    int64_t first = hi - lo - 4 * w->chunk;
    if (first > 0 && claim(mine, first, false, &u0, &u1))
        do_units(s, w, u0, u1, ith);
    while (claim(mine, w->chunk, false, &u0, &u1))
        do_units(s, w, u0, u1, ith);
    for (int j = 1; j < nth; j++)
        while (claim(&s->runs[(ith + j) % nth].r, w->chunk, true, &u0, &u1))
            do_units(s, w, u0, u1, ith);
}

/* The step from matmul node first (cpu_step): its folded norm, the input
 * in each format its matmuls read (once per format), then every row of
 * every matmul and the node after them, shared as above. */
static void op_matmuls(cpu_state *s, int first, int32_t T, int ith, int nth)
{
    const tf_graph *g = &s->c->graph;
    const cpu_step *st = &s->steps[first];
    step_work w = {.st = st, .nd = &g->nodes[first], .T = T};
    bool priv = private_rows(T, nth), blas = false, converted = false;
    const float *x = tf_cpu_node_out(s, w.nd->src[0]);
    if (priv && st->norm >= 0) {
        const tf_node *nn = &g->nodes[st->norm];
        const float *src = tf_cpu_node_out(s, nn->src[0]);
        float *xf = s->priv_f + (size_t)ith * s->priv_f_stride;
        for (int32_t t = 0; t < T; t++) rms_norm_row(nn, src + t * nn->ne0, xf + t * nn->ne0);
        x = xf;
    }
    uint8_t *buf = priv ? s->priv_q + (size_t)ith * s->priv_q_stride : s->qbuf;
    int kinds[TF_CPU_MAX_FUSED];
    for (int k = 0; k < st->n; k++) {
        const tf_weight *wk = w.nd[k].w;
        kinds[k] = act_kind(s, wk, T);
        blas |= kinds[k] == -2;
        int same = 0;
        while (same < k && kinds[same] != kinds[k])
            same++;
        if (same < k) {
            w.act[k] = w.act[same];
            w.rb[k] = w.rb[same];
        } else {
            w.act[k] = convert_act(kinds[k], wk->type, x, wk->ne[0], T, buf, &w.rb[k], priv, ith, nth);
            if (w.act[k] == buf) {
                buf += tf_cpu_align64(w.rb[k] * (size_t)T);
                converted = true;
            }
        }
        w.units[k] = (w.nd[k].ne0 + UNIT_ROWS - 1) / UNIT_ROWS;
    }
    if (converted && !priv)
        tf_pool_barrier(s->pool);
    w.pair = st->after >= 0 && g->nodes[st->after].op == TF_OP_SWIGLU;
    w.total = w.pair ? w.units[0] : 0;
    for (int k = 0; k < st->n && !w.pair; k++)
        w.total += w.units[k];
    size_t unit_bytes = w.nd->w->row_bytes * UNIT_ROWS * (w.pair ? 2 : 1);
    w.chunk = unit_bytes >= CHUNK_BYTES ? 1 : (int64_t)(CHUNK_BYTES / unit_bytes);
    /* OpenBLAS keeps fixed shares: its rounding may follow the block shape */
    share_units(s, &w, nth > 1 && !blas, ith, nth);
}

/* How many matmuls from node i on read node i's input with outputs apart
 * from it and from each other (Q, K and V; gate and up): run as one step,
 * they quantize the input once and meet at one barrier instead of three. */
static int fused_len(const tf_graph *g, int i)
{
    const tf_node *a = &g->nodes[i];
    if (a->op != TF_OP_MATMUL)
        return 1;
    size_t rows = (size_t)g->n_max * sizeof(float);
    int n = 1;
    for (; i + n < g->n && n < TF_CPU_MAX_FUSED; n++) {
        const tf_node *b = &g->nodes[i + n];
        if (b->op != TF_OP_MATMUL || b->src[0] != a->src[0] || b->w->ne[0] != a->w->ne[0] ||
            (i + n >= g->tail_from) != (i >= g->tail_from)) /* same live rows */
            break;
        /* b's output must not overlap the input or an earlier output */
        bool apart = true;
        for (int k = -1; k < n && apart; k++) {
            const tf_node *o = k < 0 ? &g->nodes[a->src[0]] : &g->nodes[i + k];
            size_t o0 = o->offset, o1 = o0 + (size_t)o->ne0 * rows;
            size_t b0 = b->offset, b1 = b0 + (size_t)b->ne0 * rows;
            apart = b1 <= o0 || o1 <= b0;
        }
        if (!apart)
            break;
    }
    return n;
}

/* Whether nodes a and b's arena bytes overlap. */
static bool overlap(const tf_graph *g, int a, int b)
{
    size_t a0 = g->nodes[a].offset, a1 = a0 + tf_node_bytes(g, a);
    size_t b0 = g->nodes[b].offset, b1 = b0 + tf_node_bytes(g, b);
    return a0 < b1 && b0 < a1;
}

static bool same_rows(const tf_graph *g, int a, int b)
{
    return (a >= g->tail_from) == (b >= g->tail_from);
}

/* Whether the matmuls i .. i+n-1 split their rows between threads alike. */
static bool same_split(const tf_graph *g, int i, int n)
{
    for (int k = 1; k < n; k++)
        if (g->nodes[i + k].ne0 != g->nodes[i].ne0 ||
            use_packed(g->nodes[i + k].w) != use_packed(g->nodes[i].w))
            return false;
    return true;
}

/* The node after the matmuls i .. i+n-1 if the step can compute it row by
 * row: a residual ADD of the one matmul, or the SWIGLU of gate and up,
 * writing apart from everything a slower thread may still read or write
 * in the step (the planner keeps the matmuls' input live for this). */
static int foldable_after(const tf_graph *g, int i, int n)
{
    int j = i + n;
    if (j >= g->n || !same_rows(g, i, j))
        return -1;
    const tf_node *a = &g->nodes[j];
    int other = -1;
    if (a->op == TF_OP_ADD && n == 1 && (a->src[0] == i) != (a->src[1] == i))
        other = a->src[0] == i ? a->src[1] : a->src[0];
    else if (!(a->op == TF_OP_SWIGLU && n == 2 && a->src[0] + a->src[1] == 2 * i + 1 &&
               (a->src[0] == i || a->src[1] == i) && same_split(g, i, n)))
        return -1;
    if (a->ne0 != g->nodes[i].ne0 || overlap(g, j, g->nodes[i].src[0]) || (other >= 0 && overlap(g, j, other)))
        return -1;
    for (int k = 0; k < n; k++)
        if (overlap(g, j, i + k))
            return -1;
    return j;
}

/* The RMS_NORM node right before the matmuls i .. i+n-1 if only they (and
 * nothing after the graph) read it and no output of the step lands on its
 * input, which private steps read while other threads write. */
static int foldable_norm(const tf_graph *g, int i, int n, int after)
{
    int j = i - 1;
    if (j < 0 || g->nodes[j].op != TF_OP_RMS_NORM || g->nodes[i].src[0] != j || !same_rows(g, i, j) ||
        g->out == j)
        return -1;
    for (int k = 0; k < g->n; k++)
        for (int c = 0; c < 3; c++)
            if (g->nodes[k].src[c] == j && (k < i || k >= i + n))
                return -1;
    int x = g->nodes[j].src[0];
    for (int k = 0; k < n; k++)
        if (overlap(g, x, i + k))
            return -1;
    return after >= 0 && overlap(g, x, after) ? -1 : j;
}

/* Every step of the node loop (cpu_step), once the weights are packed
 * (packing decides how a matmul splits its rows). */
static void plan_steps(cpu_state *s, const tf_graph *g)
{
    for (int i = 0; i < g->n; i++)
        s->steps[i] = (cpu_step){.n = 1, .norm = -1, .after = -1};
    for (int i = 0; i < g->n;) {
        if (g->nodes[i].op != TF_OP_MATMUL) {
            i++;
            continue;
        }
        cpu_step *st = &s->steps[i];
        st->n = fused_len(g, i);
        st->after = foldable_after(g, i, st->n);
        st->norm = foldable_norm(g, i, st->n, st->after);
        if (st->norm >= 0)
            s->steps[st->norm].folded = true;
        i += st->n + (st->after >= 0);
    }
}


/* ---- attention ------------------------------------------------------- */

/* K and V rows of the batch into layer nd->il's cache at their positions
 * (F16: the kernel table's row conversion, round to nearest even). */
static void store_kv(cpu_state *s, const tf_node *nd, const float *k, const float *v, int32_t T,
                     int ith, int nth)
{
    const tf_hparams *hp = &s->c->m->hp;
    const tf_type_kernels *h = tf_kernels_of(TF_TYPE_F16);
    int64_t n = (int64_t)hp->n_head_kv * hp->head_dim, lo, hi;
    tf_cpu_split(T, ith, nth, &lo, &hi);
    for (int64_t t = lo; t < hi; t++) {
        size_t row = (size_t)(s->run->n_past + t);
        uint8_t *kd = (uint8_t *)s->k_cache[nd->il] + row * s->kv_row_bytes;
        uint8_t *vd = (uint8_t *)s->v_cache[nd->il] + row * s->kv_row_bytes;
        if (s->kv_f16) {
            h->from_float(k + t * n, kd, n);
            h->from_float(v + t * n, vd, n);
        } else {
            memcpy(kd, k + t * n, (size_t)n * sizeof(float));
            memcpy(vd, v + t * n, (size_t)n * sizeof(float));
        }
    }
}

/* Store the batch's K and V, then tiled attention (attn.c) over the cache. */
static void op_attn(cpu_state *s, const tf_node *nd, float *out, int32_t T, int ith, int nth)
{
    const tf_hparams *hp = &s->c->m->hp;
    store_kv(s, nd, tf_cpu_node_out(s, nd->src[1]), tf_cpu_node_out(s, nd->src[2]), T, ith, nth);
    tf_pool_barrier(s->pool);
    tf_attn a = {
        .q = tf_cpu_node_out(s, nd->src[0]), .q_stride = (size_t)nd->ne0,
        .k = s->k_cache[nd->il], .v = s->v_cache[nd->il], .row_bytes = s->kv_row_bytes,
        .f16 = s->kv_f16, .hd = hp->head_dim, .n_head = hp->n_head, .n_head_kv = hp->n_head_kv,
        .n_past = s->run->n_past, .T = T, .scale = 1.0f / sqrtf((float)hp->head_dim),
        .out = out, .out_stride = (size_t)nd->ne0,
    };
    tf_attn_run(&a, s->scratch + (size_t)ith * s->scratch_stride, ith, nth);
}

/* ---- the node loop --------------------------------------------------- */

static void run_node(cpu_state *s, int i, int ith, int nth)
{
    const tf_node *nd = &s->c->graph.nodes[i];
    float *out = tf_cpu_node_out(s, i);
    int32_t T = rows_of(s, i);
    const float *a = nd->src[0] >= 0 ? tf_cpu_node_out(s, nd->src[0]) : NULL;
    const float *b = nd->src[1] >= 0 ? tf_cpu_node_out(s, nd->src[1]) : NULL;
    switch (nd->op) {
    case TF_OP_EMBED: op_embed(s, nd, out, T, ith, nth); break;
    case TF_OP_RMS_NORM: op_rms_norm(nd, a, out, T, ith, nth); break;
    case TF_OP_MATMUL: break; /* run_graph: op_matmuls */
    case TF_OP_ADD: op_add(a, b, out, nd->ne0 * T, ith, nth); break;
    case TF_OP_ROPE: op_rope(s, nd, a, out, T, ith, nth); break;
    case TF_OP_ATTN: op_attn(s, nd, out, T, ith, nth); break;
    case TF_OP_SWIGLU: op_swiglu(a, b, out, nd->ne0 * T, ith, nth); break;
    case TF_OP_LAST_ROW:
        if (ith == 0) {
            int32_t from = s->run->n_tokens - s->run->n_out;
            memmove(out, a + (int64_t)from * nd->ne0, (size_t)(nd->ne0 * s->run->n_out) * sizeof(float));
        }
        break;
    case TF_OP_MOE_GATE: tf_cpu_moe_gate(nd, a, out, T, ith, nth); break;
    case TF_OP_MOE_FFN: tf_cpu_moe_ffn(s, nd, a, b, out, T, ith, nth); break;
    case TF_OP_SIGMOID_GATE: tf_cpu_sigmoid_gate(a, b, out, nd->ne0, T, ith, nth); break;
    }
}

static void run_graph(void *arg, int ith, int nth)
{
    cpu_state *s = arg;
    const tf_graph *g = &s->c->graph;
    for (int i = 0; i < g->n;) {
        const cpu_step *st = &s->steps[i];
        int32_t T = rows_of(s, i);
        if (st->folded && private_rows(T, nth)) {
            i++; /* the next step's threads each compute it */
            continue;
        }
        if (g->nodes[i].op == TF_OP_MATMUL) {
            op_matmuls(s, i, T, ith, nth);
            i += st->n + (st->after >= 0);
        } else {
            run_node(s, i, ith, nth);
            i++;
        }
        tf_pool_barrier(s->pool);
    }
}

static tf_status cpu_compute(tf_context *c, const tf_run *r)
{
    cpu_state *s = c->be_state;
    s->c = c;
    s->run = r;
    tf_pool_run(s->pool, run_graph, s);
    const tf_graph *g = &c->graph;
    memcpy(r->logits, tf_cpu_node_out(s, g->out),
           (size_t)r->n_out * (size_t)g->nodes[g->out].ne0 * sizeof(float));
    return TF_OK;
}

/* Bytes of a row of K-wide activations in the largest format w's products
 * may read. */
static size_t act_row_max(const tf_weight *w)
{
    size_t row = tf_row_size(tf_kernels_of(w->type)->vec_dot_type, w->ne[0]);
    if (tf_pack_supported(w->type) && tf_pack_act_row_size(w->type, w->ne[0]) > row)
        row = tf_pack_act_row_size(w->type, w->ne[0]);
    return row;
}

/* Bytes of quantized activations (one slot per matmul of a step, T rows
 * each) and MoE rows the graph can need. */
static void scratch_needs(const tf_context *c, int32_t T, size_t *qbytes, size_t *moe_floats,
                          size_t *route_ints)
{
    const tf_graph *g = &c->graph;
    *qbytes = 0;
    *moe_floats = 0;
    *route_ints = 0;
    for (int i = 0; i < g->n; i++) {
        const tf_node *nd = &g->nodes[i];
        size_t need = 0;
        if (nd->op == TF_OP_MATMUL) {
            int n = fused_len(g, i);
            for (int k = 0; k < n; k++)
                need += tf_cpu_align64(act_row_max(nd[k].w) * (size_t)T);
            i += n - 1;
        } else if (nd->op == TF_OP_MOE_FFN && T == g->n_max) {
            tf_cpu_moe_needs(g, nd, c->m->hp.n_expert_used, qbytes, moe_floats, route_ints);
        }
        if (need > *qbytes) *qbytes = need;
    }
}

static void cpu_free(tf_context *c)
{
    cpu_state *s = c->be_state;
    if (!s) return;
    tf_pool_free(s->pool);
    /* Either table may be missing after a failed init. */
    for (int il = 0; il < c->m->hp.n_layer; il++) {
        if (s->k_cache) free(s->k_cache[il]);
        if (s->v_cache) free(s->v_cache[il]);
    }
    free(s->k_cache);
    free(s->v_cache);
    free(s->arena);
    free(s->qbuf);
    free(s->moe_buf);
    free(s->moe_route);
    free(s->scratch);
    free(s->steps);
    free(s->priv_f);
    free(s->priv_q);
    free(s->runs_mem);
    free(s->blas_buf);
    free(s);
    c->be_state = NULL;
}

/* Zero everything a prompt passes through: the KV cache, the activation
 * arena, quantized activations, MoE rows and routes, attention scores. */
static void cpu_clear(tf_context *c)
{
    cpu_state *s = c->be_state;
    if (!s) return;
    size_t bytes = s->kv_row_bytes * c->n_ctx;
    for (int il = 0; s->k_cache && s->v_cache && il < c->m->hp.n_layer; il++) {
        tf_secure_zero(s->k_cache[il], bytes);
        tf_secure_zero(s->v_cache[il], bytes);
    }
    size_t qbytes, moe_floats, route_ints;
    scratch_needs(c, c->graph.n_max, &qbytes, &moe_floats, &route_ints);
    tf_secure_zero(s->arena, c->graph.arena_bytes ? c->graph.arena_bytes : 64);
    tf_secure_zero(s->qbuf, qbytes ? qbytes : 64);
    tf_secure_zero(s->moe_buf, (moe_floats ? moe_floats : 16) * sizeof(float));
    tf_secure_zero(s->moe_route, (route_ints ? route_ints : 16) * sizeof(int32_t));
    if (s->pool) {
        size_t nt = (size_t)tf_pool_size(s->pool);
        tf_secure_zero(s->scratch, s->scratch_stride * nt * sizeof(float));
        tf_secure_zero(s->priv_f, s->priv_f_stride * nt * sizeof(float));
        tf_secure_zero(s->priv_q, s->priv_q_stride * nt);
    }
}

/* ---- packing ----------------------------------------------------------- */

/* One lock for every model: packing happens once per model, at its first
 * CPU context, and a second context must wait for the copies, not race. */
static pthread_mutex_t g_pack_lock = PTHREAD_MUTEX_INITIALIZER;

#define HUGE_PAGE ((size_t)2 << 20)

static bool packable(const tf_weight *w)
{
    const tf_type_kernels *k = tf_kernels_of(w->type);
    return k && k->pack_gemm && tf_pack_supported(w->type) && w->ne[1] % TF_PACK_ROWS == 0 &&
           w->ne[2] == 1 && w->ne[3] == 1;
}

typedef struct {
    tf_weight **w;
    int n;
} pack_job;

/* Threads take whole groups of whole weights in turn (disjoint bytes). */
static void pack_worker(void *arg, int ith, int nth)
{
    pack_job *j = arg;
    for (int i = 0; i < j->n; i++) {
        tf_weight *w = j->w[i];
        size_t gbytes = w->row_bytes * TF_PACK_ROWS;
        int64_t lo, hi;
        tf_cpu_split(w->ne[1] / TF_PACK_ROWS, ith, nth, &lo, &hi);
        for (int64_t g = lo; g < hi; g++)
            tf_pack_rows(w->type, (const uint8_t *)w->data + g * gbytes, w->row_bytes, w->ne[0],
                         (uint8_t *)w->packed + g * gbytes);
    }
}

/* Packed copies of the graph's matmul weights the selected kernels compute
 * packed (TINFER_PACK=0: none).  A copy that cannot be allocated is simply
 * not made: that matrix keeps the row-by-row kernels. */
static void pack_weights(tf_context *c, tf_pool *pool)
{
    const char *env = getenv("TINFER_PACK");
    if (env && strcmp(env, "0") == 0)
        return;
    const tf_graph *g = &c->graph;
    tf_weight **todo = malloc((size_t)(g->n ? g->n : 1) * sizeof *todo);
    if (!todo)
        return;
    pack_job job = {todo, 0};
    pthread_mutex_lock(&g_pack_lock);
    /* Only the model's first CPU context packs: contexts already running
     * read the weights' packed pointers without the lock. */
    for (int i = 0; i < g->n && !c->m->packed; i++) {
        /* The node's weight is an element of the model's (mutable) array. */
        tf_weight *w = (tf_weight *)g->nodes[i].w;
        if (g->nodes[i].op != TF_OP_MATMUL || w->pack_mem || !packable(w))
            continue;
        size_t bytes = w->row_bytes * (size_t)w->ne[1];
        w->pack_mem = malloc(bytes + HUGE_PAGE);
        if (!w->pack_mem)
            continue;
        /* Huge pages: the kernels stream these bytes, and with 4 KiB pages
         * the hardware prefetchers stop at every page boundary (measured:
         * decode reached about half the bandwidth of huge pages).  Only a
         * hint; the result is the same without. */
        uint8_t *p = (uint8_t *)w->pack_mem + (-(uintptr_t)w->pack_mem & (HUGE_PAGE - 1));
#ifdef MADV_HUGEPAGE
        madvise(p, bytes / HUGE_PAGE * HUGE_PAGE, MADV_HUGEPAGE);
#endif
        w->packed = p;
        todo[job.n++] = w;
    }
    /* One matrix at a time, each followed by dropping the file's copy of
     * it from the resident set (no longer read on this path; the pages come
     * back from the file if the embedding, another backend or the row
     * kernels read them), so memory peaks near the model's size plus one
     * matrix rather than twice the model. */
    for (int i = 0; i < job.n; i++) {
        pack_job one = {&todo[i], 1};
        tf_pool_run(pool, pack_worker, &one);
        tf_gguf_release(c->m->g, todo[i]->data, todo[i]->row_bytes * (size_t)todo[i]->ne[1]);
    }
    c->m->packed = true;
    pthread_mutex_unlock(&g_pack_lock);
    free(todo);
}

static tf_status cpu_init(tf_context *c, char *err, size_t errlen)
{
    const tf_hparams *hp = &c->m->hp;
    cpu_state *s = calloc(1, sizeof *s);
    if (!s) goto oom;
    c->be_state = s;
    int nt = c->p.n_threads;
    if (nt > MAX_THREADS) nt = MAX_THREADS;
    s->pool = tf_pool_new(nt);
    s->kv_f16 = c->p.kv_type == TF_KV_F16;
    s->kv_row_bytes = (size_t)hp->n_head_kv * hp->head_dim * (s->kv_f16 ? 2 : 4);
    s->k_cache = calloc((size_t)hp->n_layer, sizeof *s->k_cache);
    s->v_cache = calloc((size_t)hp->n_layer, sizeof *s->v_cache);
    s->arena = calloc(1, c->graph.arena_bytes ? c->graph.arena_bytes : 64);
    size_t qbytes, moe_floats, route_ints;
    scratch_needs(c, c->graph.n_max, &qbytes, &moe_floats, &route_ints);
    s->qbuf_bytes = qbytes ? qbytes : 64;
    s->qbuf = malloc(s->qbuf_bytes);
    s->moe_buf = malloc((moe_floats ? moe_floats : 16) * sizeof(float));
    s->moe_route = malloc((route_ints ? route_ints : 16) * sizeof(int32_t));
    s->scratch_stride = tf_attn_scratch_floats(hp->head_dim);
    if (s->scratch_stride < (size_t)hp->head_dim) /* rope's cos/sin table */
        s->scratch_stride = (size_t)hp->head_dim;
    s->scratch = malloc(s->scratch_stride * (size_t)tf_pool_size(s->pool) * sizeof(float));
    s->steps = malloc((size_t)(c->graph.n ? c->graph.n : 1) * sizeof *s->steps);
    /* Private rows (cpu_step): up to TF_CPU_PRIV_MAX of the widest input,
     * and of each format a step reads. */
    size_t widest = 64, priv_q = 0, unused0, unused1;
    for (int i = 0; i < c->graph.n; i++)
        if (c->graph.nodes[i].op == TF_OP_MATMUL && (size_t)c->graph.nodes[i].w->ne[0] > widest)
            widest = (size_t)c->graph.nodes[i].w->ne[0];
    scratch_needs(c, TF_CPU_PRIV_MAX, &priv_q, &unused0, &unused1);
    s->priv_f_stride = tf_cpu_align64(widest * TF_CPU_PRIV_MAX * sizeof(float)) / sizeof(float);
    s->priv_q_stride = tf_cpu_align64(priv_q ? priv_q : 64);
    size_t nthreads = (size_t)tf_pool_size(s->pool);
    s->runs_mem = calloc(nthreads + 1, sizeof *s->runs); /* aligned by hand: one line each */
    s->runs = s->runs_mem ? (cpu_run *)((uintptr_t)s->runs_mem + (-(uintptr_t)s->runs_mem & 63)) : NULL;
    for (size_t t = 0; s->runs && t < nthreads; t++)
        atomic_init(&s->runs[t].r, 0);
    s->priv_f = malloc(s->priv_f_stride * nthreads * sizeof(float));
    s->priv_q = malloc(s->priv_q_stride * nthreads);
    /* OpenBLAS (blas.h) for float matrices: a row buffer per thread, sized
     * for the longest float row; none when no matrix is float. */
    for (int i = 0; i < c->graph.n; i++)
        if (c->graph.nodes[i].op == TF_OP_MATMUL && is_float_type(c->graph.nodes[i].w->type) &&
            c->graph.nodes[i].w->ne[0] > s->blas_k)
            s->blas_k = c->graph.nodes[i].w->ne[0];
    s->blas_min = s->blas_k ? tf_blas_min_tokens() : 0;
    if (s->blas_min > 0 && c->graph.n_max >= s->blas_min)
        s->blas_buf = malloc((size_t)TF_BLAS_ROWS * (size_t)s->blas_k * sizeof(float) *
                             (size_t)tf_pool_size(s->pool));
    if (!s->pool || !s->k_cache || !s->v_cache || !s->arena || !s->qbuf || !s->moe_buf ||
        !s->moe_route || !s->scratch || !s->steps || !s->priv_f || !s->priv_q || !s->runs)
        goto oom;
    for (int il = 0; il < hp->n_layer; il++) {
        s->k_cache[il] = calloc(c->n_ctx, s->kv_row_bytes);
        s->v_cache[il] = calloc(c->n_ctx, s->kv_row_bytes);
        if (!s->k_cache[il] || !s->v_cache[il]) goto oom;
    }
    pack_weights(c, s->pool);
    plan_steps(s, &c->graph);
    return TF_OK;
oom:
    tf_errf(err, errlen, "out of memory allocating the CPU backend's buffers (KV cache %zu bytes/layer)",
            s ? s->kv_row_bytes * c->n_ctx * 2 : 0);
    cpu_free(c);
    return TF_ERR_NOMEM;
}

/* "cpu (avx512 kernels, 2 threads, packed: 155 of 155 matrices, OpenBLAS
 * from 32 tokens)": what the numbers of a run came from. */
static const char *cpu_describe(const tf_context *c)
{
    cpu_state *s = c->be_state;
    int n = 0, packed = 0;
    for (int i = 0; i < c->graph.n; i++) {
        const tf_node *nd = &c->graph.nodes[i];
        if (nd->op != TF_OP_MATMUL)
            continue;
        n++;
        packed += use_packed(nd->w);
    }
    char blas[48] = "off";
    if (s->blas_buf)
        snprintf(blas, sizeof blas, "from %d tokens", s->blas_min);
    snprintf(s->desc, sizeof s->desc, "cpu (%s kernels, %d threads, packed: %d of %d matrices, OpenBLAS %s)",
             tf_kernels_active(), tf_pool_size(s->pool), packed, n, blas);
    return s->desc;
}

const tf_backend_ops tf_backend_cpu = {"cpu", cpu_init, cpu_compute, cpu_clear, cpu_free, cpu_describe};
