/* test_api.c - the context API's contract: errors are statuses with
 * messages, never crashes; the KV cache bound; F32 KV on request; reset. */
#include <math.h>

#include "testutil.h"
#include "tinfer.h"

static tf_model *open_tiny(const char *rel)
{
    tf_model *m = NULL;
    assert_int_equal(tf_model_open(tu_shared(rel), NULL, &m), TF_OK);
    return m;
}

static void test_context_errors(void **state)
{
    (void)state;
    tf_model *m = open_tiny("models/tiny-llama-q8_0.gguf");
    tf_context *c = NULL;
    tf_context_params p = tf_context_default_params();
    p.n_ctx = 100000; /* the model was trained with 512 */
    assert_int_equal(tf_context_new(m, &p, &c), TF_ERR_INVALID_ARG);
    assert_null(c);
    assert_non_null(strstr(tf_last_error(), "512"));
    p.n_ctx = 8;
    p.n_threads = 2;
    assert_int_equal(tf_context_new(m, &p, &c), TF_OK);
    assert_int_equal(tf_context_n_ctx(c), 8);
    const float *l;
    assert_int_equal(tf_logits(c, -1, &l), TF_ERR_STATE);
    tf_token bad = 4096, toks[9] = {1, 10, 20, 30, 40, 50, 60, 70, 80};
    assert_int_equal(tf_eval(c, &bad, 1, false), TF_ERR_INVALID_ARG);
    assert_non_null(strstr(tf_context_error(c), "4096"));
    assert_int_equal(tf_eval(c, toks, 0, false), TF_ERR_INVALID_ARG);
    assert_int_equal(tf_eval(c, toks, 6, false), TF_OK);
    assert_int_equal(tf_context_n_past(c), 6);
    assert_int_equal(tf_logits(c, 0, &l), TF_OK);
    assert_int_equal(tf_logits(c, 1, &l), TF_ERR_INVALID_ARG); /* only the last row kept */
    assert_int_equal(tf_eval(c, toks, 3, false), TF_ERR_CONTEXT_FULL);
    assert_non_null(strstr(tf_context_error(c), "context full"));
    assert_int_equal(tf_context_n_past(c), 6); /* a refused batch changes nothing */
    assert_int_equal(tf_eval(c, toks, 2, false), TF_OK);
    assert_int_equal(tf_context_reset(c), TF_OK);
    assert_int_equal(tf_context_n_past(c), 0);
    assert_int_equal(tf_logits(c, -1, &l), TF_ERR_STATE);
    tf_context_free(c);
    tf_context_free(NULL);
    tf_model_close(m);
    tf_model_close(NULL);
}

/* Reset gives the same logits as a fresh context; F32 KV is close to F16. */
static void test_reset_and_kv_f32(void **state)
{
    (void)state;
    tf_model *m = open_tiny("models/tiny-qwen2-f16.gguf");
    tf_token toks[5] = {100, 200, 300, 400, 500};
    int nv = tf_n_vocab(m);
    float *first = malloc((size_t)nv * sizeof *first);
    assert_non_null(first);
    tf_context *c = NULL, *c32 = NULL;
    tf_context_params p = tf_context_default_params();
    p.n_threads = 1;
    assert_int_equal(tf_context_new(m, &p, &c), TF_OK);
    const float *l;
    assert_int_equal(tf_eval(c, toks, 5, false), TF_OK);
    assert_int_equal(tf_logits(c, -1, &l), TF_OK);
    memcpy(first, l, (size_t)nv * sizeof *first);
    assert_int_equal(tf_context_reset(c), TF_OK);
    assert_int_equal(tf_eval(c, toks, 5, false), TF_OK);
    assert_int_equal(tf_logits(c, -1, &l), TF_OK);
    assert_memory_equal(first, l, (size_t)nv * sizeof *first);
    p.kv_type = TF_KV_F32;
    assert_int_equal(tf_context_new(m, &p, &c32), TF_OK);
    assert_int_equal(tf_eval(c32, toks, 5, false), TF_OK);
    assert_int_equal(tf_logits(c32, -1, &l), TF_OK);
    double d = 0, n = 0;
    bool same = true;
    for (int i = 0; i < nv; i++) {
        d += (double)(l[i] - first[i]) * (l[i] - first[i]);
        n += (double)first[i] * first[i];
        same &= l[i] == first[i];
    }
    printf("F32 vs F16 KV cache: relative difference %.2e\n", sqrt(d / n));
    assert_true(sqrt(d / n) < 5e-3); /* same model, only the cache rounding differs */
    assert_false(same);               /* and the F32 cache really is a different path */
    tf_context_free(c);
    tf_context_free(c32);
    free(first);
    tf_model_close(m);
}

static void test_vocab_only(void **state)
{
    (void)state;
    tf_model *m = open_tiny("vocab/ggml-vocab-gpt-2.gguf");
    tf_context *c = NULL;
    assert_int_equal(tf_context_new(m, NULL, &c), TF_ERR_STATE);
    assert_null(c);
    assert_non_null(strstr(tf_last_error(), "vocab"));
    tf_model_close(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_context_errors),
        cmocka_unit_test(test_reset_and_kv_f32),
        cmocka_unit_test(test_vocab_only),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
