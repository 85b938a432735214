/* test_oom.c - every allocation failure is a clean error.
 *
 * Linked with the allocator wrapped (allocwrap.h; LDFLAGS_test_oom in the
 * Makefile), so the calls inside libtinfer.a are seen.  For each operation
 * a first run counts its allocation calls; then for every n the operation
 * runs again with call n failing.  Each run must either succeed anyway or
 * return TF_ERR_NOMEM with no object and a message about memory - and in
 * both cases leave exactly as many heap blocks live as before (no leak on
 * any error path).  Operations: tf_model_open (SentencePiece and BPE
 * models, a MoE model, vocabulary-only files: the tokenizer load),
 * tf_context_new (with a 2-thread pool), tf_sampler_new, tf_tokenize,
 * tf_detokenize, tf_chat_format; tf_eval and tf_sampler_sample must not
 * allocate at all.  Also run by `make asan` (LeakSanitizer agrees).
 */
#include "testutil.h"
#include "allocwrap.h"
#include "tinfer.h"

typedef struct op {
    const char *what;
    /* Runs once; *obj gets what must be released (NULL when nothing). */
    tf_status (*run)(const struct op *op, void **obj);
    void (*release)(void *obj);
    const char *path;
    tf_model *m;
    bool vocab_only;
} op;

/* Which n to try: all of them for small counts, else every call up to
 * 400 and a spread of about 600 more. */
static long next_n(long n, long total)
{
    if (total <= 1000 || n < 400) return n + 1;
    long step = (total - 400) / 600;
    return n + (step > 1 ? step : 1);
}

/* Returns the number of defects found (each is printed). */
static long sweep(const op *o)
{
    void *obj = NULL;
    long live0 = atomic_load(&aw_live);
    aw_arm(0);
    tf_status st = o->run(o, &obj);
    long total = atomic_load(&aw_calls);
    aw_disarm();
    if (st != TF_OK) fprintf(stderr, "%s: %s\n", o->what, tf_last_error());
    assert_int_equal(st, TF_OK);
    if (o->release) o->release(obj);
    assert_int_equal(atomic_load(&aw_live), live0);
    long tried = 0, nomem = 0, survived = 0, bad = 0;
    for (long n = 1; n <= total; n = next_n(n, total), tried++) {
        obj = NULL;
        aw_arm(n);
        st = o->run(o, &obj);
        bool hit = atomic_load(&aw_failed);
        aw_disarm();
        assert_true(hit); /* same calls in the same order as the counting run */
        if (st == TF_OK) {
            survived++;
            if (o->release) o->release(obj);
        } else {
            const char *msg = tf_last_error();
            if (st != TF_ERR_NOMEM || obj || !strstr(msg, "memory")) {
                fprintf(stderr, "%s: allocation %ld of %ld failed -> status '%s', message '%s'%s\n",
                        o->what, n, total, tf_status_str(st), msg, obj ? ", object returned" : "");
                bad++;
            }
            nomem++;
        }
        long live = atomic_load(&aw_live);
        if (live != live0) {
            fprintf(stderr, "%s: allocation %ld of %ld failed -> %ld block(s) leaked\n", o->what, n,
                    total, live - live0);
            bad++;
            live0 = live; /* report each leak once */
        }
    }
    printf("  %-34s %5ld allocations; %4ld failed one at a time: %ld out of memory, %ld recovered\n",
           o->what, total, tried, nomem, survived);
    return bad;
}

/* ---- operations ------------------------------------------------------ */

static tf_status run_open(const op *o, void **obj)
{
    tf_model_params p = tf_model_default_params();
    p.vocab_only = o->vocab_only;
    tf_model *m = (tf_model *)&m;
    tf_status st = tf_model_open(o->path, &p, &m);
    *obj = m;
    return st;
}
static void release_model(void *m) { tf_model_close(m); }

static tf_status run_context(const op *o, void **obj)
{
    tf_context_params cp = tf_context_default_params();
    cp.n_ctx = 64;
    cp.n_batch = 16;
    cp.n_threads = 2;
    tf_context *c = (tf_context *)&c;
    tf_status st = tf_context_new(o->m, &cp, &c);
    *obj = c;
    return st;
}
static void release_context(void *c) { tf_context_free(c); }

