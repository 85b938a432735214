/* tf_pc.h - push constants and descriptor bindings shared by the Vulkan
 * shaders (GLSL, compiled by glslc, which defines VULKAN) and the C side
 * (lib/vk_*.c).
 *
 * Each block is an X-macro list of 4-byte fields: U(name) a uint, F(name) a
 * float.  GLSL turns a list into `layout(push_constant) uniform` (std430:
 * 4-byte scalars sit at consecutive 4-byte offsets); C turns it into a
 * struct of uint32_t/float, and lib/vk_pipes.c asserts at compile time that
 * every field sits at 4 * its index and that the struct fits the 128 bytes
 * every Vulkan device guarantees.  So the two sides cannot drift apart.
 *
 * Offsets named *_off are in 4-byte elements from the start of the binding
 * (a binding starts at the operand's offset rounded down to the device's
 * minStorageBufferOffsetAlignment).  `tail` selects the dynamic row count:
 * 0 = the run's n_tokens, 1 = its n_out (nodes after LAST_ROW).
 */
#ifndef TF_PC_H
#define TF_PC_H

/* Descriptor bindings (set 0); every pipeline uses the same layout. */
#define TF_B_RUN 0  /* run parameters + tokens (host-written each eval) */
#define TF_B_DST 1  /* output activations */
#define TF_B_SRC0 2
#define TF_B_SRC1 3
#define TF_B_SRC2 4
#define TF_B_W0 5   /* weight bytes, read as uint */
#define TF_B_W1 6   /* second weight (bias) */
#define TF_B_KC 7   /* this layer's K cache */
#define TF_B_VC 8   /* this layer's V cache */
#define TF_B_AUX 9  /* MoE routing lists */
#define TF_B_COUNT 10

/* Workgroup sizes (the C side sizes its dispatches with them). */
#define TF_WG_MV 128    /* mul_mv: one row per subgroup at a time */
#define TF_MV_COLS 8    /* mul_mv: columns per workgroup */
#define TF_WG_MM 256    /* mul_mm: 16 x 16 invocations, 4 x 4 outputs each */
#define TF_MM_TILE 64   /* mul_mm: rows and columns per workgroup */
#define TF_WG_ROW 128   /* get_rows (quads), rope (pairs), kv_store (pairs) */
#define TF_WG_ELT 256   /* elt, moe_combine */
#define TF_WG_NORM 256  /* rms_norm: one row per workgroup */
#define TF_WG_ATTN 128  /* attn: cache positions per tile; head dim <= 2x */
#define TF_WG_GATE 64   /* moe_gate: one token per workgroup */

/* Matrix products (mul_mv, mul_mm); n_id > 0 selects expert mode: column c
 * is slot c % n_id of token c / n_id, its expert id read from src1. */
#define TF_PC_MAT(U, F) \
    U(K) U(N) U(tail) U(n_id) U(x_off) U(x_stride) U(y_off) U(y_stride) \
    U(ids_off) U(row_bytes) U(expert_bytes) U(has_bias) U(nr) U(per_slot) \
    U(n_exp) U(x_vec4)

/* Embedding lookup (get_rows): K elements per row. */
#define TF_PC_EMBED(U, F) U(K) U(row_bytes) U(y_off)

/* RMS norm of rows of n elements, times weight W0. */
#define TF_PC_NORM(U, F) U(n) U(x_off) U(y_off) U(tail) F(eps)

/* Rotary embedding; see lib/backend_cpu.c op_rope for the float recipe. */
#define TF_PC_ROPE(U, F) \
    U(ne0) U(hd) U(nh) U(n_rot) U(neox) U(x_off) U(y_off) U(tail) \
    F(theta_scale) F(freq_scale) F(ext) F(mscale) F(corr0) F(corr1) F(yarn_ms)

/* Store K/V rows at the run's positions (kv_store) and attend (attn). */
#define TF_PC_ATTN(U, F) \
    U(hd) U(n_head) U(n_head_kv) U(q_off) U(q_stride) U(k_off) U(v_off) \
    U(kv_stride) U(y_off) U(y_stride) U(kv_row) U(tail) F(scale)

/* Elementwise ops (elt): op TF_ELT_*. */
#define TF_PC_ELT(U, F) U(op) U(ne0) U(a_off) U(b_off) U(b_stride) U(y_off) U(tail)
#define TF_ELT_ADD 0
#define TF_ELT_SWIGLU 1
#define TF_ELT_SIGMOID_GATE 2
#define TF_ELT_LAST_ROWS 3

/* MoE: gating (moe_gate), grouping by expert (moe_route), weighted sum of
 * the experts' outputs (moe_combine). */
#define TF_PC_MOE(U, F) \
    U(n_exp) U(k) U(gating) U(norm) U(x_off) U(y_off) U(ids_off) U(ne0) U(tail) F(scale)

#ifdef VULKAN
#define TF_PC_GU_(x) uint x;
#define TF_PC_GF_(x) float x;
#define TF_PC_BLOCK(LIST) layout(push_constant) uniform PC { LIST(TF_PC_GU_, TF_PC_GF_) } pc;
#else
#include <stdint.h>
#define TF_PC_CU_(x) uint32_t x;
#define TF_PC_CF_(x) float x;
#define TF_PC_STRUCT(name, LIST) typedef struct name { LIST(TF_PC_CU_, TF_PC_CF_) } name;
TF_PC_STRUCT(tf_pc_mat, TF_PC_MAT)
TF_PC_STRUCT(tf_pc_embed, TF_PC_EMBED)
TF_PC_STRUCT(tf_pc_norm, TF_PC_NORM)
TF_PC_STRUCT(tf_pc_rope, TF_PC_ROPE)
TF_PC_STRUCT(tf_pc_attn, TF_PC_ATTN)
TF_PC_STRUCT(tf_pc_elt, TF_PC_ELT)
TF_PC_STRUCT(tf_pc_moe, TF_PC_MOE)
#endif

/* Layout of the run buffer (TF_B_RUN): four uints, then the tokens. */
#define TF_RUN_HEADER_U32 4

#endif
