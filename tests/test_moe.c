/* test_moe.c - mixture of experts: the gating op against hand-computed
 * values; generated MoE models (Mixtral-style llama, qwen2moe with its
 * gated shared expert, olmoe with q/k norms) against a float64 forward
 * pass written here; the expert-weight byte counter (decode reads exactly
 * k experts, a prompt reads each used expert once); and the loader's
 * MoE hyperparameters and errors. */
#include <unistd.h>

#include "testutil.h"
#include "moe_model.h"
#include "backend_cpu.h"

/* ---- (a) the gating op ------------------------------------------------ */

typedef struct gate_case {
    int n_exp, k, gating;
    bool norm;
    float scale;
    float logits[8];
    int ids[4];
    double w[4];
} gate_case;

static void run_gate(const gate_case *c, int32_t T, int nth, float *out)
{
    tf_node nd;
    memset(&nd, 0, sizeof nd);
    nd.ip[0] = c->n_exp;
    nd.ip[1] = c->k;
    nd.ip[2] = c->gating;
    nd.ip[3] = c->norm;
    nd.fp[0] = c->scale;
    float logits[4 * 8];
    for (int t = 0; t < T; t++)
        memcpy(logits + t * c->n_exp, c->logits, sizeof(float) * (size_t)c->n_exp);
    for (int ith = 0; ith < nth; ith++) tf_cpu_moe_gate(&nd, logits, out, T, ith, nth);
}

static void check_gate(const gate_case *c)
{
    float out[4 * 8];
    run_gate(c, 1, 1, out);
    for (int j = 0; j < c->k; j++) {
        assert_int_equal((int)out[j], c->ids[j]);
        assert_float_equal(out[c->k + j], c->w[j], 1e-6);
    }
    /* Several tokens split over 3 threads: the same values, bit for bit. */
    float out3[4 * 8];
    run_gate(c, 4, 3, out3);
    for (int t = 0; t < 4; t++)
        assert_memory_equal(out3 + t * 2 * c->k, out, sizeof(float) * 2 * (size_t)c->k);
}

static void test_gate_softmax(void **state)
{
    (void)state;
    /* softmax(1, 2, 3, 0): denominators 1 + e + e^2 + e^3 = 31.192874893 */
    double S = 1 + exp(1.0) + exp(2.0) + exp(3.0);
    gate_case plain = {4, 2, TF_GATING_SOFTMAX, false, 1.0f, {1, 2, 3, 0}, {2, 1},
                       {exp(3.0) / S, exp(2.0) / S}};
    assert_true(fabs(plain.w[0] - 0.6439142599) < 1e-9);
    check_gate(&plain);
    /* renormalised over the top 2: 1 / (1 + e^-1) and its complement */
    gate_case norm = {4, 2, TF_GATING_SOFTMAX, true, 1.0f, {1, 2, 3, 0}, {2, 1},
                      {0.7310585786, 0.2689414214}};
    check_gate(&norm);
    /* scaled after renormalising */
    gate_case scaled = {4, 2, TF_GATING_SOFTMAX, true, 2.5f, {1, 2, 3, 0}, {2, 1},
                        {2.5 * 0.7310585786, 2.5 * 0.2689414214}};
    check_gate(&scaled);
    gate_case top1 = {4, 1, TF_GATING_SOFTMAX, false, 1.0f, {0.5f, -1, 0.25f, 0.75f}, {3}, {0}};
    top1.w[0] = exp(0.75) / (exp(0.5) + exp(-1.0) + exp(0.25) + exp(0.75));
    check_gate(&top1);
}

static void test_gate_sigmoid(void **state)
{
    (void)state;
    /* sigmoid(0, 2, -1, 1) = 0.5, 0.8807970780, 0.2689414214, 0.7310585786 */
    gate_case plain = {4, 2, TF_GATING_SIGMOID, false, 1.0f, {0, 2, -1, 1}, {1, 3},
                       {0.8807970780, 0.7310585786}};
    check_gate(&plain);
    double s = 0.8807970780 + 0.7310585786;
    gate_case norm = {4, 2, TF_GATING_SIGMOID, true, 2.0f, {0, 2, -1, 1}, {1, 3},
                      {2 * 0.8807970780 / s, 2 * 0.7310585786 / s}};
    check_gate(&norm);
    gate_case three = {4, 3, TF_GATING_SIGMOID, false, 1.0f, {0, 2, -1, 1}, {1, 3, 0},
                       {0.8807970780, 0.7310585786, 0.5}};
    check_gate(&three);
}

