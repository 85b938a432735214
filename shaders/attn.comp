#version 450
/* attn.comp - causal attention of one query head of one token over this
 * layer's cache, GQA (query head h reads KV head h / (n_head / n_head_kv)).
 *
 * Tiles of WG cache positions: each invocation scores one position (q . k,
 * q rounded to F16 first for an F16 cache, as the CPU does), then an online
 * softmax (running max m and sum l; earlier partial sums rescaled by
 * exp(m_old - m_new)) folds the tile's probabilities into the output, one
 * invocation per head dimension.  Unlike the CPU, the probabilities are
 * not rounded to F16 before their product with V (they are never
 * normalised until the end).  Head dims up to 2 * WG. */
#extension GL_GOOGLE_include_directive : require
#include "tf_pc.h"
#define WG TF_WG_ATTN
layout(local_size_x = WG) in;
#include "common.glsl"
TF_PC_BLOCK(TF_PC_ATTN)

#if KV_F32
layout(std430, set = 0, binding = TF_B_KC) readonly buffer KBuf { float d[]; } kc;
layout(std430, set = 0, binding = TF_B_VC) readonly buffer VBuf { float d[]; } vc;
#else
layout(std430, set = 0, binding = TF_B_KC) readonly buffer KBuf { uint d[]; } kc;
layout(std430, set = 0, binding = TF_B_VC) readonly buffer VBuf { uint d[]; } vc;
#endif

shared float q_s[2 * WG];
shared float p_s[WG];

float score(uint p, uint kb)
{
    float s = 0.0;
#if KV_F32
    uint o = p * pc.kv_row + kb;
    for (uint d = 0u; d < pc.hd; d++) s += q_s[d] * kc.d[o + d];
#else
    uint o = (p * pc.kv_row + kb) / 2u;
    for (uint d = 0u; d < pc.hd; d += 2u) {
        vec2 k = unpackHalf2x16(kc.d[o + d / 2u]);
        s += q_s[d] * k.x + q_s[d + 1u] * k.y;
    }
#endif
    return s;
}

float v_at(uint p, uint e)
{
#if KV_F32
    return vc.d[p * pc.kv_row + e];
#else
    uint i = p * pc.kv_row + e;
    vec2 v = unpackHalf2x16(vc.d[i / 2u]);
    return (i & 1u) != 0u ? v.y : v.x;
#endif
}

void main()
{
    uint h = gl_WorkGroupID.x, t = gl_WorkGroupID.y, tid = gl_LocalInvocationIndex;
    if (t >= live_rows(pc.tail)) return;
    uint kvh = h / (pc.n_head / pc.n_head_kv), kb = kvh * pc.hd;
    uint n_kv = run.n_past + t + 1u;
    uint qb = pc.q_off + t * pc.q_stride + h * pc.hd;
    for (uint d = tid; d < pc.hd; d += WG) {
#if KV_F32
        q_s[d] = src0.d[qb + d];
#else
        q_s[d] = round_f16(src0.d[qb + d]);
#endif
    }
    barrier();
    float m = NEG_BIG, l = 0.0, acc0 = 0.0, acc1 = 0.0;
    for (uint p0 = 0u; p0 < n_kv; p0 += WG) {
        uint p = p0 + tid;
        float s = p < n_kv ? score(p, kb) * pc.scale : NEG_BIG;
        float m_new = max(m, wg_max(s));
        float pr = p < n_kv ? exp(s - m_new) : 0.0;
        float alpha = exp(m - m_new);
        l = l * alpha + wg_sum(pr);
        p_s[tid] = pr;
        barrier();
        uint nt = min(uint(WG), n_kv - p0);
        acc0 *= alpha;
        acc1 *= alpha;
        for (uint j = 0u; j < nt; j++) {
            float pj = p_s[j];
            if (tid < pc.hd) acc0 += pj * v_at(p0 + j, kb + tid);
            if (tid + WG < pc.hd) acc1 += pj * v_at(p0 + j, kb + tid + WG);
        }
        barrier();
        m = m_new;
    }
    uint yb = pc.y_off + t * pc.y_stride + h * pc.hd;
    if (tid < pc.hd) dst.d[yb + tid] = acc0 / l;
    if (tid + WG < pc.hd) dst.d[yb + tid + WG] = acc1 / l;
}
