/* vk_device.c - the Vulkan loader, the instance, device choice and memory.
 *
 * libvulkan.so.1 is opened with dlopen on first use, so the library works
 * (CPU only) where Vulkan is absent.  One instance and one logical device
 * per physical device are shared by every context of the process
 * (reference-counted; the last release destroys them).  A new device runs
 * the known-answer self-test (vk_pipes.c) before anyone may use it.
 *
 * Validation: when VK_INSTANCE_LAYERS names the Khronos validation layer
 * (or TINFER_VK_DEBUG is set) and VK_EXT_debug_utils is available, a
 * messenger counts the errors and keeps the first message
 * (tf_vk_debug_errors, for the tests).
 */
#ifdef TF_VULKAN
#include <dlfcn.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backend_vk.h"
#include "vk_internal.h"

#define MAX_PHYS 16

static pthread_mutex_t g_lock = PTHREAD_MUTEX_INITIALIZER;
static void *g_lib;
static tf_vk_fns g_f;          /* global + instance-level entry points */
static VkInstance g_inst;
static VkDebugUtilsMessengerEXT g_msg;
static int g_inst_refs;
static tf_vk_dev *g_devs[MAX_PHYS];

static _Atomic int g_debug_errors;
static bool g_debug_active; /* a messenger was created in this process */
static char g_debug_first[512];

int tf_vk_debug_errors(const char **first)
{
    if (first) *first = g_debug_first;
    return g_debug_active ? atomic_load(&g_debug_errors) : -1;
}

static VKAPI_ATTR VkBool32 VKAPI_CALL on_debug(VkDebugUtilsMessageSeverityFlagBitsEXT sev,
                                              VkDebugUtilsMessageTypeFlagsEXT type,
                                              const VkDebugUtilsMessengerCallbackDataEXT *data,
                                              void *user)
{
    (void)type;
    (void)user;
    if (sev & VK_DEBUG_UTILS_MESSAGE_SEVERITY_ERROR_BIT_EXT) {
        if (atomic_fetch_add(&g_debug_errors, 1) == 0 && data && data->pMessage)
            snprintf(g_debug_first, sizeof g_debug_first, "%s", data->pMessage);
    }
    return VK_FALSE;
}

const char *tf_vk_result_str(VkResult r)
{
    switch (r) {
    case VK_SUCCESS: return "VK_SUCCESS";
    case VK_NOT_READY: return "VK_NOT_READY";
    case VK_TIMEOUT: return "VK_TIMEOUT";
    case VK_ERROR_OUT_OF_HOST_MEMORY: return "VK_ERROR_OUT_OF_HOST_MEMORY";
    case VK_ERROR_OUT_OF_DEVICE_MEMORY: return "VK_ERROR_OUT_OF_DEVICE_MEMORY";
    case VK_ERROR_INITIALIZATION_FAILED: return "VK_ERROR_INITIALIZATION_FAILED";
    case VK_ERROR_DEVICE_LOST: return "VK_ERROR_DEVICE_LOST";
    case VK_ERROR_MEMORY_MAP_FAILED: return "VK_ERROR_MEMORY_MAP_FAILED";
    case VK_ERROR_LAYER_NOT_PRESENT: return "VK_ERROR_LAYER_NOT_PRESENT";
    case VK_ERROR_EXTENSION_NOT_PRESENT: return "VK_ERROR_EXTENSION_NOT_PRESENT";
    case VK_ERROR_FEATURE_NOT_PRESENT: return "VK_ERROR_FEATURE_NOT_PRESENT";
    case VK_ERROR_INCOMPATIBLE_DRIVER: return "VK_ERROR_INCOMPATIBLE_DRIVER";
    case VK_ERROR_TOO_MANY_OBJECTS: return "VK_ERROR_TOO_MANY_OBJECTS";
    case VK_ERROR_OUT_OF_POOL_MEMORY: return "VK_ERROR_OUT_OF_POOL_MEMORY";
    default: return "VkResult error";
    }
}

/* ---- loader and instance (g_lock held) ---------------------------------- */

static bool env_wants_debug(void)
{
    const char *l = getenv("VK_INSTANCE_LAYERS");
    return getenv("TINFER_VK_DEBUG") || (l && strstr(l, "validation"));
}

