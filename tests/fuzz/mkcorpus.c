/* mkcorpus.c - writes the fuzzers' seed corpus (tests/fuzz/corpus/<target>/).
 *
 * `make fuzz-corpus` runs it once; the output is committed, so the fuzz
 * runs and the regression replay need no generator.  Deterministic: the
 * same build writes the same bytes.
 *
 *   gguf/, model/  two tiny valid models written from scratch through
 *                  tests/gguf_writer.h - a 2-layer Llama (n_embd 32, 4 heads,
 *                  2 KV heads, SentencePiece vocabulary of 3 specials, 256
 *                  byte tokens and ~50 pieces, ChatML template) and a
 *                  2-layer Qwen2 (byte-level BPE with merges, Q/K/V biases,
 *                  untied output) with a mix of weight types - plus the Llama
 *                  without tensors (a vocabulary file), and a selection of
 *                  the hostile cases of tests/gguf_cases.h applied to them
 *                  (container defects for gguf/, model and vocabulary
 *                  defects for model/);
 *   tokenizer/     selector byte + text;
 *   chat/          template 0x1f system 0x1f user;
 *   sampler/       fz_sampler_head + logits + tokens.
 *
 * usage: mkcorpus [OUTDIR]   (default tests/fuzz/corpus)
 */
#include <errno.h>
#include <math.h>
#include <sys/stat.h>

#include "fuzz_common.h"
#include "gguf_writer.h"
#include "gguf_cases.h"
#include "kernels.h"

static const char *outdir = "tests/fuzz/corpus";
static uint64_t rng = 0x5eed1234abcdull;

static float frand(void) /* uniform in [-1, 1) */
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (float)((rng >> 40) / 8388608.0 - 1.0);
}

static void write_file(const char *target, const char *name, const void *p, size_t n)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", outdir, target);
    if (mkdir(path, 0755) != 0 && errno != EEXIST) {
        perror(path);
        exit(1);
    }
    snprintf(path, sizeof path, "%s/%s/%s", outdir, target, name);
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(p, 1, n, f) != n || fclose(f) != 0) {
        perror(path);
        exit(1);
    }
}

/* ---- tiny models ----------------------------------------------------- */

#define MAX_BLOBS 512
static void *blobs[MAX_BLOBS];
static int n_blobs;

static void *keep(void *p)
{
    if (!p || n_blobs == MAX_BLOBS) abort();
    return blobs[n_blobs++] = p;
}

/* A tensor of random values (norms: around 1), quantized to its type. */
static void tensor(gw_model *m, const char *name, uint32_t type, int64_t ne0, int64_t ne1,
                   bool norm)
{
    char *nm = keep(strdup(name));
    tf_gguf_tensor *t = gw_tadd(m, nm, type, ne1 > 1 ? 2 : 1, ne0, ne1);
    size_t n = (size_t)(ne0 * ne1);
    float *x = malloc(n * sizeof *x);
    if (!x) abort();
    for (size_t i = 0; i < n; i++) x[i] = norm ? 1.0f + 0.1f * frand() : 0.5f * frand();
    void *q = keep(malloc((size_t)t->size));
    if (type == TF_TYPE_F32) memcpy(q, x, n * sizeof *x);
    else tf_kernels_of(type)->from_float(x, q, (int64_t)n);
    free(x);
    t->data = q;
}

static void set_strs(gw_model *m, const char *key, tf_gguf_str *s, size_t n)
{
    tf_gguf_kv *kv = gw_kv(m, key);
    kv->type = TF_GGUF_ARRAY;
    kv->v.arr.type = TF_GGUF_STRING;
    kv->v.arr.n = n;
    kv->v.arr.strs = s;
}

