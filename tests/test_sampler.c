/* test_sampler.c - the sampler chain against hand-computed distributions,
 * a naive reference on large vocabularies, and its PRNG behaviour. */
#include "testutil.h"
#include <math.h>
#include <time.h>
#include "tinfer.h"
#include "sampler.h"

/* Parameters with every filter off, temperature 1. */
static tf_sampler_params plain(void)
{
    tf_sampler_params p = tf_sampler_default_params();
    p.temp = 1.0f;
    p.top_k = 0;
    p.top_p = 1.0f;
    p.min_p = 0.0f;
    p.repeat_penalty = 1.0f;
    p.presence_penalty = 0.0f;
    p.frequency_penalty = 0.0f;
    return p;
}

static const float L4[4] = {1, 2, 3, 4};

/* Run tf_sampler_probs and compare with the expected ids/probs. */
static void expect_probs(tf_sampler *s, const float *logits, int n_vocab,
                         const int32_t *ids, const float *probs, int n)
{
    int32_t got_ids[64];
    float got_p[64];
    int32_t cnt = 64;
    assert_true(n_vocab <= 64);
    assert_int_equal(tf_sampler_probs(s, logits, got_ids, got_p, &cnt), TF_OK);
    assert_int_equal(cnt, n);
    for (int i = 0; i < n; i++) {
        if (got_ids[i] != ids[i] || fabsf(got_p[i] - probs[i]) > 2e-6f)
            fprintf(stderr, "  cand %d: got id %d p %.7f, want id %d p %.7f\n",
                    i, got_ids[i], got_p[i], ids[i], probs[i]);
        assert_int_equal(got_ids[i], ids[i]);
        assert_true(fabsf(got_p[i] - probs[i]) <= 2e-6f);
    }
}

static tf_sampler *mk(const tf_sampler_params *p, int32_t n_vocab)
{
    tf_sampler *s = NULL;
    assert_int_equal(tf_sampler_new(p, n_vocab, &s), TF_OK);
    assert_non_null(s);
    return s;
}

static void test_defaults(void **st)
{
    (void)st;
    tf_sampler_params p = tf_sampler_default_params();
    assert_true(p.temp == 0.8f);
    assert_int_equal(p.top_k, 40);
    assert_true(p.top_p == 0.95f);
    assert_true(p.min_p == 0.05f);
    assert_true(p.repeat_penalty == 1.0f);
    assert_true(p.presence_penalty == 0.0f && p.frequency_penalty == 0.0f);
    assert_int_equal(p.penalty_last_n, 64);
    assert_true(p.seed == TF_SAMPLER_DEFAULT_SEED);
    /* NULL params = defaults */
    tf_sampler *s = NULL;
    assert_int_equal(tf_sampler_new(NULL, 10, &s), TF_OK);
    tf_sampler_free(s);
    tf_sampler_free(NULL);
}

/* logits {1,2,3,4}: softmax = e^{l-4} / (1 + e^-1 + e^-2 + e^-3) */
static void test_softmax_plain(void **st)
{
    (void)st;
    tf_sampler_params p = plain();
    tf_sampler *s = mk(&p, 4);
    static const int32_t ids[] = {3, 2, 1, 0};
    static const float pr[] = {0.643914f, 0.236883f, 0.087144f, 0.032059f};
    expect_probs(s, L4, 4, ids, pr, 4);
    tf_sampler_free(s);
}

/* top-k 2 keeps {4,3}: 1/(1+e^-1), e^-1/(1+e^-1) */
static void test_top_k(void **st)
{
    (void)st;
    tf_sampler_params p = plain();
    p.top_k = 2;
    tf_sampler *s = mk(&p, 4);
    static const int32_t ids[] = {3, 2};
    static const float pr[] = {0.731059f, 0.268941f};
    expect_probs(s, L4, 4, ids, pr, 2);
    tf_sampler_free(s);
    /* top_k >= n_vocab is the same as off */
    p.top_k = 4;
    s = mk(&p, 4);
    static const int32_t ids4[] = {3, 2, 1, 0};
    static const float pr4[] = {0.643914f, 0.236883f, 0.087144f, 0.032059f};
    expect_probs(s, L4, 4, ids4, pr4, 4);
    tf_sampler_free(s);
}

