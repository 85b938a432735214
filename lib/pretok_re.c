/* pretok_re.c - the small regex engine behind the pre-tokenizer patterns.
 *
 * Pattern -> tree -> straight-line program for a backtracking matcher with
 * ECMAScript semantics (leftmost alternative wins, greedy quantifiers),
 * which is what the reference engine runs (std::regex).  Quantifiers apply
 * to single classes only (plus `?` on groups): such a program has no
 * backward jumps, so every path executes each instruction at most once and
 * the backtrack stack is bounded by the program length - no allocation
 * while matching.
 *
 * Class semantics copy the reference engine's "collapsed" trick: a
 * non-ASCII whitespace character behaves as U+000B, and \p{..} of ASCII
 * characters uses its ASCII table (see unicode.c).
 */
#include <stdlib.h>
#include <string.h>
#include "pretok.h"
#include "unicode.h"
#include "internal.h"

#define RX_MAX_CODE 192 /* also bounds the backtrack stack */
#define RX_MAX_CLS 64
#define RX_INF UINT32_MAX

typedef struct rx_class {
    bool neg;
    uint8_t cats;         /* TF_UC_* bits, for non-ASCII code points */
    uint32_t ascii[4];    /* membership of 0..127, negation applied */
    uint32_t n, cap;      /* ranges, sorted after compile */
    uint32_t (*r)[2];
} rx_class;

enum { RX_CLS, RX_RUN, RX_SPLIT, RX_JMP, RX_NEGLA, RX_EOT, RX_MATCH };

typedef struct rx_inst {
    uint8_t op;
    uint16_t cls;
    uint32_t min, max;
    int32_t x, y; /* jump targets */
} rx_inst;

struct tf_regex {
    rx_inst code[RX_MAX_CODE];
    int n_code;
    rx_class cls[RX_MAX_CLS];
    int n_cls;
    int skip_cls; /* class of a leading unbounded C+ (see split), or -1 */
};

/* ---- parse tree ---- */

enum { N_CLS, N_RUN, N_CAT, N_ALT, N_OPT, N_NEGLA, N_EOT };

typedef struct rx_node {
    int kind;
    int cls;
    uint32_t min, max;
    struct rx_node *kid, *next; /* first child, next sibling */
} rx_node;

typedef struct rx_parser {
    const char *s;
    size_t i, len;
    tf_regex *re;
    rx_node pool[256];
    int n_pool;
    char *err;
    size_t errlen;
    bool failed;
} rx_parser;

static rx_node *node_new(rx_parser *p, int kind)
{
    if (p->n_pool >= (int)(sizeof p->pool / sizeof p->pool[0])) {
        if (!p->failed)
            tf_errf(p->err, p->errlen, "regex too large");
        p->failed = true;
        return NULL;
    }
    rx_node *n = &p->pool[p->n_pool++];
    memset(n, 0, sizeof *n);
    n->kind = kind;
    return n;
}

static void perr(rx_parser *p, const char *what)
{
    if (!p->failed)
        tf_errf(p->err, p->errlen, "regex offset %zu: %s", p->i, what);
    p->failed = true;
}

static int cls_new(rx_parser *p)
{
    tf_regex *re = p->re;
    if (re->n_cls >= RX_MAX_CLS) {
        perr(p, "too many classes");
        return -1;
    }
    memset(&re->cls[re->n_cls], 0, sizeof re->cls[0]);
    return re->n_cls++;
}

static void cls_range(rx_parser *p, int c, uint32_t lo, uint32_t hi)
{
    rx_class *k = &p->re->cls[c];
    if (lo > hi) {
        perr(p, "reversed range in class");
        return;
    }
    if (k->n == k->cap) {
        uint32_t cap = k->cap ? k->cap * 2 : 8;
        void *r = realloc(k->r, cap * sizeof k->r[0]);
        if (!r) {
            perr(p, "out of memory");
            return;
        }
        k->r = r;
        k->cap = cap;
    }
    k->r[k->n][0] = lo;
    k->r[k->n][1] = hi;
    k->n++;
}

static uint32_t next_cp(rx_parser *p)
{
    size_t adv;
    uint32_t c = tf_utf8_decode((const unsigned char *)p->s + p->i,
                                p->len - p->i, &adv);
    p->i += adv;
    return c;
}