static bool has_instance_ext(const char *name)
{
    uint32_t n = 0;
    if (g_f.vkEnumerateInstanceExtensionProperties(NULL, &n, NULL) != VK_SUCCESS || n == 0) return false;
    VkExtensionProperties *p = calloc(n, sizeof *p);
    bool found = false;
    if (p && g_f.vkEnumerateInstanceExtensionProperties(NULL, &n, p) == VK_SUCCESS)
        for (uint32_t i = 0; i < n && !found; i++) found = !strcmp(p[i].extensionName, name);
    free(p);
    return found;
}

static int load_loader(char *err, size_t errlen)
{
    if (!g_lib) {
        g_lib = dlopen("libvulkan.so.1", RTLD_NOW | RTLD_LOCAL);
        if (!g_lib) {
            tf_errf(err, errlen, "Vulkan: cannot load libvulkan.so.1 (%s); install a Vulkan loader and driver "
                    "(Debian: libvulkan1 mesa-vulkan-drivers)", dlerror());
            return -1;
        }
    }
    void *sym = dlsym(g_lib, "vkGetInstanceProcAddr");
    memcpy(&g_f.vkGetInstanceProcAddr, &sym, sizeof sym);
    if (!g_f.vkGetInstanceProcAddr) {
        tf_errf(err, errlen, "Vulkan: libvulkan.so.1 lacks vkGetInstanceProcAddr");
        return -1;
    }
#define GLOBAL_(f) g_f.f = (PFN_##f)g_f.vkGetInstanceProcAddr(NULL, #f);
    GLOBAL_(vkCreateInstance)
    GLOBAL_(vkEnumerateInstanceVersion)
    GLOBAL_(vkEnumerateInstanceLayerProperties)
    GLOBAL_(vkEnumerateInstanceExtensionProperties)
#undef GLOBAL_
    uint32_t ver = VK_API_VERSION_1_0;
    if (!g_f.vkCreateInstance || !g_f.vkEnumerateInstanceExtensionProperties ||
        !g_f.vkEnumerateInstanceVersion || g_f.vkEnumerateInstanceVersion(&ver) != VK_SUCCESS ||
        ver < VK_API_VERSION_1_1) {
        tf_errf(err, errlen, "Vulkan: the loader offers Vulkan %u.%u; tinfer needs 1.1",
                VK_API_VERSION_MAJOR(ver), VK_API_VERSION_MINOR(ver));
        return -1;
    }
    return 0;
}

static int instance_new(char *err, size_t errlen)
{
    if (load_loader(err, errlen)) return -1;
    bool debug = env_wants_debug() && has_instance_ext(VK_EXT_DEBUG_UTILS_EXTENSION_NAME);
    const char *exts[] = {VK_EXT_DEBUG_UTILS_EXTENSION_NAME};
    VkApplicationInfo app = {.sType = VK_STRUCTURE_TYPE_APPLICATION_INFO, .pApplicationName = "tinfer",
                             .pEngineName = "tinfer", .apiVersion = VK_API_VERSION_1_1};
    VkInstanceCreateInfo ci = {.sType = VK_STRUCTURE_TYPE_INSTANCE_CREATE_INFO, .pApplicationInfo = &app,
                               .enabledExtensionCount = debug ? 1 : 0, .ppEnabledExtensionNames = exts};
    VkResult r = g_f.vkCreateInstance(&ci, NULL, &g_inst);
    if (r != VK_SUCCESS) {
        tf_errf(err, errlen, "Vulkan: vkCreateInstance failed: %s", tf_vk_result_str(r));
        g_inst = VK_NULL_HANDLE;
        return -1;
    }
#define INST_(f) g_f.f = (PFN_##f)g_f.vkGetInstanceProcAddr(g_inst, #f);
    TF_VK_INSTANCE_FNS(INST_)
    INST_(vkCreateDebugUtilsMessengerEXT)
    INST_(vkDestroyDebugUtilsMessengerEXT)
#undef INST_
    if (debug && g_f.vkCreateDebugUtilsMessengerEXT) {
        VkDebugUtilsMessengerCreateInfoEXT mi = {
            .sType = VK_STRUCTURE_TYPE_DEBUG_UTILS_MESSENGER_CREATE_INFO_EXT,
            .messageSeverity = VK_DEBUG_UTILS_MESSAGE_SEVERITY_ERROR_BIT_EXT |
                               VK_DEBUG_UTILS_MESSAGE_SEVERITY_WARNING_BIT_EXT,
            .messageType = VK_DEBUG_UTILS_MESSAGE_TYPE_GENERAL_BIT_EXT |
                           VK_DEBUG_UTILS_MESSAGE_TYPE_VALIDATION_BIT_EXT |
                           VK_DEBUG_UTILS_MESSAGE_TYPE_PERFORMANCE_BIT_EXT,
            .pfnUserCallback = on_debug};
        if (g_f.vkCreateDebugUtilsMessengerEXT(g_inst, &mi, NULL, &g_msg) == VK_SUCCESS) g_debug_active = true;
    }
    return 0;
}

