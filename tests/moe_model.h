/* moe_model.h - generate small llama-family GGUF models with random
 * weights (dense, Mixtral-style MoE, qwen2moe, olmoe) for test_moe.c and
 * bench/bench_moe.c, through gguf_writer.h.
 *
 * mm_build() fills an mm_model from an mm_spec; mm_save() writes it as a
 * GGUF file.  With keep_floats the F32 values every tensor was made from
 * stay available (mm_get) for a reference forward pass: for F32 matrices
 * they are exactly what the engine reads.  The vocabulary is a plain
 * SentencePiece list "<unk>", "<s>", "</s>", "t3", "t4", ...; the tests
 * feed token ids, never text.
 */
#ifndef TF_MOE_MODEL_H
#define TF_MOE_MODEL_H

#include <math.h>
#include <stdio.h>
#include "gguf_writer.h"

typedef struct mm_spec {
    const char *arch;         /* "llama", "qwen2moe", "olmoe" */
    int n_embd, n_layer, n_head, n_head_kv, n_vocab, n_ctx;
    int n_ff;                 /* dense FFN rows (and feed_forward_length) */
    int n_expert, n_expert_used, n_ff_exp;
    int n_ff_shexp;           /* rows of the shared expert (0: none) */
    int n_expert_shared;      /* > 0: write expert_shared_count */
    bool no_shexp_gate;       /* leave out ffn_gate_inp_shexp */
    uint32_t wtype;           /* type of every matrix: F32, F16, Q8_0... */
    bool mixed;               /* attn_v and ffn_up in wtype2 instead */
    uint32_t wtype2;
    uint64_t seed;
    /* Generic keys, written only when set: gating_func > 0,
     * weights_norm >= 0, weights_scale > 0. */
    int gating_func, weights_norm;
    float weights_scale;
    bool keep_floats;
} mm_spec;

#define MM_MAX_T GW_MAX_T

typedef struct mm_model {
    gw_model gw;
    mm_spec sp;
    char keys[32][96];
    int n_keys;
    size_t n;                 /* tensors made (gw.n_t shrinks if a test deletes) */
    char names[MM_MAX_T][64];
    float *vals[MM_MAX_T];    /* the F32 values (keep_floats), else NULL */
    void *data[MM_MAX_T];     /* tensor bytes in the file's type */
    char *tok_text;
    tf_gguf_str *toks;
} mm_model;

static inline const char *mm_key(mm_model *mm, const char *suffix)
{
    if (mm->n_keys == 32) abort();
    char *k = mm->keys[mm->n_keys++];
    snprintf(k, 96, "%s.%s", mm->sp.arch, suffix);
    return k;
}

static inline float mm_uniform(uint64_t *s) /* [-1, 1) */
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return (float)(((*s >> 11) & 0xffffff) / 8388608.0 - 1.0);
}

/* Add tensor name [ne0, ne1, ne2] of type t: values base + amp * U(-1, 1). */
static inline void mm_tensor(mm_model *mm, uint64_t *rng, const char *name, uint32_t t, int nd,
                             int64_t ne0, int64_t ne1, int64_t ne2, float base, float amp)
{
    size_t i = mm->n++;
    snprintf(mm->names[i], sizeof mm->names[i], "%s", name);
    tf_gguf_tensor *gt = gw_tadd(&mm->gw, mm->names[i], t, (uint32_t)nd, ne0, ne1);
    gw_reshape(gt, t, (uint32_t)nd, ne0, ne1, ne2);
    size_t n = (size_t)(ne0 * ne1 * ne2);
    float *v = malloc(n * sizeof *v);
    if (!v) abort();
    for (size_t k = 0; k < n; k++) v[k] = base + amp * mm_uniform(rng);
    if (t == TF_TYPE_F32) {
        mm->data[i] = v;
    } else {
        mm->data[i] = malloc((size_t)gt->size);
        if (!mm->data[i]) abort();
        const tf_type_kernels *k = tf_kernels_of(t);
        size_t rb = tf_row_size(t, ne0);
        for (int64_t r = 0; r < ne1 * ne2; r++)
            k->from_float(v + r * ne0, (uint8_t *)mm->data[i] + (size_t)r * rb, ne0);
    }
    gt->data = mm->data[i];
    if (mm->sp.keep_floats) mm->vals[i] = v;
    else if (v != mm->data[i]) free(v);
}

static inline const float *mm_get(const mm_model *mm, const char *name)
{
    for (size_t i = 0; i < mm->n; i++)
        if (!strcmp(mm->names[i], name)) return mm->vals[i];
    return NULL;
}

