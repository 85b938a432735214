/* blas.h - optional OpenBLAS for float-weight products (blas.c). */
#ifndef TF_BLAS_H
#define TF_BLAS_H

#include <stdbool.h>

/* Rows converted and multiplied at a time (per thread buffer: this many
 * rows of F32). */
#define TF_BLAS_ROWS 256

/* Which float-weight (F32/F16/BF16) products go to OpenBLAS, from the
 * TINFER_BLAS environment variable:
 *   unset or "auto": products of every size, but only of float types the
 *     selected kernel level computes with the portable C GEMM (the "ref"
 *     level; F16/BF16 on NEON).  Where tinfer has SIMD float kernels they
 *     measured faster than OpenBLAS (bench/README.md: AVX-512 F16 pp128 85
 *     vs 55 t/s, F32 95.5 vs 78); where it has only the portable ones
 *     OpenBLAS was 1.6x (one token) to 43x (64 tokens) faster;
 *   "0": never;
 *   N > 0: every float matrix, for products of at least N tokens.
 * Anything else counts as unset. */
typedef struct tf_blas_policy {
    int min_tokens;  /* 0: never */
    bool all_float;  /* false: only the types without a SIMD GEMM */
} tf_blas_policy;

/* TINFER_BLAS, parsed as above (reads only the environment). */
tf_blas_policy tf_blas_policy_get(void);

/* Whether libopenblas.so.0 could be opened (tried once; thread-safe). */
bool tf_blas_available(void);

/* C[m x n] = A[m x k] * B[n x k]^T, row-major (only when tf_blas_available()). */
void tf_blas_sgemm_nt(int m, int n, int k, const float *a, int lda, const float *b, int ldb,
                      float *c, int ldc);

#endif
