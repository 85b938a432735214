#version 450
/* moe_combine.comp - y[t] = sum over token t's k experts, in expert-index
 * order (as the CPU adds them), of weight_tj * src0[t * k + j]. */
#extension GL_GOOGLE_include_directive : require
#include "tf_pc.h"
layout(local_size_x = TF_WG_ELT) in;
#include "common.glsl"
TF_PC_BLOCK(TF_PC_MOE)

void main()
{
    uint t = gl_WorkGroupID.y, i = gl_GlobalInvocationID.x;
    if (i >= pc.ne0 || t >= live_rows(pc.tail)) return;
    uint gb = pc.ids_off + t * 2u * pc.k;
    float acc = 0.0;
    int last = -1;
    for (uint n = 0u; n < pc.k; n++) {
        int best = 0x7fffffff;
        uint bj = 0u;
        for (uint j = 0u; j < pc.k; j++) {
            int e = int(src1.d[gb + j]);
            if (e > last && e < best) { best = e; bj = j; }
        }
        acc += src1.d[gb + pc.k + bj] * src0.d[pc.x_off + (t * pc.k + bj) * pc.ne0 + i];
        last = best;
    }
    dst.d[pc.y_off + t * pc.ne0 + i] = acc;
}
