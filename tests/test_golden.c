/* test_golden.c - replay every golden file with `tinfer logits` and compare
 * every logits row with llama.cpp's, within ../shared/golden/README.md's
 * bounds: F32/F16 models every row < 5e-3; quantized median < 4e-2 and
 * every row < 1e-1; argmax equal wherever the reference's top-2 gap > 0.1.
 * Also: 1 vs 2 threads give identical bytes, and evaluating the prompt one
 * token at a time lands inside the same bounds. */
#include <dirent.h>
#include <dlfcn.h>
#include <math.h>
#include <stdbool.h>
#include <unistd.h>

#include "testutil.h"
#include "golden_cmp.h"

static int run_logits(const char *model, const char *tokens, const char *out, const char *extra)
{
    char cmd[8192];
    snprintf(cmd, sizeof cmd, "%s logits -m %s --replay %s -o %s %s", tu_bin(), model, tokens, out,
             extra);
    return system(cmd);
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

/* The other CPU paths stay inside the same bounds on prompt 0 of every
 * model: the portable kernels (TINFER_KERNELS=ref), the row kernels instead
 * of packed weights (TINFER_PACK=0), and OpenBLAS for the float models
 * (TINFER_BLAS=1: every product, prompt and decode; when libopenblas.so.0
 * is installed, else the run is the plain one again). */
static void test_golden_paths(void **state)
{
    (void)state;
    static const char *const env[] = {"TINFER_KERNELS=ref", "TINFER_PACK=0", "TINFER_BLAS=1"};
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
        if (len < 10 || strcmp(e->d_name + len - 9, ".0.tokens")) continue;
        char name[256], model[2400], tokens[2400], ref[2400], out[2400], extra[256], what[64];
        snprintf(name, sizeof name, "%.*s", (int)(len - 7), e->d_name);
        snprintf(model, sizeof model, "%s/models/%.*s.gguf", root, (int)(len - 9), e->d_name);
        snprintf(tokens, sizeof tokens, "%s/%s", gdir, e->d_name);
        snprintf(ref, sizeof ref, "%s/%s.logits.f32", gdir, name);
        snprintf(out, sizeof out, "%s/%s.f32", tmp, name);
        bool flt = strstr(name, "-f32") || strstr(name, "-f16") || strstr(name, "-bf16");
        for (size_t k = 0; k < sizeof env / sizeof env[0]; k++) {
            if (k == 2 && !flt) continue;
            char cmd[8192];
            snprintf(extra, sizeof extra, "-t 2");
            snprintf(cmd, sizeof cmd, "%s %s logits -m %s --replay %s -o %s %s", env[k], tu_bin(),
                     model, tokens, out, extra);
            assert_int_equal(system(cmd), 0);
            snprintf(what, sizeof what, "%.14s", env[k] + 7);
            bad += !within_bounds(what, name, compare(out, ref, replay_rows(tokens)));
            unlink(out);
            n++;
        }
    }
    closedir(d);
    rmdir(tmp);
    void *blas = dlopen("libopenblas.so.0", RTLD_NOW | RTLD_LOCAL);
    printf("golden replays on the other CPU paths: %d runs, %d failures%s\n", n, bad,
           blas ? "" : " (libopenblas.so.0 missing: the BLAS runs took the own kernels)");
    if (blas) dlclose(blas);
    assert_true(n >= 30);
    assert_int_equal(bad, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_golden_replays),
        cmocka_unit_test(test_golden_paths),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
