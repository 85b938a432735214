/* quantize_rules.c - which type each tensor gets.
 *
 * The names and mixes are the reference engine's (llama.cpp's
 * llama-quantize), so a "Q4_K_M" file from tinfer has the same tensor
 * types as one from llama.cpp; only the quantizers themselves differ (ours
 * are simpler for the K-quants, identical for the 32-element formats).
 *
 * Rules, with i = the layer number in the tensor's name ("blk.<i>."), n =
 * the number of layers, more_bits(i) = i < n/8 || i >= 7n/8 ||
 * (i - n/8) % 3 == 2 (the first and last eighth of the layers and every
 * third one between), gqa = n_head / n_head_kv:
 *
 *  - Not quantized, copied as they are: 1-D tensors, names not ending in
 *    "weight", norms ("_norm.weight"), MoE routers ("ffn_gate_inp"),
 *    position and token-type embeddings, and a few small special matrices
 *    (conv1d, RWKV time-mix, T5 relative bias, altup/laurel).
 *  - F32, F16, BF16: every quantizable matrix in that type, nothing else.
 *  - Every quantized recipe (unless pure): output.weight, or token_embd.weight
 *    when the output is tied to it, gets Q6_K (Q8_0 stays Q8_0; Q8_0 too
 *    when its rows aren't a whole number of the base type's blocks).
 *  - attn_v:  Q2_K -> Q4_K if gqa >= 4 else Q3_K;  Q3_K_M -> Q5_K for
 *    i < 2, else Q4_K;  Q3_K_L -> Q5_K;  IQ4_NL -> Q5_K if gqa >= 4;
 *    Q4_K_M, Q5_K_M -> Q6_K if more_bits(i);  Q4_K_S -> Q5_K for i < 4;
 *    then a 70B llama (80 layers, gqa > 1) lifts Q3_K/Q4_K to Q5_K, and
 *    8-expert models get Q8_0.
 *  - attn_k: 8-expert models get Q8_0.
 *  - ffn_down (also _exps/_shexp): Q2_K -> Q3_K;  Q3_K_M -> Q5_K for
 *    i < n/16, else Q4_K;  Q3_K_L -> Q5_K;  Q4_K_M, Q5_K_M -> Q6_K if
 *    more_bits(i);  IQ4_NL, Q4_K_S -> Q5_K for i < n/8.
 *  - attn_output: 8-expert models: Q5_K for Q2_K, Q3_K_S, Q3_K_M, IQ4_NL,
 *    Q4_K_S, Q4_K_M;  others: Q2_K -> Q3_K, Q3_K_M -> Q4_K, Q3_K_L -> Q5_K.
 *  - attn_qkv (fused): Q3_K_M, Q3_K_L -> Q4_K;  Q4_K_M -> Q5_K;
 *    Q5_K_M -> Q6_K.
 *  - Always (pure too): a row that is not a whole number of the chosen
 *    type's blocks falls back: Q2_K, Q3_K -> IQ4_NL; Q4_K -> Q5_0;
 *    Q5_K -> Q5_1; Q6_K -> Q8_0; anything else, or a fallback that
 *    still doesn't fit -> F16.
 *
 * Left out: the reference's Falcon-specific exceptions, the IQ1/IQ2/IQ3
 * and TQ/MXFP4 recipes (tinfer has no kernels for those types) and
 * importance matrices.  The reference counts attn_v / ffn_down tensors in
 * its layer-sorted order; for one such tensor per layer that count is the
 * layer number used here.
 */
#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "quantize.h"

static const tf_qrecipe recipes[] = {
    {"F32", TF_FTYPE_F32, TF_TYPE_F32},       {"F16", TF_FTYPE_F16, TF_TYPE_F16},
    {"BF16", TF_FTYPE_BF16, TF_TYPE_BF16},    {"Q8_0", TF_FTYPE_Q8_0, TF_TYPE_Q8_0},
    {"Q5_1", TF_FTYPE_Q5_1, TF_TYPE_Q5_1},    {"Q5_0", TF_FTYPE_Q5_0, TF_TYPE_Q5_0},
    {"Q4_1", TF_FTYPE_Q4_1, TF_TYPE_Q4_1},    {"Q4_0", TF_FTYPE_Q4_0, TF_TYPE_Q4_0},
    {"IQ4_NL", TF_FTYPE_IQ4_NL, TF_TYPE_IQ4_NL},
    {"Q6_K", TF_FTYPE_Q6_K, TF_TYPE_Q6_K},
    {"Q5_K_M", TF_FTYPE_Q5_K_M, TF_TYPE_Q5_K}, {"Q5_K_S", TF_FTYPE_Q5_K_S, TF_TYPE_Q5_K},
    {"Q4_K_M", TF_FTYPE_Q4_K_M, TF_TYPE_Q4_K}, {"Q4_K_S", TF_FTYPE_Q4_K_S, TF_TYPE_Q4_K},
    {"Q3_K_L", TF_FTYPE_Q3_K_L, TF_TYPE_Q3_K}, {"Q3_K_M", TF_FTYPE_Q3_K_M, TF_TYPE_Q3_K},
    {"Q3_K_S", TF_FTYPE_Q3_K_S, TF_TYPE_Q3_K}, {"Q2_K", TF_FTYPE_Q2_K, TF_TYPE_Q2_K},
};