static void instance_unref(void)
{
    if (--g_inst_refs > 0) return;
    if (g_msg) g_f.vkDestroyDebugUtilsMessengerEXT(g_inst, g_msg, NULL);
    g_msg = VK_NULL_HANDLE;
    if (g_inst) g_f.vkDestroyInstance(g_inst, NULL);
    g_inst = VK_NULL_HANDLE;
    g_inst_refs = 0;
}

/* ---- choosing a physical device ----------------------------------------- */

static const char *type_name(VkPhysicalDeviceType t)
{
    switch (t) {
    case VK_PHYSICAL_DEVICE_TYPE_DISCRETE_GPU: return "discrete GPU";
    case VK_PHYSICAL_DEVICE_TYPE_INTEGRATED_GPU: return "integrated GPU";
    case VK_PHYSICAL_DEVICE_TYPE_VIRTUAL_GPU: return "virtual GPU";
    case VK_PHYSICAL_DEVICE_TYPE_CPU: return "CPU";
    default: return "other";
    }
}

static int type_rank(VkPhysicalDeviceType t)
{
    switch (t) {
    case VK_PHYSICAL_DEVICE_TYPE_DISCRETE_GPU: return 4;
    case VK_PHYSICAL_DEVICE_TYPE_INTEGRATED_GPU: return 3;
    case VK_PHYSICAL_DEVICE_TYPE_VIRTUAL_GPU: return 2;
    case VK_PHYSICAL_DEVICE_TYPE_CPU: return 1;
    default: return 0;
    }
}

static int compute_queue(VkPhysicalDevice p, uint32_t *fam)
{
    uint32_t n = 0;
    g_f.vkGetPhysicalDeviceQueueFamilyProperties(p, &n, NULL);
    VkQueueFamilyProperties q[32];
    if (n > 32) n = 32;
    g_f.vkGetPhysicalDeviceQueueFamilyProperties(p, &n, q);
    for (uint32_t i = 0; i < n; i++)
        if (q[i].queueFlags & VK_QUEUE_COMPUTE_BIT) {
            *fam = i;
            return 0;
        }
    return -1;
}

/* Physical device index to use: `want` if >= 0, else the best usable. */
static int pick_device(int want, VkPhysicalDevice *phys, uint32_t *n, char *err, size_t errlen)
{
    *n = MAX_PHYS;
    VkResult r = g_f.vkEnumeratePhysicalDevices(g_inst, n, phys);
    if ((r != VK_SUCCESS && r != VK_INCOMPLETE) || *n == 0) {
        tf_errf(err, errlen, "Vulkan: no device found (%s)", r ? tf_vk_result_str(r) : "0 devices");
        return -1;
    }
    char list[600] = "";
    int best = -1, best_rank = -1;
    bool usable[MAX_PHYS];
    for (uint32_t i = 0; i < *n; i++) {
        VkPhysicalDeviceProperties p;
        uint32_t fam;
        g_f.vkGetPhysicalDeviceProperties(phys[i], &p);
        bool ok = usable[i] = p.apiVersion >= VK_API_VERSION_1_1 && compute_queue(phys[i], &fam) == 0;
        size_t l = strlen(list);
        snprintf(list + l, sizeof list - l, "%s%u: %s (%s%s)", i ? "; " : "", i, p.deviceName,
                 type_name(p.deviceType), ok ? "" : ", unusable: needs Vulkan 1.1 + compute");
        if (ok && type_rank(p.deviceType) > best_rank) {
            best = (int)i;
            best_rank = type_rank(p.deviceType);
        }
    }
    if (want >= 0) {
        if ((uint32_t)want >= *n || !usable[want]) {
            tf_errf(err, errlen, "Vulkan: %s device %d; devices: %s", (uint32_t)want >= *n ? "no" : "cannot use",
                    want, list);
            return -1;
        }
        return want;
    }
    if (best < 0) tf_errf(err, errlen, "Vulkan: no usable device; devices: %s", list);
    return best;
}

