/* graph.c - node list builder and the arena planner. */
#include <stdlib.h>
#include <string.h>

#include "graph.h"

#define ARENA_ALIGN 64

int tf_graph_init(tf_graph *g, int32_t n_max)
{
    memset(g, 0, sizeof *g);
    g->n_max = n_max;
    g->out = -1;
    g->tail_from = 1 << 30;
    g->cap = 256;
    g->nodes = calloc((size_t)g->cap, sizeof *g->nodes);
    return g->nodes ? 0 : -1;
}

void tf_graph_free(tf_graph *g)
{
    if (!g) return;
    free(g->nodes);
    memset(g, 0, sizeof *g);
}

static int push(tf_graph *g, int op, int64_t ne0, int a, int b, int c)
{
    if (g->failed) return -1;
    if (a < -1 || b < -1 || c < -1) { /* an earlier helper failed */
        g->failed = true;
        return -1;
    }
    if (g->n == g->cap) {
        tf_node *n = realloc(g->nodes, (size_t)g->cap * 2 * sizeof *n);
        if (!n) {
            g->failed = true;
            return -1;
        }
        g->nodes = n;
        g->cap *= 2;
    }
    tf_node *nd = &g->nodes[g->n];
    memset(nd, 0, sizeof *nd);
    nd->op = op;
    nd->ne0 = ne0;
    nd->src[0] = a;
    nd->src[1] = b;
    nd->src[2] = c;
    return g->n++;
}

static int64_t ne0_of(const tf_graph *g, int i) { return i >= 0 ? g->nodes[i].ne0 : 0; }

int tf_g_embed(tf_graph *g, const tf_weight *tok_embd, int64_t n_embd)
{
    int i = push(g, TF_OP_EMBED, n_embd, -1, -1, -1);
    if (i >= 0) g->nodes[i].w = tok_embd;
    return i;
}

int tf_g_rms_norm(tf_graph *g, int x, const tf_weight *w, float eps)
{
    int i = push(g, TF_OP_RMS_NORM, ne0_of(g, x), x, -1, -1);
    if (i >= 0) {
        g->nodes[i].w = w;
        g->nodes[i].fp[0] = eps;
    }
    return i;
}

int tf_g_matmul(tf_graph *g, const tf_weight *w, int x, const tf_weight *bias)
{
    int i = push(g, TF_OP_MATMUL, w ? w->ne[1] : 0, x, -1, -1);
    if (i >= 0) {
        g->nodes[i].w = w;
        g->nodes[i].w2 = bias;
    }
    return i;
}

int tf_g_add(tf_graph *g, int a, int b) { return push(g, TF_OP_ADD, ne0_of(g, a), a, b, -1); }

int tf_g_rope(tf_graph *g, int x, int mode, int32_t head_dim, int32_t n_heads, int32_t n_rot)
{
    int i = push(g, TF_OP_ROPE, ne0_of(g, x), x, -1, -1);
    if (i >= 0) {
        g->nodes[i].ip[0] = mode;
        g->nodes[i].ip[1] = head_dim;
        g->nodes[i].ip[2] = n_heads;
        g->nodes[i].ip[3] = n_rot;
    }
    return i;
}

int tf_g_attn(tf_graph *g, int q, int k, int v, int32_t il)
{
    int i = push(g, TF_OP_ATTN, ne0_of(g, q), q, k, v);
    if (i >= 0) g->nodes[i].il = il;
    return i;
}

int tf_g_swiglu(tf_graph *g, int gate, int up)
{
    return push(g, TF_OP_SWIGLU, ne0_of(g, gate), gate, up, -1);
}

int tf_g_last_row(tf_graph *g, int x)
{
    int i = push(g, TF_OP_LAST_ROW, ne0_of(g, x), x, -1, -1);
    if (i >= 0) g->tail_from = i;
    return i;
}

