/* bench_kernels.c - single-thread throughput of the matrix kernels per ISA
 * level (tf_kernels_level_of):
 *   matvec: one 4096 x 4096 weight matrix times one token through gemm
 *           (what decoding does), reported as GB/s of weights streamed;
 *   gemm:   4096 x ROWS weights times 128 tokens, as GFLOP/s (2 per
 *           multiply-add), and the old way (a vec_dot per element) too;
 *   packed: both again through the level's products over packed weights
 *           (kernels.h, "Packed weights") where it has one.
 * Each figure is the best of a few timed runs, in thread CPU time.  Usage:
 *   bench_kernels [-t TYPE,...] [-l LEVEL,...] [-r ROWS] [-s SECONDS]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "kernels.h"

/* Times are this thread's CPU time: on a shared machine other processes
 * take turns on our core, which wall time would count against us. */
static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static void *xmalloc(size_t n)
{
    void *p = aligned_alloc(64, (n + 63) / 64 * 64);
    if (!p) {
        fprintf(stderr, "out of memory\n");
        exit(1);
    }
    return p;
}

/* Random rows of type t (quantized from uniform floats). */
static void *rows_of(uint32_t t, int64_t n, int rows, size_t *rb)
{
    *rb = tf_row_size(t, n);
    uint8_t *p = xmalloc(*rb * rows);
    float *x = malloc(n * sizeof *x);
    uint64_t s = 88172645463325252ull ^ (uint64_t)t;
    for (int r = 0; r < rows; r++) {
        for (int64_t i = 0; i < n; i++) {
            s ^= s << 13; s ^= s >> 7; s ^= s << 17;
            x[i] = (float)((s >> 40) / 8388608.0 - 1.0);
        }
        tf_kernels_ref_of(t)->from_float(x, p + *rb * r, n);
    }
    free(x);
    return p;
}

typedef struct {
    const tf_type_kernels *k;
    int64_t n;
    const uint8_t *w, *a;
    size_t ws, as;
    int nw, na;
    float *out;
    int use_gemm; /* 0: vec_dot per element, 1: gemm, 2: pack_gemm (w packed) */
} job;

static void run(const job *j)
{
    if (j->use_gemm == 2) {
        j->k->pack_gemm(j->n, j->w, j->nw / TF_PACK_ROWS, j->a, j->as, j->na, j->out, j->nw);
        return;
    }
    if (j->use_gemm) {
        j->k->gemm(j->n, j->w, j->ws, j->nw, j->a, j->as, j->na, j->out, j->nw);
        return;
    }
    for (int r = 0; r < j->nw; r++)
        for (int t = 0; t < j->na; t++)
            j->out[(size_t)t * j->nw + r] = j->k->vec_dot(j->n, j->w + r * j->ws, j->a + t * j->as);
}

/* Best time of one run over about `secs` seconds (at least 3 runs). */
static double best_time(const job *j, double secs)
{
    double best = 1e30, start = now();
    for (int it = 0; it < 3 || now() - start < secs; it++) {
        double t0 = now();
        run(j);
        double dt = now() - t0;
        if (dt < best) best = dt;
        if (it > 1000) break;
    }
    return best;
}

/* ---- arithmetic peaks: the ceiling the gemm columns are measured against.
 * Twelve independent accumulator chains per instruction kind (more than
 * latency x throughput on current cores), each updated N times; the
 * operands are distinct so no two chains fold into one. */
#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define CHAINS(X) X(0) X(1) X(2) X(3) X(4) X(5) X(6) X(7) X(8) X(9) X(10) X(11)
#define DECL(i) V a##i = INIT(i);
#define STEP(i) a##i = OP(a##i);
#define FOLD(i) sink += LANE0(a##i);

