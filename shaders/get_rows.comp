#version 450
/* get_rows.comp - token embedding lookup: row tokens[t] of W0, dequantized
 * to F32.  One invocation per quad; workgroup y is the token. */
#extension GL_GOOGLE_include_directive : require
#include "tf_pc.h"
layout(local_size_x = TF_WG_ROW) in;
#include "dequant.glsl"
TF_PC_BLOCK(TF_PC_EMBED)

void main()
{
    uint t = gl_WorkGroupID.y, q = gl_GlobalInvocationID.x;
    if (t >= run.n_tokens || 4u * q >= pc.K) return;
    vec4 v = dq4(uint(run.tokens[t]) * pc.row_bytes, q, pc.K);
    for (uint c = 0u; c < 4u; c++) if (4u * q + c < pc.K) dst.d[pc.y_off + t * pc.K + 4u * q + c] = v[c];
}
