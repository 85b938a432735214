/* vk_internal.h - shared by the Vulkan backend's files (built only with
 * TF_VULKAN, see the Makefile):
 *   vk_device.c    loader (dlopen), instance, device choice, memory, buffers
 *   vk_pipes.c     embedded SPIR-V -> pipelines, descriptor layout, self-test
 *   backend_vk.c   a context: weights, KV cache, arena, descriptor sets,
 *                  command buffers per batch bucket, compute
 *   vk_record.c    graph nodes -> dispatches and the barriers between them
 *
 * The Vulkan loader is opened at run time (dlopen "libvulkan.so.1"), so
 * libtinfer links and runs on machines without Vulkan; all entry points go
 * through the function table below (VK_NO_PROTOTYPES).
 */
#ifndef TF_VK_INTERNAL_H
#define TF_VK_INTERNAL_H

#define VK_NO_PROTOTYPES
#include <pthread.h>
#include <vulkan/vulkan.h>

#include "exec.h"
#include "../shaders/tf_pc.h"

#define TF_VK_INSTANCE_FNS(X)                                                                    \
    X(vkDestroyInstance) X(vkEnumeratePhysicalDevices) X(vkGetPhysicalDeviceProperties)          \
    X(vkGetPhysicalDeviceProperties2) X(vkGetPhysicalDeviceMemoryProperties)                     \
    X(vkGetPhysicalDeviceQueueFamilyProperties) X(vkCreateDevice) X(vkGetDeviceProcAddr)

#define TF_VK_DEVICE_FNS(X)                                                                      \
    X(vkDestroyDevice) X(vkGetDeviceQueue) X(vkQueueSubmit) X(vkDeviceWaitIdle)                  \
    X(vkAllocateMemory) X(vkFreeMemory) X(vkMapMemory) X(vkUnmapMemory)                          \
    X(vkFlushMappedMemoryRanges) X(vkInvalidateMappedMemoryRanges) X(vkCreateBuffer)             \
    X(vkDestroyBuffer) X(vkGetBufferMemoryRequirements) X(vkBindBufferMemory)                    \
    X(vkCreateShaderModule) X(vkDestroyShaderModule) X(vkCreateComputePipelines)                 \
    X(vkDestroyPipeline) X(vkCreatePipelineLayout) X(vkDestroyPipelineLayout)                    \
    X(vkCreateDescriptorSetLayout) X(vkDestroyDescriptorSetLayout) X(vkCreateDescriptorPool)     \
    X(vkDestroyDescriptorPool) X(vkAllocateDescriptorSets) X(vkUpdateDescriptorSets)             \
    X(vkCreateCommandPool) X(vkDestroyCommandPool) X(vkAllocateCommandBuffers)                   \
    X(vkFreeCommandBuffers) X(vkBeginCommandBuffer) X(vkEndCommandBuffer)                        \
    X(vkCmdBindPipeline) X(vkCmdBindDescriptorSets) X(vkCmdPushConstants) X(vkCmdDispatch)       \
    X(vkCmdPipelineBarrier) X(vkCmdCopyBuffer) X(vkCmdFillBuffer) X(vkCreateFence)               \
    X(vkDestroyFence) X(vkWaitForFences) X(vkResetFences)

#define TF_VK_DECL_(f) PFN_##f f;
typedef struct tf_vk_fns {
    PFN_vkGetInstanceProcAddr vkGetInstanceProcAddr;
    PFN_vkCreateInstance vkCreateInstance;
    PFN_vkEnumerateInstanceVersion vkEnumerateInstanceVersion;
    PFN_vkEnumerateInstanceLayerProperties vkEnumerateInstanceLayerProperties;
    PFN_vkEnumerateInstanceExtensionProperties vkEnumerateInstanceExtensionProperties;
    PFN_vkCreateDebugUtilsMessengerEXT vkCreateDebugUtilsMessengerEXT;
    PFN_vkDestroyDebugUtilsMessengerEXT vkDestroyDebugUtilsMessengerEXT;
    TF_VK_INSTANCE_FNS(TF_VK_DECL_)
    TF_VK_DEVICE_FNS(TF_VK_DECL_)
} tf_vk_fns;
#undef TF_VK_DECL_

/* A device buffer with its own memory (mapped when host-visible). */
typedef struct tf_vk_buf {
    VkBuffer buf;
    VkDeviceMemory mem;
    VkDeviceSize size;
    void *map;
    bool coherent;
} tf_vk_buf;

