/* gguf_cases.h - the hostile corpus of test_gguf.c: each case edits a
 * valid model (through gguf_writer.h) so that it has exactly one defect,
 * and names the words the rejection message must contain.
 *
 * fmt cases break the GGUF container itself (tf_gguf_open_memory must
 * refuse them); the others are well-formed GGUF that is not a valid model
 * (the parser must accept them and tf_model_open refuse them).
 */
#ifndef TF_GGUF_CASES_H
#define TF_GGUF_CASES_H

#include <math.h>
#include "gguf_writer.h"

enum { B_LLAMA, B_MOE, B_QWEN, B_COUNT };

typedef struct hcase {
    const char *what;
    int base;
    bool fmt;
    void (*mut)(gw_model *m);
    const char *want1, *want2;
} hcase;

static size_t ki(const gw_model *m, const char *key)
{
    long i = gw_kv_index(m, key);
    if (i < 0) abort();
    return (size_t)i;
}
static size_t ti(const gw_model *m, const char *name)
{
    long i = gw_t_index(m, name);
    if (i < 0) abort();
    return (size_t)i;
}

#define Q "blk.0.attn_q.weight"
#define MUT(fn, body) static void fn(gw_model *m) { body; }
#define POKE(at, idx, add, w, v) gw_poke(m, at, idx, add, w, false, v)
#define KV_VAL(key, add, w, v) POKE(GW_KV_VAL, ki(m, key), add, w, v)

static char long_name[300]; /* filled with 'x' by the test's setup */

/* ---- container defects ---------------------------------------------- */
MUT(c_magic, m->magic = 0x46554746u)
MUT(c_ver0, m->version = 0)
MUT(c_ver1, m->version = 1)
MUT(c_ver4, m->version = 4)
MUT(c_ver_be, m->version = 0x03000000u)
MUT(c_nt_huge, POKE(GW_ABS, 0, 8, 8, 1ull << 60))
MUT(c_nt_cap, POKE(GW_ABS, 0, 8, 8, 65537))
MUT(c_nkv_huge, POKE(GW_ABS, 0, 16, 8, 1ull << 60))
MUT(c_nkv_more, POKE(GW_ABS, 0, 16, 8, m->n_kv + 1))
MUT(c_keylen_huge, POKE(GW_KV, 0, 0, 8, 1ull << 62))
MUT(c_str_eof, KV_VAL("general.name", 0, 8, 16u << 20))
MUT(c_arr_huge, KV_VAL("tokenizer.ggml.tokens", 4, 8, 1ull << 40))
MUT(c_arr_eof, KV_VAL("tokenizer.ggml.scores", 4, 8, 16u << 20))
MUT(c_strarr_eof, KV_VAL("tokenizer.ggml.tokens", 4, 8, 1u << 20))
MUT(c_vtype, POKE(GW_KV_TYPE, ki(m, "general.name"), 0, 4, 13))
MUT(c_vtype_max, POKE(GW_KV_TYPE, ki(m, "llama.block_count"), 0, 4, 0xffffffffu))
MUT(c_nested, KV_VAL("tokenizer.ggml.token_type", 0, 4, TF_GGUF_ARRAY))
MUT(c_etype, KV_VAL("tokenizer.ggml.scores", 0, 4, 77))
MUT(c_bool2, KV_VAL("tokenizer.ggml.add_bos_token", 0, 1, 2))
MUT(c_boolarr2, gw_set_arr(m, "test.flags", TF_GGUF_BOOL, 3, "\0\1\2"))
MUT(c_align0, gw_set_u32(m, "general.alignment", 0))
MUT(c_align48, gw_set_u32(m, "general.alignment", 48))
MUT(c_align_big, gw_set_u32(m, "general.alignment", 1u << 30))
MUT(c_align_type, gw_set_u(m, "general.alignment", TF_GGUF_U64, 32))
MUT(c_align_str, gw_set_str(m, "general.alignment", "32"))
MUT(c_ttype_old, POKE(GW_T_TYPE, ti(m, "output_norm.weight"), 0, 4, 4))
MUT(c_ttype_huge, POKE(GW_T_TYPE, ti(m, Q), 0, 4, 1000))
MUT(c_off_misal, gw_poke(m, GW_T_OFF, ti(m, Q), 0, 8, true, 1))
MUT(c_off_range, POKE(GW_T_OFF, ti(m, Q), 0, 8, 1ull << 50))
MUT(c_off_wrap, POKE(GW_T_OFF, ti(m, Q), 0, 8, 0xffffffffffffffe0ull))
MUT(c_past_eof, POKE(GW_T_DIMS, m->n_t - 1, 8, 8, 1024))
MUT(c_overlap, gw_poke(m, GW_T_OFF, ti(m, Q), 0, 8, true, (uint64_t)-32))
MUT(c_dim0, POKE(GW_T_DIMS, ti(m, Q), 8, 8, 0))
MUT(c_dim_ovf, POKE(GW_T_DIMS, ti(m, "token_embd.weight"), 0, 8, 1ull << 32);
    POKE(GW_T_DIMS, ti(m, "token_embd.weight"), 8, 8, 1ull << 32))
