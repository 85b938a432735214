/* backend_vk.c - runs a context's planned graph on a Vulkan device.
 *
 * At context creation (tf_context_new):
 * - every weight the graph reads is uploaded once, through a host-visible
 *   staging buffer, into device-local buffers of at most the device's
 *   maxMemoryAllocationSize (1 GiB cap) each; each weight is bound by its
 *   own descriptor range, so no tensor may exceed maxStorageBufferRange.
 *   Weights live with the context (two contexts on one model upload twice).
 * - the KV cache (F16 or F32, per layer), the activation arena planned by
 *   graph.c and the MoE scratch live in device-local memory; only the run
 *   parameters + tokens (written before each eval) and the logits
 *   (read back once per eval) live in host-visible memory.
 * - every node gets its descriptor sets (bindings do not depend on the
 *   batch size).
 * Per eval: the batch size is rounded up to a bucket (powers of two up to
 *   n_batch); each (bucket, all-logits?) pair has one command buffer,
 *   recorded on first use (vk_record.c) and replayed after that.  One
 *   submit and one fence wait per eval.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend_vk.h"

#ifndef TF_VULKAN

static tf_status vk_init_stub(tf_context *c, char *err, size_t errlen)
{
    (void)c;
    tf_errf(err, errlen, "Vulkan backend: built without Vulkan (the build found no vulkan/vulkan.h or no "
            "glslc; install libvulkan-dev and glslc, then rebuild)");
    return TF_ERR_UNSUPPORTED;
}
static tf_status vk_compute_stub(tf_context *c, const tf_run *r) { (void)c; (void)r; return TF_ERR_UNSUPPORTED; }
static void vk_void_stub(tf_context *c) { (void)c; }
int tf_vk_matmul_path;
void tf_vk_keep_device(bool keep) { (void)keep; }
bool tf_vk_built(void) { return false; }
bool tf_vk_probe(char *desc, size_t n)
{
    tf_errf(desc, n, "built without Vulkan");
    return false;
}
int tf_vk_debug_errors(const char **first)
{
    if (first) *first = "";
    return -1;
}
tf_status tf_vk_context_stats(const tf_context *c, tf_vk_stats *out)
{
    (void)c;
    (void)out;
    return TF_ERR_UNSUPPORTED;
}
const tf_backend_ops tf_backend_vk = {"vulkan", vk_init_stub, vk_compute_stub, vk_void_stub, vk_void_stub, NULL};

#else
#include "vk_state.h"

bool tf_vk_built(void) { return true; }

static tf_vk_dev *g_kept;

void tf_vk_keep_device(bool keep)
{
    char err[TF_ERRLEN];
    if (keep && !g_kept && tf_vk_dev_acquire(-1, &g_kept, err, sizeof err) != TF_OK) g_kept = NULL;
    if (!keep && g_kept) {
        tf_vk_dev_release(g_kept);
        g_kept = NULL;
    }
}

bool tf_vk_probe(char *desc, size_t n)
{
    tf_vk_dev *d;
    if (tf_vk_dev_acquire(-1, &d, desc, n) != TF_OK) return false;
    tf_errf(desc, n, "%s", d->desc);
    tf_vk_dev_release(d);
    return true;
}

#define STAGING_BYTES ((VkDeviceSize)32 << 20)
#define MAX_CHUNKS 256

tf_status tf_vk_context_stats(const tf_context *c, tf_vk_stats *out)
{
    if (!c || !out || c->be != &tf_backend_vk || !c->be_state) return TF_ERR_INVALID_ARG;
    const tf_vk_state *s = c->be_state;
    *out = s->stats;
    return TF_OK;
}

/* ---- what the graph needs, checked before touching the device ---------- */

static bool in_list(const tf_weight *const *l, int n, const tf_weight *w)
{
    for (int i = 0; i < n; i++)
        if (l[i] == w) return true;
    return false;
}

/* Unique weights of the graph, and a clear error for what the shaders
 * don't handle. */