/* ---- the logical device ----------------------------------------------- */

static uint32_t find_mem(const tf_vk_dev *d, uint32_t bits, VkMemoryPropertyFlags want)
{
    for (uint32_t i = 0; i < d->memp.memoryTypeCount; i++)
        if ((bits & (1u << i)) && (d->memp.memoryTypes[i].propertyFlags & want) == want) return i;
    return UINT32_MAX;
}

static void query_props(tf_vk_dev *d)
{
    VkPhysicalDeviceMaintenance3Properties m3 = {
        .sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_MAINTENANCE_3_PROPERTIES};
    VkPhysicalDeviceSubgroupProperties sg = {.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_SUBGROUP_PROPERTIES,
                                             .pNext = &m3};
    VkPhysicalDeviceProperties2 p2 = {.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_PROPERTIES_2, .pNext = &sg};
    d->f.vkGetPhysicalDeviceProperties2(d->phys, &p2);
    d->props = p2.properties;
    d->f.vkGetPhysicalDeviceMemoryProperties(d->phys, &d->memp);
    d->subgroup_size = sg.subgroupSize;
    d->subgroup_arith = (sg.supportedStages & VK_SHADER_STAGE_COMPUTE_BIT) &&
                        (sg.supportedOperations & VK_SUBGROUP_FEATURE_ARITHMETIC_BIT) &&
                        (sg.supportedOperations & VK_SUBGROUP_FEATURE_BASIC_BIT) &&
                        !getenv("TINFER_VK_NO_SUBGROUP");
    d->align = d->props.limits.minStorageBufferOffsetAlignment;
    if (d->align < 4) d->align = 4;
    d->max_range = d->props.limits.maxStorageBufferRange;
    d->max_alloc = m3.maxMemoryAllocationSize ? m3.maxMemoryAllocationSize : ((VkDeviceSize)1 << 30);
    if (d->max_alloc > ((VkDeviceSize)1 << 30)) d->max_alloc = (VkDeviceSize)1 << 30;
    for (uint32_t i = 0; i < d->memp.memoryHeapCount; i++)
        if (d->memp.memoryHeaps[i].flags & VK_MEMORY_HEAP_DEVICE_LOCAL_BIT &&
            d->memp.memoryHeaps[i].size > d->heap_bytes)
            d->heap_bytes = d->memp.memoryHeaps[i].size;
    snprintf(d->name, sizeof d->name, "%s", d->props.deviceName);
    snprintf(d->desc, sizeof d->desc, "vulkan device %d: %s (%s, %.1f GiB, subgroup %u%s)", d->index,
             d->name, type_name(d->props.deviceType), d->heap_bytes / 1073741824.0, d->subgroup_size,
             d->subgroup_arith ? "" : ", shared-memory reductions");
}

static int device_new(tf_vk_dev *d, char *err, size_t errlen)
{
    float prio = 1.0f;
    VkDeviceQueueCreateInfo qi = {.sType = VK_STRUCTURE_TYPE_DEVICE_QUEUE_CREATE_INFO,
                                  .queueFamilyIndex = d->qfam, .queueCount = 1, .pQueuePriorities = &prio};
    VkDeviceCreateInfo ci = {.sType = VK_STRUCTURE_TYPE_DEVICE_CREATE_INFO, .queueCreateInfoCount = 1,
                             .pQueueCreateInfos = &qi};
    VkResult r = d->f.vkCreateDevice(d->phys, &ci, NULL, &d->dev);
    if (r != VK_SUCCESS) {
        tf_errf(err, errlen, "Vulkan: vkCreateDevice on %s failed: %s", d->name, tf_vk_result_str(r));
        d->dev = VK_NULL_HANDLE;
        return -1;
    }
#define DEV_(fn) d->f.fn = (PFN_##fn)d->f.vkGetDeviceProcAddr(d->dev, #fn);
    TF_VK_DEVICE_FNS(DEV_)
#undef DEV_
    d->f.vkGetDeviceQueue(d->dev, d->qfam, 0, &d->queue);
    r = tf_vk_layouts_new(d);
    if (r != VK_SUCCESS) {
        tf_errf(err, errlen, "Vulkan: creating the pipeline layout failed: %s", tf_vk_result_str(r));
        return -1;
    }
    return 0;
}

