/* model.c - GGUF index -> checked hyperparameters, tokenizer and weights.
 *
 * The loader (gguf.c) proved the bytes are well formed; this layer proves
 * they make a model: required hyperparameters present and consistent,
 * every required tensor present with the shape they imply.  The
 * architecture file (arch_*.c) names the tensors; this file holds what all
 * architectures share.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model.h"

static void model_free(tf_model *m)
{
    if (!m) return;
    tf_tokenizer_free(m->tok);
    tf_gguf_close(m->g);
    for (size_t i = 0; m->weights && i < m->n_weights; i++)
        free(m->weights[i].pack_mem);
    free(m->weights);
    free(m->bf16_mem);
    free(m->names);
    free(m->layers);
    free(m->keys);
    free(m->key_text);
    free(m);
}

void tf_model_close(tf_model *m) { model_free(m); }

const char *tf_model_error(const tf_model *m) { (void)m; return tf_last_error(); }

tf_model_params tf_model_default_params(void)
{
    tf_model_params p = {.backend = TF_BACKEND_CPU, .device = -1, .vocab_only = false, .f16_as_bf16 = false};
    return p;
}

const tf_tokenizer *tf_model_tokenizer(const tf_model *m) { return m ? m->tok : NULL; }
const tf_gguf *tf_model_gguf(const tf_model *m) { return m ? m->g : NULL; }

const char *tf_model_chat_template(const tf_model *m, size_t *len)
{
    tf_gguf_str s;
    if (!m || tf_gguf_get_str(m->g, "tokenizer.chat_template", &s) != 0) return NULL;
    if (len) *len = s.len;
    return s.ptr;
}

/* ---- hyperparameters ------------------------------------------------ */

typedef struct hp_reader {
    const tf_model *m;
    char *err;
    size_t errlen;
    bool failed;
} hp_reader;

static void key_of(const hp_reader *r, const char *suffix, char *key, size_t n)
{
    snprintf(key, n, "%s.%s", r->m->arch_name, suffix);
}

/* Integer hyperparameter "<arch>.<suffix>" in [lo, hi]; def when absent
 * and not required. */
static int32_t hp_int(hp_reader *r, const char *suffix, bool required, int64_t def,
                      int64_t lo, int64_t hi)
{
    char key[128];
    key_of(r, suffix, key, sizeof key);
    int64_t v;
    int rc = tf_gguf_get_i64(r->m->g, key, &v);
    if (r->failed) return (int32_t)def;
    if (rc == 1) {
        if (!required) return (int32_t)def;
        tf_errf(r->err, r->errlen, "%s: required hyperparameter '%s' is missing",
                tf_gguf_name(r->m->g), key);
        r->failed = true;
        return (int32_t)def;
    }
    if (rc < 0 || v < lo || v > hi) {
        const tf_gguf_kv *kv = tf_gguf_find(r->m->g, key);
        if (rc < 0)
            tf_errf(r->err, r->errlen, "%s: hyperparameter '%s' has type %s, expected an integer",
                    tf_gguf_name(r->m->g), key, tf_gguf_vtype_name(kv->type));
        else
            tf_errf(r->err, r->errlen, "%s: hyperparameter '%s' = %lld is outside [%lld, %lld]",
                    tf_gguf_name(r->m->g), key, (long long)v, (long long)lo, (long long)hi);
        r->failed = true;
        return (int32_t)def;
    }
    return (int32_t)v;
}

static float hp_float(hp_reader *r, const char *suffix, bool required, float def, float lo,
                      float hi)
{
    char key[128];
    key_of(r, suffix, key, sizeof key);
    float v;
    int rc = tf_gguf_get_f32(r->m->g, key, &v);
    if (r->failed) return def;
    if (rc == 1) {
        if (!required) return def;
        tf_errf(r->err, r->errlen, "%s: required hyperparameter '%s' is missing",
                tf_gguf_name(r->m->g), key);
        r->failed = true;
        return def;
    }
    if (rc < 0 || !(v >= lo && v <= hi)) {
        tf_errf(r->err, r->errlen, "%s: hyperparameter '%s' %s", tf_gguf_name(r->m->g), key,
                rc < 0 ? "is not a float" : "is out of range or not finite");
        r->failed = true;
        return def;
    }
    return v;
}

