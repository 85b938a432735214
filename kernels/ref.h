/* ref.h - internal to kernels/: block layouts, the half-float conversions
 * the kernels inline, and the portable kernels the dispatch table lists.
 *
 * Block layouts are GGUF's byte for byte (files are mapped and read in
 * place), so every struct below is checked against the size GGUF gives it.
 */
#ifndef TF_REF_H
#define TF_REF_H

#include <stdint.h>
#include <string.h>
#include "kernels.h"

/* ---- block layouts (sizes are part of the file format) ---------------- */

typedef struct { uint16_t d; uint8_t qs[TF_QK / 2]; } tf_block_q4_0;
typedef struct { uint16_t d, m; uint8_t qs[TF_QK / 2]; } tf_block_q4_1;
typedef struct { uint16_t d; uint8_t qh[4]; uint8_t qs[TF_QK / 2]; } tf_block_q5_0;
typedef struct { uint16_t d, m; uint8_t qh[4]; uint8_t qs[TF_QK / 2]; } tf_block_q5_1;
typedef struct { uint16_t d; int8_t qs[TF_QK]; } tf_block_q8_0;
/* s = d * sum(qs), precomputed so a dot with an offset format (Q4_1, Q5_1)
 * costs one multiply per block for the offset term. */
typedef struct { uint16_t d, s; int8_t qs[TF_QK]; } tf_block_q8_1;
typedef struct { uint16_t d; uint8_t qs[TF_QK / 2]; } tf_block_iq4_nl;

/* K-quants: 256-element super-blocks made of 16- or 32-element sub-blocks
 * whose scales are themselves quantized against the super-block's d. */
typedef struct {
    uint8_t scales[TF_QK_K / 16]; /* low nibble scale, high nibble min */
    uint8_t qs[TF_QK_K / 4];      /* 2-bit quants */
    uint16_t d, dmin;
} tf_block_q2_K;
typedef struct {
    uint8_t hmask[TF_QK_K / 8]; /* high bit of each 3-bit quant */
    uint8_t qs[TF_QK_K / 4];    /* low 2 bits */
    uint8_t scales[12];         /* 16 signed 6-bit scales, packed */
    uint16_t d;
} tf_block_q3_K;
typedef struct {
    uint16_t d, dmin;
    uint8_t scales[12]; /* 8 scales + 8 mins, 6 bits each, packed */
    uint8_t qs[TF_QK_K / 2];
} tf_block_q4_K;
typedef struct {
    uint16_t d, dmin;
    uint8_t scales[12];
    uint8_t qh[TF_QK_K / 8]; /* fifth bit */
    uint8_t qs[TF_QK_K / 2];
} tf_block_q5_K;
typedef struct {
    uint8_t ql[TF_QK_K / 2];     /* low 4 bits */
    uint8_t qh[TF_QK_K / 4];     /* high 2 bits */
    int8_t scales[TF_QK_K / 16]; /* 8-bit signed sub-block scales */
    uint16_t d;
} tf_block_q6_K;
/* Activation format for the K-quant dots.  d is a full float (activations
 * are re-quantized every token, no reason to lose precision in the scale);
 * bsums lets the min terms of Q2_K/Q4_K/Q5_K be applied per sub-block
 * without touching the quants again. */
typedef struct {
    float d;
    int8_t qs[TF_QK_K];
    int16_t bsums[TF_QK_K / 16]; /* sum of each 16 consecutive qs */
} tf_block_q8_K;

_Static_assert(sizeof(tf_block_q4_0) == 18, "q4_0 layout");
_Static_assert(sizeof(tf_block_q4_1) == 20, "q4_1 layout");
_Static_assert(sizeof(tf_block_q5_0) == 22, "q5_0 layout");
_Static_assert(sizeof(tf_block_q5_1) == 24, "q5_1 layout");
_Static_assert(sizeof(tf_block_q8_0) == 34, "q8_0 layout");
_Static_assert(sizeof(tf_block_q8_1) == 36, "q8_1 layout");
_Static_assert(sizeof(tf_block_iq4_nl) == 18, "iq4_nl layout");
_Static_assert(sizeof(tf_block_q2_K) == 84, "q2_K layout");
_Static_assert(sizeof(tf_block_q3_K) == 110, "q3_K layout");
_Static_assert(sizeof(tf_block_q4_K) == 144, "q4_K layout");
_Static_assert(sizeof(tf_block_q5_K) == 176, "q5_K layout");
_Static_assert(sizeof(tf_block_q6_K) == 210, "q6_K layout");
_Static_assert(sizeof(tf_block_q8_K) == 292, "q8_K layout");

