/* test_vulkan.c - the Vulkan backend's ops (lib/backend_vk.c) against the
 * CPU, one at a time; test_vulkan_models.c runs whole models.
 *
 * Skipped, with a message, when the build has no Vulkan or no device
 * exists.  Otherwise every op alone on random inputs, odd sizes, every
 * weight type: the Vulkan result against the CPU backend (normalised MSE
 * below 1e-7 for elementwise ops, 5e-4 for products and attention, the
 * bounds of llama.cpp's backend tests; the CPU rounds activations to 8 bits
 * for quantized products, Vulkan keeps them F32), and the matrix and expert
 * products also against float64 over the dequantized weights (1e-9); both
 * the matrix-vector and the tiled product shaders, and the shared-memory
 * reductions of devices without subgroup arithmetic.
 * TINFER_VK_BENCH=1 prints each op's Vulkan time (warm, mean of 10).
 */
#include <math.h>
#include <stdbool.h>
#include <time.h>
#include <unistd.h>

#include "testutil.h"
#include "backend_cpu.h"
#include "vk_testutil.h"

/* ---- an op-level harness: a hand-built model, graph and context -------- */

#define MAX_W 16

typedef struct op_env {
    tf_model m;
    tf_weight w[MAX_W];
    int nw;
    tf_context c;
    uint64_t seed;
} op_env;

static void env_init(op_env *e, int32_t n_batch, uint32_t n_ctx, tf_kv_type kv)
{
    memset(e, 0, sizeof *e);
    e->seed = 0x9e3779b97f4a7c15ull ^ (uint64_t)n_batch * 7919u;
    e->m.params = tf_model_default_params();
    e->m.hp.n_layer = 1;
    e->m.hp.n_head = e->m.hp.n_head_kv = 1;
    e->m.hp.head_dim = 64;
    e->m.hp.rope_base = 10000.0f;
    e->m.hp.rope_freq_scale = 1.0f;
    e->c.m = &e->m;
    e->c.p = tf_context_default_params();
    e->c.p.n_threads = 2;
    e->c.p.kv_type = kv;
    e->c.n_ctx = n_ctx;
    e->c.n_batch = (uint32_t)n_batch;
    assert_int_equal(tf_graph_init(&e->c.graph, n_batch), 0);
}

static void env_free(op_env *e)
{
    for (int i = 0; i < e->nw; i++) free((void *)e->w[i].data);
    tf_graph_free(&e->c.graph);
    free(e->c.logits);
}

/* A random weight [ne0, ne1, ne2] of type `type` (values scale * [-1, 1)). */
static tf_weight *env_weight(op_env *e, uint32_t type, int64_t ne0, int64_t ne1, int64_t ne2, float scale)
{
    assert_true(e->nw < MAX_W);
    tf_weight *w = &e->w[e->nw++];
    size_t rb = tf_row_size(type, ne0), rows = (size_t)(ne1 * ne2);
    assert_true(rb > 0);
    float *f = malloc((size_t)ne0 * sizeof *f);
    uint8_t *data = malloc(rb * rows + 16);
    assert_non_null(f);
    assert_non_null(data);
    for (size_t r = 0; r < rows; r++) {
        for (int64_t i = 0; i < ne0; i++) f[i] = scale * tu_randf(&e->seed);
        tf_kernels_ref_of(type)->from_float(f, data + r * rb, ne0);
    }
    free(f);
    *w = (tf_weight){.name = "test", .data = data, .type = type, .ne = {ne0, ne1, ne2, 1}, .row_bytes = rb};
    return w;
}

/* An activation input: an embedding lookup from a random F32 table. */
static int env_input(op_env *e, int64_t ne0, float scale)
{
    return tf_g_embed(&e->c.graph, env_weight(e, TF_TYPE_F32, ne0, 256, 1, scale), ne0);
}

static void env_plan(op_env *e, int out)
{
    e->c.graph.out = out;
    tf_graph_plan(&e->c.graph);
    assert_false(e->c.graph.failed);
    e->c.logits = calloc((size_t)e->c.n_batch * (size_t)e->c.graph.nodes[out].ne0, sizeof(float));
    assert_non_null(e->c.logits);
}

