/* gen_bench_model.c - writes a random-weight llama GGUF with the shape of
 * a real model (TinyLlama-1.1B by default: n_embd 2048, 22 layers, 32
 * heads, 4 KV heads, n_ff 5632, untied output) and a real SentencePiece
 * vocabulary (the tokenizer.* keys of a vocabulary GGUF, 32,000 tokens for
 * ../shared/vocab/ggml-vocab-llama-spm.gguf), for speed measurements
 * only: the weights are noise.
 *
 * Matrices are uniform in +-sqrt(3 / fan_in) (unit-variance outputs, so
 * activations stay in range through the layers), norms are 1.  The
 * values come from a fixed generator seeded per tensor name, so a file is
 * the same on every run.  Data is generated and written a few rows at a
 * time (the F16 file is ~2.2 GB), through the library's streaming GGUF
 * writer, into OUT.tmp renamed at the end.
 *
 * usage: gen_bench_model OUT.gguf --vocab VOCAB.gguf [--type f16] [--layers N]
 *        [--embd N] [--ff N] [--heads N] [--kv-heads N] [--ctx N] [-q]
 * --type: f32, f16 or any type with a quantizer in the kernel table
 * (q8_0, q4_0, ...: every matrix in it; `tinfer quantize` makes the
 * proper mixes such as Q4_K_M from the F16 file).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "gguf.h"
#include "gguf_write.h"
#include "kernels.h"

typedef struct shape {
    int64_t embd, layers, heads, kv_heads, ff, ctx;
} shape;

typedef struct gen {
    tf_gguf_writer *w;
    uint32_t type;       /* matrices' type */
    float *rows;         /* CHUNK rows of floats */
    uint8_t *out;        /* CHUNK rows converted */
    size_t cap;          /* floats in rows */
    bool quiet;
    uint64_t done, total;
} gen;

#define CHUNK_FLOATS ((size_t)1 << 22)

static uint64_t hash_name(const char *s)
{
    uint64_t h = 1469598103934665603ull;
    for (; *s; s++) h = (h ^ (unsigned char)*s) * 1099511628211ull;
    return h | 1;
}

static float next_uniform(uint64_t *s) /* [-1, 1) */
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return (float)((*s >> 40) * (1.0 / 8388608.0) - 1.0);
}

/* Stream one tensor's data: ne0 x rows, values gain * U(-1, 1) or all 1. */
static int emit(gen *g, const char *name, int64_t ne0, int64_t rows, uint32_t type, float gain)
{
    const tf_type_kernels *k = tf_kernels_of(type);
    size_t rb = tf_row_size(type, ne0);
    int64_t per = (int64_t)(g->cap / (size_t)ne0);
    if (per < 1 || !k || !k->from_float || !rb) {
        fprintf(stderr, "gen_bench_model: %s: can't write type %s rows of %lld\n", name, tf_type_name(type),
                (long long)ne0);
        return -1;
    }
    uint64_t seed = hash_name(name);
    for (int64_t r0 = 0; r0 < rows; r0 += per) {
        int64_t n = rows - r0 < per ? rows - r0 : per;
        for (int64_t i = 0; i < n * ne0; i++) g->rows[i] = gain == 0 ? 1.0f : gain * next_uniform(&seed);
        for (int64_t r = 0; r < n; r++) k->from_float(g->rows + r * ne0, g->out + (size_t)r * rb, ne0);
        if (tf_gguf_writer_write(g->w, g->out, (size_t)n * rb)) return -1;
        g->done += (uint64_t)n * rb;
    }
    if (!g->quiet)
        fprintf(stderr, "\r\033[K%-28s %5.1f%% of %.2f GB", name, 100.0 * g->done / g->total, g->total / 1e9);
    return 0;
}

/* One tensor: add its info (pass 0) or write its data (pass 1). */
static int one(gen *g, int pass, const char *name, int64_t ne0, int64_t ne1, bool norm)
{
    uint32_t type = norm ? TF_TYPE_F32 : g->type;
    int64_t ne[4] = {ne0, ne1, 1, 1};
    if (pass == 0) return tf_gguf_writer_add_tensor(g->w, name, strlen(name), norm ? 1 : 2, ne, type);
    return emit(g, name, ne0, ne1, type, norm ? 0.0f : sqrtf(3.0f / (float)ne0));
}

