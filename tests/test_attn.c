/* test_attn.c - the tiled attention (lib/attn.c, attn_simd.h) against the
 * former straightforward version (tf_attn_naive), on random data.
 *
 * Shapes: GQA (8 heads, 2 KV heads, head size 64), plain multi-head with a
 * head size that is not a multiple of the vector width (6 heads of 72),
 * and one KV head shared by 40 query heads (more than a block's rows, so
 * a group is split).  Caches in F16 and F32.  Lengths 1, 17, 300 and 2000
 * positions, each as a whole prompt (2000: only the last 10 tokens; 300:
 * GQA only) or as the last token(s) of one, with flat and peaked score
 * distributions.  2000 positions pass the NS limit, where the scores are
 * recomputed between the passes instead of kept.
 *
 * For every implementation this CPU runs (ref, avx2, avx512):
 *   - each row computed alone equals, bit for bit, the same row inside the
 *     largest blocks (so batch splits and thread counts can't change it);
 *   - it agrees with the naive version within float rounding (F32 cache)
 *     or within the F16 rounding of the probabilities the naive version
 *     does (F16 cache), and with the portable block;
 * and tf_attn_run gives the same bytes for 1, 2 and 3 threads.
 */
#include "testutil.h"
#include <math.h>

#include "attn.h"
#include "kernels.h"

typedef struct shape { int n_head, n_head_kv, hd; } shape;
typedef struct span { int32_t n_past, T; } span;

static const shape k_shapes[] = {{8, 2, 64}, {6, 6, 72}, {40, 1, 32}};
static const span k_spans[] = {{0, 1}, {0, 17}, {16, 1}, {0, 300}, {295, 5}, {299, 1},
                               {1990, 10}, {1999, 1}};
static const char *const k_levels[] = {"ref", "avx2", "avx512"};

typedef struct setup {
    tf_attn a;
    float *q, *out;
    void *k, *v;
} setup;

static void setup_new(setup *s, shape sh, span sp, bool f16, float q_gain, uint64_t seed)
{
    int32_t n_pos = sp.n_past + sp.T;
    size_t kv_n = (size_t)sh.n_head_kv * sh.hd, q_n = (size_t)sh.n_head * sh.hd;
    size_t rb = kv_n * (f16 ? 2 : 4);
    s->q = malloc((size_t)sp.T * q_n * sizeof(float));
    s->out = malloc((size_t)sp.T * q_n * sizeof(float));
    s->k = malloc((size_t)n_pos * rb);
    s->v = malloc((size_t)n_pos * rb);
    assert_true(s->q && s->out && s->k && s->v);
    for (size_t i = 0; i < (size_t)sp.T * q_n; i++) s->q[i] = q_gain * tu_randf(&seed);
    for (size_t i = 0; i < (size_t)n_pos * kv_n; i++) {
        float kx = tu_randf(&seed), vx = tu_randf(&seed);
        if (f16) {
            ((uint16_t *)s->k)[i] = tf_f32_to_f16(kx);
            ((uint16_t *)s->v)[i] = tf_f32_to_f16(vx);
        } else {
            ((float *)s->k)[i] = kx;
            ((float *)s->v)[i] = vx;
        }
    }
    s->a = (tf_attn){.q = s->q, .q_stride = q_n, .k = s->k, .v = s->v, .row_bytes = rb,
                     .f16 = f16, .hd = sh.hd, .n_head = sh.n_head, .n_head_kv = sh.n_head_kv,
                     .n_past = sp.n_past, .T = sp.T, .scale = 1.0f / sqrtf((float)sh.hd),
                     .out = s->out, .out_stride = q_n};
}

static void setup_free(setup *s)
{
    free(s->q);
    free(s->out);
    free(s->k);
    free(s->v);
}

static size_t out_floats(const tf_attn *a) { return (size_t)a->T * a->out_stride; }

/* Every row on its own (alone) or in blocks as large as allowed. */
static void run_blocks(tf_attn_block_fn fn, const tf_attn *a, bool alone, float *scratch)
{
    int G = a->n_head / a->n_head_kv;
    int hs = alone ? 1 : (G < TF_ATTN_RMAX ? G : TF_ATTN_RMAX);
    int bt = alone ? 1 : TF_ATTN_RMAX / hs;
    for (int g = 0; g < a->n_head_kv; g++)
        for (int h = 0; h < G; h += hs)
            for (int t = 0; t < a->T; t += bt)
                fn(a, g, g * G + h, G - h < hs ? G - h : hs, t, a->T - t < bt ? a->T - t : bt,
                   scratch);
}

static double max_abs_diff(const float *x, const float *y, size_t n)
{
    double m = 0;
    for (size_t i = 0; i < n; i++) {
        double d = fabs((double)x[i] - y[i]);
        if (!(d <= m)) m = d; /* NaN wins */
    }
    return m;
}

/* Worst differences over all cases, per level: vs naive (F32, F16 cache)
 * and vs the portable block. */
typedef struct worst { double naive32, naive16, ref32, ref16; } worst;

