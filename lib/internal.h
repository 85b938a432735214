/* internal.h - helpers shared by the library's modules (not installed). */
#ifndef TF_INTERNAL_H
#define TF_INTERNAL_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>
#include <stdarg.h>
#include "tinfer.h"
#include "gguf.h"
#include "tokenizer.h"

#define TF_ERRLEN 512

/* Thread-local "last error" behind tf_last_error() and, since a model is
 * shared between threads, behind tf_model_error() too. */
void tf_set_last_error(const char *fmt, ...)
    __attribute__((format(printf, 1, 2)));

/* Zero n bytes in a way the compiler may not remove, even right before
 * free (explicit_bzero): prompts, logits and caches are private. */
void tf_secure_zero(void *p, size_t n);

/* realloc for buffers that hold prompt text or its tokens: the old block is
 * zeroed before it is freed (realloc may leave a copy behind).  Returns the
 * new block of new_bytes (old_bytes of it copied), or NULL with p untouched. */
void *tf_secure_realloc(void *p, size_t old_bytes, size_t new_bytes);

/* Zero n bytes of p, then free it (NULL-safe). */
void tf_secure_free(void *p, size_t n);

/* snprintf into a caller's err buffer; NULL-safe. */
void tf_errf(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Checked arithmetic: return false on overflow. */
static inline bool tf_add_u64(uint64_t a, uint64_t b, uint64_t *r)
{
    return !__builtin_add_overflow(a, b, r);
}
static inline bool tf_mul_u64(uint64_t a, uint64_t b, uint64_t *r)
{
    return !__builtin_mul_overflow(a, b, r);
}

/* Accessors the API modules use on a model (lib/model.c). */
const tf_tokenizer *tf_model_tokenizer(const tf_model *m);
const tf_gguf *tf_model_gguf(const tf_model *m);
/* tokenizer.chat_template, NULL when absent. Not NUL-terminated: len. */
const char *tf_model_chat_template(const tf_model *m, size_t *len);

#endif