typedef struct op_run {
    int32_t n_tokens, n_out;
} op_run;

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* Run the graph for each batch of runs in turn (positions continue), on
 * backend be; out gets every batch's output rows one after another.
 * Returns the seconds the computes took. */
static double env_run(op_env *e, const tf_backend_ops *be, const op_run *runs, int n_runs, float *out)
{
    char err[512] = "";
    e->c.be = be;
    tf_status st = be->init(&e->c, err, sizeof err);
    if (st) fprintf(stderr, "init on %s: %s\n", be->name, err);
    assert_int_equal(st, TF_OK);
    int64_t ne0 = e->c.graph.nodes[e->c.graph.out].ne0;
    int32_t tokens[512], past = 0;
    double t = 0;
    for (int k = 0; k < n_runs; k++) {
        for (int32_t i = 0; i < runs[k].n_tokens; i++) tokens[i] = (int32_t)((i * 37 + k * 11 + 5) % 256);
        tf_run r = {.tokens = tokens, .n_tokens = runs[k].n_tokens, .n_past = past, .n_out = runs[k].n_out,
                    .logits = e->c.logits};
        double t0 = now_s();
        st = be->compute(&e->c, &r);
        t += now_s() - t0;
        if (st) fprintf(stderr, "compute on %s: %s\n", be->name, e->c.err);
        assert_int_equal(st, TF_OK);
        memcpy(out, e->c.logits, (size_t)runs[k].n_out * (size_t)ne0 * sizeof(float));
        out += runs[k].n_out * ne0;
        past += runs[k].n_tokens;
    }
    if (getenv("TINFER_VK_BENCH")) { /* the last batch again, warm */
        tf_run r = {.tokens = tokens, .n_tokens = runs[n_runs - 1].n_tokens, .n_past = 0,
                    .n_out = runs[n_runs - 1].n_out, .logits = e->c.logits};
        double t0 = now_s();
        for (int i = 0; i < 10; i++) assert_int_equal(be->compute(&e->c, &r), TF_OK);
        t = (now_s() - t0) / 10;
    }
    be->free(&e->c);
    return t;
}

static size_t total_rows(const op_run *runs, int n)
{
    size_t r = 0;
    for (int i = 0; i < n; i++) r += (size_t)runs[i].n_out;
    return r;
}

/* Run on both backends and compare; returns the Vulkan output (caller
 * frees) when want_out. */
static float *env_compare(op_env *e, const char *label, const op_run *runs, int n_runs, double bound,
                          float **cpu_out)
{
    size_t n = total_rows(runs, n_runs) * (size_t)e->c.graph.nodes[e->c.graph.out].ne0;
    float *a = malloc(n * sizeof *a), *b = malloc(n * sizeof *b);
    assert_non_null(a);
    assert_non_null(b);
    env_run(e, &tf_backend_cpu, runs, n_runs, b);
    double t = env_run(e, &tf_backend_vk, runs, n_runs, a);
    double err = nmse(a, b, n);
    bool ok = err < bound && !isnan(err);
    printf("  %-44s nmse %.2e (bound %.0e)%s", label, err, bound, ok ? "" : "  FAILED");
    if (getenv("TINFER_VK_BENCH")) printf("  vk %.2f ms", t * 1e3);
    printf("\n");
    assert_true(ok);
    if (cpu_out) *cpu_out = b;
    else free(b);
    return a;
}

/* ---- matrix products, every weight type ---------------------------------- */

static const uint32_t k_types[] = {TF_TYPE_F32, TF_TYPE_F16, TF_TYPE_Q4_0, TF_TYPE_Q4_1, TF_TYPE_Q5_0,
                                   TF_TYPE_Q5_1, TF_TYPE_Q8_0, TF_TYPE_Q4_K, TF_TYPE_Q5_K, TF_TYPE_Q6_K};
#define N_TYPES (sizeof k_types / sizeof k_types[0])

