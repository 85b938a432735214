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

/* Packed F16 (kernels.h): columns in chunks of 16 (one 16-lane vector per
 * row), chunks in blocks of up to 32 (512 columns), and a block holds its
 * chunks row quad by row quad: quad q of block b is cb x 4 rows x 32 bytes,
 * chunk after chunk, where cb is the block's chunk count (32 but for the
 * last).  Byte offset of row r's chunk c in a group of nc chunks: */
#define TF_F16_CHUNK 16
#define TF_F16_BLOCK 32
static inline size_t tf_f16_pack_off(int64_t c, int r, int64_t nc)
{
    int64_t b = c / TF_F16_BLOCK, c0 = b * TF_F16_BLOCK;
    int64_t cb = nc - c0 < TF_F16_BLOCK ? nc - c0 : TF_F16_BLOCK;
    return (size_t)(c0 * 16 * 32 + (r / 4) * cb * 128 + (c - c0) * 128 + (r % 4) * 32);
}

#endif
