/* test_threads.c - one shared model, several threads, each with its own
 * context and sampler, generating at the same time.
 *
 * For each model (tiny Llama Q8_0, tiny Qwen2 F16, tiny MoE Q8_0) a
 * single-threaded run first records, per prompt, the greedy tokens and
 * the logits of every step.  Then worker threads - each using a context
 * whose own pool has 2 threads, and a different prompt from its
 * neighbours, so cross-talk between contexts would show - tokenize with
 * the shared model, generate, and detokenize, twice (contexts are created
 * and freed concurrently too), while another thread opens and closes
 * models.  Every worker's tokens and logits must equal the reference bit
 * for bit (the CPU backend computes each element in one thread in a fixed
 * order, so the thread count can't change results).
 *
 * `make check` runs it plainly; `make tsan` runs it under ThreadSanitizer,
 * which also reports any data race on the way.
 */
#include "testutil.h"
#include <pthread.h>

#include "tinfer.h"
#include <dlfcn.h>
#include <unistd.h>
#include "moe_model.h"

#define N_GEN 12
#define N_WORKERS 4
#define N_PROMPTS 3
#define MAX_PROMPT 64

static const char *const prompts[N_PROMPTS] = {
    "Once upon a time, there was a little dog",
    "The capital of France is",
    "1, 2, 3, 4, 5,"};

typedef struct run_result {
    tf_token toks[N_GEN];
    float *logits; /* N_GEN rows of n_vocab */
    char text[1024];
    char err[256];
} run_result;

/* Tokenize, evaluate the prompt as one batch, then N_GEN greedy steps. */
static int generate(tf_model *m, const char *prompt, int n_threads, run_result *r)
{
    int32_t nv = tf_n_vocab(m);
    tf_token in[MAX_PROMPT];
    size_t n = 0;
    tf_context_params cp = tf_context_default_params();
    cp.n_ctx = 128;
    cp.n_batch = 64;
    cp.n_threads = n_threads;
    tf_sampler_params sp = tf_sampler_default_params();
    sp.temp = 0;
    tf_context *c = NULL;
    tf_sampler *s = NULL;
    r->logits = malloc((size_t)N_GEN * (size_t)nv * sizeof(float));
    if (!r->logits) return snprintf(r->err, sizeof r->err, "out of memory");
    tf_status st = tf_tokenize(m, prompt, strlen(prompt), TF_TOKENIZE_DEFAULT, in, MAX_PROMPT, &n);
    if (!st) st = tf_context_new(m, &cp, &c);
    if (!st) st = tf_sampler_new(&sp, nv, &s);
    if (st) {
        snprintf(r->err, sizeof r->err, "setup: %s", tf_last_error());
        tf_context_free(c);
        return 1;
    }
    st = tf_eval(c, in, n, false);
    for (int i = 0; i < N_GEN && st == TF_OK; i++) {
        const float *lg;
        st = tf_logits(c, -1, &lg);
        if (st == TF_OK) {
            memcpy(r->logits + (size_t)i * (size_t)nv, lg, (size_t)nv * sizeof(float));
            st = tf_sampler_sample(s, lg, &r->toks[i]);
        }
        if (st == TF_OK) st = tf_eval(c, &r->toks[i], 1, false);
    }
    if (st != TF_OK) snprintf(r->err, sizeof r->err, "generate: %s", tf_context_error(c));
    size_t tn = 0;
    if (st == TF_OK && tf_detokenize(m, r->toks, N_GEN, 0, r->text, sizeof r->text - 1, &tn) == TF_OK)
        r->text[tn] = 0;
    tf_sampler_free(s);
    tf_context_free(c);
    return st != TF_OK;
}

typedef struct worker {
    pthread_t th;
    tf_model *m;
    int prompt;
    run_result res[2];
    int failed;
} worker;

static void *worker_main(void *arg)
{
    worker *w = arg;
    for (int round = 0; round < 2; round++)
        w->failed |= generate(w->m, prompts[w->prompt], 2, &w->res[round]);
    return NULL;
}

/* Opens and closes a model (and a vocabulary) while the workers run. */
static void *opener_main(void *arg)
{
    const char *path = arg;
    for (int i = 0; i < 3; i++) {
        tf_model *m = NULL;
        if (tf_model_open(path, NULL, &m) == TF_OK) {
            tf_token t[16];
            size_t n;
            tf_tokenize(m, "hello", 5, TF_TOKENIZE_DEFAULT, t, 16, &n);
        }
        tf_model_close(m);
    }
    return NULL;
}

