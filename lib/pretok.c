/* pretok.c - pre-tokenizer names, their pattern lists, and hand-written
 * splitters for the patterns nearly every BPE model uses.
 *
 * The table follows ../shared/pretokenizers.md (the reference engine's
 * patterns, in order).  The hand-written splitters implement exactly the
 * regex semantics of their pattern; tests run them against the regex
 * engine on random text to keep it that way.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include "pretok.h"
#include "unicode.h"
#include "internal.h"

#define GPT2_PAT "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)"
#define CL_PAT "(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])"
#define LLAMA3_PAT CL_PAT "|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"
#define QWEN2_PAT CL_PAT "|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"

/* Builtins are named "@1".."@3" in the table (TF_SPLIT_*). */
#define B_GPT2 "@1"
#define B_LLAMA3 "@2"
#define B_QWEN2 "@3"

/* CJK ranges shared by the deepseek patterns. */
#define DS_CJK "[\u4E00-\u9FA5\u0800-\u4E00\uAC00-\uD7FF]+"
/* deepseek-llm's letters.  pretokenizers.md shows this class after NFC
 * normalization, which turned U+1F7D, U+1FBE, U+1FD3, U+1FDB, U+2126 and
 * U+212A into other code points (two ranges even came out reversed); the
 * model's own pattern has the originals, restored here. */
#define DS_LLM_LETTERS                                                         \
    "\\s?[A-Za-z\u00B5\u00C0-\u00D6\u00D8-\u00F6\u00F8-\u01BA\u01BC-\u01BF"    \
    "\u01C4-\u0293\u0295-\u02AF\u0370-\u0373\u0376\u0377\u037B-\u037D\u037F"   \
    "\u0386\u0388-\u038A\u038C\u038E-\u03A1\u03A3-\u03F5\u03F7-\u0481"         \
    "\u048A-\u052F\u0531-\u0556\u10A0-\u10C5\u13A0-\u13F5\u13F8-\u13FD"        \
    "\u1C90-\u1CBA\u1CBD-\u1CBF\u1D00-\u1D2B\u1D6B-\u1D77\u1D79-\u1D9A"        \
    "\u1E00-\u1F15\u1F18-\u1F1D\u1F20-\u1F45\u1F48-\u1F4D\u1F50-\u1F57\u1F59"  \
    "\u1F5B\u1F5D\u1F5F-\u1F7D\u1F80-\u1FB4\u1FB6-\u1FBC\u1FBE\u1FC2-\u1FC4"   \
    "\u1FC6-\u1FCC\u1FD0-\u1FD3\u1FD6-\u1FDB\u1FE0-\u1FEC\u1FF2-\u1FF4"        \
    "\u1FF6-\u1FFC\u2102\u2107\u210A-\u2113\u2115\u2119-\u211D\u2124\u2126"    \
    "\u2128\u212A-\u212D\u212F-\u2134\u2139\u213C-\u213F\u2145-\u2149\u214E"   \
    "\u2183\u2184\u2C00-\u2C7B\u2C7E-\u2CE4\u2CEB-\u2CEE\u2CF2\u2CF3"          \
    "\uA640-\uA66D\uA680-\uA69B\uA722-\uA76F\uA771-\uA787\uA78B-\uA78E"        \
    "\uAB70-\uABBF\uFB00-\uFB06\uFB13-\uFB17\uFF21-\uFF3A\uFF41-\uFF5A"        \
    "\U00010400-\U0001044F\U000104B0-\U000104D3\U000104D8-\U000104FB"          \
    "\U00010C80-\U00010CB2\U00010CC0-\U00010CF2\U000118A0-\U000118DF"          \
    "\U0001E900-\U0001E943]+"
#define PORO_PAT " ?[^(\\s|.,!?\u2026\u3002\uFF0C\u3001\u0964\u06D4\u060C)]+"

#define MAX_STEPS 6

typedef struct pre_def {
    const char *names[8]; /* a trailing '*' matches any suffix */
    unsigned flags;
    const char *pats[MAX_STEPS];
} pre_def;

