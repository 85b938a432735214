/* membw.c - streaming read bandwidth (membw.h).
 *
 * The buffer is first written by the threads that will read it (so each
 * slice's pages are theirs), then every run: all threads meet at a
 * barrier, the clock starts, each reads its slice with 16-byte loads into
 * independent sums (kept, so nothing is optimised away), and the clock
 * stops when the last one is done. */
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include "membw.h"

typedef struct shared {
    uint8_t *buf;
    size_t slice;
    int threads, runs;
    atomic_int go;        /* 0: wait, 1: run, -1: give up (a thread failed to start) */
    atomic_int count;
    atomic_uint gen;
    double *secs;         /* per run, written by thread 0 */
    _Atomic uint64_t sink;
} shared;

typedef struct worker { shared *s; int ith; } worker;

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

static void barrier(shared *s)
{
    unsigned g = atomic_load(&s->gen);
    if (atomic_fetch_add(&s->count, 1) == s->threads - 1) {
        atomic_store(&s->count, 0);
        atomic_fetch_add(&s->gen, 1);
        return;
    }
    for (int spins = 0; atomic_load(&s->gen) == g; spins++)
        if (spins > 1000) sched_yield();
}

static uint64_t read_slice(const uint8_t *p, size_t n)
{
#if defined(__SSE2__)
    __m128i a0 = _mm_setzero_si128(), a1 = a0, a2 = a0, a3 = a0;
    for (size_t i = 0; i + 64 <= n; i += 64) {
        a0 = _mm_add_epi64(a0, _mm_load_si128((const __m128i *)(const void *)(p + i)));
        a1 = _mm_add_epi64(a1, _mm_load_si128((const __m128i *)(const void *)(p + i + 16)));
        a2 = _mm_add_epi64(a2, _mm_load_si128((const __m128i *)(const void *)(p + i + 32)));
        a3 = _mm_add_epi64(a3, _mm_load_si128((const __m128i *)(const void *)(p + i + 48)));
    }
    a0 = _mm_add_epi64(_mm_add_epi64(a0, a1), _mm_add_epi64(a2, a3));
    uint64_t lanes[2];
    _mm_storeu_si128((__m128i *)(void *)lanes, a0);
    return lanes[0] + lanes[1];
#else
    const uint64_t *q = (const uint64_t *)(const void *)p;
    uint64_t s0 = 0, s1 = 0, s2 = 0, s3 = 0;
    for (size_t i = 0; i + 4 <= n / 8; i += 4) {
        s0 += q[i];
        s1 += q[i + 1];
        s2 += q[i + 2];
        s3 += q[i + 3];
    }
    return s0 + s1 + s2 + s3;
#endif
}

static void *work(void *arg)
{
    worker *w = arg;
    shared *s = w->s;
    int go;
    while ((go = atomic_load(&s->go)) == 0) sched_yield();
    if (go < 0) return NULL;
    uint8_t *mine = s->buf + (size_t)w->ith * s->slice;
    memset(mine, 0x5a + w->ith, s->slice); /* first touch: the pages are this thread's */
    uint64_t sum = 0;
    for (int r = 0; r < s->runs; r++) {
        barrier(s);
        double t0 = now_s();
        sum += read_slice(mine, s->slice);
        barrier(s);
        if (w->ith == 0) s->secs[r] = now_s() - t0;
    }
    atomic_fetch_add(&s->sink, sum);
    return NULL;
}

int membw_read(size_t bytes, int threads, int runs, membw_result *out)
{
    if (threads < 1) threads = 1;
    if (runs < 1) runs = 1;
    shared s = {.threads = threads, .runs = runs, .slice = bytes / (size_t)threads / 64 * 64};
    s.secs = calloc((size_t)runs, sizeof *s.secs);
    pthread_t *tid = calloc((size_t)threads, sizeof *tid);
    worker *ws = calloc((size_t)threads, sizeof *ws);
    void *buf = NULL;
    int rc = -1, started = 1;
    if (!s.secs || !tid || !ws || s.slice == 0 ||
        posix_memalign(&buf, (size_t)2 << 20, s.slice * (size_t)threads)) {
        fprintf(stderr, "tinfer bench: cannot allocate %zu MiB for the bandwidth test\n", bytes >> 20);
        goto done;
    }
    s.buf = buf;
#ifdef MADV_HUGEPAGE
    madvise(buf, s.slice * (size_t)threads, MADV_HUGEPAGE); /* fewer TLB misses; only a hint */
#endif
    for (int i = 0; i < threads; i++) ws[i] = (worker){&s, i};
    for (; started < threads; started++)
        if (pthread_create(&tid[started], NULL, work, &ws[started])) break;
    atomic_store(&s.go, started == threads ? 1 : -1);
    if (started == threads) work(&ws[0]);
    for (int i = 1; i < started; i++) pthread_join(tid[i], NULL);
    if (started < threads) {
        fprintf(stderr, "tinfer bench: cannot start %d threads for the bandwidth test\n", threads);
        goto done;
    }
    double best = 0, worst = 0;
    for (int r = 0; r < runs; r++) {
        double bw = (double)s.slice * threads / s.secs[r];
        if (bw > best) best = bw;
        if (r == 0 || bw < worst) worst = bw;
    }
    *out = (membw_result){best, worst, s.slice * (size_t)threads, threads, runs};
    rc = 0;
done:
    free(buf);
    free(s.secs);
    free(tid);
    free(ws);
    return rc;
}