static bool eat(rx_parser *p, const char *lit)
{
    size_t n = strlen(lit);
    if (p->len - p->i >= n && memcmp(p->s + p->i, lit, n) == 0) {
        p->i += n;
        return true;
    }
    return false;
}

/* \p{X} after the backslash and 'p'; returns TF_UC_* bit or 0. */
static unsigned parse_prop(rx_parser *p)
{
    static const struct { char c; unsigned bit; } props[] = {
        {'L', TF_UC_L}, {'N', TF_UC_N}, {'P', TF_UC_P},
        {'S', TF_UC_S}, {'M', TF_UC_M}};
    if (p->len - p->i >= 3 && p->s[p->i] == '{' && p->s[p->i + 2] == '}') {
        for (size_t k = 0; k < sizeof props / sizeof props[0]; k++)
            if (props[k].c == p->s[p->i + 1]) {
                p->i += 3;
                return props[k].bit;
            }
    }
    perr(p, "unsupported \\p{...}");
    return 0;
}

/* Escaped literal after a backslash (not p/s/S/d). */
static uint32_t escaped_literal(rx_parser *p)
{
    uint32_t c = next_cp(p);
    switch (c) {
    case 'r': return '\r';
    case 'n': return '\n';
    case 't': return '\t';
    case 'v': return '\v';
    case 'f': return '\f';
    default:
        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
            (c >= '0' && c <= '9'))
            perr(p, "unsupported escape");
        return c;
    }
}

static int parse_class(rx_parser *p)
{
    int c = cls_new(p);
    if (c < 0)
        return -1;
    rx_class *k = &p->re->cls[c];
    if (eat(p, "^"))
        k->neg = true;
    while (!p->failed) {
        if (p->i >= p->len) {
            perr(p, "unterminated class");
            break;
        }
        if (eat(p, "]"))
            break;
        uint32_t lo;
        if (eat(p, "\\")) {
            if (eat(p, "p")) {
                k->cats |= (uint8_t)parse_prop(p);
                continue;
            }
            if (eat(p, "s")) {
                k->cats |= TF_UC_WS;
                continue;
            }
            if (eat(p, "d")) {
                cls_range(p, c, '0', '9');
                continue;
            }
            lo = escaped_literal(p);
        } else {
            lo = next_cp(p);
        }
        uint32_t hi = lo;
        if (p->len - p->i >= 2 && p->s[p->i] == '-' && p->s[p->i + 1] != ']') {
            p->i++;
            hi = eat(p, "\\") ? escaped_literal(p) : next_cp(p);
        }
        cls_range(p, c, lo, hi);
    }
    return c;
}

static int single_class(rx_parser *p, uint32_t lo, uint32_t hi, unsigned cats,
                        bool neg)
{
    int c = cls_new(p);
    if (c < 0)
        return -1;
    p->re->cls[c].cats = (uint8_t)cats;
    p->re->cls[c].neg = neg;
    if (lo <= hi)
        cls_range(p, c, lo, hi);
    return c;
}

static rx_node *parse_alt(rx_parser *p);

/* One atom; *is_cls tells whether a quantifier may turn it into a run. */
static rx_node *parse_atom(rx_parser *p, bool *is_cls)
{
    *is_cls = false;
    if (eat(p, "(")) {
        int kind = N_CAT;
        if (eat(p, "?:"))
            kind = N_CAT;
        else if (eat(p, "?!"))
            kind = N_NEGLA;
        else if (p->i < p->len && p->s[p->i] == '?') {
            perr(p, "unsupported group");
            return NULL;
        }
        rx_node *inner = parse_alt(p);
        if (!eat(p, ")")) {
            perr(p, "missing )");
            return NULL;
        }
        if (kind == N_NEGLA) {
            rx_node *n = node_new(p, N_NEGLA);
            if (n)
                n->kid = inner;
            return n;
        }
        return inner;
    }
    rx_node *n = node_new(p, N_CLS);
    if (!n)
        return NULL;
    *is_cls = true;
    if (eat(p, "[")) {
        n->cls = parse_class(p);
    } else if (eat(p, "\\")) {
        if (eat(p, "p"))
            n->cls = single_class(p, 1, 0, parse_prop(p), false);
        else if (eat(p, "s"))
            n->cls = single_class(p, 1, 0, TF_UC_WS, false);
        else if (eat(p, "S"))
            n->cls = single_class(p, 1, 0, TF_UC_WS, true);
        else if (eat(p, "d"))
            n->cls = single_class(p, '0', '9', 0, false);
        else {
            uint32_t c = escaped_literal(p);
            n->cls = single_class(p, c, c, 0, false);
        }
    } else if (eat(p, "$")) {
        n->kind = N_EOT;
        *is_cls = false;
    } else if (p->s[p->i] == '.' || p->s[p->i] == '^' || p->s[p->i] == '*' ||
               p->s[p->i] == '+' || p->s[p->i] == '?' || p->s[p->i] == '{') {
        perr(p, "unsupported syntax");
        return NULL;
    } else {
        uint32_t c = next_cp(p);
        n->cls = single_class(p, c, c, 0, false);
    }
    return n;
}