/* The 16 levels of IQ4_NL (a non-uniform 4-bit grid, fixed by the format). */
extern const int8_t tf_iq4nl_values[16];

/* ---- half floats, inlined into the kernels ----------------------------- */

static inline uint32_t tf_f32_bits(float f) { uint32_t u; memcpy(&u, &f, 4); return u; }
static inline float tf_bits_f32(uint32_t u) { float f; memcpy(&f, &u, 4); return f; }

static inline float tf_h2f(uint16_t h)
{
    uint32_t sign = (uint32_t)(h & 0x8000) << 16;
    uint32_t exp = (h >> 10) & 0x1f, man = h & 0x3ff;
    if (exp == 0x1f) /* inf/NaN: keep the payload, NaN stays NaN */
        return tf_bits_f32(sign | 0x7f800000u | (man << 13));
    if (exp == 0) {
        /* Zero and subnormals: man * 2^-24 is exact in float. */
        float v = (float)man * 0x1p-24f;
        return sign ? -v : v;
    }
    return tf_bits_f32(sign | ((exp + 112) << 23) | (man << 13));
}

static inline uint16_t tf_f2h(float f)
{
    uint32_t u = tf_f32_bits(f);
    uint16_t sign = (uint16_t)((u >> 16) & 0x8000);
    uint32_t a = u & 0x7fffffffu;
    if (a >= 0x7f800000u) /* inf stays inf; NaN stays a (quiet) NaN */
        return sign | 0x7c00 | (a > 0x7f800000u ? 0x200 | ((a >> 13) & 0x3ff) : 0);
    if (a >= 0x477ff000u) /* rounds to >= 65520: overflow */
        return sign | 0x7c00;
    if (a < 0x38800000u) {
        /* Half subnormal (or zero): its step is 2^-24, which is also the
         * float ulp in [0.5, 1).  Adding 0.5 therefore makes the FPU round
         * to the nearest step, ties to even, and the mantissa bits of the
         * sum are the half's bits (1024 = carry into the smallest normal). */
        float v = tf_bits_f32(a) + 0.5f;
        return sign | (uint16_t)(tf_f32_bits(v) - 0x3f000000u);
    }
    /* Normal: drop 13 mantissa bits, rounding to nearest even; a carry
     * into the exponent is the correct result (up to 65504 -> inf handled
     * above). */
    uint32_t r = a + 0x0fffu + ((a >> 13) & 1);
    return sign | (uint16_t)((r - 0x38000000u) >> 13);
}

static inline float tf_bf2f(uint16_t h) { return tf_bits_f32((uint32_t)h << 16); }

static inline uint16_t tf_f2bf(float f)
{
    uint32_t u = tf_f32_bits(f);
    if ((u & 0x7fffffffu) > 0x7f800000u) /* NaN: truncating could make it inf */
        return (uint16_t)((u >> 16) | 0x40);
    return (uint16_t)((u + 0x7fffu + ((u >> 16) & 1)) >> 16);
}

/* Round to nearest, ties to even, for |x| < 2^22 (the K-quant rule;
 * the 32-element formats use roundf, ties away, like the reference). */
static inline int tf_nearest_int(float x)
{
    float v = x + 12582912.0f; /* 1.5 * 2^23: the sum's low bits are round(x) */
    return (int)(tf_f32_bits(v) & 0x7fffff) - 0x400000;
}

/* ---- portable kernels (n is a multiple of the type's block) ----------- */

#define TF_REF_KERNELS(t)                                                   \
    void tf_ref_to_float_##t(const void *src, float *dst, int64_t n);       \
    void tf_ref_from_float_##t(const float *src, void *dst, int64_t n);
TF_REF_KERNELS(f32)
TF_REF_KERNELS(f16)
TF_REF_KERNELS(bf16)
TF_REF_KERNELS(q4_0)
TF_REF_KERNELS(q4_1)
TF_REF_KERNELS(q5_0)
TF_REF_KERNELS(q5_1)
TF_REF_KERNELS(q8_0)
TF_REF_KERNELS(q8_1)
TF_REF_KERNELS(iq4_nl)
TF_REF_KERNELS(q2_K)
TF_REF_KERNELS(q3_K)
TF_REF_KERNELS(q4_K)
TF_REF_KERNELS(q5_K)
TF_REF_KERNELS(q6_K)
TF_REF_KERNELS(q8_K)
#undef TF_REF_KERNELS

