/* test_private.c - prompts are private: what a context or sampler saw is
 * zeroed when it is reset or freed.
 *
 * Reset: after tf_context_reset the logits are gone (tf_logits says
 * TF_ERR_STATE), no position is used, and every buffer a prompt passes
 * through - logits, the batch copy, each layer's K and V cache, the
 * activation arena, quantized activations, MoE rows and routes, attention
 * scratch - reads all zero (the test looks inside through the internal
 * headers); a prompt evaluated after the reset gives bit for bit the
 * logits a fresh context gives.
 *
 * Free: freed memory can't be read afterwards (that would be undefined),
 * so the test looks at it at the last moment it is ours: the allocator is
 * wrapped (allocwrap.h, LDFLAGS_test_private), the blocks above are
 * recorded with their sizes when tf_context_new allocates them, and
 * __wrap_free checks each is all zero when the library frees it.  The same
 * for every block of a sampler (its penalty window holds the prompt's
 * tokens), and for the scratch the tokenizer allocates and frees inside
 * each tokenize/detokenize call.  This runs against the optimised library, so a zeroing the
 * compiler dropped as a dead store before free would be caught.
 */
#include "testutil.h"
#include "allocwrap.h"
#include "tinfer.h"
#include "exec.h"
#include "backend_cpu.h"

static const char *const models[] = {"models/tiny-llama-q8_0.gguf", "models/tiny-moe-q4_0.gguf",
                                      "models/tiny-qwen2-f16.gguf"};

static tf_context *new_context(tf_model *m)
{
    tf_context_params cp = tf_context_default_params();
    cp.n_ctx = 64;
    cp.n_batch = 16;
    cp.n_threads = 2;
    tf_context *c = NULL;
    aw_record_start();
    assert_int_equal(tf_context_new(m, &cp, &c), TF_OK);
    aw_record_stop();
    return c;
}

/* Evaluate a prompt as a batch, then a few tokens one at a time. */
static void use(tf_context *c, const tf_token *toks, size_t n)
{
    assert_int_equal(tf_eval(c, toks, n, true), TF_OK);
    for (int i = 0; i < 4; i++) {
        tf_token t = toks[i];
        assert_int_equal(tf_eval(c, &t, 1, false), TF_OK);
    }
}

typedef struct priv_block {
    void *p;
    size_t n;
    char what[48];
} priv_block;

/* Every buffer of c that prompt data passes through, with its size as
 * allocated (recorded by the wrapper during tf_context_new). */
static int private_blocks(tf_context *c, priv_block *b, int cap)
{
    cpu_state *s = c->be_state;
    int n = 0;
#define ADD(ptr, name)                                                 \
    do {                                                               \
        assert_true(n < cap);                                          \
        b[n].p = (ptr);                                                \
        b[n].n = aw_size_of(ptr);                                      \
        snprintf(b[n].what, sizeof b[n].what, "%s", name);             \
        assert_true(b[n].n > 0);                                       \
        n++;                                                           \
    } while (0)
    ADD(c->logits, "logits");
    ADD(c->tokens, "tokens");
    ADD(s->arena, "arena");
    ADD(s->qbuf, "quantized activations");
    ADD(s->moe_buf, "MoE rows");
    ADD(s->moe_route, "MoE routes");
    ADD(s->scratch, "attention scratch");
    for (int il = 0; il < c->m->hp.n_layer; il++) {
        char name[48];
        snprintf(name, sizeof name, "K cache layer %d", il);
        ADD(s->k_cache[il], name);
        snprintf(name, sizeof name, "V cache layer %d", il);
        ADD(s->v_cache[il], name);
    }
#undef ADD
    return n;
}

static bool all_zero(const void *p, size_t n)
{
    const unsigned char *b = p;
    for (size_t i = 0; i < n; i++)
        if (b[i]) return false;
    return true;
}

