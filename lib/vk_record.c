/* vk_record.c - graph nodes -> descriptor sets and compute dispatches.
 *
 * Descriptor sets are made once per context: each binding points at one
 * operand (an arena node, a weight, a layer's K/V cache, MoE scratch),
 * starting at the operand's offset rounded down to the device's
 * minStorageBufferOffsetAlignment; the remainder goes to the shader as an
 * element offset in push constants.
 *
 * A command buffer is recorded once per (bucket of tb tokens, all logits
 * or the last row): dispatches are sized for tb tokens and the shaders
 * read the live counts (n_tokens, n_past, n_out) and the tokens from the
 * run buffer, so the same commands serve every batch of the bucket.
 * Barriers go only where data flows: a dispatch waits for the earlier ones
 * only when it reads what they write, or writes what they read or write
 * (the arena reuses memory), tracked by byte ranges.
 */
#ifdef TF_VULKAN
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vk_state.h"

#define MAX_PEND 64

/* ---- descriptor sets ------------------------------------------------------ */

typedef struct set_builder {
    tf_vk_state *s;
    tf_vk_range bind[TF_B_COUNT];
    tf_vk_set *st;
    bool too_big;
} set_builder;

static void sb_begin(set_builder *b, tf_vk_state *s, tf_vk_set *st)
{
    b->s = s;
    b->st = st;
    for (int i = 0; i < TF_B_COUNT; i++) b->bind[i] = (tf_vk_range){s->dummy.buf, 0, s->dummy.size};
    b->bind[TF_B_RUN] = (tf_vk_range){s->run.buf, 0, s->run.size};
    memset(st->op, 0, sizeof st->op);
    memset(st->elem_off, 0, sizeof st->elem_off);
}

static void sb_op(set_builder *b, int binding, tf_vk_range r)
{
    VkDeviceSize a = b->s->d->align, base = r.off / a * a;
    VkDeviceSize size = (r.off + r.size - base + 3) / 4 * 4;
    b->bind[binding] = (tf_vk_range){r.buf, base, size};
    b->st->op[binding] = r;
    b->st->elem_off[binding] = (uint32_t)((r.off - base) / 4);
    if (size > b->s->d->max_range) b->too_big = true;
}

static tf_vk_range node_range(const tf_vk_state *s, const tf_graph *g, int i)
{
    return (tf_vk_range){s->arena.buf, g->nodes[i].offset, tf_node_bytes(g, i)};
}

static tf_vk_range weight_range(const tf_vk_state *s, const tf_weight *w)
{
    for (int i = 0; i < s->n_weights; i++)
        if (s->weights[i] == w) return s->wrange[i];
    return (tf_vk_range){s->dummy.buf, 0, s->dummy.size};
}