/* A byte range of a buffer that a descriptor binds. */
typedef struct tf_vk_range {
    VkBuffer buf;
    VkDeviceSize off, size;
} tf_vk_range;

/* Pipelines: one per embedded SPIR-V module, created on first use. */
#define TF_VK_MAX_PIPES 128

/* One logical device, shared (reference-counted) by every context that
 * runs on the same physical device in this process.  `lock` guards the
 * pipeline table and queue submission. */
typedef struct tf_vk_dev {
    tf_vk_fns f;
    int index, refs;
    VkInstance inst;
    VkDebugUtilsMessengerEXT messenger;
    VkPhysicalDevice phys;
    VkDevice dev;
    VkQueue queue;
    uint32_t qfam;
    VkPhysicalDeviceProperties props;
    VkPhysicalDeviceMemoryProperties memp;
    uint32_t subgroup_size;
    bool subgroup_arith;       /* reductions use subgroupAdd/Max */
    uint32_t mt_device, mt_host; /* memory type indices */
    bool host_coherent;
    VkDeviceSize align;        /* binding offset alignment (>= 4) */
    VkDeviceSize max_range;    /* maxStorageBufferRange */
    VkDeviceSize max_alloc;    /* one allocation (and one buffer) at most */
    VkDeviceSize heap_bytes;   /* device-local heap */
    VkDescriptorSetLayout dsl;
    VkPipelineLayout layout;
    VkPipeline pipes[TF_VK_MAX_PIPES];
    pthread_mutex_t lock;
    char name[VK_MAX_PHYSICAL_DEVICE_NAME_SIZE];
    char desc[384];
} tf_vk_dev;

/* ---- vk_device.c ---- */
/* A reference to device `index` (-1: the best one), created on first use:
 * discrete > integrated > virtual > CPU, unless named.  Runs the start-up
 * self-test once per device.  Fills err on failure. */
tf_status tf_vk_dev_acquire(int index, tf_vk_dev **out, char *err, size_t errlen);
void tf_vk_dev_release(tf_vk_dev *d);
const char *tf_vk_result_str(VkResult r);
/* Buffer of `size` bytes in device-local or host-visible memory. */
VkResult tf_vk_buf_new(tf_vk_dev *d, VkDeviceSize size, bool host, tf_vk_buf *b);
void tf_vk_buf_free(tf_vk_dev *d, tf_vk_buf *b);
/* Submit one command buffer and wait for it (the queue is shared). */
VkResult tf_vk_submit_wait(tf_vk_dev *d, VkCommandBuffer cb, VkFence fence);
/* Make host writes to / device writes from a mapped buffer visible. */
void tf_vk_flush(tf_vk_dev *d, tf_vk_buf *b);
void tf_vk_invalidate(tf_vk_dev *d, tf_vk_buf *b);

/* ---- vk_pipes.c ---- */
/* Pipeline of the SPIR-V module `name` ("mv_q4_0_sg"), created on first
 * use; VK_NULL_HANDLE (and err filled) when missing or failing. */
VkPipeline tf_vk_pipe(tf_vk_dev *d, const char *name, char *err, size_t errlen);
VkResult tf_vk_layouts_new(tf_vk_dev *d);
void tf_vk_pipes_free(tf_vk_dev *d);
/* Point every binding of set at bind[i] (all must name a buffer). */
void tf_vk_set_write(tf_vk_dev *d, VkDescriptorSet set, const tf_vk_range *bind);
/* Known-answer test of a Q4_0 matvec and an RMS norm; 0 when right. */
int tf_vk_selftest(tf_vk_dev *d, char *err, size_t errlen);
/* Type suffix of the shaders for a weight type ("q4_0"), NULL if none. */
const char *tf_vk_type_suffix(uint32_t type);

/* ---- backend_vk.c / vk_record.c ---- */
/* One descriptor set of a node: what each binding holds, and the offset
 * (in 4-byte elements) of the operand inside its binding. */
typedef struct tf_vk_set {
    VkDescriptorSet set;
    tf_vk_range op[TF_B_COUNT]; /* exact operand ranges (buf 0: unused) */
    uint32_t elem_off[TF_B_COUNT];
} tf_vk_set;

#define TF_VK_SETS_PER_NODE 6

typedef struct tf_vk_state tf_vk_state;

/* Record the whole graph for a batch of up to tb tokens (tail_all: every
 * row's logits wanted) into cb, logits copied to the readback buffer. */
tf_status tf_vk_record(tf_vk_state *s, tf_context *c, VkCommandBuffer cb, int32_t tb,
                       bool tail_all, char *err, size_t errlen);

#endif