static void test_reset_zeroes(void **st)
{
    (void)st;
    const tf_token prompt[8] = {1, 450, 1996, 3354, 1701, 2916, 432, 1204};
    const tf_token other[6] = {1, 903, 2501, 263, 931, 2892};
    for (size_t k = 0; k < sizeof models / sizeof models[0]; k++) {
        tf_model *m = NULL;
        assert_int_equal(tf_model_open(tu_shared(models[k]), NULL, &m), TF_OK);
        int32_t nv = tf_n_vocab(m);
        tf_context *fresh = new_context(m), *c = new_context(m);
        const float *lg;
        assert_int_equal(tf_eval(fresh, other, 6, true), TF_OK);
        float *want = malloc((size_t)6 * nv * sizeof *want);
        assert_non_null(want);
        for (int r = 0; r < 6; r++) {
            assert_int_equal(tf_logits(fresh, r, &lg), TF_OK);
            memcpy(want + (size_t)r * nv, lg, (size_t)nv * sizeof *lg);
        }

        use(c, prompt, 8);
        assert_int_equal(tf_logits(c, -1, &lg), TF_OK);
        assert_int_equal(tf_context_n_past(c), 12);
        assert_int_equal(tf_context_reset(c), TF_OK);
        assert_int_equal(tf_logits(c, -1, &lg), TF_ERR_STATE);
        assert_int_equal(tf_logits(c, 0, &lg), TF_ERR_STATE);
        assert_int_equal(tf_context_n_past(c), 0);
        priv_block b[2 * 512 + 8];
        int nb = private_blocks(c, b, (int)(sizeof b / sizeof b[0]));
        for (int i = 0; i < nb; i++)
            if (!all_zero(b[i].p, b[i].n)) {
                fprintf(stderr, "%s: %s not zeroed by tf_context_reset\n", models[k], b[i].what);
                fail();
            }

        assert_int_equal(tf_eval(c, other, 6, true), TF_OK); /* as good as new */
        for (int r = 0; r < 6; r++) {
            assert_int_equal(tf_logits(c, r, &lg), TF_OK);
            assert_memory_equal(lg, want + (size_t)r * nv, (size_t)nv * sizeof *lg);
        }
        printf("  %-28s reset zeroes %d buffers; the next prompt's logits = a fresh context's\n",
               models[k] + 7, nb);
        free(want);
        tf_context_free(fresh);
        tf_context_free(c);
        tf_model_close(m);
    }
}

static void test_free_zeroes(void **st)
{
    (void)st;
    const tf_token prompt[8] = {1, 450, 1996, 3354, 1701, 2916, 432, 1204};
    for (size_t k = 0; k < sizeof models / sizeof models[0]; k++) {
        tf_model *m = NULL;
        assert_int_equal(tf_model_open(tu_shared(models[k]), NULL, &m), TF_OK);
        tf_context *c = new_context(m);
        use(c, prompt, 8);
        priv_block b[2 * 512 + 8];
        int nb = private_blocks(c, b, (int)(sizeof b / sizeof b[0]));
        int dirty_before = 0;
        aw_watch_clear();
        for (int i = 0; i < nb; i++) {
            dirty_before += !all_zero(b[i].p, b[i].n);
            aw_watch(b[i].p, b[i].n);
        }
        assert_true(dirty_before > 0); /* the prompt left traces to erase */
        tf_context_free(c);
        int hits = atomic_load(&aw_watch_hits), dirty = atomic_load(&aw_watch_dirty);
        aw_watch_clear();
        if (dirty) fprintf(stderr, "%s: %s\n", models[k], aw_dirty_what);
        assert_int_equal(dirty, 0);
        assert_int_equal(hits, nb);
        printf("  %-28s free zeroes all %d buffers (%d held prompt data)\n", models[k] + 7, nb,
               dirty_before);
        tf_model_close(m);
    }
}

