/* pack.h - internal to kernels/: the packed products' activation block for
 * Q4_0 and Q8_0 weights (see kernels.h, "Packed weights").
 *
 * Q8_0's values with the scale as a float (the half's value, exactly) and
 * the block's integer sum, which the kernels need for the weight offset
 * (dot(q - B, y) = dot(q, y) - B sum(y)) and would otherwise recompute for
 * every group of rows.
 */
#ifndef TF_PACK_H
#define TF_PACK_H

#include <stddef.h>
#include "ref.h"

typedef struct {
    int8_t qs[TF_QK];
    float d;
    int32_t sum;
} tf_block_q8_0s;

_Static_assert(sizeof(tf_block_q8_0s) == 40, "q8_0s layout");

#endif