/* Cumulative probs of {4,3,2,1}: 0.6439, 0.8808, 0.9680, 1. */
static void test_top_p(void **st)
{
    (void)st;
    tf_sampler_params p = plain();
    p.top_p = 0.5f; /* 0.6439 >= 0.5: one token */
    tf_sampler *s = mk(&p, 4);
    static const int32_t id1[] = {3};
    static const float one[] = {1.0f};
    expect_probs(s, L4, 4, id1, one, 1);
    tf_sampler_free(s);

    p.top_p = 0.7f; /* 0.8808 >= 0.7: two */
    s = mk(&p, 4);
    static const int32_t id2[] = {3, 2};
    static const float pr2[] = {0.731059f, 0.268941f};
    expect_probs(s, L4, 4, id2, pr2, 2);
    tf_sampler_free(s);

    p.top_p = 0.9f; /* 0.9680 >= 0.9: three, renormalised */
    s = mk(&p, 4);
    static const int32_t id3[] = {3, 2, 1};
    static const float pr3[] = {0.665241f, 0.244728f, 0.090031f};
    expect_probs(s, L4, 4, id3, pr3, 3);
    tf_sampler_free(s);

    p.top_p = 0.0f; /* at least one */
    s = mk(&p, 4);
    expect_probs(s, L4, 4, id1, one, 1);
    tf_sampler_free(s);
}

/* Relative probs of {4,3,2,1} to the max: 1, 0.368, 0.135, 0.050. */
static void test_min_p(void **st)
{
    (void)st;
    tf_sampler_params p = plain();
    p.min_p = 0.5f;
    tf_sampler *s = mk(&p, 4);
    static const int32_t id1[] = {3};
    static const float one[] = {1.0f};
    expect_probs(s, L4, 4, id1, one, 1);
    tf_sampler_free(s);

    p.min_p = 0.3f;
    s = mk(&p, 4);
    static const int32_t id2[] = {3, 2};
    static const float pr2[] = {0.731059f, 0.268941f};
    expect_probs(s, L4, 4, id2, pr2, 2);
    tf_sampler_free(s);

    p.min_p = 0.1f;
    s = mk(&p, 4);
    static const int32_t id3[] = {3, 2, 1};
    static const float pr3[] = {0.665241f, 0.244728f, 0.090031f};
    expect_probs(s, L4, 4, id3, pr3, 3);
    tf_sampler_free(s);
}

/* temp 0.5: logits {2,4,6,8} */
static void test_temperature(void **st)
{
    (void)st;
    tf_sampler_params p = plain();
    p.temp = 0.5f;
    tf_sampler *s = mk(&p, 4);
    static const int32_t ids[] = {3, 2, 1, 0};
    static const float pr[] = {0.864955f, 0.117059f, 0.015842f, 0.002144f};
    expect_probs(s, L4, 4, ids, pr, 4);
    tf_sampler_free(s);
}

/* The chain's order: top-k 3 -> {4,3,2}; top-p 0.9 over those (0.665,
 * 0.910) -> {4,3}; min-p 0.3 keeps both (e^-1 = 0.37); temp 2 -> {2,1.5}. */
static void test_chain_order(void **st)
{
    (void)st;
    static const float l[6] = {1, 2, 3, 4, 0, -1};
    tf_sampler_params p = plain();
    p.top_k = 3;
    p.top_p = 0.9f;
    p.min_p = 0.3f;
    p.temp = 2.0f;
    tf_sampler *s = mk(&p, 6);
    static const int32_t ids[] = {3, 2};
    static const float pr[] = {0.622459f, 0.377541f};
    expect_probs(s, l, 6, ids, pr, 2);
    tf_sampler_free(s);
    /* min-p 0.5 then drops the second (0.37 < 0.5) */
    p.min_p = 0.5f;
    s = mk(&p, 6);
    static const int32_t id1[] = {3};
    static const float one[] = {1.0f};
    expect_probs(s, l, 6, id1, one, 1);
    tf_sampler_free(s);
}