/* Fill the binding tables of node i's sets; returns how many it uses. */
static int node_sets(tf_vk_state *s, const tf_context *c, int i, set_builder *b)
{
    const tf_graph *g = &c->graph;
    const tf_node *nd = &g->nodes[i];
    tf_vk_set *st = &s->sets[(size_t)i * TF_VK_SETS_PER_NODE];
    sb_begin(&b[0], s, &st[0]);
    if (nd->op == TF_OP_MOE_FFN) {
        tf_vk_range x = node_range(s, g, nd->src[0]), gate = node_range(s, g, nd->src[1]);
        const tf_weight *w[2] = {nd->w, nd->w2};
        tf_vk_range dst[2] = {s->aux_g, s->aux_u};
        for (int k = 0; k < 2; k++) { /* 0: gate rows, 1: up rows */
            sb_begin(&b[k], s, &st[k]);
            sb_op(&b[k], TF_B_DST, dst[k]);
            sb_op(&b[k], TF_B_SRC0, x);
            sb_op(&b[k], TF_B_SRC1, gate);
            sb_op(&b[k], TF_B_W0, weight_range(s, w[k]));
            sb_op(&b[k], TF_B_AUX, s->aux_route);
        }
        sb_begin(&b[2], s, &st[2]); /* SwiGLU in place over the gate rows */
        sb_op(&b[2], TF_B_DST, s->aux_g);
        sb_op(&b[2], TF_B_SRC0, s->aux_g);
        sb_op(&b[2], TF_B_SRC1, s->aux_u);
        sb_begin(&b[3], s, &st[3]); /* down rows */
        sb_op(&b[3], TF_B_DST, s->aux_d);
        sb_op(&b[3], TF_B_SRC0, s->aux_g);
        sb_op(&b[3], TF_B_SRC1, gate);
        sb_op(&b[3], TF_B_W0, weight_range(s, nd->w3));
        sb_op(&b[3], TF_B_AUX, s->aux_route);
        sb_begin(&b[4], s, &st[4]); /* weighted sum per token */
        sb_op(&b[4], TF_B_DST, node_range(s, g, i));
        sb_op(&b[4], TF_B_SRC0, s->aux_d);
        sb_op(&b[4], TF_B_SRC1, gate);
        return 5;
    }
    sb_op(&b[0], TF_B_DST, node_range(s, g, i));
    static const int src_binding[3] = {TF_B_SRC0, TF_B_SRC1, TF_B_SRC2};
    for (int k = 0; k < 3; k++)
        if (nd->src[k] >= 0) sb_op(&b[0], src_binding[k], node_range(s, g, nd->src[k]));
    if (nd->w) sb_op(&b[0], TF_B_W0, weight_range(s, nd->w));
    if (nd->w2) sb_op(&b[0], TF_B_W1, weight_range(s, nd->w2));
    if (nd->op == TF_OP_ATTN) {
        sb_op(&b[0], TF_B_KC, s->kc[nd->il]);
        sb_op(&b[0], TF_B_VC, s->vc[nd->il]);
    }
    return 1;
}

tf_status tf_vk_sets_new(tf_vk_state *s, const tf_context *c, char *err, size_t errlen)
{
    const tf_graph *g = &c->graph;
    tf_vk_dev *d = s->d;
    s->sets = calloc((size_t)g->n * TF_VK_SETS_PER_NODE, sizeof *s->sets);
    if (!s->sets) return TF_ERR_NOMEM;
    uint32_t total = 0;
    set_builder b[TF_VK_SETS_PER_NODE];
    for (int i = 0; i < g->n; i++) total += (uint32_t)node_sets(s, c, i, b);
    VkDescriptorPoolSize ps = {VK_DESCRIPTOR_TYPE_STORAGE_BUFFER, total * TF_B_COUNT};
    VkDescriptorPoolCreateInfo pi = {.sType = VK_STRUCTURE_TYPE_DESCRIPTOR_POOL_CREATE_INFO, .maxSets = total,
                                     .poolSizeCount = 1, .pPoolSizes = &ps};
    VkResult r = d->f.vkCreateDescriptorPool(d->dev, &pi, NULL, &s->dpool);
    for (int i = 0; r == VK_SUCCESS && i < g->n; i++) {
        memset(b, 0, sizeof b);
        int n = node_sets(s, c, i, b);
        for (int k = 0; r == VK_SUCCESS && k < n; k++) {
            if (b[k].too_big) {
                tf_errf(err, errlen, "Vulkan backend: node %d's operands exceed what %s binds (%.1f MiB)", i,
                        d->name, d->max_range / 1048576.0);
                return TF_ERR_UNSUPPORTED;
            }
            VkDescriptorSetAllocateInfo ai = {.sType = VK_STRUCTURE_TYPE_DESCRIPTOR_SET_ALLOCATE_INFO,
                                              .descriptorPool = s->dpool, .descriptorSetCount = 1,
                                              .pSetLayouts = &d->dsl};
            tf_vk_set *st = b[k].st;
            r = d->f.vkAllocateDescriptorSets(d->dev, &ai, &st->set);
            if (r == VK_SUCCESS) tf_vk_set_write(d, st->set, b[k].bind);
        }
    }
    if (r != VK_SUCCESS) {
        tf_errf(err, errlen, "Vulkan: creating descriptor sets failed: %s", tf_vk_result_str(r));
        return TF_ERR_BACKEND;
    }
    return TF_OK;
}