static uint32_t parse_num(rx_parser *p)
{
    uint32_t v = 0;
    bool any = false;
    while (p->i < p->len && p->s[p->i] >= '0' && p->s[p->i] <= '9' &&
           v < 100000) {
        v = v * 10 + (uint32_t)(p->s[p->i++] - '0');
        any = true;
    }
    if (!any)
        perr(p, "bad {m,n}");
    return v;
}

/* Quantifier after an atom, if any: *min, *max; false when none. */
static bool parse_quant(rx_parser *p, uint32_t *min, uint32_t *max)
{
    if (eat(p, "?")) { *min = 0; *max = 1; }
    else if (eat(p, "*")) { *min = 0; *max = RX_INF; }
    else if (eat(p, "+")) { *min = 1; *max = RX_INF; }
    else if (eat(p, "{")) {
        *min = parse_num(p);
        *max = *min;
        if (eat(p, ","))
            *max = (p->i < p->len && p->s[p->i] == '}') ? RX_INF : parse_num(p);
        if (!eat(p, "}") || *max < *min || *max == 0)
            perr(p, "bad {m,n}");
    } else
        return false;
    if (p->i < p->len && (p->s[p->i] == '?' || p->s[p->i] == '+'))
        perr(p, "lazy/possessive quantifiers are not supported");
    return true;
}

static rx_node *parse_seq(rx_parser *p)
{
    rx_node *cat = node_new(p, N_CAT), *last = NULL;
    while (cat && !p->failed && p->i < p->len && p->s[p->i] != '|' &&
           p->s[p->i] != ')') {
        bool is_cls;
        rx_node *a = parse_atom(p, &is_cls);
        if (!a)
            return NULL;
        uint32_t min, max;
        if (parse_quant(p, &min, &max)) {
            if (is_cls) {
                a->kind = N_RUN;
                a->min = min;
                a->max = max;
            } else if (min == 0 && max == 1) {
                rx_node *o = node_new(p, N_OPT);
                if (!o)
                    return NULL;
                o->kid = a;
                a = o;
            } else {
                perr(p, "only ? may follow a group");
                return NULL;
            }
        }
        if (last)
            last->next = a;
        else
            cat->kid = a;
        last = a;
    }
    return cat;
}

static rx_node *parse_alt(rx_parser *p)
{
    rx_node *first = parse_seq(p);
    if (!first || p->i >= p->len || p->s[p->i] != '|')
        return first;
    rx_node *alt = node_new(p, N_ALT), *last = first;
    if (!alt)
        return NULL;
    alt->kid = first;
    while (!p->failed && eat(p, "|")) {
        rx_node *s = parse_seq(p);
        if (!s)
            return NULL;
        last->next = s;
        last = s;
    }
    return alt;
}

/* ---- compile ---- */

static int emit(rx_parser *p, uint8_t op)
{
    tf_regex *re = p->re;
    if (re->n_code >= RX_MAX_CODE) {
        perr(p, "program too long");
        return 0;
    }
    memset(&re->code[re->n_code], 0, sizeof re->code[0]);
    re->code[re->n_code].op = op;
    return re->n_code++;
}