static void check_case(shape sh, span sp, bool f16, float q_gain, worst *w, uint64_t seed)
{
    setup s;
    setup_new(&s, sh, sp, f16, q_gain, seed);
    size_t n = out_floats(&s.a);
    float *naive = malloc(n * sizeof(float)), *ref = malloc(n * sizeof(float));
    float *alone = malloc(n * sizeof(float));
    float *scratch = malloc(tf_attn_scratch_floats(sh.hd) * sizeof(float));
    float *nscratch = malloc(((size_t)sp.n_past + sp.T + sh.hd) * sizeof(float));
    assert_true(naive && ref && alone && scratch && nscratch);
    s.a.out = naive;
    tf_attn_naive(&s.a, nscratch, 0, (int64_t)sp.T * sh.n_head);
    for (int l = 0; l < 3; l++) {
        tf_attn_block_fn fn = tf_attn_block_of(k_levels[l]);
        if (!fn) continue;
        s.a.out = alone;
        run_blocks(fn, &s.a, true, scratch);
        s.a.out = s.out;
        run_blocks(fn, &s.a, false, scratch);
        if (memcmp(alone, s.out, n * sizeof(float))) {
            fprintf(stderr, "%s: hd %d heads %d/%d n_past %d T %d %s: a row alone differs from "
                    "the same row in a block\n", k_levels[l], sh.hd, sh.n_head, sh.n_head_kv,
                    sp.n_past, sp.T, f16 ? "f16" : "f32");
            fail();
        }
        if (l == 0) memcpy(ref, s.out, n * sizeof(float));
        double dn = max_abs_diff(s.out, naive, n), dr = max_abs_diff(s.out, ref, n);
        double *slot = f16 ? &w[l].naive16 : &w[l].naive32;
        if (!(dn <= *slot)) *slot = dn;
        slot = f16 ? &w[l].ref16 : &w[l].ref32;
        if (!(dr <= *slot)) *slot = dr;
    }
    free(naive);
    free(ref);
    free(alone);
    free(scratch);
    free(nscratch);
    setup_free(&s);
}

static void test_tiled_vs_naive(void **state)
{
    (void)state;
    tf_kernels_init(false);
    worst w[3] = {{0, 0, 0, 0}, {0, 0, 0, 0}, {0, 0, 0, 0}};
    uint64_t seed = 0x9e3779b97f4a7c15ull;
    for (size_t i = 0; i < sizeof k_shapes / sizeof k_shapes[0]; i++)
        for (size_t j = 0; j < sizeof k_spans / sizeof k_spans[0]; j++)
            for (int f16 = 0; f16 < 2; f16++) {
                /* The whole 300-token prompt on the GQA shape only (time). */
                if (i > 0 && k_spans[j].T == 300) continue;
                for (int peak = 0; peak < 2; peak++)
                    check_case(k_shapes[i], k_spans[j], f16, peak ? 6.0f : 1.0f, w, seed++);
            }
    for (int l = 0; l < 3; l++) {
        if (!tf_attn_block_of(k_levels[l])) {
            printf("  %-6s not available on this CPU/build\n", k_levels[l]);
            continue;
        }
        printf("  %-6s max |diff| vs naive: F32 cache %.2e, F16 cache %.2e; "
               "vs ref block: F32 %.2e, F16 %.2e\n", k_levels[l], w[l].naive32, w[l].naive16,
               w[l].ref32, w[l].ref16);
        /* Values are in [-1, 1].  F32: float rounding of sums of <= 2000
         * terms.  F16: both sides round the probabilities to F16, but a
         * last-bit difference before that can move one by an F16 step
         * (2^-11 relative; <= 2.5e-4 for p <= 1/2). */
        assert_true(w[l].naive32 < 5e-6);
        assert_true(w[l].naive16 < 1e-3);
        assert_true(w[l].ref32 < 5e-6);
        assert_true(w[l].ref16 < 1e-3);
    }
}

/* tf_attn_run splits blocks between threads; each thread only writes its
 * own rows, so running the threads one after another is a valid schedule. */
static void test_threads_identical(void **state)
{
    (void)state;
    tf_kernels_init(false);
    printf("  tf_attn_run level: %s\n", tf_attn_level());
    uint64_t seed = 77;
    for (size_t i = 0; i < sizeof k_shapes / sizeof k_shapes[0]; i++) {
        span sp = {40, 100};
        setup s;
        setup_new(&s, k_shapes[i], sp, true, 3.0f, seed++);
        size_t n = out_floats(&s.a);
        float *first = malloc(n * sizeof(float));
        float *scratch = malloc(3 * tf_attn_scratch_floats(k_shapes[i].hd) * sizeof(float));
        assert_true(first && scratch);
        for (int nth = 1; nth <= 3; nth++) {
            memset(s.out, 0xff, n * sizeof(float)); /* NaN: a row left out shows */
            for (int ith = 0; ith < nth; ith++)
                tf_attn_run(&s.a, scratch + (size_t)ith * tf_attn_scratch_floats(k_shapes[i].hd), ith, nth);
            if (nth == 1) memcpy(first, s.out, n * sizeof(float));
            else assert_memory_equal(first, s.out, n * sizeof(float));
        }
        for (size_t e = 0; e < n; e++) assert_true(isfinite(first[e]));
        free(first);
        free(scratch);
        setup_free(&s);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tiled_vs_naive),
        cmocka_unit_test(test_threads_identical),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
