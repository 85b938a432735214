/* test_golden.c - replay every golden file with `tinfer logits` and compare
 * every logits row with llama.cpp's, within ../shared/golden/README.md's
 * bounds: F32/F16 models every row < 5e-3; quantized median < 4e-2 and
 * every row < 1e-1; argmax equal wherever the reference's top-2 gap > 0.1.
 * Also: 1 vs 2 threads give identical bytes, and evaluating the prompt one
 * token at a time lands inside the same bounds. */
#include <dirent.h>
#include <math.h>
#include <stdbool.h>
#include <unistd.h>

#include "testutil.h"

typedef struct stats { double max, median; int argmax_bad, rows; } stats;

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static int argmax(const float *r, size_t n, float *gap)
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
static int replay_rows(const char *tokens_path)
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
static stats compare(const char *ours, const char *ref, int rows)
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

static int run_logits(const char *model, const char *tokens, const char *out, const char *extra)
{
    char cmd[8192];
    snprintf(cmd, sizeof cmd, "%s logits -m %s --replay %s -o %s %s", tu_bin(), model, tokens, out,
             extra);
    return system(cmd);
}

static bool is_float_model(const char *name)
{
    return strstr(name, "-f32") || strstr(name, "-f16");
}

/* Check one replay against the bounds; prints the measured errors. */
static bool within_bounds(const char *label, const char *name, stats s)
{
    bool f = is_float_model(name);
    bool ok = f ? s.max < 5e-3 : (s.median < 4e-2 && s.max < 1e-1);
    ok = ok && s.argmax_bad == 0;
    printf("  %-34s %-8s rows %3d  max %.2e  median %.2e  argmax-mismatch %d  %s\n", name, label,
           s.rows, s.max, s.median, s.argmax_bad, ok ? "ok" : "OUT OF BOUNDS");
    return ok;
}

static void test_golden_replays(void **state)
{
    (void)state;
    char gdir[1024], root[1024];
    snprintf(gdir, sizeof gdir, "%s", tu_shared("golden"));
    snprintf(root, sizeof root, "%s", tu_shared(""));
    DIR *d = opendir(gdir);
    assert_non_null(d);
    struct dirent *e;
    int n = 0, bad = 0;
    char tmp[] = "/tmp/tinfer-golden-XXXXXX";
    assert_non_null(mkdtemp(tmp));
    while ((e = readdir(d))) {
        size_t len = strlen(e->d_name);
        if (len < 8 || strcmp(e->d_name + len - 7, ".tokens")) continue;
        char name[256], model[2400], tokens[2400], ref[2400], out[2400];
        snprintf(name, sizeof name, "%.*s", (int)(len - 7), e->d_name); /* "M.k" */
        char *dot = strrchr(name, '.');
        assert_non_null(dot);
        snprintf(model, sizeof model, "%s/models/%.*s.gguf", root, (int)(dot - name), name);
        snprintf(tokens, sizeof tokens, "%s/%s", gdir, e->d_name);
        snprintf(ref, sizeof ref, "%s/%s.logits.f32", gdir, name);
        snprintf(out, sizeof out, "%s/%s.f32", tmp, name);
        assert_int_equal(run_logits(model, tokens, out, "-t 2"), 0);
        int rows = replay_rows(tokens);
        bad += !within_bounds("batch", name, compare(out, ref, rows));
        n++;
        /* Prompt 0 of every model: one token at a time, and 1 thread. */
        if (!strcmp(dot, ".0")) {
            char out1[2500];
            snprintf(out1, sizeof out1, "%s.single", out);
            assert_int_equal(run_logits(model, tokens, out1, "-t 2 --one-by-one"), 0);
            bad += !within_bounds("1-by-1", name, compare(out1, ref, rows));
            snprintf(out1, sizeof out1, "%s.t1", out);
            assert_int_equal(run_logits(model, tokens, out1, "-t 1"), 0);
            size_t n1, n2;
            char *a = tu_read_file(out, &n1), *b = tu_read_file(out1, &n2);
            bool same = n1 == n2 && memcmp(a, b, n1) == 0;
            printf("  %-34s threads 1 vs 2: %s\n", name, same ? "identical" : "DIFFERENT");
            bad += !same;
            free(a);
            free(b);
            unlink(out1);
        }
        unlink(out);
    }
    closedir(d);
    char cmd[1100];
    snprintf(cmd, sizeof cmd, "rm -rf %s", tmp);
    assert_int_equal(system(cmd), 0);
    printf("golden replays: %d files, %d failures\n", n, bad);
    assert_true(n >= 46); /* every .tokens file in golden/ */
    assert_int_equal(bad, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_golden_replays),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