static void compile(rx_parser *p, const rx_node *n)
{
    tf_regex *re = p->re;
    if (!n || p->failed)
        return;
    switch (n->kind) {
    case N_CLS: {
        int i = emit(p, RX_CLS);
        re->code[i].cls = (uint16_t)n->cls;
        break;
    }
    case N_RUN: {
        int i = emit(p, RX_RUN);
        re->code[i].cls = (uint16_t)n->cls;
        re->code[i].min = n->min;
        re->code[i].max = n->max;
        break;
    }
    case N_CAT:
        for (const rx_node *k = n->kid; k; k = k->next)
            compile(p, k);
        break;
    case N_ALT: {
        int jumps[64], nj = 0;
        for (const rx_node *k = n->kid; k; k = k->next) {
            if (!k->next) {
                compile(p, k);
                break;
            }
            int s = emit(p, RX_SPLIT);
            re->code[s].x = s + 1;
            compile(p, k);
            if (nj < 64)
                jumps[nj++] = emit(p, RX_JMP);
            else
                perr(p, "too many alternatives");
            re->code[s].y = re->n_code;
        }
        for (int j = 0; j < nj; j++)
            re->code[jumps[j]].x = re->n_code;
        break;
    }
    case N_OPT: {
        int s = emit(p, RX_SPLIT);
        re->code[s].x = s + 1;
        compile(p, n->kid);
        re->code[s].y = re->n_code;
        break;
    }
    case N_NEGLA: {
        int s = emit(p, RX_NEGLA);
        re->code[s].x = s + 1;
        compile(p, n->kid);
        emit(p, RX_MATCH);
        re->code[s].y = re->n_code;
        break;
    }
    case N_EOT:
        emit(p, RX_EOT);
        break;
    }
}

static int range_cmp(const void *a, const void *b)
{
    const uint32_t *x = a, *y = b;
    return x[0] < y[0] ? -1 : x[0] > y[0];
}

static bool in_ranges(const rx_class *k, uint32_t c)
{
    size_t lo = 0, hi = k->n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (c < k->r[mid][0])
            hi = mid;
        else if (c > k->r[mid][1])
            lo = mid + 1;
        else
            return true;
    }
    return false;
}

/* Sort ranges for binary search (overlaps are fine: search any that
 * contains c after merging) and precompute the ASCII bitmap. */
static void finish_class(rx_class *k)
{
    if (k->n > 1) {
        qsort(k->r, k->n, sizeof k->r[0], range_cmp);
        uint32_t w = 0;
        for (uint32_t i = 1; i < k->n; i++) {
            if (k->r[i][0] <= k->r[w][1] + 1) {
                if (k->r[i][1] > k->r[w][1])
                    k->r[w][1] = k->r[i][1];
            } else {
                k->r[++w][0] = k->r[i][0];
                k->r[w][1] = k->r[i][1];
            }
        }
        k->n = w + 1;
    }
    for (uint32_t c = 0; c < 128; c++) {
        bool in = (k->cats & tf_uc_flags(c)) || in_ranges(k, c);
        if (in != k->neg)
            k->ascii[c >> 5] |= 1u << (c & 31);
    }
}

int tf_regex_compile(const char *pattern, tf_regex **out, char *err,
                     size_t errlen)
{
    *out = NULL;
    tf_regex *re = calloc(1, sizeof *re);
    rx_parser *p = calloc(1, sizeof *p);
    if (!re || !p) {
        free(re);
        free(p);
        tf_errf(err, errlen, "out of memory");
        return -1;
    }
    p->s = pattern;
    p->len = strlen(pattern);
    p->re = re;
    p->err = err;
    p->errlen = errlen;
    rx_node *root = parse_alt(p);
    if (!p->failed && p->i != p->len)
        perr(p, "unbalanced )");
    compile(p, root);
    emit(p, RX_MATCH);
    bool failed = p->failed;
    free(p);
    if (failed) {
        tf_regex_free(re);
        return -1;
    }
    for (int i = 0; i < re->n_cls; i++)
        finish_class(&re->cls[i]);
    /* A program that starts with C+ (or C*) and has no top-level
     * alternative: if it fails at p it fails at every later start inside
     * the same run of C, because the rest of the pattern sees only
     * positions the attempt from p already tried. */
    re->skip_cls = -1;
    if (re->code[0].op == RX_RUN && re->code[0].max == RX_INF)
        re->skip_cls = re->code[0].cls;
    *out = re;
    return 0;
}

