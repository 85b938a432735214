/* golden_cmp.h - comparing a replay's logits with ../shared/golden, as
 * golden/README.md says: per row ||ours - ref|| / ||ref||; F32/F16 models
 * every row < 5e-3, quantized median < 4e-2 and every row < 1e-1; argmax
 * equal wherever the reference's top-2 gap exceeds 0.1.  Shared by
 * test_golden.c (CPU) and test_vulkan.c.  Include after testutil.h. */
#ifndef TF_GOLDEN_CMP_H
#define TF_GOLDEN_CMP_H

#include <math.h>
#include <stdbool.h>

typedef struct stats { double max, median; int argmax_bad, rows; } stats;

static inline int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static inline int argmax(const float *r, size_t n, float *gap)
{
    int best = 0, second = -1;
    for (size_t i = 1; i < n; i++) {
        if (r[i] > r[best]) { second = best; best = (int)i; }
        else if (second < 0 || r[i] > r[second]) second = (int)i;
    }
    *gap = second >= 0 ? r[best] - r[second] : INFINITY;
    return best;
}

/* Rows a replay writes: prompt tokens + generated tokens - 1. */
static inline int replay_rows(const char *tokens_path)
{
    char *t = tu_read_file(tokens_path, NULL);
    int ids = 0, lines = 0;
    for (char *p = t; *p; p++) {
        if (*p >= '0' && *p <= '9' && (p == t || p[-1] < '0' || p[-1] > '9')) ids++;
        if (*p == '\n') lines++;
    }
    free(t);
    assert_true(lines >= 1);
    return ids - 1;
}

/* Compare ours with the reference, row by row. */
static inline stats compare(const char *ours, const char *ref, int rows)
{
    size_t no, nr;
    float *a = (float *)tu_read_file(ours, &no), *b = (float *)tu_read_file(ref, &nr);
    stats s = {0};
    assert_int_equal(no, nr);
    size_t total = nr / sizeof(float);
    assert_int_equal(total % (size_t)rows, 0);
    size_t nv = total / (size_t)rows;
    s.rows = rows;
    double *err = malloc((size_t)s.rows * sizeof *err);
    assert_non_null(err);
    for (int r = 0; r < s.rows; r++) {
        const float *x = a + (size_t)r * nv, *y = b + (size_t)r * nv;
        double d = 0, n = 0;
        for (size_t i = 0; i < nv; i++) {
            d += ((double)x[i] - y[i]) * ((double)x[i] - y[i]);
            n += (double)y[i] * y[i];
        }
        err[r] = sqrt(d / n);
        if (err[r] > s.max || isnan(err[r])) s.max = isnan(err[r]) ? INFINITY : err[r];
        float gap, g2;
        if (argmax(y, nv, &gap) != argmax(x, nv, &g2) && gap > 0.1f) s.argmax_bad++;
    }
    qsort(err, (size_t)s.rows, sizeof *err, cmp_double);
    s.median = err[s.rows / 2];
    free(err);
    free(a);
    free(b);
    return s;
}

static inline bool is_float_model(const char *name)
{
    return strstr(name, "-f32") || strstr(name, "-f16");
}

/* Check one replay against the float (f) or the quantized bounds; prints
 * the measured errors. */
static inline bool within_bounds_as(const char *label, const char *name, stats s, bool f)
{
    bool ok = f ? s.max < 5e-3 : (s.median < 4e-2 && s.max < 1e-1);
    ok = ok && s.argmax_bad == 0;
    printf("  %-34s %-12s rows %3d  max %.2e  median %.2e  argmax-mismatch %d  %s\n", name, label,
           s.rows, s.max, s.median, s.argmax_bad, ok ? "ok" : "OUT OF BOUNDS");
    return ok;
}

/* The bounds of name's tensor type. */
static inline bool within_bounds(const char *label, const char *name, stats s)
{
    return within_bounds_as(label, name, s, is_float_model(name));
}

#endif
