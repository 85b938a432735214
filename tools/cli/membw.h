/* membw.h - the machine's memory read bandwidth, for `tinfer bench`:
 * threads stream through a buffer much larger than the last-level cache
 * (1 GiB by default) at the same time; the best of a few runs counts. */
#ifndef TF_MEMBW_H
#define TF_MEMBW_H

#include <stddef.h>

typedef struct membw_result {
    double bytes_per_s;   /* best run */
    double worst_per_s;   /* slowest run (a hint of the noise) */
    size_t bytes;         /* buffer size */
    int threads, runs;
} membw_result;

/* 0 on success; -1 when the buffer or a thread can't be had (message on
 * stderr). */
int membw_read(size_t bytes, int threads, int runs, membw_result *out);

#endif