static tf_status collect_weights(tf_vk_state *s, const tf_context *c, char *err, size_t errlen)
{
    const tf_graph *g = &c->graph;
    s->weights = calloc((size_t)g->n * 3 + 1, sizeof *s->weights);
    if (!s->weights) return TF_ERR_NOMEM;
    for (int i = 0; i < g->n; i++) {
        const tf_node *nd = &g->nodes[i];
        const tf_weight *ws[3] = {nd->w, nd->w2, nd->w3};
        for (int k = 0; k < 3; k++) {
            const tf_weight *w = ws[k];
            if (!w || in_list(s->weights, s->n_weights, w)) continue;
            bool vec = nd->op == TF_OP_RMS_NORM || (nd->op == TF_OP_MATMUL && k == 1);
            if (vec ? w->type != TF_TYPE_F32 : !tf_vk_type_suffix(w->type)) {
                tf_errf(err, errlen,
                        "Vulkan backend: tensor '%s' has type %s, which the Vulkan shaders don't handle "
                        "(weights: F32 F16 Q4_0 Q4_1 Q5_0 Q5_1 Q8_0 Q4_K Q5_K Q6_K; norms and biases: F32); "
                        "use the CPU backend", w->name, tf_type_name(w->type));
                return TF_ERR_UNSUPPORTED;
            }
            s->weights[s->n_weights++] = w;
        }
    }
    return TF_OK;
}

static tf_status check_shapes(const tf_context *c, char *err, size_t errlen)
{
    const tf_hparams *hp = &c->m->hp;
    if (hp->head_dim > 2 * TF_WG_ATTN || hp->head_dim % 2 || hp->n_head_kv <= 0 || hp->n_head % hp->n_head_kv) {
        tf_errf(err, errlen, "Vulkan backend: head size %d (%d heads, %d KV heads) unsupported "
                "(even head sizes up to %d)", hp->head_dim, hp->n_head, hp->n_head_kv, 2 * TF_WG_ATTN);
        return TF_ERR_UNSUPPORTED;
    }
    if (hp->n_expert > TF_MAX_EXPERTS) { /* moe_gate.comp holds them in shared memory */
        tf_errf(err, errlen, "Vulkan backend: %d experts (at most %d)", hp->n_expert, TF_MAX_EXPERTS);
        return TF_ERR_UNSUPPORTED;
    }
    return TF_OK;
}

/* Workgroup counts the recorder will ask for, against the device's limits:
 * rows of a batch (times k for expert columns) along y, tiles of the
 * widest product along x. */
static tf_status check_dispatch(const tf_vk_state *s, const tf_context *c, char *err, size_t errlen)
{
    const uint32_t *lim = s->d->props.limits.maxComputeWorkGroupCount;
    uint64_t k = c->m->hp.n_expert_used > 0 ? (uint64_t)c->m->hp.n_expert_used : 1, widest = 0;
    for (int i = 0; i < c->graph.n; i++)
        if ((uint64_t)c->graph.nodes[i].ne0 > widest) widest = (uint64_t)c->graph.nodes[i].ne0;
    if ((uint64_t)c->n_batch * k > lim[1] || (widest + TF_MM_TILE - 1) / TF_MM_TILE > lim[0]) {
        tf_errf(err, errlen, "Vulkan backend: a batch of %u tokens (x %llu experts) or rows of %llu exceed %s's "
                "workgroup counts (%u x %u); use a smaller n_batch", c->n_batch, (unsigned long long)k,
                (unsigned long long)widest, s->d->name, lim[0], lim[1]);
        return TF_ERR_UNSUPPORTED;
    }
    return TF_OK;
}

/* ---- device memory: chunks of at most max_alloc bytes ------------------ */

typedef struct chunk_plan {
    VkDeviceSize used[MAX_CHUNKS];
    int n;
} chunk_plan;

static int plan_place(const tf_vk_dev *d, chunk_plan *p, VkDeviceSize size, int *chunk, VkDeviceSize *off)
{
    size = (size + 3) / 4 * 4;
    VkDeviceSize a = d->align > 256 ? d->align : 256;
    if (size > d->max_alloc) return -1;
    if (p->n == 0 || (p->used[p->n - 1] + a - 1) / a * a + size > d->max_alloc) {
        if (p->n == MAX_CHUNKS) return -1;
        p->used[p->n++] = 0;
    }
    VkDeviceSize at = (p->used[p->n - 1] + a - 1) / a * a;
    p->used[p->n - 1] = at + size;
    *chunk = p->n - 1;
    *off = at;
    return 0;
}