/* Every tensor of the model, in file order. */
static int tensors(gen *g, const shape *s, int64_t n_vocab, int pass)
{
    int64_t e = s->embd, kv = s->embd / s->heads * s->kv_heads;
    static const char *const names[] = {"attn_norm", "attn_q", "attn_k", "attn_v", "attn_output",
                                        "ffn_norm", "ffn_gate", "ffn_up", "ffn_down"};
    const int64_t ne0[] = {e, e, e, e, e, e, e, e, s->ff};
    const int64_t ne1[] = {1, e, kv, kv, e, 1, s->ff, s->ff, e};
    if (one(g, pass, "token_embd.weight", e, n_vocab, false)) return -1;
    char name[96];
    for (int64_t il = 0; il < s->layers; il++)
        for (int i = 0; i < 9; i++) {
            snprintf(name, sizeof name, "blk.%lld.%s.weight", (long long)il, names[i]);
            if (one(g, pass, name, ne0[i], ne1[i], ne1[i] == 1)) return -1;
        }
    return one(g, pass, "output_norm.weight", e, 1, true) || one(g, pass, "output.weight", e, n_vocab, false)
               ? -1 : 0;
}

static int set_f32(tf_gguf_writer *w, const char *key, float v)
{
    tf_gguf_kv kv = {.key = {key, strlen(key)}, .type = TF_GGUF_F32};
    kv.v.f = v;
    return tf_gguf_writer_set_kv(w, &kv);
}

/* general.* and llama.* keys, then the vocabulary's tokenizer.* keys. */
static int metadata(tf_gguf_writer *w, const shape *s, const tf_gguf *voc, uint32_t type)
{
    static const struct { uint32_t type, ftype; } ft[] = {
        {TF_TYPE_F32, 0}, {TF_TYPE_F16, 1}, {TF_TYPE_Q4_0, 2}, {TF_TYPE_Q4_1, 3}, {TF_TYPE_Q8_0, 7},
        {TF_TYPE_Q5_0, 8}, {TF_TYPE_Q5_1, 9}, {TF_TYPE_Q6_K, 18}, {TF_TYPE_IQ4_NL, 25}, {TF_TYPE_BF16, 32}};
    char name[128];
    snprintf(name, sizeof name, "bench-random llama e%lld l%lld h%lld/%lld ff%lld", (long long)s->embd,
             (long long)s->layers, (long long)s->heads, (long long)s->kv_heads, (long long)s->ff);
    int rc = tf_gguf_writer_set_str(w, "general.architecture", "llama") ||
             tf_gguf_writer_set_str(w, "general.name", name);
    for (size_t i = 0; i < sizeof ft / sizeof ft[0]; i++)
        if (ft[i].type == type) rc = rc || tf_gguf_writer_set_u32(w, "general.file_type", ft[i].ftype);
    rc = rc || tf_gguf_writer_set_u32(w, "llama.context_length", (uint32_t)s->ctx) ||
         tf_gguf_writer_set_u32(w, "llama.embedding_length", (uint32_t)s->embd) ||
         tf_gguf_writer_set_u32(w, "llama.block_count", (uint32_t)s->layers) ||
         tf_gguf_writer_set_u32(w, "llama.feed_forward_length", (uint32_t)s->ff) ||
         tf_gguf_writer_set_u32(w, "llama.rope.dimension_count", (uint32_t)(s->embd / s->heads)) ||
         tf_gguf_writer_set_u32(w, "llama.attention.head_count", (uint32_t)s->heads) ||
         tf_gguf_writer_set_u32(w, "llama.attention.head_count_kv", (uint32_t)s->kv_heads) ||
         set_f32(w, "llama.attention.layer_norm_rms_epsilon", 1e-5f) ||
         set_f32(w, "llama.rope.freq_base", 10000.0f);
    for (uint64_t i = 0; !rc && i < tf_gguf_n_kv(voc); i++) {
        const tf_gguf_kv *kv = tf_gguf_kv_at(voc, i);
        if (kv->key.len > 10 && !memcmp(kv->key.ptr, "tokenizer.", 10)) rc = tf_gguf_writer_set_kv(w, kv);
    }
    return rc ? -1 : 0;
}