/* fmt's %s gets the full key "<arch>.<suffix>". */
static bool hp_fail(hp_reader *r, const char *fmt, const char *suffix, long long a, long long b)
{
    char msg[300], key[128];
    key_of(r, suffix, key, sizeof key);
    snprintf(msg, sizeof msg, fmt, key, a, b);
    tf_errf(r->err, r->errlen, "%s: %s", tf_gguf_name(r->m->g), msg);
    r->failed = true;
    return false;
}

static bool read_rope_scaling(hp_reader *r, tf_hparams *hp, tf_model *m)
{
    char key[128];
    tf_gguf_str s = {"none", 4};
    key_of(r, "rope.scaling.type", key, sizeof key);
    int rc = tf_gguf_get_str(m->g, key, &s);
    if (rc < 0) {
        tf_errf(r->err, r->errlen, "%s: hyperparameter '%s' is not a string", tf_gguf_name(m->g), key);
        r->failed = true;
        return false;
    }
    float factor = hp_float(r, "rope.scaling.factor", false, 0.0f, 0.0f, 1e6f);
    float linear = hp_float(r, "rope.scale_linear", false, 0.0f, 0.0f, 1e6f);
    if (rc == 1 && linear > 0) { s.ptr = "linear"; s.len = 6; factor = linear; }
    hp->rope_freq_scale = factor > 0 ? 1.0f / factor : 1.0f;
    if (tf_gguf_str_eq(s, "none")) {
        hp->rope_scaling = TF_ROPE_SCALING_NONE;
        hp->rope_freq_scale = 1.0f;
    } else if (tf_gguf_str_eq(s, "linear")) {
        hp->rope_scaling = TF_ROPE_SCALING_LINEAR;
    } else if (tf_gguf_str_eq(s, "yarn")) {
        hp->rope_scaling = TF_ROPE_SCALING_YARN;
        hp->yarn_orig_ctx = hp_int(r, "rope.scaling.original_context_length", false,
                                   hp->n_ctx_train, 1, TF_MAX_CTX);
        hp->yarn_ext_factor = 1.0f;
        hp->yarn_attn_factor = hp_float(r, "rope.scaling.attn_factor", false, 1.0f, 0.0f, 100.0f);
        hp->yarn_beta_fast = hp_float(r, "rope.scaling.yarn_beta_fast", false, 32.0f, 0.0f, 1e4f);
        hp->yarn_beta_slow = hp_float(r, "rope.scaling.yarn_beta_slow", false, 1.0f, 0.0f, 1e4f);
    } else {
        char val[40];
        snprintf(val, sizeof val, "%.*s", (int)(s.len < 32 ? s.len : 32), s.ptr);
        tf_errf(r->err, r->errlen, "%s: rope scaling type '%s' is not supported (none, linear, yarn)",
                tf_gguf_name(m->g), val);
        r->failed = true;
        return false;
    }
    snprintf(m->rope_scaling_name, sizeof m->rope_scaling_name, "%.*s", (int)s.len, s.ptr);
    return !r->failed;
}