static tf_status chunks_alloc(tf_vk_state *s, const chunk_plan *p, tf_vk_buf **out, int *n, char *err,
                              size_t errlen)
{
    *out = calloc((size_t)(p->n ? p->n : 1), sizeof **out);
    if (!*out) return TF_ERR_NOMEM;
    for (int i = 0; i < p->n; i++) {
        VkResult r = tf_vk_buf_new(s->d, p->used[i], false, &(*out)[i]);
        if (r != VK_SUCCESS) {
            tf_errf(err, errlen, "Vulkan: allocating %.1f MiB of device memory failed: %s",
                    p->used[i] / 1048576.0, tf_vk_result_str(r));
            return TF_ERR_NOMEM;
        }
        (*n)++;
    }
    return TF_OK;
}

static uint64_t weight_bytes(const tf_weight *w)
{
    return (uint64_t)w->row_bytes * (uint64_t)w->ne[1] * (uint64_t)w->ne[2] * (uint64_t)w->ne[3];
}

static tf_status place_weights(tf_vk_state *s, char *err, size_t errlen)
{
    chunk_plan p = {.n = 0};
    int *chunk = calloc((size_t)s->n_weights + 1, sizeof *chunk);
    s->wrange = calloc((size_t)s->n_weights + 1, sizeof *s->wrange);
    if (!chunk || !s->wrange) {
        free(chunk);
        return TF_ERR_NOMEM;
    }
    for (int i = 0; i < s->n_weights; i++) {
        /* + 4: shaders read whole aligned words, one past an odd end */
        VkDeviceSize size = (weight_bytes(s->weights[i]) + 3) / 4 * 4 + 4;
        if (size > s->d->max_range || plan_place(s->d, &p, size, &chunk[i], &s->wrange[i].off)) {
            tf_errf(err, errlen, "Vulkan backend: tensor '%s' is %.1f MiB; %s binds at most %.1f MiB per buffer",
                    s->weights[i]->name, size / 1048576.0, s->d->name,
                    (size > s->d->max_range ? s->d->max_range : s->d->max_alloc) / 1048576.0);
            free(chunk);
            return TF_ERR_UNSUPPORTED;
        }
        s->wrange[i].size = size;
    }
    tf_status st = chunks_alloc(s, &p, &s->wchunk, &s->n_wchunk, err, errlen);
    for (int i = 0; st == TF_OK && i < s->n_weights; i++) s->wrange[i].buf = s->wchunk[chunk[i]].buf;
    free(chunk);
    return st;
}

/* One-off command buffer: record with fn, submit, wait. */
typedef void (*cmd_fn)(tf_vk_state *s, VkCommandBuffer cb, void *arg);

static VkResult one_off(tf_vk_state *s, cmd_fn fn, void *arg)
{
    VkCommandBufferBeginInfo bi = {.sType = VK_STRUCTURE_TYPE_COMMAND_BUFFER_BEGIN_INFO,
                                   .flags = VK_COMMAND_BUFFER_USAGE_ONE_TIME_SUBMIT_BIT};
    VkResult r = s->d->f.vkBeginCommandBuffer(s->util_cb, &bi);
    if (r != VK_SUCCESS) return r;
    fn(s, s->util_cb, arg);
    if ((r = s->d->f.vkEndCommandBuffer(s->util_cb)) != VK_SUCCESS) return r;
    return tf_vk_submit_wait(s->d, s->util_cb, s->fence);
}

typedef struct copy_batch {
    VkBuffer dst[64];
    VkBufferCopy reg[64];
    int n;
} copy_batch;

static void rec_copies(tf_vk_state *s, VkCommandBuffer cb, void *arg)
{
    copy_batch *b = arg;
    for (int i = 0; i < b->n; i++) s->d->f.vkCmdCopyBuffer(cb, s->staging.buf, b->dst[i], 1, &b->reg[i]);
}