/* V, INIT, OP and LANE0 are (re)defined before each use. */
#define PEAK_FN(NAME, TARGET, WORK)                                     \
    __attribute__((target(TARGET))) static double NAME(long N)         \
    {                                                                   \
        CHAINS(DECL)                                                    \
        double t0 = now();                                              \
        for (long i = 0; i < N; i++) { CHAINS(STEP) }                   \
        double t = now() - t0;                                          \
        volatile float sink = 0;                                        \
        CHAINS(FOLD)                                                    \
        (void)sink;                                                     \
        return 12.0 * N * (WORK) / t / 1e9;                             \
    }

static volatile float seed = 0.5f;
#define V __m512
#define INIT(i) _mm512_set1_ps(seed + (i))
#define LANE0(a) _mm512_cvtss_f32(a)
#define OP(a) _mm512_fmadd_ps(a, _mm512_set1_ps(0.999f), _mm512_set1_ps(1e-4f))
PEAK_FN(peak_fma512, "avx512f", 32)
#undef OP
#define OP(a) _mm512_dpbf16_ps(a, (__m512bh)_mm512_set1_epi16(0x3f80), (__m512bh)_mm512_set1_epi16(0x3c00))
PEAK_FN(peak_bf16, "avx512f,avx512bf16", 64)
#undef V
#undef INIT
#undef LANE0
#undef OP
#define V __m512i
#define INIT(i) _mm512_set1_epi32((int)seed + (i))
#define LANE0(a) (float)_mm_cvtsi128_si32(_mm512_castsi512_si128(a))
#define OP(a) _mm512_dpbusd_epi32(a, _mm512_set1_epi8(3), _mm512_set1_epi8(-5))
PEAK_FN(peak_vnni, "avx512f,avx512vnni", 128)
#undef V
#undef INIT
#undef LANE0
#undef OP
#define V __m256
#define INIT(i) _mm256_set1_ps(seed + (i))
#define LANE0(a) _mm256_cvtss_f32(a)
#define OP(a) _mm256_fmadd_ps(a, _mm256_set1_ps(0.999f), _mm256_set1_ps(1e-4f))
PEAK_FN(peak_fma256, "avx2,fma", 16)
#undef V
#undef INIT
#undef LANE0
#undef OP
#define V __m256i
#define INIT(i) _mm256_set1_epi16((short)((int)seed + (i)))
#define LANE0(a) (float)_mm_cvtsi128_si32(_mm256_castsi256_si128(a))
#define OP(a) _mm256_maddubs_epi16(_mm256_set1_epi8(3), a)
PEAK_FN(peak_maddubs, "avx2", 64)

/* One line per instruction kind this CPU has, single-threaded: the most
 * the kernels above could reach (2 flops per multiply-add; dpbusd counts
 * 4 multiply-adds per lane as 8 int ops, dpbf16ps 2 per lane as 4,
 * maddubs 2 per int16 lane as 4 - the AVX2 kernels add a madd or an add
 * per maddubs, so they reach less). */
static void print_peaks(void)
{
    const long N = 50000000;
    __builtin_cpu_init();
    printf("\narithmetic peak, one thread (12 independent chains):\n");
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
        printf("  F32 FMA, 256-bit (vfmadd ymm)        %8.1f GFLOP/s\n", peak_fma256(N));
    if (__builtin_cpu_supports("avx2"))
        printf("  int8 pairs, 256-bit (vpmaddubsw ymm)  %8.1f GOP/s\n", peak_maddubs(N));
    if (__builtin_cpu_supports("avx512f"))
        printf("  F32 FMA, 512-bit (vfmadd zmm)        %8.1f GFLOP/s\n", peak_fma512(N));
    if (__builtin_cpu_supports("avx512bf16"))
        printf("  BF16 dot (vdpbf16ps zmm)             %8.1f GFLOP/s\n", peak_bf16(N));
    if (__builtin_cpu_supports("avx512vnni"))
        printf("  int8 dot (vpdpbusd zmm)              %8.1f GOP/s\n", peak_vnni(N));
}
#else
static void print_peaks(void) {}
#endif

static int listed(const char *list, const char *name)
{
    if (!list) return 1;
    size_t len = strlen(name);
    for (const char *p = list; (p = strstr(p, name)); p += len)
        if ((p == list || p[-1] == ',') && (p[len] == 0 || p[len] == ','))
            return 1;
    return 0;
}

