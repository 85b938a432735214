/* bench_moe.c - cost of a mixture of experts against the dense model that
 * does the same arithmetic per token.
 *
 * usage: bench_moe [-t THREADS] [-w f16|q8_0] [-r RUNS] [-p PROMPT] [-g GEN] [-d DIR]
 *
 * Generates two random-weight llama models (tests/moe_model.h) with the
 * same attention: "moe" with 8 experts of n_ff_exp 1408, 2 used per
 * token, and "dense" whose FFN has n_ff 2816 = 2 experts.  n_embd 1024,
 * 4 layers, 16 heads (4 KV heads), vocabulary 4096.  Per token both
 * compute the same products; MoE reads 4x the FFN weights per prompt
 * batch (each used expert once) and the same bytes per decoded token.
 * Reports the best of RUNS for a PROMPT-token prompt (one batch) and the
 * mean per token of GEN decode steps after it, and the moe/dense ratios.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "tinfer.h"
#include "moe_model.h"

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

typedef struct result { double prompt_s, decode_s; } result;

static int fail(const char *what)
{
    fprintf(stderr, "bench_moe: %s: %s\n", what, tf_last_error());
    return 1;
}

static int bench(const char *path, int threads, int runs, int n_prompt, int n_gen, result *r)
{
    tf_model *m;
    if (tf_model_open(path, NULL, &m) != TF_OK) return fail("open");
    tf_context_params cp = tf_context_default_params();
    cp.n_ctx = (uint32_t)(n_prompt + n_gen + 8);
    cp.n_batch = (uint32_t)n_prompt;
    cp.n_threads = threads;
    tf_context *c;
    if (tf_context_new(m, &cp, &c) != TF_OK) {
        tf_model_close(m);
        return fail("context");
    }
    int32_t *toks = malloc((size_t)(n_prompt + n_gen) * sizeof *toks);
    uint64_t s = 12345;
    for (int i = 0; i < n_prompt + n_gen; i++)
        toks[i] = 3 + (int32_t)(mm_uniform(&s) * 2000 + 2000);
    r->prompt_s = 1e30;
    r->decode_s = 1e30;
    for (int run = 0; run <= runs; run++) { /* run 0 warms caches and pages */
        tf_context_reset(c);
        double t0 = now();
        if (tf_eval(c, toks, (size_t)n_prompt, false) != TF_OK) return fail(tf_context_error(c));
        double t1 = now();
        for (int i = 0; i < n_gen; i++)
            if (tf_eval(c, toks + n_prompt + i, 1, false) != TF_OK)
                return fail(tf_context_error(c));
        double t2 = now();
        if (run == 0) continue;
        if (t1 - t0 < r->prompt_s) r->prompt_s = t1 - t0;
        if ((t2 - t1) / n_gen < r->decode_s) r->decode_s = (t2 - t1) / n_gen;
    }
    free(toks);
    tf_context_free(c);
    tf_model_close(m);
    return 0;
}

static int make_model(const char *path, bool moe, uint32_t wtype)
{
    mm_spec sp = {.arch = "llama", .n_embd = 1024, .n_layer = 4, .n_head = 16, .n_head_kv = 4,
                  .n_vocab = 4096, .n_ctx = 4096, .n_ff = moe ? 1408 : 2 * 1408,
                  .n_expert = moe ? 8 : 0, .n_expert_used = moe ? 2 : 0, .n_ff_exp = 1408,
                  .wtype = wtype, .seed = 7, .weights_norm = -1};
    mm_model *mm = mm_build(&sp);
    bool ok = mm_save(mm, path);
    mm_free(mm);
    if (!ok) fprintf(stderr, "bench_moe: cannot write %s\n", path);
    return ok ? 0 : 1;
}

int main(int argc, char **argv)
{
    int threads = (int)sysconf(_SC_NPROCESSORS_ONLN), runs = 3, n_prompt = 128, n_gen = 32;
    uint32_t wtype = TF_TYPE_Q8_0;
    const char *dir = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "-t")) threads = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "-r")) runs = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "-p")) n_prompt = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "-g")) n_gen = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "-d")) dir = argv[i + 1];
        else if (!strcmp(argv[i], "-w"))
            wtype = !strcmp(argv[i + 1], "f16") ? TF_TYPE_F16 : TF_TYPE_Q8_0;
        else {
            fprintf(stderr, "usage: bench_moe [-t THREADS] [-w f16|q8_0] [-r RUNS] [-p PROMPT] "
                            "[-g GEN] [-d DIR]\n");
            return 2;
        }
    }
    if (threads < 1 || runs < 1 || n_prompt < 1 || n_gen < 1) return 2;
    tf_kernels_init(false);
    char pm[1024], pd[1024];
    snprintf(pm, sizeof pm, "%s/bench-moe-%d.gguf", dir, (int)getpid());
    snprintf(pd, sizeof pd, "%s/bench-dense-%d.gguf", dir, (int)getpid());
    if (make_model(pm, true, wtype) || make_model(pd, false, wtype)) return 1;
    result rm, rd;
    int rc = bench(pm, threads, runs, n_prompt, n_gen, &rm) ||
             bench(pd, threads, runs, n_prompt, n_gen, &rd);
    unlink(pm);
    unlink(pd);
    if (rc) return 1;
    printf("weights %s, %d threads, n_embd 1024, 4 layers, 8 experts x 1408 (2 used) vs dense "
           "n_ff 2816\n", tf_type_name(wtype), threads);
    printf("%-6s %14s %14s\n", "model", "prompt (ms)", "decode (ms/t)");
    printf("%-6s %10.1f (%d) %14.2f\n", "moe", rm.prompt_s * 1e3, n_prompt, rm.decode_s * 1e3);
    printf("%-6s %10.1f (%d) %14.2f\n", "dense", rd.prompt_s * 1e3, n_prompt, rd.decode_s * 1e3);
    printf("ratio moe/dense: prompt %.2fx (target <= 2), decode %.2fx (target <= 1.3)\n",
           rm.prompt_s / rd.prompt_s, rm.decode_s / rd.decode_s);
    return 0;
}