static void dev_destroy(tf_vk_dev *d)
{
    if (!d) return;
    if (d->dev) {
        d->f.vkDeviceWaitIdle(d->dev);
        tf_vk_pipes_free(d);
        d->f.vkDestroyDevice(d->dev, NULL);
    }
    pthread_mutex_destroy(&d->lock);
    free(d);
}

static tf_vk_dev *dev_create(int idx, VkPhysicalDevice phys, char *err, size_t errlen)
{
    tf_vk_dev *d = calloc(1, sizeof *d);
    if (!d) {
        tf_errf(err, errlen, "Vulkan: out of memory");
        return NULL;
    }
    pthread_mutex_init(&d->lock, NULL);
    d->f = g_f;
    d->index = idx;
    d->phys = phys;
    d->inst = g_inst;
    query_props(d);
    if (compute_queue(phys, &d->qfam) || device_new(d, err, errlen)) {
        if (err && !err[0]) tf_errf(err, errlen, "Vulkan: %s has no compute queue", d->name);
        dev_destroy(d);
        return NULL;
    }
    uint32_t all = UINT32_MAX;
    d->mt_device = find_mem(d, all, VK_MEMORY_PROPERTY_DEVICE_LOCAL_BIT);
    d->mt_host = find_mem(d, all, VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT | VK_MEMORY_PROPERTY_HOST_COHERENT_BIT);
    d->host_coherent = d->mt_host != UINT32_MAX;
    if (!d->host_coherent) d->mt_host = find_mem(d, all, VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT);
    if (d->mt_device == UINT32_MAX) d->mt_device = d->mt_host;
    if (d->mt_host == UINT32_MAX) {
        tf_errf(err, errlen, "Vulkan: %s has no host-visible memory", d->name);
        dev_destroy(d);
        return NULL;
    }
    if (tf_vk_selftest(d, err, errlen)) {
        dev_destroy(d);
        return NULL;
    }
    return d;
}

tf_status tf_vk_dev_acquire(int index, tf_vk_dev **out, char *err, size_t errlen)
{
    *out = NULL;
    if (err && errlen) err[0] = 0;
    pthread_mutex_lock(&g_lock);
    tf_status st = TF_ERR_BACKEND;
    if (!g_inst && instance_new(err, errlen)) goto done;
    g_inst_refs++;
    VkPhysicalDevice phys[MAX_PHYS];
    uint32_t n;
    int idx = pick_device(index, phys, &n, err, errlen);
    if (idx < 0) {
        instance_unref();
        st = index >= 0 ? TF_ERR_INVALID_ARG : TF_ERR_UNSUPPORTED;
        goto done;
    }
    if (!g_devs[idx]) {
        g_devs[idx] = dev_create(idx, phys[idx], err, errlen);
        if (!g_devs[idx]) {
            instance_unref();
            goto done;
        }
    } else {
        instance_unref(); /* the existing device holds the instance already */
    }
    g_devs[idx]->refs++;
    *out = g_devs[idx];
    st = TF_OK;
done:
    pthread_mutex_unlock(&g_lock);
    return st;
}

void tf_vk_dev_release(tf_vk_dev *d)
{
    if (!d) return;
    pthread_mutex_lock(&g_lock);
    if (--d->refs == 0) {
        g_devs[d->index] = NULL;
        dev_destroy(d);
        instance_unref();
    }
    pthread_mutex_unlock(&g_lock);
}

/* ---- buffers ------------------------------------------------------------ */

