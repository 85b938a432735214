/* attn.h - causal attention over the KV cache on the CPU.
 *
 * tf_attn_run is a tiled ("flash"-style) attention.  A block of query rows
 * - the heads of one KV group (GQA) times a few consecutive tokens - walks
 * the cached positions in tiles of TF_ATTN_BK, converting each K and V
 * tile from the cache (F16 or F32) once for the whole block:
 *   pass 1: scores q.k of each tile, and per row a running maximum m and
 *           sum l of e^(s - m), rescaled when m grows (online softmax);
 *   pass 2: probabilities p = e^(s - m) / l of each tile, then out += p v.
 * Scores are kept between the passes while the block ends before position
 * TF_ATTN_NS and recomputed beyond it, so the scratch is fixed (~160 KiB
 * a thread for head size 64) whatever the context length; no T x n_kv
 * score matrix is ever stored.
 *
 * Numerics.  The reference engine rounds q to F16 before its products with
 * an F16 K, and the normalised probabilities to F16 before their products
 * with V; so do we (with an F16 cache), which is why there are two passes:
 * a single online pass only knows the normaliser at the end, and rounding
 * unnormalised weights instead moved the golden tiny models' logits by up
 * to 2e-2 where the reference is matched to 1e-7.  Tiles start at fixed
 * positions (0, BK, 2BK, ...) and every row is computed with the same
 * operations in the same order whichever block (and thread) it falls in,
 * so results don't depend on the thread count or the batch split.
 *
 * The SIMD versions (attn_avx2.c, attn_avx512.c: one template,
 * attn_simd.h) run when the matmul kernels run at that level
 * (TINFER_KERNELS caps both); the portable C block is the fallback and
 * the oracle.  tf_attn_naive is the former one-row-at-a-time scalar code,
 * kept for tests and bench/bench_attn.c.
 */
#ifndef TF_ATTN_H
#define TF_ATTN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define TF_ATTN_BK 64   /* cached positions per tile */
#define TF_ATTN_RMAX 32 /* query rows per block */
#define TF_ATTN_NS 1024 /* scores kept between the passes (else recomputed) */

typedef struct tf_attn {
    const float *q;        /* token t, head h: q + t * q_stride + h * hd */
    size_t q_stride;       /* floats */
    const void *k, *v;     /* cache [n_ctx][row_bytes]; KV head g at g * hd */
    size_t row_bytes;
    bool f16;              /* the cache holds F16 (else F32) */
    int hd, n_head, n_head_kv;
    int32_t n_past;        /* token t sits at position n_past + t ... */
    int32_t T;             /* ... and sees positions 0 .. n_past + t */
    float scale;           /* usually 1 / sqrt(hd) */
    float *out;            /* token t, head h: out + t * out_stride + h * hd */
    size_t out_stride;
} tf_attn;

/* Floats of scratch tf_attn_run needs per thread for head size hd
 * (64-byte aligned pieces inside). */
size_t tf_attn_scratch_floats(int hd);

/* All threads of a pool call this together (thread ith of nth); each
 * writes its own blocks of out.  scratch: this thread's share. */
void tf_attn_run(const tf_attn *a, float *scratch, int ith, int nth);

/* Implementations of one block, for tests: rows = heads [h0, h0 + nh) of
 * KV group g (all in it) x tokens [t0, t0 + nt), nh * nt <= RMAX.  level:
 * "ref" (portable C), "avx2", "avx512"; NULL when this CPU or build lacks
 * it.  tf_attn_level() names the one tf_attn_run uses now. */
typedef void (*tf_attn_block_fn)(const tf_attn *a, int g, int h0, int nh, int t0, int nt,
                                 float *scratch);
tf_attn_block_fn tf_attn_block_of(const char *level);
const char *tf_attn_level(void);

/* The former straightforward version, rows [lo, hi) of T * n_head
 * (row = t * n_head + h).  scratch: n_past + T + hd floats. */
void tf_attn_naive(const tf_attn *a, float *scratch, int64_t lo, int64_t hi);

/* Shared by the implementations (attn.c, attn_simd.h). */
static inline size_t tf_attn_align16(size_t n) { return (n + 15) & ~(size_t)15; }
/* Head size rounded up to a multiple of 16 floats (tile and acc rows). */
static inline int tf_attn_hdp(int hd) { return (int)tf_attn_align16((size_t)hd); }

#endif
