/* tokenizer.c - vocabulary loading and validation, special tokens, and the
 * encode/decode entry points that dispatch to tok_spm.c / tok_bpe.c.
 *
 * Behaviour follows the reference engine token for token (see
 * tests/test_tokenizer.c for the vectors); where that engine has quirks
 * they are kept and the comment says so.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "tok_internal.h"
#include "unicode.h"
#include "internal.h"

/* ---- small containers ---- */

int tok_reserve(void **p, size_t *cap, size_t n, size_t sz)
{
    if (n <= *cap)
        return 0;
    size_t c = *cap ? *cap : 16;
    while (c < n) {
        if (c > SIZE_MAX / 2 / sz)
            return -1;
        c *= 2;
    }
    /* These buffers hold a prompt's text, pieces or ids: no copy of them
     * is left behind in freed memory. */
    void *q = tf_secure_realloc(*p, *cap * sz, c * sz);
    if (!q)
        return -1;
    *p = q;
    *cap = c;
    return 0;
}

void tok_push(tok_out *o, int32_t id)
{
    if (o->oom)
        return;
    if (tok_reserve((void **)&o->v, &o->cap, o->n + 1, sizeof *o->v)) {
        o->oom = true;
        return;
    }
    o->v[o->n++] = id;
}

static inline bool bigram_better(const tok_bigram *a, const tok_bigram *b)
{
    return a->key > b->key || (a->key == b->key && a->left < b->left);
}

int tok_heap_push(tok_heap *h, tok_bigram b)
{
    if (tok_reserve((void **)&h->v, &h->cap, h->n + 1, sizeof *h->v))
        return -1;
    size_t i = h->n++;
    while (i > 0) {
        size_t up = (i - 1) / 2;
        if (!bigram_better(&b, &h->v[up]))
            break;
        h->v[i] = h->v[up];
        i = up;
    }
    h->v[i] = b;
    return 0;
}

tok_bigram tok_heap_pop(tok_heap *h)
{
    tok_bigram top = h->v[0], last = h->v[--h->n];
    size_t i = 0, n = h->n;
    for (;;) {
        size_t k = 2 * i + 1;
        if (k >= n)
            break;
        if (k + 1 < n && bigram_better(&h->v[k + 1], &h->v[k]))
            k++;
        if (!bigram_better(&h->v[k], &last))
            break;
        h->v[i] = h->v[k];
        i = k;
    }
    if (n)
        h->v[i] = last;
    return top;
}

/* ---- token text -> id ---- */

static inline uint32_t hash_bytes(const char *s, size_t n)
{
    uint32_t h = 2166136261u; /* FNV-1a */
    for (size_t i = 0; i < n; i++)
        h = (h ^ (unsigned char)s[i]) * 16777619u;
    return h;
}

int32_t tok_lookup(const tf_tokenizer *t, const char *s, size_t n)
{
    uint32_t i = hash_bytes(s, n) & t->hmask;
    for (;;) {
        int32_t id = t->htab[i];
        if (id < 0)
            return -1;
        if (t->tlen[id] == n && memcmp(t->text + t->toff[id], s, n) == 0)
            return id;
        i = (i + 1) & t->hmask;
    }
}

/* Later duplicates replace earlier ones, as in the reference engine. */
static void hash_insert(tf_tokenizer *t, int32_t id)
{
    const char *s = t->text + t->toff[id];
    uint32_t n = t->tlen[id], i = hash_bytes(s, n) & t->hmask;
    while (t->htab[i] >= 0) {
        int32_t o = t->htab[i];
        if (t->tlen[o] == n && memcmp(t->text + t->toff[o], s, n) == 0)
            break;
        i = (i + 1) & t->hmask;
    }
    t->htab[i] = id;
}

/* ---- load ---- */

typedef struct load_ctx {
    const tf_gguf *g;
    tf_tokenizer *t;
    char *err;
    size_t errlen;
} load_ctx;

static const char K_TOKENS[] = "tokenizer.ggml.tokens";

