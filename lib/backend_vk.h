/* backend_vk.h - the Vulkan backend as exec.c and the tests see it.
 *
 * tf_backend_vk always exists: in a build without Vulkan (no vulkan/vulkan.h
 * or no glslc at build time) its init fails with TF_ERR_UNSUPPORTED and
 * "built without Vulkan".  See lib/vk_internal.h for the files behind it.
 */
#ifndef TF_BACKEND_VK_H
#define TF_BACKEND_VK_H

#include "exec.h"

extern const tf_backend_ops tf_backend_vk;

/* True when this build has the Vulkan backend compiled in. */
bool tf_vk_built(void);

/* Whether a usable Vulkan device exists (acquires and releases the best
 * one, running its self-test); desc gets its description or the reason. */
bool tf_vk_probe(char *desc, size_t n);

/* Keep (true) or stop keeping (false) a reference to the best device, so
 * that contexts made one after another reuse it instead of creating the
 * instance and device (and running the self-test) each time. */
void tf_vk_keep_device(bool keep);

/* Validation-layer errors reported to the debug messenger since the process
 * started, -1 when no messenger was ever created (see lib/vk_device.c);
 * *first gets the first message ("" if none).  For the tests. */
int tf_vk_debug_errors(const char **first);

/* Matrix-product shaders for the command buffers recorded from now on:
 * 0 chooses per device and batch (default), 1 always matrix-vector, 2
 * always tiled.  For tests. */
extern int tf_vk_matmul_path;

/* Counters of the last recorded command buffer (for tests and tuning). */
typedef struct tf_vk_stats {
    int dispatches, barriers, recorded; /* recorded: command buffers so far */
} tf_vk_stats;
tf_status tf_vk_context_stats(const tf_context *c, tf_vk_stats *out);

#endif
