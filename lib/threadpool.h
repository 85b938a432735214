/* threadpool.h - a fixed set of worker threads that run one function
 * together and meet at barriers, staying hot between the operations of a
 * forward pass instead of being woken per operation. */
#ifndef TF_THREADPOOL_H
#define TF_THREADPOOL_H

typedef struct tf_pool tf_pool;

/* n threads in all (the caller counts as thread 0).  NULL on failure. */
tf_pool *tf_pool_new(int n);
void tf_pool_free(tf_pool *p); /* NULL-safe; joins the workers */
int tf_pool_size(const tf_pool *p);

/* Run fn(arg, ith, nth) on every thread, the caller as ith 0; returns
 * when all have finished. */
void tf_pool_run(tf_pool *p, void (*fn)(void *arg, int ith, int nth), void *arg);

/* Inside fn: wait until every thread of the pool has arrived. */
void tf_pool_barrier(tf_pool *p);

#endif
