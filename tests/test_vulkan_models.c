/* test_vulkan_models.c - whole models on the Vulkan backend
 * (lib/backend_vk.c); test_vulkan.c checks the ops one by one.
 *
 * Skipped, with a message, when the build has no Vulkan or no device
 * exists.  Otherwise:
 * - generated qwen2moe (shared expert, sigmoid gate), olmoe (q/k norms) and
 *   Mixtral-style models against the CPU backend;
 * - golden replays of ../shared with `tinfer logits --backend vulkan`
 *   within golden/README.md's bounds (batch, and one token at a time for
 *   prompt 0), and a clear refusal for the types without shaders;
 * - device and type errors; the real model (TINFER_MODEL) answers as the
 *   CPU does;
 * - model runs under the Khronos validation layer with synchronization
 *   validation: zero errors.
 */
#include <dirent.h>
#include <math.h>
#include <stdbool.h>
#include <unistd.h>

#include "testutil.h"
#include "golden_cmp.h"
#include "moe_model.h"
#include "vk_testutil.h"

/* ---- generated qwen2moe / olmoe models (shared expert, q/k norms) ------- */

/* Logits of T tokens as a batch, then 3 single tokens, on one backend. */
static float *model_logits(const char *path, tf_backend_kind be, int T, int32_t n_vocab)
{
    tf_model_params mp = tf_model_default_params();
    mp.backend = be;
    tf_model *m;
    tf_context *c;
    assert_int_equal(tf_model_open(path, &mp, &m), TF_OK);
    tf_context_params cp = tf_context_default_params();
    cp.n_threads = 2;
    assert_int_equal(tf_context_new(m, &cp, &c), TF_OK);
    float *out = malloc((size_t)(T + 3) * (size_t)n_vocab * sizeof *out);
    assert_non_null(out);
    tf_token toks[64];
    for (int i = 0; i < T + 3; i++) toks[i] = 3 + (i * 29) % (n_vocab - 3);
    const float *l;
    assert_int_equal(tf_eval(c, toks, (size_t)T, true), TF_OK);
    for (int i = 0; i < T; i++) {
        assert_int_equal(tf_logits(c, i, &l), TF_OK);
        memcpy(out + (size_t)i * n_vocab, l, (size_t)n_vocab * sizeof *l);
    }
    for (int i = 0; i < 3; i++) {
        assert_int_equal(tf_eval(c, &toks[T + i], 1, false), TF_OK);
        assert_int_equal(tf_logits(c, -1, &l), TF_OK);
        memcpy(out + (size_t)(T + i) * n_vocab, l, (size_t)n_vocab * sizeof *l);
    }
    tf_context_free(c);
    tf_model_close(m);
    return out;
}

static void moe_model_case(const char *arch, uint32_t wtype)
{
    mm_spec sp = {.arch = arch, .n_embd = 64, .n_layer = 2, .n_head = 4, .n_head_kv = 2, .n_vocab = 64,
                  .n_ctx = 64, .n_ff = 64, .n_expert = 8, .n_expert_used = 2, .n_ff_exp = 64, .wtype = wtype,
                  .seed = 77, .weights_norm = -1};
    if (!strcmp(arch, "qwen2moe")) sp.n_ff_shexp = 96;
    mm_model *mm = mm_build(&sp);
    assert_non_null(mm);
    char path[] = "/tmp/tinfer-vk-moe-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    close(fd);
    assert_true(mm_save(mm, path));
    mm_free(mm);
    int T = 21;
    float *cpu = model_logits(path, TF_BACKEND_CPU, T, sp.n_vocab);
    float *vk = model_logits(path, TF_BACKEND_VULKAN, T, sp.n_vocab);
    unlink(path);
    /* Whole models: the CPU's 8-bit activations (quantized weights) add up
     * over the layers; with F32/F16 weights both sides compute in float. */
    bool quant = wtype != TF_TYPE_F32 && wtype != TF_TYPE_F16;
    double err = nmse(vk, cpu, (size_t)(T + 3) * (size_t)sp.n_vocab), bound = quant ? 2e-3 : 1e-5;
    printf("  %-10s %-5s model logits                 nmse %.2e (bound %.0e)\n", arch, tf_type_name(wtype), err,
           bound);
    assert_true(err < bound);
    free(cpu);
    free(vk);
}

static void test_moe_models(void **state)
{
    (void)state;
    SKIP_WITHOUT_VK();
    moe_model_case("qwen2moe", TF_TYPE_F32);
    moe_model_case("qwen2moe", TF_TYPE_Q8_0);
    moe_model_case("olmoe", TF_TYPE_F16);
    moe_model_case("llama", TF_TYPE_Q4_0);
}

