/* arm_neon.c - AArch64 NEON kernels of the float formats (F32, F16, BF16),
 * plain ARMv8-A (every aarch64 CPU has them).  The integer dots need the
 * Armv8.2 dot product and live in arm_neon_dot.c.
 *
 * One tile body per type (simd_tile.h): 4 weight rows x 2 tokens, two
 * float32x4 accumulators per element, 8 elements a step, a zero-padded
 * tail; gemm and vec_dot agree bit for bit.
 */
#include <arm_neon.h>
#include "simd_tile.h"

TF_ALWAYS float hsum4(float32x4_t v)
{
    float32x2_t s = vadd_f32(vget_low_f32(v), vget_high_f32(v));
    return vget_lane_f32(vpadd_f32(s, s), 0);
}

TF_ALWAYS float32x4_t ld_f32(const uint8_t *p) { return vld1q_f32((const float *)p); }

TF_ALWAYS float32x4_t ld_f16(const uint8_t *p)
{
    return vcvt_f32_f16(vreinterpret_f16_u16(vld1_u16((const uint16_t *)p)));
}

TF_ALWAYS float32x4_t ld_bf16(const uint8_t *p)
{
    return vreinterpretq_f32_u32(vshll_n_u16(vld1_u16((const uint16_t *)p), 16));
}

/* Step at element i of rows w, a (ES bytes per element), 8 elements in
 * two halves with an accumulator each (8 float lanes per element, as
 * wide as AVX2's: long dots keep their rounding error as small); TAIL:
 * the last n - i < 8 elements, copied into zeroed buffers first. */
#define FLOAT_STEP(LD, ES, TAIL)                                                 \
    do {                                                                         \
        float32x4_t A_[2][2];                                                    \
        uint8_t buf_[32] = {0};                                                  \
        TF_UNROLL for (int t = 0; t < RA; t++) {                                 \
            const uint8_t *p_ = a + t * as + i * (ES);                           \
            if (TAIL) {                                                          \
                memcpy(buf_, p_, (size_t)(n - i) * (ES));                        \
                p_ = buf_;                                                       \
            }                                                                    \
            A_[t][0] = LD(p_);                                                   \
            A_[t][1] = LD(p_ + 4 * (ES));                                        \
        }                                                                        \
        TF_UNROLL for (int r = 0; r < RW; r++) {                                 \
            const uint8_t *p_ = w + r * ws + i * (ES);                           \
            if (TAIL) {                                                          \
                memcpy(buf_, p_, (size_t)(n - i) * (ES));                        \
                p_ = buf_;                                                       \
            }                                                                    \
            float32x4_t W0_ = LD(p_), W1_ = LD(p_ + 4 * (ES));                   \
            TF_UNROLL for (int t = 0; t < RA; t++) {                             \
                acc[r][t][0] = vfmaq_f32(acc[r][t][0], W0_, A_[t][0]);           \
                acc[r][t][1] = vfmaq_f32(acc[r][t][1], W1_, A_[t][1]);           \
            }                                                                    \
        }                                                                        \
    } while (0)

/* Tile 4 x 2: 16 accumulator registers of the 32. */
#define DEF_FLOAT(NAME, LD, ES)                                                             \
    TF_ALWAYS void NAME##_t(int64_t n, const uint8_t *w, size_t ws, const uint8_t *a,      \
                            size_t as, float *out, size_t os, const int RW, const int RA)  \
    {                                                                                       \
        float32x4_t acc[4][2][2];                                                           \
        TF_UNROLL for (int r = 0; r < RW; r++)                                              \
            TF_UNROLL for (int t = 0; t < RA; t++)                                          \
                acc[r][t][0] = acc[r][t][1] = vdupq_n_f32(0);                               \
        int64_t i = 0;                                                                      \
        for (; i + 8 <= n; i += 8)                                                          \
            FLOAT_STEP(LD, ES, 0);                                                          \
        if (i < n)                                                                          \
            FLOAT_STEP(LD, ES, 1);                                                          \
        TF_UNROLL for (int r = 0; r < RW; r++)                                              \
            TF_UNROLL for (int t = 0; t < RA; t++)                                          \
                out[t * os + r] = hsum4(vaddq_f32(acc[r][t][0], acc[r][t][1]));             \
    }                                                                                       \
    TF_DEF_GEMM(NAME, 4, 2)

DEF_FLOAT(f32, ld_f32, 4)
DEF_FLOAT(f16, ld_f16, 2)
DEF_FLOAT(bf16, ld_bf16, 2)

void tf_kernels_install_neon(tf_type_kernels *t)
{
    TF_SET(t, TF_TYPE_F32, f32);
    TF_SET(t, TF_TYPE_F16, f16);
    TF_SET(t, TF_TYPE_BF16, bf16);
}