/* K per type: odd for F32/F16 (rows end inside a quad), whole blocks else. */
static int64_t k_of(uint32_t type)
{
    if (type == TF_TYPE_F32 || type == TF_TYPE_F16) return 93;
    return tf_type_traits_of(type)->blck == 256 ? 512 : 96;
}

/* float64 product of the dequantized weights with the F32 inputs. */
static double exact_err(const op_env *e, const tf_weight *w, const tf_weight *table, const tf_weight *bias,
                        const op_run *runs, int n_runs, const float *got)
{
    int64_t K = w->ne[0], N = w->ne[1];
    float *wd = malloc((size_t)(K * N) * sizeof *wd);
    assert_non_null(wd);
    for (int64_t r = 0; r < N; r++)
        tf_kernels_ref_of(w->type)->to_float((const uint8_t *)w->data + r * w->row_bytes, wd + r * K, K);
    double d = 0, s = 0;
    for (int k = 0, row = 0; k < n_runs; k++)
        for (int32_t t = runs[k].n_tokens - runs[k].n_out; t < runs[k].n_tokens; t++, row++) {
            const float *x = (const float *)table->data + (size_t)((t * 37 + k * 11 + 5) % 256) * K;
            for (int64_t r = 0; r < N; r++) {
                double v = bias ? ((const float *)bias->data)[r] : 0;
                for (int64_t i = 0; i < K; i++) v += (double)wd[r * K + i] * x[i];
                double g = got[(size_t)row * N + r];
                d += (g - v) * (g - v);
                s += v * v;
            }
        }
    (void)e;
    free(wd);
    return d / s;
}

static void matmul_case(uint32_t type, int32_t T, bool bias, int32_t n_batch)
{
    op_env e;
    env_init(&e, n_batch, 256, TF_KV_F16);
    int64_t K = k_of(type), N = 67;
    int x = env_input(&e, K, 1.0f);
    const tf_weight *table = e.c.graph.nodes[x].w;
    tf_weight *w = env_weight(&e, type, K, N, 1, 0.5f);
    tf_weight *b = bias ? env_weight(&e, TF_TYPE_F32, N, 1, 1, 1.0f) : NULL;
    env_plan(&e, tf_g_matmul(&e.c.graph, w, x, b));
    op_run runs[2] = {{T, T}, {1, 1}};
    char label[96];
    snprintf(label, sizeof label, "matmul %-4s K %3lld N %lld T %2d%s", tf_type_name(type), (long long)K,
             (long long)N, T, bias ? " +bias" : "");
    float *got = env_compare(&e, label, runs, 2, 5e-4, NULL);
    double ex = exact_err(&e, w, table, b, runs, 2, got);
    printf("  %-44s nmse %.2e vs float64 of the dequantized weights\n", "", ex);
    assert_true(ex < 1e-9);
    free(got);
    env_free(&e);
}

/* Timing only: a 4096 x 256 Q4_0 product at T = 1 and 20. */
static void big_matmul(void)
{
    for (int k = 0; k < 2; k++) {
        op_env e;
        env_init(&e, 32, 256, TF_KV_F16);
        int x = env_input(&e, 256, 1.0f);
        env_plan(&e, tf_g_matmul(&e.c.graph, env_weight(&e, TF_TYPE_Q4_0, 256, 4096, 1, 0.5f), x, NULL));
        op_run runs[1] = {{k ? 20 : 1, k ? 20 : 1}};
        free(env_compare(&e, k ? "big matmul T 20" : "big matmul T 1", runs, 1, 5e-4, NULL));
        env_free(&e);
    }
}

static void test_matmul_types(void **state)
{
    (void)state;
    SKIP_WITHOUT_VK();
    for (int path = 1; path <= 2; path++) { /* matrix-vector, tiled */
        tf_vk_matmul_path = path;
        printf(" %s shaders\n", path == 1 ? "matrix-vector" : "tiled");
        for (size_t i = 0; i < N_TYPES; i++) {
            matmul_case(k_types[i], 5, i == 0, 16);
            matmul_case(k_types[i], 70, i == 2, 80); /* partial tiles */
        }
        matmul_case(TF_TYPE_Q8_0, 13, true, 64);
        matmul_case(TF_TYPE_F16, 1, false, 8);
    }
    tf_vk_matmul_path = 0;
    if (getenv("TINFER_VK_BENCH_BIG")) big_matmul();
}

