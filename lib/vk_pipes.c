/* vk_pipes.c - the embedded SPIR-V (generated at build time into
 * $(BUILD)/gen/vk_spirv.c from the shaders/ .comp files), pipelines created on first
 * use, the one descriptor-set and pipeline layout every shader shares, and
 * the device's start-up self-test.
 */
#ifdef TF_VULKAN
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vk_internal.h"
#include "vk_spirv.h"

/* ---- push constants: C and GLSL agree field by field ------------------- */

#define PC_IDX_U_(x) x,
#define PC_IDX_F_(x) x,
#define PC_OFF_U_(x) _Static_assert(offsetof(PC_T_, x) == 4 * x, "push constant " #x " misplaced");
#define PC_CHECK(T, LIST)                                                             \
    __attribute__((unused)) static void check_##T(void)                               \
    {                                                                                 \
        typedef T PC_T_;                                                              \
        enum { LIST(PC_IDX_U_, PC_IDX_F_) n_fields_ };                                \
        LIST(PC_OFF_U_, PC_OFF_U_)                                                    \
        _Static_assert(sizeof(T) == 4 * n_fields_, #T " has padding");                \
        _Static_assert(sizeof(T) <= 128, #T " exceeds the 128 bytes Vulkan guarantees"); \
    }
PC_CHECK(tf_pc_mat, TF_PC_MAT)
PC_CHECK(tf_pc_embed, TF_PC_EMBED)
PC_CHECK(tf_pc_norm, TF_PC_NORM)
PC_CHECK(tf_pc_rope, TF_PC_ROPE)
PC_CHECK(tf_pc_attn, TF_PC_ATTN)
PC_CHECK(tf_pc_elt, TF_PC_ELT)
PC_CHECK(tf_pc_moe, TF_PC_MOE)

const char *tf_vk_type_suffix(uint32_t type)
{
    switch (type) {
    case TF_TYPE_F32: return "f32";
    case TF_TYPE_F16: return "f16";
    case TF_TYPE_Q4_0: return "q4_0";
    case TF_TYPE_Q4_1: return "q4_1";
    case TF_TYPE_Q5_0: return "q5_0";
    case TF_TYPE_Q5_1: return "q5_1";
    case TF_TYPE_Q8_0: return "q8_0";
    case TF_TYPE_Q4_K: return "q4_k";
    case TF_TYPE_Q5_K: return "q5_k";
    case TF_TYPE_Q6_K: return "q6_k";
    default: return NULL;
    }
}

/* ---- layouts and pipelines -------------------------------------------- */

VkResult tf_vk_layouts_new(tf_vk_dev *d)
{
    VkDescriptorSetLayoutBinding b[TF_B_COUNT];
    for (int i = 0; i < TF_B_COUNT; i++)
        b[i] = (VkDescriptorSetLayoutBinding){.binding = (uint32_t)i,
                                              .descriptorType = VK_DESCRIPTOR_TYPE_STORAGE_BUFFER,
                                              .descriptorCount = 1,
                                              .stageFlags = VK_SHADER_STAGE_COMPUTE_BIT};
    VkDescriptorSetLayoutCreateInfo li = {.sType = VK_STRUCTURE_TYPE_DESCRIPTOR_SET_LAYOUT_CREATE_INFO,
                                          .bindingCount = TF_B_COUNT, .pBindings = b};
    VkResult r = d->f.vkCreateDescriptorSetLayout(d->dev, &li, NULL, &d->dsl);
    if (r != VK_SUCCESS) return r;
    VkPushConstantRange pcr = {.stageFlags = VK_SHADER_STAGE_COMPUTE_BIT, .offset = 0, .size = 128};
    VkPipelineLayoutCreateInfo pi = {.sType = VK_STRUCTURE_TYPE_PIPELINE_LAYOUT_CREATE_INFO,
                                     .setLayoutCount = 1, .pSetLayouts = &d->dsl,
                                     .pushConstantRangeCount = 1, .pPushConstantRanges = &pcr};
    return d->f.vkCreatePipelineLayout(d->dev, &pi, NULL, &d->layout);
}

void tf_vk_pipes_free(tf_vk_dev *d)
{
    for (int i = 0; i < TF_VK_MAX_PIPES; i++)
        if (d->pipes[i]) d->f.vkDestroyPipeline(d->dev, d->pipes[i], NULL);
    memset(d->pipes, 0, sizeof d->pipes);
    if (d->layout) d->f.vkDestroyPipelineLayout(d->dev, d->layout, NULL);
    if (d->dsl) d->f.vkDestroyDescriptorSetLayout(d->dev, d->dsl, NULL);
    d->layout = VK_NULL_HANDLE;
    d->dsl = VK_NULL_HANDLE;
}

static VkResult pipe_create(tf_vk_dev *d, const tf_vk_spirv *sp, VkPipeline *out)
{
    VkShaderModuleCreateInfo mi = {.sType = VK_STRUCTURE_TYPE_SHADER_MODULE_CREATE_INFO,
                                   .codeSize = sp->size, .pCode = sp->code};
    VkShaderModule mod;
    VkResult r = d->f.vkCreateShaderModule(d->dev, &mi, NULL, &mod);
    if (r != VK_SUCCESS) return r;
    VkComputePipelineCreateInfo ci = {
        .sType = VK_STRUCTURE_TYPE_COMPUTE_PIPELINE_CREATE_INFO,
        .stage = {.sType = VK_STRUCTURE_TYPE_PIPELINE_SHADER_STAGE_CREATE_INFO,
                  .stage = VK_SHADER_STAGE_COMPUTE_BIT, .module = mod, .pName = "main"},
        .layout = d->layout};
    r = d->f.vkCreateComputePipelines(d->dev, VK_NULL_HANDLE, 1, &ci, NULL, out);
    d->f.vkDestroyShaderModule(d->dev, mod, NULL);
    return r;
}

VkPipeline tf_vk_pipe(tf_vk_dev *d, const char *name, char *err, size_t errlen)
{
    int i = 0;
    while (i < tf_vk_spirv_count && strcmp(tf_vk_spirv_table[i].name, name)) i++;
    if (i == tf_vk_spirv_count || i >= TF_VK_MAX_PIPES) {
        tf_errf(err, errlen, "Vulkan: no shader '%s' in this build", name);
        return VK_NULL_HANDLE;
    }
    pthread_mutex_lock(&d->lock);
    VkResult r = VK_SUCCESS;
    if (!d->pipes[i]) r = pipe_create(d, &tf_vk_spirv_table[i], &d->pipes[i]);
    VkPipeline p = d->pipes[i];
    pthread_mutex_unlock(&d->lock);
    if (r != VK_SUCCESS) {
        tf_errf(err, errlen, "Vulkan: creating pipeline '%s' on %s failed: %s", name, d->name,
                tf_vk_result_str(r));
        return VK_NULL_HANDLE;
    }
    return p;
}

void tf_vk_set_write(tf_vk_dev *d, VkDescriptorSet set, const tf_vk_range *bind)
{
    VkDescriptorBufferInfo bi[TF_B_COUNT];
    VkWriteDescriptorSet w[TF_B_COUNT];
    for (int i = 0; i < TF_B_COUNT; i++) {
        bi[i] = (VkDescriptorBufferInfo){.buffer = bind[i].buf, .offset = bind[i].off, .range = bind[i].size};
        w[i] = (VkWriteDescriptorSet){.sType = VK_STRUCTURE_TYPE_WRITE_DESCRIPTOR_SET, .dstSet = set,
                                      .dstBinding = (uint32_t)i, .descriptorCount = 1,
                                      .descriptorType = VK_DESCRIPTOR_TYPE_STORAGE_BUFFER,
                                      .pBufferInfo = &bi[i]};
    }
    d->f.vkUpdateDescriptorSets(d->dev, TF_B_COUNT, w, 0, NULL);
}

/* ---- start-up self-test ----------------------------------------------- */

/* A 4 x 64 Q4_0 matrix times 2 columns, and an RMS norm of one 64-element
 * row, against values the CPU reference computes from the same bytes. */
#define ST_K 64
#define ST_N 4
#define ST_T 2
#define CEIL_DIV(a, b) (((a) + (b) - 1) / (b))

typedef struct st_env {
    tf_vk_buf buf; /* host-visible: every operand, 256-byte aligned */
    VkDescriptorPool pool;
    VkDescriptorSet set[2];
    VkCommandPool cpool;
    VkCommandBuffer cb;
    VkFence fence;
} st_env;

enum { ST_RUN = 0, ST_W = 256, ST_X = 512, ST_Y = 1024, ST_NW = 1280, ST_NY = 1536, ST_BYTES = 2048 };

static float st_value(uint32_t *s)
{
    *s = *s * 1664525u + 1013904223u;
    return (float)((*s >> 8) & 0xffff) / 32768.0f - 1.0f;
}

/* Inputs into the buffer; expected outputs into want[ST_T * ST_N + ST_K]. */
static void st_fill(uint8_t *m, float *want)
{
    uint32_t seed = 12345;
    float w[ST_N * ST_K], wd[ST_N * ST_K], x[ST_T * ST_K], nw[ST_K];
    for (int i = 0; i < ST_N * ST_K; i++) w[i] = st_value(&seed);
    for (int i = 0; i < ST_T * ST_K; i++) x[i] = st_value(&seed);
    for (int i = 0; i < ST_K; i++) nw[i] = 0.5f + st_value(&seed);
    const tf_type_kernels *q = tf_kernels_ref_of(TF_TYPE_Q4_0);
    q->from_float(w, m + ST_W, ST_N * ST_K);
    q->to_float(m + ST_W, wd, ST_N * ST_K);
    uint32_t run[4] = {ST_T, 0, ST_T, 0};
    memcpy(m + ST_RUN, run, sizeof run);
    memcpy(m + ST_X, x, sizeof x);
    memcpy(m + ST_NW, nw, sizeof nw);
    for (int t = 0; t < ST_T; t++)
        for (int r = 0; r < ST_N; r++) {
            double s = 0;
            for (int k = 0; k < ST_K; k++) s += (double)wd[r * ST_K + k] * x[t * ST_K + k];
            want[t * ST_N + r] = (float)s;
        }
    double ss = 0;
    for (int k = 0; k < ST_K; k++) ss += (double)x[k] * x[k];
    float sc = 1.0f / sqrtf((float)(ss / ST_K) + 1e-5f);
    for (int k = 0; k < ST_K; k++) want[ST_T * ST_N + k] = x[k] * sc * nw[k];
}

static void st_free(tf_vk_dev *d, st_env *e)
{
    if (e->fence) d->f.vkDestroyFence(d->dev, e->fence, NULL);
    if (e->cpool) d->f.vkDestroyCommandPool(d->dev, e->cpool, NULL);
    if (e->pool) d->f.vkDestroyDescriptorPool(d->dev, e->pool, NULL);
    tf_vk_buf_free(d, &e->buf);
}

static VkResult st_setup(tf_vk_dev *d, st_env *e)
{
    VkResult r = tf_vk_buf_new(d, ST_BYTES, true, &e->buf);
    if (r != VK_SUCCESS) return r;
    VkDescriptorPoolSize ps = {VK_DESCRIPTOR_TYPE_STORAGE_BUFFER, 2 * TF_B_COUNT};
    VkDescriptorPoolCreateInfo pi = {.sType = VK_STRUCTURE_TYPE_DESCRIPTOR_POOL_CREATE_INFO, .maxSets = 2,
                                     .poolSizeCount = 1, .pPoolSizes = &ps};
    if ((r = d->f.vkCreateDescriptorPool(d->dev, &pi, NULL, &e->pool)) != VK_SUCCESS) return r;
    VkDescriptorSetLayout l2[2] = {d->dsl, d->dsl};
    VkDescriptorSetAllocateInfo ai = {.sType = VK_STRUCTURE_TYPE_DESCRIPTOR_SET_ALLOCATE_INFO,
                                      .descriptorPool = e->pool, .descriptorSetCount = 2, .pSetLayouts = l2};
    if ((r = d->f.vkAllocateDescriptorSets(d->dev, &ai, e->set)) != VK_SUCCESS) return r;
    VkCommandPoolCreateInfo ci = {.sType = VK_STRUCTURE_TYPE_COMMAND_POOL_CREATE_INFO,
                                  .queueFamilyIndex = d->qfam};
    if ((r = d->f.vkCreateCommandPool(d->dev, &ci, NULL, &e->cpool)) != VK_SUCCESS) return r;
    VkCommandBufferAllocateInfo cai = {.sType = VK_STRUCTURE_TYPE_COMMAND_BUFFER_ALLOCATE_INFO,
                                       .commandPool = e->cpool, .level = VK_COMMAND_BUFFER_LEVEL_PRIMARY,
                                       .commandBufferCount = 1};
    if ((r = d->f.vkAllocateCommandBuffers(d->dev, &cai, &e->cb)) != VK_SUCCESS) return r;
    VkFenceCreateInfo fi = {.sType = VK_STRUCTURE_TYPE_FENCE_CREATE_INFO};
    return d->f.vkCreateFence(d->dev, &fi, NULL, &e->fence);
}

static void st_bind(tf_vk_dev *d, st_env *e)
{
    tf_vk_range b[TF_B_COUNT];
    for (int i = 0; i < TF_B_COUNT; i++) b[i] = (tf_vk_range){e->buf.buf, ST_RUN, 256};
    b[TF_B_RUN] = (tf_vk_range){e->buf.buf, ST_RUN, 256};
    b[TF_B_W0] = (tf_vk_range){e->buf.buf, ST_W, 256};
    b[TF_B_SRC0] = (tf_vk_range){e->buf.buf, ST_X, 512};
    b[TF_B_DST] = (tf_vk_range){e->buf.buf, ST_Y, 256};
    tf_vk_set_write(d, e->set[0], b);
    b[TF_B_W0] = (tf_vk_range){e->buf.buf, ST_NW, 256};
    b[TF_B_DST] = (tf_vk_range){e->buf.buf, ST_NY, 256};
    tf_vk_set_write(d, e->set[1], b);
}

static VkResult st_run(tf_vk_dev *d, st_env *e, VkPipeline mv, VkPipeline norm)
{
    VkCommandBufferBeginInfo bi = {.sType = VK_STRUCTURE_TYPE_COMMAND_BUFFER_BEGIN_INFO,
                                   .flags = VK_COMMAND_BUFFER_USAGE_ONE_TIME_SUBMIT_BIT};
    VkResult r = d->f.vkBeginCommandBuffer(e->cb, &bi);
    if (r != VK_SUCCESS) return r;
    tf_pc_mat pm = {.K = ST_K, .N = ST_N, .x_stride = ST_K, .y_stride = ST_N, .row_bytes = 2 * 18,
                    .nr = 2, .x_vec4 = 1};
    d->f.vkCmdBindPipeline(e->cb, VK_PIPELINE_BIND_POINT_COMPUTE, mv);
    d->f.vkCmdBindDescriptorSets(e->cb, VK_PIPELINE_BIND_POINT_COMPUTE, d->layout, 0, 1, &e->set[0], 0, NULL);
    d->f.vkCmdPushConstants(e->cb, d->layout, VK_SHADER_STAGE_COMPUTE_BIT, 0, sizeof pm, &pm);
    d->f.vkCmdDispatch(e->cb, ST_N / 2, CEIL_DIV(ST_T, TF_MV_COLS), 1);
    tf_pc_norm pn = {.n = ST_K, .eps = 1e-5f};
    d->f.vkCmdBindPipeline(e->cb, VK_PIPELINE_BIND_POINT_COMPUTE, norm);
    d->f.vkCmdBindDescriptorSets(e->cb, VK_PIPELINE_BIND_POINT_COMPUTE, d->layout, 0, 1, &e->set[1], 0, NULL);
    d->f.vkCmdPushConstants(e->cb, d->layout, VK_SHADER_STAGE_COMPUTE_BIT, 0, sizeof pn, &pn);
    d->f.vkCmdDispatch(e->cb, 1, 1, 1);
    VkMemoryBarrier mb = {.sType = VK_STRUCTURE_TYPE_MEMORY_BARRIER,
                          .srcAccessMask = VK_ACCESS_SHADER_WRITE_BIT, .dstAccessMask = VK_ACCESS_HOST_READ_BIT};
    d->f.vkCmdPipelineBarrier(e->cb, VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT, VK_PIPELINE_STAGE_HOST_BIT, 0, 1,
                              &mb, 0, NULL, 0, NULL);
    if ((r = d->f.vkEndCommandBuffer(e->cb)) != VK_SUCCESS) return r;
    return tf_vk_submit_wait(d, e->cb, e->fence);
}

static int st_compare(const tf_vk_dev *d, const uint8_t *m, const float *want, char *err, size_t errlen)
{
    const float *y = (const float *)(m + ST_Y), *ny = (const float *)(m + ST_NY);
    for (int i = 0; i < ST_T * ST_N + ST_K; i++) {
        float got = i < ST_T * ST_N ? y[i] : ny[i - ST_T * ST_N], w = want[i];
        if (!(fabsf(got - w) <= 1e-3f * (1.0f + fabsf(w)))) {
            tf_errf(err, errlen, "Vulkan: %s failed the start-up self-test (%s element %d: got %g, expected %g); "
                    "refusing the device", d->name, i < ST_T * ST_N ? "Q4_0 matvec" : "RMS norm",
                    i < ST_T * ST_N ? i : i - ST_T * ST_N, (double)got, (double)w);
            return -1;
        }
    }
    return 0;
}

int tf_vk_selftest(tf_vk_dev *d, char *err, size_t errlen)
{
    const char *sg = d->subgroup_arith ? "sg" : "nosg";
    char n1[32], n2[32];
    snprintf(n1, sizeof n1, "mv_q4_0_%s", sg);
    snprintf(n2, sizeof n2, "rms_norm_%s", sg);
    VkPipeline mv = tf_vk_pipe(d, n1, err, errlen), norm = mv ? tf_vk_pipe(d, n2, err, errlen) : NULL;
    if (!mv || !norm) return -1;
    st_env e = {0};
    float want[ST_T * ST_N + ST_K];
    VkResult r = st_setup(d, &e);
    if (r == VK_SUCCESS) {
        memset(e.buf.map, 0, ST_BYTES);
        st_fill(e.buf.map, want);
        tf_vk_flush(d, &e.buf);
        st_bind(d, &e);
        r = st_run(d, &e, mv, norm);
    }
    int rc = -1;
    if (r != VK_SUCCESS) {
        tf_errf(err, errlen, "Vulkan: the start-up self-test on %s failed to run: %s", d->name,
                tf_vk_result_str(r));
    } else {
        tf_vk_invalidate(d, &e.buf);
        rc = st_compare(d, e.buf.map, want, err, errlen);
    }
    st_free(d, &e);
    return rc;
}

#else
typedef int tf_vk_pipes_unused_;
#endif