/* ---- recording ------------------------------------------------------------- */

typedef struct access {
    VkBuffer buf;
    VkDeviceSize lo, hi;
    bool write;
} access;

typedef struct rec {
    tf_vk_state *s;
    const tf_context *c;
    VkCommandBuffer cb;
    int32_t tb;
    bool all;
    access pend[MAX_PEND];
    int n_pend;
    VkPipeline bound;
    char *err;
    size_t errlen;
    tf_status st;
} rec;

static void barrier(rec *r)
{
    VkMemoryBarrier mb = {.sType = VK_STRUCTURE_TYPE_MEMORY_BARRIER,
                          .srcAccessMask = VK_ACCESS_SHADER_WRITE_BIT,
                          .dstAccessMask = VK_ACCESS_SHADER_READ_BIT | VK_ACCESS_SHADER_WRITE_BIT};
    r->s->d->f.vkCmdPipelineBarrier(r->cb, VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT,
                                    VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT, 0, 1, &mb, 0, NULL, 0, NULL);
    r->n_pend = 0;
    r->s->stats.barriers++;
}

/* Barrier first if this dispatch's accesses conflict with pending ones. */
static void track(rec *r, const tf_vk_set *set, unsigned wmask)
{
    access a[TF_B_COUNT];
    int n = 0;
    for (int b = 0; b < TF_B_COUNT; b++) {
        if (b == TF_B_RUN || b == TF_B_W0 || b == TF_B_W1 || !set->op[b].buf) continue;
        a[n++] = (access){set->op[b].buf, set->op[b].off, set->op[b].off + set->op[b].size,
                          (wmask >> b) & 1u};
    }
    bool conflict = r->n_pend + n > MAX_PEND;
    for (int i = 0; i < n && !conflict; i++)
        for (int j = 0; j < r->n_pend && !conflict; j++) {
            const access *p = &r->pend[j];
            conflict = p->buf == a[i].buf && p->lo < a[i].hi && a[i].lo < p->hi && (p->write || a[i].write);
        }
    if (conflict) barrier(r);
    for (int i = 0; i < n; i++) r->pend[r->n_pend++] = a[i];
}

static void dispatch(rec *r, const char *name, const tf_vk_set *set, const void *pc, uint32_t pc_size,
                     uint32_t gx, uint32_t gy, uint32_t gz, unsigned wmask)
{
    if (r->st) return;
    tf_vk_dev *d = r->s->d;
    VkPipeline p = tf_vk_pipe(d, name, r->err, r->errlen);
    if (!p) {
        r->st = TF_ERR_BACKEND;
        return;
    }
    track(r, set, wmask);
    if (p != r->bound) d->f.vkCmdBindPipeline(r->cb, VK_PIPELINE_BIND_POINT_COMPUTE, p);
    r->bound = p;
    d->f.vkCmdBindDescriptorSets(r->cb, VK_PIPELINE_BIND_POINT_COMPUTE, d->layout, 0, 1, &set->set, 0, NULL);
    d->f.vkCmdPushConstants(r->cb, d->layout, VK_SHADER_STAGE_COMPUTE_BIT, 0, pc_size, pc);
    d->f.vkCmdDispatch(r->cb, gx, gy, gz);
    r->s->stats.dispatches++;
}

#define W_DST (1u << TF_B_DST)
#define CEIL(a, b) (((a) + (b) - 1) / (b))

static const char *sg_of(const rec *r) { return r->s->d->subgroup_arith ? "sg" : "nosg"; }

/* Rows the dispatches of node i cover: tb, or 1 after LAST_ROW when only
 * the last row's logits are wanted. */
static uint32_t rows_static(const rec *r, int i)
{
    return i >= r->c->graph.tail_from && !r->all ? 1u : (uint32_t)r->tb;
}