/* ---- embedding lookup, every type -------------------------------------- */

static void test_embed_types(void **state)
{
    (void)state;
    SKIP_WITHOUT_VK();
    for (size_t i = 0; i < N_TYPES; i++) {
        op_env e;
        env_init(&e, 16, 64, TF_KV_F16);
        int64_t K = k_of(k_types[i]);
        env_plan(&e, tf_g_embed(&e.c.graph, env_weight(&e, k_types[i], K, 256, 1, 1.0f), K));
        op_run runs[2] = {{11, 11}, {1, 1}};
        char label[64];
        snprintf(label, sizeof label, "embed %s K %lld", tf_type_name(k_types[i]), (long long)K);
        free(env_compare(&e, label, runs, 2, 1e-12, NULL));
        env_free(&e);
    }
}

/* ---- norms and elementwise ops ------------------------------------------- */

static void test_elementwise(void **state)
{
    (void)state;
    SKIP_WITHOUT_VK();
    const int64_t n = 301;
    op_run runs[2] = {{9, 9}, {1, 1}};
    for (int op = 0; op < 4; op++) {
        op_env e;
        env_init(&e, 16, 64, TF_KV_F16);
        int a = env_input(&e, n, 2.0f), out;
        const char *label;
        if (op == 0) {
            out = tf_g_rms_norm(&e.c.graph, a, env_weight(&e, TF_TYPE_F32, n, 1, 1, 1.0f), 1e-5f);
            label = "rms_norm n 301";
        } else if (op == 1) {
            out = tf_g_add(&e.c.graph, a, env_input(&e, n, 1.0f));
            label = "add n 301";
        } else if (op == 2) {
            out = tf_g_swiglu(&e.c.graph, a, env_input(&e, n, 1.0f));
            label = "swiglu n 301";
        } else {
            out = tf_g_sigmoid_gate(&e.c.graph, a, env_input(&e, 1, 3.0f));
            label = "sigmoid_gate n 301";
        }
        env_plan(&e, out);
        free(env_compare(&e, label, runs, 2, 1e-7, NULL));
        env_free(&e);
    }
}

/* LAST_ROW and the nodes after it: all rows, then only the last one. */
static void test_last_row(void **state)
{
    (void)state;
    SKIP_WITHOUT_VK();
    for (int all = 0; all < 2; all++) {
        op_env e;
        env_init(&e, 32, 64, TF_KV_F16);
        int x = tf_g_last_row(&e.c.graph, env_input(&e, 96, 1.0f));
        x = tf_g_rms_norm(&e.c.graph, x, env_weight(&e, TF_TYPE_F32, 96, 1, 1, 1.0f), 1e-5f);
        env_plan(&e, tf_g_matmul(&e.c.graph, env_weight(&e, TF_TYPE_Q8_0, 96, 130, 1, 1.0f), x, NULL));
        op_run runs[3] = {{13, all ? 13 : 1}, {1, 1}, {20, all ? 20 : 1}};
        free(env_compare(&e, all ? "last_row: all rows" : "last_row: last row only", runs, 3, 5e-4, NULL));
        env_free(&e);
    }
}

/* ---- rope ---------------------------------------------------------------- */

static void rope_case(int mode, int n_rot, bool yarn)
{
    op_env e;
    env_init(&e, 128, 512, TF_KV_F16);
    tf_hparams *hp = &e.m.hp;
    hp->rope_base = 10000.0f;
    if (yarn) {
        hp->rope_scaling = TF_ROPE_SCALING_YARN;
        hp->rope_freq_scale = 0.25f;
        hp->yarn_orig_ctx = 64;
        hp->yarn_ext_factor = 1.0f;
        hp->yarn_attn_factor = 1.0f;
        hp->yarn_beta_fast = 32.0f;
        hp->yarn_beta_slow = 1.0f;
    }
    int x = env_input(&e, 64 * 3, 1.0f);
    env_plan(&e, tf_g_rope(&e.c.graph, x, mode, 64, 3, n_rot));
    op_run runs[4] = {{9, 9}, {1, 1}, {100, 100}, {1, 1}};
    char label[64];
    snprintf(label, sizeof label, "rope %s n_rot %d%s", mode == TF_ROPE_NEOX ? "neox" : "norm", n_rot,
             yarn ? " yarn" : "");
    free(env_compare(&e, label, runs, 4, 1e-7, NULL));
    env_free(&e);
}