static void test_repeat_penalty(void **st)
{
    (void)st;
    tf_sampler_params p = plain();
    p.repeat_penalty = 2.0f;
    tf_sampler *s = mk(&p, 4);
    /* token 3 (logit 4 > 0) -> 4/2 = 2: logits {1,2,3,2} */
    assert_int_equal(tf_sampler_accept(s, 3), TF_OK);
    static const int32_t ids[] = {2, 1, 3, 0};
    static const float pr[] = {0.534447f, 0.196612f, 0.196612f, 0.072329f};
    expect_probs(s, L4, 4, ids, pr, 4);
    tf_sampler_free(s);

    /* logit <= 0 is multiplied: {-1,2,0,1}, tokens 0,1,2 seen ->
     * {-2, 1, 0, 1} (0 * 2 = 0) */
    static const float ln[4] = {-1, 2, 0, 1};
    s = mk(&p, 4);
    assert_int_equal(tf_sampler_accept(s, 0), TF_OK);
    assert_int_equal(tf_sampler_accept(s, 1), TF_OK);
    assert_int_equal(tf_sampler_accept(s, 2), TF_OK);
    assert_int_equal(tf_sampler_accept(s, 1), TF_OK); /* count doesn't matter */
    static const int32_t idn[] = {1, 3, 2, 0};
    static const float prn[] = {0.413622f, 0.413622f, 0.152163f, 0.020593f};
    expect_probs(s, ln, 4, idn, prn, 4);
    /* reset forgets the window */
    tf_sampler_reset(s);
    static const int32_t idr[] = {1, 3, 2, 0};
    float e[4] = {1.0f, expf(-1.0f), expf(-2.0f), expf(-3.0f)};
    float z = e[0] + e[1] + e[2] + e[3];
    float prr[4] = {e[0] / z, e[1] / z, e[2] / z, e[3] / z};
    expect_probs(s, ln, 4, idr, prr, 4);
    tf_sampler_free(s);
}

static void test_frequency_presence(void **st)
{
    (void)st;
    tf_sampler_params p = plain();
    p.frequency_penalty = 0.5f; /* token 2 twice: 3 - 2*0.5 = 2 */
    tf_sampler *s = mk(&p, 4);
    assert_int_equal(tf_sampler_accept(s, 2), TF_OK);
    assert_int_equal(tf_sampler_accept(s, 2), TF_OK);
    static const int32_t idf[] = {3, 1, 2, 0};
    static const float prf[] = {0.757313f, 0.102491f, 0.102491f, 0.037704f};
    expect_probs(s, L4, 4, idf, prf, 4);
    tf_sampler_free(s);

    p = plain();
    p.presence_penalty = 1.5f; /* token 2 twice: 3 - 1.5 = 1.5 */
    s = mk(&p, 4);
    assert_int_equal(tf_sampler_accept(s, 2), TF_OK);
    assert_int_equal(tf_sampler_accept(s, 2), TF_OK);
    static const int32_t idp[] = {3, 1, 2, 0};
    static const float prp[] = {0.789137f, 0.106798f, 0.064776f, 0.039289f};
    expect_probs(s, L4, 4, idp, prp, 4);
    tf_sampler_free(s);

    /* all three: 3/2 - (2*0.5 + 1) = -0.5 for token 2 */
    p = plain();
    p.repeat_penalty = 2.0f;
    p.frequency_penalty = 0.5f;
    p.presence_penalty = 1.0f;
    s = mk(&p, 4);
    assert_int_equal(tf_sampler_accept(s, 2), TF_OK);
    assert_int_equal(tf_sampler_accept(s, 2), TF_OK);
    float e[4] = {expf(1 - 4.f), expf(2 - 4.f), expf(-0.5f - 4.f), 1.0f};
    float z = e[0] + e[1] + e[2] + e[3];
    static const int32_t ida[] = {3, 1, 0, 2};
    float pra[4] = {e[3] / z, e[1] / z, e[0] / z, e[2] / z};
    expect_probs(s, L4, 4, ida, pra, 4);
    tf_sampler_free(s);
}

