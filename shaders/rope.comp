#version 450
/* rope.comp - rotary position embedding over [hd, nh, rows], NORM (adjacent
 * pairs) or NEOX (pairs half a rotation apart) with linear / YaRN scaling.
 * One invocation per pair of a head; dims past n_rot are copied.  The
 * angle is built by the same sequence of float multiplications as the CPU
 * (theta *= theta_scale per pair), so both see the same theta. */
#extension GL_GOOGLE_include_directive : require
#include "tf_pc.h"
layout(local_size_x = TF_WG_ROW) in;
#include "common.glsl"
TF_PC_BLOCK(TF_PC_ROPE)

void main()
{
    uint t = gl_WorkGroupID.y, gi = gl_GlobalInvocationID.x, half_hd = pc.hd / 2u;
    if (gi >= pc.nh * half_hd || t >= live_rows(pc.tail)) return;
    uint h = gi / half_hd, i = gi % half_hd;
    uint xb = pc.x_off + t * pc.ne0 + h * pc.hd, yb = pc.y_off + t * pc.ne0 + h * pc.hd;
    if (2u * i >= pc.n_rot) {
        uint a = 2u * i;
        dst.d[yb + a] = src0.d[xb + a];
        dst.d[yb + a + 1u] = src0.d[xb + a + 1u];
        return;
    }
    float theta = float(run.n_past + t);
    for (uint k = 0u; k < i; k++) theta *= pc.theta_scale;
    float interp = pc.freq_scale * theta, th = interp, ms = pc.mscale;
    if (pc.ext != 0.0) {
        float y = (float(i) - pc.corr0) / max(0.001, pc.corr1 - pc.corr0);
        float mix_ = (1.0 - min(1.0, max(0.0, y))) * pc.ext;
        th = interp * (1.0 - mix_) + theta * mix_;
        ms *= pc.yarn_ms;
    }
    float c = cos(th) * ms, s = sin(th) * ms;
    uint a = pc.neox != 0u ? i : 2u * i;
    uint b = pc.neox != 0u ? i + pc.n_rot / 2u : 2u * i + 1u;
    float x0 = src0.d[xb + a], x1 = src0.d[xb + b];
    dst.d[yb + a] = x0 * c - x1 * s;
    dst.d[yb + b] = x0 * s + x1 * c;
}
