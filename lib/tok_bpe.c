/* tok_bpe.c - byte-level BPE ("gpt2"): the merge table and encoding.
 *
 * Text is decoded (invalid bytes become U+FFFD, as in the reference
 * engine), cut into pieces by the pre-tokenizer, and each piece's bytes
 * start as one symbol each (the byte's token in the byte-to-unicode
 * alphabet).  Adjacent symbols merge by lowest merge rank, leftmost on
 * ties, through a heap - O(n log n) even for one enormous piece.  Ranks
 * are looked up by token-id pairs, so merging never hashes strings.
 */
#include <stdlib.h>
#include <string.h>
#include "tok_internal.h"
#include "unicode.h"
#include "internal.h"

static inline uint32_t pair_hash(uint64_t key, uint32_t mask)
{
    return (uint32_t)((key * 0x9E3779B97F4A7C15ull) >> 32) & mask;
}

int32_t tok_bpe_rank(const tf_tokenizer *t, int32_t l, int32_t r,
                     int32_t *res)
{
    uint64_t key = ((uint64_t)(uint32_t)l << 32) | (uint32_t)r;
    for (uint32_t i = pair_hash(key, t->mmask);; i = (i + 1) & t->mmask) {
        if (t->mkey[i] == UINT64_MAX)
            return -1;
        if (t->mkey[i] == key) {
            *res = t->mres[i];
            return t->mrank[i];
        }
    }
}

static int merge_error(char *err, size_t errlen, size_t i, tf_gguf_str m,
                       const char *what, const char *half, size_t hl)
{
    int ml = (int)(m.len > 80 ? 80 : m.len);
    const char *mp = m.ptr ? m.ptr : "";
    if (half)
        tf_errf(err, errlen, "tokenizer.ggml.merges[%zu]: '%.*s': '%.*s' %s",
                i, ml, mp, (int)(hl > 80 ? 80 : hl), half, what);
    else
        tf_errf(err, errlen, "tokenizer.ggml.merges[%zu]: '%.*s' %s", i, ml,
                mp, what);
    return -1;
}

int tok_bpe_load_merges(tf_tokenizer *t, const tf_gguf_kv *kv, char *err,
                        size_t errlen)
{
    if (kv->v.arr.type != TF_GGUF_STRING) {
        tf_errf(err, errlen, "tokenizer.ggml.merges: expected strings, found %s",
                tf_gguf_vtype_name(kv->v.arr.type));
        return -1;
    }
    size_t n = kv->v.arr.n;
    uint32_t size = 16;
    while (size < 2 * n)
        size <<= 1;
    t->mmask = size - 1;
    t->mkey = malloc(size * sizeof *t->mkey);
    t->mrank = malloc(size * sizeof *t->mrank);
    t->mres = malloc(size * sizeof *t->mres);
    char *cat = NULL;
    size_t cat_cap = 0;
    if (!t->mkey || !t->mrank || !t->mres) {
        tf_errf(err, errlen, "tokenizer.ggml.merges: out of memory");
        return -1;
    }
    memset(t->mkey, 0xff, size * sizeof *t->mkey);
    for (size_t i = 0; i < n; i++) {
        tf_gguf_str m = kv->v.arr.strs[i];
        /* split at the first space after the first byte */
        const char *sp = m.len > 1 ? memchr(m.ptr + 1, ' ', m.len - 1) : NULL;
        if (!sp || sp + 1 == m.ptr + m.len) {
            free(cat);
            return merge_error(err, errlen, i, m,
                               "is not two tokens separated by a space", NULL, 0);
        }
        size_t la = (size_t)(sp - m.ptr), lb = m.len - la - 1;
        int32_t a = tok_lookup(t, m.ptr, la), b = tok_lookup(t, sp + 1, lb);
        if (a < 0 || b < 0) {
            free(cat);
            return merge_error(err, errlen, i, m, "is not in the vocabulary",
                               a < 0 ? m.ptr : sp + 1, a < 0 ? la : lb);
        }
        if (tok_reserve((void **)&cat, &cat_cap, la + lb, 1)) {
            free(cat);
            tf_errf(err, errlen, "tokenizer.ggml.merges: out of memory");
            return -1;
        }
        memcpy(cat, m.ptr, la);
        memcpy(cat + la, sp + 1, lb);
        uint64_t key = ((uint64_t)(uint32_t)a << 32) | (uint32_t)b;
        uint32_t h = pair_hash(key, t->mmask);
        while (t->mkey[h] != UINT64_MAX && t->mkey[h] != key)
            h = (h + 1) & t->mmask;
        if (t->mkey[h] == key)
            continue; /* the first rank of a repeated pair wins */
        t->mkey[h] = key;
        t->mrank[h] = (int32_t)i;
        t->mres[h] = tok_lookup(t, cat, la + lb);
    }
    free(cat);
    return 0;
}