/* The reference's short names for its default K mixes. */
static const struct { const char *alias, *name; } aliases[] = {
    {"Q5_K", "Q5_K_M"}, {"Q4_K", "Q4_K_M"}, {"Q3_K", "Q3_K_M"},
};

static bool eq_nocase(const char *a, const char *b)
{
    for (; *a && *b; a++, b++)
        if (toupper((unsigned char)*a) != toupper((unsigned char)*b)) return false;
    return *a == *b;
}

const tf_qrecipe *tf_qrecipe_find(const char *name)
{
    if (!name) return NULL;
    for (size_t i = 0; i < sizeof aliases / sizeof aliases[0]; i++)
        if (eq_nocase(name, aliases[i].alias)) name = aliases[i].name;
    for (size_t i = 0; i < sizeof recipes / sizeof recipes[0]; i++)
        if (eq_nocase(name, recipes[i].name)) return &recipes[i];
    return NULL;
}

const char *tf_quantize_type_names(void)
{
    return "F32 F16 BF16 Q8_0 Q6_K Q5_K_M (=Q5_K) Q5_K_S Q5_1 Q5_0 Q4_K_M (=Q4_K) Q4_K_S "
           "Q4_1 Q4_0 IQ4_NL Q3_K_L Q3_K_M (=Q3_K) Q3_K_S Q2_K";
}

static bool has(const char *name, const char *part) { return strstr(name, part) != NULL; }

static bool ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), k = strlen(suffix);
    return n >= k && memcmp(s + n - k, suffix, k) == 0;
}

bool tf_qtensor_quantizable(const char *name, uint32_t n_dims)
{
    static const char *const keep[] = {
        "_norm.weight", "ffn_gate_inp.weight", "altup", "laurel", "per_layer_model_proj",
        "ssm_conv1d.weight", "shortconv.conv.weight", "time_mix_", "attn_rel_b.weight",
    };
    if (n_dims < 2 || !ends_with(name, "weight")) return false;
    if (!strcmp(name, "position_embd.weight") || !strcmp(name, "token_types.weight")) return false;
    for (size_t i = 0; i < sizeof keep / sizeof keep[0]; i++)
        if (has(name, keep[i])) return false;
    return true;
}

static bool more_bits(int i, int n) { return i < n / 8 || i >= 7 * n / 8 || (i - n / 8) % 3 == 2; }

static bool is_quant(uint32_t t) { return t != TF_TYPE_F32 && t != TF_TYPE_F16 && t != TF_TYPE_BF16; }

static uint32_t rule_attn_v(uint32_t ft, const tf_qmodel *m, int i, uint32_t t)
{
    int n = m->n_layer;
    if (ft == TF_FTYPE_Q2_K) t = m->n_gqa >= 4 ? TF_TYPE_Q4_K : TF_TYPE_Q3_K;
    else if (ft == TF_FTYPE_Q3_K_M) t = i < 2 ? TF_TYPE_Q5_K : TF_TYPE_Q4_K;
    else if (ft == TF_FTYPE_Q3_K_L) t = TF_TYPE_Q5_K;
    else if (ft == TF_FTYPE_IQ4_NL && m->n_gqa >= 4) t = TF_TYPE_Q5_K;
    else if ((ft == TF_FTYPE_Q4_K_M || ft == TF_FTYPE_Q5_K_M) && more_bits(i, n)) t = TF_TYPE_Q6_K;
    else if (ft == TF_FTYPE_Q4_K_S && i < 4) t = TF_TYPE_Q5_K;
    if (m->is_llama_70b && (t == TF_TYPE_Q3_K || t == TF_TYPE_Q4_K)) t = TF_TYPE_Q5_K;
    if (m->n_expert == 8) t = TF_TYPE_Q8_0;
    return t;
}