MUT(c_dim_neg, POKE(GW_T_DIMS, ti(m, Q), 0, 8, 1ull << 63))
MUT(c_size_ovf, POKE(GW_T_DIMS, ti(m, "output_norm.weight"), 0, 8, 1ull << 62))
MUT(c_ndims5, POKE(GW_T_NDIMS, ti(m, Q), 0, 4, 5))
MUT(c_ndims0, POKE(GW_T_NDIMS, ti(m, Q), 0, 4, 0))
MUT(c_block, POKE(GW_T_DIMS, ti(m, Q), 0, 8, 250))
MUT(c_dup_key, m->kv[m->n_kv] = m->kv[ki(m, "llama.block_count")]; m->n_kv++)
MUT(c_dup_t, m->t[ti(m, "blk.1.attn_q.weight")].name = gw_s(Q))
MUT(c_key_empty, m->kv[ki(m, "general.name")].key = gw_s(""))
MUT(c_key_nul, m->kv[ki(m, "general.name")].key = ((tf_gguf_str){"general.na\0me", 13}))
MUT(c_tname_empty, m->t[ti(m, Q)].name = gw_s(""))
MUT(c_tname_nul, m->t[ti(m, Q)].name = ((tf_gguf_str){"blk.0.attn_q\0.weight", 20}))
MUT(c_tname_long, m->t[ti(m, Q)].name = ((tf_gguf_str){long_name, 300}))

/* ---- model defects --------------------------------------------------- */
/* Alignment 1 with an odd-length header puts every tensor at an odd address. */
MUT(c_align1, m->align = 1; gw_set_u32(m, "general.alignment", 1);
    gw_set_str(m, "general.name", "odd-name-x"))