VkResult tf_vk_buf_new(tf_vk_dev *d, VkDeviceSize size, bool host, tf_vk_buf *b)
{
    memset(b, 0, sizeof *b);
    size = (size + 15) / 16 * 16;
    VkBufferCreateInfo bi = {.sType = VK_STRUCTURE_TYPE_BUFFER_CREATE_INFO, .size = size,
                             .usage = VK_BUFFER_USAGE_STORAGE_BUFFER_BIT | VK_BUFFER_USAGE_TRANSFER_SRC_BIT |
                                      VK_BUFFER_USAGE_TRANSFER_DST_BIT,
                             .sharingMode = VK_SHARING_MODE_EXCLUSIVE};
    VkResult r = d->f.vkCreateBuffer(d->dev, &bi, NULL, &b->buf);
    if (r != VK_SUCCESS) return r;
    VkMemoryRequirements req;
    d->f.vkGetBufferMemoryRequirements(d->dev, b->buf, &req);
    /* Host buffers: cached + coherent first (logits are read back), then
     * coherent, then any host-visible type (flushed / invalidated). */
    static const VkMemoryPropertyFlags host_pref[3] = {
        VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT | VK_MEMORY_PROPERTY_HOST_COHERENT_BIT |
            VK_MEMORY_PROPERTY_HOST_CACHED_BIT,
        VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT | VK_MEMORY_PROPERTY_HOST_COHERENT_BIT,
        VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT};
    uint32_t mt = UINT32_MAX;
    if (host) {
        for (int i = 0; i < 3 && mt == UINT32_MAX; i++) mt = find_mem(d, req.memoryTypeBits, host_pref[i]);
    } else {
        mt = find_mem(d, req.memoryTypeBits, VK_MEMORY_PROPERTY_DEVICE_LOCAL_BIT);
        if (mt == UINT32_MAX) mt = find_mem(d, req.memoryTypeBits, 0);
    }
    if (mt == UINT32_MAX) {
        tf_vk_buf_free(d, b);
        return VK_ERROR_FEATURE_NOT_PRESENT;
    }
    b->coherent = (d->memp.memoryTypes[mt].propertyFlags & VK_MEMORY_PROPERTY_HOST_COHERENT_BIT) != 0;
    VkMemoryAllocateInfo ai = {.sType = VK_STRUCTURE_TYPE_MEMORY_ALLOCATE_INFO, .allocationSize = req.size,
                               .memoryTypeIndex = mt};
    r = d->f.vkAllocateMemory(d->dev, &ai, NULL, &b->mem);
    if (r == VK_SUCCESS) r = d->f.vkBindBufferMemory(d->dev, b->buf, b->mem, 0);
    if (r == VK_SUCCESS && host) r = d->f.vkMapMemory(d->dev, b->mem, 0, VK_WHOLE_SIZE, 0, &b->map);
    if (r != VK_SUCCESS) {
        tf_vk_buf_free(d, b);
        return r;
    }
    b->size = size;
    return VK_SUCCESS;
}

void tf_vk_buf_free(tf_vk_dev *d, tf_vk_buf *b)
{
    if (b->map) d->f.vkUnmapMemory(d->dev, b->mem);
    if (b->buf) d->f.vkDestroyBuffer(d->dev, b->buf, NULL);
    if (b->mem) d->f.vkFreeMemory(d->dev, b->mem, NULL);
    memset(b, 0, sizeof *b);
}

void tf_vk_flush(tf_vk_dev *d, tf_vk_buf *b)
{
    if (b->coherent || !b->map) return;
    VkMappedMemoryRange r = {.sType = VK_STRUCTURE_TYPE_MAPPED_MEMORY_RANGE, .memory = b->mem,
                             .size = VK_WHOLE_SIZE};
    d->f.vkFlushMappedMemoryRanges(d->dev, 1, &r);
}

void tf_vk_invalidate(tf_vk_dev *d, tf_vk_buf *b)
{
    if (b->coherent || !b->map) return;
    VkMappedMemoryRange r = {.sType = VK_STRUCTURE_TYPE_MAPPED_MEMORY_RANGE, .memory = b->mem,
                             .size = VK_WHOLE_SIZE};
    d->f.vkInvalidateMappedMemoryRanges(d->dev, 1, &r);
}

VkResult tf_vk_submit_wait(tf_vk_dev *d, VkCommandBuffer cb, VkFence fence)
{
    VkSubmitInfo si = {.sType = VK_STRUCTURE_TYPE_SUBMIT_INFO, .commandBufferCount = 1,
                       .pCommandBuffers = &cb};
    VkResult r = d->f.vkResetFences(d->dev, 1, &fence);
    if (r != VK_SUCCESS) return r;
    pthread_mutex_lock(&d->lock);
    r = d->f.vkQueueSubmit(d->queue, 1, &si, fence);
    pthread_mutex_unlock(&d->lock);
    if (r != VK_SUCCESS) return r;
    return d->f.vkWaitForFences(d->dev, 1, &fence, VK_TRUE, UINT64_MAX);
}

#else
typedef int tf_vk_device_unused_;
#endif