static const pre_def k_defs[] = {
    {{"default"}, 0,
     {"[\\p{P}\\$\\+<=>\\^~\\|]+", B_GPT2, "\\p{N}+", "[0-9][0-9][0-9]"}},
    {{"gpt-2", "phi-2", "roberta-bpe", "jina-*", "gigachat", "mpt", "olmo",
      "jais"}, 0, {B_GPT2}},
    {{"llama3", "llama-v3", "llama-bpe", "falcon3"},
     TF_PRETOK_IGNORE_MERGES | TF_PRETOK_ADD_BOS, {B_LLAMA3}},
    {{"dbrx", "smaug-bpe", "chatglm-bpe"}, 0, {B_LLAMA3}},
    {{"qwen2", "deepseek-r1-qwen", "stablelm2", "megrez"}, 0, {B_QWEN2}},
    {{"starcoder", "refact", "smollm", "command-r", "codeshell", "exaone",
      "minerva-7b"}, 0, {"\\p{N}", B_GPT2}},
    {{"falcon"}, 0,
     {"[\\p{P}\\$\\+<=>\\^~|`]+", B_GPT2, "[0-9][0-9][0-9]"}},
    {{"deepseek-coder"}, 0,
     {"[\\r\\n]", "\\s?\\p{L}+", "\\s?\\p{P}+", DS_CJK, "\\p{N}"}},
    {{"deepseek-llm"}, 0,
     {"[\\r\\n]", DS_LLM_LETTERS,
      "\\s?[!-/:-~\uFF01-\uFF0F\uFF1A-\uFF5E\u2018-\u201F\u3000-\u3002]+",
      "\\s+$", DS_CJK, "\\p{N}+"}},
    {{"deepseek-v3"}, 0,
     {"\\p{N}{1,3}", "[\u4E00-\u9FA5\u3040-\u309F\u30A0-\u30FF]+",
      "[!\"#$%&'()*+,\\-./:;<=>?@\\[\\\\\\]^_`{|}~][A-Za-z]+"
      "|[^\\r\\n\\p{L}\\p{P}\\p{S}]?[\\p{L}\\p{M}]+"
      "| ?[\\p{P}\\p{S}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"}},
    {{"poro-chat", "bloom", "gpt3-finnish"}, 0, {PORO_PAT}},
    {{"viking"}, 0, {PORO_PAT, "\\p{N}"}},
};

struct tf_pretok {
    const pre_def *def;
    int n_steps;
    int builtin[MAX_STEPS]; /* TF_SPLIT_* or 0 */
    tf_regex *re[MAX_STEPS];
};

int tf_spans_push(tf_spans *s, uint32_t a, uint32_t b)
{
    if (s->n == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 64;
        tf_span *v = tf_secure_realloc(s->v, s->cap * sizeof *v, cap * sizeof *v);
        if (!v)
            return -1;
        s->v = v;
        s->cap = cap;
    }
    s->v[s->n].a = a;
    s->v[s->n].b = b;
    s->n++;
    return 0;
}

void tf_spans_free(tf_spans *s)
{
    tf_secure_free(s->v, s->cap * sizeof *s->v); /* offsets into a prompt */
    s->v = NULL;
    s->n = s->cap = 0;
}

static bool name_matches(const char *pat, const char *name)
{
    size_t n = strlen(pat);
    if (n && pat[n - 1] == '*')
        return strncmp(pat, name, n - 1) == 0;
    return strcmp(pat, name) == 0;
}