static void rec_zero_weights(tf_vk_state *s, VkCommandBuffer cb, void *arg)
{
    (void)arg;
    for (int i = 0; i < s->n_wchunk; i++) s->d->f.vkCmdFillBuffer(cb, s->wchunk[i].buf, 0, VK_WHOLE_SIZE, 0);
    VkMemoryBarrier mb = {.sType = VK_STRUCTURE_TYPE_MEMORY_BARRIER,
                          .srcAccessMask = VK_ACCESS_TRANSFER_WRITE_BIT,
                          .dstAccessMask = VK_ACCESS_TRANSFER_WRITE_BIT};
    s->d->f.vkCmdPipelineBarrier(cb, VK_PIPELINE_STAGE_TRANSFER_BIT, VK_PIPELINE_STAGE_TRANSFER_BIT, 0, 1, &mb,
                                 0, NULL, 0, NULL);
}

/* Weights -> staging -> device, in staging-sized pieces. */
static tf_status upload_weights(tf_vk_state *s, char *err, size_t errlen)
{
    VkDeviceSize total = 0;
    for (int i = 0; i < s->n_weights; i++) total += weight_bytes(s->weights[i]);
    VkDeviceSize cap = total < STAGING_BYTES ? total + 16 : STAGING_BYTES;
    VkResult r = tf_vk_buf_new(s->d, cap, true, &s->staging);
    if (r == VK_SUCCESS) r = one_off(s, rec_zero_weights, NULL);
    copy_batch b = {.n = 0};
    VkDeviceSize fill = 0;
    for (int i = 0; r == VK_SUCCESS && i < s->n_weights; i++) {
        const uint8_t *src = s->weights[i]->data;
        VkDeviceSize size = weight_bytes(s->weights[i]), off = 0;
        while (r == VK_SUCCESS && off < size) {
            VkDeviceSize n = size - off < cap - fill ? size - off : cap - fill;
            memcpy((uint8_t *)s->staging.map + fill, src + off, n);
            b.dst[b.n] = s->wrange[i].buf;
            b.reg[b.n++] = (VkBufferCopy){.srcOffset = fill, .dstOffset = s->wrange[i].off + off, .size = n};
            fill += n;
            off += n;
            if (fill == cap || b.n == 64) {
                tf_vk_flush(s->d, &s->staging);
                r = one_off(s, rec_copies, &b);
                b.n = 0;
                fill = 0;
            }
        }
    }
    if (r == VK_SUCCESS && b.n) {
        tf_vk_flush(s->d, &s->staging);
        r = one_off(s, rec_copies, &b);
    }
    tf_vk_buf_free(s->d, &s->staging);
    if (r != VK_SUCCESS) {
        tf_errf(err, errlen, "Vulkan: uploading the weights failed: %s", tf_vk_result_str(r));
        return TF_ERR_BACKEND;
    }
    return TF_OK;
}

