/* test_kernels_files.c - the kernels against GGUF files written by the
 * reference engine: tiny-llama-<type>.gguf holds the weights of
 * tiny-llama-f32.gguf quantized by llama.cpp's own tools.
 *
 *  - dequantizing every matrix must land close to the original floats
 *    (relative RMS error under a per-type bound that a correct layout
 *    meets and a wrong bit order cannot: swapped nibbles give ~1.4);
 *  - for the types whose reference quantizer is a plain deterministic
 *    rounding (F16, Q8_0, Q4_0, Q4_1, Q5_0, Q5_1, IQ4_NL) our quantizer
 *    must reproduce the file byte for byte;
 *  - for the K-quants our (simpler) quantizer must come within a stated
 *    factor of the reference's error on the same tensors.
 */
#include "testutil.h"
#include <math.h>
#include "kernels.h"
#include "gguf.h"

static tf_gguf *g_f32;

static tf_gguf *open_model(const char *name)
{
    char err[512];
    tf_gguf *g = NULL;
    if (tf_gguf_open_file(tu_shared(name), &g, err, sizeof err) != 0)
        fail_msg("cannot open %s: %s", name, err);
    return g;
}

static int setup(void **state)
{
    (void)state;
    g_f32 = open_model("models/tiny-llama-f32.gguf");
    tf_kernels_init(false);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    tf_gguf_close(g_f32);
    return 0;
}

static const tf_gguf_tensor *original_of(const tf_gguf_tensor *t)
{
    char name[TF_GGUF_MAX_NAME + 1];
    memcpy(name, t->name.ptr, t->name.len);
    name[t->name.len] = 0;
    const tf_gguf_tensor *o = tf_gguf_find_tensor(g_f32, name);
    if (!o)
        fail_msg("%s has no counterpart in the f32 model", name);
    assert_int_equal(o->type, TF_TYPE_F32);
    for (int d = 0; d < 4; d++)
        assert_int_equal(o->ne[d], t->ne[d]);
    return o;
}

typedef struct {
    double err2, ref2;   /* reference engine's quantization vs original */
    double our2;         /* our quantizer's, same tensors */
    int64_t bad_blocks;  /* blocks where our bytes differ from the file */
    int64_t blocks;
    int matrices;
} stats;

/* Compares one quantized matrix with its original, row by row. */
static void check_matrix(const tf_gguf_tensor *t, stats *st)
{
    const tf_gguf_tensor *o = original_of(t);
    const tf_type_kernels *k = tf_kernels_of(t->type);
    if (!k)
        fail_msg("no kernels for %s", tf_type_name(t->type));
    const tf_type_traits *tr = tf_type_traits_of(t->type);
    int64_t n = t->ne[0], rows = t->ne[1] * t->ne[2] * t->ne[3];
    size_t rs = tf_row_size(t->type, n);
    assert_true(rs > 0);
    assert_int_equal(t->size, rs * (uint64_t)rows);
    float *y = malloc(n * sizeof *y);
    uint8_t *q = malloc(rs);
    assert_non_null(y);
    assert_non_null(q);
    for (int64_t r = 0; r < rows; r++) {
        const float *x = (const float *)o->data + r * n;
        const uint8_t *row = t->data + r * rs;
        k->to_float(row, y, n);
        for (int64_t i = 0; i < n; i++) {
            st->err2 += ((double)y[i] - x[i]) * ((double)y[i] - x[i]);
            st->ref2 += (double)x[i] * x[i];
        }
        k->from_float(x, q, n);
        for (int64_t b = 0; b < n / tr->blck; b++)
            st->bad_blocks += memcmp(q + b * tr->size, row + b * tr->size, tr->size) != 0;
        st->blocks += n / tr->blck;
        k->to_float(q, y, n);
        for (int64_t i = 0; i < n; i++)
            st->our2 += ((double)y[i] - x[i]) * ((double)y[i] - x[i]);
    }
    st->matrices++;
    free(y);
    free(q);
}

/* 1-D tensors (norms) stay F32 and must equal the original exactly. */
static void check_vector(const tf_gguf_tensor *t)
{
    const tf_gguf_tensor *o = original_of(t);
    assert_int_equal(t->type, TF_TYPE_F32);
    assert_memory_equal(t->data, o->data, t->size);
}

static void scan_model(const char *file, uint32_t want_type, stats *st)
{
    tf_gguf *g = open_model(file);
    memset(st, 0, sizeof *st);
    for (uint64_t i = 0; i < tf_gguf_n_tensors(g); i++) {
        const tf_gguf_tensor *t = tf_gguf_tensor_at(g, i);
        if (t->n_dims == 1) {
            check_vector(t);
            continue;
        }
        if (want_type != UINT32_MAX && t->type != want_type)
            fail_msg("%s: a matrix is %s, expected %s", file, tf_type_name(t->type),
                     tf_type_name(want_type));
        check_matrix(t, st);
    }
    tf_gguf_close(g);
}

