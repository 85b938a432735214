/* fuzz_tokenizer.c - libFuzzer target: text -> ids -> text on the shipped
 * vocabularies.
 *
 * Loaded once: every vocabulary in $TINFER_SHARED/vocab plus the tokenizers
 * of the tiny Llama (SentencePiece, 4096 tokens) and Qwen2 (byte-level BPE)
 * models.  The first input byte picks the vocabulary and the BOS flag; the
 * rest is the text.  For each of plain and special-token parsing:
 * - the size query agrees with the real call, every id is in range;
 * - detokenizing succeeds with the same size-query agreement;
 * - without special parsing, valid UTF-8 comes back byte for byte: every
 *   vocabulary here can spell any UTF-8 (SentencePiece through byte
 *   fallback, BPE through its byte alphabet) - except U+2581 in
 *   SentencePiece vocabularies, which prints as a space by design, and
 *   whitespace next to special tokens that the vocabulary strips (Phi-3:
 *   the reference engine does the same);
 * - the streaming detokenizer gives the same text (SentencePiece: plus the
 *   spaces that tf_detokenize drops at the start of each run of text) and
 *   never holds more than an incomplete UTF-8 sequence.
 */
#include <dirent.h>

#include "fuzz_common.h"
#include "internal.h"
#include "tinfer.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FT_MAX_VOCABS 16

static tf_model *ft_vocab[FT_MAX_VOCABS];
static bool ft_spm[FT_MAX_VOCABS];
static bool ft_strips[FT_MAX_VOCABS]; /* strips whitespace around specials */
/* Byte-level BPE: which bytes have a token of their own.  A vocabulary
 * without one (StarCoder has no token for byte 0xF1, say) drops that byte,
 * as the reference engine does, so such text cannot round-trip. */
static bool ft_byte_ok[FT_MAX_VOCABS][256];
static int ft_n = -1;

/* GPT-2's byte-to-unicode map: printable Latin-1 bytes stand for
 * themselves, the rest for U+0100 onwards in byte order. */
static void ft_mark_bytes(tf_model *m, int v)
{
    const tf_tokenizer *t = tf_model_tokenizer(m);
    unsigned next = 256;
    for (unsigned b = 0; b < 256; b++) {
        bool self = (b >= 0x21 && b <= 0x7e) || (b >= 0xa1 && b <= 0xac) || b >= 0xae;
        unsigned cp = self ? b : next++;
        char u[3];
        size_t n = cp < 0x80 ? 1 : 2;
        if (n == 1) u[0] = (char)cp;
        else { u[0] = (char)(0xc0 | (cp >> 6)); u[1] = (char)(0x80 | (cp & 0x3f)); }
        ft_byte_ok[v][b] = ft_spm[v] || tf_tokenizer_find(t, u, n) >= 0;
    }
}

static bool ft_bytes_ok(int v, const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!ft_byte_ok[v][(unsigned char)s[i]]) return false;
    return true;
}

static int ft_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void ft_add(const char *path)
{
    tf_model_params p = tf_model_default_params();
    p.vocab_only = true;
    tf_model *m = NULL;
    if (tf_model_open(path, &p, &m) != TF_OK) {
        fprintf(stderr, "fuzz_tokenizer: cannot load %s: %s\n", path, tf_last_error());
        abort();
    }
    tf_model_desc d;
    tf_model_describe(m, &d);
    ft_spm[ft_n] = strcmp(d.tokenizer, "llama") == 0;
    /* The reference engine (and tinfer) strip whitespace next to some
     * special tokens for Phi-3 (by name) and Jina (by pre-tokenizer). */
    char low[128];
    size_t i = 0;
    for (; d.name[i] && i < sizeof low - 1; i++)
        low[i] = (char)(d.name[i] >= 'A' && d.name[i] <= 'Z' ? d.name[i] + 32 : d.name[i]);
    low[i] = 0;
    ft_strips[ft_n] = strstr(low, "phi-3") || strstr(low, "phi3") || strstr(d.pretokenizer, "jina");
    ft_mark_bytes(m, ft_n);
    ft_vocab[ft_n++] = m;
}

/* Sorted, so the first input byte means the same vocabulary every run. */
static void ft_init(void)
{
    char dir[1024], path[1400];
    char *names[FT_MAX_VOCABS];
    int nn = 0;
    ft_n = 0;
    snprintf(dir, sizeof dir, "%s/vocab", fz_shared());
    DIR *dp = opendir(dir);
    if (!dp) {
        fprintf(stderr, "fuzz_tokenizer: reference data '%s' is missing (set TINFER_SHARED)\n", dir);
        abort();
    }
    struct dirent *e;
    while ((e = readdir(dp)) != NULL && nn < FT_MAX_VOCABS - 2) {
        size_t l = strlen(e->d_name);
        if (l > 5 && strcmp(e->d_name + l - 5, ".gguf") == 0) names[nn++] = strdup(e->d_name);
    }
    closedir(dp);
    qsort(names, (size_t)nn, sizeof *names, ft_cmp);
    for (int i = 0; i < nn; i++) {
        snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        ft_add(path);
        free(names[i]);
    }
    snprintf(path, sizeof path, "%s/models/tiny-llama-q8_0.gguf", fz_shared());
    ft_add(path);
    snprintf(path, sizeof path, "%s/models/tiny-qwen2-q8_0.gguf", fz_shared());
    ft_add(path);
}