/* ---- golden replays through the CLI ---------------------------------------- */

/* Types the Vulkan shaders refuse: the model must fail, naming the type. */
static bool vk_unsupported_model(const char *name)
{
    return strstr(name, "q2_k") || strstr(name, "q3_k") || strstr(name, "iq4_nl");
}

static int replay(const char *model, const char *tokens, const char *out, const char *extra)
{
    char cmd[10240];
    snprintf(cmd, sizeof cmd, CLI_ENV "%s logits -m %s --replay %s -o %s --backend vulkan %s 2>%s.err", tu_bin(),
             model, tokens, out, extra, out);
    return system(cmd);
}

static void test_golden_vulkan(void **state)
{
    (void)state;
    SKIP_WITHOUT_VK();
    char gdir[1024], root[1024], tmp[] = "/tmp/tinfer-vk-golden-XXXXXX";
    snprintf(gdir, sizeof gdir, "%s", tu_shared("golden"));
    snprintf(root, sizeof root, "%s", tu_shared(""));
    assert_non_null(mkdtemp(tmp));
    DIR *d = opendir(gdir);
    assert_non_null(d);
    struct dirent *e;
    int n = 0, bad = 0, refused = 0;
    while ((e = readdir(d))) {
        size_t len = strlen(e->d_name);
        if (len < 8 || strcmp(e->d_name + len - 7, ".tokens")) continue;
        char name[256], model[2400], tokens[2400], ref[2400], out[2400];
        snprintf(name, sizeof name, "%.*s", (int)(len - 7), e->d_name);
        char *dot = strrchr(name, '.');
        snprintf(model, sizeof model, "%s/models/%.*s.gguf", root, (int)(dot - name), name);
        snprintf(tokens, sizeof tokens, "%s/%s", gdir, e->d_name);
        snprintf(ref, sizeof ref, "%s/%s.logits.f32", gdir, name);
        snprintf(out, sizeof out, "%s/%s.f32", tmp, name);
        if (vk_unsupported_model(name)) { /* a clear refusal naming the type */
            assert_int_not_equal(replay(model, tokens, out, ""), 0);
            char errp[2500];
            snprintf(errp, sizeof errp, "%s.err", out);
            char *msg = tu_read_file(errp, NULL);
            bool clear = strstr(msg, "Vulkan shaders don't handle") && strstr(msg, "tensor '");
            printf("  %-24s refused: %s", name, clear ? msg : "WITHOUT A CLEAR MESSAGE\n");
            bad += !clear;
            refused++;
            free(msg);
            continue;
        }
        assert_int_equal(replay(model, tokens, out, ""), 0);
        int rows = replay_rows(tokens);
        bad += !within_bounds("batch", name, compare(out, ref, rows));
        n++;
        if (!strcmp(dot, ".0")) { /* prompt 0: one token at a time too */
            assert_int_equal(replay(model, tokens, out, "--one-by-one"), 0);
            bad += !within_bounds("1-by-1", name, compare(out, ref, rows));
        }
    }
    closedir(d);
    char cmd[1100];
    snprintf(cmd, sizeof cmd, "rm -rf %s", tmp);
    assert_int_equal(system(cmd), 0);
    printf("vulkan golden replays: %d files, %d refused (types without shaders), %d failures\n", n, refused, bad);
    assert_true(n >= 36);
    assert_int_equal(bad, 0);
}

/* ---- validation layer --------------------------------------------------------- */

static void run_model_evals(const char *model, tf_kv_type kv)
{
    tf_model_params mp = tf_model_default_params();
    mp.backend = TF_BACKEND_VULKAN;
    tf_model *m;
    tf_context *c;
    assert_int_equal(tf_model_open(model, &mp, &m), TF_OK);
    tf_context_params cp = tf_context_default_params();
    cp.n_batch = 32;
    cp.n_ctx = 128;
    cp.kv_type = kv;
    assert_int_equal(tf_context_new(m, &cp, &c), TF_OK);
    tf_token toks[32];
    for (int i = 0; i < 32; i++) toks[i] = (i * 131 + 7) % 4000;
    for (int path = 0; path <= 2; path++) { /* each path records its own command buffers */
        tf_vk_matmul_path = path;
        assert_int_equal(tf_eval(c, toks, 19, true), TF_OK);
        assert_int_equal(tf_eval(c, toks, 1, false), TF_OK);
        assert_int_equal(tf_eval(c, toks + 3, 5, false), TF_OK);
        assert_int_equal(tf_context_reset(c), TF_OK);
    }
    tf_vk_matmul_path = 0;
    tf_context_free(c);
    tf_model_close(m);
}