static void expect_same(const run_result *ref, const run_result *got, int32_t nv, const char *what)
{
    if (got->err[0]) fprintf(stderr, "%s: %s\n", what, got->err);
    assert_string_equal(got->err, "");
    assert_memory_equal(got->toks, ref->toks, sizeof ref->toks);
    if (memcmp(got->logits, ref->logits, (size_t)N_GEN * (size_t)nv * sizeof(float)) != 0) {
        fprintf(stderr, "%s: logits differ from the single-threaded run\n", what);
        fail();
    }
    assert_string_equal(got->text, ref->text);
}

static void run_model(const char *rel)
{
    tf_model *m = NULL;
    const char *path = tu_shared(rel);
    if (tf_model_open(path, NULL, &m) != TF_OK) {
        fprintf(stderr, "%s: %s\n", path, tf_last_error());
        fail();
    }
    int32_t nv = tf_n_vocab(m);
    run_result ref[N_PROMPTS];
    memset(ref, 0, sizeof ref);
    for (int p = 0; p < N_PROMPTS; p++) {
        int bad = generate(m, prompts[p], 1, &ref[p]);
        if (bad) fprintf(stderr, "%s: %s\n", rel, ref[p].err);
        assert_int_equal(bad, 0);
    }
    worker *w = calloc(N_WORKERS, sizeof *w);
    assert_non_null(w);
    pthread_t opener;
    assert_int_equal(pthread_create(&opener, NULL, opener_main, (void *)path), 0);
    for (int i = 0; i < N_WORKERS; i++) {
        w[i].m = m;
        w[i].prompt = i % N_PROMPTS;
        assert_int_equal(pthread_create(&w[i].th, NULL, worker_main, &w[i]), 0);
    }
    for (int i = 0; i < N_WORKERS; i++) pthread_join(w[i].th, NULL);
    pthread_join(opener, NULL);
    for (int i = 0; i < N_WORKERS; i++)
        for (int r = 0; r < 2; r++) {
            char what[160];
            snprintf(what, sizeof what, "%s worker %d round %d", rel, i, r);
            expect_same(&ref[w[i].prompt], &w[i].res[r], nv, what);
            free(w[i].res[r].logits);
        }
    printf("  %-28s %d workers x 2 rounds = single-threaded run; \"%s\" -> \"%.40s\"\n", rel,
           N_WORKERS, prompts[0], ref[0].text);
    for (int p = 0; p < N_PROMPTS; p++) free(ref[p].logits);
    free(w);
    tf_model_close(m);
}

static void test_llama_q8_0(void **st)
{
    (void)st;
    run_model("models/tiny-llama-q8_0.gguf");
}

static void test_qwen2_f16(void **st)
{
    (void)st;
    run_model("models/tiny-qwen2-f16.gguf");
}

static void test_moe_q8_0(void **st)
{
    (void)st;
    run_model("models/tiny-moe-q8_0.gguf");
}

/* ---- thread counts against batch sizes --------------------------------
 * The CPU backend runs small batches (up to TF_CPU_PRIV_MAX tokens, fewer
 * than the threads) differently: every thread computes the norm before a
 * matmul and quantizes the rows itself, and the residual ADD or SWIGLU
 * after it is done by the thread that computed those rows.  Batches of
 * 1..5 tokens through 1..5 threads must all give the single-threaded
 * logits, every row, bit for bit. */

#define N_CHUNKS 8
static const int chunk_sizes[N_CHUNKS] = {1, 2, 3, 4, 5, 1, 3, 2}; /* 21 tokens */

/* Logits of every row of every chunk, n_vocab floats each, into out. */
static void eval_chunks(tf_model *m, int n_threads, float *out)
{
    int32_t nv = tf_n_vocab(m);
    tf_context_params cp = tf_context_default_params();
    cp.n_ctx = 64;
    cp.n_batch = 8;
    cp.n_threads = n_threads;
    tf_context *c = NULL;
    assert_int_equal(tf_context_new(m, &cp, &c), TF_OK);
    tf_token toks[8];
    for (int k = 0, pos = 0; k < N_CHUNKS; k++) {
        for (int t = 0; t < chunk_sizes[k]; t++) toks[t] = (tf_token)((pos + t) * 37 % nv);
        assert_int_equal(tf_eval(c, toks, (size_t)chunk_sizes[k], true), TF_OK);
        for (int t = 0; t < chunk_sizes[k]; t++, pos++) {
            const float *lg;
            assert_int_equal(tf_logits(c, t, &lg), TF_OK);
            memcpy(out + (size_t)pos * (size_t)nv, lg, (size_t)nv * sizeof(float));
        }
    }
    tf_context_free(c);
}