/* An array key of n elements (n = 0: any); NULL if absent. */
static int get_array(load_ctx *c, const char *key, uint64_t n, bool required,
                     const tf_gguf_kv **out)
{
    const tf_gguf_kv *kv = tf_gguf_find(c->g, key);
    *out = NULL;
    if (!kv) {
        if (required)
            tf_errf(c->err, c->errlen, "%s: missing", key);
        return required ? -1 : 0;
    }
    if (kv->type != TF_GGUF_ARRAY) {
        tf_errf(c->err, c->errlen, "%s: expected an array, found %s", key,
                tf_gguf_vtype_name(kv->type));
        return -1;
    }
    if (n && kv->v.arr.n != n) {
        tf_errf(c->err, c->errlen, "%s: %llu entries, %s has %llu", key,
                (unsigned long long)kv->v.arr.n, K_TOKENS,
                (unsigned long long)n);
        return -1;
    }
    *out = kv;
    return 0;
}

static int64_t int_elem(const tf_gguf_kv *kv, uint64_t i)
{
    const uint8_t *p = kv->v.arr.data;
    switch (kv->v.arr.type) {
    case TF_GGUF_I8: return ((const int8_t *)p)[i];
    case TF_GGUF_U8: return p[i];
    case TF_GGUF_I16: { int16_t v; memcpy(&v, p + 2 * i, 2); return v; }
    case TF_GGUF_U16: { uint16_t v; memcpy(&v, p + 2 * i, 2); return v; }
    case TF_GGUF_I32: { int32_t v; memcpy(&v, p + 4 * i, 4); return v; }
    case TF_GGUF_U32: { uint32_t v; memcpy(&v, p + 4 * i, 4); return v; }
    case TF_GGUF_I64: { int64_t v; memcpy(&v, p + 8 * i, 8); return v; }
    default: { uint64_t v; memcpy(&v, p + 8 * i, 8); return (int64_t)v; }
    }
}

static bool is_int_vtype(uint32_t t)
{
    return t <= TF_GGUF_I32 || t == TF_GGUF_U64 || t == TF_GGUF_I64;
}

static int load_tokens(load_ctx *c)
{
    tf_tokenizer *t = c->t;
    const tf_gguf_kv *tok, *sc, *ty;
    if (get_array(c, K_TOKENS, 0, true, &tok))
        return -1;
    uint64_t n = tok->v.arr.n;
    if (tok->v.arr.type != TF_GGUF_STRING || n == 0 || n > INT32_MAX) {
        tf_errf(c->err, c->errlen, "%s: expected a non-empty array of strings",
                K_TOKENS);
        return -1;
    }
    if (get_array(c, "tokenizer.ggml.scores", n, false, &sc) ||
        get_array(c, "tokenizer.ggml.token_type", n, false, &ty))
        return -1;
    if (sc && sc->v.arr.type != TF_GGUF_F32) {
        tf_errf(c->err, c->errlen, "tokenizer.ggml.scores: expected float32 "
                "elements, found %s", tf_gguf_vtype_name(sc->v.arr.type));
        return -1;
    }
    if (ty && !is_int_vtype(ty->v.arr.type)) {
        tf_errf(c->err, c->errlen, "tokenizer.ggml.token_type: expected "
                "integer elements, found %s", tf_gguf_vtype_name(ty->v.arr.type));
        return -1;
    }
    t->n_vocab = (int32_t)n;
    size_t bytes = 0;
    for (uint64_t i = 0; i < n; i++)
        bytes += (tok->v.arr.strs[i].len ? tok->v.arr.strs[i].len : 24) + 1;
    uint32_t hsize = 1;
    while (hsize < 2 * n)
        hsize <<= 1;
    t->text = malloc(bytes);
    t->toff = malloc(n * sizeof *t->toff);
    t->tlen = malloc(n * sizeof *t->tlen);
    t->score = malloc(n * sizeof *t->score);
    t->type = malloc(n);
    t->attr = calloc(n, 1);
    t->htab = malloc(hsize * sizeof *t->htab);
    if (!t->text || !t->toff || !t->tlen || !t->score || !t->type || !t->attr ||
        !t->htab || bytes > UINT32_MAX) {
        tf_errf(c->err, c->errlen, "%s: out of memory", K_TOKENS);
        return -1;
    }
    t->hmask = hsize - 1;
    memset(t->htab, 0xff, hsize * sizeof *t->htab);
    size_t off = 0;
    for (uint64_t i = 0; i < n; i++) {
        tf_gguf_str s = tok->v.arr.strs[i];
        t->toff[i] = (uint32_t)off;
        if (s.len) {
            memcpy(t->text + off, s.ptr, s.len);
            t->tlen[i] = (uint32_t)s.len;
        } else { /* an empty token could never be matched; name it */
            t->tlen[i] = (uint32_t)snprintf(t->text + off, 25, "[EMPTY_%llu]",
                                            (unsigned long long)i);
        }
        off += t->tlen[i];
        t->text[off++] = 0;
        float f = 0.0f;
        if (sc)
            memcpy(&f, sc->v.arr.data + 4 * i, 4);
        if (isnan(f)) {
            tf_errf(c->err, c->errlen, "tokenizer.ggml.scores[%llu]: NaN",
                    (unsigned long long)i);
            return -1;
        }
        t->score[i] = f;
        int64_t ty_i = ty ? int_elem(ty, i) : TT_NORMAL;
        t->type[i] = (ty_i >= TT_NORMAL && ty_i <= TT_BYTE) ? (uint8_t)ty_i
                                                           : TT_UNDEFINED;
        hash_insert(t, (int32_t)i);
    }
    return 0;
}

