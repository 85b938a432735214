/* allocwrap.h - the allocator as seen through GNU ld's --wrap, for the
 * tests linked with the Makefile's WRAP_ALLOC (LDFLAGS_test_oom,
 * LDFLAGS_test_private).
 *
 * --wrap=malloc makes every reference to malloc in the objects being
 * linked - the test and, since it is linked statically, libtinfer.a -
 * call __wrap_malloc, which reaches the real one as __real_malloc.  (It
 * works under ASan too: __real_malloc is the plain malloc symbol, which
 * ASan's runtime provides.)  Allocations made inside shared libraries
 * (libc, cmocka, utf8proc) are not seen, and their frees aren't either.
 *
 * What the wrappers do:
 * - count allocation calls (malloc, calloc, realloc, strdup) and live
 *   blocks, so a test can say "no leak" and "no allocation";
 * - fail the n-th allocation call after aw_arm(n) (one failure only, so
 *   each call site's error path is reached on its own);
 * - record the blocks allocated while aw_recording is set, with their
 *   sizes (aw_size_of);
 * - check watched blocks are all zero when freed (aw_watch): how the
 *   privacy test sees that a context zeroes its buffers before freeing.
 * Counters are atomic: pool threads free what they were handed.
 */
#ifndef TF_ALLOCWRAP_H
#define TF_ALLOCWRAP_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

void *__real_malloc(size_t n);
void *__real_calloc(size_t n, size_t size);
void *__real_realloc(void *p, size_t n);
char *__real_strdup(const char *s);
void __real_free(void *p);
void *__wrap_malloc(size_t n);
void *__wrap_calloc(size_t n, size_t size);
void *__wrap_realloc(void *p, size_t n);
char *__wrap_strdup(const char *s);
void __wrap_free(void *p);

static atomic_long aw_calls;   /* allocation calls since aw_arm/aw_reset */
static atomic_long aw_live;    /* blocks allocated and not yet freed */
static atomic_long aw_fail_at; /* the call number that fails; 0: none */
static atomic_bool aw_failed;  /* the armed failure happened */

/* From now on count calls from 1 and fail call n (0: never). */
static inline void aw_arm(long n)
{
    atomic_store(&aw_failed, false);
    atomic_store(&aw_calls, 0);
    atomic_store(&aw_fail_at, n);
}

static inline void aw_disarm(void) { atomic_store(&aw_fail_at, 0); }

static bool aw_fail_now(void)
{
    long k = atomic_fetch_add(&aw_calls, 1) + 1;
    if (k != atomic_load(&aw_fail_at)) return false;
    atomic_store(&aw_failed, true);
    return true;
}

/* ---- recorded blocks: what an operation allocated, with sizes ---------- */

#define AW_MAX_REC 8192
static struct { void *p; size_t n; } aw_rec[AW_MAX_REC];
static atomic_int aw_n_rec;
static atomic_bool aw_recording;

static inline void aw_record_start(void)
{
    atomic_store(&aw_n_rec, 0);
    atomic_store(&aw_recording, true);
}

static inline void aw_record_stop(void) { atomic_store(&aw_recording, false); }

static void aw_record(void *p, size_t n)
{
    if (!p || !atomic_load(&aw_recording)) return;
    int i = atomic_fetch_add(&aw_n_rec, 1);
    if (i < AW_MAX_REC) {
        aw_rec[i].p = p;
        aw_rec[i].n = n;
    }
}

/* Size of recorded block p (the latest record of it); 0 if unknown. */
static inline size_t aw_size_of(const void *p)
{
    int n = atomic_load(&aw_n_rec);
    for (int i = (n < AW_MAX_REC ? n : AW_MAX_REC) - 1; i >= 0; i--)
        if (aw_rec[i].p == p) return aw_rec[i].n;
    return 0;
}

/* ---- watched blocks: must be all zero when freed ---------------------- */

#define AW_MAX_WATCH 1024
static struct { void *p; size_t n; } aw_watched[AW_MAX_WATCH];
static int aw_n_watch;
static atomic_int aw_watch_hits, aw_watch_dirty;
static char aw_dirty_what[128];

