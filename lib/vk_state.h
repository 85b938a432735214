/* vk_state.h - a context's Vulkan state, shared by backend_vk.c (memory,
 * upload, compute) and vk_record.c (descriptor sets, recording). */
#ifndef TF_VK_STATE_H
#define TF_VK_STATE_H

#include "backend_vk.h"
#include "vk_internal.h"

#define TF_VK_MAX_BUCKETS 32

struct tf_vk_state {
    tf_vk_dev *d;
    char desc[400];
    bool kv_f16;
    uint32_t kv_row;                 /* elements per cache row: n_head_kv * head_dim */
    /* weights: the graph's unique weights and where each lives */
    const tf_weight **weights;
    tf_vk_range *wrange;
    int n_weights;
    tf_vk_buf *wchunk, *schunk;      /* device-local chunks: weights; KV + MoE scratch */
    int n_wchunk, n_schunk;
    tf_vk_range *kc, *vc;            /* per layer */
    tf_vk_range aux_g, aux_u, aux_d, aux_route; /* MoE scratch */
    tf_vk_buf arena, dummy, run, readback, staging;
    /* descriptor sets: TF_VK_SETS_PER_NODE per node */
    VkDescriptorPool dpool;
    tf_vk_set *sets;
    /* command buffers per (bucket, all logits) */
    VkCommandPool cpool;
    VkCommandBuffer util_cb;
    VkFence fence;
    int32_t bucket[TF_VK_MAX_BUCKETS];
    int n_bucket;
    VkCommandBuffer cb[2 * TF_VK_MAX_BUCKETS];
    tf_vk_stats stats;
};

/* Descriptor sets of every node (vk_record.c). */
tf_status tf_vk_sets_new(tf_vk_state *s, const tf_context *c, char *err, size_t errlen);

#endif