/* Only the last penalty_last_n accepted tokens count. */
static void test_penalty_window(void **st)
{
    (void)st;
    tf_sampler_params p = plain();
    p.temp = 0.0f;
    p.repeat_penalty = 100.0f;
    p.penalty_last_n = 2;
    tf_sampler *s = mk(&p, 4);
    tf_token t = -1;
    assert_int_equal(tf_sampler_accept(s, 3), TF_OK);
    assert_int_equal(tf_sampler_sample(s, L4, &t), TF_OK);
    assert_int_equal(t, 2); /* 3 penalised */
    assert_int_equal(tf_sampler_accept(s, 0), TF_OK);
    assert_int_equal(tf_sampler_accept(s, 1), TF_OK); /* 3 left the window */
    assert_int_equal(tf_sampler_sample(s, L4, &t), TF_OK);
    assert_int_equal(t, 3);
    assert_int_equal(tf_sampler_accept(s, 3), TF_OK);
    assert_int_equal(tf_sampler_sample(s, L4, &t), TF_OK);
    assert_int_equal(t, 2);
    tf_sampler_free(s);

    /* penalty_last_n 0: penalties off */
    p.penalty_last_n = 0;
    s = mk(&p, 4);
    assert_int_equal(tf_sampler_accept(s, 3), TF_OK);
    assert_int_equal(tf_sampler_sample(s, L4, &t), TF_OK);
    assert_int_equal(t, 3);
    tf_sampler_free(s);

    /* -1 and huge windows are accepted */
    p.penalty_last_n = -1;
    s = mk(&p, 4);
    for (int i = 0; i < 5000; i++) assert_int_equal(tf_sampler_accept(s, 3), TF_OK);
    assert_int_equal(tf_sampler_sample(s, L4, &t), TF_OK);
    assert_int_equal(t, 2);
    tf_sampler_free(s);
    p.penalty_last_n = 1 << 30;
    s = mk(&p, 4);
    tf_sampler_free(s);
}

static void test_greedy(void **st)
{
    (void)st;
    tf_sampler_params p = tf_sampler_default_params();
    p.temp = 0.0f;
    tf_sampler *s = mk(&p, 5);
    tf_token t = -1;
    static const float l[5] = {1, 5, 5, 2, -3};
    assert_int_equal(tf_sampler_sample(s, l, &t), TF_OK);
    assert_int_equal(t, 1); /* tie: lowest id */
    static const float l2[5] = {-2, -1, -7, -0.5f, -1};
    assert_int_equal(tf_sampler_sample(s, l2, &t), TF_OK);
    assert_int_equal(t, 3);
    static const float l3[5] = {NAN, NAN, 0.f, NAN, -INFINITY};
    assert_int_equal(tf_sampler_sample(s, l3, &t), TF_OK);
    assert_int_equal(t, 2); /* NaN counts as -inf */
    int32_t ids[5];
    float pr[5];
    int32_t n = 5;
    assert_int_equal(tf_sampler_probs(s, l, ids, pr, &n), TF_OK);
    assert_int_equal(n, 1);
    assert_int_equal(ids[0], 1);
    assert_true(pr[0] == 1.0f);
    tf_sampler_free(s);
    /* negative temperature is greedy too; penalties still apply */
    p.temp = -1.0f;
    p.repeat_penalty = 10.0f;
    s = mk(&p, 5);
    assert_int_equal(tf_sampler_accept(s, 1), TF_OK);
    assert_int_equal(tf_sampler_sample(s, l, &t), TF_OK);
    assert_int_equal(t, 2);
    tf_sampler_free(s);
}