static void hparams(gw_model *m, const char *arch, double rope_base, int32_t n_vocab)
{
    char key[96];
#define KEY(suffix) (snprintf(key, sizeof key, "%s.%s", arch, suffix), keep(strdup(key)))
    gw_set_str(m, "general.architecture", arch);
    gw_set_str(m, "general.name", "tiny-fuzz");
    gw_set_u32(m, KEY("context_length"), 64);
    gw_set_u32(m, KEY("embedding_length"), 32);
    gw_set_u32(m, KEY("block_count"), 2);
    gw_set_u32(m, KEY("feed_forward_length"), 32);
    gw_set_u32(m, KEY("attention.head_count"), 4);
    gw_set_u32(m, KEY("attention.head_count_kv"), 2);
    gw_set_f(m, KEY("attention.layer_norm_rms_epsilon"), TF_GGUF_F32, 1e-5);
    gw_set_f(m, KEY("rope.freq_base"), TF_GGUF_F32, rope_base);
    gw_set_u32(m, KEY("rope.dimension_count"), 8);
    gw_set_u32(m, KEY("vocab_size"), (uint64_t)n_vocab);
#undef KEY
}

/* Per-layer weights; types vary so several kernels are reached. */
static void layers(gw_model *m, bool bias, uint32_t wo_type)
{
    char name[64];
    for (int il = 0; il < 2; il++) {
#define T(suffix, type, a, b, norm) \
        (snprintf(name, sizeof name, "blk.%d.%s", il, suffix), tensor(m, name, type, a, b, norm))
        T("attn_norm.weight", TF_TYPE_F32, 32, 1, true);
        T("attn_q.weight", TF_TYPE_Q8_0, 32, 32, false);
        T("attn_k.weight", TF_TYPE_Q4_0, 32, 16, false);
        T("attn_v.weight", TF_TYPE_Q5_1, 32, 16, false);
        if (bias) {
            T("attn_q.bias", TF_TYPE_F32, 32, 1, false);
            T("attn_k.bias", TF_TYPE_F32, 16, 1, false);
            T("attn_v.bias", TF_TYPE_F32, 16, 1, false);
        }
        T("attn_output.weight", wo_type, 32, 32, false);
        T("ffn_norm.weight", TF_TYPE_F32, 32, 1, true);
        T("ffn_gate.weight", TF_TYPE_Q4_1, 32, 32, false);
        T("ffn_up.weight", TF_TYPE_Q5_0, 32, 32, false);
        T("ffn_down.weight", TF_TYPE_IQ4_NL, 32, 32, false);
#undef T
    }
}

#define SPM_N 309
static tf_gguf_str spm_tok[SPM_N];
static float spm_score[SPM_N];
static int32_t spm_type[SPM_N];

static const char *const spm_pieces[] = {
    "\xe2\x96\x81", "\xe2\x96\x81t", "\xe2\x96\x81" "a", "\xe2\x96\x81the", "he", "in", "er", "an",
    "\xe2\x96\x81w", "or", "\xe2\x96\x81o", "ll", "lo", "\xe2\x96\x81h", "\xe2\x96\x81he",
    "\xe2\x96\x81hel", "\xe2\x96\x81hell", "\xe2\x96\x81hello", "\xe2\x96\x81wor",
    "\xe2\x96\x81world", "e", "t", "a", "o", "i", "n", "s", "r", "h", "l", "d", "w", "u", "c",
    "1", "2", "3", "\xe2\x96\x81" "1", "12", ",", ".", "!", "?", "\xc3\xa9", "\xe4\xb8\x96",
    "<|im_start|>", "<|im_end|>", "\xe2\x96\x81\xe2\x96\x81", "er\xe2\x96\x81", "ing"};

