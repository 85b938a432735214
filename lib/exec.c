/* exec.c - contexts: plan the model's graph once for n_batch tokens, hand
 * it to a backend, and evaluate batches against the KV cache. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "exec.h"

tf_context_params tf_context_default_params(void)
{
    tf_context_params p = {.n_ctx = 0, .n_batch = 512, .n_threads = 0, .kv_type = TF_KV_F16};
    return p;
}

/* Prompts are private: the logits, the batch copy and (through the
 * backend) every buffer activations pass through are zeroed on reset and
 * before they are freed. */
static void ctx_zero_private(tf_context *c)
{
    if (c->logits) tf_secure_zero(c->logits, (size_t)c->n_batch * c->m->hp.n_vocab * sizeof(float));
    if (c->tokens) tf_secure_zero(c->tokens, (size_t)c->n_batch * sizeof *c->tokens);
    if (c->be && c->be_state) c->be->clear(c);
}

void tf_context_free(tf_context *c)
{
    if (!c) return;
    ctx_zero_private(c);
    if (c->be) c->be->free(c);
    tf_graph_free(&c->graph);
    free(c->logits);
    free(c->tokens);
    free(c);
}

const char *tf_context_error(const tf_context *c) { return c ? c->err : "NULL context"; }

static tf_status ctx_fail(tf_context *c, tf_status st, const char *msg)
{
    tf_set_last_error("%s", msg);
    tf_context_free(c);
    return st;
}

static tf_status check_params(const tf_model *m, tf_context_params *p, char *err, size_t n)
{
    const tf_hparams *hp = &m->hp;
    if (p->n_ctx == 0) p->n_ctx = hp->n_ctx_train < 4096 ? (uint32_t)hp->n_ctx_train : 4096;
    if (p->n_ctx > (uint32_t)hp->n_ctx_train) {
        tf_errf(err, n, "context of %u tokens exceeds the model's training context of %d",
                p->n_ctx, hp->n_ctx_train);
        return TF_ERR_INVALID_ARG;
    }
    if (p->n_batch == 0) p->n_batch = 512;
    if (p->n_batch > p->n_ctx) p->n_batch = p->n_ctx;
    if (p->n_threads <= 0) {
        long cpus = sysconf(_SC_NPROCESSORS_ONLN);
        p->n_threads = cpus > 0 ? (int)cpus : 1;
    }
    if (p->n_threads > 256) {
        tf_errf(err, n, "%d threads requested; the limit is 256", p->n_threads);
        return TF_ERR_INVALID_ARG;
    }
    if (p->kv_type != TF_KV_F16 && p->kv_type != TF_KV_F32) {
        tf_errf(err, n, "unknown KV cache type %d", (int)p->kv_type);
        return TF_ERR_INVALID_ARG;
    }
    return TF_OK;
}

tf_status tf_context_new(tf_model *m, const tf_context_params *params, tf_context **out)
{
    char err[TF_ERRLEN];
    if (!out || !m) {
        tf_set_last_error("tf_context_new: NULL %s", m ? "out" : "model");
        return TF_ERR_INVALID_ARG;
    }
    *out = NULL;
    if (m->vocab_only) {
        tf_set_last_error("model was opened vocab-only (no weights): it can tokenize but not evaluate");
        return TF_ERR_STATE;
    }
    if (m->params.backend != TF_BACKEND_CPU && m->params.backend != TF_BACKEND_VULKAN) {
        tf_set_last_error("unknown backend %d", (int)m->params.backend);
        return TF_ERR_INVALID_ARG;
    }
    tf_context_params p = params ? *params : tf_context_default_params();
    tf_status st = check_params(m, &p, err, sizeof err);
    if (st) {
        tf_set_last_error("%s", err);
        return st;
    }
    tf_context *c = calloc(1, sizeof *c);
    if (!c) return ctx_fail(c, TF_ERR_NOMEM, "out of memory");
    c->m = m;
    c->p = p;
    c->n_ctx = p.n_ctx;
    c->n_batch = p.n_batch;
    if (tf_graph_init(&c->graph, (int32_t)c->n_batch) || m->arch->build(m, &c->graph, (int32_t)c->n_batch, true))
        return ctx_fail(c, TF_ERR_NOMEM, "out of memory building the graph");
    tf_graph_plan(&c->graph);
    if (c->graph.failed) return ctx_fail(c, TF_ERR_NOMEM, "out of memory planning the graph");
    c->logits = calloc((size_t)c->n_batch * (size_t)m->hp.n_vocab, sizeof(float));
    c->tokens = calloc(c->n_batch, sizeof *c->tokens);
    if (!c->logits || !c->tokens) return ctx_fail(c, TF_ERR_NOMEM, "out of memory for logits");
    c->be = m->params.backend == TF_BACKEND_VULKAN ? &tf_backend_vk : &tf_backend_cpu;
    st = c->be->init(c, err, sizeof err);
    if (st) return ctx_fail(c, st, err);
    snprintf(c->be_desc, sizeof c->be_desc, "%s (%d threads)", c->be->name, c->p.n_threads);
    *out = c;
    return TF_OK;
}