static void test_gate_ties(void **state)
{
    (void)state;
    /* Equal logits: the lower expert index wins every tie. */
    double S = exp(1.0) + 3 * exp(3.0) + 1;
    gate_case tie = {5, 2, TF_GATING_SOFTMAX, false, 1.0f, {1, 3, 3, 3, 0}, {1, 2},
                     {exp(3.0) / S, exp(3.0) / S}};
    check_gate(&tie);
    gate_case all = {8, 3, TF_GATING_SOFTMAX, true, 1.0f, {2, 2, 2, 2, 2, 2, 2, 2}, {0, 1, 2},
                     {1 / 3.0, 1 / 3.0, 1 / 3.0}};
    check_gate(&all);
    gate_case sig = {4, 2, TF_GATING_SIGMOID, false, 1.0f, {-5, 1, -5, 1}, {1, 3},
                     {0.7310585786, 0.7310585786}};
    check_gate(&sig);
}

/* ---- a float64 reference forward pass --------------------------------- */

typedef struct ref_info {
    double min_gap;   /* smallest gap between the k-th and (k+1)-th router prob */
    uint8_t used[8][64]; /* [layer][expert]: chosen by some token */
} ref_info;

static const float *W(const mm_model *mm, int il, const char *suffix)
{
    char n[80];
    if (il < 0) snprintf(n, sizeof n, "%s", suffix);
    else snprintf(n, sizeof n, "blk.%d.%s", il, suffix);
    return mm_get(mm, n);
}

static const float *B(const mm_model *mm, int il, bool has, const char *suffix)
{
    return has ? W(mm, il, suffix) : NULL;
}

/* y[N] = w[N][K] . x[K] (+ b) */
static void matvec(const float *w, const float *b, const double *x, int K, int N, double *y)
{
    for (int r = 0; r < N; r++) {
        double s = b ? b[r] : 0;
        for (int i = 0; i < K; i++) s += (double)w[(size_t)r * K + i] * x[i];
        y[r] = s;
    }
}

static void rmsnorm(const double *x, const float *w, int n, double *y)
{
    double ss = 0;
    for (int i = 0; i < n; i++) ss += x[i] * x[i];
    double sc = 1 / sqrt(ss / n + 1e-5);
    for (int i = 0; i < n; i++) y[i] = x[i] * sc * w[i];
}

static double silu(double g) { return g / (1 + exp(-g)); }

static void rope(double *v, int n_heads, int hd, int pos, bool neox)
{
    for (int h = 0; h < n_heads; h++)
        for (int i0 = 0; i0 < hd; i0 += 2) {
            double th = pos * pow(10000.0, -(double)i0 / hd), c = cos(th), s = sin(th);
            int a = neox ? i0 / 2 : i0, b = neox ? i0 / 2 + hd / 2 : i0 + 1;
            double x0 = v[h * hd + a], x1 = v[h * hd + b];
            v[h * hd + a] = x0 * c - x1 * s;
            v[h * hd + b] = x0 * s + x1 * c;
        }
}

/* Causal attention of every token over positions 0..t. */
static void attention(const mm_spec *sp, const double *q, const double *k, const double *v, int T,
                      double *out)
{
    int hd = sp->n_embd / sp->n_head, nq = sp->n_head * hd, nkv = sp->n_head_kv * hd;
    int group = sp->n_head / sp->n_head_kv;
    double p[64];
    for (int t = 0; t < T; t++)
        for (int h = 0; h < sp->n_head; h++) {
            int kh = h / group;
            double mx = -INFINITY, sum = 0;
            for (int j = 0; j <= t; j++) {
                double d = 0;
                for (int i = 0; i < hd; i++) d += q[t * nq + h * hd + i] * k[j * nkv + kh * hd + i];
                p[j] = d / sqrt((double)hd);
                mx = fmax(mx, p[j]);
            }
            for (int j = 0; j <= t; j++) sum += p[j] = exp(p[j] - mx);
            for (int i = 0; i < hd; i++) {
                double o = 0;
                for (int j = 0; j <= t; j++) o += p[j] / sum * v[j * nkv + kh * hd + i];
                out[t * nq + h * hd + i] = o;
            }
        }
}