int main(int argc, char **argv)
{
    const char *types = "Q4_0,Q8_0,Q4_K,Q6_K,F16", *levels = NULL;
    int rows = 1024;
    double secs = 0.3;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "-t")) types = argv[i + 1];
        else if (!strcmp(argv[i], "-l")) levels = argv[i + 1];
        else if (!strcmp(argv[i], "-r")) rows = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "-s")) secs = atof(argv[i + 1]);
    }
    const char *lv[] = {"ref", "avx2", "avx512", "neon"};
    const int64_t n = 4096;
    const int T = 128;
    tf_kernels_init(false);
    printf("%-7s %-7s %12s %12s %14s %14s %14s %14s\n", "type", "level", "matvec GB/s", "(vec_dot)",
           "gemm GFLOP/s", "(vec_dot)", "packed matvec", "packed gemm");
    for (uint32_t t = 0; t < TF_TYPE_COUNT; t++) {
        const tf_type_traits *tr = tf_type_traits_of(t);
        if (!tr || !tr->compute || !listed(types, tr->name)) continue;
        uint32_t vdt = tf_kernels_ref_of(t)->vec_dot_type;
        size_t ws, as;
        uint8_t *w = rows_of(t, n, 4096, &ws), *a = rows_of(vdt, n, T, &as);
        float *out = xmalloc(sizeof(float) * 4096 * T);
        /* The packed copy and the packed products' activations (from the
         * same floats the rows came from would not matter: speed only). */
        uint8_t *wp = NULL, *ap = NULL;
        size_t aps = 0;
        if (tf_pack_supported(t, n)) {
            wp = xmalloc(ws * 4096);
            for (int g = 0; g < 4096 / TF_PACK_ROWS; g++)
                tf_pack_rows(t, w + (size_t)g * TF_PACK_ROWS * ws, ws, n, wp + (size_t)g * TF_PACK_ROWS * ws);
            aps = tf_pack_act_row_size(t, n);
            ap = xmalloc(aps * T);
            float *x = xmalloc(sizeof(float) * n);
            for (int r = 0; r < T; r++) {
                tf_kernels_ref_of(vdt)->to_float(a + as * r, x, n);
                tf_pack_act_from_float(t, x, ap + aps * r, n);
            }
            free(x);
        }
        for (int l = 0; l < 4; l++) {
            const tf_type_kernels *k = tf_kernels_level_of(lv[l], t);
            if (!k || !listed(levels, lv[l])) continue;
            job mv = {k, n, w, a, ws, as, 4096, 1, out, 1};
            double tmv = best_time(&mv, secs);
            mv.use_gemm = 0;
            double tmv1 = best_time(&mv, secs);
            job gm = {k, n, w, a, ws, as, rows, T, out, 1};
            double tg = best_time(&gm, secs);
            job vd = gm;
            vd.use_gemm = 0;
            double tv = best_time(&vd, secs);
            double flop = 2.0 * n * rows * T;
            printf("%-7s %-7s %12.2f %12.2f %14.1f %14.1f", tr->name, lv[l],
                   ws * 4096.0 / tmv / 1e9, ws * 4096.0 / tmv1 / 1e9, flop / tg / 1e9,
                   flop / tv / 1e9);
            if (wp && k->pack_gemm && rows % TF_PACK_ROWS == 0) {
                job pm = {k, n, wp, ap, ws, aps, 4096, 1, out, 2};
                job pg = {k, n, wp, ap, ws, aps, rows, T, out, 2};
                printf(" %14.2f %14.1f", ws * 4096.0 / best_time(&pm, secs) / 1e9,
                       flop / best_time(&pg, secs) / 1e9);
            } else {
                printf(" %14s %14s", "-", "-");
            }
            printf("\n");
            fflush(stdout);
        }
        free(w);
        free(a);
        free(out);
        free(wp);
        free(ap);
    }
    print_peaks();
    return 0;
}
