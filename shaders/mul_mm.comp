#version 450
#extension GL_EXT_control_flow_attributes : require
/* mul_mm.comp - tiled matrix x matrix (prompt batches): a workgroup of 256
 * invocations computes a BM x BN tile of y (weight rows x columns), each
 * invocation a 4 x 4 block.  Per step of BK = 32 elements the workgroup
 * dequantizes BM x 32 weights and loads BN x 32 activations into shared
 * memory (two quads per invocation each), then accumulates.
 *
 * Expert mode (pc.n_id > 0): workgroup z is expert e; its columns are
 * entries off[e] .. off[e+1] of the routing list in AUX (moe_route.comp),
 * each a column c = token * n_id + slot.  Empty tiles exit at once.
 */
#extension GL_GOOGLE_include_directive : require
#include "tf_pc.h"
#define BM TF_MM_TILE
#define BN TF_MM_TILE
#define BK 32
layout(local_size_x = TF_WG_MM) in;
#include "dequant.glsl"
TF_PC_BLOCK(TF_PC_MAT)

layout(std430, set = 0, binding = TF_B_AUX) readonly buffer AuxBuf { uint u[]; } aux;

shared float a_s[BK * (BM + 1)];
shared float b_s[BK * (BN + 1)];
shared uint col_s[BN];

vec4 x4(uint xb, uint q)
{
    if (pc.x_vec4 != 0u) return src0v.d[(xb >> 2) + q];
    vec4 r = vec4(0.0);
    [[unroll]] for (uint c = 0u; c < 4u; c++) if (4u * q + c < pc.K) r[c] = src0.d[xb + 4u * q + c];
    return r;
}

void main()
{
    uint tid = gl_LocalInvocationIndex;
    uint rows = live_rows(pc.tail);
    uint row0 = gl_WorkGroupID.x * BM, col0 = gl_WorkGroupID.y * BN;
    uint ncols, e = 0u, lbase = 0u;
    if (pc.n_id > 0u) {
        e = gl_WorkGroupID.z;
        lbase = aux.u[e];
        ncols = aux.u[e + 1u] - lbase;
    } else {
        ncols = rows;
    }
    if (col0 >= ncols) return;
    if (tid < BN) {
        uint c = col0 + tid;
        col_s[tid] = c < ncols ? (pc.n_id > 0u ? aux.u[pc.n_exp + 1u + lbase + c] : c) : 0xffffffffu;
    }
    barrier();
    uint wbase = e * pc.expert_bytes;
    uint tx = tid & 15u, ty = tid >> 4;
    float acc[16];
    [[unroll]] for (uint i = 0u; i < 16u; i++) acc[i] = 0.0;
    uint nq = (pc.K + 3u) / 4u;
    for (uint q0 = 0u; q0 < nq; q0 += BK / 4u) {
        [[unroll]] for (uint i = 0u; i < 2u; i++) {
            uint idx = tid + 256u * i, m = idx >> 3, qq = idx & 7u;
            uint r = row0 + m, q = q0 + qq;
            vec4 w = r < pc.N && q < nq ? dq4(wbase + r * pc.row_bytes, q, pc.K) : vec4(0.0);
            [[unroll]] for (uint c = 0u; c < 4u; c++) a_s[(qq * 4u + c) * (BM + 1u) + m] = w[c];
            uint col = col_s[m];
            vec4 x = vec4(0.0);
            if (col != 0xffffffffu && q < nq) {
                uint xr = pc.n_id > 0u && pc.per_slot == 0u ? col / pc.n_id : col;
                x = x4(pc.x_off + xr * pc.x_stride, q);
            }
            [[unroll]] for (uint c = 0u; c < 4u; c++) b_s[(qq * 4u + c) * (BN + 1u) + m] = x[c];
        }
        barrier();
        [[unroll]] for (uint k = 0u; k < BK; k++) {
            vec4 a = vec4(a_s[k * (BM + 1u) + tx * 4u], a_s[k * (BM + 1u) + tx * 4u + 1u],
                          a_s[k * (BM + 1u) + tx * 4u + 2u], a_s[k * (BM + 1u) + tx * 4u + 3u]);
            vec4 b = vec4(b_s[k * (BN + 1u) + ty * 4u], b_s[k * (BN + 1u) + ty * 4u + 1u],
                          b_s[k * (BN + 1u) + ty * 4u + 2u], b_s[k * (BN + 1u) + ty * 4u + 3u]);
            [[unroll]] for (uint j = 0u; j < 4u; j++)
                [[unroll]] for (uint i = 0u; i < 4u; i++) acc[j * 4u + i] += a[i] * b[j];
        }
        barrier();
    }
    [[unroll]] for (uint j = 0u; j < 4u; j++) {
        uint col = col_s[ty * 4u + j];
        if (col == 0xffffffffu) continue;
        [[unroll]] for (uint i = 0u; i < 4u; i++) {
            uint r = row0 + tx * 4u + i;
            if (r >= pc.N) continue;
            float bias = pc.has_bias != 0u ? uintBitsToFloat(w1.w[r]) : 0.0;
            dst.d[pc.y_off + col * pc.y_stride + r] = acc[j * 4u + i] + bias;
        }
    }
}
