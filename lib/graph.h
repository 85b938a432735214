/* graph.h - the forward pass as a list of operations, planned once.
 *
 * An architecture's builder (arch_*.c) emits nodes for the largest batch a
 * context allows (n_batch tokens).  Every activation is F32 with shape
 * [ne0, n_tokens]; the planner gives each node an offset in one arena,
 * reusing memory once a node's last reader has run.  The same plan serves
 * every batch size up to n_batch: a run only says how many tokens are live
 * (exec.c), so nothing is planned or allocated per token.  Backends
 * (backend_cpu.c, later backend_vk.c) execute the node list in order.
 */
#ifndef TF_GRAPH_H
#define TF_GRAPH_H

#include "model.h"

enum tf_op {
    TF_OP_EMBED,    /* w = token embedding; tokens from the run -> [n_embd, T] */
    TF_OP_RMS_NORM, /* rms_norm(src0) * w                                    */
    TF_OP_MATMUL,   /* w [K, N] x src0 [K, T] (+ bias w2) -> [N, T]           */
    TF_OP_ADD,      /* src0 + src1                                           */
    TF_OP_ROPE,     /* rotate src0 viewed as [head_dim, n_heads, T]          */
    TF_OP_ATTN,     /* q=src0, k=src1, v=src2; store k,v at the run's
                       positions in layer il's cache, attend causally        */
    TF_OP_SWIGLU,   /* silu(src0) * src1                                     */
    TF_OP_LAST_ROW, /* rows of src0 whose logits are wanted (all or last)    */
    TF_OP_MOE_GATE, /* router logits src0 [n_expert, T] -> ids + weights
                       [2*k, T] (ids stored as float-exact integers)         */
    TF_OP_MOE_FFN,  /* experts' SwiGLU FFN of src0 [n_embd, T] routed by
                       src1 (a MOE_GATE node) -> [n_embd, T]                 */
    TF_OP_SIGMOID_GATE, /* src0 [ne0, T] * sigmoid(src1 [1, T]): one scalar gate
                       per token (Qwen2-MoE's shared expert)                 */
    TF_OP_COUNT
};

typedef struct tf_node {
    int op;
    int src[3];            /* node indices, -1 when unused */
    const tf_weight *w, *w2, *w3;
    int64_t ne0;           /* output row length (F32) */
    int32_t il;            /* layer, for ATTN / MOE */
    int32_t ip[4];         /* op parameters (see builder helpers) */
    float fp[4];
    size_t offset;         /* arena offset, set by the planner */
    int last_use;          /* index of the last node that reads this one */
} tf_node;

typedef struct tf_graph {
    tf_node *nodes;
    int n, cap;
    int32_t n_max;         /* tokens the plan is sized for */
    int out;               /* node holding the logits */
    int tail_from;         /* nodes from here on see only the wanted rows */
    size_t arena_bytes;
    bool failed;           /* an append ran out of memory */
} tf_graph;

int tf_graph_init(tf_graph *g, int32_t n_max);
void tf_graph_free(tf_graph *g);

/* Builder helpers: each appends one node and returns its index (or -1
 * after an allocation failure, which marks the graph failed). */
int tf_g_embed(tf_graph *g, const tf_weight *tok_embd, int64_t n_embd);
int tf_g_rms_norm(tf_graph *g, int x, const tf_weight *w, float eps);
int tf_g_matmul(tf_graph *g, const tf_weight *w, int x, const tf_weight *bias);
int tf_g_add(tf_graph *g, int a, int b);
/* mode: TF_ROPE_NORM or TF_ROPE_NEOX; head_dim, n_heads, n_rot. */
int tf_g_rope(tf_graph *g, int x, int mode, int32_t head_dim, int32_t n_heads, int32_t n_rot);
int tf_g_attn(tf_graph *g, int q, int k, int v, int32_t il);
int tf_g_swiglu(tf_graph *g, int gate, int up);
int tf_g_last_row(tf_graph *g, int x);
int tf_g_moe_gate(tf_graph *g, int router_logits, int32_t n_expert, int32_t k, int gating,
                  bool norm, float scale);
int tf_g_moe_ffn(tf_graph *g, int x, int gate, const tf_weight *gate_exps,
                 const tf_weight *up_exps, const tf_weight *down_exps);
/* x [ne0, T] scaled per token by sigmoid(gate [1, T]). */
int tf_g_sigmoid_gate(tf_graph *g, int x, int gate);

/* Assign arena offsets (liveness-based reuse).  Call after building. */
void tf_graph_plan(tf_graph *g);

/* Bytes of node i's output for the planned n_max tokens. */
size_t tf_node_bytes(const tf_graph *g, int i);

#endif
