/* backend_cpu.h - state and helpers shared by the CPU backend's files
 * (backend_cpu.c: the node loop, elementwise ops, attention, setup and
 * packing; backend_cpu_mm.c: matmul steps; backend_cpu_moe.c: experts). */
#ifndef TF_BACKEND_CPU_H
#define TF_BACKEND_CPU_H

#include <stdatomic.h>

#include "blas.h"
#include "exec.h"
#include "threadpool.h"

#define TF_CPU_PRIV_MAX 4
#define TF_CPU_MAX_FUSED 4 /* matmuls one step runs at most */

/* One pass of the node loop from a matmul node (planned once, at init;
 * rope_attn marks the other kind of step, backend_cpu.c op_rope_attn):
 * the matmuls of one input run together, the node after them (a residual
 * ADD or the SWIGLU of gate and up) is done row by row by the thread that
 * computed those rows, and with few tokens (TF_CPU_PRIV_MAX, fewer than
 * the threads) the RMS_NORM feeding them and their quantization run in
 * every thread on private buffers: no barrier between those phases. */
typedef struct cpu_step {
    int n;       /* matmuls run together from this node (1: alone) */
    int norm;    /* RMS_NORM node whose output only they read (-1: none) */
    int after;   /* ADD or SWIGLU node computed in the step (-1: none) */
    bool folded; /* this RMS_NORM is left to the next step's threads */
    bool rope_attn; /* this ROPE, the next and an ATTN run as one step */
    /* How its rows are shared (backend_cpu_mm.c): 16-row units of each
     * matmul, in all (gate and up counted once when pair), claimed chunk
     * units at a time. */
    bool pair;
    int64_t units[TF_CPU_MAX_FUSED], total, chunk;
} cpu_step;

/* One thread's run of a step's units (backend_cpu_mm.c), on its own line. */
typedef struct cpu_run {
    _Atomic uint64_t r;
    char pad[64 - sizeof(uint64_t)];
} cpu_run;

typedef struct cpu_state {
    tf_pool *pool;
    float *arena;
    void **k_cache, **v_cache; /* per layer: [n_ctx][n_head_kv * head_dim] */
    size_t kv_row_bytes;
    bool kv_f16;
    uint8_t *qbuf;             /* quantized activations */
    size_t qbuf_bytes;
    float *moe_buf;            /* MoE SwiGLU rows [T * k * n_ff] */
    int32_t *moe_route;        /* MoE batch grouped by expert (backend_cpu_moe.c) */
    float *scratch;            /* per thread: attention tiles (attn.h) */
    size_t scratch_stride;
    struct cpu_step *steps;    /* per node: what the node loop does from it */
    float *priv_f;             /* per thread: a folded norm's rows (priv_f_stride floats) */
    uint8_t *priv_q;           /* per thread: quantized rows (priv_q_stride bytes) */
    size_t priv_f_stride, priv_q_stride;
    cpu_run *runs;             /* per thread, 64-byte aligned in runs_mem */
    void *runs_mem;
    float *blas_buf;           /* per thread: TF_BLAS_ROWS rows of blas_k floats; NULL: no BLAS */
    int64_t blas_k;
    tf_blas_policy blas;       /* which products go to OpenBLAS (blas.h) */
    char desc[160];            /* tf_context_backend's text */
    /* The run in flight (set by compute). */
    tf_context *c;
    const tf_run *run;
} cpu_state;


/* [lo, hi) of n items for thread ith of nth (contiguous chunks). */
void tf_cpu_split(int64_t n, int ith, int nth, int64_t *lo, int64_t *hi);
float *tf_cpu_node_out(cpu_state *s, int i);
/* Rows [0, n_rows) of x (row length k) -> type vdt in buf, split by thread. */
void tf_cpu_quantize_rows(const float *x, int64_t k, int64_t n_rows, uint32_t vdt, uint8_t *buf,
                          int ith, int nth);
/* Quantize T rows of x for weights of type wtype into the shared buffer
 * (all threads take part; ends with a barrier).  Returns the rows and
 * their stride in *rb. */
const void *tf_cpu_prepare_act(cpu_state *s, const float *x, int64_t K, int32_t T, uint32_t wtype,
                               size_t *rb, int ith, int nth);

static inline size_t tf_cpu_align64(size_t n) { return (n + 63) / 64 * 64; }

/* One row of nd's RMS norm (backend_cpu.c). */
void tf_cpu_rms_norm_row(const tf_node *nd, const float *x, float *out);

/* ---- matmul steps (backend_cpu_mm.c) ---- */
/* Whether w is computed from its packed copy (kernels.h, "Packed weights"). */
bool tf_cpu_use_packed(const tf_weight *w);
/* Whether matrices of type t go to OpenBLAS under policy p (blas.h). */
bool tf_cpu_blas_type(const tf_blas_policy *p, uint32_t t);
/* Few enough tokens that every thread quantizes them all for itself. */
bool tf_cpu_private_rows(int32_t T, int nth);
/* Every cpu_step of the graph, once the weights are packed. */
void tf_cpu_plan_steps(cpu_state *s, const tf_graph *g);
/* The step from matmul node first, T tokens, as thread ith of nth (the
 * caller meets the others at a barrier afterwards). */
void tf_cpu_matmul_step(cpu_state *s, int first, int32_t T, int ith, int nth);
/* Bytes of converted activations the largest step needs for T tokens. */
size_t tf_cpu_step_act_bytes(const tf_graph *g, int32_t T);
/* Sizes of the shared buffers: activations (n_max tokens, MoE included),
 * MoE rows and routes. */
void tf_cpu_scratch_needs(const tf_context *c, size_t *qbytes, size_t *moe_floats, size_t *route_ints);

/* Debug counter: bytes of routed-expert weight rows (gate, up, down) the
 * MoE FFN has dotted, each row counted once per batch.  Tests reset it and
 * check that decoding reads only the k selected experts. */
extern _Atomic uint64_t tf_cpu_moe_bytes_read;

void tf_cpu_moe_gate(const tf_node *nd, const float *logits, float *out, int32_t T, int ith,
                     int nth);
void tf_cpu_moe_ffn(cpu_state *s, const tf_node *nd, const float *x, const float *gate, float *out,
                    int32_t T, int ith, int nth);
/* out = x * sigmoid(gate[t]) per token t (gate is [1, T]). */
void tf_cpu_sigmoid_gate(const float *x, const float *gate, float *out, int64_t ne0, int32_t T,
                         int ith, int nth);
/* Grow *qbytes (quantized activations), *moe_floats (moe_buf) and
 * *route_ints (moe_route) to what MOE_FFN node nd needs. */
void tf_cpu_moe_needs(const tf_graph *g, const tf_node *nd, int k, size_t *qbytes,
                      size_t *moe_floats, size_t *route_ints);

#endif