/* KV cache per layer and the MoE scratch, in device-local chunks. */
static tf_status alloc_state(tf_vk_state *s, const tf_context *c, char *err, size_t errlen)
{
    const tf_hparams *hp = &c->m->hp;
    int nl = hp->n_layer;
    chunk_plan p = {.n = 0};
    s->kv_row = (uint32_t)(hp->n_head_kv * hp->head_dim);
    VkDeviceSize layer = (VkDeviceSize)c->n_ctx * s->kv_row * (s->kv_f16 ? 2 : 4);
    s->kc = calloc((size_t)nl, sizeof *s->kc);
    s->vc = calloc((size_t)nl, sizeof *s->vc);
    int *ck = calloc((size_t)nl * 2 + 4, sizeof *ck);
    if (!s->kc || !s->vc || !ck) {
        free(ck);
        return TF_ERR_NOMEM;
    }
    int bad = layer > s->d->max_range;
    for (int il = 0; il < nl; il++) {
        bad |= plan_place(s->d, &p, layer, &ck[2 * il], &s->kc[il].off);
        bad |= plan_place(s->d, &p, layer, &ck[2 * il + 1], &s->vc[il].off);
        s->kc[il].size = s->vc[il].size = (layer + 3) / 4 * 4;
    }
    /* MoE scratch, for the largest expert FFN: gate and up rows [T*k, ff],
     * down rows [T*k, n_embd], the routing list. */
    VkDeviceSize ff = 0, ne = 0, n_exp = 0;
    for (int i = 0; i < c->graph.n; i++) {
        const tf_node *nd = &c->graph.nodes[i];
        if (nd->op != TF_OP_MOE_FFN) continue;
        ff = (VkDeviceSize)nd->w->ne[1] > ff ? (VkDeviceSize)nd->w->ne[1] : ff;
        ne = (VkDeviceSize)nd->ne0 > ne ? (VkDeviceSize)nd->ne0 : ne;
        n_exp = (VkDeviceSize)nd->w->ne[2] > n_exp ? (VkDeviceSize)nd->w->ne[2] : n_exp;
    }
    VkDeviceSize tk = (VkDeviceSize)c->n_batch * (hp->n_expert_used > 0 ? hp->n_expert_used : 1);
    VkDeviceSize sz[4] = {tk * ff * 4, tk * ff * 4, tk * ne * 4, (tk + n_exp + 1) * 4};
    tf_vk_range *aux[4] = {&s->aux_g, &s->aux_u, &s->aux_d, &s->aux_route};
    for (int i = 0; n_exp > 0 && i < 4; i++) {
        bad |= plan_place(s->d, &p, sz[i], &ck[2 * nl + i], &aux[i]->off);
        aux[i]->size = (sz[i] + 3) / 4 * 4;
        bad |= aux[i]->size > s->d->max_range;
    }
    if (bad) {
        tf_errf(err, errlen, "Vulkan backend: a KV cache layer (%.1f MiB) or the MoE scratch exceeds what %s "
                "binds (%.1f MiB); use a smaller context or batch", layer / 1048576.0, s->d->name,
                s->d->max_range / 1048576.0);
        free(ck);
        return TF_ERR_UNSUPPORTED;
    }
    tf_status st = chunks_alloc(s, &p, &s->schunk, &s->n_schunk, err, errlen);
    for (int il = 0; st == TF_OK && il < nl; il++) {
        s->kc[il].buf = s->schunk[ck[2 * il]].buf;
        s->vc[il].buf = s->schunk[ck[2 * il + 1]].buf;
    }
    for (int i = 0; st == TF_OK && n_exp > 0 && i < 4; i++) aux[i]->buf = s->schunk[ck[2 * nl + i]].buf;
    free(ck);
    return st;
}

static tf_status alloc_buffers(tf_vk_state *s, const tf_context *c, char *err, size_t errlen)
{
    const tf_graph *g = &c->graph;
    for (int i = 0; i < g->n; i++)
        if (tf_node_bytes(g, i) > s->d->max_range) {
            tf_errf(err, errlen, "Vulkan backend: activations of %.1f MiB (node %d) exceed what %s binds "
                    "(%.1f MiB); use a smaller batch (n_batch)", tf_node_bytes(g, i) / 1048576.0, i,
                    s->d->name, s->d->max_range / 1048576.0);
            return TF_ERR_UNSUPPORTED;
        }
    const tf_node *out = &g->nodes[g->out];
    VkResult r = tf_vk_buf_new(s->d, g->arena_bytes ? g->arena_bytes : 256, false, &s->arena);
    if (r == VK_SUCCESS) r = tf_vk_buf_new(s->d, 256, false, &s->dummy);
    if (r == VK_SUCCESS)
        r = tf_vk_buf_new(s->d, (TF_RUN_HEADER_U32 + (VkDeviceSize)c->n_batch) * 4, true, &s->run);
    if (r == VK_SUCCESS)
        r = tf_vk_buf_new(s->d, (VkDeviceSize)c->n_batch * (VkDeviceSize)out->ne0 * 4, true, &s->readback);
    if (r != VK_SUCCESS) {
        tf_errf(err, errlen, "Vulkan: allocating the activation buffers (%.1f MiB) failed: %s",
                g->arena_bytes / 1048576.0, tf_vk_result_str(r));
        return TF_ERR_NOMEM;
    }
    return TF_OK;
}