MUT(c_arch_missing, gw_del(m, "general.architecture"))
MUT(c_arch_type, gw_set_u32(m, "general.architecture", 7))
MUT(c_arch_nul, m->kv[ki(m, "general.architecture")].v.str = ((tf_gguf_str){"lla\0ma", 6}))
MUT(c_arch_unsup, gw_set_str(m, "general.architecture", "gptj"))
MUT(c_no_layers, gw_del(m, "llama.block_count"))
MUT(c_no_embd, gw_del(m, "llama.embedding_length"))
MUT(c_no_heads, gw_del(m, "llama.attention.head_count"))
MUT(c_no_ctx, gw_del(m, "llama.context_length"))
MUT(c_no_eps, gw_del(m, "llama.attention.layer_norm_rms_epsilon"))
MUT(c_no_ff, gw_del(m, "llama.feed_forward_length"))
MUT(c_heads_div, gw_set_u32(m, "llama.attention.head_count", 7))
MUT(c_kv_div, gw_set_u32(m, "llama.attention.head_count_kv", 3))
MUT(c_kv_zero, gw_set_u32(m, "llama.attention.head_count_kv", 0))
MUT(c_layers0, gw_set_u32(m, "llama.block_count", 0))
MUT(c_layers_huge, gw_set_u(m, "llama.block_count", TF_GGUF_U64, 1ull << 40))
MUT(c_layers_neg, gw_set_u(m, "llama.block_count", TF_GGUF_I32, (uint64_t)-2))
MUT(c_layers3, gw_set_u32(m, "llama.block_count", 3))
MUT(c_exp_used, gw_set_u32(m, "llama.expert_count", 2); gw_set_u32(m, "llama.expert_used_count", 3))
MUT(c_exp_only_used, gw_set_u32(m, "llama.expert_used_count", 2))
MUT(c_moe_used, gw_set_u32(m, "llama.expert_used_count", 5))
MUT(c_moe_inp, gw_tdel(m, "blk.0.ffn_gate_inp.weight"))
MUT(c_moe_shape, gw_reshape(gw_t(m, "blk.1.ffn_up_exps.weight"), TF_TYPE_Q4_0, 3, 256, 256, 3))
MUT(c_vocab_size, gw_set_u32(m, "llama.vocab_size", 4000))
MUT(c_no_tensor, gw_tdel(m, "blk.1.ffn_up.weight"))
MUT(c_no_embd_t, gw_tdel(m, "token_embd.weight"))
MUT(c_shape, gw_reshape(gw_t(m, Q), TF_TYPE_Q8_0, 2, 256, 128, 1))
MUT(c_shape_3d, gw_reshape(gw_t(m, "blk.1.attn_k.weight"), TF_TYPE_Q8_0, 3, 256, 64, 2))
MUT(c_shape_out, gw_tadd(m, "output.weight", TF_TYPE_F32, 2, 256, 1000))
MUT(c_hp_str, gw_set_str(m, "llama.block_count", "2"))
MUT(c_hp_float, gw_set_u32(m, "llama.attention.layer_norm_rms_epsilon", 1))
MUT(c_hp_nan, gw_set_f(m, "llama.attention.layer_norm_rms_epsilon", TF_GGUF_F32, NAN))
MUT(c_rope_base, gw_set_f(m, "llama.rope.freq_base", TF_GGUF_F64, -1.0))
MUT(c_rope_odd, gw_set_u32(m, "llama.rope.dimension_count", 31))
MUT(c_rope_big, gw_set_u32(m, "llama.rope.dimension_count", 64))
MUT(c_value_len, gw_set_u32(m, "llama.attention.value_length", 16))
MUT(c_scaling, gw_set_str(m, "llama.rope.scaling.type", "foo"))
MUT(c_scaling_type, gw_set_u32(m, "llama.rope.scaling.type", 1))
MUT(c_qwen_bias, gw_tdel(m, "blk.0.attn_q.bias"))
MUT(c_qwen_bias_shape, gw_reshape(gw_t(m, "blk.1.attn_v.bias"), TF_TYPE_F32, 1, 256, 1, 1))
MUT(c_iq2, gw_reshape(gw_t(m, Q), 16, 2, 256, 256, 1))
MUT(c_q8k, gw_reshape(gw_t(m, "blk.1.attn_k.weight"), TF_TYPE_Q8_K, 2, 256, 128, 1))
MUT(c_i32, gw_reshape(gw_t(m, "blk.0.ffn_down.weight"), 26, 2, 512, 256, 1))
MUT(c_norm_f16, gw_reshape(gw_t(m, "blk.0.attn_norm.weight"), TF_TYPE_F16, 1, 256, 1, 1))
MUT(c_tok_scores, m->kv[ki(m, "tokenizer.ggml.scores")].v.arr.n = 4000)
MUT(c_tok_types, m->kv[ki(m, "tokenizer.ggml.token_type")].v.arr.n = 4095)
MUT(c_tok_missing, gw_del(m, "tokenizer.ggml.tokens"))
MUT(c_tok_str, gw_set_str(m, "tokenizer.ggml.tokens", "a b c"))
MUT(c_tok_u32, tf_gguf_kv *s = &m->kv[ki(m, "tokenizer.ggml.scores")];
    gw_set_arr(m, "tokenizer.ggml.tokens", TF_GGUF_U32, 4096, s->v.arr.data))
