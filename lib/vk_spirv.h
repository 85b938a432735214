/* vk_spirv.h - the compute shaders as SPIR-V words, generated at build time
 * by shaders/build.sh into $(BUILD)/gen/vk_spirv.c (never committed). */
#ifndef TF_VK_SPIRV_H
#define TF_VK_SPIRV_H

#include <stddef.h>
#include <stdint.h>

typedef struct tf_vk_spirv {
    const char *name;     /* "mv_q4_0_sg" */
    const uint32_t *code;
    size_t size;          /* bytes */
} tf_vk_spirv;

extern const tf_vk_spirv tf_vk_spirv_table[];
extern const int tf_vk_spirv_count;

#endif
