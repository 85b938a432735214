/* vk_testutil.h - shared by test_vulkan.c (ops) and test_vulkan_models.c
 * (whole models): skipping without a device, and AddressSanitizer
 * arrangements for the Vulkan driver.  Include after testutil.h. */
#ifndef TF_VK_TESTUTIL_H
#define TF_VK_TESTUTIL_H

#include <stdbool.h>
#include "backend_vk.h"

static bool g_have_vk;
static char g_vk_desc[512];

#define SKIP_WITHOUT_VK()                                                        \
    do {                                                                         \
        if (!g_have_vk) {                                                        \
            printf("  skipped: no Vulkan (%s)\n", g_vk_desc);                    \
            skip();                                                              \
        }                                                                        \
    } while (0)

static inline double nmse(const float *a, const float *ref, size_t n)
{
    double d = 0, s = 0;
    for (size_t i = 0; i < n; i++) {
        d += ((double)a[i] - ref[i]) * ((double)a[i] - ref[i]);
        s += (double)ref[i] * ref[i];
    }
    return s > 0 ? d / s : d;
}

/* The CLI run by a test under AddressSanitizer: Mesa's own leaks would
 * fail it, and its drivers are unloaded before LeakSanitizer could name
 * them, so leak checking stays in the test process (vk_test_init). */
#if defined(__SANITIZE_ADDRESS__)
#define CLI_ENV "ASAN_OPTIONS=detect_leaks=0 "
#else
#define CLI_ENV ""
#endif

#if defined(__SANITIZE_ADDRESS__)
/* Under AddressSanitizer: the Vulkan loader, drivers and layers keep or
 * leak memory of their own (the validation layer does).  Keep every driver
 * and layer library loaded to the end (the loader unloads them when an
 * instance goes, and LeakSanitizer could then not name them) and suppress
 * leaks inside them; leaks in tinfer's own code are still reported. */
#include <dlfcn.h>
#include <glob.h>

const char *__lsan_default_suppressions(void);
const char *__lsan_default_suppressions(void)
{
    return "leak:libvulkan_\nleak:libLLVM\nleak:libvulkan.so\nleak:libVkLayer\n";
}

static inline void pin_vulkan_drivers(void)
{
    glob_t g;
    if (glob("/usr/share/vulkan/*.d/*.json", 0, NULL, &g) != 0) return;
    for (size_t i = 0; i < g.gl_pathc; i++) {
        char *j = tu_read_file(g.gl_pathv[i], NULL), *p = strstr(j, "\"library_path\"");
        char lib[512];
        if (p && (p = strchr(p + 14, '"')) && sscanf(p + 1, "%511[^\"]", lib) == 1)
            dlopen(lib, RTLD_NOW | RTLD_NODELETE);
        free(j);
    }
    globfree(&g);
}
#else
static inline void pin_vulkan_drivers(void) {}
#endif

/* Call first in main: probes the device (and keeps it for the tests). */
static inline void vk_test_init(void)
{
    pin_vulkan_drivers();
    tf_kernels_init(false);
    g_have_vk = tf_vk_probe(g_vk_desc, sizeof g_vk_desc);
    printf("Vulkan: %s\n", g_vk_desc);
    if (g_have_vk) tf_vk_keep_device(true);
}

#endif
