/* fuzz_gguf.c - libFuzzer target: the GGUF parser on arbitrary bytes.
 *
 * tf_gguf_open_memory must either reject the input with a message (and no
 * index) or return an index that keeps gguf.h's contract: every string
 * and array inside the buffer, keys and tensor names unique, NUL-free and
 * findable, tensors inside the data section, aligned, sized by their type
 * and shape, not overlapping.  The tensor bytes are read (ASan checks the
 * reads) and every typed getter is tried on every key.
 */
#include "fuzz_common.h"
#include "gguf.h"
#include "kernels.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static bool fg_inside(const uint8_t *buf, size_t len, const void *p, uint64_t n)
{
    const uint8_t *q = p;
    return q >= buf && q <= buf + len && n <= (uint64_t)(buf + len - q);
}

static void fg_check_str(const uint8_t *buf, size_t len, tf_gguf_str s)
{
    FZ_CHECK(s.ptr != NULL || s.len == 0);
    if (s.len) FZ_CHECK(fg_inside(buf, len, s.ptr, s.len));
}

/* A NUL-terminated copy of a name (proven NUL-free) for the lookups. */
static char *fg_cstr(tf_gguf_str s)
{
    char *z = malloc((size_t)s.len + 1);
    FZ_CHECK(z != NULL);
    if (s.len) memcpy(z, s.ptr, (size_t)s.len);
    z[s.len] = 0;
    FZ_CHECK(strlen(z) == s.len);
    return z;
}

static void fg_check_kv(const tf_gguf *g, const uint8_t *buf, size_t len, const tf_gguf_kv *kv)
{
    fg_check_str(buf, len, kv->key);
    FZ_CHECK(kv->key.len > 0);
    FZ_CHECK(kv->type < TF_GGUF_VTYPE_COUNT);
    char *key = fg_cstr(kv->key);
    FZ_CHECK(tf_gguf_find(g, key) == kv);
    uint32_t u;
    int64_t i;
    float f;
    bool b;
    tf_gguf_str s;
    int rc = tf_gguf_get_u32(g, key, &u);
    FZ_CHECK(rc == 0 || rc == -1);
    rc = tf_gguf_get_i64(g, key, &i);
    FZ_CHECK(rc == 0 || rc == -1);
    rc = tf_gguf_get_f32(g, key, &f);
    FZ_CHECK(rc == (kv->type == TF_GGUF_F32 || kv->type == TF_GGUF_F64 ? 0 : -1));
    rc = tf_gguf_get_bool(g, key, &b);
    FZ_CHECK(rc == (kv->type == TF_GGUF_BOOL ? 0 : -1));
    rc = tf_gguf_get_str(g, key, &s);
    FZ_CHECK(rc == (kv->type == TF_GGUF_STRING ? 0 : -1));
    free(key);
    if (kv->type == TF_GGUF_STRING) fg_check_str(buf, len, kv->v.str);
    if (kv->type == TF_GGUF_BOOL) FZ_CHECK(kv->v.u <= 1);
    if (kv->type != TF_GGUF_ARRAY) return;
    FZ_CHECK(kv->v.arr.type < TF_GGUF_VTYPE_COUNT && kv->v.arr.type != TF_GGUF_ARRAY);
    FZ_CHECK(kv->v.arr.n <= TF_GGUF_MAX_ARRAY);
    if (kv->v.arr.type == TF_GGUF_STRING) {
        FZ_CHECK(kv->v.arr.strs != NULL || kv->v.arr.n == 0);
        for (uint64_t k = 0; k < kv->v.arr.n; k++) fg_check_str(buf, len, kv->v.arr.strs[k]);
    } else {
        static const unsigned sz[TF_GGUF_VTYPE_COUNT] = {1, 1, 2, 2, 4, 4, 4, 1, 0, 0, 8, 8, 8};
        FZ_CHECK(fg_inside(buf, len, kv->v.arr.data, kv->v.arr.n * sz[kv->v.arr.type]));
    }
}