static uint32_t rule_ffn_down(uint32_t ft, const tf_qmodel *m, int i, uint32_t t)
{
    int n = m->n_layer;
    if (ft == TF_FTYPE_Q2_K) t = TF_TYPE_Q3_K;
    else if (ft == TF_FTYPE_Q3_K_M) t = i < n / 16 ? TF_TYPE_Q5_K : TF_TYPE_Q4_K;
    else if (ft == TF_FTYPE_Q3_K_L) t = TF_TYPE_Q5_K;
    else if (ft == TF_FTYPE_Q4_K_M) t = more_bits(i, n) ? TF_TYPE_Q6_K : t;
    else if (ft == TF_FTYPE_IQ4_NL && i < n / 8) t = TF_TYPE_Q5_K;
    else if (ft == TF_FTYPE_Q5_K_M && more_bits(i, n)) t = TF_TYPE_Q6_K;
    else if (ft == TF_FTYPE_Q4_K_S && i < n / 8) t = TF_TYPE_Q5_K;
    return t;
}

static uint32_t rule_attn_output(uint32_t ft, const tf_qmodel *m, uint32_t t)
{
    if (m->n_expert == 8) {
        if (ft == TF_FTYPE_Q2_K || ft == TF_FTYPE_Q3_K_S || ft == TF_FTYPE_Q3_K_M ||
            ft == TF_FTYPE_IQ4_NL || ft == TF_FTYPE_Q4_K_S || ft == TF_FTYPE_Q4_K_M)
            t = TF_TYPE_Q5_K;
    } else if (ft == TF_FTYPE_Q2_K) {
        t = TF_TYPE_Q3_K;
    } else if (ft == TF_FTYPE_Q3_K_M) {
        t = TF_TYPE_Q4_K;
    } else if (ft == TF_FTYPE_Q3_K_L) {
        t = TF_TYPE_Q5_K;
    }
    return t;
}

/* The mix: the type a tensor gets before the row-fit check. */
static uint32_t mix_type(const tf_qrecipe *r, const tf_qmodel *m, const char *name, int64_t ne0)
{
    uint32_t ft = r->ftype, t = r->base;
    int i = 0;
    if (sscanf(name, "blk.%d.", &i) != 1 || i < 0) i = 0;
    bool output = !strcmp(name, "output.weight") ||
                  (!m->has_output && !strcmp(name, "token_embd.weight"));
    if (output) {
        const tf_type_traits *tr = tf_type_traits_of(t);
        if (ne0 % (int64_t)tr->blck) t = TF_TYPE_Q8_0;
        else if (t != TF_TYPE_Q8_0) t = TF_TYPE_Q6_K;
    } else if (!strcmp(name, "token_embd.weight")) {
        /* keeps the base type */
    } else if (has(name, "attn_v.weight")) {
        t = rule_attn_v(ft, m, i, t);
    } else if (has(name, "attn_k.weight")) {
        if (m->n_expert == 8) t = TF_TYPE_Q8_0;
    } else if (has(name, "ffn_down")) {
        t = rule_ffn_down(ft, m, i, t);
    } else if (has(name, "attn_output.weight")) {
        t = rule_attn_output(ft, m, t);
    } else if (has(name, "attn_qkv.weight")) {
        if (ft == TF_FTYPE_Q3_K_M || ft == TF_FTYPE_Q3_K_L) t = TF_TYPE_Q4_K;
        else if (ft == TF_FTYPE_Q4_K_M) t = TF_TYPE_Q5_K;
        else if (ft == TF_FTYPE_Q5_K_M) t = TF_TYPE_Q6_K;
    }
    return t;
}

static uint32_t fallback_of(uint32_t t)
{
    switch (t) {
    case TF_TYPE_Q2_K: case TF_TYPE_Q3_K: return TF_TYPE_IQ4_NL;
    case TF_TYPE_Q4_K: return TF_TYPE_Q5_0;
    case TF_TYPE_Q5_K: return TF_TYPE_Q5_1;
    case TF_TYPE_Q6_K: return TF_TYPE_Q8_0;
    default: return TF_TYPE_F16;
    }
}

uint32_t tf_qtensor_type(const tf_qrecipe *r, const tf_qmodel *m, bool pure, const char *name,
                         int64_t ne0, char *note, size_t notelen)
{
    if (note && notelen) note[0] = 0;
    uint32_t t = pure || !is_quant(r->base) ? r->base : mix_type(r, m, name, ne0);
    const tf_type_traits *tr = tf_type_traits_of(t);
    if (ne0 % (int64_t)tr->blck == 0) return t;
    uint32_t f = fallback_of(t);
    if (ne0 % (int64_t)tf_type_traits_of(f)->blck) f = TF_TYPE_F16;
    tf_errf(note, notelen, "rows of %lld elements are not a multiple of %s's block of %u: using %s",
            (long long)ne0, tr->name, tr->blck, tf_type_name(f));
    return f;
}