/* Routed experts (+ shared expert) of one token's normed input h -> y. */
static void ref_moe(const mm_model *mm, int il, const double *h, double *y, ref_info *ri)
{
    const mm_spec *sp = &mm->sp;
    int e = sp->n_embd, ne = sp->n_expert, k = sp->n_expert_used, ff = sp->n_ff_exp;
    bool norm = sp->weights_norm >= 0 ? sp->weights_norm : !strcmp(sp->arch, "llama");
    double scale = sp->weights_scale > 0 ? sp->weights_scale : 1, lg[64], pr[64], g[512], u[512],
           a[512], d[512];
    matvec(W(mm, il, "ffn_gate_inp.weight"), NULL, h, e, ne, lg);
    double mx = -INFINITY, sum = 0;
    for (int i = 0; i < ne; i++) mx = fmax(mx, lg[i]);
    for (int i = 0; i < ne; i++)
        sum += pr[i] = sp->gating_func == 2 ? 1 / (1 + exp(-lg[i])) : exp(lg[i] - mx);
    if (sp->gating_func != 2)
        for (int i = 0; i < ne; i++) pr[i] /= sum;
    int ids[8];
    double w[8], wsum = 0;
    bool taken[64] = {0};
    for (int j = 0; j <= k && j < ne; j++) {
        int best = -1;
        for (int i = 0; i < ne; i++)
            if (!taken[i] && (best < 0 || pr[i] > pr[best])) best = i;
        if (j == k) { /* the first expert left out: how close was it? */
            ri->min_gap = fmin(ri->min_gap, w[k - 1] - pr[best]);
            break;
        }
        taken[best] = true;
        ids[j] = best;
        wsum += w[j] = pr[best];
        ri->used[il][best] = 1;
    }
    const float *wg = W(mm, il, "ffn_gate_exps.weight"), *wu = W(mm, il, "ffn_up_exps.weight"),
                *wd = W(mm, il, "ffn_down_exps.weight");
    for (int i = 0; i < e; i++) y[i] = 0;
    for (int j = 0; j < k; j++) {
        size_t x = (size_t)ids[j];
        matvec(wg + x * ff * e, NULL, h, e, ff, g);
        matvec(wu + x * ff * e, NULL, h, e, ff, u);
        for (int i = 0; i < ff; i++) a[i] = silu(g[i]) * u[i];
        matvec(wd + x * e * ff, NULL, a, ff, e, d);
        double wj = (norm ? w[j] / wsum : w[j]) * scale;
        for (int i = 0; i < e; i++) y[i] += wj * d[i];
    }
    if (!sp->n_ff_shexp) return;
    int fs = sp->n_ff_shexp;
    matvec(W(mm, il, "ffn_gate_shexp.weight"), NULL, h, e, fs, g);
    matvec(W(mm, il, "ffn_up_shexp.weight"), NULL, h, e, fs, u);
    for (int i = 0; i < fs; i++) a[i] = silu(g[i]) * u[i];
    matvec(W(mm, il, "ffn_down_shexp.weight"), NULL, a, fs, e, d);
    double gl = INFINITY; /* no gate vector: the shared expert counts fully */
    if (W(mm, il, "ffn_gate_inp_shexp.weight"))
        matvec(W(mm, il, "ffn_gate_inp_shexp.weight"), NULL, h, e, 1, &gl);
    for (int i = 0; i < e; i++) y[i] += d[i] / (1 + exp(-gl));
}

