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

#endif
