/* dispatch.c - the kernel tables: the portable reference row of every
 * computable type, and one table per ISA level this CPU runs, each a copy
 * of the level below with that level's entries patched in.
 *
 * The tables are built once (pthread_once) and the selected one published
 * with an atomic pointer, so tf_kernels_of is a plain load on the hot path
 * and callers on any thread see a finished table, never one being patched.
 */
#if defined(__x86_64__)
#include <cpuid.h>
#endif
#if defined(__aarch64__) && defined(__linux__)
#include <sys/auxv.h>
#endif
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include "ref.h"

#define K(t, vt) { tf_ref_to_float_##t, tf_ref_from_float_##t, vt, tf_ref_vec_dot_##t, tf_ref_gemm_##t, NULL, NULL, NULL, NULL }
/* Activation-only formats: no dot of their own (see types.c). */
#define A(t, vt) { tf_ref_to_float_##t, tf_ref_from_float_##t, vt, NULL, NULL, NULL, NULL, NULL, NULL }

/* The pairing is the reference engine's: changing a vec_dot_type changes
 * the rounding of every matmul and breaks agreement with its logits. */
static const tf_type_kernels g_ref[TF_TYPE_COUNT] = {
    [TF_TYPE_F32] = {tf_ref_to_float_f32, tf_ref_from_float_f32, TF_TYPE_F32, tf_ref_vec_dot_f32,
                     tf_ref_gemm_f32, NULL, tf_ref_swiglu, tf_ref_add, tf_ref_rms_norm},
    [TF_TYPE_F16] = K(f16, TF_TYPE_F16),
    [TF_TYPE_BF16] = K(bf16, TF_TYPE_BF16),
    [TF_TYPE_Q4_0] = K(q4_0, TF_TYPE_Q8_0),
    [TF_TYPE_Q4_1] = K(q4_1, TF_TYPE_Q8_1),
    [TF_TYPE_Q5_0] = K(q5_0, TF_TYPE_Q8_0),
    [TF_TYPE_Q5_1] = K(q5_1, TF_TYPE_Q8_1),
    [TF_TYPE_Q8_0] = K(q8_0, TF_TYPE_Q8_0),
    [TF_TYPE_IQ4_NL] = K(iq4_nl, TF_TYPE_Q8_0),
    [TF_TYPE_Q2_K] = K(q2_K, TF_TYPE_Q8_K),
    [TF_TYPE_Q3_K] = K(q3_K, TF_TYPE_Q8_K),
    [TF_TYPE_Q4_K] = K(q4_K, TF_TYPE_Q8_K),
    [TF_TYPE_Q5_K] = K(q5_K, TF_TYPE_Q8_K),
    [TF_TYPE_Q6_K] = K(q6_K, TF_TYPE_Q8_K),
    [TF_TYPE_Q8_1] = A(q8_1, TF_TYPE_Q8_1),
    [TF_TYPE_Q8_K] = A(q8_K, TF_TYPE_Q8_K),
};

/* ISA levels.  rank orders them for TINFER_KERNELS, which caps the level:
 * the best level this CPU has whose rank is <= the named one's. */
enum { LV_REF, LV_AVX2, LV_AVX512, LV_NEON, LV_COUNT };
static const struct { const char *name; int rank; } g_lv[LV_COUNT] = {
    [LV_REF] = {"ref", 0}, [LV_AVX2] = {"avx2", 1}, [LV_AVX512] = {"avx512", 2},
    [LV_NEON] = {"neon", 1},
};

static tf_type_kernels g_fast[LV_COUNT][TF_TYPE_COUNT];
static const tf_type_kernels *g_table[LV_COUNT]; /* NULL: CPU lacks it */
static pthread_once_t g_once = PTHREAD_ONCE_INIT;
static _Atomic(const tf_type_kernels *) g_active;

#if defined(__x86_64__)
/* CPUID straight from the leaves (clang's __builtin_cpu_supports lacks
 * some of these names), with the OS-saved register state from XGETBV. */
typedef struct { bool avx2, avxvnni, avx512, bf16; } x86_caps;

static uint64_t xgetbv0(void)
{
    uint32_t lo, hi;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    return (uint64_t)hi << 32 | lo;
}

static x86_caps x86_detect(void)
{
    x86_caps c = {false, false, false, false};
    unsigned a, b, cx, d;
    if (!__get_cpuid(1, &a, &b, &cx, &d))
        return c;
    bool fma = cx & (1u << 12), osxsave = cx & (1u << 27), avx = cx & (1u << 28),
         f16c = cx & (1u << 29);
    if (!osxsave || !avx)
        return c;
    uint64_t xcr0 = xgetbv0();
    if ((xcr0 & 6) != 6) /* SSE and AVX state */
        return c;
    unsigned b7 = 0, c7 = 0, a71 = 0;
    if (__get_cpuid_max(0, NULL) >= 7) {
        __cpuid_count(7, 0, a, b7, c7, d);
        if (a >= 1) /* subleaf 1 exists */
            __cpuid_count(7, 1, a71, b, cx, d);
    }
    c.avx2 = (b7 & (1u << 5)) && fma && f16c;
    c.avxvnni = c.avx2 && (a71 & (1u << 4));
    bool zmm_os = (xcr0 & 0xe0) == 0xe0; /* opmask, ZMM0-15 upper, ZMM16-31 */
    bool f = b7 & (1u << 16), dq = b7 & (1u << 17), bw = b7 & (1u << 30),
         vl = b7 & (1u << 31), vnni = c7 & (1u << 11);
    c.avx512 = c.avx2 && zmm_os && f && dq && bw && vl && vnni;
    c.bf16 = c.avx512 && (a71 & (1u << 5));
    return c;
}
#endif

