/* gguf.h - GGUF file -> validated index.  Knows no models.
 *
 * Contract: after tf_gguf_open_* succeeds every count, string, array and
 * tensor in the index has been proven to lie inside the buffer; tensors lie
 * inside the data section, aligned, without overlap; keys and tensor names
 * are unique.  Nothing the file says is trusted before it is checked, and
 * nothing is allocated by a file-given size before that size is proven to
 * fit in the bytes that remain.  Strings point into the buffer and are NOT
 * NUL-terminated: use the length.
 */
#ifndef TF_GGUF_H
#define TF_GGUF_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>
#include "tinfer.h" /* tf_status: what a failed open returns */

enum tf_gguf_vtype {
    TF_GGUF_U8 = 0, TF_GGUF_I8 = 1, TF_GGUF_U16 = 2, TF_GGUF_I16 = 3,
    TF_GGUF_U32 = 4, TF_GGUF_I32 = 5, TF_GGUF_F32 = 6, TF_GGUF_BOOL = 7,
    TF_GGUF_STRING = 8, TF_GGUF_ARRAY = 9, TF_GGUF_U64 = 10, TF_GGUF_I64 = 11,
    TF_GGUF_F64 = 12, TF_GGUF_VTYPE_COUNT = 13
};

/* Documented caps a hostile file cannot push past (README "Limits"). */
#define TF_GGUF_MAX_TENSORS   65536u
#define TF_GGUF_MAX_KV        65536u
#define TF_GGUF_MAX_STRING    (16u << 20)   /* bytes in one string */
#define TF_GGUF_MAX_ARRAY     (16u << 20)   /* elements in one array */
#define TF_GGUF_MAX_DIMS      4u
#define TF_GGUF_MAX_NAME      256u          /* tensor name bytes */

typedef struct tf_gguf_str {
    const char *ptr; /* into the file buffer, not NUL-terminated */
    uint64_t len;
} tf_gguf_str;

typedef struct tf_gguf_kv {
    tf_gguf_str key;
    uint32_t type; /* enum tf_gguf_vtype */
    union {
        uint64_t u;      /* U8..U64, BOOL */
        int64_t i;       /* I8..I64 */
        double f;        /* F32, F64 */
        tf_gguf_str str; /* STRING */
        struct {
            uint32_t type;        /* element type (never ARRAY) */
            uint64_t n;           /* element count */
            const uint8_t *data;  /* raw little-endian elements (scalars) */
            tf_gguf_str *strs;    /* STRING elements, n of them (owned) */
        } arr;
    } v;
    uint64_t offset; /* file offset of the key, for messages */
} tf_gguf_kv;

typedef struct tf_gguf_tensor {
    tf_gguf_str name;
    uint32_t n_dims;
    int64_t ne[TF_GGUF_MAX_DIMS]; /* dims, unused ones are 1 */
    uint32_t type;                /* enum tf_type */
    uint64_t offset;              /* relative to the data section */
    uint64_t size;                /* bytes */
    const uint8_t *data;          /* into the buffer */
} tf_gguf_tensor;

typedef struct tf_gguf tf_gguf;

/* Map path read-only and index it.  On failure returns a nonzero
 * tf_status - TF_ERR_IO (can't open, not a regular file, can't map),
 * TF_ERR_FORMAT (the bytes are not valid GGUF), TF_ERR_NOMEM or
 * TF_ERR_INVALID_ARG - *out is NULL and err holds "<path>: offset N:
 * <defect>".  err may be NULL. */
int tf_gguf_open_file(const char *path, tf_gguf **out, char *err, size_t errlen);

/* Index a buffer the caller keeps alive and unchanged until close.
 * name labels error messages.  Returns 0 or a tf_status as above. */
int tf_gguf_open_memory(const void *buf, size_t len, const char *name,
                        tf_gguf **out, char *err, size_t errlen);

void tf_gguf_close(tf_gguf *g); /* NULL-safe */

/* Tells the OS that bytes [p, p + n) of a file-mapped index will not be
 * read soon: their whole pages leave this process's resident memory (a
 * later read maps them in again from the file, with the same bytes).
 * Nothing happens for an index of a caller's buffer or for bytes outside
 * the mapping. */
void tf_gguf_release(const tf_gguf *g, const void *p, size_t n);

uint32_t tf_gguf_version(const tf_gguf *g);
uint64_t tf_gguf_file_size(const tf_gguf *g);
uint32_t tf_gguf_alignment(const tf_gguf *g);
uint64_t tf_gguf_data_offset(const tf_gguf *g); /* file offset of the data section */
const char *tf_gguf_name(const tf_gguf *g); /* path or label */

uint64_t tf_gguf_n_kv(const tf_gguf *g);
const tf_gguf_kv *tf_gguf_kv_at(const tf_gguf *g, uint64_t i);
/* Key lookup by NUL-terminated name; NULL when absent. */
const tf_gguf_kv *tf_gguf_find(const tf_gguf *g, const char *key);

uint64_t tf_gguf_n_tensors(const tf_gguf *g);
const tf_gguf_tensor *tf_gguf_tensor_at(const tf_gguf *g, uint64_t i);
const tf_gguf_tensor *tf_gguf_find_tensor(const tf_gguf *g, const char *name);

/* Typed getters: 0 on success, 1 absent, -1 present with a type that can't
 * be converted losslessly (any integer type fits an in-range integer
 * request; F32/F64 fit a float request). */
int tf_gguf_get_u32(const tf_gguf *g, const char *key, uint32_t *out);
int tf_gguf_get_i64(const tf_gguf *g, const char *key, int64_t *out);
int tf_gguf_get_f32(const tf_gguf *g, const char *key, float *out);
int tf_gguf_get_bool(const tf_gguf *g, const char *key, bool *out);
int tf_gguf_get_str(const tf_gguf *g, const char *key, tf_gguf_str *out);

/* Name of a value type ("uint32", "array"...), "?" when out of range. */
const char *tf_gguf_vtype_name(uint32_t t);

/* Equal to a NUL-terminated string. */
bool tf_gguf_str_eq(tf_gguf_str s, const char *z);

#endif