/* A model's first CPU context also makes the packed weight copies (model-
 * owned, kept until the model closes; a copy that cannot be allocated is
 * skipped): open the model inside the sweep so those allocations fail too. */
static tf_model *g_fresh;
static tf_status run_fresh_context(const op *o, void **obj)
{
    op inner = *o;
    *obj = NULL;
    tf_status st = tf_model_open(o->path, NULL, &inner.m);
    if (st != TF_OK) return st;
    st = run_context(&inner, obj);
    if (st != TF_OK) {
        tf_model_close(inner.m);
        return st;
    }
    g_fresh = inner.m;
    return TF_OK;
}
static void release_fresh(void *c)
{
    tf_context_free(c);
    tf_model_close(g_fresh);
    g_fresh = NULL;
}

static tf_status run_sampler(const op *o, void **obj)
{
    tf_sampler_params sp = tf_sampler_default_params();
    sp.repeat_penalty = 1.1f;
    tf_sampler *s = (tf_sampler *)&s;
    tf_status st = tf_sampler_new(&sp, tf_n_vocab(o->m), &s);
    *obj = s;
    return st;
}
static void release_sampler(void *s) { tf_sampler_free(s); }

static const char text[] =
    "Hello world! <|im_start|>user\nH\xc3\xa9llo, 1234 \xe4\xb8\x96\xe7\x95\x8c  tabs\tand "
    "newlines\n\n\xff\xfe the end <s></s>";

static tf_status run_tokenize(const op *o, void **obj)
{
    *obj = NULL;
    tf_token ids[256];
    size_t n;
    tf_status st = tf_tokenize(o->m, text, sizeof text - 1, TF_TOKENIZE_SPECIAL, ids, 256, &n);
    if (st == TF_OK) st = tf_tokenize(o->m, text, sizeof text - 1, 0, ids, 256, &n);
    return st;
}

static tf_token det_ids[256]; /* the text's ids, made before the sweep */
static size_t det_n;

static tf_status run_detokenize(const op *o, void **obj)
{
    *obj = NULL;
    size_t tn;
    char out[1024];
    tf_status st = tf_detokenize(o->m, det_ids, det_n, TF_TOKENIZE_SPECIAL, out, sizeof out, &tn);
    if (st == TF_OK) st = tf_detokenize(o->m, det_ids, det_n, 0, out, sizeof out, &tn);
    return st;
}

static tf_status run_chat(const op *o, void **obj)
{
    *obj = NULL;
    char out[1024];
    size_t n;
    tf_status st = tf_chat_format(o->m, "Be brief.", "Hi", out, sizeof out, &n);
    return st == TF_ERR_UNSUPPORTED ? TF_OK : st;
}

/* ---- tests ----------------------------------------------------------- */

static const char *const model_files[] = {"models/tiny-llama-q8_0.gguf", "models/tiny-qwen2-q8_0.gguf",
                                          "models/tiny-moe-q4_0.gguf"};

static void test_model_open(void **st)
{
    (void)st;
    long bad = 0;
    for (size_t i = 0; i < sizeof model_files / sizeof model_files[0]; i++) {
        op o = {model_files[i] + 7, run_open, release_model, tu_shared(model_files[i]), NULL, false};
        bad += sweep(&o);
    }
    assert_int_equal(bad, 0); /* each defect is listed above */
}

static void test_vocab_open(void **st)
{
    (void)st;
    static const char *const vocabs[] = {"vocab/ggml-vocab-llama-spm.gguf",
                                         "vocab/ggml-vocab-gpt-2.gguf"};
    long bad = 0;
    for (size_t i = 0; i < sizeof vocabs / sizeof vocabs[0]; i++) {
        op o = {vocabs[i] + 6, run_open, release_model, tu_shared(vocabs[i]), NULL, true};
        bad += sweep(&o);
    }
    assert_int_equal(bad, 0);
}