typedef struct mat_args {
    const tf_vk_set *set;
    const tf_weight *w;
    uint32_t K, N, cols, tail, n_id, per_slot, n_exp;
} mat_args;

int tf_vk_matmul_path;

/* Tiled products for more than a few columns, on GPUs; on CPU devices such
 * as lavapipe the tiled shader's barriers and shared memory cost more than
 * reading the weights again per 8 columns. */
static bool use_tiled(const rec *r, uint32_t n_id, uint32_t cols)
{
    if (tf_vk_matmul_path) return tf_vk_matmul_path == 2;
    if (r->s->d->props.deviceType == VK_PHYSICAL_DEVICE_TYPE_CPU) return false;
    return n_id ? cols > 16 : cols > TF_MV_COLS;
}

/* y = w x, expert mode when n_id > 0 (the tiled shader then reads the
 * routing list from AUX). */
static void rec_mat(rec *r, const mat_args *a)
{
    const tf_vk_set *set = a->set;
    tf_pc_mat pc = {.K = a->K, .N = a->N, .tail = a->tail, .n_id = a->n_id,
                    .x_off = set->elem_off[TF_B_SRC0], .x_stride = a->K, .y_off = set->elem_off[TF_B_DST],
                    .y_stride = a->N, .ids_off = set->elem_off[TF_B_SRC1],
                    .row_bytes = (uint32_t)a->w->row_bytes,
                    .expert_bytes = (uint32_t)(a->w->row_bytes * (size_t)a->w->ne[1]),
                    .has_bias = set->op[TF_B_W1].buf != VK_NULL_HANDLE, .per_slot = a->per_slot,
                    .n_exp = a->n_exp};
    pc.x_vec4 = a->K % 4 == 0 && pc.x_off % 4 == 0;
    const char *ty = tf_vk_type_suffix(a->w->type);
    char name[48];
    if (!use_tiled(r, a->n_id, a->cols)) {
        /* rows per workgroup: one per subgroup (more when N is huge) */
        uint32_t sg = r->s->d->subgroup_arith ? r->s->d->subgroup_size : 16;
        pc.nr = sg >= TF_WG_MV ? 1 : TF_WG_MV / sg;
        if (pc.nr < CEIL(a->N, 65535u)) pc.nr = CEIL(a->N, 65535u);
        snprintf(name, sizeof name, "mv_%s_%s", ty, sg_of(r));
        uint32_t gy = a->n_id ? a->cols : CEIL(a->cols, (uint32_t)TF_MV_COLS);
        dispatch(r, name, set, &pc, sizeof pc, CEIL(a->N, pc.nr), gy, 1, W_DST);
    } else {
        snprintf(name, sizeof name, "mm_%s", ty);
        uint32_t gx = CEIL(a->N, (uint32_t)TF_MM_TILE), gy = CEIL(a->cols, (uint32_t)TF_MM_TILE);
        dispatch(r, name, set, &pc, sizeof pc, gx, gy, a->n_id ? a->n_exp : 1, W_DST);
    }
}

static void rec_elt(rec *r, const tf_vk_set *set, uint32_t op, uint32_t ne0, uint32_t b_stride, uint32_t rows,
                    uint32_t tail)
{
    tf_pc_elt pc = {.op = op, .ne0 = ne0, .a_off = set->elem_off[TF_B_SRC0], .b_off = set->elem_off[TF_B_SRC1],
                    .b_stride = b_stride, .y_off = set->elem_off[TF_B_DST], .tail = tail};
    dispatch(r, "elt", set, &pc, sizeof pc, CEIL(ne0, (uint32_t)TF_WG_ELT), rows, 1, W_DST);
}

