/* tok_codec.c - text -> ids (special-token partition, then SPM or BPE per
 * fragment) and ids -> text. */
#include <stdlib.h>
#include <string.h>
#include "tok_internal.h"
#include "internal.h"

static bool is_special_type(uint8_t ty)
{
    return ty == TT_CONTROL || ty == TT_USER_DEFINED || ty == TT_UNKNOWN;
}

/* ---- encode ---- */

typedef struct frag {
    int32_t id;        /* >= 0: a special token; -1: raw text */
    uint32_t off, len;
} frag;

typedef struct frags {
    frag *v;
    size_t n, cap;
} frags;

static int frag_push(frags *f, int32_t id, uint32_t off, uint32_t len)
{
    if (id < 0 && len == 0)
        return 0;
    if (tok_reserve((void **)&f->v, &f->cap, f->n + 1, sizeof *f->v))
        return -1;
    f->v[f->n++] = (frag){id, off, len};
    return 0;
}

static inline bool c_space(char ch)
{
    return ch == ' ' || (ch >= '\t' && ch <= '\r');
}

/* Cut raw fragments at every occurrence of special token id (the caller
 * goes longest token first, as the reference engine does). */
static int split_on(const tf_tokenizer *t, int32_t id, const char *text,
                    const frags *in, frags *out)
{
    const char *tt = t->text + t->toff[id];
    size_t tl = t->tlen[id];
    out->n = 0;
    for (size_t i = 0; i < in->n; i++) {
        frag f = in->v[i];
        if (f.id >= 0) {
            if (frag_push(out, f.id, f.off, f.len))
                return -1;
            continue;
        }
        uint32_t pos = f.off, end = f.off + f.len;
        const char *hit;
        while (pos < end && (hit = memmem(text + pos, end - pos, tt, tl))) {
            uint32_t h = (uint32_t)(hit - text), l = h;
            if (t->attr[id] & TA_LSTRIP)
                while (l > pos && c_space(text[l - 1]))
                    l--;
            if (frag_push(out, -1, pos, l - pos) || frag_push(out, id, h, 0))
                return -1;
            pos = h + (uint32_t)tl;
            if (t->attr[id] & TA_RSTRIP)
                while (pos < end && c_space(text[pos]))
                    pos++;
        }
        if (pos < end && frag_push(out, -1, pos, end - pos))
            return -1;
    }
    return 0;
}

static int partition(const tf_tokenizer *t, const char *text, size_t len,
                     bool parse_special, frags *res)
{
    frags tmp = {0}, *cur = res, *next = &tmp;
    int rc = frag_push(cur, -1, 0, (uint32_t)len);
    for (size_t i = 0; rc == 0 && i < t->n_special; i++) {
        int32_t id = t->special[i];
        /* user-defined tokens always split; control/unknown only on request */
        if (!parse_special && t->type[id] != TT_USER_DEFINED)
            continue;
        rc = split_on(t, id, text, cur, next);
        frags *x = cur;
        cur = next;
        next = x;
    }
    if (cur != res) {
        frags x = *res;
        *res = tmp;
        tmp = x;
    }
    tf_secure_free(tmp.v, tmp.cap * sizeof *tmp.v);
    return rc;
}

/* Every per-call buffer held the prompt's text or pieces of it: zeroed. */
static void scratch_free(tok_scratch *s)
{
    tf_secure_free(s->buf, s->buf_cap);
    tf_secure_free(s->sym, s->sym_cap * sizeof *s->sym);
    tf_secure_free(s->heap.v, s->heap.cap * sizeof *s->heap.v);
    tf_secure_free(s->cp, s->cp_cap * sizeof *s->cp);
    tf_secure_free(s->fl, s->cp_cap);
    tf_secure_free(s->cpoff, s->cp_cap * sizeof *s->cpoff);
    tf_secure_free(s->mbuf, s->mbuf_cap);
    tf_spans_free(&s->spans);
}