static void thread_counts(const char *rel)
{
    tf_model *m = NULL;
    const char *path = rel[0] == '/' ? rel : tu_shared(rel);
    if (tf_model_open(path, NULL, &m) != TF_OK) {
        fprintf(stderr, "%s: %s\n", path, tf_last_error());
        fail();
    }
    size_t n = (size_t)21 * (size_t)tf_n_vocab(m);
    float *ref = malloc(n * sizeof(float)), *got = malloc(n * sizeof(float));
    assert_non_null(ref);
    assert_non_null(got);
    eval_chunks(m, 1, ref);
    for (int nt = 2; nt <= 5; nt++) {
        eval_chunks(m, nt, got);
        size_t i = 0;
        while (i < n && memcmp(&got[i], &ref[i], sizeof(float)) == 0) i++;
        if (i < n)
            fprintf(stderr, "%s, %d threads: logit %zu (token %zu) is %.9g, single-threaded %.9g\n", rel, nt,
                    i, i / (size_t)tf_n_vocab(m), got[i], ref[i]);
        assert_true(i == n);
    }
    printf("  %-28s batches of 1-5 tokens, 2-5 threads = single-threaded run\n", rel);
    free(ref);
    free(got);
    tf_model_close(m);
}

static void test_thread_counts(void **st)
{
    (void)st;
    thread_counts("models/tiny-llama-q4_0.gguf");   /* packed products */
    thread_counts("models/tiny-llama-q5_k.gguf");   /* row kernels */
    thread_counts("models/tiny-qwen2-f16.gguf");    /* biases, F16 activations */
    thread_counts("models/tiny-moe-q8_0.gguf");     /* experts after the norm */
}

/* ---- matmuls of one input with different weight types ------------------
 * Q/K/V and gate/up run as one step; when their types differ (here attn_v
 * and ffn_up), each type's products must read activations in its own
 * format.  Packed products (one format per type, kernels/pack.h) are
 * checked against the row kernels (TINFER_PACK=0), and the thread counts
 * against the single-threaded run, on generated models.  (A mutation
 * that gave Q4_0 and Q8_0 one shared format: max |diff| 2.83.) */

static void mixed_model(uint32_t t1, uint32_t t2, int n_embd, const char *path)
{
    mm_spec sp = {.arch = "llama", .n_embd = n_embd, .n_layer = 2, .n_head = 4, .n_head_kv = 2,
                  .n_vocab = 96, .n_ctx = 64, .n_ff = 2 * n_embd, .wtype = t1, .mixed = true,
                  .wtype2 = t2, .seed = 5, .weights_norm = -1};
    mm_model *mm = mm_build(&sp);
    assert_true(mm_save(mm, path));
    mm_free(mm);
}

static void packed_vs_rows(const char *path, const char *what)
{
    float *lg[2];
    int32_t nv = 0;
    for (int pass = 0; pass < 2; pass++) {
        if (pass == 1)
            setenv("TINFER_PACK", "0", 1); /* read when a model is first packed */
        tf_model *m = NULL;
        assert_int_equal(tf_model_open(path, NULL, &m), TF_OK);
        nv = tf_n_vocab(m);
        lg[pass] = malloc((size_t)21 * (size_t)nv * sizeof(float));
        assert_non_null(lg[pass]);
        eval_chunks(m, 2, lg[pass]);
        tf_model_close(m);
        unsetenv("TINFER_PACK");
    }
    double worst = 0, scale = 0;
    for (size_t i = 0; i < (size_t)21 * (size_t)nv; i++) {
        worst = fmax(worst, fabs((double)lg[0][i] - lg[1][i]));
        scale = fmax(scale, fabs((double)lg[1][i]));
    }
    printf("  %-28s packed vs row kernels: max |diff| %.3g (logits up to %.3g)\n", what, worst, scale);
    assert_true(scale > 0.1);
    /* The levels round floats differently (kernels.h), and on these random
     * models a last-bit change that flips one activation's int8 rounding
     * moves logits by up to ~0.5% of their range (measured 1.1e-2 of
     * 2.35); activations in another type's format are off by ~100%. */
    assert_true(worst <= 0.03 * scale);
    free(lg[0]);
    free(lg[1]);
}