/* Logits of every position of toks[0..T) into out[T][n_vocab]. */
static void ref_forward(const mm_model *mm, const int32_t *toks, int T, double *out, ref_info *ri)
{
    const mm_spec *sp = &mm->sp;
    int e = sp->n_embd, hd = e / sp->n_head, nq = sp->n_head * hd, nkv = sp->n_head_kv * hd;
    bool neox = strcmp(sp->arch, "llama") != 0, qk_norm = !strcmp(sp->arch, "olmoe");
    bool bias = !strcmp(sp->arch, "qwen2moe");
    size_t n = (size_t)T * 512;
    double *x = calloc(n, 8), *h = calloc(n, 8), *q = calloc(n, 8), *k = calloc(n, 8),
           *v = calloc(n, 8), *a = calloc(n, 8), *tmp = calloc(512, 8);
    assert_non_null(tmp);
    memset(ri, 0, sizeof *ri);
    ri->min_gap = INFINITY;
    const float *emb = W(mm, -1, "token_embd.weight");
    for (int t = 0; t < T; t++)
        for (int i = 0; i < e; i++) x[t * e + i] = emb[(size_t)toks[t] * e + i];
    for (int il = 0; il < sp->n_layer; il++) {
        for (int t = 0; t < T; t++) {
            rmsnorm(x + t * e, W(mm, il, "attn_norm.weight"), e, h + t * e);
            const double *ht = h + t * e;
            matvec(W(mm, il, "attn_q.weight"), B(mm, il, bias, "attn_q.bias"), ht, e, nq,
                   q + t * nq);
            matvec(W(mm, il, "attn_k.weight"), B(mm, il, bias, "attn_k.bias"), ht, e, nkv,
                   k + t * nkv);
            matvec(W(mm, il, "attn_v.weight"), B(mm, il, bias, "attn_v.bias"), ht, e, nkv,
                   v + t * nkv);
            if (qk_norm) {
                rmsnorm(q + t * nq, W(mm, il, "attn_q_norm.weight"), nq, tmp);
                memcpy(q + t * nq, tmp, sizeof(double) * (size_t)nq);
                rmsnorm(k + t * nkv, W(mm, il, "attn_k_norm.weight"), nkv, tmp);
                memcpy(k + t * nkv, tmp, sizeof(double) * (size_t)nkv);
            }
            rope(q + t * nq, sp->n_head, hd, t, neox);
            rope(k + t * nkv, sp->n_head_kv, hd, t, neox);
        }
        attention(sp, q, k, v, T, a);
        for (int t = 0; t < T; t++) {
            matvec(W(mm, il, "attn_output.weight"), NULL, a + t * nq, nq, e, tmp);
            for (int i = 0; i < e; i++) x[t * e + i] += tmp[i];
            rmsnorm(x + t * e, W(mm, il, "ffn_norm.weight"), e, h + t * e);
            ref_moe(mm, il, h + t * e, tmp, ri);
            for (int i = 0; i < e; i++) x[t * e + i] += tmp[i];
        }
    }
    for (int t = 0; t < T; t++) {
        rmsnorm(x + t * e, W(mm, -1, "output_norm.weight"), e, h);
        matvec(W(mm, -1, "output.weight"), NULL, h, e, sp->n_vocab, out + (size_t)t * sp->n_vocab);
    }
    free(x); free(h); free(q); free(k); free(v); free(a); free(tmp);
}

/* ---- running the engine on a generated model -------------------------- */

static mm_spec small_spec(const char *arch, uint32_t wtype, uint64_t seed)
{
    mm_spec sp = {.arch = arch, .n_embd = 64, .n_layer = 2, .n_head = 4, .n_head_kv = 2,
                  .n_vocab = 64, .n_ctx = 64, .n_ff = 64, .n_expert = 8, .n_expert_used = 2,
                  .n_ff_exp = 64, .wtype = wtype, .seed = seed, .weights_norm = -1,
                  .keep_floats = true};
    if (!strcmp(arch, "qwen2moe")) sp.n_ff_shexp = 96;
    return sp;
}

/* Write mm to a temporary file and open it (status returned). */
static tf_status open_mm(const mm_model *mm, tf_model **m)
{
    char path[] = "/tmp/tinfer-moe-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    close(fd);
    assert_true(mm_save(mm, path));
    tf_status st = tf_model_open(path, NULL, m);
    unlink(path); /* the mapping stays valid */
    return st;
}

