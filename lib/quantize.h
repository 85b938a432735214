/* quantize.h - internals of tf_quantize: file-type recipes and the rule
 * that picks each tensor's type (lib/quantize_rules.c). */
#ifndef TF_QUANTIZE_H
#define TF_QUANTIZE_H

#include "internal.h"
#include "kernels.h"

/* general.file_type values (the reference engine's llama_ftype). */
enum tf_ftype {
    TF_FTYPE_F32 = 0, TF_FTYPE_F16 = 1, TF_FTYPE_Q4_0 = 2, TF_FTYPE_Q4_1 = 3,
    TF_FTYPE_Q8_0 = 7, TF_FTYPE_Q5_0 = 8, TF_FTYPE_Q5_1 = 9, TF_FTYPE_Q2_K = 10,
    TF_FTYPE_Q3_K_S = 11, TF_FTYPE_Q3_K_M = 12, TF_FTYPE_Q3_K_L = 13,
    TF_FTYPE_Q4_K_S = 14, TF_FTYPE_Q4_K_M = 15, TF_FTYPE_Q5_K_S = 16,
    TF_FTYPE_Q5_K_M = 17, TF_FTYPE_Q6_K = 18, TF_FTYPE_IQ4_NL = 25, TF_FTYPE_BF16 = 32
};

/* A name tf_quantize accepts: the file type it writes and the base tensor
 * type of its matrices. */
typedef struct tf_qrecipe {
    const char *name;
    uint32_t ftype; /* enum tf_ftype */
    uint32_t base;  /* enum tf_type */
} tf_qrecipe;

/* Case-insensitive lookup, aliases included (Q4_K = Q4_K_M, ...); NULL if
 * unknown. */
const tf_qrecipe *tf_qrecipe_find(const char *name);

/* What the rules need to know about the model. */
typedef struct tf_qmodel {
    char arch[64];
    int32_t n_layer;
    int32_t n_gqa;      /* n_head / n_head_kv, 0 if unknown */
    int32_t n_expert;
    bool has_output;    /* an output.weight tensor exists (else tied) */
    bool is_llama_70b;  /* llama, 80 layers, grouped-query attention */
} tf_qmodel;

/* Whether a tensor is quantized at all (else it is copied as it is):
 * 2-D+ tensors whose name ends in "weight", except norms, MoE routers,
 * position/type embeddings and a few small special matrices. */
bool tf_qtensor_quantizable(const char *name, uint32_t n_dims);

/* The type of a quantizable tensor under recipe r.  When its rows don't
 * fit that type's block, falls back to one that fits (reason in note,
 * else note[0] = 0). */
uint32_t tf_qtensor_type(const tf_qrecipe *r, const tf_qmodel *m, bool pure,
                         const char *name, int64_t ne0, char *note, size_t notelen);

#endif