static uint32_t type_named(const char *s)
{
    for (uint32_t t = 0; t < TF_TYPE_COUNT; t++) {
        const tf_type_traits *tr = tf_type_traits_of(t);
        if (tr && tr->name && !strcasecmp(tr->name, s)) return t;
    }
    return UINT32_MAX;
}

static int usage(void)
{
    fprintf(stderr, "usage: gen_bench_model OUT.gguf --vocab VOCAB.gguf [--type f16] [--layers N] [--embd N]\n"
                    "       [--ff N] [--heads N] [--kv-heads N] [--ctx N] [-q]\n");
    return 2;
}

int main(int argc, char **argv)
{
    shape s = {2048, 22, 32, 4, 5632, 2048};
    const char *out = NULL, *vocab = NULL, *type_s = "f16";
    gen g = {0};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        int64_t *num = !strcmp(a, "--layers") ? &s.layers : !strcmp(a, "--embd") ? &s.embd
                     : !strcmp(a, "--ff") ? &s.ff : !strcmp(a, "--heads") ? &s.heads
                     : !strcmp(a, "--kv-heads") ? &s.kv_heads : !strcmp(a, "--ctx") ? &s.ctx : NULL;
        if (!strcmp(a, "-q")) g.quiet = true;
        else if (!strcmp(a, "-h") || !strcmp(a, "--help")) return usage(), 0;
        else if (a[0] != '-' && !out) out = a;
        else if (!v) return usage();
        else if (!strcmp(a, "--vocab")) vocab = argv[++i];
        else if (!strcmp(a, "--type")) type_s = argv[++i];
        else if (num && (*num = strtoll(argv[++i], NULL, 10)) > 0) continue;
        else return usage();
    }
    if (!out || !vocab || s.embd % s.heads || s.heads % s.kv_heads || (s.embd / s.heads) % 2) return usage();
    tf_kernels_init(false);
    bool tty = isatty(2);
    g.quiet = g.quiet || !tty; /* the per-tensor progress line is for terminals */
    g.type = type_named(type_s);
    if (g.type == UINT32_MAX || !tf_kernels_of(g.type) || !tf_kernels_of(g.type)->from_float) {
        fprintf(stderr, "gen_bench_model: unknown or unwritable type '%s'\n", type_s);
        return 2;
    }
    char err[512];
    tf_gguf *voc = NULL;
    if (tf_gguf_open_file(vocab, &voc, err, sizeof err)) {
        fprintf(stderr, "gen_bench_model: %s\n", err);
        return 1;
    }
    const tf_gguf_kv *toks = tf_gguf_find(voc, "tokenizer.ggml.tokens");
    int64_t n_vocab = toks && toks->type == TF_GGUF_ARRAY ? (int64_t)toks->v.arr.n : 0;
    int rc = 1;
    g.w = tf_gguf_writer_new();
    g.cap = CHUNK_FLOATS;
    g.rows = malloc(g.cap * sizeof(float));
    g.out = malloc(g.cap * sizeof(float));
    if (n_vocab <= 0) fprintf(stderr, "gen_bench_model: %s has no tokenizer.ggml.tokens\n", vocab);
    else if (!g.w || !g.rows || !g.out) fprintf(stderr, "gen_bench_model: out of memory\n");
    else if (metadata(g.w, &s, voc, g.type) || tensors(&g, &s, n_vocab, 0) ||
             (g.total = tf_gguf_writer_file_bytes(g.w), tf_gguf_writer_open(g.w, out)) ||
             tensors(&g, &s, n_vocab, 1) || tf_gguf_writer_close(g.w))
        fprintf(stderr, "\ngen_bench_model: %s: %s\n", out, g.w ? tf_gguf_writer_error(g.w) : "failed");
    else {
        rc = 0;
        fprintf(stderr, "%swrote %s (%.2f GB, %lld-token vocabulary)\n", tty ? "\r\033[K" : "", out,
                g.total / 1e9, (long long)n_vocab);
    }
    tf_gguf_writer_free(g.w);
    tf_gguf_close(voc);
    free(g.rows);
    free(g.out);
    return rc;
}