static void draw_seq(uint64_t seed, tf_token *out, int n)
{
    enum { V = 1000 };
    static float l[V];
    for (int i = 0; i < V; i++) l[i] = 0.0f; /* uniform */
    tf_sampler_params p = plain();
    p.seed = seed;
    tf_sampler *s = mk(&p, V);
    for (int i = 0; i < n; i++)
        assert_int_equal(tf_sampler_sample(s, l, &out[i]), TF_OK);
    /* reset reseeds: the same sequence again */
    tf_sampler_reset(s);
    for (int i = 0; i < n; i++) {
        tf_token t;
        assert_int_equal(tf_sampler_sample(s, l, &t), TF_OK);
        assert_int_equal(t, out[i]);
    }
    tf_sampler_free(s);
}

static void test_seed(void **st)
{
    (void)st;
    enum { N = 200 };
    tf_token a[N], b[N], c[N];
    draw_seq(42, a, N);
    draw_seq(42, b, N);
    draw_seq(43, c, N);
    int same = 0, distinct = 0;
    for (int i = 0; i < N; i++) {
        assert_int_equal(a[i], b[i]);
        same += a[i] == c[i];
        assert_true(a[i] >= 0 && a[i] < 1000);
        for (int j = 0; j < i; j++)
            if (a[j] == a[i]) goto dup;
        distinct++;
    dup:;
    }
    assert_true(same < 10);       /* ~0.2 expected */
    assert_true(distinct > 150);  /* ~181 expected for 200 of 1000 */
}

static void check_freq(tf_sampler_params p, const float *l, int nv,
                       int draws)
{
    tf_sampler *s = mk(&p, nv);
    int32_t ids[64];
    float pr[64];
    int32_t n = 64;
    assert_int_equal(tf_sampler_probs(s, l, ids, pr, &n), TF_OK);
    int cnt[64] = {0};
    for (int i = 0; i < draws; i++) {
        tf_token t;
        assert_int_equal(tf_sampler_sample(s, l, &t), TF_OK);
        assert_true(t >= 0 && t < nv);
        cnt[t]++;
    }
    float want[64] = {0};
    for (int i = 0; i < n; i++) want[ids[i]] = pr[i];
    for (int t = 0; t < nv; t++) {
        float f = (float)cnt[t] / (float)draws;
        if (fabsf(f - want[t]) > 0.015f)
            fprintf(stderr, "  token %d: freq %.4f want %.4f\n", t, f, want[t]);
        assert_true(fabsf(f - want[t]) <= 0.015f);
        if (want[t] == 0.0f) assert_int_equal(cnt[t], 0);
    }
    tf_sampler_free(s);
}

static void test_frequencies(void **st)
{
    (void)st;
    tf_sampler_params p = plain();
    check_freq(p, L4, 4, 20000);
    p.temp = 0.7f;
    p.top_k = 3;
    check_freq(p, L4, 4, 20000);
    static const float l[8] = {0.5f, 2, 1.5f, -1, 2, 0, 1, -3};
    p = tf_sampler_default_params();
    p.seed = 7;
    check_freq(p, l, 8, 20000);
}

/* ---- naive reference on large vocabularies ---------------------------- */

typedef struct { float v; int32_t id; } ref_cand;

static int ref_cmp(const void *pa, const void *pb)
{
    const ref_cand *a = pa, *b = pb;
    if (a->v != b->v) return a->v > b->v ? -1 : 1;
    return (a->id > b->id) - (a->id < b->id);
}