/* Special id key: absent keeps *id; a negative value means none. */
static int special_id(load_ctx *c, const char *key, int32_t *id, bool strict)
{
    int64_t v;
    int rc = tf_gguf_get_i64(c->g, key, &v);
    if (rc == 1)
        return 0;
    if (rc < 0) {
        tf_errf(c->err, c->errlen, "%s: expected an integer", key);
        return -1;
    }
    if (v < 0 || (!strict && v >= c->t->n_vocab)) {
        *id = -1; /* padding ids past the vocabulary exist in the wild */
        return 0;
    }
    if (v >= c->t->n_vocab) {
        tf_errf(c->err, c->errlen, "%s: id %lld out of range (vocabulary has "
                "%d tokens)", key, (long long)v, c->t->n_vocab);
        return -1;
    }
    *id = (int32_t)v;
    return 0;
}

static int get_flag(load_ctx *c, const char *key, bool *v)
{
    int rc = tf_gguf_get_bool(c->g, key, v);
    if (rc < 0)
        tf_errf(c->err, c->errlen, "%s: expected a bool", key);
    return rc < 0 ? -1 : 0;
}

static int32_t find_z(const tf_tokenizer *t, const char *z)
{
    return tok_lookup(t, z, strlen(z));
}

/* End-of-turn texts the reference engine recognises, in our priority. */
static const char *const k_eot_texts[] = {
    "<|eot_id|>", "<|im_end|>", "<|end|>", "<end_of_turn>", "<|endoftext|>",
    "<EOT>", "_<EOT>", "<\xEF\xBD\x9C" "end\xE2\x96\x81of\xE2\x96\x81sentence\xEF\xBD\x9C>",
    NULL};

static int add_eog(tf_tokenizer *t, int32_t id)
{
    if (id < 0)
        return 0;
    for (size_t i = 0; i < t->n_eog; i++)
        if (t->eog[i] == id)
            return 0;
    int32_t *v = realloc(t->eog, (t->n_eog + 1) * sizeof *v);
    if (!v)
        return -1;
    t->eog = v;
    t->eog[t->n_eog++] = id;
    return 0;
}

/* Fill-in-the-middle pad/repo/separator tokens also end generation in the
 * reference engine: from their keys or, failing those, their texts. */
