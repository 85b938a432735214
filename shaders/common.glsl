/* common.glsl - bindings, half-float helpers and workgroup reductions shared
 * by the compute shaders.  Include after `#version` and after defining WG
 * (the workgroup size) when the shader uses wg_sum / wg_max.
 *
 * USE_SUBGROUP (set by the build, one SPIR-V per value) picks subgroup
 * arithmetic for reductions; 0 is the shared-memory fallback for devices
 * without VK_SUBGROUP_FEATURE_ARITHMETIC_BIT in compute.  Reductions only
 * ever span the whole workgroup, so they hold for any mapping of
 * invocations to subgroups.
 */
#extension GL_GOOGLE_include_directive : require
#ifndef USE_SUBGROUP
#define USE_SUBGROUP 0
#endif
#ifndef KV_F32
#define KV_F32 0
#endif
#if USE_SUBGROUP
#extension GL_KHR_shader_subgroup_basic : require
#extension GL_KHR_shader_subgroup_arithmetic : require
#endif

#include "tf_pc.h"

layout(std430, set = 0, binding = TF_B_RUN) readonly buffer RunBuf {
    uint n_tokens, n_past, n_out, n_pad;
    int tokens[];
} run;

layout(std430, set = 0, binding = TF_B_DST) buffer DstBuf { float d[]; } dst;
layout(std430, set = 0, binding = TF_B_SRC0) readonly buffer Src0Buf { float d[]; } src0;
layout(std430, set = 0, binding = TF_B_SRC0) readonly buffer Src0Vec { vec4 d[]; } src0v;
layout(std430, set = 0, binding = TF_B_SRC1) readonly buffer Src1Buf { float d[]; } src1;
layout(std430, set = 0, binding = TF_B_SRC2) readonly buffer Src2Buf { float d[]; } src2;
layout(std430, set = 0, binding = TF_B_W0) readonly buffer W0Buf { uint w[]; } w0;
layout(std430, set = 0, binding = TF_B_W1) readonly buffer W1Buf { uint w[]; } w1;

/* Live rows of a node: tokens of the run, or the rows whose logits are
 * wanted for nodes after LAST_ROW. */
uint live_rows(uint tail) { return tail != 0u ? run.n_out : run.n_tokens; }

/* Bytes of W0 at byte offset b: one byte, a half at an even offset, four
 * bytes at an even offset (GGUF blocks have even sizes, so every 16-bit
 * field is 2-aligned, but rows need not be 4-aligned). */
uint w0_u8(uint b) { return (w0.w[b >> 2] >> ((b & 3u) * 8u)) & 0xffu; }
uint w0_u16(uint b)
{
    uint v = w0.w[b >> 2];
    return (b & 2u) != 0u ? v >> 16 : v & 0xffffu;
}
uint w0_u32(uint b)
{
    /* two aligned words and a funnel shift (no divergent branch); the
     * weight ranges carry 4 bytes of padding for the last word */
    uint i = b >> 2, sh = (b & 2u) * 8u;
    uint lo = w0.w[i], hi = w0.w[i + 1u];
    return sh == 0u ? lo : (lo >> 16) | (hi << 16);
}

float h2f(uint h) { return unpackHalf2x16(h).x; }

/* Stands for -infinity where a max starts: devices need not preserve
 * infinities (shaderSignedZeroInfNanPreserveFloat32), exp(NEG_BIG - m) is 0
 * all the same. */
#define NEG_BIG (-3.0e38)

/* f32 -> f16 bits, round to nearest even: the same integer recipe as the
 * CPU's tf_f2h (kernels/ref.h), so a rounded value is identical. */
uint f2h_bits(float f)
{
    uint u = floatBitsToUint(f);
    uint sign = (u >> 16) & 0x8000u;
    uint a = u & 0x7fffffffu;
    if (a >= 0x7f800000u)
        return sign | 0x7c00u | (a > 0x7f800000u ? (0x200u | ((a >> 13) & 0x3ffu)) : 0u);
    if (a >= 0x477ff000u) return sign | 0x7c00u;
    if (a < 0x38800000u) {
        float v = uintBitsToFloat(a) + 0.5;
        return sign | (floatBitsToUint(v) - 0x3f000000u);
    }
    uint r = a + 0x0fffu + ((a >> 13) & 1u);
    return sign | ((r - 0x38000000u) >> 13);
}
float round_f16(float f) { return h2f(f2h_bits(f)); }

#ifdef WG
shared float red_s[WG];

/* Sum / max of v over the whole workgroup; every invocation gets the
 * result.  Call from uniform control flow. */
float wg_sum(float v)
{
#if USE_SUBGROUP
    v = subgroupAdd(v);
    if (subgroupElect()) red_s[gl_SubgroupID] = v;
    barrier();
    float r = 0.0;
    for (uint i = 0u; i < gl_NumSubgroups; i++) r += red_s[i];
#else
    uint t = gl_LocalInvocationIndex;
    red_s[t] = v;
    barrier();
    for (uint s = WG / 2u; s > 0u; s >>= 1) {
        if (t < s) red_s[t] += red_s[t + s];
        barrier();
    }
    float r = red_s[0];
#endif
    barrier();
    return r;
}

float wg_max(float v)
{
#if USE_SUBGROUP
    v = subgroupMax(v);
    if (subgroupElect()) red_s[gl_SubgroupID] = v;
    barrier();
    float r = red_s[0];
    for (uint i = 1u; i < gl_NumSubgroups; i++) r = max(r, red_s[i]);
#else
    uint t = gl_LocalInvocationIndex;
    red_s[t] = v;
    barrier();
    for (uint s = WG / 2u; s > 0u; s >>= 1) {
        if (t < s) red_s[t] = max(red_s[t], red_s[t + s]);
        barrier();
    }
    float r = red_s[0];
#endif
    barrier();
    return r;
}
#endif
