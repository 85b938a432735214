/* backend_cpu.c - runs a planned graph on the CPU.
 *
 * All threads of the pool walk the node list together; each operation is
 * split so that every output element is computed by exactly one thread in
 * a fixed order, which makes results identical for any thread count.
 * Threads meet at a barrier after each step.  Matrix products run as
 * steps (backend_cpu_mm.c) through the kernel table (kernels/); this file
 * has the node loop, the elementwise ops, attention, and the backend's
 * setup: buffers, packed weight copies, the step plan.
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

void tf_cpu_rms_norm_row(const tf_node *nd, const float *x, float *out)
{
    /* Eight partial sums (kernels.h): one chain of dependent double adds
     * was the norm's whole cost; the order is fixed, so results stay the
     * same on every thread count and kernel level. */
    tf_kernels_of(TF_TYPE_F32)->rms_norm(x, nd->w->data, nd->fp[0], out, nd->ne0);
}

static void op_rms_norm(const tf_node *nd, const float *x, float *out, int32_t T, int ith, int nth)
{
    int64_t lo, hi;
    tf_cpu_split(T, ith, nth, &lo, &hi);
    for (int64_t t = lo; t < hi; t++) tf_cpu_rms_norm_row(nd, x + t * nd->ne0, out + t * nd->ne0);
}