static int load_fim_eog(load_ctx *c)
{
    static const char *const keys[] = {"tokenizer.ggml.fim_pad_token_id",
                                       "tokenizer.ggml.fim_rep_token_id",
                                       "tokenizer.ggml.fim_sep_token_id"};
    static const char *const texts[3][5] = {
        {"<|fim_pad|>", "<fim-pad>", "<PAD>"},
        {"<|fim_repo|>", "<|repo_name|>", "<fim-repo>", "<REPO>"},
        {"<|file_sep|>"}};
    tf_tokenizer *t = c->t;
    for (int k = 0; k < 3; k++) {
        int32_t id = -1;
        if (special_id(c, keys[k], &id, true))
            return -1;
        for (int i = 0; id < 0 && texts[k][i]; i++)
            if ((id = find_z(t, texts[k][i])) >= 0)
                t->type[id] = TT_CONTROL;
        if (add_eog(t, id)) {
            tf_errf(c->err, c->errlen, "out of memory");
            return -1;
        }
    }
    return 0;
}

static int load_specials(load_ctx *c)
{
    tf_tokenizer *t = c->t;
    bool spm = t->kind == TOK_SPM;
    /* SentencePiece files conventionally use 0/1/2 when the keys are
     * missing; BPE files have no convention. */
    t->unk = spm && t->n_vocab > 0 ? 0 : -1;
    t->bos = spm && t->n_vocab > 1 ? 1 : -1;
    t->eos = spm && t->n_vocab > 2 ? 2 : -1;
    t->eot = t->eom = t->pad = -1;
    if (special_id(c, "tokenizer.ggml.bos_token_id", &t->bos, true) ||
        special_id(c, "tokenizer.ggml.eos_token_id", &t->eos, true) ||
        special_id(c, "tokenizer.ggml.eot_token_id", &t->eot, true) ||
        special_id(c, "tokenizer.ggml.eom_token_id", &t->eom, true) ||
        special_id(c, "tokenizer.ggml.unknown_token_id", &t->unk, true) ||
        special_id(c, "tokenizer.ggml.padding_token_id", &t->pad, false))
        return -1;

    t->add_bos = spm || (t->pretok && (tf_pretok_flags(t->pretok) & TF_PRETOK_ADD_BOS));
    t->add_eos = false;
    t->add_space_prefix = spm;
    if (get_flag(c, "tokenizer.ggml.add_bos_token", &t->add_bos) ||
        get_flag(c, "tokenizer.ggml.add_eos_token", &t->add_eos) ||
        get_flag(c, "tokenizer.ggml.add_space_prefix", &t->add_space_prefix))
        return -1;
    if (t->add_bos && t->bos < 0) {
        tf_errf(c->err, c->errlen, "tokenizer.ggml.add_bos_token: BOS requested "
                "but tokenizer.ggml.bos_token_id is missing");
        return -1;
    }
    if (t->add_eos && t->eos < 0) {
        tf_errf(c->err, c->errlen, "tokenizer.ggml.add_eos_token: EOS requested "
                "but tokenizer.ggml.eos_token_id is missing");
        return -1;
    }

    /* End of generation: EOS, EOT, EOM and any well-known end text.  The
     * reference engine also forces those tokens to CONTROL, which changes
     * how text containing them tokenizes; do the same. */
    for (int i = 0; k_eot_texts[i] && t->eot < 0; i++)
        t->eot = find_z(t, k_eot_texts[i]);
    if (t->eom < 0)
        t->eom = find_z(t, "<|eom_id|>");
    if (add_eog(t, t->eos) || add_eog(t, t->eot) || add_eog(t, t->eom))
        goto oom;
    for (int i = 0; k_eot_texts[i]; i++) {
        int32_t id = find_z(t, k_eot_texts[i]);
        if (id < 0)
            continue;
        t->type[id] = TT_CONTROL;
        /* the first six are texts the engine ends generation on */
        if (i < 6 && add_eog(t, id))
            goto oom;
    }
    if (t->eom >= 0)
        t->type[t->eom] = TT_CONTROL;
    return load_fim_eog(c);
oom:
    tf_errf(c->err, c->errlen, "out of memory");
    return -1;
}