/* Watch [p, p + n): p must be the start of a heap block. */
static inline void aw_watch(void *p, size_t n)
{
    if (p && aw_n_watch < AW_MAX_WATCH) {
        aw_watched[aw_n_watch].p = p;
        aw_watched[aw_n_watch].n = n;
        aw_n_watch++;
    }
}

static inline void aw_watch_clear(void)
{
    aw_n_watch = 0;
    atomic_store(&aw_watch_hits, 0);
    atomic_store(&aw_watch_dirty, 0);
}

static void aw_check_watched(void *p)
{
    for (int i = 0; i < aw_n_watch; i++) {
        if (aw_watched[i].p != p) continue;
        atomic_fetch_add(&aw_watch_hits, 1);
        const unsigned char *b = p;
        for (size_t k = 0; k < aw_watched[i].n; k++)
            if (b[k]) {
                if (atomic_fetch_add(&aw_watch_dirty, 1) == 0)
                    snprintf(aw_dirty_what, sizeof aw_dirty_what,
                             "block %d (%zu bytes) has byte %zu = 0x%02x when freed", i,
                             aw_watched[i].n, k, b[k]);
                break;
            }
        aw_watched[i].p = NULL;
    }
}

/* ---- recorded blocks that must be zero when freed ---------------------- */

/* While set, every block recorded since aw_record_start must be all zero
 * when it is freed, and must not be moved by realloc (which would free the
 * old copy unseen): what an operation allocates for itself and frees
 * before returning (per-call scratch). */
static atomic_bool aw_scratch_zero;
static atomic_int aw_scratch_hits, aw_scratch_dirty;

static void aw_check_scratch(void *p, bool moved)
{
    size_t n = aw_size_of(p);
    if (!n) return;
    atomic_fetch_add(&aw_scratch_hits, 1);
    const unsigned char *b = p;
    size_t k = 0;
    while (!moved && k < n && !b[k]) k++;
    if ((moved || k < n) && atomic_fetch_add(&aw_scratch_dirty, 1) == 0)
        snprintf(aw_dirty_what, sizeof aw_dirty_what,
                 moved ? "scratch block of %zu bytes moved by realloc"
                       : "scratch block of %zu bytes has byte %zu = 0x%02x when freed",
                 n, k, moved ? 0 : b[k]);
}

/* ---- the wrappers ----------------------------------------------------- */

void *__wrap_malloc(size_t n)
{
    if (aw_fail_now()) return NULL;
    void *p = __real_malloc(n);
    if (p) atomic_fetch_add(&aw_live, 1);
    aw_record(p, n);
    return p;
}

void *__wrap_calloc(size_t n, size_t size)
{
    if (aw_fail_now()) return NULL;
    void *p = __real_calloc(n, size);
    if (p) atomic_fetch_add(&aw_live, 1);
    aw_record(p, n * size);
    return p;
}

void *__wrap_realloc(void *p, size_t n)
{
    if (aw_fail_now()) return NULL; /* p stays valid, as after a real failure */
    if (p && atomic_load(&aw_scratch_zero)) aw_check_scratch(p, true);
    void *q = __real_realloc(p, n);
    if (!p && q) atomic_fetch_add(&aw_live, 1);
    if (p && !q && n == 0) atomic_fetch_sub(&aw_live, 1);
    aw_record(q, n);
    return q;
}

char *__wrap_strdup(const char *s)
{
    if (aw_fail_now()) return NULL;
    char *p = __real_strdup(s);
    if (p) atomic_fetch_add(&aw_live, 1);
    aw_record(p, p ? strlen(p) + 1 : 0);
    return p;
}

void __wrap_free(void *p)
{
    if (!p) return;
    if (aw_n_watch) aw_check_watched(p);
    if (atomic_load(&aw_scratch_zero)) aw_check_scratch(p, false);
    atomic_fetch_sub(&aw_live, 1);
    __real_free(p);
}

#endif