/* Generic transformer hyperparameters shared by every family. */
static bool read_hparams(tf_model *m, char *err, size_t errlen)
{
    hp_reader r = {.m = m, .err = err, .errlen = errlen};
    tf_hparams *hp = &m->hp;
    int32_t nvt = tf_tokenizer_n_vocab(m->tok);
    hp->n_ctx_train = hp_int(&r, "context_length", true, 0, 1, TF_MAX_CTX);
    hp->n_embd = hp_int(&r, "embedding_length", true, 0, 1, TF_MAX_EMBD);
    hp->n_layer = hp_int(&r, "block_count", true, 0, 1, TF_MAX_LAYERS);
    hp->n_ff = hp_int(&r, "feed_forward_length", false, 0, 0, 1 << 20);
    hp->n_head = hp_int(&r, "attention.head_count", true, 0, 1, TF_MAX_HEADS);
    hp->n_head_kv = hp_int(&r, "attention.head_count_kv", false, hp->n_head, 1, TF_MAX_HEADS);
    hp->n_vocab = hp_int(&r, "vocab_size", false, nvt, 1, TF_MAX_VOCAB);
    hp->rms_eps = hp_float(&r, "attention.layer_norm_rms_epsilon", true, 1e-5f, 1e-12f, 1.0f);
    hp->rope_base = hp_float(&r, "rope.freq_base", false, 10000.0f, 1e-3f, 1e12f);
    hp->n_expert = hp_int(&r, "expert_count", false, 0, 0, TF_MAX_EXPERTS);
    hp->n_expert_used = hp_int(&r, "expert_used_count", false, 0, 0, TF_MAX_EXPERTS);
    if (r.failed) return false;
    if (hp->n_embd % hp->n_head)
        return hp_fail(&r, "%s: %lld heads do not divide the embedding of %lld", "attention.head_count",
                       hp->n_head, hp->n_embd);
    int32_t hd = hp->n_embd / hp->n_head;
    hp->head_dim = hp_int(&r, "attention.key_length", false, hd, 1, TF_MAX_EMBD);
    int32_t vl = hp_int(&r, "attention.value_length", false, hp->head_dim, 1, TF_MAX_EMBD);
    if (r.failed) return false;
    if (vl != hp->head_dim)
        return hp_fail(&r, "%s: value length %lld differs from key length %lld (unsupported)",
                       "attention.value_length", vl, hp->head_dim);
    if (hp->n_head % hp->n_head_kv)
        return hp_fail(&r, "%s: %lld KV heads do not divide %lld heads", "attention.head_count_kv",
                       hp->n_head_kv, hp->n_head);
    hp->n_rot = hp_int(&r, "rope.dimension_count", false, hp->head_dim, 0, hp->head_dim);
    if (r.failed) return false;
    if (hp->n_rot % 2)
        return hp_fail(&r, "%s: rope dimension count %lld is odd (head size %lld)",
                       "rope.dimension_count", hp->n_rot, hp->head_dim);
    if (hp->n_vocab != nvt)
        return hp_fail(&r, "%s is %lld but the tokenizer has %lld tokens", "vocab_size",
                       hp->n_vocab, nvt);
    if ((hp->n_expert == 0) != (hp->n_expert_used == 0) || hp->n_expert_used > hp->n_expert)
        return hp_fail(&r, "%s: %lld experts with %lld used per token is inconsistent",
                       "expert_count", hp->n_expert, hp->n_expert_used);
    hp->rope_type = TF_ROPE_NORM;
    hp->expert_weights_scale = 1.0f;
    return read_rope_scaling(&r, hp, m);
}

/* ---- weights ------------------------------------------------------- */

static tf_weight *find_weight(tf_model *m, const char *name)
{
    const tf_gguf_tensor *t = tf_gguf_find_tensor(m->g, name);
    if (!t) return NULL;
    return &m->weights[t - tf_gguf_tensor_at(m->g, 0)];
}

tf_weight *tf_model_weight(tf_model *m, const char *name, bool required, int n_dims,
                           const int64_t *ne, char *err, size_t errlen, bool *failed)
{
    if (*failed) return NULL; /* keep the first error: it names the first defect */
    tf_weight *w = find_weight(m, name);
    if (!w) {
        if (required) {
            tf_errf(err, errlen, "%s: required tensor '%s' is missing", tf_gguf_name(m->g), name);
            *failed = true;
        }
        return NULL;
    }
    for (int d = 0; d < 4; d++) {
        int64_t want = d < n_dims ? ne[d] : 1;
        if (w->ne[d] != want) {
            tf_errf(err, errlen,
                    "%s: tensor '%s' has shape [%lld, %lld, %lld, %lld], expected [%lld, %lld, %lld, %lld]",
                    tf_gguf_name(m->g), name, (long long)w->ne[0], (long long)w->ne[1],
                    (long long)w->ne[2], (long long)w->ne[3], (long long)ne[0],
                    (long long)(n_dims > 1 ? ne[1] : 1), (long long)(n_dims > 2 ? ne[2] : 1),
                    (long long)(n_dims > 3 ? ne[3] : 1));
            *failed = true;
            return NULL;
        }
    }
    const tf_type_traits *tt = tf_type_traits_of(w->type);
    if (!tt->compute) {
        tf_errf(err, errlen, "%s: tensor '%s' has type %s (id %u), which tinfer cannot compute with",
                tf_gguf_name(m->g), name, tt->name, w->type);
        *failed = true;
        return NULL;
    }
    return w;
}