tf_status tf_context_reset(tf_context *c)
{
    if (!c) return TF_ERR_INVALID_ARG;
    ctx_zero_private(c);
    c->n_past = 0;
    c->n_logit_rows = 0;
    return TF_OK;
}

const char *tf_context_backend(const tf_context *c)
{
    if (!c) return "";
    return c->be->describe ? c->be->describe(c) : c->be_desc;
}

uint32_t tf_context_n_ctx(const tf_context *c) { return c ? c->n_ctx : 0; }
uint32_t tf_context_n_past(const tf_context *c) { return c ? c->n_past : 0; }

static tf_status set_err(tf_context *c, tf_status st, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static tf_status set_err(tf_context *c, tf_status st, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->err, sizeof c->err, fmt, ap);
    va_end(ap);
    return st;
}

tf_status tf_eval(tf_context *c, const tf_token *toks, size_t n, bool all_logits)
{
    if (!c) return TF_ERR_INVALID_ARG;
    if (!toks || n == 0) return set_err(c, TF_ERR_INVALID_ARG, "tf_eval: empty batch");
    if (n > c->n_batch)
        return set_err(c, TF_ERR_INVALID_ARG, "tf_eval: batch of %lld tokens exceeds n_batch %lld",
                       (long long)n, (long long)c->n_batch);
    if (c->n_past + n > c->n_ctx)
        return set_err(c, TF_ERR_CONTEXT_FULL,
                       "context full: %lld positions used, the context holds %lld",
                       (long long)(c->n_past + n), (long long)c->n_ctx);
    for (size_t i = 0; i < n; i++)
        if (toks[i] < 0 || toks[i] >= c->m->hp.n_vocab)
            return set_err(c, TF_ERR_INVALID_ARG, "tf_eval: token id %lld out of range [0, %lld)",
                           (long long)toks[i], (long long)c->m->hp.n_vocab);
    memcpy(c->tokens, toks, n * sizeof *toks);
    tf_run r = {.tokens = c->tokens, .n_tokens = (int32_t)n, .n_past = (int32_t)c->n_past,
                .n_out = all_logits ? (int32_t)n : 1, .logits = c->logits};
    tf_status st = c->be->compute(c, &r);
    if (st) return st;
    c->n_past += (uint32_t)n;
    c->n_logit_rows = r.n_out;
    c->err[0] = 0;
    return TF_OK;
}

tf_status tf_logits(tf_context *c, int32_t i, const float **out)
{
    if (!c || !out) return TF_ERR_INVALID_ARG;
    if (c->n_logit_rows == 0)
        return set_err(c, TF_ERR_STATE, "tf_logits: no logits yet (call tf_eval first)");
    if (i < 0) i = c->n_logit_rows - 1;
    if (i >= c->n_logit_rows)
        return set_err(c, TF_ERR_INVALID_ARG, "tf_logits: row %lld but the last eval kept %lld",
                       (long long)i, (long long)c->n_logit_rows);
    *out = c->logits + (size_t)i * (size_t)c->m->hp.n_vocab;
    return TF_OK;
}