static inline void mm_vocab(mm_model *mm)
{
    int n = mm->sp.n_vocab;
    mm->tok_text = malloc((size_t)n * 12);
    mm->toks = malloc((size_t)n * sizeof *mm->toks);
    if (!mm->tok_text || !mm->toks) abort();
    for (int i = 0; i < n; i++) {
        char *p = mm->tok_text + (size_t)i * 12;
        if (i < 3) snprintf(p, 12, "%s", i == 0 ? "<unk>" : i == 1 ? "<s>" : "</s>");
        else snprintf(p, 12, "t%d", i);
        mm->toks[i] = gw_s(p);
    }
    gw_set_str(&mm->gw, "tokenizer.ggml.model", "llama");
    tf_gguf_kv *kv = gw_kv(&mm->gw, "tokenizer.ggml.tokens");
    kv->type = TF_GGUF_ARRAY;
    kv->v.arr.type = TF_GGUF_STRING;
    kv->v.arr.n = (uint64_t)n;
    kv->v.arr.strs = mm->toks;
}

static inline void mm_hparams(mm_model *mm)
{
    const mm_spec *sp = &mm->sp;
    gw_model *g = &mm->gw;
    gw_set_str(g, "general.architecture", sp->arch);
    gw_set_u32(g, mm_key(mm, "context_length"), (uint64_t)sp->n_ctx);
    gw_set_u32(g, mm_key(mm, "embedding_length"), (uint64_t)sp->n_embd);
    gw_set_u32(g, mm_key(mm, "block_count"), (uint64_t)sp->n_layer);
    gw_set_u32(g, mm_key(mm, "feed_forward_length"), (uint64_t)sp->n_ff);
    gw_set_u32(g, mm_key(mm, "attention.head_count"), (uint64_t)sp->n_head);
    gw_set_u32(g, mm_key(mm, "attention.head_count_kv"), (uint64_t)sp->n_head_kv);
    gw_set_f(g, mm_key(mm, "attention.layer_norm_rms_epsilon"), TF_GGUF_F32, 1e-5);
    gw_set_f(g, mm_key(mm, "rope.freq_base"), TF_GGUF_F32, 10000.0);
    if (sp->n_expert) {
        gw_set_u32(g, mm_key(mm, "expert_count"), (uint64_t)sp->n_expert);
        gw_set_u32(g, mm_key(mm, "expert_used_count"), (uint64_t)sp->n_expert_used);
        gw_set_u32(g, mm_key(mm, "expert_feed_forward_length"), (uint64_t)sp->n_ff_exp);
    }
    if (sp->n_ff_shexp)
        gw_set_u32(g, mm_key(mm, "expert_shared_feed_forward_length"), (uint64_t)sp->n_ff_shexp);
    if (sp->n_expert_shared)
        gw_set_u32(g, mm_key(mm, "expert_shared_count"), (uint64_t)sp->n_expert_shared);
    if (sp->gating_func > 0)
        gw_set_u32(g, mm_key(mm, "expert_gating_func"), (uint64_t)sp->gating_func);
    if (sp->weights_norm >= 0)
        gw_set_u(g, mm_key(mm, "expert_weights_norm"), TF_GGUF_BOOL, (uint64_t)sp->weights_norm);
    if (sp->weights_scale > 0)
        gw_set_f(g, mm_key(mm, "expert_weights_scale"), TF_GGUF_F32, sp->weights_scale);
}