tf_weight *tf_model_weightf(tf_model *m, bool required, int n_dims, const int64_t *ne, char *err,
                            size_t errlen, bool *failed, const char *fmt, ...)
{
    char name[TF_GGUF_MAX_NAME + 1];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(name, sizeof name, fmt, ap);
    va_end(ap);
    return tf_model_weight(m, name, required, n_dims, ne, err, errlen, failed);
}

static size_t n_elements(const tf_weight *w)
{
    return (size_t)(w->ne[0] * w->ne[1] * w->ne[2] * w->ne[3]);
}

static bool index_weights(tf_model *m, char *err, size_t errlen)
{
    uint64_t n = tf_gguf_n_tensors(m->g), names = 0;
    for (uint64_t i = 0; i < n; i++) names += tf_gguf_tensor_at(m->g, i)->name.len + 1;
    m->weights = calloc(n ? n : 1, sizeof *m->weights);
    m->names = malloc(names ? names : 1);
    if (!m->weights || !m->names) {
        tf_errf(err, errlen, "out of memory indexing %llu tensors", (unsigned long long)n);
        return false;
    }
    char *p = m->names;
    for (uint64_t i = 0; i < n; i++) {
        const tf_gguf_tensor *t = tf_gguf_tensor_at(m->g, i);
        tf_weight *w = &m->weights[i];
        memcpy(p, t->name.ptr, t->name.len);
        p[t->name.len] = 0;
        w->name = p;
        p += t->name.len + 1;
        w->data = t->data;
        w->type = t->type;
        memcpy(w->ne, t->ne, sizeof w->ne);
        w->row_bytes = tf_row_size(t->type, t->ne[0]);
        m->n_params += n_elements(w);
        m->weight_bytes += t->size;
    }
    m->n_weights = n;
    return true;
}

/* ---- open ---------------------------------------------------------- */

static tf_status fail(tf_model *m, tf_status st, const char *err)
{
    tf_set_last_error("%s", err);
    model_free(m);
    return st;
}

/* Kernels read tensor elements in place, so each tensor must start at its
 * element's natural alignment (block types: 2, for their f16 scale).  A
 * file with general.alignment 1 or 2 can place data anywhere. */
static bool check_data_alignment(tf_model *m, char *err, size_t errlen)
{
    for (size_t i = 0; i < m->n_weights; i++) {
        const tf_weight *w = &m->weights[i];
        const tf_type_traits *tt = tf_type_traits_of(w->type);
        uintptr_t need = tt->blck == 1 ? tt->size : 2;
        if ((uintptr_t)w->data % need) {
            tf_errf(err, errlen,
                    "%s: tensor '%s' data at file offset %llu is not aligned to %u bytes "
                    "(general.alignment %u)",
                    tf_gguf_name(m->g), w->name,
                    (unsigned long long)(tf_gguf_data_offset(m->g) + tf_gguf_tensor_at(m->g, i)->offset),
                    (unsigned)need, tf_gguf_alignment(m->g));
            return false;
        }
    }
    return true;
}

/* Whether w is an F16 matrix f16_as_bf16 converts: not the token
 * embedding, a row lookup (an output matrix tied to it multiplies one
 * token per prompt unless every row's logits are asked for). */
static bool is_f16_matrix(const tf_model *m, const tf_weight *w)
{
    return w->type == TF_TYPE_F16 && w->ne[1] > 1 && w != m->tok_embd;
}

/* params.f16_as_bf16: every F16 matrix becomes a BF16 copy in one block
 * (rounded to nearest even through F32, which holds F16 exactly), so the
 * backends see plain BF16 weights. */