static void test_mixed_types(void **st)
{
    (void)st;
    char path[] = "/tmp/tinfer-mixed-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    close(fd);
    static const struct { uint32_t t1, t2; int n_embd; const char *what; } cases[] = {
        {TF_TYPE_Q4_0, TF_TYPE_Q8_0, 64, "Q4_0 with Q8_0 v/up"},
        {TF_TYPE_Q8_0, TF_TYPE_Q4_0, 64, "Q8_0 with Q4_0 v/up"},
        {TF_TYPE_Q4_K, TF_TYPE_Q6_K, 256, "Q4_K with Q6_K v/up"},
        {TF_TYPE_Q4_0, TF_TYPE_Q4_K, 256, "Q4_0 with Q4_K v/up"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        mixed_model(cases[i].t1, cases[i].t2, cases[i].n_embd, path);
        packed_vs_rows(path, cases[i].what);
        thread_counts(path);
    }
    unlink(path);
}

/* ---- which products go to OpenBLAS (lib/blas.h) ------------------------
 * Unset TINFER_BLAS means: only float types the kernel level computes with
 * the portable GEMM (on the "ref" level: all of them; where a SIMD level
 * has float kernels: none).  0 turns it off, N > 0 sends every float matrix
 * from N tokens.  The backend's description says which. */

static void expect_blas(const char *rel, const char *kernels, const char *blas, const char *want,
                        char *desc, size_t len)
{
    if (kernels) setenv("TINFER_KERNELS", kernels, 1);
    else unsetenv("TINFER_KERNELS");
    if (blas) setenv("TINFER_BLAS", blas, 1);
    else unsetenv("TINFER_BLAS");
    tf_model *m = NULL;
    assert_int_equal(tf_model_open(tu_shared(rel), NULL, &m), TF_OK);
    tf_context_params cp = tf_context_default_params();
    cp.n_ctx = 32;
    cp.n_batch = 16;
    cp.n_threads = 2;
    tf_context *c = NULL;
    assert_int_equal(tf_context_new(m, &cp, &c), TF_OK);
    const char *d = tf_context_backend(c);
    printf("  %-26s TINFER_KERNELS=%-4s TINFER_BLAS=%-4s %s\n", rel + 7, kernels ? kernels : "-",
           blas ? blas : "-", d);
    snprintf(desc, len, "%s", d);
    if (want && !strstr(d, want)) {
        fprintf(stderr, "expected \"%s\" in the description\n", want);
        fail();
    }
    tf_context_free(c);
    tf_model_close(m);
}

static void test_blas_policy(void **st)
{
    (void)st;
    const char *ek = getenv("TINFER_KERNELS"), *eb = getenv("TINFER_BLAS");
    char *saved_k = ek ? strdup(ek) : NULL, *saved_b = eb ? strdup(eb) : NULL;
    void *h = dlopen("libopenblas.so.0", RTLD_NOW | RTLD_LOCAL);
    const char *portable = h ? "OpenBLAS for float types without a SIMD GEMM" : "OpenBLAS off";
    const char *forced = h ? "OpenBLAS for float matrices from 8 tokens" : "OpenBLAS off";
    if (!h) printf("  libopenblas.so.0 missing: every context must say \"OpenBLAS off\"\n");
    else dlclose(h);
    const char *f16 = "models/tiny-llama-f16.gguf", *q8 = "models/tiny-llama-q8_0.gguf";
    char d[256];
    expect_blas(f16, "ref", NULL, portable, d, sizeof d);
    expect_blas(f16, "ref", "auto", portable, d, sizeof d);
    expect_blas(f16, "ref", "0", "OpenBLAS off", d, sizeof d);
    expect_blas(f16, "ref", "8", forced, d, sizeof d);
    expect_blas(f16, "ref", "17", "OpenBLAS off", d, sizeof d); /* batches stay under 17 */
    expect_blas(q8, "ref", NULL, "OpenBLAS off", d, sizeof d);  /* no float matrices */
    expect_blas(q8, "ref", "8", "OpenBLAS off", d, sizeof d);
    /* The x86 SIMD levels have F32, F16 and BF16 GEMMs (NEON only F32). */
    expect_blas(f16, NULL, NULL, NULL, d, sizeof d);
    if (strstr(d, "(avx2 kernels") || strstr(d, "(avx512 kernels"))
        assert_non_null(strstr(d, "OpenBLAS off"));
    if (saved_k) setenv("TINFER_KERNELS", saved_k, 1);
    else unsetenv("TINFER_KERNELS");
    if (saved_b) setenv("TINFER_BLAS", saved_b, 1);
    else unsetenv("TINFER_BLAS");
    free(saved_k);
    free(saved_b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_llama_q8_0),
        cmocka_unit_test(test_qwen2_f16),
        cmocka_unit_test(test_moe_q8_0),
        cmocka_unit_test(test_thread_counts),
        cmocka_unit_test(test_mixed_types),
        cmocka_unit_test(test_blas_policy),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