MUT(c_tok_empty, gw_set_arr(m, "tokenizer.ggml.tokens", TF_GGUF_STRING, 0, NULL))
MUT(c_tok_model, gw_set_str(m, "tokenizer.ggml.model", "wordpiece"))
MUT(c_bos, gw_set_u32(m, "tokenizer.ggml.bos_token_id", 5000))
MUT(c_eos, gw_set_u32(m, "tokenizer.ggml.eos_token_id", 4096))
MUT(c_bos_neg, gw_set_u(m, "tokenizer.ggml.bos_token_id", TF_GGUF_I32, (uint64_t)-7))
MUT(c_unk, gw_set_u32(m, "tokenizer.ggml.unknown_token_id", 99999))
MUT(c_bos_str, gw_set_str(m, "tokenizer.ggml.bos_token_id", "1"))
MUT(c_qwen_eos, gw_set_u32(m, "tokenizer.ggml.eos_token_id", 4097))
MUT(c_qwen_types, m->kv[ki(m, "tokenizer.ggml.token_type")].v.arr.n = 4096)
MUT(c_qwen_pre, gw_set_str(m, "tokenizer.ggml.pre", "no-such-pre"))

#define F(what, fn, a, b) {what, B_LLAMA, true, fn, a, b}
#define M(what, fn, a, b) {what, B_LLAMA, false, fn, a, b}
#define MB(base, what, fn, a, b) {what, base, false, fn, a, b}

