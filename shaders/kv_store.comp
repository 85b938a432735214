#version 450
/* kv_store.comp - write the batch's K and V rows (src1, src2) into this
 * layer's cache at positions n_past + t: F16 (two halves per uint, rounded
 * to nearest even like the CPU) or, with KV_F32, F32. */
#extension GL_GOOGLE_include_directive : require
#include "tf_pc.h"
layout(local_size_x = TF_WG_ROW) in;
#include "common.glsl"
TF_PC_BLOCK(TF_PC_ATTN)

#if KV_F32
layout(std430, set = 0, binding = TF_B_KC) writeonly buffer KBuf { float d[]; } kc;
layout(std430, set = 0, binding = TF_B_VC) writeonly buffer VBuf { float d[]; } vc;
#else
layout(std430, set = 0, binding = TF_B_KC) writeonly buffer KBuf { uint d[]; } kc;
layout(std430, set = 0, binding = TF_B_VC) writeonly buffer VBuf { uint d[]; } vc;
#endif

void main()
{
    uint t = gl_WorkGroupID.y, i = gl_GlobalInvocationID.x; /* pair i of the row */
    if (2u * i >= pc.kv_row || t >= run.n_tokens) return;
    uint pos = run.n_past + t;
    uint ks = pc.k_off + t * pc.kv_stride + 2u * i, vs = pc.v_off + t * pc.kv_stride + 2u * i;
#if KV_F32
    uint o = pos * pc.kv_row + 2u * i;
    kc.d[o] = src1.d[ks];
    kc.d[o + 1u] = src1.d[ks + 1u];
    vc.d[o] = src2.d[vs];
    vc.d[o + 1u] = src2.d[vs + 1u];
#else
    uint o = pos * (pc.kv_row / 2u) + i;
    kc.d[o] = f2h_bits(src1.d[ks]) | (f2h_bits(src1.d[ks + 1u]) << 16);
    vc.d[o] = f2h_bits(src2.d[vs]) | (f2h_bits(src2.d[vs + 1u]) << 16);
#endif
}