static inline void mm_layer(mm_model *mm, uint64_t *rng, int il)
{
    const mm_spec *sp = &mm->sp;
    uint32_t t = sp->wtype;
    int64_t e = sp->n_embd, hd = sp->n_embd / sp->n_head, nq = sp->n_head * hd,
            nkv = sp->n_head_kv * hd, ff = sp->n_ff_exp, ne = sp->n_expert;
    float a = 1.0f / sqrtf((float)e) * 1.7f; /* keeps activations O(1) */
    bool qwen = !strcmp(sp->arch, "qwen2moe"), olmoe = !strcmp(sp->arch, "olmoe");
    char n[64];
#define MM_T(suffix, ty, nd, a0, a1, a2, base, amp)                                       \
    do {                                                                                \
        snprintf(n, sizeof n, "blk.%d.%s", il, suffix);                                 \
        mm_tensor(mm, rng, n, ty, nd, a0, a1, a2, base, amp);                           \
    } while (0)
    MM_T("attn_norm.weight", TF_TYPE_F32, 1, e, 1, 1, 1.0f, 0.2f);
    MM_T("attn_q.weight", t, 2, e, nq, 1, 0, a);
    MM_T("attn_k.weight", t, 2, e, nkv, 1, 0, a);
    MM_T("attn_v.weight", sp->mixed ? sp->wtype2 : t, 2, e, nkv, 1, 0, a);
    MM_T("attn_output.weight", t, 2, nq, e, 1, 0, a);
    if (qwen) {
        MM_T("attn_q.bias", TF_TYPE_F32, 1, nq, 1, 1, 0, 0.2f);
        MM_T("attn_k.bias", TF_TYPE_F32, 1, nkv, 1, 1, 0, 0.2f);
        MM_T("attn_v.bias", TF_TYPE_F32, 1, nkv, 1, 1, 0, 0.2f);
    }
    if (olmoe) {
        MM_T("attn_q_norm.weight", TF_TYPE_F32, 1, nq, 1, 1, 1.0f, 0.3f);
        MM_T("attn_k_norm.weight", TF_TYPE_F32, 1, nkv, 1, 1, 1.0f, 0.3f);
    }
    MM_T("ffn_norm.weight", TF_TYPE_F32, 1, e, 1, 1, 1.0f, 0.2f);
    if (!ne) {
        MM_T("ffn_gate.weight", t, 2, e, sp->n_ff, 1, 0, a);
        MM_T("ffn_up.weight", sp->mixed ? sp->wtype2 : t, 2, e, sp->n_ff, 1, 0, a);
        MM_T("ffn_down.weight", t, 2, sp->n_ff, e, 1, 0, 1.7f / sqrtf((float)sp->n_ff));
        return;
    }
    /* The router gets larger weights so top-k choices are clear-cut. */
    MM_T("ffn_gate_inp.weight", t, 2, e, ne, 1, 0, 4 * a);
    MM_T("ffn_gate_exps.weight", t, 3, e, ff, ne, 0, a);
    MM_T("ffn_up_exps.weight", t, 3, e, ff, ne, 0, a);
    MM_T("ffn_down_exps.weight", t, 3, ff, e, ne, 0, 1.7f / sqrtf((float)ff));
    if (sp->n_ff_shexp) {
        int64_t fs = sp->n_ff_shexp;
        if (!sp->no_shexp_gate)
            MM_T("ffn_gate_inp_shexp.weight", TF_TYPE_F32, 1, e, 1, 1, 0, 2 * a);
        MM_T("ffn_gate_shexp.weight", t, 2, e, fs, 1, 0, a);
        MM_T("ffn_up_shexp.weight", t, 2, e, fs, 1, 0, a);
        MM_T("ffn_down_shexp.weight", t, 2, fs, e, 1, 0, 1.7f / sqrtf((float)fs));
    }
#undef MM_T
}

/* A heap model (free with mm_free). */
static inline mm_model *mm_build(const mm_spec *sp)
{
    mm_model *mm = calloc(1, sizeof *mm);
    if (!mm) abort();
    mm->sp = *sp;
    mm->gw.magic = GW_MAGIC;
    mm->gw.version = 3;
    mm->gw.align = 32;
    uint64_t rng = sp->seed ? sp->seed : 1;
    mm_hparams(mm);
    mm_vocab(mm);
    int64_t e = sp->n_embd;
    mm_tensor(mm, &rng, "token_embd.weight", sp->wtype, 2, e, sp->n_vocab, 1, 0, 1.0f);
    for (int il = 0; il < sp->n_layer; il++) mm_layer(mm, &rng, il);
    mm_tensor(mm, &rng, "output_norm.weight", TF_TYPE_F32, 1, e, 1, 1, 1.0f, 0.2f);
    mm_tensor(mm, &rng, "output.weight", sp->wtype, 2, e, sp->n_vocab, 1, 0,
              1.0f / sqrtf((float)e));
    return mm;
}

static inline bool mm_save(const mm_model *mm, const char *path)
{
    size_t len;
    uint8_t *buf = gw_write(&mm->gw, NULL, &len);
    FILE *f = fopen(path, "wb");
    bool ok = f && fwrite(buf, 1, len, f) == len;
    if (f) ok = fclose(f) == 0 && ok;
    free(buf);
    return ok;
}

static inline void mm_free(mm_model *mm)
{
    if (!mm) return;
    for (size_t i = 0; i < mm->n; i++) {
        if (mm->vals[i] != mm->data[i]) free(mm->vals[i]);
        free(mm->data[i]);
    }
    free(mm->tok_text);
    free(mm->toks);
    free(mm);
}

#endif
