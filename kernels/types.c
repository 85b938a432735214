/* types.c - the traits row of every GGUF tensor type id.
 *
 * Every id GGUF has ever assigned gets its exact block geometry, even the
 * ones tinfer cannot compute with, so a loader can size (and bounds-check)
 * any tensor and then refuse the model with the type's name instead of a
 * misleading layout error.  Ids GGUF retired (4, 5, 31-33, 36-38) have no
 * row: no file written by a current writer contains them.
 *
 * compute marks the weight types tinfer has kernels for.  Q8_1 and Q8_K
 * have kernels too, but only as activation formats (vec_dot_type of other
 * types): they have no dot product of their own, so they are compute=false
 * and a loader that checks compute rejects them as weight types.
 */
#include "ref.h"

#define ROW(nm, b, s, c) { .name = nm, .blck = b, .size = s, .compute = c }

static const tf_type_traits g_traits[TF_TYPE_COUNT] = {
    [0] = ROW("F32", 1, 4, true),
    [1] = ROW("F16", 1, 2, true),
    [2] = ROW("Q4_0", 32, 18, true),
    [3] = ROW("Q4_1", 32, 20, true),
    /* 4, 5: Q4_2, Q4_3, removed from GGUF */
    [6] = ROW("Q5_0", 32, 22, true),
    [7] = ROW("Q5_1", 32, 24, true),
    [8] = ROW("Q8_0", 32, 34, true),
    [9] = ROW("Q8_1", 32, 36, false),
    [10] = ROW("Q2_K", 256, 84, true),
    [11] = ROW("Q3_K", 256, 110, true),
    [12] = ROW("Q4_K", 256, 144, true),
    [13] = ROW("Q5_K", 256, 176, true),
    [14] = ROW("Q6_K", 256, 210, true),
    [15] = ROW("Q8_K", 256, 292, false),
    [16] = ROW("IQ2_XXS", 256, 66, false),
    [17] = ROW("IQ2_XS", 256, 74, false),
    [18] = ROW("IQ3_XXS", 256, 98, false),
    [19] = ROW("IQ1_S", 256, 50, false),
    [20] = ROW("IQ4_NL", 32, 18, true),
    [21] = ROW("IQ3_S", 256, 110, false),
    [22] = ROW("IQ2_S", 256, 82, false),
    [23] = ROW("IQ4_XS", 256, 136, false),
    [24] = ROW("I8", 1, 1, false),
    [25] = ROW("I16", 1, 2, false),
    [26] = ROW("I32", 1, 4, false),
    [27] = ROW("I64", 1, 8, false),
    [28] = ROW("F64", 1, 8, false),
    [29] = ROW("IQ1_M", 256, 56, false),
    [30] = ROW("BF16", 1, 2, true),
    /* 31-33: Q4_0_4_4, Q4_0_4_8, Q4_0_8_8 (repacked in memory, removed) */
    [34] = ROW("TQ1_0", 256, 54, false),
    [35] = ROW("TQ2_0", 256, 66, false),
    /* 36-38: IQ4_NL_4_4, IQ4_NL_4_8, IQ4_NL_8_8 (removed) */
    [39] = ROW("MXFP4", 32, 17, false),
};

const tf_type_traits *tf_type_traits_of(uint32_t id)
{
    if (id >= TF_TYPE_COUNT || !g_traits[id].name)
        return NULL;
    return &g_traits[id];
}

const char *tf_type_name(uint32_t id)
{
    const tf_type_traits *t = tf_type_traits_of(id);
    return t ? t->name : "unknown";
}

size_t tf_row_size(uint32_t id, int64_t n)
{
    const tf_type_traits *t = tf_type_traits_of(id);
    if (!t || n < 0 || n % t->blck)
        return 0;
    /* n may come from a hostile file: refuse sizes that would wrap. */
    uint64_t blocks = (uint64_t)n / t->blck, bytes;
    if (__builtin_mul_overflow(blocks, (uint64_t)t->size, &bytes) || bytes > SIZE_MAX)
        return 0;
    return (size_t)bytes;
}