/* Straightforward chain (no penalties): full sort, then each filter. */
static int ref_chain(const tf_sampler_params *p, const float *l, int nv,
                     ref_cand *c, float *probs)
{
    for (int i = 0; i < nv; i++) {
        c[i].v = isnan(l[i]) ? -INFINITY : l[i];
        c[i].id = i;
    }
    qsort(c, (size_t)nv, sizeof *c, ref_cmp);
    int n = nv;
    if (p->top_k > 0 && p->top_k < n) n = p->top_k;
    float mx = c[0].v;
    double z = 0;
    for (int i = 0; i < n; i++) z += c[i].v == mx ? 1.0f : expf(c[i].v - mx);
    if (p->top_p < 1.0f) {
        double cum = 0;
        for (int i = 0; i < n; i++) {
            cum += c[i].v == mx ? 1.0f : expf(c[i].v - mx);
            if (cum >= p->top_p * z) { n = i + 1; break; }
        }
    }
    if (p->min_p > 0.0f) {
        float thr = mx + logf(p->min_p);
        int m = 1;
        while (m < n && c[m].v >= thr) m++;
        n = m;
    }
    z = 0;
    for (int i = 0; i < n; i++) z += (float)exp(c[i].v / p->temp - mx / p->temp);
    for (int i = 0; i < n; i++)
        probs[i] = (float)((float)exp(c[i].v / p->temp - mx / p->temp) / z);
    return n;
}

static void compare_ref(tf_sampler_params p, const float *l, int nv,
                        int32_t *ids, float *pr, ref_cand *rc, float *rp)
{
    tf_sampler *s = mk(&p, nv);
    int32_t n = nv;
    assert_int_equal(tf_sampler_probs(s, l, ids, pr, &n), TF_OK);
    int rn = ref_chain(&p, l, nv, rc, rp);
    if (n != rn)
        fprintf(stderr, "  k %d p %g minp %g: n %d, reference %d\n",
                p.top_k, (double)p.top_p, (double)p.min_p, n, rn);
    assert_int_equal(n, rn);
    for (int i = 0; i < n; i++) {
        assert_int_equal(ids[i], rc[i].id);
        assert_true(fabsf(pr[i] - rp[i]) <= 1e-5f + 1e-3f * rp[i]);
    }
    /* buffer too small: size query */
    if (n > 1) {
        int32_t small = n - 1;
        assert_int_equal(tf_sampler_probs(s, l, ids, pr, &small), TF_ERR_BUFFER);
        assert_int_equal(small, n);
    }
    tf_token t;
    assert_int_equal(tf_sampler_sample(s, l, &t), TF_OK);
    assert_true(t >= 0 && t < nv);
    tf_sampler_free(s);
}

static void test_large_vocab(void **st)
{
    (void)st;
    const int nv = 50000;
    float *l = malloc(sizeof(float) * (size_t)nv);
    int32_t *ids = malloc(sizeof(int32_t) * (size_t)nv);
    float *pr = malloc(sizeof(float) * (size_t)nv);
    ref_cand *rc = malloc(sizeof(ref_cand) * (size_t)nv);
    float *rp = malloc(sizeof(float) * (size_t)nv);
    assert_true(l && ids && pr && rc && rp);
    uint64_t seed = 12345;
    static const struct { int k; float p, minp, temp, scale; } cases[] = {
        {40, 0.95f, 0.05f, 0.8f, 8.0f},   /* defaults */
        {0, 0.95f, 0.0f, 1.0f, 1.0f},     /* flat: top-p keeps most */
        {0, 0.95f, 0.0f, 1.0f, 8.0f},
        {0, 0.5f, 0.0f, 0.7f, 20.0f},     /* peaked */
        {0, 1.0f, 0.05f, 1.0f, 4.0f},     /* min-p alone */
        {0, 0.9f, 0.01f, 1.2f, 4.0f},     /* min-p cuts before top-p */
        {0, 0.9f, 0.2f, 1.2f, 2.0f},
        {1000, 0.99f, 0.0f, 1.0f, 1.0f},
        {0, 1.0f, 0.0f, 1.0f, 3.0f},      /* everything off */
    };
    for (size_t ci = 0; ci < sizeof cases / sizeof cases[0]; ci++) {
        for (int i = 0; i < nv; i++) {
            float v = tu_randf(&seed) * cases[ci].scale;
            if (i % 7 == 0) v = roundf(v); /* many exact ties */
            l[i] = v;
        }
        l[17] = NAN;
        l[99] = -INFINITY;
        tf_sampler_params p = plain();
        p.top_k = cases[ci].k;
        p.top_p = cases[ci].p;
        p.min_p = cases[ci].minp;
        p.temp = cases[ci].temp;
        compare_ref(p, l, nv, ids, pr, rc, rp);
    }
    /* sorted and reverse-sorted inputs (quickselect pivots) */
    for (int i = 0; i < nv; i++) l[i] = (float)i * 1e-3f;
    tf_sampler_params p = plain();
    p.top_k = 100;
    compare_ref(p, l, nv, ids, pr, rc, rp);
    for (int i = 0; i < nv; i++) l[i] = -(float)i * 1e-3f;
    compare_ref(p, l, nv, ids, pr, rc, rp);
    for (int i = 0; i < nv; i++) l[i] = 0.0f; /* all equal */
    p.top_k = 0;
    p.top_p = 0.5f;
    compare_ref(p, l, nv, ids, pr, rc, rp);
    free(l); free(ids); free(pr); free(rc); free(rp);
}

