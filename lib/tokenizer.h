/* tokenizer.h - vocabulary from GGUF metadata; text <-> token ids.
 *
 * SentencePiece-style ("llama") and byte-level BPE ("gpt2") vocabularies,
 * matching the reference engine token for token.  Built once at model
 * open; immutable afterwards, so it can be shared across threads.
 */
#ifndef TF_TOKENIZER_H
#define TF_TOKENIZER_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>
#include "gguf.h"

typedef struct tf_tokenizer tf_tokenizer;

/* Build from tokenizer.ggml.* keys.  Validates: arrays of equal length,
 * special ids in range, known model and pre-tokenizer names.  On failure
 * returns nonzero and fills err ("tokenizer.ggml.scores: 10 entries, tokens
 * has 12").  Strings are copied: the tokenizer does not keep g. */
int tf_tokenizer_load(const tf_gguf *g, tf_tokenizer **out, char *err,
                      size_t errlen);
void tf_tokenizer_free(tf_tokenizer *t); /* NULL-safe */

int32_t tf_tokenizer_n_vocab(const tf_tokenizer *t);
const char *tf_tokenizer_model(const tf_tokenizer *t); /* "llama"/"gpt2" */
const char *tf_tokenizer_pre(const tf_tokenizer *t);   /* "" for SPM */
int32_t tf_tokenizer_bos(const tf_tokenizer *t);       /* -1: none */
int32_t tf_tokenizer_eos(const tf_tokenizer *t);
int32_t tf_tokenizer_eot(const tf_tokenizer *t);
bool tf_tokenizer_add_bos(const tf_tokenizer *t);      /* the model's default */
bool tf_tokenizer_add_eos(const tf_tokenizer *t);
bool tf_tokenizer_is_eog(const tf_tokenizer *t, int32_t id);
/* Raw vocabulary string of id (e.g. "▁the", "<0x0A>", "Ġthe"); NULL if
 * out of range. */
const char *tf_tokenizer_token_text(const tf_tokenizer *t, int32_t id);
/* Id of exact vocabulary string, -1 if absent. */
int32_t tf_tokenizer_find(const tf_tokenizer *t, const char *s, size_t len);

/* Longest text one encode call takes (UTF-8 normalisation may triple it;
 * all offsets stay 32-bit). */
#define TF_TOKENIZE_MAX_BYTES (256u << 20)

/* Tokenize len bytes of text (any bytes; invalid UTF-8 is handled, never
 * read past len).  Writes up to cap ids; *n_out = ids produced.  Returns 0,
 * or 1 when cap was too small (*n_out then is the count needed), -1 on
 * allocation failure or len > TF_TOKENIZE_MAX_BYTES.  add_bos/add_eos
 * are explicit (the caller applies the model's defaults); parse_special
 * turns control-token text into its id (user-defined tokens' text always
 * becomes their id, as in the reference engine). */
int tf_tokenizer_encode(const tf_tokenizer *t, const char *text, size_t len,
                        bool add_bos, bool add_eos, bool parse_special,
                        int32_t *out, size_t cap, size_t *n_out);

/* Bytes of one token as text: SPM "▁" -> ' ', byte tokens <0xNN> -> that
 * byte, BPE byte-to-unicode mapping undone; control/special tokens give ""
 * unless render_special.  Returns 0, 1 when cap too small (*n_out =
 * needed), -1 for an id out of range. */
int tf_tokenizer_piece(const tf_tokenizer *t, int32_t id, bool render_special,
                       char *buf, size_t cap, size_t *n_out);

/* Text of n ids (pieces joined).  For SentencePiece vocabularies with a
 * space prefix, the one leading space that tokenizing added is removed, so
 * decode(encode(text)) == text; "▁" spelled by byte tokens prints as a
 * space.  Same return convention as _piece, plus -2 when out of memory. */
int tf_tokenizer_decode(const tf_tokenizer *t, const int32_t *ids, size_t n,
                        bool render_special, char *buf, size_t cap,
                        size_t *n_out);

/* A byte-fallback token (<0xNN>): streaming decoders need to know. */
bool tf_tokenizer_is_byte(const tf_tokenizer *t, int32_t id);

#endif