static void rec_rope(rec *r, const tf_node *nd, const tf_vk_set *set, uint32_t rows, uint32_t tail)
{
    const tf_hparams *hp = &r->c->m->hp;
    int n_rot = nd->ip[3];
    tf_pc_rope pc = {.ne0 = (uint32_t)nd->ne0, .hd = (uint32_t)nd->ip[1], .nh = (uint32_t)nd->ip[2],
                     .n_rot = (uint32_t)n_rot, .neox = nd->ip[0] == TF_ROPE_NEOX,
                     .x_off = set->elem_off[TF_B_SRC0], .y_off = set->elem_off[TF_B_DST], .tail = tail,
                     .theta_scale = powf(hp->rope_base, -2.0f / n_rot), .freq_scale = hp->rope_freq_scale,
                     .mscale = 1.0f};
    if (hp->rope_scaling == TF_ROPE_SCALING_YARN) {
        float base = hp->rope_base, oc = (float)hp->yarn_orig_ctx;
        float lo = n_rot * logf(oc / (hp->yarn_beta_fast * 2 * (float)M_PI)) / (2 * logf(base));
        float hi = n_rot * logf(oc / (hp->yarn_beta_slow * 2 * (float)M_PI)) / (2 * logf(base));
        pc.ext = hp->yarn_ext_factor;
        pc.mscale = hp->yarn_attn_factor;
        pc.corr0 = fmaxf(0, floorf(lo));
        pc.corr1 = fminf(n_rot - 1, ceilf(hi));
        pc.yarn_ms = 1.0f + 0.1f * logf(1.0f / hp->rope_freq_scale);
    }
    dispatch(r, "rope", set, &pc, sizeof pc, CEIL(pc.nh * (pc.hd / 2), (uint32_t)TF_WG_ROW), rows, 1, W_DST);
}

static void rec_attn(rec *r, const tf_node *nd, const tf_vk_set *set, uint32_t rows, uint32_t tail)
{
    const tf_hparams *hp = &r->c->m->hp;
    const tf_graph *g = &r->c->graph;
    tf_pc_attn pc = {.hd = (uint32_t)hp->head_dim, .n_head = (uint32_t)hp->n_head,
                     .n_head_kv = (uint32_t)hp->n_head_kv, .q_off = set->elem_off[TF_B_SRC0],
                     .q_stride = (uint32_t)g->nodes[nd->src[0]].ne0, .k_off = set->elem_off[TF_B_SRC1],
                     .v_off = set->elem_off[TF_B_SRC2], .kv_stride = (uint32_t)g->nodes[nd->src[1]].ne0,
                     .y_off = set->elem_off[TF_B_DST], .y_stride = (uint32_t)nd->ne0, .kv_row = r->s->kv_row,
                     .tail = tail, .scale = 1.0f / sqrtf((float)hp->head_dim)};
    const char *kv = r->s->kv_f16 ? "f16" : "f32";
    char name[32];
    snprintf(name, sizeof name, "kv_store_%s", kv);
    dispatch(r, name, set, &pc, sizeof pc, CEIL(pc.kv_row / 2, (uint32_t)TF_WG_ROW), (uint32_t)r->tb, 1,
             (1u << TF_B_KC) | (1u << TF_B_VC));
    snprintf(name, sizeof name, "attn_%s_%s", kv, sg_of(r));
    dispatch(r, name, set, &pc, sizeof pc, pc.n_head, rows, 1, W_DST);
}

