/* model.h - hyperparameters and weights of an opened model, and the
 * per-architecture hooks (lib/arch_*.c) that bind weights and build graphs.
 */
#ifndef TF_MODEL_H
#define TF_MODEL_H

#include "internal.h"
#include "kernels.h"

struct tf_graph;

/* Caps a hostile file cannot push past (README "Limits"). */
#define TF_MAX_LAYERS   512
#define TF_MAX_VOCAB    (1 << 22)
#define TF_MAX_EMBD     (1 << 16)
#define TF_MAX_HEADS    1024
#define TF_MAX_CTX      (1 << 20)
#define TF_MAX_EXPERTS  1024

enum tf_rope_type { TF_ROPE_NORM = 0, TF_ROPE_NEOX = 2 };
enum tf_rope_scaling { TF_ROPE_SCALING_NONE = 0, TF_ROPE_SCALING_LINEAR, TF_ROPE_SCALING_YARN };
enum tf_gating { TF_GATING_SOFTMAX = 0, TF_GATING_SIGMOID = 1 };

typedef struct tf_hparams {
    int32_t n_vocab, n_ctx_train, n_embd, n_layer, n_head, n_head_kv;
    int32_t n_ff, n_rot, head_dim;
    int32_t n_expert, n_expert_used, n_expert_shared, n_ff_exp, n_ff_shexp;
    int rope_type;
    int rope_scaling;
    float rope_base, rope_freq_scale;
    /* YaRN: original context, extrapolation mix, attention factor, ramp. */
    int32_t yarn_orig_ctx;
    float yarn_ext_factor, yarn_attn_factor, yarn_beta_fast, yarn_beta_slow;
    float rms_eps;
    int gating;              /* enum tf_gating */
    bool expert_weights_norm;/* renormalise the top-k weights */
    float expert_weights_scale;
} tf_hparams;

/* A weight: a view of a GGUF tensor (data stays in the mapped file). */
typedef struct tf_weight {
    const char *name; /* NUL-terminated copy owned by the model */
    const void *data;
    uint32_t type;
    int64_t ne[4];
    size_t row_bytes; /* bytes of one ne[0] row */
    /* Row-interleaved copy (kernels.h, "Packed weights") the CPU backend
     * makes once per model when its kernels compute the type packed;
     * NULL until then.  pack_mem is the allocation (model-owned). */
    const uint8_t *packed;
    void *pack_mem;
} tf_weight;

typedef struct tf_layer {
    tf_weight *attn_norm, *wq, *wk, *wv, *wo, *bq, *bk, *bv;
    tf_weight *attn_q_norm, *attn_k_norm; /* OLMoE: over the whole q / k vector */
    tf_weight *ffn_norm, *ffn_gate, *ffn_up, *ffn_down;
    /* Mixture of experts (3-D: one matrix per expert). */
    tf_weight *ffn_gate_inp, *ffn_gate_exps, *ffn_up_exps, *ffn_down_exps;
    /* Shared expert, run for every token; ffn_gate_inp_shexp (1-D, may be
     * NULL) gives each token one sigmoid gate on its output. */
    tf_weight *ffn_gate_inp_shexp, *ffn_gate_shexp, *ffn_up_shexp, *ffn_down_shexp;
} tf_layer;

typedef struct tf_arch tf_arch;

struct tf_model {
    tf_gguf *g;
    tf_tokenizer *tok;
    const tf_arch *arch;
    char arch_name[64];
    char name[128];
    tf_hparams hp;
    bool vocab_only;
    tf_model_params params;
    tf_weight *weights; /* one per GGUF tensor, same order */
    size_t n_weights;
    char *names;        /* NUL-terminated tensor names, one block */
    tf_weight *tok_embd, *output_norm, *output;
    bool tied_output;
    tf_layer *layers;
    uint64_t n_params, weight_bytes;
    char rope_scaling_name[16];
    const char **keys;  /* metadata keys, NUL-terminated (meta.c) */
    char *key_text;
    bool packed; /* the first CPU context made the packed copies (backend_cpu.c) */
    void *bf16_mem; /* params.f16_as_bf16: the converted matrices' block */
};

bool tf_model_index_keys(tf_model *m);

/* An architecture family: reads its extra hyperparameters, binds and
 * shape-checks its weights, and builds the forward graph. */
struct tf_arch {
    const char *name;
    /* Fill m->hp's arch-specific fields and bind m->layers etc.  The
     * generic fields (n_embd, n_head, ...) are already read and checked. */
    int (*load)(tf_model *m, char *err, size_t errlen);
    /* Build the forward graph for n_tokens tokens; see graph.h. */
    int (*build)(const tf_model *m, struct tf_graph *gr, int32_t n_tokens,
                 bool all_logits);
};

/* Look up the arch by name (NULL: unsupported). */
const tf_arch *tf_arch_find(const char *name);

/* Find weight by name and check its shape: ne[0..n_dims-1] as given, the
 * rest 1.  Missing (when required) or wrong shape fills err.  A missing
 * optional weight returns NULL with no error. */
tf_weight *tf_model_weight(tf_model *m, const char *name, bool required,
                           int n_dims, const int64_t *ne, char *err,
                           size_t errlen, bool *failed);

/* printf-style name variant of tf_model_weight for "blk.%d.attn_q.weight". */
tf_weight *tf_model_weightf(tf_model *m, bool required, int n_dims,
                            const int64_t *ne, char *err, size_t errlen,
                            bool *failed, const char *fmt, ...)
    __attribute__((format(printf, 8, 9)));

#endif