static const hcase hcases[] = {
    F("bad magic", c_magic, "bad magic", NULL),
    F("version 0", c_ver0, "version 0", NULL),
    F("version 1", c_ver1, "version 1", NULL),
    F("version 4", c_ver4, "version 4", NULL),
    F("big-endian version", c_ver_be, "big-endian", NULL),
    F("huge tensor count", c_nt_huge, "tensor count", "larger than the file"),
    F("tensor count over cap", c_nt_cap, "tensor count 65537", NULL),
    F("huge kv count", c_nkv_huge, "key-value count", "larger than the file"),
    F("kv count one too many", c_nkv_more, "offset", NULL),
    F("huge key length", c_keylen_huge, "string length", "exceeds the limit"),
    F("string past end of file", c_str_eof, "file ends", "general.name"),
    F("huge array length", c_arr_huge, "tokenizer.ggml.tokens", "exceeds the limit"),
    F("array past end of file", c_arr_eof, "file ends", "array of key 'tokenizer.ggml.scores'"),
    F("string array past eof", c_strarr_eof, "file ends", "array of key 'tokenizer.ggml.tokens'"),
    F("unknown value type", c_vtype, "general.name", "unknown value type 13"),
    F("value type 0xffffffff", c_vtype_max, "llama.block_count", "unknown value type"),
    F("nested array", c_nested, "tokenizer.ggml.token_type", "nested array"),
    F("unknown array elem type", c_etype, "tokenizer.ggml.scores", "element type 77"),
    F("bool value 2", c_bool2, "tokenizer.ggml.add_bos_token", "bool value 2"),
    F("bool array element 2", c_boolarr2, "test.flags", "bool array element 2"),
    F("alignment 0", c_align0, "general.alignment 0", "power of two"),
    F("alignment 48", c_align48, "general.alignment 48", "power of two"),
    F("alignment 1 GiB", c_align_big, "general.alignment", "power of two"),
    F("alignment uint64", c_align_type, "general.alignment", "uint64"),
    F("alignment string", c_align_str, "general.alignment", "string"),
    F("retired tensor type 4", c_ttype_old, "output_norm.weight", "unknown tensor type id 4"),
    F("tensor type 1000", c_ttype_huge, Q, "unknown tensor type id 1000"),
    F("offset misaligned", c_off_misal, Q, "not aligned"),
    F("offset out of range", c_off_range, Q, "outside the data section"),
    F("offset+size wraps", c_off_wrap, Q, "outside the data section"),
    F("data past end of file", c_past_eof, "blk.1.ffn_up.weight", "outside the data section"),
    F("overlapping tensors", c_overlap, Q, "overlap"),
    F("zero dimension", c_dim0, Q, "zero"),
    F("dims product overflows", c_dim_ovf, "token_embd.weight", "overflows"),
    F("dimension 2^63", c_dim_neg, Q, "overflows"),
    F("byte size overflows", c_size_ovf, "output_norm.weight", "overflows"),
    F("5 dimensions", c_ndims5, Q, "5 dimensions"),
    F("0 dimensions", c_ndims0, Q, "0 dimensions"),
    F("row not a block multiple", c_block, Q, "not a multiple"),
    F("duplicate key", c_dup_key, "duplicate key", "llama.block_count"),
    F("duplicate tensor name", c_dup_t, "duplicate tensor name", Q),
    F("empty key", c_key_empty, "empty key", NULL),
    F("key with NUL byte", c_key_nul, "key", "NUL"),
    F("empty tensor name", c_tname_empty, "empty tensor name", NULL),
    F("tensor name with NUL", c_tname_nul, "tensor name", "NUL"),
    F("tensor name 300 bytes", c_tname_long, "tensor name", "limit 256"),
    M("alignment 1, odd offsets", c_align1, "output_norm.weight", "not aligned to 4 bytes"),
    M("no general.architecture", c_arch_missing, "general.architecture", "missing"),
    M("architecture not string", c_arch_type, "general.architecture", "not a valid"),
    M("architecture with NUL", c_arch_nul, "general.architecture", "not a valid"),
    M("unsupported architecture", c_arch_unsup, "'gptj'", "not supported"),
    M("no block_count", c_no_layers, "llama.block_count", "missing"),
    M("no embedding_length", c_no_embd, "llama.embedding_length", "missing"),
    M("no head_count", c_no_heads, "'llama.attention.head_count'", "missing"),
    M("no context_length", c_no_ctx, "llama.context_length", "missing"),
    M("no rms epsilon", c_no_eps, "layer_norm_rms_epsilon", "missing"),
    M("no feed_forward_length", c_no_ff, "feed_forward_length", "missing"),
    M("heads don't divide embd", c_heads_div, "llama.attention.head_count", "7 heads do not divide"),
    M("kv heads don't divide", c_kv_div, "llama.attention.head_count_kv", "3 KV heads do not divide 8"),
    M("head_count_kv 0", c_kv_zero, "llama.attention.head_count_kv", "outside"),
    M("block_count 0", c_layers0, "llama.block_count", "outside"),
    M("block_count 2^40", c_layers_huge, "llama.block_count", "outside"),
    M("block_count -2", c_layers_neg, "llama.block_count", "outside"),
    M("block_count 3", c_layers3, "blk.2.attn_norm.weight", "missing"),
    M("expert_used > count", c_exp_used, "llama.expert_count", "2 experts with 3 used"),
    M("expert_used, no count", c_exp_only_used, "expert_count", "0 experts with 2 used"),
    MB(B_MOE, "moe: 5 of 4 experts", c_moe_used, "expert_count", "4 experts with 5 used"),
    MB(B_MOE, "moe: no gate_inp", c_moe_inp, "blk.0.ffn_gate_inp.weight", "missing"),
    MB(B_MOE, "moe: 3 experts in up", c_moe_shape, "blk.1.ffn_up_exps.weight", "shape"),
    M("vocab_size != tokens", c_vocab_size, "llama.vocab_size is 4000", "4096"),
    M("missing tensor", c_no_tensor, "blk.1.ffn_up.weight", "missing"),
    M("missing token_embd", c_no_embd_t, "token_embd.weight", "missing"),
    M("wrong tensor shape", c_shape, Q, "shape"),
    M("3-D where 2-D expected", c_shape_3d, "blk.1.attn_k.weight", "shape"),
    M("bad output.weight shape", c_shape_out, "output.weight", "shape"),
    M("block_count is a string", c_hp_str, "llama.block_count", "type string"),
    M("rms epsilon is an int", c_hp_float, "layer_norm_rms_epsilon", "not a float"),
    M("rms epsilon NaN", c_hp_nan, "layer_norm_rms_epsilon", "not finite"),
    M("rope base negative", c_rope_base, "llama.rope.freq_base", "out of range"),
    M("rope dims odd", c_rope_odd, "llama.rope.dimension_count", "odd"),
    M("rope dims > head dim", c_rope_big, "llama.rope.dimension_count", "outside"),
    M("value_length != key", c_value_len, "llama.attention.value_length", "value length 16"),
    M("unknown rope scaling", c_scaling, "rope scaling type 'foo'", NULL),
    M("rope scaling not string", c_scaling_type, "llama.rope.scaling.type", "not a string"),
    MB(B_QWEN, "qwen2: no q bias", c_qwen_bias, "blk.0.attn_q.bias", "missing"),
    MB(B_QWEN, "qwen2: v bias shape", c_qwen_bias_shape, "blk.1.attn_v.bias", "shape"),
    M("IQ2_XXS weight", c_iq2, Q, "IQ2_XXS"),
    M("Q8_K weight", c_q8k, "blk.1.attn_k.weight", "Q8_K"),
    M("I32 weight", c_i32, "blk.0.ffn_down.weight", "I32"),
    M("F16 norm", c_norm_f16, "blk.0.attn_norm.weight", "F16"),
    M("scores shorter", c_tok_scores, "tokenizer.ggml.scores", "4000"),
    M("token_type shorter", c_tok_types, "tokenizer.ggml.token_type", "4095"),
    M("no tokens", c_tok_missing, "tokenizer.ggml.tokens", NULL),
    M("tokens is a string", c_tok_str, "tokenizer.ggml.tokens", NULL),
    M("tokens of uint32", c_tok_u32, "tokenizer.ggml.tokens", NULL),
    M("tokens empty", c_tok_empty, "tokenizer.ggml.tokens", NULL),
    M("unknown tokenizer model", c_tok_model, "wordpiece", NULL),
    M("bos out of range", c_bos, "bos", "5000"),
    M("eos out of range", c_eos, "eos", "4096"),
    M("bos negative", c_bos_neg, "bos", NULL),
    M("unknown id out of range", c_unk, "unknown_token_id", "99999"),
    M("bos id is a string", c_bos_str, "bos", NULL),
    MB(B_QWEN, "qwen2: eos out of range", c_qwen_eos, "eos", "4097"),
    MB(B_QWEN, "qwen2: token_type short", c_qwen_types, "tokenizer.ggml.token_type", "4096"),
    MB(B_QWEN, "qwen2: unknown pre", c_qwen_pre, "no-such-pre", NULL),
};