static void test_validation_layer(void **state)
{
    (void)state;
    SKIP_WITHOUT_VK();
    const char *manifest = "/usr/share/vulkan/explicit_layer.d/VkLayer_khronos_validation.json";
    if (access(manifest, R_OK) != 0) {
        fprintf(stderr, "FATAL: %s is missing (Debian: apt-get install vulkan-validationlayers)\n", manifest);
        fail();
    }
    tf_vk_keep_device(false); /* the next instance is created with the layer */
    setenv("VK_INSTANCE_LAYERS", "VK_LAYER_KHRONOS_validation", 1);
    setenv("VK_LAYER_ENABLES", "VK_VALIDATION_FEATURE_ENABLE_SYNCHRONIZATION_VALIDATION_EXT", 1);
    run_model_evals(tu_shared("models/tiny-moe-q4_0.gguf"), TF_KV_F16);
    run_model_evals(tu_shared("models/tiny-qwen2-f16.gguf"), TF_KV_F32);
    run_model_evals(tu_shared("models/tiny-llama-q4_k_m.gguf"), TF_KV_F16);
    unsetenv("VK_INSTANCE_LAYERS");
    unsetenv("VK_LAYER_ENABLES");
    const char *first;
    int n = tf_vk_debug_errors(&first);
    printf("  validation (core + synchronization): %d errors%s%s\n", n, n > 0 ? "; first: " : "",
           n > 0 ? first : "");
    assert_true(n >= 0); /* -1: no debug messenger was created */
    assert_int_equal(n, 0);
    tf_vk_keep_device(true);
}

/* ---- errors ------------------------------------------------------------------- */

static void test_errors(void **state)
{
    (void)state;
    SKIP_WITHOUT_VK();
    tf_model_params mp = tf_model_default_params();
    mp.backend = TF_BACKEND_VULKAN;
    mp.device = 99;
    tf_model *m;
    tf_context *c = NULL;
    assert_int_equal(tf_model_open(tu_shared("models/tiny-llama-q8_0.gguf"), &mp, &m), TF_OK);
    assert_int_equal(tf_context_new(m, NULL, &c), TF_ERR_INVALID_ARG);
    printf("  device 99: %s\n", tf_last_error());
    assert_non_null(strstr(tf_last_error(), "no device 99"));
    tf_model_close(m);
    mp.device = -1;
    assert_int_equal(tf_model_open(tu_shared("models/tiny-llama-iq4_nl.gguf"), &mp, &m), TF_OK);
    assert_int_equal(tf_context_new(m, NULL, &c), TF_ERR_UNSUPPORTED);
    printf("  IQ4_NL: %s\n", tf_last_error());
    assert_non_null(strstr(tf_last_error(), "IQ4_NL"));
    tf_model_close(m);
    /* a working context names its device */
    assert_int_equal(tf_model_open(tu_shared("models/tiny-llama-q8_0.gguf"), &mp, &m), TF_OK);
    assert_int_equal(tf_context_new(m, NULL, &c), TF_OK);
    printf("  backend: %s\n", tf_context_backend(c));
    assert_non_null(strstr(tf_context_backend(c), "vulkan device"));
    tf_context_free(c);
    tf_model_close(m);
}

/* ---- the real model (when tools/fetch-model.sh has fetched it) ---------------- */

static void test_real_model(void **state)
{
    (void)state;
    SKIP_WITHOUT_VK();
    const char *model = getenv("TINFER_MODEL");
    if (!model || access(model, R_OK) != 0) {
        printf("  skipped: TINFER_MODEL not set (tools/fetch-model.sh)\n");
        skip();
    }
    char cmd[4096], *out[2];
    for (int k = 0; k < 2; k++) {
        snprintf(cmd, sizeof cmd, CLI_ENV "%s run -m %s --chat --temp 0 -n 12 -p 'What is the capital of France?' "
                 "--backend %s 2>/dev/null > /tmp/tinfer-vk-real.%d.txt", tu_bin(), model, k ? "vulkan" : "cpu", k);
        assert_int_equal(system(cmd), 0);
        snprintf(cmd, sizeof cmd, "/tmp/tinfer-vk-real.%d.txt", k);
        out[k] = tu_read_file(cmd, NULL);
        unlink(cmd);
    }
    printf("  cpu:    %s  vulkan: %s", out[0], out[1]);
    assert_string_equal(out[0], out[1]);
    free(out[0]);
    free(out[1]);
}

int main(void)
{
    vk_test_init();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_moe_models),  cmocka_unit_test(test_errors),
        cmocka_unit_test(test_golden_vulkan), cmocka_unit_test(test_real_model),
        cmocka_unit_test(test_validation_layer),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    tf_vk_keep_device(false);
    return rc;
}