static tf_status alloc_commands(tf_vk_state *s, const tf_context *c)
{
    tf_vk_dev *d = s->d;
    for (int32_t t = 1;; t *= 2) {
        s->bucket[s->n_bucket++] = t < (int32_t)c->n_batch ? t : (int32_t)c->n_batch;
        if (t >= (int32_t)c->n_batch) break;
    }
    VkCommandPoolCreateInfo ci = {.sType = VK_STRUCTURE_TYPE_COMMAND_POOL_CREATE_INFO,
                                  .flags = VK_COMMAND_POOL_CREATE_RESET_COMMAND_BUFFER_BIT,
                                  .queueFamilyIndex = d->qfam};
    VkFenceCreateInfo fi = {.sType = VK_STRUCTURE_TYPE_FENCE_CREATE_INFO};
    if (d->f.vkCreateCommandPool(d->dev, &ci, NULL, &s->cpool) != VK_SUCCESS ||
        d->f.vkCreateFence(d->dev, &fi, NULL, &s->fence) != VK_SUCCESS)
        return TF_ERR_BACKEND;
    VkCommandBufferAllocateInfo ai = {.sType = VK_STRUCTURE_TYPE_COMMAND_BUFFER_ALLOCATE_INFO,
                                      .commandPool = s->cpool, .level = VK_COMMAND_BUFFER_LEVEL_PRIMARY,
                                      .commandBufferCount = 1};
    return d->f.vkAllocateCommandBuffers(d->dev, &ai, &s->util_cb) == VK_SUCCESS ? TF_OK : TF_ERR_BACKEND;
}

/* ---- backend ops -------------------------------------------------------- */

static void rec_clear(tf_vk_state *s, VkCommandBuffer cb, void *arg)
{
    (void)arg;
    tf_vk_fns *f = &s->d->f;
    for (int i = 0; i < s->n_schunk; i++) f->vkCmdFillBuffer(cb, s->schunk[i].buf, 0, VK_WHOLE_SIZE, 0);
    f->vkCmdFillBuffer(cb, s->arena.buf, 0, VK_WHOLE_SIZE, 0);
    f->vkCmdFillBuffer(cb, s->dummy.buf, 0, VK_WHOLE_SIZE, 0);
    VkMemoryBarrier mb = {.sType = VK_STRUCTURE_TYPE_MEMORY_BARRIER,
                          .srcAccessMask = VK_ACCESS_TRANSFER_WRITE_BIT,
                          .dstAccessMask = VK_ACCESS_SHADER_READ_BIT | VK_ACCESS_SHADER_WRITE_BIT};
    f->vkCmdPipelineBarrier(cb, VK_PIPELINE_STAGE_TRANSFER_BIT, VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT, 0, 1, &mb,
                            0, NULL, 0, NULL);
}

static void vk_clear(tf_context *c)
{
    tf_vk_state *s = c->be_state;
    if (!s || !s->util_cb || !s->arena.buf) return;
    one_off(s, rec_clear, NULL);
    if (s->run.map) memset(s->run.map, 0, s->run.size);
    if (s->readback.map) memset(s->readback.map, 0, s->readback.size);
}

static void vk_free(tf_context *c)
{
    tf_vk_state *s = c->be_state;
    if (!s) return;
    tf_vk_dev *d = s->d;
    if (d) {
        if (s->fence) d->f.vkDestroyFence(d->dev, s->fence, NULL);
        if (s->cpool) d->f.vkDestroyCommandPool(d->dev, s->cpool, NULL);
        if (s->dpool) d->f.vkDestroyDescriptorPool(d->dev, s->dpool, NULL);
        for (int i = 0; i < s->n_wchunk; i++) tf_vk_buf_free(d, &s->wchunk[i]);
        for (int i = 0; i < s->n_schunk; i++) tf_vk_buf_free(d, &s->schunk[i]);
        tf_vk_buf_free(d, &s->arena);
        tf_vk_buf_free(d, &s->dummy);
        tf_vk_buf_free(d, &s->run);
        tf_vk_buf_free(d, &s->readback);
        tf_vk_buf_free(d, &s->staging);
        tf_vk_dev_release(d);
    }
    free(s->wchunk);
    free(s->schunk);
    free(s->weights);
    free(s->wrange);
    free(s->kc);
    free(s->vc);
    free(s->sets);
    free(s);
    c->be_state = NULL;
}

