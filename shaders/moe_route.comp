#version 450
/* moe_route.comp - group a batch's (token, slot) pairs by expert, for the
 * tiled expert products: AUX gets off[n_exp + 1] (expert e's entries are
 * off[e] .. off[e+1]) then the list, each entry c = t * k + j, in token
 * order within an expert.  A counting sort by one invocation: at most
 * n_batch * k entries, small next to the products it feeds. */
layout(local_size_x = 1) in;
#include "common.glsl"
TF_PC_BLOCK(TF_PC_MOE)

layout(std430, set = 0, binding = TF_B_AUX) buffer AuxBuf { uint u[]; } aux;

void main()
{
    uint rows = live_rows(pc.tail), ne = pc.n_exp, k = pc.k;
    for (uint e = 0u; e <= ne; e++) aux.u[e] = 0u;
    for (uint t = 0u; t < rows; t++)
        for (uint j = 0u; j < k; j++) aux.u[uint(src1.d[pc.ids_off + t * 2u * k + j]) + 1u]++;
    for (uint e = 0u; e < ne; e++) aux.u[e + 1u] += aux.u[e];
    /* second pass: place entries, using off[] as the cursor then shifting back */
    for (uint t = 0u; t < rows; t++)
        for (uint j = 0u; j < k; j++) {
            uint e = uint(src1.d[pc.ids_off + t * 2u * k + j]);
            aux.u[ne + 1u + aux.u[e]] = t * k + j;
            aux.u[e]++;
        }
    for (uint e = ne; e > 0u; e--) aux.u[e] = aux.u[e - 1u];
    aux.u[0] = 0u;
}
