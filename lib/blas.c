/* blas.c - OpenBLAS, opened at run time, for products of float weights
 * (F32, F16, BF16).
 *
 * The library works without it: libopenblas.so.0 is opened with dlopen on
 * first use (Debian: libopenblas0), and only cblas_sgemm is needed.  Each
 * of tinfer's threads calls it on its own rows, so OpenBLAS is told to use
 * one thread per call (openblas_set_num_threads(1), a process-wide setting
 * of that library).  Which products it gets: TINFER_BLAS (blas.h).
 */
#include <dlfcn.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "blas.h"

enum { ROW_MAJOR = 101, NO_TRANS = 111, TRANS = 112 };

typedef void (*sgemm_fn)(int order, int ta, int tb, int m, int n, int k, float alpha,
                         const float *a, int lda, const float *b, int ldb, float beta, float *c,
                         int ldc);

static pthread_once_t g_once = PTHREAD_ONCE_INIT;
static sgemm_fn g_sgemm;

static void load(void)
{
    void *h = dlopen("libopenblas.so.0", RTLD_NOW | RTLD_LOCAL);
    if (!h)
        return;
    void (*set_threads)(int) = (void (*)(int))dlsym(h, "openblas_set_num_threads");
    sgemm_fn f = (sgemm_fn)dlsym(h, "cblas_sgemm");
    if (!f) {
        dlclose(h);
        return;
    }
    if (set_threads)
        set_threads(1);
    g_sgemm = f; /* the handle stays open for the process's life */
}

tf_blas_policy tf_blas_policy_get(void)
{
    const char *e = getenv("TINFER_BLAS");
    char *end = NULL;
    long n = e ? strtol(e, &end, 10) : -1;
    if (!e || end == e || *end || n < 0 || n > 1000000)
        return (tf_blas_policy){1, false}; /* unset, "auto" or not a count */
    return (tf_blas_policy){(int)n, n > 0};
}

bool tf_blas_available(void)
{
    pthread_once(&g_once, load);
    return g_sgemm != NULL;
}

void tf_blas_sgemm_nt(int m, int n, int k, const float *a, int lda, const float *b, int ldb,
                      float *c, int ldc)
{
    g_sgemm(ROW_MAJOR, NO_TRANS, TRANS, m, n, k, 1.0f, a, lda, b, ldb, 0.0f, c, ldc);
}
