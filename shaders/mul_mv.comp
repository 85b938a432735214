#version 450
/* mul_mv.comp - matrix x few vectors: y[c][r] = w_r . x_c (+ bias[r]) for
 * up to NC columns per workgroup (decode, small batches).
 *
 * A workgroup takes pc.nr consecutive rows; each subgroup takes one row at
 * a time, its lanes striding over the row's quads (4 elements), so
 * neighbouring lanes read neighbouring weight bytes and activations (the
 * lanes on one block share its scale: a broadcast load); one subgroupAdd
 * per column finishes the dot, with no barrier.  Without subgroup
 * arithmetic, groups of VG invocations play the subgroups and reduce
 * through shared memory.  Expert mode (pc.n_id > 0): one column per
 * workgroup, its weight matrix picked by the expert id stored in src1 (a
 * MOE_GATE node's output).
 */
#extension GL_GOOGLE_include_directive : require
#include "tf_pc.h"
#define WG TF_WG_MV
#define NC TF_MV_COLS
layout(local_size_x = WG) in;
#include "dequant.glsl"
TF_PC_BLOCK(TF_PC_MAT)

#if USE_SUBGROUP
#define LANES min(gl_SubgroupSize, uint(WG))
#define LANE gl_SubgroupInvocationID
#define GROUP gl_SubgroupID
#define NGROUPS gl_NumSubgroups
#else
#define VG 16u
#define LANES VG
#define LANE (gl_LocalInvocationIndex % VG)
#define GROUP (gl_LocalInvocationIndex / VG)
#define NGROUPS (uint(WG) / VG)
shared float part_s[NC * WG];
#endif

/* Activation quad q of the column whose row starts at element xb. */
vec4 x4(uint xb, uint q)
{
    if (pc.x_vec4 != 0u) return src0v.d[(xb >> 2) + q];
    vec4 r = vec4(0.0);
    for (uint c = 0u; c < 4u; c++) if (4u * q + c < pc.K) r[c] = src0.d[xb + 4u * q + c];
    return r;
}

void main()
{
    uint rows = live_rows(pc.tail);
    uint ncols = pc.n_id > 0u ? rows * pc.n_id : rows;
    uint c0 = gl_WorkGroupID.y * (pc.n_id > 0u ? 1u : NC);
    if (c0 >= ncols) return;
    uint nc = pc.n_id > 0u ? 1u : min(uint(NC), ncols - c0);
    uint wbase = 0u, xb0 = pc.x_off + c0 * pc.x_stride;
    if (pc.n_id > 0u) {
        uint t = c0 / pc.n_id, j = c0 % pc.n_id;
        uint e = uint(src1.d[pc.ids_off + t * 2u * pc.n_id + j]);
        wbase = e * pc.expert_bytes;
        xb0 = pc.x_off + (pc.per_slot != 0u ? c0 : t) * pc.x_stride;
    }
    uint nq = (pc.K + 3u) / 4u;
    uint r0 = gl_WorkGroupID.x * pc.nr, r_end = min(r0 + pc.nr, pc.N);
    uint iters = (pc.nr + NGROUPS - 1u) / NGROUPS;
    for (uint it = 0u; it < iters; it++) {
        uint r = r0 + it * NGROUPS + GROUP;
        bool valid = r < r_end;
        float acc[NC];
        for (uint c = 0u; c < NC; c++) acc[c] = 0.0;
        if (valid) {
            uint rb = wbase + r * pc.row_bytes;
            for (uint q = LANE; q < nq; q += LANES) {
                vec4 w = dq4(rb, q, pc.K);
                for (uint c = 0u; c < NC; c++)
                    if (c < nc) acc[c] += dot(w, x4(xb0 + c * pc.x_stride, q));
            }
        }
        float bias = valid && pc.has_bias != 0u ? uintBitsToFloat(w1.w[r]) : 0.0;
#if USE_SUBGROUP
        if (valid) {
            for (uint c = 0u; c < NC; c++)
                if (c < nc) acc[c] = subgroupAdd(acc[c]);
            if (subgroupElect())
                for (uint c = 0u; c < NC; c++)
                    if (c < nc) dst.d[pc.y_off + (c0 + c) * pc.y_stride + r] = acc[c] + bias;
        }
#else
        uint tid = gl_LocalInvocationIndex;
        for (uint c = 0u; c < NC; c++) part_s[c * WG + tid] = acc[c];
        barrier();
        for (uint s = VG / 2u; s > 0u; s >>= 1) {
            if (LANE < s)
                for (uint c = 0u; c < NC; c++) part_s[c * WG + tid] += part_s[c * WG + tid + s];
            barrier();
        }
        if (valid && LANE == 0u)
            for (uint c = 0u; c < NC; c++)
                if (c < nc) dst.d[pc.y_off + (c0 + c) * pc.y_stride + r] = part_s[c * WG + tid] + bias;
        barrier();
#endif
    }
}