static tf_status f16_to_bf16(tf_model *m, char *err, size_t errlen)
{
    size_t bytes = 0;
    float row[1024]; /* 4 KiB: callers may run on small thread stacks */
    for (size_t i = 0; i < m->n_weights; i++)
        if (is_f16_matrix(m, &m->weights[i])) bytes += 2 * n_elements(&m->weights[i]);
    if (!bytes) return TF_OK;
    m->bf16_mem = malloc(bytes);
    if (!m->bf16_mem) {
        tf_errf(err, errlen, "out of memory for the BF16 copy of the F16 matrices (%zu MiB)", bytes >> 20);
        return TF_ERR_NOMEM;
    }
    const tf_type_kernels *from = tf_kernels_of(TF_TYPE_F16), *to = tf_kernels_of(TF_TYPE_BF16);
    uint8_t *dst = m->bf16_mem;
    for (size_t i = 0; i < m->n_weights; i++) {
        tf_weight *w = &m->weights[i];
        if (!is_f16_matrix(m, w)) continue;
        size_t n = n_elements(w);
        for (size_t j = 0; j < n; j += sizeof row / sizeof *row) {
            int64_t k = (int64_t)(n - j < sizeof row / sizeof *row ? n - j : sizeof row / sizeof *row);
            from->to_float((const uint16_t *)w->data + j, row, k);
            to->from_float(row, (uint16_t *)dst + j, k);
        }
        tf_gguf_release(m->g, w->data, 2 * n); /* the file's pages are no longer read */
        w->data = dst;
        w->type = TF_TYPE_BF16;
        w->row_bytes = tf_row_size(TF_TYPE_BF16, w->ne[0]);
        dst += 2 * n;
    }
    return TF_OK;
}

static tf_status open_weights(tf_model *m, char *err, size_t errlen)
{
    m->arch = tf_arch_find(m->arch_name);
    if (!m->arch) {
        tf_errf(err, errlen, "%s: architecture '%s' is not supported", tf_gguf_name(m->g),
                m->arch_name);
        return TF_ERR_UNSUPPORTED;
    }
    if (!read_hparams(m, err, errlen)) return TF_ERR_FORMAT;
    if (!index_weights(m, err, errlen)) return TF_ERR_NOMEM;
    if (!check_data_alignment(m, err, errlen)) return TF_ERR_UNSUPPORTED;
    /* A type GGUF defines but tinfer has no kernels for is valid, not ours. */
    for (size_t i = 0; i < m->n_weights; i++)
        if (!tf_type_traits_of(m->weights[i].type)->compute) {
            tf_errf(err, errlen, "%s: tensor '%s' has type %s (id %u), which tinfer cannot compute with",
                    tf_gguf_name(m->g), m->weights[i].name, tf_type_name(m->weights[i].type),
                    m->weights[i].type);
            return TF_ERR_UNSUPPORTED;
        }
    m->layers = calloc((size_t)m->hp.n_layer, sizeof *m->layers);
    if (!m->layers) {
        tf_errf(err, errlen, "out of memory");
        return TF_ERR_NOMEM;
    }
    int rc = m->arch->load(m, err, errlen);
    if (rc) return rc > 0 ? (tf_status)rc : TF_ERR_FORMAT;
    return m->params.f16_as_bf16 ? f16_to_bf16(m, err, errlen) : TF_OK;
}

