/* pretok.h - byte-level BPE pre-tokenizers (tokenizer.ggml.pre).
 *
 * A pre-tokenizer is a list of patterns applied in order: each cuts every
 * current piece into its matches and the spans between them (both kept),
 * and merges never cross a piece boundary.  The common patterns (GPT-2,
 * Llama 3, Qwen2) have hand-written splitters; the rest run on a small
 * backtracking regex engine that supports what those patterns need:
 * alternation, classes with \p{L}\p{N}\p{P}\p{S}\p{M}\s and ranges,
 * negation, ? * + {m,n}, (?:...), (?!...), $.
 *
 * Text arrives decoded: cp[i] code points and fl[i] their tf_uc_flags.
 */
#ifndef TF_PRETOK_H
#define TF_PRETOK_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>

typedef struct tf_pretok tf_pretok;

/* A piece: code point indices [a, b). */
typedef struct tf_span {
    uint32_t a, b;
} tf_span;

/* Growable list of pieces. */
typedef struct tf_spans {
    tf_span *v;
    size_t n, cap;
} tf_spans;

/* Append [a, b); 0 or -1 when out of memory. */
int tf_spans_push(tf_spans *s, uint32_t a, uint32_t b);
void tf_spans_free(tf_spans *s);

enum {
    TF_PRETOK_IGNORE_MERGES = 1, /* a whole piece that is a token stays one */
    TF_PRETOK_ADD_BOS = 2        /* BOS by default when the file doesn't say */
};

/* Look up a tokenizer.ggml.pre name (NULL or "" = "default").  Unknown
 * names fail with a message in err. */
int tf_pretok_new(const char *name, tf_pretok **out, char *err, size_t errlen);
void tf_pretok_free(tf_pretok *p);
unsigned tf_pretok_flags(const tf_pretok *p);

/* Cut cp[0..n) into pieces, appended to out (cleared first).  Returns 0,
 * -1 on allocation failure. */
int tf_pretok_split(const tf_pretok *p, const uint32_t *cp, const uint8_t *fl,
                    size_t n, tf_spans *out);

/* Every name the table knows, NULL-terminated (for tests and --help). */
const char *const *tf_pretok_names(void);

/* ---- the regex engine, exposed for tests ---- */
typedef struct tf_regex tf_regex;
int tf_regex_compile(const char *pattern, tf_regex **out, char *err,
                     size_t errlen);
void tf_regex_free(tf_regex *re);
/* Split pieces in[0..n_in) of cp/fl by re into out (cleared first). */
int tf_regex_split(const tf_regex *re, const uint32_t *cp, const uint8_t *fl,
                   const tf_span *in, size_t n_in, tf_spans *out);

/* The hand-written splitters, exposed so tests can compare them with the
 * regex engine running the same pattern. */
enum { TF_SPLIT_GPT2 = 1, TF_SPLIT_LLAMA3 = 2, TF_SPLIT_QWEN2 = 3 };
int tf_pretok_builtin_split(int which, const uint32_t *cp, const uint8_t *fl,
                            const tf_span *in, size_t n_in, tf_spans *out);
/* Pattern text of a builtin, for the same comparison. */
const char *tf_pretok_builtin_pattern(int which);

#endif
