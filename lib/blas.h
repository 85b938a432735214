/* blas.h - optional OpenBLAS for float-weight prompt products (blas.c). */
#ifndef TF_BLAS_H
#define TF_BLAS_H

#include <stdbool.h>

/* Rows converted and multiplied at a time (per thread buffer: this many
 * rows of F32). */
#define TF_BLAS_ROWS 256
/* The smallest product (in tokens) OpenBLAS takes when TINFER_BLAS is
 * unset: 0, never.  Measured on the bench model (bench/README.md), the own
 * F16 kernels were faster at 128 and 512 tokens; TINFER_BLAS=32 is the
 * setting to try on a machine where OpenBLAS is the faster one. */
#define TF_BLAS_DEFAULT_MIN 0

/* From TINFER_BLAS (a token count; 0: never): products of at least this
 * many tokens of float matrices go to OpenBLAS.  0 also when
 * libopenblas.so.0 cannot be opened.  Thread-safe. */
int tf_blas_min_tokens(void);

/* C[m x n] = A[m x k] * B[n x k]^T, row-major (only when tf_blas_min_tokens() > 0). */
void tf_blas_sgemm_nt(int m, int n, int k, const float *a, int lda, const float *b, int ldb,
                      float *c, int ldc);

#endif