#if defined(__aarch64__)
/* The Armv8.2 dot product (SDOT/UDOT). */
static bool arm_dotprod(void)
{
#if defined(__linux__)
#ifndef HWCAP_ASIMDDP
#define HWCAP_ASIMDDP (1ul << 20)
#endif
    return (getauxval(AT_HWCAP) & HWCAP_ASIMDDP) != 0;
#elif defined(__APPLE__)
    return true; /* every Apple arm64 CPU has it */
#else
    return false;
#endif
}
#endif

/* Builds every level this CPU runs, lowest first, each on top of the one
 * below.  A new ISA file adds its installer here (and its ISA_FLAGS_ line
 * in the Makefile). */
static void build_tables(void)
{
    g_table[LV_REF] = g_ref;
#if defined(__x86_64__)
    x86_caps caps = x86_detect();
    if (caps.avx2) {
        memcpy(g_fast[LV_AVX2], g_ref, sizeof g_ref);
        tf_kernels_install_avx2(g_fast[LV_AVX2]);
        tf_kernels_install_avx2_k(g_fast[LV_AVX2]);
        tf_kernels_install_avx2_pack(g_fast[LV_AVX2]);
        if (caps.avxvnni) { /* same results, fewer instructions */
            tf_kernels_install_avxvnni(g_fast[LV_AVX2]);
            tf_kernels_install_avxvnni_k(g_fast[LV_AVX2]);
        }
        g_table[LV_AVX2] = g_fast[LV_AVX2];
    }
    if (caps.avx512) {
        memcpy(g_fast[LV_AVX512], g_fast[LV_AVX2], sizeof g_ref);
        tf_kernels_install_avx512(g_fast[LV_AVX512]);
        tf_kernels_install_avx512_k(g_fast[LV_AVX512]);
        tf_kernels_install_avx512_pack(g_fast[LV_AVX512]);
        if (caps.bf16)
            tf_kernels_install_avx512bf16(g_fast[LV_AVX512]);
        g_table[LV_AVX512] = g_fast[LV_AVX512];
    }
#elif defined(__aarch64__)
    memcpy(g_fast[LV_NEON], g_ref, sizeof g_ref);
    tf_kernels_install_neon(g_fast[LV_NEON]);
    if (arm_dotprod())
        tf_kernels_install_neon_dot(g_fast[LV_NEON]);
    g_table[LV_NEON] = g_fast[LV_NEON];
#endif
}

static int level_named(const char *name)
{
    for (int l = 0; name && l < LV_COUNT; l++)
        if (strcmp(name, g_lv[l].name) == 0)
            return l;
    return -1;
}

const char *tf_kernels_init(bool force_ref)
{
    pthread_once(&g_once, build_tables);
    int cap = force_ref ? 0 : 99;
    int want = level_named(getenv("TINFER_KERNELS"));
    if (want >= 0 && g_lv[want].rank < cap)
        cap = g_lv[want].rank;
    int best = LV_REF;
    for (int l = 0; l < LV_COUNT; l++)
        if (g_table[l] && g_lv[l].rank <= cap && g_lv[l].rank > g_lv[best].rank)
            best = l;
    atomic_store_explicit(&g_active, g_table[best], memory_order_release);
    return g_lv[best].name;
}

const char *tf_kernels_active(void)
{
    const tf_type_kernels *t = atomic_load_explicit(&g_active, memory_order_acquire);
    for (int l = 0; t && l < LV_COUNT; l++)
        if (g_table[l] == t)
            return g_lv[l].name;
    return "ref";
}

const tf_type_kernels *tf_kernels_of(uint32_t id)
{
    const tf_type_kernels *t = atomic_load_explicit(&g_active, memory_order_acquire);
    if (!t) /* not initialized: the reference is always correct */
        t = g_ref;
    if (id >= TF_TYPE_COUNT || !t[id].to_float)
        return NULL;
    return &t[id];
}

const tf_type_kernels *tf_kernels_ref_of(uint32_t id)
{
    if (id >= TF_TYPE_COUNT || !g_ref[id].to_float)
        return NULL;
    return &g_ref[id];
}

const tf_type_kernels *tf_kernels_level_of(const char *level, uint32_t id)
{
    pthread_once(&g_once, build_tables);
    int l = level_named(level);
    if (l < 0 || !g_table[l] || id >= TF_TYPE_COUNT || !g_table[l][id].to_float)
        return NULL;
    return &g_table[l][id];
}
