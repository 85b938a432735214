/* simd_tile.h - internal to the SIMD kernel files: the scaffolding that
 * turns one always-inline tile body per type into the table's vec_dot and
 * gemm entries.
 *
 * A SIMD file writes, per type, NAME##_t(n, w, ws, a, as, out, os, RW, RA)
 * computing RW weight rows x RA activation rows (RW <= TW, RA <= TA, both
 * compile-time constants after inlining, so the accumulator arrays live in
 * registers), with one accumulator chain per output element whose
 * operations do not depend on RW or RA.  TF_DEF_GEMM then defines:
 *   vec_dot_NAME: the 1 x 1 instance;
 *   tile_NAME:    the TW x TA instance plus TW x 1, 1 x TA and 1 x 1 for
 *                 the edges (tf_tile_fn);
 *   gemm_NAME:    tf_gemm_drive over tile_NAME (tf_gemm_fn).
 * Every element therefore comes out of the same chain whichever instance
 * computed it: gemm and vec_dot agree bit for bit, which the tests check.
 */
#ifndef TF_SIMD_TILE_H
#define TF_SIMD_TILE_H

#include "ref.h"

#define TF_ALWAYS static inline __attribute__((always_inline))
#define TF_UNROLL _Pragma("GCC unroll 16")

#define TF_DEF_GEMM(NAME, TW, TA)                                                          \
    static void tile_##NAME(int64_t n, const uint8_t *w, size_t ws, int nw,               \
                            const uint8_t *a, size_t as, int na, float *out, size_t os)   \
    {                                                                                     \
        if (nw == (TW) && na == (TA)) {                                                   \
            NAME##_t(n, w, ws, a, as, out, os, TW, TA);                                   \
        } else if (nw == (TW)) {                                                          \
            for (int t_ = 0; t_ < na; t_++)                                               \
                NAME##_t(n, w, ws, a + (size_t)t_ * as, as, out + (size_t)t_ * os, os, TW, 1); \
        } else if (na == (TA)) {                                                          \
            for (int r_ = 0; r_ < nw; r_++)                                               \
                NAME##_t(n, w + (size_t)r_ * ws, ws, a, as, out + r_, os, 1, TA);         \
        } else {                                                                          \
            for (int r_ = 0; r_ < nw; r_++)                                               \
                for (int t_ = 0; t_ < na; t_++)                                           \
                    NAME##_t(n, w + (size_t)r_ * ws, ws, a + (size_t)t_ * as, as,         \
                             out + (size_t)t_ * os + r_, os, 1, 1);                       \
        }                                                                                 \
    }                                                                                     \
    static void gemm_##NAME(int64_t n, const void *w, size_t ws, int nw, const void *a,   \
                            size_t as, int na, float *out, size_t os)                     \
    {                                                                                     \
        tf_gemm_drive(tile_##NAME, TW, TA, n, w, ws, nw, a, as, na, out, os);             \
    }                                                                                     \
    static float vec_dot_##NAME(int64_t n, const void *w, const void *a)                  \
    {                                                                                     \
        float r_;                                                                         \
        NAME##_t(n, w, 0, a, 0, &r_, 0, 1, 1);                                            \
        return r_;                                                                        \
    }

/* Installs a type's vec_dot and gemm together. */
#define TF_SET(table, type, NAME)                                                         \
    do {                                                                                  \
        (table)[type].vec_dot = vec_dot_##NAME;                                           \
        (table)[type].gemm = gemm_##NAME;                                                 \
    } while (0)

#endif