static void spm_vocab(gw_model *m)
{
    static char bytes[256][7];
    int n = 0;
    static const char *const sp[] = {"<unk>", "<s>", "</s>"};
    for (int i = 0; i < 3; i++, n++) {
        spm_tok[n] = gw_s(sp[i]);
        spm_type[n] = i == 0 ? 2 : 3;
    }
    for (int b = 0; b < 256; b++, n++) {
        snprintf(bytes[b], sizeof bytes[b], "<0x%02X>", b);
        spm_tok[n] = gw_s(bytes[b]);
        spm_type[n] = 6;
    }
    for (size_t i = 0; i < sizeof spm_pieces / sizeof spm_pieces[0]; i++, n++) {
        spm_tok[n] = gw_s(spm_pieces[i]);
        spm_score[n] = -(float)i;
        spm_type[n] = spm_pieces[i][0] == '<' ? 3 : 1; /* <|im_...|>: control */
    }
    if (n != SPM_N) abort();
    gw_set_str(m, "tokenizer.ggml.model", "llama");
    set_strs(m, "tokenizer.ggml.tokens", spm_tok, SPM_N);
    gw_set_arr(m, "tokenizer.ggml.scores", TF_GGUF_F32, SPM_N, spm_score);
    gw_set_arr(m, "tokenizer.ggml.token_type", TF_GGUF_I32, SPM_N, spm_type);
    gw_set_u32(m, "tokenizer.ggml.bos_token_id", 1);
    gw_set_u32(m, "tokenizer.ggml.eos_token_id", 2);
    gw_set_u32(m, "tokenizer.ggml.unknown_token_id", 0);
    gw_set_u(m, "tokenizer.ggml.add_bos_token", TF_GGUF_BOOL, 1);
    gw_set_u(m, "tokenizer.ggml.add_eos_token", TF_GGUF_BOOL, 0);
    gw_set_str(m, "tokenizer.chat_template",
               "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\\n' + "
               "message['content'] + '<|im_end|>' + '\\n'}}{% endfor %}");
}

static void make_llama(gw_model *m)
{
    memset(m, 0, sizeof *m);
    m->magic = GW_MAGIC;
    m->version = 3;
    m->align = 32;
    hparams(m, "llama", 10000.0, SPM_N);
    spm_vocab(m);
    tensor(m, "token_embd.weight", TF_TYPE_Q4_0, 32, SPM_N, false);
    tensor(m, "output_norm.weight", TF_TYPE_F32, 32, 1, true);
    layers(m, false, TF_TYPE_F16);
}

/* GPT-2's byte alphabet: printable bytes stand for themselves, the others
 * map to U+0100 onwards in byte order. */
static void byte_char(int b, char *out)
{
    static int map[256];
    if (!map['!']) {
        int extra = 0;
        for (int c = 0; c < 256; c++) {
            bool self = (c >= '!' && c <= '~') || (c >= 0xA1 && c <= 0xAC) || (c >= 0xAE);
            map[c] = self ? c : 256 + extra++;
        }
    }
    int cp = map[b];
    if (cp < 0x80) {
        out[0] = (char)cp;
        out[1] = 0;
    } else {
        out[0] = (char)(0xC0 | (cp >> 6));
        out[1] = (char)(0x80 | (cp & 0x3F));
        out[2] = 0;
    }
}

static const char *const bpe_merges[] = {
    "\xc4\xa0 t", "h e", "\xc4\xa0t he", "i n", "e r", "\xc4\xa0 w", "o r", "l l", "l o",
    "\xc4\xa0 h", "\xc4\xa0h e", "\xc4\xa0he ll", "\xc4\xa0hell o", "\xc4\xa0w or",
    "\xc4\xa0wor l", "\xc4\xa0worl d", "i ng", "n g", "\xc4\xa0 \xc4\xa0", "1 2"};
#define BPE_M (sizeof bpe_merges / sizeof bpe_merges[0])
#define BPE_N (256 + BPE_M + 3)
static tf_gguf_str bpe_tok[BPE_N], bpe_mrg[BPE_M];
static int32_t bpe_type[BPE_N];