#undef F
#undef M
#undef MB
#undef MUT
#undef POKE
#undef KV_VAL

/* ---- vocabulary oddities -------------------------------------------- */
/* Odd but not necessarily invalid vocabularies: the tokenizer may accept
 * or refuse them, but must not crash, and what it accepts must tokenize
 * and detokenize (test_vocab_oddities). */

typedef struct ocase {
    const char *what;
    int base;
    void (*mut)(gw_model *m);
} ocase;

#define ODD_MAX 8192
static tf_gguf_str odd_strs[ODD_MAX];
static uint8_t odd_bytes[4 * ODD_MAX];
static char odd_long[70000];

/* Replace element i of string array key (a private copy of the array). */
static void set_str_at(gw_model *m, const char *key, uint64_t i, tf_gguf_str s)
{
    tf_gguf_kv *kv = &m->kv[ki(m, key)];
    if (kv->v.arr.n > ODD_MAX || i >= kv->v.arr.n) abort();
    memcpy(odd_strs, kv->v.arr.strs, (size_t)kv->v.arr.n * sizeof *odd_strs);
    odd_strs[i] = s;
    kv->v.arr.strs = odd_strs;
}

/* Replace 4-byte element i of a scalar array (a private copy). */
static void set_u32_at(gw_model *m, const char *key, uint64_t i, uint32_t v)
{
    tf_gguf_kv *kv = &m->kv[ki(m, key)];
    if (kv->v.arr.n > ODD_MAX || i >= kv->v.arr.n) abort();
    memcpy(odd_bytes, kv->v.arr.data, (size_t)kv->v.arr.n * 4);
    memcpy(odd_bytes + 4 * i, &v, 4);
    kv->v.arr.data = odd_bytes;
}

#define TOK "tokenizer.ggml.tokens"
#define MRG "tokenizer.ggml.merges"
#define STR(p, n) ((tf_gguf_str){p, n})
#define MUT(fn, body) static void fn(gw_model *m) { body; }
MUT(o_empty, set_str_at(m, TOK, 300, STR("", 0)))
MUT(o_utf8, set_str_at(m, TOK, 301, STR("\xff\xfe", 2)))
MUT(o_trunc_utf8, set_str_at(m, TOK, 301, STR("\xc3", 1)))
MUT(o_nul, set_str_at(m, TOK, 302, STR("a\0b", 3)))
MUT(o_dup, set_str_at(m, TOK, 303, m->kv[ki(m, TOK)].v.arr.strs[304]))
MUT(o_byte_tok, set_str_at(m, TOK, 13, STR("<0xZZ>", 6)))
MUT(o_byte_short, set_str_at(m, TOK, 14, STR("<0x", 3)))
MUT(o_long, memset(odd_long, 'a', sizeof odd_long); set_str_at(m, TOK, 305, STR(odd_long, 70000)))
MUT(o_type99, set_u32_at(m, "tokenizer.ggml.token_type", 400, 99))
MUT(o_type_neg, set_u32_at(m, "tokenizer.ggml.token_type", 401, 0xffffffffu))
MUT(o_all_control, set_u32_at(m, "tokenizer.ggml.token_type", 0, 3);
    for (int i = 0; i < 4096; i++) memcpy(odd_bytes + 4 * i, "\3\0\0\0", 4))