/* Speed with a real-size vocabulary (printed, not asserted). */
static void test_speed(void **st)
{
    (void)st;
    const int nv = 152064, reps = getenv("TINFER_SLOW") ? 20 : 200;
    float *l = malloc(sizeof(float) * (size_t)nv);
    assert_non_null(l);
    uint64_t seed = 99;
    for (int i = 0; i < nv; i++) l[i] = tu_randf(&seed) * 10.0f;
    tf_sampler_params cfg[2] = {tf_sampler_default_params(), plain()};
    cfg[1].top_p = 0.95f; /* top-p alone: the slow path */
    for (int c = 0; c < 2; c++) {
        tf_sampler *s = mk(&cfg[c], nv);
        struct timespec t0, t1;
        clock_gettime(CLOCK_MONOTONIC, &t0);
        for (int r = 0; r < reps; r++) {
            tf_token t;
            assert_int_equal(tf_sampler_sample(s, l, &t), TF_OK);
            assert_int_equal(tf_sampler_accept(s, t), TF_OK);
        }
        clock_gettime(CLOCK_MONOTONIC, &t1);
        double ms = ((double)(t1.tv_sec - t0.tv_sec) * 1e3 +
                     (double)(t1.tv_nsec - t0.tv_nsec) / 1e6) / reps;
        printf("  sampler %s, vocab %d: %.3f ms/token\n",
               c == 0 ? "defaults" : "top-p only", nv, ms);
        tf_sampler_free(s);
    }
    free(l);
}

static void expect_bad(tf_sampler_params p, const char *what)
{
    tf_sampler *s = (tf_sampler *)&p; /* must be set to NULL */
    assert_int_equal(tf_sampler_new(&p, 10, &s), TF_ERR_INVALID_ARG);
    assert_null(s);
    if (!strstr(tf_last_error(), what))
        fprintf(stderr, "  message '%s' lacks '%s'\n", tf_last_error(), what);
    assert_non_null(strstr(tf_last_error(), what));
}

