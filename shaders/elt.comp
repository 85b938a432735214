#version 450
/* elt.comp - elementwise ops over [ne0, rows]: add, SwiGLU, the per-token
 * sigmoid gate (b is one scalar per row), and LAST_ROW's copy of the rows
 * whose logits are wanted.  Workgroup y is the row. */
#extension GL_GOOGLE_include_directive : require
#include "tf_pc.h"
layout(local_size_x = TF_WG_ELT) in;
#include "common.glsl"
TF_PC_BLOCK(TF_PC_ELT)

void main()
{
    uint t = gl_WorkGroupID.y, i = gl_GlobalInvocationID.x;
    if (i >= pc.ne0 || t >= live_rows(pc.tail)) return;
    uint y = pc.y_off + t * pc.ne0 + i;
    if (pc.op == TF_ELT_LAST_ROWS) {
        uint from = run.n_tokens - run.n_out;
        dst.d[y] = src0.d[pc.a_off + (from + t) * pc.ne0 + i];
        return;
    }
    float a = src0.d[pc.a_off + t * pc.ne0 + i];
    float b = src1.d[pc.b_off + t * pc.b_stride + (pc.op == TF_ELT_SIGMOID_GATE ? 0u : i)];
    if (pc.op == TF_ELT_ADD) dst.d[y] = a + b;
    else if (pc.op == TF_ELT_SWIGLU) dst.d[y] = a / (1.0 + exp(-a)) * b;
    else dst.d[y] = a / (1.0 + exp(-b));
}