static tf_context *new_ctx(tf_model *m, int threads)
{
    tf_context_params cp = tf_context_default_params();
    cp.n_threads = threads;
    cp.kv_type = TF_KV_F32; /* compare against float64 without F16 rounding */
    tf_context *c;
    assert_int_equal(tf_context_new(m, &cp, &c), TF_OK);
    return c;
}

static double rel_err(const float *a, const double *b, int n)
{
    double d = 0, s = 0;
    for (int i = 0; i < n; i++) {
        d += (a[i] - b[i]) * (a[i] - b[i]);
        s += b[i] * b[i];
    }
    return sqrt(d / s);
}

/* Prompt of 3 tokens as one batch, then one decoded token: every logits
 * row against the float64 reference. */
static void check_against_reference(const mm_spec *sp)
{
    mm_model *mm = mm_build(sp);
    tf_model *m;
    assert_int_equal(open_mm(mm, &m), TF_OK);
    tf_context *c = new_ctx(m, 2);
    int32_t toks[4] = {5, 17, 42, 9};
    double ref[4 * 64];
    ref_info ri;
    ref_forward(mm, toks, 4, ref, &ri);
    /* A near-tie in the router would make this test about rounding. */
    printf("  %-9s smallest router gap %.3g\n", sp->arch, ri.min_gap);
    assert_true(ri.min_gap > 1e-4);
    assert_int_equal(tf_eval(c, toks, 3, true), TF_OK);
    const float *lg;
    for (int t = 0; t < 3; t++) {
        assert_int_equal(tf_logits(c, t, &lg), TF_OK);
        double err = rel_err(lg, ref + t * 64, 64);
        printf("  %-9s prompt row %d  rel err %.2e\n", sp->arch, t, err);
        assert_true(err < 1e-4);
    }
    assert_int_equal(tf_eval(c, toks + 3, 1, false), TF_OK);
    assert_int_equal(tf_logits(c, -1, &lg), TF_OK);
    double err = rel_err(lg, ref + 3 * 64, 64);
    printf("  %-9s decode row   rel err %.2e\n", sp->arch, err);
    assert_true(err < 1e-4);
    tf_context_free(c);
    tf_model_close(m);
    mm_free(mm);
}

static void test_ref_mixtral(void **state)
{
    (void)state;
    mm_spec sp = small_spec("llama", TF_TYPE_F32, 11);
    check_against_reference(&sp);
}

static void test_ref_qwen2moe(void **state)
{
    (void)state;
    mm_spec sp = small_spec("qwen2moe", TF_TYPE_F32, 12);
    check_against_reference(&sp);
}

static void test_ref_olmoe(void **state)
{
    (void)state;
    mm_spec sp = small_spec("olmoe", TF_TYPE_F32, 13);
    check_against_reference(&sp);
}

/* The generic keys override an arch's defaults: sigmoid router, no
 * renormalisation, a scale. */
static void test_ref_generic_keys(void **state)
{
    (void)state;
    mm_spec sp = small_spec("llama", TF_TYPE_F32, 14);
    sp.gating_func = 2;
    sp.weights_norm = 0;
    sp.weights_scale = 2.5f;
    check_against_reference(&sp);
    sp = small_spec("qwen2moe", TF_TYPE_F32, 15);
    sp.weights_norm = 1;
    check_against_reference(&sp);
    /* expert_shared_count on a llama file: an ungated shared expert. */
    sp = small_spec("llama", TF_TYPE_F32, 17);
    sp.n_expert_shared = 1;
    sp.n_ff_shexp = 64;
    sp.no_shexp_gate = true;
    check_against_reference(&sp);
}

/* ---- (b) expert weight bytes read ------------------------------------- */

/* Bytes of one expert's gate + up + down matrices. */
static uint64_t expert_bytes(const mm_spec *sp)
{
    uint64_t gu = tf_row_size(sp->wtype, sp->n_embd) * (uint64_t)sp->n_ff_exp;
    return 2 * gu + tf_row_size(sp->wtype, sp->n_ff_exp) * (uint64_t)sp->n_embd;
}