static void test_sampler_free_zeroes(void **st)
{
    (void)st;
    const int32_t nv = 4096;
    float *logits = malloc(nv * sizeof *logits);
    assert_non_null(logits);
    uint64_t seed = 7;
    for (int i = 0; i < nv; i++) logits[i] = 3 * tu_randf(&seed);
    tf_sampler_params sp = tf_sampler_default_params();
    sp.repeat_penalty = 1.2f;
    tf_sampler *s = NULL;
    aw_record_start();
    assert_int_equal(tf_sampler_new(&sp, nv, &s), TF_OK);
    aw_record_stop();
    int n_rec = atomic_load(&aw_n_rec);
    assert_true(n_rec > 0 && n_rec < AW_MAX_REC);
    for (int i = 0; i < 40; i++) {
        tf_token t;
        assert_int_equal(tf_sampler_accept(s, 100 + i), TF_OK);
        assert_int_equal(tf_sampler_sample(s, logits, &t), TF_OK);
    }
    aw_watch_clear();
    for (int i = 0; i < n_rec; i++) aw_watch(aw_rec[i].p, aw_rec[i].n);
    tf_sampler_free(s);
    int hits = atomic_load(&aw_watch_hits), dirty = atomic_load(&aw_watch_dirty);
    aw_watch_clear();
    if (dirty) fprintf(stderr, "sampler: %s\n", aw_dirty_what);
    assert_int_equal(dirty, 0);
    assert_int_equal(hits, n_rec);
    printf("  sampler: all %d blocks zero when freed\n", n_rec);
    free(logits);
}

/* Tokenizing and detokenizing free what they allocated for themselves
 * (normalised text, code points, symbols, merges, spans, ids, decoded text,
 * the stream's joined bytes) only after zeroing it, and never move such a
 * block with realloc.  A long text makes every buffer grow several times. */
static void test_tokenizer_scratch_zeroed(void **st)
{
    (void)st;
    static const char *const files[] = {"models/tiny-llama-q8_0.gguf", "models/tiny-qwen2-q8_0.gguf",
                                        "vocab/ggml-vocab-gpt-2.gguf"};
    char text[6000];
    size_t len = 0;
    while (len + 60 < sizeof text)
        len += (size_t)snprintf(text + len, sizeof text - len,
                                "My secret is \xc3\xa9t\xc3\xa9 %zu,  tabs\tand <s> words\n", len);
    static tf_token ids[16384];
    static char out[32768];
    for (size_t k = 0; k < sizeof files / sizeof files[0]; k++) {
        tf_model *m = NULL;
        tf_model_params mp = tf_model_default_params();
        mp.vocab_only = true;
        assert_int_equal(tf_model_open(tu_shared(files[k]), &mp, &m), TF_OK);
        tf_detok_stream ds = {{0}, 0};
        size_t n = 0, tn = 0;
        aw_record_start();
        atomic_store(&aw_scratch_hits, 0);
        atomic_store(&aw_scratch_dirty, 0);
        atomic_store(&aw_scratch_zero, true);
        tf_status a = tf_tokenize(m, text, len, TF_TOKENIZE_SPECIAL, ids, 16384, &n);
        tf_status b = tf_detokenize(m, ids, n, 0, out, sizeof out, &tn);
        tf_status c = TF_OK;
        for (size_t i = 0; i < n && c == TF_OK; i++)
            c = tf_detok_stream_push(m, &ds, ids[i], out, sizeof out, &tn);
        atomic_store(&aw_scratch_zero, false);
        aw_record_stop();
        assert_int_equal(a, TF_OK);
        assert_int_equal(b, TF_OK);
        assert_int_equal(c, TF_OK);
        int hits = atomic_load(&aw_scratch_hits), dirty = atomic_load(&aw_scratch_dirty);
        if (dirty) fprintf(stderr, "%s: %s\n", files[k], aw_dirty_what);
        assert_int_equal(dirty, 0);
        assert_true(hits > 5); /* the calls did allocate scratch */
        printf("  %-28s tokenize/detokenize: %d scratch blocks zero when freed (%zu tokens)\n",
               files[k], hits, n);
        tf_model_close(m);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_reset_zeroes),
        cmocka_unit_test(test_free_zeroes),
        cmocka_unit_test(test_sampler_free_zeroes),
        cmocka_unit_test(test_tokenizer_scratch_zeroed),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
