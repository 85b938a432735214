/* test_fuzz_regress.c - replays every committed fuzz input through the
 * same entry function libFuzzer calls, without libFuzzer (any compiler).
 *
 * The five targets of tests/fuzz/ are compiled into this program with
 * their LLVMFuzzerTestOneInput renamed; each file of
 * tests/fuzz/regress/<target>/ (inputs that once crashed, minimised) and
 * tests/fuzz/corpus/<target>/ (the seeds) runs once; the model inputs run
 * again on the reference kernels (TINFER_KERNELS=ref).  A target aborts on a
 * violated invariant, so a regression fails the test run loudly; under
 * `make asan` the replay is checked by ASan/UBSan/LSan as well.
 *
 * `test_fuzz_regress TARGET FILE...` replays given files through one
 * target (for a crash found by `make fuzz`, before it is minimised).
 */
#include "testutil.h"
#include <dirent.h>
#include "kernels.h"

#define LLVMFuzzerTestOneInput fuzz_gguf_one
#include "fuzz/fuzz_gguf.c"
#undef LLVMFuzzerTestOneInput
#define LLVMFuzzerTestOneInput fuzz_model_one
#include "fuzz/fuzz_model.c"
#undef LLVMFuzzerTestOneInput
#define LLVMFuzzerTestOneInput fuzz_tokenizer_one
#include "fuzz/fuzz_tokenizer.c"
#undef LLVMFuzzerTestOneInput
#define LLVMFuzzerTestOneInput fuzz_chat_one
#include "fuzz/fuzz_chat.c"
#undef LLVMFuzzerTestOneInput
#define LLVMFuzzerTestOneInput fuzz_sampler_one
#include "fuzz/fuzz_sampler.c"
#undef LLVMFuzzerTestOneInput

typedef struct target {
    const char *name;
    int (*one)(const uint8_t *, size_t);
} target;

static const target targets[] = {
    {"gguf", fuzz_gguf_one},           {"model", fuzz_model_one}, {"tokenizer", fuzz_tokenizer_one},
    {"chat", fuzz_chat_one},           {"sampler", fuzz_sampler_one},
};

/* tests/fuzz, found beside this source file (make check runs from the
 * repository root). */
static const char *fuzz_dir(void)
{
    static char dir[1024];
    const char *src = __FILE__, *slash = strrchr(src, '/');
    snprintf(dir, sizeof dir, "%.*s/fuzz", slash ? (int)(slash - src) : 1, slash ? src : ".");
    return dir;
}

static void replay_file(const target *t, const char *path)
{
    size_t len;
    char *buf = tu_read_file(path, &len);
    /* Exactly len bytes in a buffer of their own, so ASan sees overreads. */
    uint8_t *exact = malloc(len ? len : 1);
    assert_non_null(exact);
    memcpy(exact, buf, len);
    free(buf);
    t->one(exact, len);
    free(exact);
}

static int name_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Every regular file of dir (sorted); returns how many. */
static int replay_dir(const target *t, const char *dir, bool required)
{
    DIR *dp = opendir(dir);
    if (!dp) {
        if (required) {
            fprintf(stderr, "FATAL: seed corpus '%s' is missing\n", dir);
            fail();
        }
        return 0;
    }
    char **names = NULL;
    size_t n = 0, cap = 0;
    struct dirent *e;
    while ((e = readdir(dp)) != NULL) {
        if (e->d_name[0] == '.') continue;
        if (n == cap) {
            cap = cap ? 2 * cap : 64;
            names = realloc(names, cap * sizeof *names);
            assert_non_null(names);
        }
        names[n] = strdup(e->d_name);
        assert_non_null(names[n]);
        n++;
    }
    closedir(dp);
    if (n) qsort(names, n, sizeof *names, name_cmp);
    for (size_t i = 0; i < n; i++) {
        char path[2048];
        snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        replay_file(t, path);
        free(names[i]);
    }
    free(names);
    return (int)n;
}

static void test_replay(void **state)
{
    const target *t = *state;
    char dir[1200];
    snprintf(dir, sizeof dir, "%s/regress/%s", fuzz_dir(), t->name);
    int nr = replay_dir(t, dir, false);
    snprintf(dir, sizeof dir, "%s/corpus/%s", fuzz_dir(), t->name);
    int nc = replay_dir(t, dir, true);
    printf("  fuzz_%-9s %3d regression inputs, %3d seeds replayed\n", t->name, nr, nc);
    assert_true(nc > 0);
}

/* Models once more on the portable kernels: the fuzzer runs whatever this
 * CPU selects, and the reference kernels must be as robust. */
static void test_replay_model_ref(void **state)
{
    (void)state;
    const char *old = getenv("TINFER_KERNELS");
    char *saved = old ? strdup(old) : NULL;
    setenv("TINFER_KERNELS", "ref", 1);
    char dir[1200];
    snprintf(dir, sizeof dir, "%s/regress/model", fuzz_dir());
    int nr = replay_dir(&targets[1], dir, false);
    snprintf(dir, sizeof dir, "%s/corpus/model", fuzz_dir());
    int nc = replay_dir(&targets[1], dir, true);
    if (saved) setenv("TINFER_KERNELS", saved, 1);
    else unsetenv("TINFER_KERNELS");
    free(saved);
    tf_kernels_init(false);
    printf("  fuzz_model     %3d regression inputs, %3d seeds replayed (reference kernels)\n", nr, nc);
}

static int free_vocabs(void **state)
{
    (void)state;
    for (int i = 0; i < ft_n; i++) tf_model_close(ft_vocab[i]);
    ft_n = -1;
    if (fm_fd >= 0) close(fm_fd);
    fm_fd = -1;
    return 0;
}

int main(int argc, char **argv)
{
    if (argc > 2) { /* TARGET FILE... */
        for (size_t k = 0; k < sizeof targets / sizeof targets[0]; k++) {
            if (strcmp(argv[1], targets[k].name) != 0) continue;
            for (int i = 2; i < argc; i++) replay_file(&targets[k], argv[i]);
            free_vocabs(NULL);
            printf("%d inputs ran clean through fuzz_%s\n", argc - 2, argv[1]);
            return 0;
        }
        fprintf(stderr, "unknown target '%s'\n", argv[1]);
        return 2;
    }
    enum { N = sizeof targets / sizeof targets[0] };
    struct CMUnitTest tests[N + 1];
    for (size_t k = 0; k < N; k++) {
        struct CMUnitTest t = cmocka_unit_test_prestate(test_replay, (void *)&targets[k]);
        t.name = targets[k].name;
        tests[k] = t;
    }
    tests[N] = (struct CMUnitTest)cmocka_unit_test(test_replay_model_ref);
    return cmocka_run_group_tests(tests, NULL, free_vocabs);
}