static uint64_t eval_bytes(tf_context *c, const int32_t *toks, size_t n)
{
    atomic_store(&tf_cpu_moe_bytes_read, 0);
    assert_int_equal(tf_eval(c, toks, n, false), TF_OK);
    return atomic_load(&tf_cpu_moe_bytes_read);
}

static void bytes_for_type(uint32_t wtype)
{
    mm_spec sp = small_spec("llama", wtype, 21);
    mm_model *mm = mm_build(&sp);
    tf_model *m;
    assert_int_equal(open_mm(mm, &m), TF_OK);
    tf_context *c = new_ctx(m, 2);
    uint64_t E = expert_bytes(&sp), L = (uint64_t)sp.n_layer, k = (uint64_t)sp.n_expert_used;
    int32_t one = 7;
    uint64_t b = eval_bytes(c, &one, 1);
    printf("  %-5s decode: %llu bytes = %.2f experts per layer (k = %llu of %d)\n",
           tf_type_name(wtype), (unsigned long long)b, (double)b / (double)(E * L),
           (unsigned long long)k, sp.n_expert);
    assert_int_equal(b, L * k * E);
    b = eval_bytes(c, &one, 1); /* a second step, now with history */
    assert_int_equal(b, L * k * E);
    /* 16 copies of one token route alike: still exactly k experts a layer,
     * not 16 * k. */
    int32_t same[16];
    for (int i = 0; i < 16; i++) same[i] = 7;
    tf_context_reset(c);
    b = eval_bytes(c, same, 16);
    printf("  %-5s 16 equal tokens: %.2f experts per layer\n", tf_type_name(wtype),
           (double)b / (double)(E * L));
    assert_int_equal(b, L * k * E);
    tf_context_free(c);
    tf_model_close(m);
    mm_free(mm);
}

static void test_bytes_decode(void **state)
{
    (void)state;
    bytes_for_type(TF_TYPE_F32);
    bytes_for_type(TF_TYPE_Q8_0);
    bytes_for_type(TF_TYPE_F16);
}

/* 16 different tokens: each (layer, expert) pair the reference routes to
 * is read exactly once; the logits are the same for 1 and 2 threads. */
static void test_bytes_prompt(void **state)
{
    (void)state;
    mm_spec sp = small_spec("llama", TF_TYPE_F32, 22);
    mm_model *mm = mm_build(&sp);
    tf_model *m;
    assert_int_equal(open_mm(mm, &m), TF_OK);
    int32_t toks[16];
    for (int i = 0; i < 16; i++) toks[i] = 3 + (i * 37) % 61;
    ref_info ri;
    double *ref = malloc(16 * 64 * sizeof *ref);
    assert_non_null(ref);
    ref_forward(mm, toks, 16, ref, &ri);
    assert_true(ri.min_gap > 1e-4);
    uint64_t pairs = 0;
    for (int il = 0; il < sp.n_layer; il++)
        for (int e = 0; e < sp.n_expert; e++) pairs += ri.used[il][e];
    float out[2][64];
    for (int th = 1; th <= 2; th++) {
        tf_context *c = new_ctx(m, th);
        uint64_t b = eval_bytes(c, toks, 16);
        printf("  16 tokens, %d thread(s): %llu bytes = %llu (layer, expert) pairs read once "
               "(a per-token loop would read %d)\n", th, (unsigned long long)b,
               (unsigned long long)(b / expert_bytes(&sp)), 16 * sp.n_expert_used * sp.n_layer);
        assert_int_equal(b, pairs * expert_bytes(&sp));
        const float *lg;
        assert_int_equal(tf_logits(c, -1, &lg), TF_OK);
        memcpy(out[th - 1], lg, sizeof out[0]);
        assert_true(rel_err(lg, ref + 15 * 64, 64) < 1e-4);
        tf_context_free(c);
    }
    assert_memory_equal(out[0], out[1], sizeof out[0]);
    free(ref);
    tf_model_close(m);
    mm_free(mm);
}

/* ---- loader: hyperparameters and errors ------------------------------- */