/* Queue (l, r) if the merge table has the pair. */
static int try_merge(const tf_tokenizer *t, tok_scratch *s, int32_t l,
                     int32_t r)
{
    if (l < 0 || r < 0 || s->sym[l].id < 0 || s->sym[r].id < 0)
        return 0;
    int32_t res, rank = tok_bpe_rank(t, s->sym[l].id, s->sym[r].id, &res);
    if (rank < 0)
        return 0;
    /* ranks < 2^24 (GGUF array cap) are exact as floats */
    tok_bigram g = {-(float)rank, l, r, s->sym[l].n + s->sym[r].n, res};
    return tok_heap_push(&s->heap, g);
}

/* Bytes -> their byte-to-unicode spelling in s->mbuf; returns length. */
static size_t map_bytes(tok_scratch *s, const unsigned char *p, size_t n)
{
    size_t o = 0;
    for (size_t i = 0; i < n; i++)
        o += tf_utf8_encode(tf_bytemap_cp(p[i]), (unsigned char *)s->mbuf + o);
    return o;
}

/* A symbol that is no token: like the reference engine, try each byte of
 * its mapped spelling as a one-byte token and drop the rest. */
static void emit_fallback(const tf_tokenizer *t, tok_scratch *s,
                          const unsigned char *p, size_t n, tok_out *out)
{
    size_t m = map_bytes(s, p, n);
    for (size_t i = 0; i < m; i++) {
        int32_t id = tok_lookup(t, s->mbuf + i, 1);
        if (id >= 0)
            tok_push(out, id);
    }
}

static int bpe_word(const tf_tokenizer *t, const unsigned char *w, size_t n,
                    tok_scratch *s, tok_out *out)
{
    if (tok_reserve((void **)&s->mbuf, &s->mbuf_cap, 2 * n, 1))
        return -1;
    if (t->ignore_merges && n > 1) {
        int32_t id = tok_lookup(t, s->mbuf, map_bytes(s, w, n));
        if (id >= 0) {
            tok_push(out, id);
            return 0;
        }
    }
    if (tok_reserve((void **)&s->sym, &s->sym_cap, n, sizeof *s->sym))
        return -1;
    int32_t ns = (int32_t)n;
    for (int32_t i = 0; i < ns; i++)
        s->sym[i] = (tok_sym){i - 1, i + 1, (uint32_t)i, 1, t->byte_tok[w[i]]};
    s->sym[ns - 1].next = -1;
    s->heap.n = 0;
    for (int32_t i = 1; i < ns; i++)
        if (try_merge(t, s, i - 1, i))
            return -1;
    while (s->heap.n) {
        tok_bigram g = tok_heap_pop(&s->heap);
        tok_sym *a = &s->sym[g.left], *b = &s->sym[g.right];
        if (a->n == 0 || b->n == 0 || a->n + b->n != g.size)
            continue; /* stale entry */
        a->n += b->n;
        a->id = g.res;
        b->n = 0;
        a->next = b->next;
        if (b->next >= 0)
            s->sym[b->next].prev = g.left;
        if (try_merge(t, s, a->prev, g.left) || try_merge(t, s, g.left, a->next))
            return -1;
    }
    for (int32_t i = 0; i != -1; i = s->sym[i].next) {
        if (s->sym[i].id >= 0)
            tok_push(out, s->sym[i].id);
        else
            emit_fallback(t, s, w + s->sym[i].off, s->sym[i].n, out);
    }
    return 0;
}

int tok_bpe_encode(const tf_tokenizer *t, const char *text, size_t len,
                   tok_scratch *s, tok_out *out)
{
    /* Decode once; re-encoding normalises what the lenient decoder let
     * through (U+FFFD for bad bytes), exactly as the reference does. */
    if (len + 1 > s->cp_cap) { /* cp, fl and cpoff share one capacity */
        size_t c = len + 1, old = s->cp_cap;
        uint32_t *a = tf_secure_realloc(s->cp, old * sizeof *a, c * sizeof *a);
        if (!a)
            return -1;
        s->cp = a;
        uint8_t *f = tf_secure_realloc(s->fl, old, c);
        if (!f)
            return -1;
        s->fl = f;
        uint32_t *o = tf_secure_realloc(s->cpoff, old * sizeof *o, c * sizeof *o);
        if (!o)
            return -1;
        s->cpoff = o;
        s->cp_cap = c;
    }
    if (tok_reserve((void **)&s->buf, &s->buf_cap, 3 * len, 1))
        return -1;
    const unsigned char *u = (const unsigned char *)text;
    size_t n = 0, bo = 0;
    for (size_t i = 0; i < len; n++) {
        size_t adv;
        uint32_t c = tf_utf8_decode(u + i, len - i, &adv);
        s->cp[n] = c;
        s->fl[n] = (uint8_t)tf_uc_flags(c);
        s->cpoff[n] = (uint32_t)bo;
        bo += tf_utf8_encode(c, (unsigned char *)s->buf + bo);
        i += adv;
    }
    s->cpoff[n] = (uint32_t)bo;
    if (tf_pretok_split(t->pretok, s->cp, s->fl, n, &s->spans))
        return -1;
    for (size_t k = 0; k < s->spans.n; k++) {
        uint32_t a = s->cpoff[s->spans.v[k].a], b = s->cpoff[s->spans.v[k].b];
        if (bpe_word(t, (const unsigned char *)s->buf + a, b - a, s, out))
            return -1;
    }
    return out->oom ? -1 : 0;
}