void tf_regex_free(tf_regex *re)
{
    if (!re)
        return;
    for (int i = 0; i < re->n_cls; i++)
        free(re->cls[i].r);
    free(re);
}

/* ---- match ---- */

static inline bool cls_match(const rx_class *k, uint32_t c, unsigned fl)
{
    if (c >= 128 && (fl & TF_UC_WS))
        c = 0x0B; /* the reference engine's stand-in for Unicode spaces */
    if (c < 128)
        return (k->ascii[c >> 5] >> (c & 31)) & 1;
    bool in = (k->cats & fl) || in_ranges(k, c);
    return in != k->neg;
}

typedef struct rx_subject {
    const uint32_t *cp;
    const uint8_t *fl;
    uint32_t end;
} rx_subject;

/* Match at pos; returns the end of the match or -1. */
static int64_t rx_run(const tf_regex *re, int pc, uint32_t pos,
                      const rx_subject *s)
{
    struct { int32_t pc; uint32_t pos, lo; bool run; } st[RX_MAX_CODE];
    int sp = 0;
    for (;;) {
        const rx_inst *in = &re->code[pc];
        switch (in->op) {
        case RX_CLS:
            if (pos < s->end && cls_match(&re->cls[in->cls], s->cp[pos], s->fl[pos])) {
                pos++;
                pc++;
                continue;
            }
            goto fail;
        case RX_RUN: {
            const rx_class *k = &re->cls[in->cls];
            uint32_t q = pos;
            while (q < s->end && q - pos < in->max && cls_match(k, s->cp[q], s->fl[q]))
                q++;
            if (q - pos < in->min)
                goto fail;
            if (q - pos > in->min) {
                st[sp].pc = pc + 1;
                st[sp].pos = q;
                st[sp].lo = pos + in->min;
                st[sp].run = true;
                sp++;
            }
            pos = q;
            pc++;
            continue;
        }
        case RX_SPLIT:
            st[sp].pc = in->y;
            st[sp].pos = pos;
            st[sp].run = false;
            sp++;
            pc = in->x;
            continue;
        case RX_JMP:
            pc = in->x;
            continue;
        case RX_NEGLA:
            if (rx_run(re, in->x, pos, s) >= 0)
                goto fail;
            pc = in->y;
            continue;
        case RX_EOT:
            if (pos == s->end) {
                pc++;
                continue;
            }
            goto fail;
        case RX_MATCH:
            return pos;
        }
    fail:
        if (sp == 0)
            return -1;
        sp--;
        pc = st[sp].pc;
        if (st[sp].run) {
            /* give back one character of the greedy run */
            pos = --st[sp].pos;
            if (pos > st[sp].lo)
                sp++;
        } else {
            pos = st[sp].pos;
        }
    }
}

int tf_regex_split(const tf_regex *re, const uint32_t *cp, const uint8_t *fl,
                   const tf_span *in, size_t n_in, tf_spans *out)
{
    out->n = 0;
    for (size_t i = 0; i < n_in; i++) {
        /* Each piece is its own subject: $ and (?!\S) see its end. */
        rx_subject s = {cp, fl, in[i].b};
        uint32_t last = in[i].a, p = in[i].a;
        while (p < s.end) {
            int64_t m = rx_run(re, 0, p, &s);
            if (m > (int64_t)p) {
                if (p > last && tf_spans_push(out, last, p))
                    return -1;
                if (tf_spans_push(out, p, (uint32_t)m))
                    return -1;
                p = last = (uint32_t)m;
                continue;
            }
            uint32_t q = p + 1;
            if (m < 0 && re->skip_cls >= 0) {
                /* only when the failed attempt itself started a run */
                const rx_class *k = &re->cls[re->skip_cls];
                if (cls_match(k, cp[p], fl[p]))
                    while (q < s.end && cls_match(k, cp[q], fl[q]))
                        q++;
            }
            p = q;
        }
        if (last < s.end && tf_spans_push(out, last, s.end))
            return -1;
    }
    return 0;
}
