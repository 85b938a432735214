/* tok_spm.c - SentencePiece ("llama") encoding: score-driven bigram merges
 * with byte fallback.
 *
 * Start from one symbol per UTF-8 character (split by lead byte only, so
 * invalid bytes stay single symbols), repeatedly merge the adjacent pair
 * whose concatenation is the highest-scoring vocabulary token (leftmost on
 * ties), then emit each final symbol as its token, or as <0xNN> byte
 * tokens when it is not one.  A max-heap with lazy invalidation keeps this
 * O(n log n): every merge queues at most two new candidates.
 */
#include <string.h>
#include "tok_internal.h"
#include "unicode.h"

static const char SPACE_MARK[] = "\xE2\x96\x81"; /* U+2581 "▁" */

/* Queue (left, right) if their concatenation is a token. */
static int try_bigram(const tf_tokenizer *t, tok_scratch *s, int32_t l,
                      int32_t r)
{
    if (l < 0 || r < 0)
        return 0;
    const tok_sym *a = &s->sym[l], *b = &s->sym[r];
    uint32_t size = a->n + b->n;
    int32_t id = tok_lookup(t, s->buf + a->off, size);
    if (id < 0)
        return 0;
    tok_bigram g = {t->score[id], l, r, size, id};
    return tok_heap_push(&s->heap, g);
}

static void emit_symbol(const tf_tokenizer *t, const char *p, uint32_t n,
                        tok_out *out)
{
    int32_t id = tok_lookup(t, p, n);
    if (id >= 0) {
        tok_push(out, id);
        return;
    }
    for (uint32_t i = 0; i < n; i++) {
        id = t->byte_tok[(unsigned char)p[i]];
        if (id < 0)
            id = t->unk; /* vocabulary without byte tokens */
        if (id >= 0)
            tok_push(out, id);
    }
}

static bool is_mark(const tok_scratch *s, int32_t i)
{
    return s->sym[i].n == 3 && memcmp(s->buf + s->sym[i].off, SPACE_MARK, 3) == 0;
}

/* Merge symbols [c0, c1) as one independent run. */
static int merge_run(const tf_tokenizer *t, tok_scratch *s, int32_t c0,
                     int32_t c1)
{
    s->sym[c0].prev = -1;
    s->sym[c1 - 1].next = -1;
    s->heap.n = 0;
    for (int32_t i = c0 + 1; i < c1; i++)
        if (try_bigram(t, s, i - 1, i))
            return -1;
    while (s->heap.n) {
        tok_bigram g = tok_heap_pop(&s->heap);
        tok_sym *a = &s->sym[g.left], *b = &s->sym[g.right];
        /* stale: one side was merged away or has grown since queued */
        if (a->n == 0 || b->n == 0 || a->n + b->n != g.size)
            continue;
        a->n += b->n;
        b->n = 0;
        a->next = b->next;
        if (b->next >= 0)
            s->sym[b->next].prev = g.left;
        if (try_bigram(t, s, a->prev, g.left) ||
            try_bigram(t, s, g.left, a->next))
            return -1;
    }
    return 0;
}

int tok_spm_encode(const tf_tokenizer *t, const char *text, size_t len,
                   bool prefix_space, tok_scratch *s, tok_out *out)
{
    /* SentencePiece sees spaces as "▁", and the space prefix as one more */
    if (tok_reserve((void **)&s->buf, &s->buf_cap, 3 * len + 3, 1))
        return -1;
    size_t n = 0;
    if (prefix_space) {
        memcpy(s->buf, SPACE_MARK, 3);
        n = 3;
    }
    for (size_t i = 0; i < len; i++) {
        if (text[i] == ' ') {
            memcpy(s->buf + n, SPACE_MARK, 3);
            n += 3;
        } else {
            s->buf[n++] = text[i];
        }
    }
    if (n == 0)
        return 0;
    if (tok_reserve((void **)&s->sym, &s->sym_cap, n, sizeof *s->sym))
        return -1;
    int32_t ns = 0;
    for (size_t off = 0; off < n; ns++) {
        size_t k = tf_utf8_seq_len((unsigned char)s->buf[off]);
        if (k > n - off)
            k = n - off;
        s->sym[ns] = (tok_sym){ns - 1, ns + 1, (uint32_t)off, (uint32_t)k, -1};
        off += k;
    }
    /* Runs between cut points merge independently: small heaps that stay
     * in cache, and the same result as one run over everything. */
    for (int32_t c0 = 0, c1; c0 < ns; c0 = c1) {
        c1 = ns;
        if (t->spm_word_cut) /* up to the next "▁" after another char */
            for (c1 = c0 + 1; c1 < ns; c1++)
                if (is_mark(s, c1) && !is_mark(s, c1 - 1))
                    break;
        if (merge_run(t, s, c0, c1))
            return -1;
        for (int32_t i = c0; i != -1; i = s->sym[i].next)
            emit_symbol(t, s->buf + s->sym[i].off, s->sym[i].n, out);
    }
    return 0;
}