static void bpe_vocab(gw_model *m)
{
    static char chars[256][3], merged[BPE_M][32];
    int n = 0;
    for (int b = 0; b < 256; b++, n++) {
        byte_char(b, chars[b]);
        bpe_tok[n] = gw_s(chars[b]);
        bpe_type[n] = 1;
    }
    for (size_t i = 0; i < BPE_M; i++, n++) {
        const char *sp = strchr(bpe_merges[i], ' ');
        snprintf(merged[i], sizeof merged[i], "%.*s%s", (int)(sp - bpe_merges[i]), bpe_merges[i],
                 sp + 1);
        bpe_tok[n] = gw_s(merged[i]);
        bpe_type[n] = 1;
        bpe_mrg[i] = gw_s(bpe_merges[i]);
    }
    static const char *const sp[] = {"<|endoftext|>", "<|im_start|>", "<|im_end|>"};
    for (int i = 0; i < 3; i++, n++) {
        bpe_tok[n] = gw_s(sp[i]);
        bpe_type[n] = 3;
    }
    gw_set_str(m, "tokenizer.ggml.model", "gpt2");
    gw_set_str(m, "tokenizer.ggml.pre", "qwen2");
    set_strs(m, "tokenizer.ggml.tokens", bpe_tok, BPE_N);
    gw_set_arr(m, "tokenizer.ggml.token_type", TF_GGUF_I32, BPE_N, bpe_type);
    set_strs(m, "tokenizer.ggml.merges", bpe_mrg, BPE_M);
    gw_set_u32(m, "tokenizer.ggml.eos_token_id", BPE_N - 3);
    gw_set_u32(m, "tokenizer.ggml.padding_token_id", BPE_N - 3);
    gw_set_u(m, "tokenizer.ggml.add_bos_token", TF_GGUF_BOOL, 0);
    gw_set_str(m, "tokenizer.chat_template",
               "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\\n' + "
               "message['content'] + '<|im_end|>' + '\\n'}}{% endfor %}");
}

static void make_qwen2(gw_model *m)
{
    memset(m, 0, sizeof *m);
    m->magic = GW_MAGIC;
    m->version = 3;
    m->align = 32;
    hparams(m, "qwen2", 1e6, BPE_N);
    bpe_vocab(m);
    tensor(m, "token_embd.weight", TF_TYPE_Q8_0, 32, BPE_N, false);
    tensor(m, "output_norm.weight", TF_TYPE_F32, 32, 1, true);
    tensor(m, "output.weight", TF_TYPE_Q4_0, 32, BPE_N, false);
    layers(m, true, TF_TYPE_BF16);
}

static void write_model(const char *target, const char *name, const gw_model *m)
{
    size_t len;
    uint8_t *buf = gw_write(m, NULL, &len);
    write_file(target, name, buf, len);
    free(buf);
}

/* ---- hostile variants ------------------------------------------------ */

static const char *const fmt_cases[] = {
    "huge kv count", "huge key length", "string past end of file", "nested array",
    "bool value 2", "alignment 48", "overlapping tensors", "dims product overflows",
    "duplicate key", "data past end of file"};
static const char *const model_cases[] = {
    "alignment 1, odd offsets", "unsupported architecture", "heads don't divide embd",
    "block_count 3", "vocab_size != tokens", "missing tensor", "wrong tensor shape",
    "rms epsilon NaN", "unknown rope scaling", "bos out of range", "expert_used > count",
    "qwen2: no q bias", "qwen2: unknown pre"};
static const char *const odd_cases[] = {
    "spm: invalid UTF-8 token", "spm: token with NUL", "spm: duplicate token",
    "spm: byte token <0xZZ>", "bpe: merge without space", "bpe: merge of 3 parts"};