static void test_rope(void **state)
{
    (void)state;
    SKIP_WITHOUT_VK();
    rope_case(TF_ROPE_NORM, 64, false);
    rope_case(TF_ROPE_NEOX, 64, false);
    rope_case(TF_ROPE_NORM, 32, false);
    rope_case(TF_ROPE_NEOX, 48, true);
}

/* ---- attention ------------------------------------------------------------ */

static void attn_case(int n_head, int n_head_kv, int hd, tf_kv_type kv)
{
    op_env e;
    env_init(&e, 160, 512, kv);
    tf_hparams *hp = &e.m.hp;
    hp->n_head = n_head;
    hp->n_head_kv = n_head_kv;
    hp->head_dim = hd;
    int q = env_input(&e, (int64_t)n_head * hd, 1.0f);
    int k = env_input(&e, (int64_t)n_head_kv * hd, 1.0f);
    int v = env_input(&e, (int64_t)n_head_kv * hd, 1.0f);
    env_plan(&e, tf_g_attn(&e.c.graph, q, k, v, 0));
    op_run runs[4] = {{7, 7}, {1, 1}, {1, 1}, {150, 150}};
    char label[80];
    snprintf(label, sizeof label, "attn heads %d/%d hd %d KV %s", n_head, n_head_kv, hd,
             kv == TF_KV_F16 ? "F16" : "F32");
    free(env_compare(&e, label, runs, 4, 5e-4, NULL));
    env_free(&e);
}

static void test_attention(void **state)
{
    (void)state;
    SKIP_WITHOUT_VK();
    attn_case(8, 2, 64, TF_KV_F16);  /* GQA */
    attn_case(4, 4, 32, TF_KV_F16);  /* MHA */
    attn_case(6, 3, 64, TF_KV_F32);
    attn_case(2, 1, 256, TF_KV_F16); /* head dims past the workgroup size */
}

/* ---- mixture of experts ----------------------------------------------------- */

static float *dequant(const tf_weight *w)
{
    size_t rows = (size_t)(w->ne[1] * w->ne[2]);
    float *f = malloc(rows * (size_t)w->ne[0] * sizeof *f);
    assert_non_null(f);
    for (size_t r = 0; r < rows; r++)
        tf_kernels_ref_of(w->type)->to_float((const uint8_t *)w->data + r * w->row_bytes, f + r * w->ne[0],
                                             w->ne[0]);
    return f;
}

/* Token x's top-k experts and weights, in float64 (ties: lower index). */
static void exact_route(const float *router, const float *x, int64_t n, int n_exp, int k, int gating, bool norm,
                        float scale, int *ids, double *w)
{
    double p[64], mx = -INFINITY, sum = 0, wsum = 0;
    for (int e = 0; e < n_exp; e++) {
        p[e] = 0;
        for (int64_t i = 0; i < n; i++) p[e] += (double)router[e * n + i] * x[i];
        mx = p[e] > mx ? p[e] : mx;
    }
    for (int e = 0; e < n_exp; e++) sum += gating == TF_GATING_SIGMOID ? 0 : exp(p[e] - mx);
    for (int e = 0; e < n_exp; e++) p[e] = gating == TF_GATING_SIGMOID ? 1 / (1 + exp(-p[e])) : exp(p[e] - mx) / sum;
    for (int j = 0; j < k; j++) {
        int best = -1;
        for (int e = 0; e < n_exp; e++)
            if (p[e] >= 0 && (best < 0 || p[e] > p[best])) best = e;
        ids[j] = best;
        wsum += w[j] = p[best];
        p[best] = -1;
    }
    for (int j = 0; j < k; j++) w[j] = (norm ? w[j] / wsum : w[j]) * scale;
}