static int fg_by_offset(const void *a, const void *b)
{
    const tf_gguf_tensor *x = *(tf_gguf_tensor *const *)a, *y = *(tf_gguf_tensor *const *)b;
    return x->offset < y->offset ? -1 : x->offset > y->offset;
}

static void fg_check_tensors(const tf_gguf *g, const uint8_t *buf, size_t len)
{
    uint64_t n = tf_gguf_n_tensors(g), data_off = tf_gguf_data_offset(g);
    uint32_t align = tf_gguf_alignment(g);
    FZ_CHECK(align && (align & (align - 1)) == 0);
    FZ_CHECK(n == 0 || data_off <= len);
    const tf_gguf_tensor **by = malloc((n ? n : 1) * sizeof *by);
    FZ_CHECK(by != NULL);
    unsigned sum = 0;
    for (uint64_t i = 0; i < n; i++) {
        const tf_gguf_tensor *t = tf_gguf_tensor_at(g, i);
        by[i] = t;
        fg_check_str(buf, len, t->name);
        FZ_CHECK(t->name.len > 0 && t->name.len <= TF_GGUF_MAX_NAME);
        char *name = fg_cstr(t->name);
        FZ_CHECK(tf_gguf_find_tensor(g, name) == t);
        free(name);
        FZ_CHECK(t->n_dims >= 1 && t->n_dims <= TF_GGUF_MAX_DIMS);
        uint64_t nel = 1;
        for (unsigned d = 0; d < TF_GGUF_MAX_DIMS; d++) {
            FZ_CHECK(t->ne[d] >= 1);
            FZ_CHECK(d < t->n_dims || t->ne[d] == 1);
            FZ_CHECK(!__builtin_mul_overflow(nel, (uint64_t)t->ne[d], &nel));
        }
        const tf_type_traits *tt = tf_type_traits_of(t->type);
        FZ_CHECK(tt != NULL && tt->name != NULL);
        FZ_CHECK(t->ne[0] % tt->blck == 0);
        FZ_CHECK(t->size == nel / tt->blck * tt->size);
        FZ_CHECK(t->offset % align == 0);
        FZ_CHECK(t->data == buf + data_off + t->offset);
        FZ_CHECK(fg_inside(buf, len, t->data, t->size));
        for (uint64_t k = 0; k < t->size; k += 61) sum += t->data[k];
        if (t->size) sum += t->data[t->size - 1];
    }
    qsort(by, (size_t)n, sizeof *by, fg_by_offset);
    for (uint64_t i = 1; i < n; i++) FZ_CHECK(by[i - 1]->offset + by[i - 1]->size <= by[i]->offset);
    free(by);
    FZ_CHECK(tf_gguf_tensor_at(g, n) == NULL);
    (void)sum;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static bool kernels_ready;
    if (!kernels_ready) {
        tf_kernels_init(false);
        kernels_ready = true;
    }
    tf_gguf *g = (tf_gguf *)&g;
    char err[512] = "";
    int rc = tf_gguf_open_memory(data, size, "fuzz", &g, err, sizeof err);
    if (rc != 0) {
        FZ_CHECK(g == NULL);
        FZ_CHECK(err[0] != 0);
        return 0;
    }
    FZ_CHECK(g != NULL);
    FZ_CHECK(tf_gguf_file_size(g) == size);
    FZ_CHECK(tf_gguf_version(g) == 2 || tf_gguf_version(g) == 3);
    uint64_t n_kv = tf_gguf_n_kv(g);
    for (uint64_t i = 0; i < n_kv; i++) fg_check_kv(g, data, size, tf_gguf_kv_at(g, i));
    FZ_CHECK(tf_gguf_kv_at(g, n_kv) == NULL);
    fg_check_tensors(g, data, size);
    FZ_CHECK(tf_gguf_find(g, "") == NULL);
    tf_gguf_close(g);
    return 0;
}