/* "qwen2: no q bias" -> "qwen2-no-q-bias.gguf" */
static void file_name(const char *what, char *out, size_t cap)
{
    size_t o = 0;
    for (const char *p = what; *p && o + 6 < cap; p++) {
        bool alnum = (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9');
        if (alnum) out[o++] = *p;
        else if (o && out[o - 1] != '-') out[o++] = '-';
    }
    while (o && out[o - 1] == '-') o--;
    snprintf(out + o, cap - o, ".gguf");
}

static void hostile(const gw_model *base[B_COUNT], const char *target, const char *what)
{
    gw_model *m = malloc(sizeof *m);
    char name[96];
    if (!m) abort();
    for (size_t i = 0; i < sizeof hcases / sizeof hcases[0]; i++) {
        if (strcmp(hcases[i].what, what) != 0) continue;
        *m = *base[hcases[i].base];
        hcases[i].mut(m);
        file_name(what, name, sizeof name);
        write_model(target, name, m);
        free(m);
        return;
    }
    for (size_t i = 0; i < sizeof ocases / sizeof ocases[0]; i++) {
        if (strcmp(ocases[i].what, what) != 0) continue;
        *m = *base[ocases[i].base];
        ocases[i].mut(m);
        file_name(what, name, sizeof name);
        write_model(target, name, m);
        free(m);
        return;
    }
    fprintf(stderr, "mkcorpus: no case '%s' in gguf_cases.h\n", what);
    exit(1);
}

static void models(void)
{
    gw_model *llama = malloc(sizeof *llama), *qwen = malloc(sizeof *qwen), *voc = malloc(sizeof *voc);
    if (!llama || !qwen || !voc) abort();
    make_llama(llama);
    make_qwen2(qwen);
    *voc = *llama;
    voc->n_t = 0;
    const char *targets[2] = {"gguf", "model"};
    for (int t = 0; t < 2; t++) {
        write_model(targets[t], "tiny-llama-spm.gguf", llama);
        write_model(targets[t], "tiny-qwen2-bpe.gguf", qwen);
        write_model(targets[t], "vocab-only-spm.gguf", voc);
    }
    const gw_model *base[B_COUNT] = {llama, llama, qwen};
    for (size_t i = 0; i < sizeof fmt_cases / sizeof fmt_cases[0]; i++)
        hostile(base, "gguf", fmt_cases[i]);
    for (size_t i = 0; i < sizeof model_cases / sizeof model_cases[0]; i++)
        hostile(base, "model", model_cases[i]);
    for (size_t i = 0; i < sizeof odd_cases / sizeof odd_cases[0]; i++)
        hostile(base, "model", odd_cases[i]);
    free(llama);
    free(qwen);
    free(voc);
    for (int i = 0; i < n_blobs; i++) free(blobs[i]);
}

/* ---- texts, chats, sampler inputs ------------------------------------ */

static void texts(void)
{
    static const char *const t[] = {
        "Hello world",
        " leading space and  double  spaces, trailing ",
        "Once upon a time, there was a little girl named Lily.\n\nShe liked to play.",
        "h\xc3\xa9llo w\xc3\xb6rld \xe4\xb8\x96\xe7\x95\x8c \xf0\x9f\x99\x82\xf0\x9f\x91\x8d",
        "<s>[INST] hi [/INST]</s><|im_start|>user\nhello<|im_end|><|endoftext|>",
        "int main(void) {\n\treturn 0x1f + 12345678;\n}\r\n",
        "\xff\xfe\xc3 invalid \xed\xa0\x80 utf-8 \xf4\x90\x80\x80",
        "3.14159 1,000,000 -42 2024-01-01 12:30",
        "    \n\n\t\t   \n",
        "don't won't I'm you'll they've we'd",
        "\xe2\x96\x81\xe2\x96\x81 literal sentencepiece spaces",
        "a\0b\0c"};
    static const size_t len[] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 5};
    char name[32], buf[256];
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        size_t n = len[i] ? len[i] : strlen(t[i]);
        buf[0] = (char)(i % 6 + 6 * (i % 3)); /* vocabulary, BOS mode */
        memcpy(buf + 1, t[i], n);
        snprintf(name, sizeof name, "text-%02zu", i);
        write_file("tokenizer", name, buf, n + 1);
    }
}

