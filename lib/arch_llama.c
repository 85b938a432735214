/* arch_llama.c - the Llama family: one pre-norm decoder with per-arch
 * features switched on by a table (flavors[] below):
 *
 *   llama     Llama 1/2/3, Mistral, SmolLM, TinyLlama; with experts it is
 *             Mixtral-style MoE (softmax router, top-k renormalised)
 *   qwen2     Q/K/V biases, NEOX rope
 *   qwen2moe  qwen2 + experts (softmax, top-k NOT renormalised) + one
 *             shared expert whose output each token scales by
 *             sigmoid(ffn_gate_inp_shexp . h)
 *   olmoe     experts (softmax, not renormalised), RMS norms over the whole
 *             projected q and k vectors before rope, NEOX rope
 *
 * x += Wo·attn(rope(Wq·h), rope(Wk·h), Wv·h) with h = rmsnorm(x);
 * x += ffn(rmsnorm(x)); logits = W_out·rmsnorm(x).
 *
 * The generic keys {arch}.expert_gating_func (1 softmax, 2 sigmoid; 0 means
 * "unset"), expert_weights_norm, expert_weights_scale and
 * expert_shared_count override a flavor's defaults where a file has them.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "graph.h"

enum { EXP_NONE, EXP_OPTIONAL, EXP_REQUIRED };

typedef struct flavor {
    const char *arch;
    int rope_type;
    bool qkv_bias;    /* Q/K/V biases required (otherwise optional) */
    bool qk_norm;     /* RMS norm of the whole q and k vectors before rope */
    int experts;      /* EXP_*: may / must the file have expert_count > 0 */
    bool shexp_gated; /* a shared expert with a per-token sigmoid gate */
    bool norm_w;      /* renormalise the top-k router weights by default */
} flavor;

static const flavor flavors[] = {
    /* arch       rope          bias   qk_norm experts       shexp  norm_w */
    {"llama",    TF_ROPE_NORM, false, false, EXP_OPTIONAL, false, true},
    {"qwen2",    TF_ROPE_NEOX, true,  false, EXP_NONE,     false, false},
    {"qwen2moe", TF_ROPE_NEOX, true,  false, EXP_REQUIRED, true,  false},
    {"olmoe",    TF_ROPE_NEOX, false, true,  EXP_REQUIRED, false, false},
};

static const flavor *flavor_of(const char *arch)
{
    for (size_t i = 0; i < sizeof flavors / sizeof flavors[0]; i++)
        if (strcmp(flavors[i].arch, arch) == 0) return &flavors[i];
    return NULL;
}

typedef struct binder {
    tf_model *m;
    char *err;
    size_t errlen;
    bool failed;
} binder;

static tf_weight *need(binder *b, int il, const char *suffix, int nd, int64_t a, int64_t c,
                       int64_t d)
{
    int64_t ne[3] = {a, c, d};
    if (il < 0) return tf_model_weight(b->m, suffix, true, nd, ne, b->err, b->errlen, &b->failed);
    return tf_model_weightf(b->m, true, nd, ne, b->err, b->errlen, &b->failed, "blk.%d.%s", il,
                            suffix);
}

static tf_weight *maybe(binder *b, int il, const char *suffix, int nd, int64_t a, int64_t c)
{
    int64_t ne[2] = {a, c};
    return tf_model_weightf(b->m, false, nd, ne, b->err, b->errlen, &b->failed, "blk.%d.%s", il,
                            suffix);
}

