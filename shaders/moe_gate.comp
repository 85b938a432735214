#version 450
/* moe_gate.comp - router logits [n_exp, rows] -> per token the k chosen
 * expert ids (as floats) then their weights, [2k, rows].  Softmax or
 * sigmoid, then k rounds of arg-max; a tie goes to the lower expert index
 * (as on the CPU).  Weights renormalised over the k when pc.norm, then
 * scaled.  One workgroup of WG per token; shared-memory reductions. */
#extension GL_GOOGLE_include_directive : require
#include "tf_pc.h"
#define WG TF_WG_GATE
#define MAX_EXP 1024
layout(local_size_x = WG) in;
#include "common.glsl"
TF_PC_BLOCK(TF_PC_MOE)

shared float p_s[MAX_EXP];
shared float bv_s[WG];
shared uint bi_s[WG];

/* Reduce (value, index) pairs: larger value wins, then lower index. */
void best_pair(inout float v, inout uint idx)
{
    uint tid = gl_LocalInvocationIndex;
    bv_s[tid] = v;
    bi_s[tid] = idx;
    barrier();
    for (uint s = WG / 2u; s > 0u; s >>= 1) {
        if (tid < s) {
            float ov = bv_s[tid + s];
            uint oi = bi_s[tid + s];
            if (ov > bv_s[tid] || (ov == bv_s[tid] && oi < bi_s[tid])) {
                bv_s[tid] = ov;
                bi_s[tid] = oi;
            }
        }
        barrier();
    }
    v = bv_s[0];
    idx = bi_s[0];
    barrier();
}

void main()
{
    uint t = gl_WorkGroupID.x, tid = gl_LocalInvocationIndex;
    if (t >= live_rows(pc.tail)) return;
    uint xb = pc.x_off + t * pc.n_exp;
    float mx = NEG_BIG;
    for (uint e = tid; e < pc.n_exp; e += WG) {
        float l = src0.d[xb + e];
        p_s[e] = pc.gating == 1u ? 1.0 / (1.0 + exp(-l)) : l;
        mx = max(mx, l);
    }
    barrier();
    if (pc.gating != 1u) {
        uint dummy = 0u;
        best_pair(mx, dummy);
        float sum = 0.0;
        for (uint e = tid; e < pc.n_exp; e += WG) {
            p_s[e] = exp(p_s[e] - mx);
            sum += p_s[e];
        }
        dummy = 0u;
        bv_s[tid] = sum;
        barrier();
        for (uint s = WG / 2u; s > 0u; s >>= 1) {
            if (tid < s) bv_s[tid] += bv_s[tid + s];
            barrier();
        }
        sum = bv_s[0];
        barrier();
        for (uint e = tid; e < pc.n_exp; e += WG) p_s[e] = p_s[e] / sum;
        barrier();
    }
    uint yb = pc.y_off + t * 2u * pc.k;
    float wsum = 0.0;
    for (uint j = 0u; j < pc.k; j++) {
        float bv = -1.0;
        uint bi = 0xffffffffu;
        for (uint e = tid; e < pc.n_exp; e += WG)
            if (p_s[e] > bv) { bv = p_s[e]; bi = e; }
        best_pair(bv, bi);
        if (tid == 0u) {
            dst.d[yb + j] = float(bi);
            dst.d[yb + pc.k + j] = bv;
            p_s[bi] = -2.0; /* taken */
        }
        wsum += bv;
        barrier();
    }
    if (wsum < 6.103515625e-5) wsum = 6.103515625e-5;
    if (tid < pc.k) {
        float w = dst.d[yb + pc.k + tid];
        dst.d[yb + pc.k + tid] = (pc.norm != 0u ? w / wsum : w) * pc.scale;
    }
}
