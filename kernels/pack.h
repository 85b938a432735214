/* pack.h - internal to kernels/: the packed products' activation block for
 * Q4_0 and Q8_0 weights (see kernels.h, "Packed weights").
 *
 * Q8_0's values with the scale as a float (the half's value, exactly) and
 * the weight offset's term: dot(q - B, y) = dot(q, y) - B sum(y), with B
 * the weight type's (8 for Q4_0, 128 for Q8_0 made unsigned), stored as
 * -B sum(y) so the kernels start each block's integer sum from it with one
 * broadcast load instead of recomputing it for every group of rows.
 */
#ifndef TF_PACK_H
#define TF_PACK_H

#include <stddef.h>
#include "ref.h"

typedef struct {
    int8_t qs[TF_QK];
    float d;
    int32_t bias; /* -B * sum(qs) */
} tf_block_q8_0s;

_Static_assert(sizeof(tf_block_q8_0s) == 40, "q8_0s layout");

/* The K-quants' activation block: Q8_K as it is, then terms of its block
 * sums the weight type's kernel would otherwise rebuild for every group:
 *   Q4_K: pre[k], k < 4, holds two int16 (low half first): the sums of
 *         sub-blocks 2k and 2k+1 of 32 (bsums[4k] + bsums[4k+1], then
 *         bsums[4k+2] + bsums[4k+3]; |each| <= 4096), the pairs an
 *         int16 multiply-add takes against the 6-bit mins;
 *   Q6_K: pre[j] = -32 * bsums[j], the offset of the values' bias 32. */
typedef struct {
    tf_block_q8_K q;
    int32_t pre[TF_QK_K / 16];
} tf_block_q8_Ks;

_Static_assert(sizeof(tf_block_q8_Ks) == 356, "q8_Ks layout");

#endif