static void fail(binder *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void fail(binder *b, const char *fmt, ...)
{
    char msg[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (!b->failed) tf_errf(b->err, b->errlen, "%s: %s", tf_gguf_name(b->m->g), msg);
    b->failed = true;
}

/* Integer key "<arch>.<suffix>" in [lo, hi]; def when absent. */
static int64_t key_int(binder *b, const char *suffix, int64_t def, int64_t lo, int64_t hi)
{
    char key[128];
    snprintf(key, sizeof key, "%s.%s", b->m->arch_name, suffix);
    int64_t v;
    int rc = tf_gguf_get_i64(b->m->g, key, &v);
    if (rc == 1) return def;
    if (rc < 0) fail(b, "hyperparameter '%s' is not an integer", key);
    else if (v < lo || v > hi)
        fail(b, "hyperparameter '%s' = %lld is outside [%lld, %lld]", key, (long long)v,
             (long long)lo, (long long)hi);
    return b->failed ? def : v;
}

static float key_float(binder *b, const char *suffix, float def, float lo, float hi)
{
    char key[128];
    snprintf(key, sizeof key, "%s.%s", b->m->arch_name, suffix);
    float v;
    int rc = tf_gguf_get_f32(b->m->g, key, &v);
    if (rc == 1) return def;
    if (rc < 0 || !(v >= lo && v <= hi))
        fail(b, "hyperparameter '%s' is not a float in [%g, %g]", key, lo, hi);
    return b->failed ? def : v;
}

static bool key_bool(binder *b, const char *suffix, bool def)
{
    char key[128];
    snprintf(key, sizeof key, "%s.%s", b->m->arch_name, suffix);
    bool v;
    int rc = tf_gguf_get_bool(b->m->g, key, &v);
    if (rc == 1) return def;
    if (rc < 0) fail(b, "hyperparameter '%s' is not a bool", key);
    return b->failed ? def : v;
}

/* Expert sizes, router function and weighting: the flavor's defaults,
 * overridden by the generic keys a file carries. */
static int load_moe_hparams(binder *b, const flavor *fl)
{
    tf_hparams *hp = &b->m->hp;
    const char *arch = b->m->arch_name;
    if (hp->n_expert == 0) {
        if (fl->experts == EXP_REQUIRED)
            fail(b, "architecture '%s' needs experts (%s.expert_count > 0)", arch, arch);
        return b->failed ? -1 : 0;
    }
    if (fl->experts == EXP_NONE) {
        fail(b, "architecture '%s' with experts is not supported (expert_count %d)", arch,
             hp->n_expert);
        return TF_ERR_UNSUPPORTED;
    }
    /* Qwen2-MoE files without expert_feed_forward_length split n_ff over
     * the used experts (as the reference does); the others use n_ff. */
    int64_t ff_def = fl->shexp_gated ? hp->n_ff / hp->n_expert_used : hp->n_ff;
    hp->n_ff_exp = (int32_t)key_int(b, "expert_feed_forward_length", 0, 0, 1 << 20);
    if (hp->n_ff_exp == 0) hp->n_ff_exp = (int32_t)ff_def; /* 0 means unset */
    hp->n_expert_shared = (int32_t)key_int(b, "expert_shared_count", fl->shexp_gated, 0,
                                           TF_MAX_EXPERTS);
    if (b->failed) return -1;
    if (hp->n_ff_exp <= 0)
        fail(b, "expert feed-forward length is missing (%s.expert_feed_forward_length)", arch);
    if (fl->shexp_gated && hp->n_expert_shared == 0)
        fail(b, "architecture '%s' needs its shared expert (%s.expert_shared_count is 0)", arch,
             arch);
    if (hp->n_expert_shared) {
        /* One fused FFN for all shared experts: Qwen2-MoE states its size
         * (falling back to n_ff); otherwise n_shared expert-sized FFNs. */
        int64_t sh_def = fl->shexp_gated ? hp->n_ff : (int64_t)hp->n_ff_exp * hp->n_expert_shared;
        hp->n_ff_shexp = (int32_t)key_int(b, "expert_shared_feed_forward_length", 0, 0, 1 << 20);
        if (hp->n_ff_shexp == 0) hp->n_ff_shexp = sh_def > (1 << 20) ? 0 : (int32_t)sh_def;
        if (!b->failed && hp->n_ff_shexp <= 0)
            fail(b, "shared expert feed-forward length is missing or too large "
                    "(%s.expert_shared_feed_forward_length)", arch);
    }
    /* GGUF numbering: 0 unset, 1 softmax, 2 sigmoid. */
    int64_t func = key_int(b, "expert_gating_func", 0, 0, 1 << 30);
    hp->gating = func == 2 ? TF_GATING_SIGMOID : TF_GATING_SOFTMAX;
    if (!b->failed && func > 2) {
        fail(b, "%s.expert_gating_func %lld is not supported (1 softmax, 2 sigmoid)", arch,
             (long long)func);
        return TF_ERR_UNSUPPORTED;
    }
    hp->expert_weights_norm = key_bool(b, "expert_weights_norm", fl->norm_w);
    /* 0 is what files that do not scale write: treat it as unset. */
    float scale = key_float(b, "expert_weights_scale", 1.0f, 0.0f, 1e6f);
    hp->expert_weights_scale = scale > 0 ? scale : 1.0f;
    return b->failed ? -1 : 0;
}

static int bind_ffn(binder *b, tf_layer *L, int il, const flavor *fl)
{
    tf_hparams *hp = &b->m->hp;
    int64_t e = hp->n_embd;
    if (hp->n_expert == 0) {
        if (hp->n_ff <= 0) {
            tf_errf(b->err, b->errlen, "%s: feed_forward_length is missing or zero",
                    tf_gguf_name(b->m->g));
            return -1;
        }
        L->ffn_gate = need(b, il, "ffn_gate.weight", 2, e, hp->n_ff, 1);
        L->ffn_up = need(b, il, "ffn_up.weight", 2, e, hp->n_ff, 1);
        L->ffn_down = need(b, il, "ffn_down.weight", 2, hp->n_ff, e, 1);
        return b->failed ? -1 : 0;
    }
    int64_t ff = hp->n_ff_exp, n = hp->n_expert, fs = hp->n_ff_shexp;
    L->ffn_gate_inp = need(b, il, "ffn_gate_inp.weight", 2, e, n, 1);
    L->ffn_gate_exps = need(b, il, "ffn_gate_exps.weight", 3, e, ff, n);
    L->ffn_up_exps = need(b, il, "ffn_up_exps.weight", 3, e, ff, n);
    L->ffn_down_exps = need(b, il, "ffn_down_exps.weight", 3, ff, e, n);
    if (hp->n_expert_shared) {
        L->ffn_gate_shexp = need(b, il, "ffn_gate_shexp.weight", 2, e, fs, 1);
        L->ffn_up_shexp = need(b, il, "ffn_up_shexp.weight", 2, e, fs, 1);
        L->ffn_down_shexp = need(b, il, "ffn_down_shexp.weight", 2, fs, e, 1);
        L->ffn_gate_inp_shexp = fl->shexp_gated
                                    ? need(b, il, "ffn_gate_inp_shexp.weight", 1, e, 1, 1)
                                    : maybe(b, il, "ffn_gate_inp_shexp.weight", 1, e, 1);
    }
    return b->failed ? -1 : 0;
}

static int bind_attn(binder *b, tf_layer *L, int il, const flavor *fl)
{
    const tf_hparams *hp = &b->m->hp;
    int64_t e = hp->n_embd, n_q = (int64_t)hp->n_head * hp->head_dim,
            n_kv = (int64_t)hp->n_head_kv * hp->head_dim;
    L->attn_norm = need(b, il, "attn_norm.weight", 1, e, 1, 1);
    L->wq = need(b, il, "attn_q.weight", 2, e, n_q, 1);
    L->wk = need(b, il, "attn_k.weight", 2, e, n_kv, 1);
    L->wv = need(b, il, "attn_v.weight", 2, e, n_kv, 1);
    L->wo = need(b, il, "attn_output.weight", 2, n_q, e, 1);
    if (fl->qkv_bias) {
        L->bq = need(b, il, "attn_q.bias", 1, n_q, 1, 1);
        L->bk = need(b, il, "attn_k.bias", 1, n_kv, 1, 1);
        L->bv = need(b, il, "attn_v.bias", 1, n_kv, 1, 1);
    } else {
        L->bq = maybe(b, il, "attn_q.bias", 1, n_q, 1);
        L->bk = maybe(b, il, "attn_k.bias", 1, n_kv, 1);
        L->bv = maybe(b, il, "attn_v.bias", 1, n_kv, 1);
    }
    if (fl->qk_norm) {
        L->attn_q_norm = need(b, il, "attn_q_norm.weight", 1, n_q, 1, 1);
        L->attn_k_norm = need(b, il, "attn_k_norm.weight", 1, n_kv, 1, 1);
    }
    return b->failed ? -1 : 0;
}

static int llama_load(tf_model *m, char *err, size_t errlen)
{
    tf_hparams *hp = &m->hp;
    binder b = {.m = m, .err = err, .errlen = errlen};
    const flavor *fl = flavor_of(m->arch_name);
    hp->rope_type = fl->rope_type;
    int rc = load_moe_hparams(&b, fl);
    if (rc) return rc;
    int64_t e = hp->n_embd;
    m->tok_embd = need(&b, -1, "token_embd.weight", 2, e, hp->n_vocab, 1);
    m->output_norm = need(&b, -1, "output_norm.weight", 1, e, 1, 1);
    int64_t one_ne[2] = {e, hp->n_vocab};
    m->output = tf_model_weight(m, "output.weight", false, 2, one_ne, err, errlen, &b.failed);
    if (b.failed) return -1;
    m->tied_output = m->output == NULL;
    for (int il = 0; il < hp->n_layer; il++) {
        tf_layer *L = &m->layers[il];
        if (bind_attn(&b, L, il, fl)) return -1;
        L->ffn_norm = need(&b, il, "ffn_norm.weight", 1, e, 1, 1);
        if (b.failed || bind_ffn(&b, L, il, fl)) return -1;
    }
    /* Norms, biases and the shared-expert gate vector are applied to F32
     * activations element by element. */
    for (size_t i = 0; i < m->n_weights; i++) {
        const tf_weight *w = &m->weights[i];
        if (w->ne[1] == 1 && w->ne[2] == 1 && w->type != TF_TYPE_F32) {
            tf_errf(err, errlen,
                    "%s: 1-D tensor '%s' has type %s; tinfer expects F32 norms and biases",
                    tf_gguf_name(m->g), w->name, tf_type_name(w->type));
            return TF_ERR_UNSUPPORTED;
        }
    }
    return 0;
}

/* Routed experts, plus the shared expert where the layer has one. */
static int build_ffn(const tf_model *m, tf_graph *g, const tf_layer *L, int h)
{
    const tf_hparams *hp = &m->hp;
    if (!hp->n_expert) {
        int s = tf_g_swiglu(g, tf_g_matmul(g, L->ffn_gate, h, NULL),
                            tf_g_matmul(g, L->ffn_up, h, NULL));
        return tf_g_matmul(g, L->ffn_down, s, NULL);
    }
    int logits = tf_g_matmul(g, L->ffn_gate_inp, h, NULL);
    int gate = tf_g_moe_gate(g, logits, hp->n_expert, hp->n_expert_used, hp->gating,
                             hp->expert_weights_norm, hp->expert_weights_scale);
    int f = tf_g_moe_ffn(g, h, gate, L->ffn_gate_exps, L->ffn_up_exps, L->ffn_down_exps);
    if (L->ffn_gate_shexp) {
        int s = tf_g_swiglu(g, tf_g_matmul(g, L->ffn_gate_shexp, h, NULL),
                            tf_g_matmul(g, L->ffn_up_shexp, h, NULL));
        s = tf_g_matmul(g, L->ffn_down_shexp, s, NULL);
        if (L->ffn_gate_inp_shexp) /* [1, T]: one logit per token */
            s = tf_g_sigmoid_gate(g, s, tf_g_matmul(g, L->ffn_gate_inp_shexp, h, NULL));
        f = tf_g_add(g, f, s);
    }
    return f;
}

static int llama_build(const tf_model *m, tf_graph *g, int32_t n_tokens, bool all_logits)
{
    (void)n_tokens;
    (void)all_logits;
    const tf_hparams *hp = &m->hp;
    int x = tf_g_embed(g, m->tok_embd, hp->n_embd);
    for (int il = 0; il < hp->n_layer; il++) {
        const tf_layer *L = &m->layers[il];
        int h = tf_g_rms_norm(g, x, L->attn_norm, hp->rms_eps);
        int q = tf_g_matmul(g, L->wq, h, L->bq);
        int k = tf_g_matmul(g, L->wk, h, L->bk);
        int v = tf_g_matmul(g, L->wv, h, L->bv);
        if (L->attn_q_norm) { /* OLMoE: one norm over all heads together */
            q = tf_g_rms_norm(g, q, L->attn_q_norm, hp->rms_eps);
            k = tf_g_rms_norm(g, k, L->attn_k_norm, hp->rms_eps);
        }
        q = tf_g_rope(g, q, hp->rope_type, hp->head_dim, hp->n_head, hp->n_rot);
        k = tf_g_rope(g, k, hp->rope_type, hp->head_dim, hp->n_head_kv, hp->n_rot);
        int a = tf_g_attn(g, q, k, v, il);
        x = tf_g_add(g, x, tf_g_matmul(g, L->wo, a, NULL));
        h = tf_g_rms_norm(g, x, L->ffn_norm, hp->rms_eps);
        x = tf_g_add(g, x, build_ffn(m, g, L, h));
    }
    x = tf_g_last_row(g, x);
    x = tf_g_rms_norm(g, x, m->output_norm, hp->rms_eps);
    g->out = tf_g_matmul(g, m->tied_output ? m->tok_embd : m->output, x, NULL);
    return g->failed ? -1 : 0;
}

static const tf_arch archs[] = {
    {"llama", llama_load, llama_build},
    {"qwen2", llama_load, llama_build},
    {"qwen2moe", llama_load, llama_build},
    {"olmoe", llama_load, llama_build},
};

const tf_arch *tf_arch_find(const char *name)
{
    for (size_t i = 0; i < sizeof archs / sizeof archs[0]; i++)
        if (strcmp(archs[i].name, name) == 0) return &archs[i];
    return NULL;
}