tf_status tf_model_open(const char *path, const tf_model_params *params, tf_model **out)
{
    char err[TF_ERRLEN] = "";
    if (!out || !path) {
        tf_set_last_error("tf_model_open: NULL %s", out ? "path" : "out");
        return TF_ERR_INVALID_ARG;
    }
    *out = NULL;
    tf_kernels_init(false); /* idempotent; honours TINFER_KERNELS=ref */
    tf_model *m = calloc(1, sizeof *m);
    if (!m) return fail(m, TF_ERR_NOMEM, "out of memory");
    m->params = params ? *params : tf_model_default_params();
    if (m->params.f16_as_bf16 && m->params.backend != TF_BACKEND_CPU)
        return fail(m, TF_ERR_INVALID_ARG, "tf_model_open: f16_as_bf16 is a CPU backend option");
    int grc = tf_gguf_open_file(path, &m->g, err, sizeof err);
    if (grc != 0) return fail(m, (tf_status)grc, err);
    if (!tf_model_index_keys(m)) return fail(m, TF_ERR_NOMEM, "out of memory");
    tf_gguf_str s;
    int rc = tf_gguf_get_str(m->g, "general.architecture", &s);
    if (rc != 0 || s.len == 0 || s.len >= sizeof m->arch_name || memchr(s.ptr, 0, s.len)) {
        tf_errf(err, sizeof err, "%s: general.architecture is %s", path,
                rc == 1 ? "missing" : "not a valid name string");
        return fail(m, TF_ERR_FORMAT, err);
    }
    memcpy(m->arch_name, s.ptr, s.len);
    if (tf_gguf_get_str(m->g, "general.name", &s) == 0)
        snprintf(m->name, sizeof m->name, "%.*s", (int)(s.len < 120 ? s.len : 120), s.ptr);
    char tok_err[TF_ERRLEN] = "";
    if (tf_tokenizer_load(m->g, &m->tok, tok_err, sizeof tok_err) != 0) {
        tf_errf(err, sizeof err, "%s: %s", path, tok_err);
        /* The loader says "out of memory" when that is what failed. */
        return fail(m, strstr(tok_err, "out of memory") ? TF_ERR_NOMEM : TF_ERR_FORMAT, err);
    }
    m->vocab_only = m->params.vocab_only || tf_gguf_n_tensors(m->g) == 0;
    if (!m->vocab_only) {
        tf_status st = open_weights(m, err, sizeof err);
        if (st != TF_OK) return fail(m, st, err);
    } else {
        m->hp.n_vocab = tf_tokenizer_n_vocab(m->tok);
        if (!index_weights(m, err, sizeof err)) return fail(m, TF_ERR_NOMEM, err);
    }
    *out = m;
    return TF_OK;
}

/* ---- description ---------------------------------------------------- */

tf_status tf_model_describe(const tf_model *m, tf_model_desc *d)
{
    if (!m || !d) return TF_ERR_INVALID_ARG;
    const tf_hparams *hp = &m->hp;
    memset(d, 0, sizeof *d);
    d->arch = m->arch_name;
    d->name = m->name;
    d->n_vocab = tf_tokenizer_n_vocab(m->tok);
    d->n_ctx_train = hp->n_ctx_train;
    d->n_embd = hp->n_embd;
    d->n_layer = hp->n_layer;
    d->n_head = hp->n_head;
    d->n_head_kv = hp->n_head_kv;
    d->n_ff = hp->n_ff;
    d->n_rot = hp->n_rot;
    d->n_expert = hp->n_expert;
    d->n_expert_used = hp->n_expert_used;
    d->n_ff_exp = hp->n_expert ? hp->n_ff_exp : 0;
    d->n_expert_shared = hp->n_expert_shared;
    d->n_ff_shexp = hp->n_ff_shexp;
    d->rope_freq_base = hp->rope_base;
    d->rope_freq_scale = hp->rope_freq_scale;
    d->rms_eps = hp->rms_eps;
    d->rope_scaling = m->rope_scaling_name[0] ? m->rope_scaling_name : "none";
    d->tied_output = m->tied_output;
    d->vocab_only = m->vocab_only;
    d->tokenizer = tf_tokenizer_model(m->tok);
    d->pretokenizer = tf_tokenizer_pre(m->tok);
    d->n_params = m->n_params;
    d->weight_bytes = m->weight_bytes;
    d->file_bytes = tf_gguf_file_size(m->g);
    return TF_OK;
}

size_t tf_model_n_tensors(const tf_model *m) { return m ? m->n_weights : 0; }

tf_status tf_model_tensor(const tf_model *m, size_t i, tf_tensor_info *out)
{
    if (!m || !out || i >= m->n_weights) return TF_ERR_INVALID_ARG;
    const tf_weight *w = &m->weights[i];
    const tf_gguf_tensor *t = tf_gguf_tensor_at(m->g, i);
    out->name = w->name;
    out->type = t->type; /* as in the file, also when f16_as_bf16 converted it */
    out->type_name = tf_type_name(t->type);
    out->n_dims = t->n_dims;
    memcpy(out->ne, w->ne, sizeof out->ne);
    out->bytes = t->size;
    out->offset = tf_gguf_data_offset(m->g) + t->offset;
    return TF_OK;
}