static void test_invalid(void **st)
{
    (void)st;
    tf_sampler_params p;
    p = plain(); p.temp = NAN; expect_bad(p, "temp");
    p = plain(); p.temp = INFINITY; expect_bad(p, "temp");
    p = plain(); p.top_p = -0.1f; expect_bad(p, "top_p");
    p = plain(); p.top_p = NAN; expect_bad(p, "top_p");
    p = plain(); p.min_p = NAN; expect_bad(p, "min_p");
    p = plain(); p.min_p = 1.5f; expect_bad(p, "min_p");
    p = plain(); p.repeat_penalty = 0.0f; expect_bad(p, "repeat_penalty");
    p = plain(); p.repeat_penalty = -1.0f; expect_bad(p, "repeat_penalty");
    p = plain(); p.repeat_penalty = NAN; expect_bad(p, "repeat_penalty");
    p = plain(); p.presence_penalty = INFINITY; expect_bad(p, "presence");
    p = plain(); p.frequency_penalty = NAN; expect_bad(p, "frequency");
    p = plain(); p.penalty_last_n = -2; expect_bad(p, "penalty_last_n");

    p = plain();
    tf_sampler *s = NULL;
    assert_int_equal(tf_sampler_new(&p, 0, &s), TF_ERR_INVALID_ARG);
    assert_null(s);
    assert_non_null(strstr(tf_last_error(), "n_vocab"));
    assert_int_equal(tf_sampler_new(&p, 4, NULL), TF_ERR_INVALID_ARG);

    s = mk(&p, 4);
    assert_string_equal(tf_sampler_error(s), "");
    assert_int_equal(tf_sampler_accept(s, 4), TF_ERR_INVALID_ARG);
    assert_non_null(strstr(tf_sampler_error(s), "out of range"));
    assert_int_equal(tf_sampler_accept(s, -1), TF_ERR_INVALID_ARG);
    tf_token t;
    assert_int_equal(tf_sampler_sample(s, NULL, &t), TF_ERR_INVALID_ARG);
    assert_int_equal(tf_sampler_sample(s, L4, NULL), TF_ERR_INVALID_ARG);
    static const float ninf[4] = {-INFINITY, NAN, -INFINITY, -INFINITY};
    assert_int_equal(tf_sampler_sample(s, ninf, &t), TF_ERR_INVALID_ARG);
    assert_non_null(strstr(tf_sampler_error(s), "-inf"));
    tf_sampler_free(s);
    assert_int_equal(tf_sampler_sample(NULL, L4, &t), TF_ERR_INVALID_ARG);
    assert_int_equal(tf_sampler_accept(NULL, 0), TF_ERR_INVALID_ARG);
    tf_sampler_reset(NULL);
    assert_string_equal(tf_sampler_error(NULL), "");
}

/* A tiny temperature is (almost) greedy, not uniform over overflowed
 * logits. */
static void test_tiny_temp(void **st)
{
    (void)st;
    static const float l[4] = {3, 2, 5, 4.5f};
    tf_sampler_params p = plain();
    p.temp = 1e-30f;
    tf_sampler *s = mk(&p, 4);
    static const int32_t ids[] = {2, 3, 0, 1};
    static const float pr[] = {1.0f, 0.0f, 0.0f, 0.0f};
    expect_probs(s, l, 4, ids, pr, 4);
    tf_sampler_free(s);
}

/* Infinite logits don't produce NaN probabilities. */
static void test_infinities(void **st)
{
    (void)st;
    static const float l[4] = {INFINITY, 1, INFINITY, -INFINITY};
    tf_sampler_params p = plain();
    p.temp = 0.3f;
    tf_sampler *s = mk(&p, 4);
    static const int32_t ids[] = {0, 2, 1, 3};
    static const float pr[] = {0.5f, 0.5f, 0.0f, 0.0f};
    expect_probs(s, l, 4, ids, pr, 4);
    for (int i = 0; i < 100; i++) {
        tf_token t;
        assert_int_equal(tf_sampler_sample(s, l, &t), TF_OK);
        assert_true(t == 0 || t == 2);
    }
    tf_sampler_free(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_softmax_plain),
        cmocka_unit_test(test_top_k),
        cmocka_unit_test(test_top_p),
        cmocka_unit_test(test_min_p),
        cmocka_unit_test(test_temperature),
        cmocka_unit_test(test_chain_order),
        cmocka_unit_test(test_repeat_penalty),
        cmocka_unit_test(test_frequency_presence),
        cmocka_unit_test(test_penalty_window),
        cmocka_unit_test(test_greedy),
        cmocka_unit_test(test_seed),
        cmocka_unit_test(test_frequencies),
        cmocka_unit_test(test_large_vocab),
        cmocka_unit_test(test_speed),
        cmocka_unit_test(test_invalid),
        cmocka_unit_test(test_infinities),
        cmocka_unit_test(test_tiny_temp),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