static const struct {
    const char *file;
    uint32_t type;
    /* Relative RMS error of the file's dequantization: ~1.3x what the
     * correct layout measures (see the table printed). */
    double bound;
    bool exact;        /* our quantizer must reproduce the file's bytes */
    double our_factor; /* else: our error / reference error at most this */
} k_files[] = {
    {"models/tiny-llama-f16.gguf", TF_TYPE_F16, 3e-4, true, 0},
    {"models/tiny-llama-q8_0.gguf", TF_TYPE_Q8_0, 0.007, true, 0},
    {"models/tiny-llama-q4_0.gguf", TF_TYPE_Q4_0, 0.11, true, 0},
    {"models/tiny-llama-q4_1.gguf", TF_TYPE_Q4_1, 0.10, true, 0},
    {"models/tiny-llama-q5_0.gguf", TF_TYPE_Q5_0, 0.055, true, 0},
    {"models/tiny-llama-q5_1.gguf", TF_TYPE_Q5_1, 0.05, true, 0},
    {"models/tiny-llama-iq4_nl.gguf", TF_TYPE_IQ4_NL, 0.10, true, 0},
    {"models/tiny-llama-q2_k.gguf", TF_TYPE_Q2_K, 0.38, false, 1.1},
    {"models/tiny-llama-q3_k.gguf", TF_TYPE_Q3_K, 0.19, false, 1.1},
    {"models/tiny-llama-q4_k.gguf", TF_TYPE_Q4_K, 0.09, false, 1.1},
    {"models/tiny-llama-q5_k.gguf", TF_TYPE_Q5_K, 0.046, false, 1.1},
    {"models/tiny-llama-q6_k.gguf", TF_TYPE_Q6_K, 0.023, false, 1.1},
};

static void test_file_types(void **state)
{
    (void)state;
    bool ok = true;
    printf("  %-8s %9s %9s %9s %8s %s\n", "type", "rel_rms", "bound", "ours", "ratio",
           "bytes differing");
    for (size_t i = 0; i < sizeof k_files / sizeof k_files[0]; i++) {
        stats st;
        scan_model(k_files[i].file, k_files[i].type, &st);
        double rel = sqrt(st.err2 / st.ref2), ours = sqrt(st.our2 / st.ref2);
        printf("  %-8s %9.5f %9.5f %9.5f %8.3f %lld/%lld blocks (%d matrices)\n",
               tf_type_name(k_files[i].type), rel, k_files[i].bound, ours, ours / rel,
               (long long)st.bad_blocks, (long long)st.blocks, st.matrices);
        assert_true(st.matrices >= 14);
        if (rel > k_files[i].bound)
            ok = false;
        if (k_files[i].exact && st.bad_blocks != 0)
            ok = false;
        if (!k_files[i].exact && ours > rel * k_files[i].our_factor)
            ok = false;
    }
    assert_true(ok);
}

/* The mixed Q4_K_M file: whatever each matrix's type, it must dequantize
 * to the original within that type's bound. */
static void test_file_mixed(void **state)
{
    (void)state;
    tf_gguf *g = open_model("models/tiny-llama-q4_k_m.gguf");
    int seen[TF_TYPE_COUNT] = {0};
    for (uint64_t i = 0; i < tf_gguf_n_tensors(g); i++) {
        const tf_gguf_tensor *t = tf_gguf_tensor_at(g, i);
        if (t->n_dims == 1) {
            check_vector(t);
            continue;
        }
        stats st;
        memset(&st, 0, sizeof st);
        check_matrix(t, &st);
        double bound = 0;
        for (size_t j = 0; j < sizeof k_files / sizeof k_files[0]; j++)
            if (k_files[j].type == t->type)
                bound = k_files[j].bound;
        double rel = sqrt(st.err2 / st.ref2);
        if (!(rel <= bound))
            fail_msg("%.*s (%s): rel rms %g > %g", (int)t->name.len, t->name.ptr,
                     tf_type_name(t->type), rel, bound);
        seen[t->type]++;
    }
    printf("  q4_k_m types:");
    for (int i = 0; i < TF_TYPE_COUNT; i++)
        if (seen[i])
            printf(" %s x%d", tf_type_name((uint32_t)i), seen[i]);
    printf("\n");
    assert_true(seen[TF_TYPE_Q4_K] > 0 && seen[TF_TYPE_Q6_K] > 0);
    tf_gguf_close(g);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_file_types),
        cmocka_unit_test(test_file_mixed),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