/* Specials sort longest first (ties by id): qsort has no context
 * argument, so sort keys that carry the length. */
typedef struct len_id {
    uint32_t len;
    int32_t id;
} len_id;

static int special_cmp(const void *a, const void *b)
{
    const len_id *x = a, *y = b;
    if (x->len != y->len)
        return x->len > y->len ? -1 : 1;
    return x->id < y->id ? -1 : x->id > y->id;
}

static bool is_special_type(uint8_t ty)
{
    return ty == TT_CONTROL || ty == TT_USER_DEFINED || ty == TT_UNKNOWN;
}

/* Model-specific whitespace stripping around special tokens, as the
 * reference engine sets it: Phi-3 strips spaces after its specials, Jina
 * before <mask>. */
static void set_strip_attrs(load_ctx *c)
{
    tf_tokenizer *t = c->t;
    tf_gguf_str name;
    char low[64] = "";
    if (tf_gguf_get_str(c->g, "general.name", &name) == 0) {
        size_t n = name.len < 63 ? name.len : 63;
        for (size_t i = 0; i < n; i++) {
            char ch = name.ptr[i];
            low[i] = (ch >= 'A' && ch <= 'Z') ? (char)(ch + 32) : ch;
        }
        low[n] = 0;
    }
    if (!strcmp(t->pre, "jina-v2-de") || !strcmp(t->pre, "jina-v2-es") ||
        !strcmp(t->pre, "jina-v2-code")) {
        int32_t id = find_z(t, "<mask>");
        if (id >= 0)
            t->attr[id] |= TA_LSTRIP;
    } else if (strstr(low, "phi-3") || strstr(low, "phi3")) {
        for (size_t i = 0; i < t->n_special; i++)
            t->attr[t->special[i]] |= TA_RSTRIP;
        int32_t id = find_z(t, "</s>");
        if (id >= 0)
            t->attr[id] |= TA_RSTRIP;
        const char *keep[] = {"<unk>", "<s>", "<|endoftext|>"};
        for (int i = 0; i < 3; i++)
            if ((id = find_z(t, keep[i])) >= 0)
                t->attr[id] &= (uint8_t)~TA_RSTRIP;
    }
}

static int parse_byte_token(const char *s, size_t n)
{
    if (n != 6 || memcmp(s, "<0x", 3) != 0 || s[5] != '>')
        return -1;
    int v = 0;
    for (int i = 3; i < 5; i++) {
        char ch = s[i];
        int d = ch >= '0' && ch <= '9' ? ch - '0'
              : ch >= 'A' && ch <= 'F' ? ch - 'A' + 10
              : ch >= 'a' && ch <= 'f' ? ch - 'a' + 10 : -1;
        if (d < 0)
            return -1;
        v = v * 16 + d;
    }
    return v;
}

/* Render a token's output text into dst; room for the token's own bytes
 * suffices, as rendering never grows it.  Returns the length. */
static size_t render(const tf_tokenizer *t, int32_t id, char *dst)
{
    const char *s = t->text + t->toff[id];
    size_t n = t->tlen[id], o = 0;
    switch (t->type[id]) {
    case TT_CONTROL: case TT_UNKNOWN: case TT_USER_DEFINED:
        memcpy(dst, s, n);
        return n;
    case TT_BYTE: {
        int b = t->kind == TOK_SPM ? parse_byte_token(s, n) : -1;
        if (b < 0)
            return 0;
        dst[0] = (char)b;
        return 1;
    }
    case TT_NORMAL:
        break;
    default:
        return 0; /* unused/undefined tokens print nothing */
    }
    if (t->kind == TOK_SPM) {
        for (size_t i = 0; i < n; i++) {
            if (i + 2 < n && memcmp(s + i, "\xE2\x96\x81", 3) == 0) {
                dst[o++] = ' ';
                i += 2;
            } else {
                dst[o++] = s[i];
            }
        }
        return o;
    }
    for (size_t i = 0; i < n;) { /* undo the byte-to-unicode map */
        size_t adv;
        uint32_t cp = tf_utf8_decode((const unsigned char *)s + i, n - i, &adv);
        int b = tf_bytemap_byte(cp);
        if (b >= 0)
            dst[o++] = (char)b;
        else /* not a mapped char: keep its bytes */
            memcpy(dst + o, s + i, adv), o += adv;
        i += adv;
    }
    return o;
}