int tf_pretok_new(const char *name, tf_pretok **out, char *err, size_t errlen)
{
    *out = NULL;
    if (!name || !*name)
        name = "default";
    const pre_def *def = NULL;
    for (size_t i = 0; !def && i < sizeof k_defs / sizeof k_defs[0]; i++)
        for (int j = 0; j < 8 && k_defs[i].names[j]; j++)
            if (name_matches(k_defs[i].names[j], name)) {
                def = &k_defs[i];
                break;
            }
    if (!def) {
        tf_errf(err, errlen,
                "tokenizer.ggml.pre: unknown pre-tokenizer '%s' (see "
                "pretokenizers.md for the supported names)", name);
        return -1;
    }
    tf_pretok *p = calloc(1, sizeof *p);
    if (!p) {
        tf_errf(err, errlen, "out of memory");
        return -1;
    }
    p->def = def;
    for (int i = 0; i < MAX_STEPS && def->pats[i]; i++) {
        const char *pat = def->pats[i];
        if (pat[0] == '@') {
            p->builtin[i] = pat[1] - '0';
        } else if (tf_regex_compile(pat, &p->re[i], err, errlen)) {
            tf_pretok_free(p);
            return -1;
        }
        p->n_steps = i + 1;
    }
    *out = p;
    return 0;
}

void tf_pretok_free(tf_pretok *p)
{
    if (!p)
        return;
    for (int i = 0; i < MAX_STEPS; i++)
        tf_regex_free(p->re[i]);
    free(p);
}

unsigned tf_pretok_flags(const tf_pretok *p) { return p->def->flags; }

static const char *g_names[64];
static pthread_once_t g_names_once = PTHREAD_ONCE_INIT;

static void fill_names(void)
{
    size_t k = 0;
    for (size_t i = 0; i < sizeof k_defs / sizeof k_defs[0]; i++)
        for (int j = 0; j < 8 && k_defs[i].names[j] && k < 63; j++)
            g_names[k++] = k_defs[i].names[j];
    g_names[k] = NULL;
}

const char *const *tf_pretok_names(void)
{
    pthread_once(&g_names_once, fill_names);
    return g_names;
}

const char *tf_pretok_builtin_pattern(int which)
{
    switch (which) {
    case TF_SPLIT_GPT2: return GPT2_PAT;
    case TF_SPLIT_LLAMA3: return LLAMA3_PAT;
    case TF_SPLIT_QWEN2: return QWEN2_PAT;
    default: return NULL;
    }
}

/* ---- hand-written splitters ---- */

typedef struct piece_cursor {
    const uint32_t *cp;
    const uint8_t *fl;
    uint32_t end;
} piece_cursor;

/* Flags at i, 0 past the piece end (so no class test matches there). */
static inline unsigned flag_at(const piece_cursor *c, uint32_t i)
{
    return i < c->end ? c->fl[i] : 0;
}

static inline uint32_t lower_ascii(uint32_t c)
{
    return (c >= 'A' && c <= 'Z') ? c + 32 : c;
}

/* 's 't 're 've 'm 'll 'd at i (case-insensitive when ci): length or 0. */
static uint32_t contraction(const piece_cursor *c, uint32_t i, bool ci)
{
    if (c->cp[i] != '\'' || i + 1 >= c->end)
        return 0;
    uint32_t a = c->cp[i + 1], b = i + 2 < c->end ? c->cp[i + 2] : 0;
    if (ci) {
        a = lower_ascii(a);
        b = lower_ascii(b);
    }
    if (a == 's' || a == 't' || a == 'm' || a == 'd')
        return 2;
    if ((a == 'r' && b == 'e') || (a == 'v' && b == 'e') ||
        (a == 'l' && b == 'l'))
        return 3;
    return 0;
}

/* Whitespace at i: \s+(?!\S) keeps the last space for the next word when
 * a non-space follows; a lone space before a non-space stands alone. */
static uint32_t space_run(const piece_cursor *c, uint32_t i)
{
    uint32_t k = i;
    while (k < c->end && (c->fl[k] & TF_UC_WS))
        k++;
    if (k - i > 1 && k < c->end)
        return k - 1;
    return k > i ? k : i + 1;
}

#define NOT_LNW(f) ((f) && !((f) & (TF_UC_WS | TF_UC_L | TF_UC_N)))

