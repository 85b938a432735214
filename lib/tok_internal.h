/* tok_internal.h - what tokenizer.c shares with tok_spm.c and tok_bpe.c. */
#ifndef TF_TOK_INTERNAL_H
#define TF_TOK_INTERNAL_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>
#include "tokenizer.h"
#include "pretok.h"

enum { TOK_SPM = 1, TOK_BPE = 2 };

/* tokenizer.ggml.token_type values (GGUF convention). */
enum {
    TT_UNDEFINED = 0, TT_NORMAL = 1, TT_UNKNOWN = 2, TT_CONTROL = 3,
    TT_USER_DEFINED = 4, TT_UNUSED = 5, TT_BYTE = 6
};

/* Per-token attributes beyond the type. */
enum { TA_LSTRIP = 1, TA_RSTRIP = 2 };

struct tf_tokenizer {
    int kind;               /* TOK_SPM / TOK_BPE */
    char model[8];          /* "llama" / "gpt2" */
    char *pre;              /* tokenizer.ggml.pre, "" for SPM */
    int32_t n_vocab;

    char *text;             /* every token's bytes, NUL after each */
    uint32_t *toff, *tlen;
    float *score;
    uint8_t *type;          /* TT_* */
    uint8_t *attr;          /* TA_* */

    int32_t *htab;          /* open addressing: text -> id (-1 empty) */
    uint32_t hmask;

    char *pieces;           /* rendered text of each token */
    uint32_t *poff, *plen;

    int32_t bos, eos, eot, eom, unk, pad;
    bool add_bos, add_eos, add_space_prefix;
    int32_t *eog;           /* sorted */
    size_t n_eog;

    int32_t *special;       /* CONTROL/USER_DEFINED/UNKNOWN, longest first */
    size_t n_special;

    /* SPM: no token has "▁" right after another character, so merges
     * never cross the point before a word's "▁": words merge alone. */
    bool spm_word_cut;

    /* SPM: id of <0xNN> per byte; BPE: id of the byte's mapped char. */
    int32_t byte_tok[256];

    /* BPE merges: (left id, right id) -> rank, merged id. */
    uint64_t *mkey;         /* UINT64_MAX = empty slot */
    int32_t *mrank, *mres;
    uint32_t mmask;
    tf_pretok *pretok;
    bool ignore_merges;
};

/* Output id list that grows; oom latches. */
typedef struct tok_out {
    int32_t *v;
    size_t n, cap;
    bool oom;
} tok_out;

void tok_push(tok_out *o, int32_t id);

/* Exact-text lookup, -1 if absent. */
int32_t tok_lookup(const tf_tokenizer *t, const char *s, size_t n);

/* Merge candidates for both algorithms: best = highest key, then leftmost. */
typedef struct tok_bigram {
    float key;      /* SPM: score; BPE: -rank */
    int32_t left, right;
    uint32_t size;  /* bytes of left+right when queued */
    int32_t res;    /* BPE: id of the merged token (-1: none) */
} tok_bigram;

typedef struct tok_heap {
    tok_bigram *v;
    size_t n, cap;
} tok_heap;

int tok_heap_push(tok_heap *h, tok_bigram b); /* -1 on OOM */
tok_bigram tok_heap_pop(tok_heap *h);         /* h->n > 0 */

/* One linked symbol of a word being merged. */
typedef struct tok_sym {
    int32_t prev, next;
    uint32_t off, n; /* bytes in the session's text */
    int32_t id;      /* BPE: token of these bytes, -1 if none */
} tok_sym;

/* Scratch that one encode call reuses for every fragment and word, so the
 * hot loops never allocate. */
typedef struct tok_scratch {
    char *buf;        /* SPM escaped text / BPE normalized text */
    size_t buf_cap;
    tok_sym *sym;
    size_t sym_cap;
    tok_heap heap;
    uint32_t *cp;     /* BPE: code points, flags, byte offsets */
    uint8_t *fl;
    uint32_t *cpoff;
    size_t cp_cap;
    tf_spans spans;
    char *mbuf;       /* BPE: a word in byte-to-unicode form */
    size_t mbuf_cap;
} tok_scratch;

/* Encode one raw-text fragment.  prefix_space: SPM adds "▁" first.
 * Returns 0 or -1 (out of memory). */
int tok_spm_encode(const tf_tokenizer *t, const char *text, size_t len,
                   bool prefix_space, tok_scratch *s, tok_out *out);
int tok_bpe_encode(const tf_tokenizer *t, const char *text, size_t len,
                   tok_scratch *s, tok_out *out);

/* BPE merge table lookup: rank (or -1) and merged id. */
int32_t tok_bpe_rank(const tf_tokenizer *t, int32_t l, int32_t r,
                     int32_t *res);
/* Build the merge table from tokenizer.ggml.merges; 0 or -1 with err. */
int tok_bpe_load_merges(tf_tokenizer *t, const tf_gguf_kv *kv, char *err,
                        size_t errlen);

/* Grow *p (elements of size sz) to hold at least n; 0 or -1. */
int tok_reserve(void **p, size_t *cap, size_t n, size_t sz);

#endif
