/* util.c - error plumbing and small helpers shared by the modules. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "internal.h"

static _Thread_local char last_error[TF_ERRLEN];

void tf_set_last_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(last_error, sizeof last_error, fmt, ap);
    va_end(ap);
}

const char *tf_last_error(void) { return last_error; }

void tf_errf(char *err, size_t errlen, const char *fmt, ...)
{
    if (!err || errlen == 0) return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

void tf_secure_zero(void *p, size_t n)
{
    if (p && n) explicit_bzero(p, n);
}

void *tf_secure_realloc(void *p, size_t old_bytes, size_t new_bytes)
{
    void *q = malloc(new_bytes ? new_bytes : 1);
    if (!q)
        return NULL;
    if (p) {
        memcpy(q, p, old_bytes < new_bytes ? old_bytes : new_bytes);
        tf_secure_free(p, old_bytes);
    }
    return q;
}

void tf_secure_free(void *p, size_t n)
{
    if (!p)
        return;
    tf_secure_zero(p, n);
    free(p);
}

const char *tf_version(void) { return "0.1.0"; }

const char *tf_status_str(tf_status s)
{
    switch (s) {
    case TF_OK: return "ok";
    case TF_ERR_INVALID_ARG: return "invalid argument";
    case TF_ERR_IO: return "i/o error";
    case TF_ERR_FORMAT: return "format error";
    case TF_ERR_UNSUPPORTED: return "unsupported";
    case TF_ERR_NOMEM: return "out of memory";
    case TF_ERR_BUFFER: return "buffer too small";
    case TF_ERR_CONTEXT_FULL: return "context full";
    case TF_ERR_BACKEND: return "backend error";
    case TF_ERR_STATE: return "invalid state";
    }
    return "unknown status";
}