static tf_status vk_init(tf_context *c, char *err, size_t errlen)
{
    tf_vk_state *s = calloc(1, sizeof *s);
    if (!s) return TF_ERR_NOMEM;
    c->be_state = s;
    s->kv_f16 = c->p.kv_type == TF_KV_F16;
    tf_status st = check_shapes(c, err, errlen);
    if (!st) st = collect_weights(s, c, err, errlen);
    if (!st) st = tf_vk_dev_acquire(c->m->params.device, &s->d, err, errlen);
    if (!st) st = check_dispatch(s, c, err, errlen);
    if (!st) st = alloc_commands(s, c);
    if (!st) st = place_weights(s, err, errlen);
    if (!st) st = upload_weights(s, err, errlen);
    if (!st) st = alloc_state(s, c, err, errlen);
    if (!st) st = alloc_buffers(s, c, err, errlen);
    if (!st) st = tf_vk_sets_new(s, c, err, errlen);
    if (st == TF_ERR_NOMEM && err && !err[0]) tf_errf(err, errlen, "Vulkan backend: out of memory");
    if (st == TF_ERR_BACKEND && err && !err[0]) tf_errf(err, errlen, "Vulkan backend: device setup failed");
    if (st) {
        vk_free(c);
        return st;
    }
    vk_clear(c);
    snprintf(s->desc, sizeof s->desc, "%s", s->d->desc);
    return TF_OK;
}

static int bucket_of(const tf_vk_state *s, int32_t n)
{
    int i = 0;
    while (i < s->n_bucket - 1 && s->bucket[i] < n) i++;
    return i;
}

static tf_status vk_compute(tf_context *c, const tf_run *r)
{
    tf_vk_state *s = c->be_state;
    tf_vk_dev *d = s->d;
    bool all = r->n_out == r->n_tokens;
    int b = bucket_of(s, r->n_tokens), slot = 2 * b + (all ? 1 : 0);
    if (!s->cb[slot]) {
        VkCommandBufferAllocateInfo ai = {.sType = VK_STRUCTURE_TYPE_COMMAND_BUFFER_ALLOCATE_INFO,
                                          .commandPool = s->cpool, .level = VK_COMMAND_BUFFER_LEVEL_PRIMARY,
                                          .commandBufferCount = 1};
        if (d->f.vkAllocateCommandBuffers(d->dev, &ai, &s->cb[slot]) != VK_SUCCESS) {
            snprintf(c->err, sizeof c->err, "Vulkan: allocating a command buffer failed");
            return TF_ERR_BACKEND;
        }
        tf_status st = tf_vk_record(s, c, s->cb[slot], s->bucket[b], all, c->err, sizeof c->err);
        if (st) {
            d->f.vkFreeCommandBuffers(d->dev, s->cpool, 1, &s->cb[slot]);
            s->cb[slot] = VK_NULL_HANDLE;
            return st;
        }
        s->stats.recorded++;
    }
    uint32_t *run = s->run.map;
    run[0] = (uint32_t)r->n_tokens;
    run[1] = (uint32_t)r->n_past;
    run[2] = (uint32_t)r->n_out;
    run[3] = 0;
    memcpy(run + TF_RUN_HEADER_U32, r->tokens, (size_t)r->n_tokens * sizeof *r->tokens);
    tf_vk_flush(d, &s->run);
    VkResult vr = tf_vk_submit_wait(d, s->cb[slot], s->fence);
    if (vr != VK_SUCCESS) {
        snprintf(c->err, sizeof c->err, "Vulkan: running the graph on %s failed: %s", d->name,
                 tf_vk_result_str(vr));
        return TF_ERR_BACKEND;
    }
    tf_vk_invalidate(d, &s->readback);
    const tf_node *out = &c->graph.nodes[c->graph.out];
    memcpy(r->logits, s->readback.map, (size_t)r->n_out * (size_t)out->ne0 * sizeof(float));
    return TF_OK;
}

static const char *vk_describe(const tf_context *c)
{
    const tf_vk_state *s = c->be_state;
    return s ? s->desc : "vulkan";
}

const tf_backend_ops tf_backend_vk = {"vulkan", vk_init, vk_compute, vk_clear, vk_free, vk_describe};

#endif