MUT(o_score_nan, set_u32_at(m, "tokenizer.ggml.scores", 500, 0x7fc00000u))
MUT(o_score_inf, set_u32_at(m, "tokenizer.ggml.scores", 501, 0xff800000u))
MUT(o_merge_nospace, set_str_at(m, MRG, 0, STR("abc", 3)))
MUT(o_merge_unknown, set_str_at(m, MRG, 1, STR("zzzq qqqz", 9)))
MUT(o_merge_3, set_str_at(m, MRG, 2, STR("a b c", 5)))
MUT(o_merge_empty, set_str_at(m, MRG, 3, STR("", 0)))
MUT(o_merge_space, set_str_at(m, MRG, 4, STR(" ", 1)))
MUT(o_merges_none, m->kv[ki(m, MRG)].v.arr.n = 0)
MUT(o_merges_del, gw_del(m, MRG))
MUT(o_merges_int, memset(odd_bytes, 0, 64); gw_set_arr(m, MRG, TF_GGUF_I32, 16, odd_bytes))
MUT(o_no_scores, gw_del(m, "tokenizer.ggml.scores"))
MUT(o_no_types, gw_del(m, "tokenizer.ggml.token_type"))
MUT(o_add_bos_no_bos, gw_del(m, "tokenizer.ggml.bos_token_id"))
#undef MUT

static const ocase ocases[] = {
    {"spm: empty token", B_LLAMA, o_empty},
    {"spm: invalid UTF-8 token", B_LLAMA, o_utf8},
    {"spm: cut UTF-8 token", B_LLAMA, o_trunc_utf8},
    {"spm: token with NUL", B_LLAMA, o_nul},
    {"spm: duplicate token", B_LLAMA, o_dup},
    {"spm: byte token <0xZZ>", B_LLAMA, o_byte_tok},
    {"spm: byte token '<0x'", B_LLAMA, o_byte_short},
    {"spm: 70000-byte token", B_LLAMA, o_long},
    {"spm: token_type 99", B_LLAMA, o_type99},
    {"spm: token_type -1", B_LLAMA, o_type_neg},
    {"spm: every token control", B_LLAMA, o_all_control},
    {"spm: score NaN", B_LLAMA, o_score_nan},
    {"spm: score -inf", B_LLAMA, o_score_inf},
    {"spm: no scores", B_LLAMA, o_no_scores},
    {"spm: no token_type", B_LLAMA, o_no_types},
    {"spm: add_bos, no bos id", B_LLAMA, o_add_bos_no_bos},
    {"bpe: empty token", B_QWEN, o_empty},
    {"bpe: invalid UTF-8 token", B_QWEN, o_utf8},
    {"bpe: cut UTF-8 token", B_QWEN, o_trunc_utf8},
    {"bpe: token with NUL", B_QWEN, o_nul},
    {"bpe: duplicate token", B_QWEN, o_dup},
    {"bpe: 70000-byte token", B_QWEN, o_long},
    {"bpe: token_type 99", B_QWEN, o_type99},
    {"bpe: merge without space", B_QWEN, o_merge_nospace},
    {"bpe: merge unknown tokens", B_QWEN, o_merge_unknown},
    {"bpe: merge of 3 parts", B_QWEN, o_merge_3},
    {"bpe: empty merge", B_QWEN, o_merge_empty},
    {"bpe: merge ' '", B_QWEN, o_merge_space},
    {"bpe: merges empty", B_QWEN, o_merges_none},
    {"bpe: no merges", B_QWEN, o_merges_del},
    {"bpe: merges of int32", B_QWEN, o_merges_int},
    {"bpe: no token_type", B_QWEN, o_no_types},
};
#undef TOK
#undef MRG
#undef STR

#endif