int tf_g_moe_gate(tf_graph *g, int router_logits, int32_t n_expert, int32_t k, int gating,
                  bool norm, float scale)
{
    int i = push(g, TF_OP_MOE_GATE, 2 * (int64_t)k, router_logits, -1, -1);
    if (i >= 0) {
        g->nodes[i].ip[0] = n_expert;
        g->nodes[i].ip[1] = k;
        g->nodes[i].ip[2] = gating;
        g->nodes[i].ip[3] = norm;
        g->nodes[i].fp[0] = scale;
    }
    return i;
}

int tf_g_moe_ffn(tf_graph *g, int x, int gate, const tf_weight *gate_exps,
                 const tf_weight *up_exps, const tf_weight *down_exps)
{
    int i = push(g, TF_OP_MOE_FFN, ne0_of(g, x), x, gate, -1);
    if (i >= 0) {
        g->nodes[i].w = gate_exps;
        g->nodes[i].w2 = up_exps;
        g->nodes[i].w3 = down_exps;
    }
    return i;
}

int tf_g_sigmoid_gate(tf_graph *g, int x, int gate)
{
    return push(g, TF_OP_SIGMOID_GATE, ne0_of(g, x), x, gate, -1);
}

size_t tf_node_bytes(const tf_graph *g, int i)
{
    size_t b = (size_t)g->nodes[i].ne0 * (size_t)g->n_max * sizeof(float);
    return (b + ARENA_ALIGN - 1) / ARENA_ALIGN * ARENA_ALIGN;
}

/* First-fit placement among the live blocks (kept sorted by offset). */
typedef struct block { size_t off, size; int node; } block;

static size_t place(block *live, int *n_live, size_t size, int node)
{
    size_t at = 0;
    int k = 0;
    for (; k < *n_live; k++) {
        if (live[k].off - at >= size) break;
        at = live[k].off + live[k].size;
    }
    memmove(&live[k + 1], &live[k], (size_t)(*n_live - k) * sizeof *live);
    live[k] = (block){at, size, node};
    (*n_live)++;
    return at;
}

void tf_graph_plan(tf_graph *g)
{
    for (int i = 0; i < g->n; i++) g->nodes[i].last_use = i;
    for (int i = 0; i < g->n; i++)
        for (int s = 0; s < 3; s++)
            if (g->nodes[i].src[s] >= 0) g->nodes[g->nodes[i].src[s]].last_use = i;
    if (g->out >= 0) g->nodes[g->out].last_use = g->n;
    /* The CPU backend folds a norm into the matmuls that read it and the
     * node after them into the matmuls' step (backend_cpu.c, "steps"): a
     * matmul's input, and a norm's, stays live until that node is done, so
     * nothing written in the step lands on what a slower thread still reads. */
    for (int i = 0; i < g->n; i++) {
        const tf_node *nd = &g->nodes[i];
        int until = -1;
        if (nd->op == TF_OP_MATMUL) {
            until = i + 1;
        } else if (nd->op == TF_OP_RMS_NORM) {
            until = i + 1;
            while (until < g->n && g->nodes[until].op == TF_OP_MATMUL && g->nodes[until].src[0] == i)
                until++;
        }
        if (until >= 0 && nd->src[0] >= 0 && until < g->n && g->nodes[nd->src[0]].last_use < until)
            g->nodes[nd->src[0]].last_use = until;
    }
    block *live = malloc(((size_t)g->n + 1) * sizeof *live);
    if (!live) {
        g->failed = true;
        return;
    }
    int n_live = 0;
    g->arena_bytes = 0;
    for (int i = 0; i < g->n; i++) {
        size_t sz = tf_node_bytes(g, i);
        g->nodes[i].offset = place(live, &n_live, sz, i);
        if (g->nodes[i].offset + sz > g->arena_bytes) g->arena_bytes = g->nodes[i].offset + sz;
        /* Free what no later node reads (inputs die after the output exists). */
        for (int k = 0; k < n_live;) {
            if (g->nodes[live[k].node].last_use <= i) {
                memmove(&live[k], &live[k + 1], (size_t)(n_live - k - 1) * sizeof *live);
                n_live--;
            } else {
                k++;
            }
        }
    }
    free(live);
}