static void op_add(const float *a, const float *b, float *out, int64_t n, int ith, int nth)
{
    int64_t lo, hi;
    tf_cpu_split(n, ith, nth, &lo, &hi);
    if (hi > lo)
        tf_kernels_of(TF_TYPE_F32)->add(a + lo, b + lo, out + lo, hi - lo);
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

/* A ROPE node's angles: what the cos/sin of a token's pairs depend on. */
typedef struct rope_params {
    int mode, hd, n_rot;
    float theta_scale, freq_scale, ext, mscale, corr[2];
} rope_params;

static rope_params rope_of(const cpu_state *s, const tf_node *nd)
{
    const tf_hparams *hp = &s->c->m->hp;
    rope_params r = {.mode = nd->ip[0], .hd = nd->ip[1], .n_rot = nd->ip[3],
                     .freq_scale = hp->rope_freq_scale, .mscale = 1.0f};
    r.theta_scale = powf(hp->rope_base, -2.0f / r.n_rot);
    if (hp->rope_scaling == TF_ROPE_SCALING_YARN) {
        r.ext = hp->yarn_ext_factor;
        r.mscale = hp->yarn_attn_factor;
        r.corr[0] = fmaxf(0, floorf(yarn_corr_dim(r.n_rot, hp->yarn_orig_ctx, hp->yarn_beta_fast, hp->rope_base)));
        r.corr[1] = fminf(r.n_rot - 1, ceilf(yarn_corr_dim(r.n_rot, hp->yarn_orig_ctx, hp->yarn_beta_slow, hp->rope_base)));
    }
    return r;
}

/* cos and sin of each pair's angle at position pos, into cs[n_rot]. */
static void rope_angles(const rope_params *r, int64_t pos, float *cs)
{
    float theta = (float)pos;
    for (int i0 = 0; i0 < r->n_rot; i0 += 2) {
        float interp = r->freq_scale * theta, th_used = interp, ms = r->mscale;
        if (r->ext != 0.0f) {
            float mix = yarn_ramp(r->corr[0], r->corr[1], i0) * r->ext;
            th_used = interp * (1 - mix) + theta * mix;
            ms *= 1.0f + 0.1f * logf(1.0f / r->freq_scale);
        }
        cs[i0] = cosf(th_used) * ms;
        cs[i0 + 1] = sinf(th_used) * ms;
        theta *= r->theta_scale;
    }
}

/* One head of hd values rotated by the angles cs (dst may be src). */
static void rope_head(const rope_params *r, const float *cs, const float *src, float *dst)
{
    for (int i0 = 0; i0 < r->n_rot; i0 += 2) {
        float c = cs[i0], sn = cs[i0 + 1];
        int a = r->mode == TF_ROPE_NEOX ? i0 / 2 : i0;
        int b = r->mode == TF_ROPE_NEOX ? i0 / 2 + r->n_rot / 2 : i0 + 1;
        float x0 = src[a], x1 = src[b];
        dst[a] = x0 * c - x1 * sn;
        dst[b] = x0 * sn + x1 * c;
    }
    for (int i = r->n_rot; i < r->hd; i++) dst[i] = src[i];
}

/* n values into the KV cache at dst: F16 through the kernel table's row
 * conversion (round to nearest even), F32 as they are. */
static void put_kv(const cpu_state *s, void *dst, const float *src, int64_t n)
{
    if (s->kv_f16)
        tf_kernels_of(TF_TYPE_F16)->from_float(src, dst, n);
    else
        memcpy(dst, src, (size_t)n * sizeof(float));
}

/* What rope_heads rotates: nq heads of q (rows q_ne0 apart) into qo, and
 * nk heads of k per token, which go straight into layer il's cache with
 * the v head beside each (nk = 0: a plain ROPE node). */
typedef struct rope_job {
    const float *q;
    float *qo;
    int64_t q_ne0;
    int nq;
    const float *k, *v;
    int64_t k_ne0, v_ne0;
    int nk, il;
} rope_job;

/* This thread's share of the batch's heads.  The angles are computed once
 * per token for all its heads (this thread's scratch, followed by room for
 * one rotated k head). */
static void rope_heads(cpu_state *s, const rope_params *r, const rope_job *j, int32_t T, int ith,
                       int nth)
{
    float *cs = s->scratch + (size_t)ith * s->scratch_stride, *tmp = cs + r->hd;
    size_t head_bytes = (size_t)r->hd * (s->kv_f16 ? 2 : 4);
    int nh = j->nq + j->nk;
    int64_t lo, hi, cs_t = -1;
    tf_cpu_split((int64_t)T * nh, ith, nth, &lo, &hi);
    for (int64_t th = lo; th < hi; th++) {
        int64_t t = th / nh, h = th % nh;
        if (t != cs_t)
            rope_angles(r, s->run->n_past + t, cs);
        cs_t = t;
        if (h < j->nq) {
            rope_head(r, cs, j->q + t * j->q_ne0 + h * r->hd, j->qo + t * j->q_ne0 + h * r->hd);
            continue;
        }
        h -= j->nq;
        size_t row = (size_t)(s->run->n_past + t) * s->kv_row_bytes + (size_t)h * head_bytes;
        uint8_t *kd = (uint8_t *)s->k_cache[j->il] + row, *vd = (uint8_t *)s->v_cache[j->il] + row;
        const float *ks = j->k + t * j->k_ne0 + h * r->hd, *vs = j->v + t * j->v_ne0 + h * r->hd;
        rope_head(r, cs, ks, tmp);
        put_kv(s, kd, tmp, r->hd);
        put_kv(s, vd, vs, r->hd);
    }
}

static void op_rope(cpu_state *s, const tf_node *nd, const float *x, float *out, int32_t T,
                    int ith, int nth)
{
    rope_params r = rope_of(s, nd);
    rope_job j = {.q = x, .qo = out, .q_ne0 = nd->ne0, .nq = nd->ip[2]};
    rope_heads(s, &r, &j, T, ith, nth);
}

/* ---- attention ------------------------------------------------------- */

/* K and V rows of the batch into layer nd->il's cache at their positions. */
static void store_kv(cpu_state *s, const tf_node *nd, const float *k, const float *v, int32_t T,
                     int ith, int nth)
{
    const tf_hparams *hp = &s->c->m->hp;
    int64_t n = (int64_t)hp->n_head_kv * hp->head_dim, lo, hi;
    tf_cpu_split(T, ith, nth, &lo, &hi);
    for (int64_t t = lo; t < hi; t++) {
        size_t row = (size_t)(s->run->n_past + t);
        uint8_t *kd = (uint8_t *)s->k_cache[nd->il] + row * s->kv_row_bytes;
        uint8_t *vd = (uint8_t *)s->v_cache[nd->il] + row * s->kv_row_bytes;
        put_kv(s, kd, k + t * n, n);
        put_kv(s, vd, v + t * n, n);
    }
}

/* Tiled attention (attn.c) of nd's queries over layer nd->il's cache. */
static void attend(cpu_state *s, const tf_node *nd, float *out, int32_t T, int ith, int nth)
{
    const tf_hparams *hp = &s->c->m->hp;
    tf_attn a = {
        .q = tf_cpu_node_out(s, nd->src[0]), .q_stride = (size_t)nd->ne0,
        .k = s->k_cache[nd->il], .v = s->v_cache[nd->il], .row_bytes = s->kv_row_bytes,
        .f16 = s->kv_f16, .hd = hp->head_dim, .n_head = hp->n_head, .n_head_kv = hp->n_head_kv,
        .n_past = s->run->n_past, .T = T, .scale = 1.0f / sqrtf((float)hp->head_dim),
        .out = out, .out_stride = (size_t)nd->ne0,
    };
    tf_attn_run(&a, s->scratch + (size_t)ith * s->scratch_stride, ith, nth);
}

/* Store the batch's K and V, then attention. */
static void op_attn(cpu_state *s, const tf_node *nd, float *out, int32_t T, int ith, int nth)
{
    store_kv(s, nd, tf_cpu_node_out(s, nd->src[1]), tf_cpu_node_out(s, nd->src[2]), T, ith, nth);
    tf_pool_barrier(s->pool);
    attend(s, nd, out, T, ith, nth);
}

/* Whether nodes i, i+1, i+2 are ROPE(q), ROPE(k), ATTN(q, k, v) with the
 * same angles and the rotated k read by nothing else: then they run as one
 * step (op_rope_attn). */
static bool rope_attn_at(const tf_graph *g, int i)
{
    if (i + 2 >= g->n)
        return false;
    const tf_node *rq = &g->nodes[i], *rk = &g->nodes[i + 1], *at = &g->nodes[i + 2];
    if (rq->op != TF_OP_ROPE || rk->op != TF_OP_ROPE || at->op != TF_OP_ATTN ||
        at->src[0] != i || at->src[1] != i + 1 || rq->ip[0] != rk->ip[0] ||
        rq->ip[1] != rk->ip[1] || rq->ip[3] != rk->ip[3])
        return false;
    for (int j = 0; j < g->n; j++)
        for (int k = 0; k < 3; k++)
            if (g->nodes[j].src[k] == i + 1 && j != i + 2)
                return false;
    return true;
}

/* ROPE(q), ROPE(k) and ATTN as one step: each thread rotates its share of
 * the batch's heads, q heads into the q rope's output, k heads straight
 * into the layer's cache (with the v head beside each), so rotated keys
 * make no trip through the arena and the step has one barrier before the
 * attention instead of three.  Every value is computed as op_rope and
 * store_kv compute it. */
static void op_rope_attn(cpu_state *s, int i, int32_t T, int ith, int nth)
{
    const tf_graph *g = &s->c->graph;
    const tf_node *rq = &g->nodes[i], *rk = &g->nodes[i + 1], *at = &g->nodes[i + 2];
    rope_params r = rope_of(s, rq);
    rope_job j = {.q = tf_cpu_node_out(s, rq->src[0]), .qo = tf_cpu_node_out(s, i),
                  .q_ne0 = rq->ne0, .nq = rq->ip[2], .k = tf_cpu_node_out(s, rk->src[0]),
                  .v = tf_cpu_node_out(s, at->src[2]), .k_ne0 = rk->ne0,
                  .v_ne0 = g->nodes[at->src[2]].ne0, .nk = rk->ip[2], .il = at->il};
    rope_heads(s, &r, &j, T, ith, nth);
    tf_pool_barrier(s->pool);
    attend(s, at, tf_cpu_node_out(s, i + 2), T, ith, nth);
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
        if (st->folded && tf_cpu_private_rows(T, nth)) {
            i++; /* the next step's threads each compute it */
            continue;
        }
        if (g->nodes[i].op == TF_OP_MATMUL) {
            tf_cpu_matmul_step(s, i, T, ith, nth);
            i += st->n + (st->after >= 0);
        } else if (st->rope_attn) {
            op_rope_attn(s, i, T, ith, nth);
            i += 3;
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
    tf_cpu_scratch_needs(c, &qbytes, &moe_floats, &route_ints);
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
    return k && k->pack_gemm && tf_pack_supported(w->type, w->ne[0]) && w->ne[1] % TF_PACK_ROWS == 0 &&
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
    tf_cpu_scratch_needs(c, &qbytes, &moe_floats, &route_ints);
    s->qbuf_bytes = qbytes ? qbytes : 64;
    s->qbuf = malloc(s->qbuf_bytes);
    s->moe_buf = malloc((moe_floats ? moe_floats : 16) * sizeof(float));
    s->moe_route = malloc((route_ints ? route_ints : 16) * sizeof(int32_t));
    s->scratch_stride = tf_attn_scratch_floats(hp->head_dim);
    if (s->scratch_stride < 2 * (size_t)hp->head_dim) /* rope's angles and one k head */
        s->scratch_stride = 2 * (size_t)hp->head_dim;
    s->scratch = malloc(s->scratch_stride * (size_t)tf_pool_size(s->pool) * sizeof(float));
    s->steps = malloc((size_t)(c->graph.n ? c->graph.n : 1) * sizeof *s->steps);
    /* Private rows (cpu_step): up to TF_CPU_PRIV_MAX of the widest input,
     * and of each format a step reads. */
    size_t widest = 64, priv_q = tf_cpu_step_act_bytes(&c->graph, TF_CPU_PRIV_MAX);
    for (int i = 0; i < c->graph.n; i++)
        if (c->graph.nodes[i].op == TF_OP_MATMUL && (size_t)c->graph.nodes[i].w->ne[0] > widest)
            widest = (size_t)c->graph.nodes[i].w->ne[0];
    s->priv_f_stride = tf_cpu_align64(widest * TF_CPU_PRIV_MAX * sizeof(float)) / sizeof(float);
    s->priv_q_stride = tf_cpu_align64(priv_q ? priv_q : 64);
    size_t nthreads = (size_t)tf_pool_size(s->pool);
    s->runs_mem = calloc(nthreads + 1, sizeof *s->runs); /* aligned by hand: one line each */
    s->runs = s->runs_mem ? (cpu_run *)((uintptr_t)s->runs_mem + (-(uintptr_t)s->runs_mem & 63)) : NULL;
    for (size_t t = 0; s->runs && t < nthreads; t++)
        atomic_init(&s->runs[t].r, 0);
    s->priv_f = malloc(s->priv_f_stride * nthreads * sizeof(float));
    s->priv_q = malloc(s->priv_q_stride * nthreads);
    /* OpenBLAS (blas.h) for the float matrices its policy names: a row
     * buffer per thread, sized for the longest of their rows. */
    s->blas = tf_blas_policy_get();
    for (int i = 0; i < c->graph.n; i++)
        if (c->graph.nodes[i].op == TF_OP_MATMUL && tf_cpu_blas_type(&s->blas, c->graph.nodes[i].w->type) &&
            c->graph.nodes[i].w->ne[0] > s->blas_k)
            s->blas_k = c->graph.nodes[i].w->ne[0];
    if (s->blas_k && c->graph.n_max >= s->blas.min_tokens && tf_blas_available())
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
    tf_cpu_plan_steps(s, &c->graph);
    for (int i = 0; i < c->graph.n; i++)
        s->steps[i].rope_attn = rope_attn_at(&c->graph, i);
    return TF_OK;
oom:
    tf_errf(err, errlen, "out of memory allocating the CPU backend's buffers (KV cache %zu bytes/layer)",
            s ? s->kv_row_bytes * c->n_ctx * 2 : 0);
    cpu_free(c);
    return TF_ERR_NOMEM;
}

/* "cpu (avx512 kernels, 2 threads, packed: 155 of 155 matrices, OpenBLAS
 * off)": what the numbers of a run came from. */
static const char *cpu_describe(const tf_context *c)
{
    cpu_state *s = c->be_state;
    int n = 0, packed = 0;
    for (int i = 0; i < c->graph.n; i++) {
        const tf_node *nd = &c->graph.nodes[i];
        if (nd->op != TF_OP_MATMUL)
            continue;
        n++;
        packed += tf_cpu_use_packed(nd->w);
    }
    char blas[64] = "off";
    if (s->blas_buf && s->blas.all_float)
        snprintf(blas, sizeof blas, "for float matrices from %d tokens", s->blas.min_tokens);
    else if (s->blas_buf)
        snprintf(blas, sizeof blas, "for float types without a SIMD GEMM");
    snprintf(s->desc, sizeof s->desc, "cpu (%s kernels, %d threads, packed: %d of %d matrices, OpenBLAS %s)",
             tf_kernels_active(), tf_pool_size(s->pool), packed, n, blas);
    return s->desc;
}

const tf_backend_ops tf_backend_cpu = {"cpu", cpu_init, cpu_compute, cpu_clear, cpu_free, cpu_describe};