static void rec_moe_ffn(rec *r, int i, uint32_t rows, uint32_t tail)
{
    const tf_node *nd = &r->c->graph.nodes[i];
    const tf_vk_set *st = &r->s->sets[(size_t)i * TF_VK_SETS_PER_NODE];
    uint32_t k = (uint32_t)r->c->m->hp.n_expert_used, n_exp = (uint32_t)nd->w->ne[2];
    uint32_t ff = (uint32_t)nd->w->ne[1], K = (uint32_t)nd->w->ne[0], n_embd = (uint32_t)nd->ne0;
    uint32_t cols = rows * k;
    if (use_tiled(r, k, cols)) { /* tiled expert products need the batch grouped by expert */
        tf_pc_moe pm = {.n_exp = n_exp, .k = k, .ids_off = st[0].elem_off[TF_B_SRC1], .tail = tail};
        dispatch(r, "moe_route", &st[0], &pm, sizeof pm, 1, 1, 1, 1u << TF_B_AUX);
    }
    mat_args a = {.set = &st[0], .w = nd->w, .K = K, .N = ff, .cols = cols, .tail = tail, .n_id = k,
                  .per_slot = 0, .n_exp = n_exp};
    rec_mat(r, &a);
    a.set = &st[1];
    a.w = nd->w2;
    rec_mat(r, &a);
    rec_elt(r, &st[2], TF_ELT_SWIGLU, ff * k, ff * k, rows, tail);
    a = (mat_args){.set = &st[3], .w = nd->w3, .K = ff, .N = n_embd, .cols = cols, .tail = tail, .n_id = k,
                   .per_slot = 1, .n_exp = n_exp};
    rec_mat(r, &a);
    tf_pc_moe pc = {.k = k, .ne0 = n_embd, .x_off = st[4].elem_off[TF_B_SRC0],
                    .ids_off = st[4].elem_off[TF_B_SRC1], .y_off = st[4].elem_off[TF_B_DST], .tail = tail};
    dispatch(r, "moe_combine", &st[4], &pc, sizeof pc, CEIL(n_embd, (uint32_t)TF_WG_ELT), rows, 1, W_DST);
}

static void rec_node(rec *r, int i)
{
    const tf_graph *g = &r->c->graph;
    const tf_node *nd = &g->nodes[i];
    const tf_vk_set *set = &r->s->sets[(size_t)i * TF_VK_SETS_PER_NODE];
    uint32_t rows = rows_static(r, i), tail = i >= g->tail_from, ne0 = (uint32_t)nd->ne0;
    char name[48];
    switch (nd->op) {
    case TF_OP_EMBED: {
        tf_pc_embed pc = {.K = ne0, .row_bytes = (uint32_t)nd->w->row_bytes, .y_off = set->elem_off[TF_B_DST]};
        snprintf(name, sizeof name, "embed_%s", tf_vk_type_suffix(nd->w->type));
        dispatch(r, name, set, &pc, sizeof pc, CEIL(CEIL(ne0, 4u), (uint32_t)TF_WG_ROW), rows, 1, W_DST);
        break;
    }
    case TF_OP_RMS_NORM: {
        tf_pc_norm pc = {.n = ne0, .x_off = set->elem_off[TF_B_SRC0], .y_off = set->elem_off[TF_B_DST],
                         .tail = tail, .eps = nd->fp[0]};
        snprintf(name, sizeof name, "rms_norm_%s", sg_of(r));
        dispatch(r, name, set, &pc, sizeof pc, 1, rows, 1, W_DST);
        break;
    }
    case TF_OP_MATMUL: {
        mat_args a = {.set = set, .w = nd->w, .K = (uint32_t)nd->w->ne[0], .N = ne0, .cols = rows, .tail = tail};
        rec_mat(r, &a);
        break;
    }
    case TF_OP_ADD: rec_elt(r, set, TF_ELT_ADD, ne0, ne0, rows, tail); break;
    case TF_OP_SWIGLU: rec_elt(r, set, TF_ELT_SWIGLU, ne0, ne0, rows, tail); break;
    case TF_OP_SIGMOID_GATE: rec_elt(r, set, TF_ELT_SIGMOID_GATE, ne0, 1, rows, tail); break;
    case TF_OP_LAST_ROW: rec_elt(r, set, TF_ELT_LAST_ROWS, ne0, ne0, rows, 1); break;
    case TF_OP_ROPE: rec_rope(r, nd, set, rows, tail); break;
    case TF_OP_ATTN: rec_attn(r, nd, set, rows, tail); break;
    case TF_OP_MOE_GATE: {
        tf_pc_moe pc = {.n_exp = (uint32_t)nd->ip[0], .k = (uint32_t)nd->ip[1], .gating = (uint32_t)nd->ip[2],
                        .norm = (uint32_t)nd->ip[3], .x_off = set->elem_off[TF_B_SRC0],
                        .y_off = set->elem_off[TF_B_DST], .tail = tail, .scale = nd->fp[0]};
        dispatch(r, "moe_gate", set, &pc, sizeof pc, rows, 1, 1, W_DST);
        break;
    }
    case TF_OP_MOE_FFN: rec_moe_ffn(r, i, rows, tail); break;
    }
}