float tf_ref_vec_dot_f32(int64_t n, const void *w, const void *a);
float tf_ref_vec_dot_f16(int64_t n, const void *w, const void *a);
float tf_ref_vec_dot_bf16(int64_t n, const void *w, const void *a);
float tf_ref_vec_dot_q4_0(int64_t n, const void *w, const void *a);
float tf_ref_vec_dot_q4_1(int64_t n, const void *w, const void *a);
float tf_ref_vec_dot_q5_0(int64_t n, const void *w, const void *a);
float tf_ref_vec_dot_q5_1(int64_t n, const void *w, const void *a);
float tf_ref_vec_dot_q8_0(int64_t n, const void *w, const void *a);
float tf_ref_vec_dot_iq4_nl(int64_t n, const void *w, const void *a);
float tf_ref_vec_dot_q2_K(int64_t n, const void *w, const void *a);
float tf_ref_vec_dot_q3_K(int64_t n, const void *w, const void *a);
float tf_ref_vec_dot_q4_K(int64_t n, const void *w, const void *a);
float tf_ref_vec_dot_q5_K(int64_t n, const void *w, const void *a);
float tf_ref_vec_dot_q6_K(int64_t n, const void *w, const void *a);

/* The reference matrix products: vec_dot of every (row, token) pair. */
#define TF_REF_GEMM(t)                                                      \
    void tf_ref_gemm_##t(int64_t n, const void *w, size_t ws, int nw, const void *a, \
                         size_t as, int na, float *out, size_t os);
TF_REF_GEMM(f32)
TF_REF_GEMM(f16)
TF_REF_GEMM(bf16)
TF_REF_GEMM(q4_0)
TF_REF_GEMM(q4_1)
TF_REF_GEMM(q5_0)
TF_REF_GEMM(q5_1)
TF_REF_GEMM(q8_0)
TF_REF_GEMM(iq4_nl)
TF_REF_GEMM(q2_K)
TF_REF_GEMM(q3_K)
TF_REF_GEMM(q4_K)
TF_REF_GEMM(q5_K)
TF_REF_GEMM(q6_K)
#undef TF_REF_GEMM

/* ---- tiled matrix products (gemm.c) -------------------------------------
 * A SIMD file implements, per type, a tile kernel for up to tw weight rows
 * by ta activation rows (arguments as tf_gemm_fn, nw <= tw, na <= ta) and
 * hands it to tf_gemm_drive, which walks the whole product in cache-sized
 * blocks of rows and tokens.  The tile kernel must compute every element
 * exactly as the file's vec_dot does, whatever the tile shape. */
typedef void (*tf_tile_fn)(int64_t n, const uint8_t *w, size_t ws, int nw, const uint8_t *a,
                           size_t as, int na, float *out, size_t os);
void tf_gemm_drive(tf_tile_fn tile, int tw, int ta, int64_t n, const void *w, size_t ws, int nw,
                   const void *a, size_t as, int na, float *out, size_t os);

void tf_ref_swiglu(const float *g, const float *u, float *out, int64_t n); /* ref_act.c */
void tf_ref_add(const float *a, const float *b, float *out, int64_t n);  /* ref_act.c */
void tf_ref_rms_norm(const float *x, const float *w, float eps, float *out, int64_t n); /* ref_act.c */

/* ---- per-ISA overrides -------------------------------------------------
 * Each per-ISA file (compiled with its own -m flags, see ISA_FLAGS_ in the
 * Makefile) exports an installer that overwrites the entries it speeds up
 * in a copy of the reference table.  dispatch.c calls it only after CPUID
 * has confirmed the CPU runs that code.  An installer always replaces a
 * type's vec_dot and gemm together (the pair must agree bit for bit). */
#if defined(__x86_64__) || defined(_M_X64)

void tf_kernels_install_avx2(tf_type_kernels *table);   /* x86_avx2.c */
void tf_kernels_install_avx2_k(tf_type_kernels *table); /* x86_avx2_k.c */
void tf_kernels_install_avx2_pack(tf_type_kernels *table); /* x86_avx2_pack.c */
/* the same, rebuilt for AVX-VNNI (x86_avxvnni.c): bit-identical results */
void tf_kernels_install_avxvnni(tf_type_kernels *table);
void tf_kernels_install_avxvnni_k(tf_type_kernels *table);
/* AVX-512 F/BW/VL/DQ + VNNI (x86_avx512.c, x86_avx512_k.c) */
void tf_kernels_install_avx512(tf_type_kernels *table);
void tf_kernels_install_avx512_k(tf_type_kernels *table);
void tf_kernels_install_avx512_pack(tf_type_kernels *table);
/* + AVX512_BF16 (x86_avx512bf16.c) */
void tf_kernels_install_avx512bf16(tf_type_kernels *table);
#endif
#if defined(__aarch64__)
void tf_kernels_install_neon(tf_type_kernels *table);     /* arm_neon.c */
void tf_kernels_install_neon_dot(tf_type_kernels *table); /* arm_neon_dot.c */
#endif

#endif