static void chats(void)
{
    static const char *const tmpl[] = {
        "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\\n' + "
        "message['content'] + '<|im_end|>' + '\\n'}}{% endfor %}",
        "{% if messages[0]['role'] == 'system' %}{% set system_message = '<<SYS>>\\n' + "
        "messages[0]['content'] | trim + '\\n<</SYS>>\\n\\n' %}{% endif %}"
        "{{ bos_token + '[INST] ' + content.strip() + ' [/INST]' }}",
        "{{ bos_token }}{% for message in messages %}{{ '[INST] ' + message['content'] + "
        "' [/INST]' }}{% endfor %}",
        "{% set content = '<|start_header_id|>' + message['role'] + '<|end_header_id|>\\n\\n' + "
        "message['content'] | trim + '<|eot_id|>' %}",
        "{{ '<start_of_turn>' + role + '\\n' + message['content'] | trim + '<end_of_turn>\\n' }}",
        "{{'<|user|>' + '\\n' + message['content'] + '<|end|>' + '\\n' + '<|assistant|>' + '\\n'}}",
        "[SYSTEM_PROMPT] [INST] mistral",
        "<|user|>\\n{{ message['content'] }}<|endoftext|>",
        "chatml", "llama2-sys-strip", ""};
    static const char *const su[][2] = {
        {"You are helpful.", "What is the capital of France?"},
        {"", "  padded user text \n"},
        {"multi\nline\nsystem", "user with <|im_end|> inside"},
        {"\t", "\xc3\xa9t\xc3\xa9"}};
    char name[32], buf[1024];
    for (size_t i = 0; i < sizeof tmpl / sizeof tmpl[0]; i++) {
        const char *const *p = su[i % 4];
        int n = snprintf(buf, sizeof buf, "%s%c%s%c%s", tmpl[i], FZ_CHAT_SEP, p[0], FZ_CHAT_SEP, p[1]);
        snprintf(name, sizeof name, "chat-%02zu", i);
        write_file("chat", name, buf, (size_t)n);
    }
}

static void sampler_seed(const char *name, fz_sampler_head h, bool odd)
{
    size_t nv = h.n_vocab > 0 ? (size_t)h.n_vocab : 4;
    size_t len = FZ_SAMPLER_HEAD_BYTES + nv * 4 + 24;
    uint8_t *buf = calloc(1, len);
    if (!buf) abort();
    fz_sampler_head_put(&h, buf);
    for (size_t i = 0; i < nv; i++) {
        float v = 4.0f * frand();
        if (odd && i % 7 == 3) v = i % 2 ? NAN : -INFINITY;
        if (odd && i == 5) v = INFINITY;
        memcpy(buf + FZ_SAMPLER_HEAD_BYTES + i * 4, &v, 4);
    }
    for (size_t i = 0; i < 12; i++) buf[FZ_SAMPLER_HEAD_BYTES + nv * 4 + 2 * i] = (uint8_t)(3 * i + 8);
    write_file("sampler", name, buf, len);
    free(buf);
}

static void samplers(void)
{
    fz_sampler_head d = {0.8f, 40, 0.95f, 0.05f, 1.0f, 0.0f, 0.0f, 64, 0xC0FFEE, 300, 3};
    fz_sampler_head h = d;
    h.temp = 0;
    h.n_vocab = 16;
    sampler_seed("greedy", h, false);
    sampler_seed("default", d, false);
    h = d;
    h.repeat_penalty = 1.3f;
    h.presence_penalty = 0.5f;
    h.frequency_penalty = 0.25f;
    h.penalty_last_n = -1;
    sampler_seed("penalties", h, true);
    h = d;
    h.top_k = 0;
    h.top_p = 0.5f;
    h.min_p = 0;
    h.n_vocab = 1000;
    sampler_seed("top-p-only", h, false);
    h = d;
    h.top_k = 2000;
    h.temp = 1.7f;
    h.n_vocab = 700;
    sampler_seed("top-k-large", h, true);
    h = d;
    h.temp = NAN;
    sampler_seed("bad-temp", h, false);
    h = d;
    h.n_vocab = 0;
    sampler_seed("bad-vocab", h, false);
    h = d;
    h.penalty_last_n = -5;
    sampler_seed("bad-window", h, false);
}

int main(int argc, char **argv)
{
    if (argc > 1) outdir = argv[1];
    if (mkdir(outdir, 0755) != 0 && errno != EEXIST) {
        perror(outdir);
        return 1;
    }
    tf_kernels_init(true);
    memset(long_name, 'x', sizeof long_name);
    models();
    texts();
    chats();
    samplers();
    printf("mkcorpus: wrote the seed corpus under %s\n", outdir);
    return 0;
}