/* True when no token has "▁" after a different character (see
 * spm_word_cut). */
static bool spm_words_independent(const tf_tokenizer *t)
{
    for (int32_t id = 0; id < t->n_vocab; id++) {
        const char *s = t->text + t->toff[id];
        uint32_t n = t->tlen[id];
        for (uint32_t i = 1; i + 3 <= n; i++) {
            if (memcmp(s + i, "\xE2\x96\x81", 3) != 0)
                continue;
            if (i < 3 || memcmp(s + i - 3, "\xE2\x96\x81", 3) != 0)
                return false;
        }
    }
    return true;
}

static int build_tables(load_ctx *c)
{
    tf_tokenizer *t = c->t;
    size_t n = (size_t)t->n_vocab, total = 0, ns = 0;
    for (size_t i = 0; i < n; i++) {
        total += t->tlen[i];
        ns += is_special_type(t->type[i]);
    }
    t->pieces = malloc(total + 1);
    t->poff = malloc(n * sizeof *t->poff);
    t->plen = malloc(n * sizeof *t->plen);
    t->special = malloc((ns + 1) * sizeof *t->special);
    len_id *keys = malloc((ns + 1) * sizeof *keys);
    if (!t->pieces || !t->poff || !t->plen || !t->special || !keys) {
        free(keys);
        tf_errf(c->err, c->errlen, "out of memory");
        return -1;
    }
    size_t off = 0;
    for (size_t i = 0; i < n; i++) {
        /* rendering never grows a token: each step maps k bytes to <= k */
        size_t len = render(t, (int32_t)i, t->pieces + off);
        t->poff[i] = (uint32_t)off;
        t->plen[i] = (uint32_t)len;
        off += len;
        if (is_special_type(t->type[i]))
            keys[t->n_special++] = (len_id){t->tlen[i], (int32_t)i};
    }
    qsort(keys, t->n_special, sizeof *keys, special_cmp);
    t->spm_word_cut = t->kind == TOK_SPM && spm_words_independent(t);
    for (size_t i = 0; i < t->n_special; i++)
        t->special[i] = keys[i].id;
    free(keys);
    for (int b = 0; b < 256; b++) {
        char buf[8];
        unsigned char u[4];
        int32_t id;
        if (t->kind == TOK_SPM) {
            snprintf(buf, sizeof buf, "<0x%02X>", b);
            id = find_z(t, buf);
            if (id < 0) { /* no byte token: maybe the byte as text */
                buf[0] = (char)b;
                id = tok_lookup(t, buf, 1);
            }
        } else {
            size_t k = tf_utf8_encode(tf_bytemap_cp((uint8_t)b), u);
            id = tok_lookup(t, (const char *)u, k);
        }
        t->byte_tok[b] = id;
    }
    return 0;
}