/* Host writes (run buffer) and the previous eval's work -> this one; the
 * logits -> readback buffer -> host. */
static void edge_barrier(rec *r, bool start)
{
    VkMemoryBarrier mb = {.sType = VK_STRUCTURE_TYPE_MEMORY_BARRIER};
    VkPipelineStageFlags src, dst;
    if (start) {
        mb.srcAccessMask = VK_ACCESS_HOST_WRITE_BIT | VK_ACCESS_SHADER_WRITE_BIT | VK_ACCESS_TRANSFER_WRITE_BIT;
        mb.dstAccessMask = VK_ACCESS_SHADER_READ_BIT | VK_ACCESS_SHADER_WRITE_BIT;
        src = VK_PIPELINE_STAGE_HOST_BIT | VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT | VK_PIPELINE_STAGE_TRANSFER_BIT;
        dst = VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT;
    } else {
        mb.srcAccessMask = VK_ACCESS_SHADER_WRITE_BIT;
        mb.dstAccessMask = VK_ACCESS_TRANSFER_READ_BIT;
        src = VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT;
        dst = VK_PIPELINE_STAGE_TRANSFER_BIT;
    }
    r->s->d->f.vkCmdPipelineBarrier(r->cb, src, dst, 0, 1, &mb, 0, NULL, 0, NULL);
}

tf_status tf_vk_record(tf_vk_state *s, tf_context *c, VkCommandBuffer cb, int32_t tb, bool tail_all, char *err,
                       size_t errlen)
{
    tf_vk_fns *f = &s->d->f;
    rec r = {.s = s, .c = c, .cb = cb, .tb = tb, .all = tail_all, .err = err, .errlen = errlen};
    s->stats.dispatches = s->stats.barriers = 0;
    VkCommandBufferBeginInfo bi = {.sType = VK_STRUCTURE_TYPE_COMMAND_BUFFER_BEGIN_INFO};
    if (f->vkBeginCommandBuffer(cb, &bi) != VK_SUCCESS) {
        tf_errf(err, errlen, "Vulkan: vkBeginCommandBuffer failed");
        return TF_ERR_BACKEND;
    }
    edge_barrier(&r, true);
    for (int i = 0; i < c->graph.n && !r.st; i++) rec_node(&r, i);
    const tf_graph *g = &c->graph;
    const tf_node *out = &g->nodes[g->out];
    edge_barrier(&r, false);
    VkBufferCopy reg = {.srcOffset = out->offset, .dstOffset = 0,
                        .size = (VkDeviceSize)rows_static(&r, g->out) * (VkDeviceSize)out->ne0 * 4};
    f->vkCmdCopyBuffer(cb, s->arena.buf, s->readback.buf, 1, &reg);
    VkMemoryBarrier mb = {.sType = VK_STRUCTURE_TYPE_MEMORY_BARRIER,
                          .srcAccessMask = VK_ACCESS_TRANSFER_WRITE_BIT, .dstAccessMask = VK_ACCESS_HOST_READ_BIT};
    f->vkCmdPipelineBarrier(cb, VK_PIPELINE_STAGE_TRANSFER_BIT, VK_PIPELINE_STAGE_HOST_BIT, 0, 1, &mb, 0, NULL, 0,
                            NULL);
    if (f->vkEndCommandBuffer(cb) != VK_SUCCESS && !r.st) {
        tf_errf(err, errlen, "Vulkan: vkEndCommandBuffer failed");
        r.st = TF_ERR_BACKEND;
    }
    return r.st;
}

#else
typedef int tf_vk_record_unused_;
#endif