/* 's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S) */
static int split_gpt2(const piece_cursor *c, uint32_t a, tf_spans *out)
{
    uint32_t i = a;
    while (i < c->end) {
        uint32_t j = 0, n = contraction(c, i, false);
        if (n) {
            j = i + n;
        } else {
            uint32_t s = (c->cp[i] == ' ') ? i + 1 : i;
            unsigned f = flag_at(c, s);
            if (f & TF_UC_L) {
                for (j = s + 1; flag_at(c, j) & TF_UC_L; j++) {}
            } else if (f & TF_UC_N) {
                for (j = s + 1; flag_at(c, j) & TF_UC_N; j++) {}
            } else if (NOT_LNW(f)) {
                for (j = s + 1; NOT_LNW(flag_at(c, j)); j++) {}
            } else {
                j = space_run(c, i);
            }
        }
        if (tf_spans_push(out, i, j))
            return -1;
        i = j;
    }
    return 0;
}

/* Llama 3 (max_digits 3) and Qwen2 (1):
 * CL|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|
 * \s*[\r\n]+|\s+(?!\S)|\s+ */
static int split_llama3(const piece_cursor *c, uint32_t a, uint32_t max_digits,
                        tf_spans *out)
{
    uint32_t i = a;
    while (i < c->end) {
        uint32_t cp = c->cp[i], j = 0, n = contraction(c, i, true);
        unsigned f = c->fl[i];
        if (n) {
            j = i + n;
        } else if (cp != '\r' && cp != '\n' && !(f & TF_UC_N) &&
                   ((f & TF_UC_L) || (flag_at(c, i + 1) & TF_UC_L))) {
            for (j = i + 1; flag_at(c, j) & TF_UC_L; j++) {}
        } else if (f & TF_UC_N) {
            for (j = i + 1; j - i < max_digits && (flag_at(c, j) & TF_UC_N); j++) {}
        } else if (NOT_LNW(flag_at(c, cp == ' ' ? i + 1 : i))) {
            j = cp == ' ' ? i + 1 : i;
            while (NOT_LNW(flag_at(c, j)))
                j++;
            while (j < c->end && (c->cp[j] == '\r' || c->cp[j] == '\n'))
                j++;
        } else {
            /* \s*[\r\n]+ ends after the last newline of the run */
            uint32_t k = i, nl = 0;
            for (; k < c->end && (c->fl[k] & TF_UC_WS); k++)
                if (c->cp[k] == '\r' || c->cp[k] == '\n')
                    nl = k + 1;
            j = nl ? nl : space_run(c, i);
        }
        if (tf_spans_push(out, i, j))
            return -1;
        i = j;
    }
    return 0;
}

int tf_pretok_builtin_split(int which, const uint32_t *cp, const uint8_t *fl,
                            const tf_span *in, size_t n_in, tf_spans *out)
{
    out->n = 0;
    for (size_t k = 0; k < n_in; k++) {
        piece_cursor c = {cp, fl, in[k].b};
        int rc = which == TF_SPLIT_GPT2 ? split_gpt2(&c, in[k].a, out)
               : split_llama3(&c, in[k].a, which == TF_SPLIT_LLAMA3 ? 3 : 1, out);
        if (rc)
            return -1;
    }
    return 0;
}

int tf_pretok_split(const tf_pretok *p, const uint32_t *cp, const uint8_t *fl,
                    size_t n, tf_spans *out)
{
    out->n = 0;
    if (n == 0)
        return 0;
    if (n > UINT32_MAX - 1 || tf_spans_push(out, 0, (uint32_t)n))
        return -1;
    /* each step reads one list and fills the other */
    tf_spans tmp = {0}, *cur = out, *next = &tmp;
    int rc = 0;
    for (int i = 0; i < p->n_steps && rc == 0; i++) {
        rc = p->builtin[i]
                 ? tf_pretok_builtin_split(p->builtin[i], cp, fl, cur->v, cur->n, next)
                 : tf_regex_split(p->re[i], cp, fl, cur->v, cur->n, next);
        tf_spans *t = cur;
        cur = next;
        next = t;
    }
    if (cur != out) { /* result is in tmp: hand its buffer to out */
        tf_spans t = *out;
        *out = tmp;
        tmp = t;
    }
    tf_spans_free(&tmp);
    return rc;
}