static void test_describe(void **state)
{
    (void)state;
    mm_spec sp = small_spec("qwen2moe", TF_TYPE_F16, 31);
    mm_model *mm = mm_build(&sp);
    tf_model *m;
    assert_int_equal(open_mm(mm, &m), TF_OK);
    tf_model_desc d;
    assert_int_equal(tf_model_describe(m, &d), TF_OK);
    assert_string_equal(d.arch, "qwen2moe");
    assert_int_equal(d.n_expert, 8);
    assert_int_equal(d.n_expert_used, 2);
    assert_int_equal(d.n_ff_exp, 64);
    assert_int_equal(d.n_expert_shared, 1);
    assert_int_equal(d.n_ff_shexp, 96);
    tf_model_close(m);
    mm_free(mm);
    sp = small_spec("olmoe", TF_TYPE_F16, 32);
    mm = mm_build(&sp);
    assert_int_equal(open_mm(mm, &m), TF_OK);
    assert_int_equal(tf_model_describe(m, &d), TF_OK);
    assert_int_equal(d.n_expert_shared, 0);
    assert_int_equal(d.n_ff_exp, 64);
    tf_model_close(m);
    mm_free(mm);
}

/* Open must fail with status st and a message containing want. */
static void expect_fail(mm_model *mm, tf_status st, const char *want)
{
    tf_model *m = NULL;
    tf_status got = open_mm(mm, &m);
    printf("  expect '%s': %s\n", want, tf_last_error());
    assert_int_equal(got, st);
    assert_null(m);
    assert_non_null(strstr(tf_last_error(), want));
    mm_free(mm);
}

static void test_load_errors(void **state)
{
    (void)state;
    mm_spec sp = small_spec("olmoe", TF_TYPE_F16, 41);
    sp.n_expert = 0;
    expect_fail(mm_build(&sp), TF_ERR_FORMAT, "needs experts");
    sp = small_spec("llama", TF_TYPE_F16, 42);
    sp.gating_func = 3;
    expect_fail(mm_build(&sp), TF_ERR_UNSUPPORTED, "expert_gating_func 3");
    sp = small_spec("qwen2moe", TF_TYPE_F16, 43);
    mm_model *mm = mm_build(&sp);
    gw_tdel(&mm->gw, "blk.1.ffn_gate_inp_shexp.weight");
    expect_fail(mm, TF_ERR_FORMAT, "blk.1.ffn_gate_inp_shexp.weight");
    sp = small_spec("qwen2moe", TF_TYPE_F16, 44);
    mm = mm_build(&sp);
    gw_set_u32(&mm->gw, "qwen2moe.expert_shared_count", 0);
    expect_fail(mm, TF_ERR_FORMAT, "shared expert");
    sp = small_spec("olmoe", TF_TYPE_F16, 45);
    mm = mm_build(&sp);
    gw_tdel(&mm->gw, "blk.0.attn_k_norm.weight");
    expect_fail(mm, TF_ERR_FORMAT, "blk.0.attn_k_norm.weight");
    sp = small_spec("qwen2", TF_TYPE_F16, 48);
    expect_fail(mm_build(&sp), TF_ERR_UNSUPPORTED, "'qwen2' with experts is not supported");
    /* A MoE architecture tinfer does not know. */
    sp = small_spec("llama", TF_TYPE_F16, 46);
    sp.arch = "qwen3moe";
    expect_fail(mm_build(&sp), TF_ERR_UNSUPPORTED, "'qwen3moe' is not supported");
    sp = small_spec("llama", TF_TYPE_F16, 47);
    mm = mm_build(&sp);
    gw_set_f(&mm->gw, "llama.expert_weights_scale", TF_GGUF_F32, -1.0);
    expect_fail(mm, TF_ERR_FORMAT, "expert_weights_scale");
}

int main(void)
{
    tf_kernels_init(false);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_gate_softmax),
        cmocka_unit_test(test_gate_sigmoid),
        cmocka_unit_test(test_gate_ties),
        cmocka_unit_test(test_ref_mixtral),
        cmocka_unit_test(test_ref_qwen2moe),
        cmocka_unit_test(test_ref_olmoe),
        cmocka_unit_test(test_ref_generic_keys),
        cmocka_unit_test(test_bytes_decode),
        cmocka_unit_test(test_bytes_prompt),
        cmocka_unit_test(test_describe),
        cmocka_unit_test(test_load_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