int tf_tokenizer_encode(const tf_tokenizer *t, const char *text, size_t len,
                        bool add_bos, bool add_eos, bool parse_special,
                        int32_t *out, size_t cap, size_t *n_out)
{
    *n_out = 0;
    if (len > TF_TOKENIZE_MAX_BYTES) /* keeps every offset and count in 32 bits */
        return -1;
    tok_out o = {0};
    tok_scratch s = {0};
    frags fr = {0};
    int rc = 0;
    if (add_bos && t->bos >= 0)
        tok_push(&o, t->bos);
    if (len > 0)
        rc = partition(t, text, len, parse_special, &fr);
    bool prev_special = true; /* SPM: a space prefix starts each run */
    for (size_t i = 0; rc == 0 && i < fr.n; i++) {
        const frag *f = &fr.v[i];
        if (f->id >= 0) {
            tok_push(&o, f->id);
            prev_special = true;
        } else if (t->kind == TOK_SPM) {
            rc = tok_spm_encode(t, text + f->off, f->len,
                                t->add_space_prefix && prev_special, &s, &o);
            prev_special = false;
        } else {
            rc = tok_bpe_encode(t, text + f->off, f->len, &s, &o);
        }
    }
    if (add_eos && t->eos >= 0)
        tok_push(&o, t->eos);
    tf_secure_free(fr.v, fr.cap * sizeof *fr.v);
    scratch_free(&s);
    if (rc || o.oom) {
        tf_secure_free(o.v, o.cap * sizeof *o.v);
        return -1;
    }
    *n_out = o.n;
    if (o.n > cap || (o.n && !out)) {
        tf_secure_free(o.v, o.cap * sizeof *o.v);
        return 1;
    }
    if (o.n)
        memcpy(out, o.v, o.n * sizeof *out);
    tf_secure_free(o.v, o.cap * sizeof *o.v);
    return 0;
}

/* ---- decode ---- */

static bool renders(const tf_tokenizer *t, int32_t id, bool render_special)
{
    uint8_t ty = t->type[id];
    return render_special || (ty != TT_CONTROL && ty != TT_UNKNOWN);
}

int tf_tokenizer_piece(const tf_tokenizer *t, int32_t id, bool render_special,
                       char *buf, size_t cap, size_t *n_out)
{
    *n_out = 0;
    if (id < 0 || id >= t->n_vocab)
        return -1;
    size_t n = renders(t, id, render_special) ? t->plen[id] : 0;
    *n_out = n;
    if (n > cap || (n && !buf))
        return 1;
    if (n)
        memcpy(buf, t->pieces + t->poff[id], n);
    return 0;
}

enum { MARK_BYTE = 1, MARK_STRIP = 2 };

/* SPM clean-up over the joined pieces: "▁" spelled by byte tokens (a
 * vocabulary without a "▁" token) is a space too, and the space the
 * tokenizer put at the start of each run of text goes away.  Compacts in
 * place; returns the new length. */
static size_t spm_finish(char *s, const uint8_t *mark, size_t n)
{
    size_t o = 0;
    for (size_t i = 0; i < n;) {
        uint8_t m = mark[i];
        char c = s[i];
        size_t adv = 1;
        if ((m & MARK_BYTE) && i + 3 <= n && (mark[i + 1] & mark[i + 2] & MARK_BYTE) &&
            memcmp(s + i, "\xE2\x96\x81", 3) == 0) {
            c = ' ';
            adv = 3;
        }
        if (!(c == ' ' && (m & MARK_STRIP)))
            s[o++] = c;
        i += adv;
    }
    return o;
}

int tf_tokenizer_decode(const tf_tokenizer *t, const int32_t *ids, size_t n,
                        bool render_special, char *buf, size_t cap,
                        size_t *n_out)
{
    *n_out = 0;
    size_t total = 0;
    for (size_t i = 0; i < n; i++) {
        if (ids[i] < 0 || ids[i] >= t->n_vocab)
            return -1;
        total += t->plen[ids[i]];
    }
    bool spm = t->kind == TOK_SPM;
    char *s = malloc(total + 1);
    uint8_t *mark = spm ? calloc(total + 1, 1) : NULL;
    if (!s || (spm && !mark)) {
        free(s);
        free(mark);
        return -2;
    }
    size_t o = 0;
    /* SPM puts "▁" before the text at the start and after each special
     * token: the first piece of each such run may lose one space. */
    bool run_start = spm && t->add_space_prefix;
    for (size_t i = 0; i < n; i++) {
        int32_t id = ids[i];
        size_t len = renders(t, id, render_special) ? t->plen[id] : 0;
        memcpy(s + o, t->pieces + t->poff[id], len);
        if (spm) {
            if (t->type[id] == TT_BYTE)
                memset(mark + o, MARK_BYTE, len);
            if (is_special_type(t->type[id])) {
                run_start = t->add_space_prefix;
            } else if (run_start && len) {
                mark[o] |= MARK_STRIP;
                run_start = false;
            }
        }
        o += len;
    }
    if (spm)
        o = spm_finish(s, mark, o);
    tf_secure_free(mark, total + 1);
    *n_out = o;
    int rc = 0;
    if (o > cap || (o && !buf))
        rc = 1;
    else if (o)
        memcpy(buf, s, o);
    tf_secure_free(s, total + 1); /* the decoded text */
    return rc;
}