/* h = silu(gate_e x) * (up_e x) for expert e, in float64. */
static void exact_h(const float *wg, const float *wu, int e, int64_t ff, int64_t n, const float *x, double *h)
{
    const float *g = wg + (size_t)e * ff * n, *u = wu + (size_t)e * ff * n;
    for (int64_t f = 0; f < ff; f++) {
        double a = 0, b = 0;
        for (int64_t c = 0; c < n; c++) {
            a += (double)g[f * n + c] * x[c];
            b += (double)u[f * n + c] * x[c];
        }
        h[f] = a / (1 + exp(-a)) * b;
    }
}

/* The MoE FFN in float64 over the dequantized experts; NMSE of got. */
static double moe_exact_err(const op_env *e, const tf_node *gate, const tf_node *ffn, const op_run *runs, int n_runs,
                            const float *got)
{
    const tf_weight *table = e->c.graph.nodes[ffn->src[0]].w;
    const tf_weight *router = e->c.graph.nodes[gate->src[0]].w;
    int64_t n = ffn->w->ne[0], ff = ffn->w->ne[1];
    int n_exp = gate->ip[0], k = gate->ip[1];
    float *wg = dequant(ffn->w), *wu = dequant(ffn->w2), *wd = dequant(ffn->w3);
    double *h = malloc((size_t)(ff * k) * sizeof *h), d = 0, s = 0;
    assert_non_null(h);
    for (int r = 0, row = 0; r < n_runs; r++)
        for (int32_t t = runs[r].n_tokens - runs[r].n_out; t < runs[r].n_tokens; t++, row++) {
            const float *x = (const float *)table->data + (size_t)((t * 37 + r * 11 + 5) % 256) * n;
            int ids[8];
            double w[8];
            exact_route(router->data, x, n, n_exp, k, gate->ip[2], gate->ip[3], gate->fp[0], ids, w);
            for (int j = 0; j < k; j++) exact_h(wg, wu, ids[j], ff, n, x, h + j * ff);
            for (int64_t i = 0; i < n; i++) {
                double y = 0;
                for (int j = 0; j < k; j++) {
                    const float *dn = wd + ((size_t)ids[j] * n + (size_t)i) * ff;
                    double o = 0;
                    for (int64_t f = 0; f < ff; f++) o += (double)dn[f] * h[j * ff + f];
                    y += w[j] * o;
                }
                double v = got[(size_t)row * n + i];
                d += (v - y) * (v - y);
                s += y * y;
            }
        }
    free(wg);
    free(wu);
    free(wd);
    free(h);
    return d / s;
}

