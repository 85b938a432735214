/* bench_attn.c - one layer's attention over an F16 KV cache: the tiled
 * version (lib/attn.c, at the kernel level this CPU runs) against the
 * former straightforward one (tf_attn_naive), one thread, random data,
 * head size 64.  Prompts are evaluated from an empty cache; decoding is
 * one token after n_past cached positions.  Best of -r runs.
 *
 *   bench/bench_attn.sh [-r RUNS]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "attn.h"
#include "kernels.h"

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* Best time of runs of the tiled (naive = false) or naive version. */
static double time_attn(int nh, int nkv, int n_past, int T, bool naive, int runs)
{
    const int hd = 64;
    size_t qn = (size_t)nh * hd, kvn = (size_t)nkv * hd, npos = (size_t)n_past + T;
    float *q = malloc(T * qn * sizeof(float)), *out = malloc(T * qn * sizeof(float));
    uint16_t *k = malloc(npos * kvn * 2), *v = malloc(npos * kvn * 2);
    float *scratch = malloc((tf_attn_scratch_floats(hd) + npos + hd) * sizeof(float));
    if (!q || !out || !k || !v || !scratch) { fprintf(stderr, "bench_attn: out of memory\n"); exit(1); }
    uint64_t s = 88172645463325252ull;
    for (size_t i = 0; i < T * qn; i++) {
        s ^= s << 13, s ^= s >> 7, s ^= s << 17;
        q[i] = (float)((s >> 40) / 8388608.0 - 1.0) * 2;
    }
    for (size_t i = 0; i < npos * kvn; i++) {
        s ^= s << 13, s ^= s >> 7, s ^= s << 17;
        k[i] = tf_f32_to_f16((float)((s >> 40) / 8388608.0 - 1.0));
        v[i] = tf_f32_to_f16((float)((s & 0xffffff) / 8388608.0 - 1.0));
    }
    tf_attn a = {.q = q, .q_stride = qn, .k = k, .v = v, .row_bytes = kvn * 2, .f16 = true, .hd = hd,
                 .n_head = nh, .n_head_kv = nkv, .n_past = n_past, .T = T, .scale = 0.125f,
                 .out = out, .out_stride = qn};
    double best = 1e30;
    for (int r = 0; r < runs; r++) {
        double t0 = now_s();
        if (naive) tf_attn_naive(&a, scratch, 0, (int64_t)T * nh);
        else tf_attn_run(&a, scratch, 0, 1);
        double t = now_s() - t0;
        best = t < best ? t : best;
    }
    free(q);
    free(out);
    free(k);
    free(v);
    free(scratch);
    return best;
}

int main(int argc, char **argv)
{
    int runs = 3;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "-r") && i + 1 < argc) runs = atoi(argv[++i]);
        else { fprintf(stderr, "usage: bench_attn [-r RUNS]\n"); return 2; }
    }
    if (runs < 1) runs = 1;
    tf_kernels_init(false);
    static const struct { const char *shape; int nh, nkv, n_past, T; } cases[] = {
        {"TinyLlama 32/4", 32, 4, 0, 128},  {"TinyLlama 32/4", 32, 4, 0, 512},
        {"TinyLlama 32/4", 32, 4, 0, 2048}, {"TinyLlama 32/4", 32, 4, 128, 1},
        {"TinyLlama 32/4", 32, 4, 2048, 1}, {"SmolLM2 9/3", 9, 3, 0, 512},
        {"SmolLM2 9/3", 9, 3, 2048, 1},
    };
    printf("attention of one layer, head size 64, F16 cache, 1 thread, best of %d; tiled at level %s\n\n",
           runs, tf_attn_level());
    printf("| heads (q/kv) | case | naive | tiled | speed-up |\n| --- | --- | ---: | ---: | ---: |\n");
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char what[64];
        if (cases[i].n_past) snprintf(what, sizeof what, "decode at %d", cases[i].n_past);
        else snprintf(what, sizeof what, "prompt %d", cases[i].T);
        double tiled = time_attn(cases[i].nh, cases[i].nkv, cases[i].n_past, cases[i].T, false, runs);
        /* The naive prompt of 2048 would take about a minute: not run. */
        bool skip = cases[i].T > 512;
        double naive = skip ? 0 : time_attn(cases[i].nh, cases[i].nkv, cases[i].n_past, cases[i].T, true, runs);
        if (skip) printf("| %s | %s | (not run) | %.2f ms | - |\n", cases[i].shape, what, tiled * 1e3);
        else printf("| %s | %s | %.2f ms | %.2f ms | %.0fx |\n", cases[i].shape, what, naive * 1e3,
                    tiled * 1e3, naive / tiled);
    }
    return 0;
}
