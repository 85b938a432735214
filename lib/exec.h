/* exec.h - a context: one planned graph, a KV cache and a backend that
 * runs the graph.  exec.c owns the public context API; backends implement
 * tf_backend_ops over the same graph. */
#ifndef TF_EXEC_H
#define TF_EXEC_H

#include "graph.h"

/* What one evaluation asks of the backend. */
typedef struct tf_run {
    const int32_t *tokens;
    int32_t n_tokens; /* live tokens, <= graph.n_max */
    int32_t n_past;   /* positions already in the cache */
    int32_t n_out;    /* logits rows wanted: n_tokens or 1 */
    float *logits;    /* n_out * n_vocab floats */
} tf_run;

typedef struct tf_backend_ops {
    const char *name;
    /* Allocate arena, caches and scratch for c's planned graph. */
    tf_status (*init)(tf_context *c, char *err, size_t errlen);
    tf_status (*compute)(tf_context *c, const tf_run *r);
    /* Zero the KV cache (prompts are private). */
    void (*clear)(tf_context *c);
    void (*free)(tf_context *c);
    /* Device description for tf_context_backend (NULL: the name). */
    const char *(*describe)(const tf_context *c);
} tf_backend_ops;

extern const tf_backend_ops tf_backend_cpu;
extern const tf_backend_ops tf_backend_vk; /* backend_vk.c (a stub without Vulkan) */

struct tf_context {
    tf_model *m;
    tf_context_params p;
    tf_graph graph;
    const tf_backend_ops *be;
    void *be_state;
    uint32_t n_ctx, n_batch, n_past;
    float *logits;        /* n_batch * n_vocab */
    int32_t n_logit_rows; /* rows of the last eval, 0 before any */
    int32_t *tokens;      /* copy of the batch (n_batch) */
    char be_desc[64];     /* tf_context_backend of backends without describe */
    char err[TF_ERRLEN];
};

#endif