static void test_context_and_friends(void **st)
{
    (void)st;
    long bad = 0;
    for (size_t i = 0; i < sizeof model_files / sizeof model_files[0]; i++) {
        tf_model *m = NULL;
        assert_int_equal(tf_model_open(tu_shared(model_files[i]), NULL, &m), TF_OK);
        assert_int_equal(tf_tokenize(m, text, sizeof text - 1, TF_TOKENIZE_SPECIAL, det_ids, 256,
                                     &det_n), TF_OK);
        char what[96];
        const char *name = model_files[i] + 7;
        /* The model is packed by its first context (below, in the sweep of
         * a fresh model); later contexts allocate only their own buffers. */
        tf_context *first = NULL;
        assert_int_equal(run_context(&(op){"first", NULL, NULL, NULL, m, false}, (void **)&first), TF_OK);
        tf_context_free(first);
        op ops[] = {
            {"open+context_new", run_fresh_context, release_fresh, tu_shared(model_files[i]), NULL, false},
            {"context_new", run_context, release_context, NULL, m, false},
            {"sampler_new", run_sampler, release_sampler, NULL, m, false},
            {"tokenize", run_tokenize, NULL, NULL, m, false},
            {"detokenize", run_detokenize, NULL, NULL, m, false},
            {"chat_format", run_chat, NULL, NULL, m, false},
        };
        for (size_t k = 0; k < sizeof ops / sizeof ops[0]; k++) {
            snprintf(what, sizeof what, "%s %s", ops[k].what, name);
            ops[k].what = what;
            bad += sweep(&ops[k]);
        }
        tf_model_close(m);
    }
    assert_int_equal(bad, 0);
}

/* Evaluating and sampling allocate nothing: prompt batch, one token at a
 * time, reset and again. */
static void test_eval_allocates_nothing(void **st)
{
    (void)st;
    for (size_t i = 0; i < sizeof model_files / sizeof model_files[0]; i++) {
        tf_model *m = NULL;
        tf_context *c = NULL;
        tf_sampler *s = NULL;
        assert_int_equal(tf_model_open(tu_shared(model_files[i]), NULL, &m), TF_OK);
        tf_context_params cp = tf_context_default_params();
        cp.n_ctx = 64;
        cp.n_batch = 16;
        cp.n_threads = 2;
        assert_int_equal(tf_context_new(m, &cp, &c), TF_OK);
        tf_sampler_params sp = tf_sampler_default_params();
        assert_int_equal(tf_sampler_new(&sp, tf_n_vocab(m), &s), TF_OK);
        tf_token toks[16] = {1, 50, 60, 70, 80, 90, 100, 110};
        /* A first run: the pool's workers free their start-up argument when
         * they first run, which may be after tf_context_new returned. */
        assert_int_equal(tf_eval(c, toks, 8, false), TF_OK);
        assert_int_equal(tf_context_reset(c), TF_OK);
        long live0 = atomic_load(&aw_live);
        aw_arm(1); /* the first allocation would fail */
        for (int round = 0; round < 2; round++) {
            assert_int_equal(tf_eval(c, toks, 8, round == 1), TF_OK);
            for (int k = 0; k < 6; k++) {
                const float *lg;
                tf_token t;
                assert_int_equal(tf_logits(c, -1, &lg), TF_OK);
                assert_int_equal(tf_sampler_sample(s, lg, &t), TF_OK);
                assert_int_equal(tf_sampler_accept(s, t), TF_OK);
                assert_int_equal(tf_eval(c, &t, 1, false), TF_OK);
            }
            assert_int_equal(tf_context_reset(c), TF_OK);
            tf_sampler_reset(s);
        }
        long calls = atomic_load(&aw_calls);
        aw_disarm();
        if (calls) fprintf(stderr, "%s: %ld allocation calls while evaluating\n", model_files[i], calls);
        assert_int_equal(calls, 0);
        assert_int_equal(atomic_load(&aw_live), live0);
        printf("  %-34s evaluates and samples with no allocation\n", model_files[i] + 7);
        tf_sampler_free(s);
        tf_context_free(c);
        tf_model_close(m);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_model_open),
        cmocka_unit_test(test_vocab_open),
        cmocka_unit_test(test_context_and_friends),
        cmocka_unit_test(test_eval_allocates_nothing),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
