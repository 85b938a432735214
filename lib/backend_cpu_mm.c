/* backend_cpu_mm.c - the CPU backend's matmul steps (backend_cpu.h,
 * cpu_step): planning them once per context (which matmuls run together,
 * which norm and which following node they take in), converting a step's
 * input to the activation formats its weights read, and sharing its rows
 * between threads with work stealing.  The node loop that calls them is in
 * backend_cpu.c. */
#include <stdatomic.h>
#include <string.h>

#include "blas.h"
#include "backend_cpu.h"

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

/* out[t][r] = w[r] . act[t] for rows r in [r0, r1), tokens t in [0, T),
 * from the rows as they are in the file. */
static void dot_rows(const tf_weight *w, const void *act, size_t act_rb, int64_t r0, int64_t r1,
                     int32_t T, float *out, int64_t out_stride)
{
    const tf_type_kernels *k = tf_kernels_of(w->type);
    const uint8_t *wdata = w->data;
    int64_t K = w->ne[0];
    if (k->gemm) {
        /* Tiled: each weight block is loaded once per tile of tokens.  The
         * kernel computes every element exactly as vec_dot would, so the
         * bytes do not depend on how rows are split between threads. */
        k->gemm(K, wdata + (size_t)r0 * w->row_bytes, w->row_bytes, (int)(r1 - r0), act, act_rb,
                T, out + r0, (size_t)out_stride);
        return;
    }
    for (int64_t r = r0; r < r1; r++)
        for (int32_t t = 0; t < T; t++)
            out[t * out_stride + r] =
                k->vec_dot(K, wdata + (size_t)r * w->row_bytes, (const uint8_t *)act + t * act_rb);
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
bool tf_cpu_use_packed(const tf_weight *w)
{
    return w->packed && tf_kernels_of(w->type)->pack_gemm;
}

bool tf_cpu_blas_type(const tf_blas_policy *p, uint32_t t)
{
    if (p->min_tokens <= 0 || (t != TF_TYPE_F32 && t != TF_TYPE_F16 && t != TF_TYPE_BF16))
        return false;
    return p->all_float || tf_kernels_of(t)->gemm == tf_kernels_ref_of(t)->gemm;
}

/* Whether w's product of T tokens goes to OpenBLAS (blas.h). */
static bool use_blas(const cpu_state *s, const tf_weight *w, int32_t T)
{
    return s->blas_buf && T >= s->blas.min_tokens && tf_cpu_blas_type(&s->blas, w->type);
}

/* The activation format w's product of T tokens reads: OpenBLAS the F32
 * rows as they are (KIND_BLAS), a packed product its type's own
 * (KIND_PACKED(type): the vec_dot_type with terms of its block sums,
 * kernels/pack.h), everything else the type's vec_dot_type (>= 0).
 * Matmuls of one input in different formats quantize it once per format. */
#define KIND_BLAS (-1)
#define KIND_PACKED(type) (-2 - (int)(type))
static int act_kind(const cpu_state *s, const tf_weight *w, int32_t T)
{
    if (use_blas(s, w, T))
        return KIND_BLAS;
    if (tf_cpu_use_packed(w))
        return KIND_PACKED(w->type); /* the format differs per type */
    return (int)tf_kernels_of(w->type)->vec_dot_type;
}

/* Few enough tokens that every thread quantizes them all for itself. */
bool tf_cpu_private_rows(int32_t T, int nth)
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
    if (kind == KIND_BLAS || kind == TF_TYPE_F32)
        return x;
    if (priv) { /* every row, in this thread's own buffer */
        ith = 0;
        nth = 1;
    }
    if (kind >= 0) {
        *rb = tf_row_size((uint32_t)kind, K);
        tf_cpu_quantize_rows(x, K, T, (uint32_t)kind, buf, ith, nth);
        return buf;
    }
    *rb = tf_pack_act_row_size(wtype, K);
    int64_t lo, hi;
    tf_cpu_split(T, ith, nth, &lo, &hi);
    for (int64_t t = lo; t < hi; t++)
        tf_pack_act_from_float(wtype, x + t * K, buf + t * *rb, K);
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
 * every token, by the path act_kind chose for the step (kind). */
static void matmul_rows(cpu_state *s, const tf_node *nd, int kind, const void *act, size_t rb,
                        float *out, int32_t T, int64_t lo, int64_t hi, int ith)
{
    const tf_weight *w = nd->w;
    if (kind == KIND_BLAS) /* from the file's rows, packed or not */
        blas_rows(s, nd, act, out, T, lo, hi, ith);
    else if (kind < 0)
        tf_kernels_of(w->type)->pack_gemm(w->ne[0], w->packed + (size_t)lo * w->row_bytes,
                                          (int)((hi - lo) / TF_PACK_ROWS), act, rb, T, out + lo,
                                          (size_t)nd->ne0);
    else
        dot_rows(w, act, rb, lo, hi, T, out, nd->ne0);
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
            tf_kernels_of(TF_TYPE_F32)->add(a + o + lo, b + o + lo, out + o + lo, hi - lo);
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
    const cpu_step *st;      /* the plan: matmuls, units, chunk */
    const tf_node *nd;       /* the step's first matmul */
    int kind[TF_CPU_MAX_FUSED]; /* act_kind of each matmul */
    const void *act[TF_CPU_MAX_FUSED];
    size_t rb[TF_CPU_MAX_FUSED];
    int32_t T;
} step_work;

static void do_units(cpu_state *s, const step_work *w, int64_t u0, int64_t u1, int ith)
{
    const cpu_step *st = w->st;
    int first = (int)(w->nd - s->c->graph.nodes);
    int64_t base = 0;
    for (int k = 0; k < st->n; k++) {
        int64_t a = st->pair ? u0 : u0 - base, b = st->pair ? u1 : u1 - base;
        if (!st->pair)
            base += st->units[k];
        a = a < 0 ? 0 : a;
        b = b > st->units[k] ? st->units[k] : b;
        if (a >= b)
            continue;
        int64_t lo = a * UNIT_ROWS, hi = b * UNIT_ROWS < w->nd[k].ne0 ? b * UNIT_ROWS : w->nd[k].ne0;
        matmul_rows(s, &w->nd[k], w->kind[k], w->act[k], w->rb[k], tf_cpu_node_out(s, first + k),
                    w->T, lo, hi, ith);
        if (st->after >= 0 && (!st->pair || k == 1)) /* gate and up rows both done */
            after_rows(s, st->after, w->T, lo, hi);
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
    int64_t chunk = w->st->chunk;
    tf_cpu_split(w->st->total, ith, nth, &lo, &hi);
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
    int64_t first = hi - lo - 4 * chunk;
    if (first > 0 && claim(mine, first, false, &u0, &u1))
        do_units(s, w, u0, u1, ith);
    while (claim(mine, chunk, false, &u0, &u1))
        do_units(s, w, u0, u1, ith);
    for (int j = 1; j < nth; j++)
        while (claim(&s->runs[(ith + j) % nth].r, chunk, true, &u0, &u1))
            do_units(s, w, u0, u1, ith);
}

/* The step from matmul node first (cpu_step): its folded norm, the input
 * in each format its matmuls read (once per format), then every row of
 * every matmul and the node after them, shared as above. */
void tf_cpu_matmul_step(cpu_state *s, int first, int32_t T, int ith, int nth)
{
    const tf_graph *g = &s->c->graph;
    const cpu_step *st = &s->steps[first];
    step_work w = {.st = st, .nd = &g->nodes[first], .T = T};
    bool priv = tf_cpu_private_rows(T, nth), blas = false, converted = false;
    const float *x = tf_cpu_node_out(s, w.nd->src[0]);
    if (priv && st->norm >= 0) {
        const tf_node *nn = &g->nodes[st->norm];
        const float *src = tf_cpu_node_out(s, nn->src[0]);
        float *xf = s->priv_f + (size_t)ith * s->priv_f_stride;
        for (int32_t t = 0; t < T; t++) tf_cpu_rms_norm_row(nn, src + t * nn->ne0, xf + t * nn->ne0);
        x = xf;
    }
    uint8_t *buf = priv ? s->priv_q + (size_t)ith * s->priv_q_stride : s->qbuf;
    for (int k = 0; k < st->n; k++) {
        const tf_weight *wk = w.nd[k].w;
        w.kind[k] = act_kind(s, wk, T);
        blas |= w.kind[k] == KIND_BLAS;
        int same = 0;
        while (same < k && w.kind[same] != w.kind[k])
            same++;
        if (same < k) {
            w.act[k] = w.act[same];
            w.rb[k] = w.rb[same];
        } else {
            w.act[k] = convert_act(w.kind[k], wk->type, x, wk->ne[0], T, buf, &w.rb[k], priv, ith, nth);
            if (w.act[k] == buf) {
                buf += tf_cpu_align64(w.rb[k] * (size_t)T);
                converted = true;
            }
        }
    }
    if (converted && !priv)
        tf_pool_barrier(s->pool);
    /* OpenBLAS keeps fixed shares: its rounding may follow the block shape */
    share_units(s, &w, nth > 1 && !blas, ith, nth);
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

/* How many matmuls from node i on read node i's input with outputs apart
 * from it and from each other (Q, K and V; gate and up): run as one step,
 * they quantize the input once and meet at one barrier instead of three. */
static int fused_len(const tf_graph *g, int i)
{
    const tf_node *a = &g->nodes[i];
    if (a->op != TF_OP_MATMUL)
        return 1;
    int n = 1;
    for (; i + n < g->n && n < TF_CPU_MAX_FUSED; n++) {
        const tf_node *b = &g->nodes[i + n];
        if (b->op != TF_OP_MATMUL || b->src[0] != a->src[0] || b->w->ne[0] != a->w->ne[0] ||
            !same_rows(g, i, i + n))
            break;
        /* b's output must not overlap the input or an earlier output */
        bool apart = !overlap(g, i + n, a->src[0]);
        for (int k = 0; k < n && apart; k++)
            apart = !overlap(g, i + n, i + k);
        if (!apart)
            break;
    }
    return n;
}

/* Whether the matmuls i .. i+n-1 split their rows between threads alike. */
static bool same_split(const tf_graph *g, int i, int n)
{
    for (int k = 1; k < n; k++)
        if (g->nodes[i + k].ne0 != g->nodes[i].ne0 ||
            tf_cpu_use_packed(g->nodes[i + k].w) != tf_cpu_use_packed(g->nodes[i].w))
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
void tf_cpu_plan_steps(cpu_state *s, const tf_graph *g)
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
        st->pair = st->after >= 0 && g->nodes[st->after].op == TF_OP_SWIGLU;
        for (int k = 0; k < st->n; k++) {
            st->units[k] = (g->nodes[i + k].ne0 + UNIT_ROWS - 1) / UNIT_ROWS;
            st->total = st->pair ? st->units[0] : st->total + st->units[k];
        }
        size_t unit_bytes = g->nodes[i].w->row_bytes * UNIT_ROWS * (st->pair ? 2 : 1);
        st->chunk = unit_bytes >= CHUNK_BYTES ? 1 : (int64_t)(CHUNK_BYTES / unit_bytes);
        i += st->n + (st->after >= 0);
    }
}


/* Bytes of a row of K-wide activations in the largest format w's products
 * may read. */
static size_t act_row_max(const tf_weight *w)
{
    size_t row = tf_row_size(tf_kernels_of(w->type)->vec_dot_type, w->ne[0]);
    if (tf_pack_supported(w->type, w->ne[0]) && tf_pack_act_row_size(w->type, w->ne[0]) > row)
        row = tf_pack_act_row_size(w->type, w->ne[0]);
    return row;
}

/* Bytes of the converted activations a step can need: one slot of T rows
 * per matmul of the step, for the largest step. */
size_t tf_cpu_step_act_bytes(const tf_graph *g, int32_t T)
{
    size_t most = 0;
    for (int i = 0; i < g->n; i++) {
        if (g->nodes[i].op != TF_OP_MATMUL)
            continue;
        int n = fused_len(g, i);
        size_t need = 0;
        for (int k = 0; k < n; k++)
            need += tf_cpu_align64(act_row_max(g->nodes[i + k].w) * (size_t)T);
        most = need > most ? need : most;
        i += n - 1;
    }
    return most;
}

/* The shared buffers' sizes: converted activations for n_max tokens (and
 * what MoE FFNs quantize into the same buffer), MoE rows and routes. */
void tf_cpu_scratch_needs(const tf_context *c, size_t *qbytes, size_t *moe_floats, size_t *route_ints)
{
    const tf_graph *g = &c->graph;
    *qbytes = tf_cpu_step_act_bytes(g, g->n_max);
    *moe_floats = 0;
    *route_ints = 0;
    for (int i = 0; i < g->n; i++)
        if (g->nodes[i].op == TF_OP_MOE_FFN)
            tf_cpu_moe_needs(g, &g->nodes[i], c->m->hp.n_expert_used, qbytes, moe_floats, route_ints);
}