int tf_tokenizer_load(const tf_gguf *g, tf_tokenizer **out, char *err,
                      size_t errlen)
{
    *out = NULL;
    tf_tokenizer *t = calloc(1, sizeof *t);
    if (!t) {
        tf_errf(err, errlen, "out of memory");
        return -1;
    }
    load_ctx c = {g, t, err, errlen};
    tf_gguf_str s;
    int rc = tf_gguf_get_str(g, "tokenizer.ggml.model", &s);
    if (rc) {
        tf_errf(err, errlen, "tokenizer.ggml.model: %s",
                rc > 0 ? "missing" : "expected a string");
        goto fail;
    }
    if (tf_gguf_str_eq(s, "llama")) {
        t->kind = TOK_SPM;
    } else if (tf_gguf_str_eq(s, "gpt2")) {
        t->kind = TOK_BPE;
    } else {
        tf_errf(err, errlen, "tokenizer.ggml.model: '%.*s' is not supported "
                "(llama, gpt2)", (int)(s.len > 64 ? 64 : s.len), s.ptr);
        goto fail;
    }
    strcpy(t->model, t->kind == TOK_SPM ? "llama" : "gpt2");
    if (load_tokens(&c))
        goto fail;
    char pre[128] = "";
    if (t->kind == TOK_BPE) {
        rc = tf_gguf_get_str(g, "tokenizer.ggml.pre", &s);
        if (rc < 0) {
            tf_errf(err, errlen, "tokenizer.ggml.pre: expected a string");
            goto fail;
        }
        if (rc == 0)
            snprintf(pre, sizeof pre, "%.*s", (int)(s.len > 127 ? 127 : s.len), s.ptr);
        if (tf_pretok_new(pre, &t->pretok, err, errlen))
            goto fail;
        t->ignore_merges = tf_pretok_flags(t->pretok) & TF_PRETOK_IGNORE_MERGES;
        const tf_gguf_kv *m;
        if (get_array(&c, "tokenizer.ggml.merges", 0, true, &m) ||
            tok_bpe_load_merges(t, m, err, errlen))
            goto fail;
    }
    t->pre = strdup(pre);
    if (!t->pre) {
        tf_errf(err, errlen, "out of memory");
        goto fail;
    }
    if (load_specials(&c) || build_tables(&c))
        goto fail;
    set_strip_attrs(&c);
    *out = t;
    return 0;
fail:
    tf_tokenizer_free(t);
    return -1;
}

void tf_tokenizer_free(tf_tokenizer *t)
{
    if (!t)
        return;
    free(t->pre);
    free(t->text);
    free(t->toff);
    free(t->tlen);
    free(t->score);
    free(t->type);
    free(t->attr);
    free(t->htab);
    free(t->pieces);
    free(t->poff);
    free(t->plen);
    free(t->eog);
    free(t->special);
    free(t->mkey);
    free(t->mrank);
    free(t->mres);
    tf_pretok_free(t->pretok);
    free(t);
}

/* ---- getters ---- */

int32_t tf_tokenizer_n_vocab(const tf_tokenizer *t) { return t->n_vocab; }
const char *tf_tokenizer_model(const tf_tokenizer *t) { return t->model; }
const char *tf_tokenizer_pre(const tf_tokenizer *t) { return t->pre; }
int32_t tf_tokenizer_bos(const tf_tokenizer *t) { return t->bos; }
int32_t tf_tokenizer_eos(const tf_tokenizer *t) { return t->eos; }
int32_t tf_tokenizer_eot(const tf_tokenizer *t) { return t->eot; }
bool tf_tokenizer_add_bos(const tf_tokenizer *t) { return t->add_bos; }
bool tf_tokenizer_add_eos(const tf_tokenizer *t) { return t->add_eos; }

bool tf_tokenizer_is_eog(const tf_tokenizer *t, int32_t id)
{
    for (size_t i = 0; i < t->n_eog; i++)
        if (t->eog[i] == id)
            return true;
    return false;
}

const char *tf_tokenizer_token_text(const tf_tokenizer *t, int32_t id)
{
    if (id < 0 || id >= t->n_vocab)
        return NULL;
    return t->text + t->toff[id];
}

bool tf_tokenizer_is_byte(const tf_tokenizer *t, int32_t id)
{
    return id >= 0 && id < t->n_vocab && t->type[id] == TT_BYTE;
}

int32_t tf_tokenizer_find(const tf_tokenizer *t, const char *s, size_t len)
{
    return tok_lookup(t, s, len);
}
