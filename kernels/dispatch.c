/* dispatch.c - the kernel table: the portable reference row of every
 * computable type, and the table actually used, which starts as a copy of
 * it and gets per-ISA entries patched in once CPUID says they can run.
 *
 * The selection is made once (pthread_once) and published with an atomic
 * pointer, so tf_kernels_of is a plain load on the hot path and callers on
 * any thread see either the reference table or the finished fast one,
 * never one being patched.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include "ref.h"

#define K(t, vt) { tf_ref_to_float_##t, tf_ref_from_float_##t, vt, tf_ref_vec_dot_##t }
/* Activation-only formats: no dot of their own (see types.c). */
#define A(t, vt) { tf_ref_to_float_##t, tf_ref_from_float_##t, vt, NULL }

/* The pairing is the reference engine's: changing a vec_dot_type changes
 * the rounding of every matmul and breaks agreement with its logits. */
static const tf_type_kernels g_ref[TF_TYPE_COUNT] = {
    [TF_TYPE_F32] = K(f32, TF_TYPE_F32),
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

static tf_type_kernels g_fast[TF_TYPE_COUNT];
static const char *g_fast_name = "ref";
static pthread_once_t g_once = PTHREAD_ONCE_INIT;
static _Atomic(const tf_type_kernels *) g_active;

/* Builds g_fast: the reference table, then each ISA level the CPU has,
 * lowest first, overwriting the entries it implements.  A new ISA file
 * adds one guarded call here (and its ISA_FLAGS_ line in the Makefile). */
static void build_fast(void)
{
    memcpy(g_fast, g_ref, sizeof g_fast);
#if defined(__x86_64__)
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") &&
        __builtin_cpu_supports("f16c")) {
        tf_kernels_install_avx2(g_fast);
        g_fast_name = "avx2";
    }
#endif
}

const char *tf_kernels_init(bool force_ref)
{
    pthread_once(&g_once, build_fast);
    const char *env = getenv("TINFER_KERNELS");
    if (env && strcmp(env, "ref") == 0)
        force_ref = true;
    atomic_store_explicit(&g_active, force_ref ? g_ref : g_fast, memory_order_release);
    return force_ref ? "ref" : g_fast_name;
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
