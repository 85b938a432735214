#version 450
/* rms_norm.comp - y = x / sqrt(mean(x^2) + eps) * w, one workgroup per row. */
#extension GL_GOOGLE_include_directive : require
#include "tf_pc.h"
#define WG TF_WG_NORM
layout(local_size_x = WG) in;
#include "common.glsl"
TF_PC_BLOCK(TF_PC_NORM)

void main()
{
    uint t = gl_WorkGroupID.y, tid = gl_LocalInvocationIndex;
    if (t >= live_rows(pc.tail)) return;
    uint xb = pc.x_off + t * pc.n, yb = pc.y_off + t * pc.n;
    float ss = 0.0;
    for (uint i = tid; i < pc.n; i += WG) ss += src0.d[xb + i] * src0.d[xb + i];
    ss = wg_sum(ss);
    float scale = 1.0 / sqrt(ss / float(pc.n) + pc.eps);
    for (uint i = tid; i < pc.n; i += WG)
        dst.d[yb + i] = src0.d[xb + i] * scale * uintBitsToFloat(w0.w[i]);
}