static void moe_case(uint32_t type, int n_exp, int k, int gating, bool norm, int T)
{
    op_env e;
    env_init(&e, 64, 128, TF_KV_F16);
    int64_t n_embd = tf_type_traits_of(type)->blck == 256 ? 256 : 96, ff = n_embd == 256 ? 256 : 64;
    e.m.hp.n_expert = n_exp;
    e.m.hp.n_expert_used = k;
    e.m.hp.n_ff_exp = (int32_t)ff;
    e.m.hp.n_embd = (int32_t)n_embd;
    int x = env_input(&e, n_embd, 1.0f);
    int logits = tf_g_matmul(&e.c.graph, env_weight(&e, TF_TYPE_F32, n_embd, n_exp, 1, 1.0f), x, NULL);
    int gate = tf_g_moe_gate(&e.c.graph, logits, n_exp, k, gating, norm, norm ? 1.0f : 2.5f);
    int f = tf_g_moe_ffn(&e.c.graph, x, gate, env_weight(&e, type, n_embd, ff, n_exp, 0.5f),
                         env_weight(&e, type, n_embd, ff, n_exp, 0.5f), env_weight(&e, type, ff, n_embd, n_exp, 0.5f));
    env_plan(&e, f);
    op_run runs[2] = {{T, T}, {1, 1}};
    char label[80];
    snprintf(label, sizeof label, "moe_ffn %s %d experts k %d %s T %d", tf_type_name(type), n_exp, k,
             gating == TF_GATING_SIGMOID ? "sigmoid" : "softmax", T);
    float *got = env_compare(&e, label, runs, 2, 5e-4, NULL);
    double ex = moe_exact_err(&e, &e.c.graph.nodes[gate], &e.c.graph.nodes[f], runs, 2, got);
    printf("  %-44s nmse %.2e vs float64 of the dequantized experts\n", "", ex);
    assert_true(ex < 1e-9);
    free(got);
    /* the gate alone: the same experts, the same weights */
    e.c.graph.out = gate;
    free(e.c.logits);
    e.c.logits = NULL;
    tf_graph_plan(&e.c.graph);
    e.c.logits = calloc((size_t)e.c.n_batch * 2 * (size_t)k, sizeof(float));
    float *cpu, *vk = env_compare(&e, "  moe_gate of the same", runs, 2, 1e-10, &cpu);
    for (int t = 0; t < T + 1; t++)
        for (int j = 0; j < k; j++) assert_int_equal((int)vk[t * 2 * k + j], (int)cpu[t * 2 * k + j]);
    free(vk);
    free(cpu);
    env_free(&e);
}

static void test_moe(void **state)
{
    (void)state;
    SKIP_WITHOUT_VK();
    for (int path = 1; path <= 2; path++) {
        tf_vk_matmul_path = path;
        printf(" %s expert shaders\n", path == 1 ? "matrix-vector" : "tiled");
        moe_case(TF_TYPE_F16, 8, 2, TF_GATING_SOFTMAX, true, 21);
        moe_case(TF_TYPE_Q8_0, 4, 2, TF_GATING_SOFTMAX, true, 3);
        moe_case(TF_TYPE_Q4_0, 16, 4, TF_GATING_SIGMOID, false, 37);
        moe_case(TF_TYPE_Q4_K, 6, 3, TF_GATING_SOFTMAX, false, 9);
    }
    tf_vk_matmul_path = 0;
}

/* ---- the shared-memory reductions (devices without subgroup arithmetic) -- */

static void test_without_subgroups(void **state)
{
    (void)state;
    SKIP_WITHOUT_VK();
    tf_vk_keep_device(false); /* a new device object, made with the variable set */
    setenv("TINFER_VK_NO_SUBGROUP", "1", 1);
    tf_vk_keep_device(true);
    char desc[512];
    assert_true(tf_vk_probe(desc, sizeof desc));
    printf("  %s\n", desc);
    assert_non_null(strstr(desc, "shared-memory reductions"));
    tf_vk_matmul_path = 1;
    for (size_t i = 0; i < N_TYPES; i++) matmul_case(k_types[i], 5, i == 0, 16);
    tf_vk_matmul_path = 0;
    op_env e;
    env_init(&e, 16, 64, TF_KV_F16);
    int x = env_input(&e, 301, 2.0f);
    env_plan(&e, tf_g_rms_norm(&e.c.graph, x, env_weight(&e, TF_TYPE_F32, 301, 1, 1, 1.0f), 1e-5f));
    op_run runs[2] = {{9, 9}, {1, 1}};
    free(env_compare(&e, "rms_norm n 301", runs, 2, 1e-7, NULL));
    env_free(&e);
    attn_case(8, 2, 64, TF_KV_F16);
    attn_case(2, 1, 256, TF_KV_F32);
    tf_vk_keep_device(false);
    unsetenv("TINFER_VK_NO_SUBGROUP");
    tf_vk_keep_device(true);
}

int main(void)
{
    vk_test_init();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_matmul_types), cmocka_unit_test(test_embed_types),
        cmocka_unit_test(test_elementwise),  cmocka_unit_test(test_last_row),
        cmocka_unit_test(test_rope),         cmocka_unit_test(test_attention),
        cmocka_unit_test(test_moe),          cmocka_unit_test(test_without_subgroups),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    tf_vk_keep_device(false);
    return rc;
}