/* Concatenated stream output for ids, flushed at the end. */
static char *ft_stream(tf_model *m, const tf_token *ids, size_t n, size_t *len)
{
    size_t cap = 64, o = 0;
    char *out = malloc(cap);
    FZ_CHECK(out != NULL);
    tf_detok_stream s = {{0}, 0};
    for (size_t i = 0; i <= n; i++) {
        tf_token t = i < n ? ids[i] : -1;
        size_t need = 0;
        tf_status st = tf_detok_stream_push(m, &s, t, NULL, 0, &need);
        FZ_CHECK(st == TF_OK || st == TF_ERR_BUFFER);
        if (st == TF_OK) { /* nothing to emit: the token was taken (held back) */
            FZ_CHECK(need == 0);
            continue;
        }
        FZ_CHECK(need > 0);
        if (o + need + 1 > cap) {
            while (o + need + 1 > cap) cap *= 2;
            out = realloc(out, cap);
            FZ_CHECK(out != NULL);
        }
        size_t got = 0;
        FZ_CHECK(tf_detok_stream_push(m, &s, t, out + o, cap - o, &got) == TF_OK);
        FZ_CHECK(got == need);
        FZ_CHECK(s.n_pend <= 3);
        o += got;
    }
    FZ_CHECK(s.n_pend == 0);
    *len = o;
    return out;
}

/* SentencePiece: tf_detokenize drops the space the tokenizer put before
 * each run of text (at the start and after every special token); the
 * stream prints pieces as they are.  So the detokenized text must be the
 * streamed text less some spaces, at most one per token. */
static bool ft_less_spaces(const char *st, size_t sn, const char *dt, size_t dn, size_t n_ids)
{
    size_t skipped = 0, j = 0;
    for (size_t i = 0; i < sn; i++) {
        if (j < dn && st[i] == dt[j]) j++;
        else if (st[i] == ' ') skipped++;
        else return false;
    }
    return j == dn && skipped <= n_ids;
}

/* out is text less some whitespace (what strip attributes remove). */
static bool ft_less_whitespace(const char *text, size_t len, const char *out, size_t n)
{
    size_t j = 0;
    for (size_t i = 0; i < len; i++) {
        if (j < n && text[i] == out[j]) j++;
        else if (!strchr(" \t\n\r\v\f", text[i]) || !text[i]) return false;
    }
    return j == n;
}

static bool ft_has_u2581(const char *s, size_t n)
{
    for (size_t i = 0; i + 3 <= n; i++)
        if (memcmp(s + i, "\xe2\x96\x81", 3) == 0) return true;
    return false;
}

static void ft_one(int v, const char *text, size_t len, int flags)
{
    tf_model *m = ft_vocab[v];
    int32_t nv = tf_n_vocab(m);
    size_t need = 0, n = 0;
    tf_status st = tf_tokenize(m, text, len, flags, NULL, 0, &need);
    if (st == TF_ERR_INVALID_ARG && !(flags & TF_TOKENIZE_NO_BOS) && tf_token_bos(m) < 0) return;
    FZ_CHECK(st == TF_OK || st == TF_ERR_BUFFER);
    FZ_CHECK((st == TF_OK) == (need == 0));
    tf_token *ids = malloc((need ? need : 1) * sizeof *ids);
    FZ_CHECK(ids != NULL);
    FZ_CHECK(tf_tokenize(m, text, len, flags, ids, need, &n) == TF_OK);
    FZ_CHECK(n == need);
    for (size_t i = 0; i < n; i++) FZ_CHECK(ids[i] >= 0 && ids[i] < nv);
    int dflags = flags & TF_TOKENIZE_SPECIAL;
    size_t dneed = 0, dn = 0;
    st = tf_detokenize(m, ids, n, dflags, NULL, 0, &dneed);
    FZ_CHECK(st == TF_OK || st == TF_ERR_BUFFER);
    char *back = malloc(dneed + 1);
    FZ_CHECK(back != NULL);
    FZ_CHECK(tf_detokenize(m, ids, n, dflags, back, dneed + 1, &dn) == TF_OK);
    FZ_CHECK(dn == dneed);
    /* SentencePiece spells spaces U+2581 and prints U+2581 as a space, so a
     * literal U+2581 in the text can't come back (the reference agrees). */
    bool lossy = (ft_spm[v] && ft_has_u2581(text, len)) || !ft_bytes_ok(v, text, len);
    if (!(flags & TF_TOKENIZE_SPECIAL) && !lossy && fz_utf8_valid((const uint8_t *)text, len)) {
        bool same = dn == len && memcmp(back, text, len) == 0;
        if (!same && !(ft_strips[v] && ft_less_whitespace(text, len, back, dn))) {
            fprintf(stderr, "round trip differs (vocabulary %d, %zu bytes in, %zu out)\n", v, len, dn);
            FZ_CHECK(!"detokenize(tokenize(text)) == text");
        }
    }
    if (!dflags) {
        size_t sn = 0;
        char *streamed = ft_stream(m, ids, n, &sn);
        if (ft_spm[v]) FZ_CHECK(ft_less_spaces(streamed, sn, back, dn, n));
        else FZ_CHECK(sn == dn && memcmp(streamed, back, dn) == 0);
        free(streamed);
    }
    free(back);
    free(ids);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (ft_n < 0) ft_init();
    if (size == 0) return 0;
    if (size > 4097) size = 4097; /* tokenizers are quadratic in places; keep runs short */
    int v = data[0] % ft_n;
    int bos = (data[0] / ft_n) % 3;
    int flags = bos == 0 ? TF_TOKENIZE_DEFAULT : bos == 1 ? TF_TOKENIZE_NO_BOS : TF_TOKENIZE_ADD_BOS;
    const char *text = (const char *)data + 1;
    ft_one(v, text, size - 1, flags);
    ft_one(v, text, size - 1, flags | TF_TOKENIZE_SPECIAL);
    return 0;
}
