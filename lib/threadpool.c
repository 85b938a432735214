/* threadpool.c - workers sleep on a condition variable between runs and
 * spin (then yield) at barriers inside a run, where waits are microseconds. */
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>

#include "threadpool.h"

struct tf_pool {
    int n;
    pthread_t *threads;
    pthread_mutex_t mu;
    pthread_cond_t cv_start, cv_done;
    unsigned long gen;   /* bumped for each run */
    int running;         /* workers still inside the current run */
    int stop;
    void (*fn)(void *, int, int);
    void *arg;
    atomic_int bar_count;
    atomic_uint bar_gen;
};

typedef struct worker_arg { tf_pool *p; int ith; } worker_arg;

static void *worker(void *a)
{
    tf_pool *p = ((worker_arg *)a)->p;
    int ith = ((worker_arg *)a)->ith;
    free(a);
    unsigned long seen = 0;
    for (;;) {
        pthread_mutex_lock(&p->mu);
        while (p->gen == seen && !p->stop) pthread_cond_wait(&p->cv_start, &p->mu);
        if (p->stop) {
            pthread_mutex_unlock(&p->mu);
            return NULL;
        }
        seen = p->gen;
        pthread_mutex_unlock(&p->mu);
        p->fn(p->arg, ith, p->n);
        pthread_mutex_lock(&p->mu);
        if (--p->running == 0) pthread_cond_signal(&p->cv_done);
        pthread_mutex_unlock(&p->mu);
    }
}

tf_pool *tf_pool_new(int n)
{
    if (n < 1) n = 1;
    tf_pool *p = calloc(1, sizeof *p);
    if (!p) return NULL;
    p->n = n;
    p->threads = calloc((size_t)n, sizeof *p->threads);
    if (!p->threads) {
        free(p);
        return NULL;
    }
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->cv_start, NULL);
    pthread_cond_init(&p->cv_done, NULL);
    for (int i = 1; i < n; i++) {
        worker_arg *a = malloc(sizeof *a);
        if (a) {
            a->p = p;
            a->ith = i;
        }
        if (!a || pthread_create(&p->threads[i], NULL, worker, a)) {
            free(a);
            p->n = i; /* only the threads created so far exist */
            tf_pool_free(p);
            return NULL;
        }
    }
    return p;
}

void tf_pool_free(tf_pool *p)
{
    if (!p) return;
    pthread_mutex_lock(&p->mu);
    p->stop = 1;
    pthread_cond_broadcast(&p->cv_start);
    pthread_mutex_unlock(&p->mu);
    for (int i = 1; i < p->n; i++) pthread_join(p->threads[i], NULL);
    pthread_mutex_destroy(&p->mu);
    pthread_cond_destroy(&p->cv_start);
    pthread_cond_destroy(&p->cv_done);
    free(p->threads);
    free(p);
}

int tf_pool_size(const tf_pool *p) { return p ? p->n : 1; }

void tf_pool_run(tf_pool *p, void (*fn)(void *, int, int), void *arg)
{
    if (p->n == 1) {
        fn(arg, 0, 1);
        return;
    }
    pthread_mutex_lock(&p->mu);
    p->fn = fn;
    p->arg = arg;
    p->running = p->n - 1;
    p->gen++;
    pthread_cond_broadcast(&p->cv_start);
    pthread_mutex_unlock(&p->mu);
    fn(arg, 0, p->n);
    pthread_mutex_lock(&p->mu);
    while (p->running > 0) pthread_cond_wait(&p->cv_done, &p->mu);
    pthread_mutex_unlock(&p->mu);
}

void tf_pool_barrier(tf_pool *p)
{
    if (p->n == 1) return;
    unsigned g = atomic_load_explicit(&p->bar_gen, memory_order_acquire);
    if (atomic_fetch_add_explicit(&p->bar_count, 1, memory_order_acq_rel) == p->n - 1) {
        atomic_store_explicit(&p->bar_count, 0, memory_order_relaxed);
        atomic_fetch_add_explicit(&p->bar_gen, 1, memory_order_acq_rel);
        return;
    }
    /* Spin briefly (the other threads are near), then yield so an
     * oversubscribed machine still makes progress. */
    for (int spins = 0; atomic_load_explicit(&p->bar_gen, memory_order_acquire) == g; spins++)
        if (spins > 2000) sched_yield();
}
