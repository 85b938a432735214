/* test_api.c - the context API's contract: errors are statuses with
 * messages, never crashes; the KV cache bound; F32 KV on request; reset;
 * f16_as_bf16 (the converted weights, looked at through model.h). */
#include <math.h>

#include "testutil.h"
#include "tinfer.h"
#include "model.h"

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

/* F16 bits -> float, by the format's definition (no library conversion). */
static float half_value(uint16_t h)
{
    int e = (h >> 10) & 31, f = h & 1023;
    float v = e == 0 ? ldexpf((float)f, -24) : ldexpf((float)(1024 + f), e - 25);
    return (h & 0x8000) ? -v : v;
}

/* float -> BF16 bits, rounded to nearest, ties to even (finite values). */
static uint16_t bf16_rne(float x)
{
    uint32_t u;
    memcpy(&u, &x, 4);
    return (uint16_t)((u + 0x7fffu + ((u >> 16) & 1u)) >> 16);
}

/* f16_as_bf16: every F16 matrix the forward pass multiplies by holds the
 * rounding of each value to BF16; the embedding (tied to the output here) stays F16;
 * tensor info still tells the file's type; the option is refused for
 * Vulkan; without it the weights stay F16. */
static void test_f16_as_bf16(void **state)
{
    (void)state;
    tf_model_params p = tf_model_default_params();
    p.f16_as_bf16 = true;
    tf_model *m = NULL, *plain = open_tiny("models/tiny-llama-f16.gguf");
    assert_int_equal(tf_model_open(tu_shared("models/tiny-llama-f16.gguf"), &p, &m), TF_OK);
    assert_int_equal(m->n_weights, plain->n_weights);
    size_t converted = 0;
    for (size_t i = 0; i < m->n_weights; i++) {
        const tf_weight *w = &m->weights[i], *o = &plain->weights[i];
        tf_tensor_info ti;
        assert_int_equal(tf_model_tensor(m, i, &ti), TF_OK);
        assert_int_equal(ti.type, o->type);
        if (o->type != TF_TYPE_F16 || o->ne[1] == 1 || !strcmp(o->name, "token_embd.weight")) {
            assert_int_equal(w->type, o->type);
            assert_memory_equal(w->data, o->data, o->row_bytes * (size_t)(o->ne[1] * o->ne[2] * o->ne[3]));
            continue;
        }
        assert_int_equal(w->type, TF_TYPE_BF16);
        assert_int_equal(w->row_bytes, o->row_bytes);
        size_t n = (size_t)(o->ne[0] * o->ne[1] * o->ne[2] * o->ne[3]);
        const uint16_t *h = o->data, *b = w->data;
        for (size_t j = 0; j < n; j++)
            if (b[j] != bf16_rne(half_value(h[j]))) fail_msg("%s[%zu]: %04x from %04x", o->name, j, b[j], h[j]);
        converted++;
    }
    assert_int_equal(converted, 14); /* 2 layers x 7 matrices; the output is tied to the embedding */
    tf_model_close(m);
    tf_model_close(plain);
    p.backend = TF_BACKEND_VULKAN;
    m = NULL;
    assert_int_equal(tf_model_open(tu_shared("models/tiny-llama-f16.gguf"), &p, &m), TF_ERR_INVALID_ARG);
    assert_null(m);
    assert_non_null(strstr(tf_last_error(), "f16_as_bf16"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_context_errors),
        cmocka_unit_test(test_reset_and_kv_f32),
        cmocka_unit_test(test_vocab_only),
        cmocka_unit_test(test_f16_as_bf16),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
