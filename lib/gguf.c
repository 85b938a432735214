/* gguf.c - GGUF v2/v3 parser.  See gguf.h for the contract.
 *
 * Parsing is one forward pass over the header with a bounds-checked reader;
 * every count read from the file is checked against the bytes that remain
 * (each element needs at least a known minimum size) before anything is
 * allocated for it.  Then the tensor table is checked as a whole: inside
 * the data section, aligned, no overlaps, unique names.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "gguf.h"
#include "internal.h"
#include "kernels.h"

#define GGUF_MAGIC 0x46554747u /* "GGUF" little-endian */
#define GGUF_DEFAULT_ALIGN 32u

struct tf_gguf {
    char name[256];
    const uint8_t *buf;
    size_t len;
    void *map; /* non-NULL when we own an mmap of buf */
    uint32_t version;
    uint32_t alignment;
    uint64_t data_offset;
    uint64_t n_kv, n_tensors;
    tf_gguf_kv *kv;
    tf_gguf_tensor *tensors;
    uint32_t *kv_index; /* open-addressing hash: slot -> kv index + 1 */
    uint32_t *t_index;  /* same for tensor names */
    uint32_t kv_cap, t_cap;
};

typedef struct reader {
    const uint8_t *p;
    size_t len, pos;
    char *err;
    size_t errlen;
    const char *name;
    int status; /* what a failure returns: TF_ERR_FORMAT unless rd_oom */
} reader;

static bool rd_fail(reader *r, uint64_t off, const char *what)
{
    tf_errf(r->err, r->errlen, "%s: offset %llu: %s", r->name,
            (unsigned long long)off, what);
    return false;
}

/* An allocation failed: the file may be fine, the machine is not. */
static bool rd_oom(reader *r, uint64_t off, const char *what)
{
    r->status = TF_ERR_NOMEM;
    return rd_fail(r, off, what);
}

static bool rd_need(reader *r, uint64_t n, const char *what)
{
    if (n > r->len - r->pos) {
        char msg[200];
        snprintf(msg, sizeof msg, "file ends while reading %s (%llu bytes needed, %llu left)",
                 what, (unsigned long long)n, (unsigned long long)(r->len - r->pos));
        return rd_fail(r, r->pos, msg);
    }
    return true;
}

static uint64_t le(const uint8_t *p, unsigned n)
{
    uint64_t v = 0;
    for (unsigned i = 0; i < n; i++) v |= (uint64_t)p[i] << (8 * i);
    return v;
}

static bool rd_uint(reader *r, unsigned n, uint64_t *out, const char *what)
{
    if (!rd_need(r, n, what)) return false;
    *out = le(r->p + r->pos, n);
    r->pos += n;
    return true;
}

static bool rd_u32(reader *r, uint32_t *out, const char *what)
{
    uint64_t v;
    if (!rd_uint(r, 4, &v, what)) return false;
    *out = (uint32_t)v;
    return true;
}

static bool rd_str(reader *r, tf_gguf_str *s, const char *what)
{
    uint64_t at = r->pos, n;
    if (!rd_uint(r, 8, &n, what)) return false;
    if (n > TF_GGUF_MAX_STRING) {
        char msg[160];
        snprintf(msg, sizeof msg, "%s: string length %llu exceeds the limit of %u bytes",
                 what, (unsigned long long)n, TF_GGUF_MAX_STRING);
        return rd_fail(r, at, msg);
    }
    if (!rd_need(r, n, what)) return false;
    s->ptr = (const char *)r->p + r->pos;
    s->len = n;
    r->pos += n;
    return true;
}

/* Bytes of one scalar value type; 0 for STRING/ARRAY/unknown. */
static unsigned vtype_size(uint32_t t)
{
    static const unsigned sz[TF_GGUF_VTYPE_COUNT] = {1, 1, 2, 2, 4, 4, 4, 1, 0, 0, 8, 8, 8};
    return t < TF_GGUF_VTYPE_COUNT ? sz[t] : 0;
}

const char *tf_gguf_vtype_name(uint32_t t)
{
    static const char *n[TF_GGUF_VTYPE_COUNT] = {
        "uint8", "int8", "uint16", "int16", "uint32", "int32", "float32",
        "bool", "string", "array", "uint64", "int64", "float64"};
    return t < TF_GGUF_VTYPE_COUNT ? n[t] : "?";
}

bool tf_gguf_str_eq(tf_gguf_str s, const char *z)
{
    size_t n = strlen(z);
    return s.len == n && memcmp(s.ptr, z, n) == 0;
}

static void set_scalar(tf_gguf_kv *kv, const uint8_t *p)
{
    uint64_t raw = le(p, vtype_size(kv->type));
    switch (kv->type) {
    case TF_GGUF_I8: kv->v.i = (int8_t)raw; break;
    case TF_GGUF_I16: kv->v.i = (int16_t)raw; break;
    case TF_GGUF_I32: kv->v.i = (int32_t)raw; break;
    case TF_GGUF_I64: kv->v.i = (int64_t)raw; break;
    case TF_GGUF_F32: { float f; uint32_t u = (uint32_t)raw; memcpy(&f, &u, 4); kv->v.f = f; break; }
    case TF_GGUF_F64: memcpy(&kv->v.f, &raw, 8); break;
    default: kv->v.u = raw; break;
    }
}

static bool read_array(reader *r, tf_gguf_kv *kv, const char *key)
{
    uint64_t at = r->pos, n;
    uint32_t et;
    if (!rd_u32(r, &et, "array element type") || !rd_uint(r, 8, &n, "array length"))
        return false;
    char msg[400], what[200];
    snprintf(what, sizeof what, "the array of key '%s'", key);
    if (et == TF_GGUF_ARRAY || et >= TF_GGUF_VTYPE_COUNT) {
        snprintf(msg, sizeof msg, "key '%s': array element type %u is %s", key, et,
                 et == TF_GGUF_ARRAY ? "a nested array (not supported)" : "unknown");
        return rd_fail(r, at, msg);
    }
    if (n > TF_GGUF_MAX_ARRAY) {
        snprintf(msg, sizeof msg, "key '%s': array of %llu elements exceeds the limit of %u",
                 key, (unsigned long long)n, TF_GGUF_MAX_ARRAY);
        return rd_fail(r, at, msg);
    }
    kv->v.arr.type = et;
    kv->v.arr.n = n;
    kv->v.arr.data = r->p + r->pos;
    if (et != TF_GGUF_STRING) {
        uint64_t bytes = n * vtype_size(et); /* n <= 16M: no overflow */
        if (!rd_need(r, bytes, what)) return false;
        if (et == TF_GGUF_BOOL)
            for (uint64_t i = 0; i < n; i++)
                if (r->p[r->pos + i] > 1) {
                    snprintf(msg, sizeof msg, "key '%s': bool array element %llu is %u, not 0 or 1",
                             key, (unsigned long long)i, r->p[r->pos + i]);
                    return rd_fail(r, r->pos + i, msg);
                }
        r->pos += bytes;
        return true;
    }
    /* Each string takes at least its 8-byte length: prove n fits first. */
    if (!rd_need(r, n * 8, what)) return false;
    kv->v.arr.strs = calloc(n ? n : 1, sizeof(tf_gguf_str));
    if (!kv->v.arr.strs) return rd_oom(r, at, "out of memory for string array");
    for (uint64_t i = 0; i < n; i++)
        if (!rd_str(r, &kv->v.arr.strs[i], key)) return false;
    return true;
}

/* FNV-1a over a (ptr,len) string. */
static uint32_t hash_str(const char *p, uint64_t n)
{
    uint32_t h = 2166136261u;
    for (uint64_t i = 0; i < n; i++) h = (h ^ (uint8_t)p[i]) * 16777619u;
    return h;
}

static uint32_t pow2_at_least(uint64_t n)
{
    uint32_t c = 16;
    while (c < 2 * n) c <<= 1;
    return c;
}

/* Insert entry idx named s into table; false if the name is already there. */
static bool index_insert(uint32_t *tab, uint32_t cap, tf_gguf_str s, uint32_t idx,
                         const tf_gguf_str *(*name_of)(const tf_gguf *, uint32_t),
                         const tf_gguf *g)
{
    uint32_t h = hash_str(s.ptr, s.len) & (cap - 1);
    while (tab[h]) {
        const tf_gguf_str *o = name_of(g, tab[h] - 1);
        if (o->len == s.len && memcmp(o->ptr, s.ptr, s.len) == 0) return false;
        h = (h + 1) & (cap - 1);
    }
    tab[h] = idx + 1;
    return true;
}

static const tf_gguf_str *kv_name(const tf_gguf *g, uint32_t i) { return &g->kv[i].key; }
static const tf_gguf_str *t_name(const tf_gguf *g, uint32_t i) { return &g->tensors[i].name; }

static int64_t index_find(const uint32_t *tab, uint32_t cap, const char *z,
                          const tf_gguf_str *(*name_of)(const tf_gguf *, uint32_t),
                          const tf_gguf *g)
{
    if (!tab) return -1;
    size_t n = strlen(z);
    uint32_t h = hash_str(z, n) & (cap - 1);
    while (tab[h]) {
        const tf_gguf_str *o = name_of(g, tab[h] - 1);
        if (o->len == n && memcmp(o->ptr, z, n) == 0) return tab[h] - 1;
        h = (h + 1) & (cap - 1);
    }
    return -1;
}

/* Printable copy of a file string for messages (truncated, escaped). */
static const char *shown(tf_gguf_str s, char *buf, size_t cap)
{
    size_t o = 0;
    for (uint64_t i = 0; i < s.len && o + 5 < cap; i++) {
        unsigned char c = (unsigned char)s.ptr[i];
        if (c >= 32 && c < 127) buf[o++] = (char)c;
        else o += (size_t)snprintf(buf + o, cap - o, "\\x%02x", c);
    }
    buf[o] = 0;
    return buf;
}

static bool name_ok(reader *r, uint64_t at, tf_gguf_str s, const char *what)
{
    char msg[200];
    if (s.len == 0) {
        snprintf(msg, sizeof msg, "empty %s", what);
        return rd_fail(r, at, msg);
    }
    if (memchr(s.ptr, 0, s.len)) {
        snprintf(msg, sizeof msg, "%s contains a NUL byte", what);
        return rd_fail(r, at, msg);
    }
    return true;
}

static bool read_kvs(reader *r, tf_gguf *g)
{
    char msg[400], nm[128];
    /* A key-value pair takes at least 8 (key length) + 4 (type) + 1 bytes. */
    if (g->n_kv > TF_GGUF_MAX_KV || g->n_kv > (r->len - r->pos) / 13) {
        snprintf(msg, sizeof msg, "key-value count %llu is larger than the file can hold (limit %u)",
                 (unsigned long long)g->n_kv, TF_GGUF_MAX_KV);
        return rd_fail(r, 16, msg);
    }
    g->kv = calloc(g->n_kv ? g->n_kv : 1, sizeof *g->kv);
    g->kv_cap = pow2_at_least(g->n_kv);
    g->kv_index = calloc(g->kv_cap, sizeof *g->kv_index);
    if (!g->kv || !g->kv_index) return rd_oom(r, r->pos, "out of memory");
    for (uint64_t i = 0; i < g->n_kv; i++) {
        tf_gguf_kv *kv = &g->kv[i];
        kv->offset = r->pos;
        if (!rd_str(r, &kv->key, "key") || !name_ok(r, kv->offset, kv->key, "key"))
            return false;
        shown(kv->key, nm, sizeof nm);
        if (!index_insert(g->kv_index, g->kv_cap, kv->key, (uint32_t)i, kv_name, g)) {
            snprintf(msg, sizeof msg, "duplicate key '%s'", nm);
            return rd_fail(r, kv->offset, msg);
        }
        uint64_t at = r->pos;
        if (!rd_u32(r, &kv->type, "value type")) return false;
        if (kv->type >= TF_GGUF_VTYPE_COUNT) {
            snprintf(msg, sizeof msg, "key '%s': unknown value type %u", nm, kv->type);
            return rd_fail(r, at, msg);
        }
        if (kv->type == TF_GGUF_STRING) {
            if (!rd_str(r, &kv->v.str, nm)) return false;
        } else if (kv->type == TF_GGUF_ARRAY) {
            if (!read_array(r, kv, nm)) return false;
        } else {
            unsigned sz = vtype_size(kv->type);
            if (!rd_need(r, sz, nm)) return false;
            set_scalar(kv, r->p + r->pos);
            if (kv->type == TF_GGUF_BOOL && kv->v.u > 1) {
                snprintf(msg, sizeof msg, "key '%s': bool value %llu is not 0 or 1", nm,
                         (unsigned long long)kv->v.u);
                return rd_fail(r, r->pos, msg);
            }
            r->pos += sz;
        }
    }
    return true;
}

static bool read_alignment(reader *r, tf_gguf *g)
{
    g->alignment = GGUF_DEFAULT_ALIGN;
    const tf_gguf_kv *a = tf_gguf_find(g, "general.alignment");
    if (!a) return true;
    char msg[200];
    if (a->type != TF_GGUF_U32) {
        snprintf(msg, sizeof msg, "general.alignment has type %s, expected uint32",
                 tf_gguf_vtype_name(a->type));
        return rd_fail(r, a->offset, msg);
    }
    if (a->v.u == 0 || (a->v.u & (a->v.u - 1)) || a->v.u > (1u << 20)) {
        snprintf(msg, sizeof msg, "general.alignment %llu is not a power of two up to 1 MiB",
                 (unsigned long long)a->v.u);
        return rd_fail(r, a->offset, msg);
    }
    g->alignment = (uint32_t)a->v.u;
    return true;
}

static bool read_tensor_info(reader *r, tf_gguf *g, uint64_t i)
{
    tf_gguf_tensor *t = &g->tensors[i];
    char msg[400], nm[128];
    uint64_t at = r->pos;
    if (!rd_str(r, &t->name, "tensor name") || !name_ok(r, at, t->name, "tensor name"))
        return false;
    shown(t->name, nm, sizeof nm);
    if (t->name.len > TF_GGUF_MAX_NAME) {
        snprintf(msg, sizeof msg, "tensor name '%.60s...' is %llu bytes (limit %u)", nm,
                 (unsigned long long)t->name.len, TF_GGUF_MAX_NAME);
        return rd_fail(r, at, msg);
    }
    if (!index_insert(g->t_index, g->t_cap, t->name, (uint32_t)i, t_name, g)) {
        snprintf(msg, sizeof msg, "duplicate tensor name '%s'", nm);
        return rd_fail(r, at, msg);
    }
    uint64_t dat = r->pos;
    if (!rd_u32(r, &t->n_dims, "tensor dimension count")) return false;
    if (t->n_dims == 0 || t->n_dims > TF_GGUF_MAX_DIMS) {
        snprintf(msg, sizeof msg, "tensor '%s': %u dimensions (must be 1..%u)", nm, t->n_dims,
                 TF_GGUF_MAX_DIMS);
        return rd_fail(r, dat, msg);
    }
    uint64_t nel = 1;
    for (unsigned d = 0; d < TF_GGUF_MAX_DIMS; d++) t->ne[d] = 1;
    for (unsigned d = 0; d < t->n_dims; d++) {
        uint64_t v;
        if (!rd_uint(r, 8, &v, "tensor dimension")) return false;
        if (v == 0 || v > (uint64_t)INT64_MAX || !tf_mul_u64(nel, v, &nel) ||
            nel > (uint64_t)INT64_MAX) {
            snprintf(msg, sizeof msg, "tensor '%s': dimension %u is %llu (%s)", nm, d,
                     (unsigned long long)v, v == 0 ? "zero" : "element count overflows");
            return rd_fail(r, r->pos - 8, msg);
        }
        t->ne[d] = (int64_t)v;
    }
    uint64_t tat = r->pos;
    if (!rd_u32(r, &t->type, "tensor type")) return false;
    const tf_type_traits *tt = tf_type_traits_of(t->type);
    if (!tt) {
        snprintf(msg, sizeof msg, "tensor '%s': unknown tensor type id %u", nm, t->type);
        return rd_fail(r, tat, msg);
    }
    if (t->ne[0] % tt->blck) {
        snprintf(msg, sizeof msg, "tensor '%s': row of %lld elements is not a multiple of %s's block of %u",
                 nm, (long long)t->ne[0], tt->name, tt->blck);
        return rd_fail(r, tat, msg);
    }
    uint64_t size = 0;
    if (!tf_mul_u64(nel / tt->blck, tt->size, &size)) {
        snprintf(msg, sizeof msg, "tensor '%s': byte size overflows", nm);
        return rd_fail(r, tat, msg);
    }
    t->size = size;
    uint64_t oat = r->pos;
    if (!rd_uint(r, 8, &t->offset, "tensor offset")) return false;
    if (t->offset % g->alignment) {
        snprintf(msg, sizeof msg, "tensor '%s': offset %llu is not aligned to %u", nm,
                 (unsigned long long)t->offset, g->alignment);
        return rd_fail(r, oat, msg);
    }
    return true;
}

static int cmp_by_offset(const void *a, const void *b)
{
    const tf_gguf_tensor *x = *(tf_gguf_tensor *const *)a, *y = *(tf_gguf_tensor *const *)b;
    return x->offset < y->offset ? -1 : x->offset > y->offset;
}

/* All tensors inside the data section and no two overlapping. */
static bool check_layout(reader *r, tf_gguf *g)
{
    char msg[400], nm[128], nm2[128];
    uint64_t data_len = r->len - g->data_offset;
    for (uint64_t i = 0; i < g->n_tensors; i++) {
        tf_gguf_tensor *t = &g->tensors[i];
        uint64_t end;
        if (!tf_add_u64(t->offset, t->size, &end) || end > data_len) {
            snprintf(msg, sizeof msg,
                     "tensor '%s': data [%llu, +%llu) lies outside the data section of %llu bytes",
                     shown(t->name, nm, sizeof nm), (unsigned long long)t->offset,
                     (unsigned long long)t->size, (unsigned long long)data_len);
            return rd_fail(r, g->data_offset, msg);
        }
        t->data = r->p + g->data_offset + t->offset;
    }
    if (g->n_tensors < 2) return true;
    tf_gguf_tensor **by = malloc(g->n_tensors * sizeof *by);
    if (!by) return rd_oom(r, 0, "out of memory");
    for (uint64_t i = 0; i < g->n_tensors; i++) by[i] = &g->tensors[i];
    qsort(by, g->n_tensors, sizeof *by, cmp_by_offset);
    bool ok = true;
    for (uint64_t i = 1; i < g->n_tensors && ok; i++)
        if (by[i - 1]->offset + by[i - 1]->size > by[i]->offset) {
            snprintf(msg, sizeof msg, "tensors '%s' and '%s' overlap",
                     shown(by[i - 1]->name, nm, sizeof nm), shown(by[i]->name, nm2, sizeof nm2));
            ok = rd_fail(r, g->data_offset + by[i]->offset, msg);
        }
    free(by);
    return ok;
}

static bool parse(reader *r, tf_gguf *g)
{
    uint64_t magic, n;
    if (!rd_uint(r, 4, &magic, "magic")) return false;
    if (magic != GGUF_MAGIC) return rd_fail(r, 0, "not a GGUF file (bad magic)");
    if (!rd_u32(r, &g->version, "version")) return false;
    if (g->version == 1) return rd_fail(r, 4, "GGUF version 1 is not supported (v2 and v3 are)");
    if (g->version != 2 && g->version != 3) {
        char msg[120];
        snprintf(msg, sizeof msg, "unsupported GGUF version %u%s", g->version,
                 g->version && (g->version & 0xffff) == 0 ? " (big-endian file?)" : "");
        return rd_fail(r, 4, msg);
    }
    if (!rd_uint(r, 8, &g->n_tensors, "tensor count") || !rd_uint(r, 8, &n, "key-value count"))
        return false;
    g->n_kv = n;
    if (!read_kvs(r, g) || !read_alignment(r, g)) return false;
    /* A tensor info takes at least 8+1 (name) + 4 + 8 + 4 + 8 bytes. */
    if (g->n_tensors > TF_GGUF_MAX_TENSORS || g->n_tensors > (r->len - r->pos) / 33) {
        char msg[160];
        snprintf(msg, sizeof msg, "tensor count %llu is larger than the file can hold (limit %u)",
                 (unsigned long long)g->n_tensors, TF_GGUF_MAX_TENSORS);
        return rd_fail(r, 8, msg);
    }
    g->tensors = calloc(g->n_tensors ? g->n_tensors : 1, sizeof *g->tensors);
    g->t_cap = pow2_at_least(g->n_tensors);
    g->t_index = calloc(g->t_cap, sizeof *g->t_index);
    if (!g->tensors || !g->t_index) return rd_oom(r, r->pos, "out of memory");
    for (uint64_t i = 0; i < g->n_tensors; i++)
        if (!read_tensor_info(r, g, i)) return false;
    uint64_t pad = (g->alignment - r->pos % g->alignment) % g->alignment;
    g->data_offset = r->pos + pad;
    if (g->n_tensors && g->data_offset > r->len)
        return rd_fail(r, r->pos, "file ends before the data section");
    if (g->data_offset > r->len) g->data_offset = r->len;
    return check_layout(r, g);
}

int tf_gguf_open_memory(const void *buf, size_t len, const char *name, tf_gguf **out,
                        char *err, size_t errlen)
{
    if (!out) return TF_ERR_INVALID_ARG;
    *out = NULL;
    if (!buf && len) {
        tf_errf(err, errlen, "%s: NULL buffer", name ? name : "(memory)");
        return TF_ERR_INVALID_ARG;
    }
    tf_gguf *g = calloc(1, sizeof *g);
    if (!g) {
        tf_errf(err, errlen, "out of memory");
        return TF_ERR_NOMEM;
    }
    snprintf(g->name, sizeof g->name, "%s", name ? name : "(memory)");
    g->buf = buf;
    g->len = len;
    reader r = {.p = buf, .len = len, .err = err, .errlen = errlen, .name = g->name,
                .status = TF_ERR_FORMAT};
    if (!parse(&r, g)) {
        tf_gguf_close(g);
        return r.status;
    }
    *out = g;
    return 0;
}

int tf_gguf_open_file(const char *path, tf_gguf **out, char *err, size_t errlen)
{
    if (!out) return TF_ERR_INVALID_ARG;
    *out = NULL;
    if (!path) {
        tf_errf(err, errlen, "no path given");
        return TF_ERR_INVALID_ARG;
    }
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        tf_errf(err, errlen, "%s: cannot open: %s", path, strerror(errno));
        return TF_ERR_IO;
    }
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        tf_errf(err, errlen, "%s: not a regular file", path);
        close(fd);
        return TF_ERR_IO;
    }
    if (st.st_size < 8) {
        tf_errf(err, errlen, "%s: offset 0: file of %lld bytes is too short for a GGUF header",
                path, (long long)st.st_size);
        close(fd);
        return TF_ERR_FORMAT;
    }
    void *m = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
    close(fd);
    if (m == MAP_FAILED) {
        tf_errf(err, errlen, "%s: cannot map: %s", path, strerror(errno));
        return TF_ERR_IO;
    }
    int rc = tf_gguf_open_memory(m, (size_t)st.st_size, path, out, err, errlen);
    if (rc != 0) {
        munmap(m, (size_t)st.st_size);
        return rc;
    }
    (*out)->map = m;
    return 0;
}

void tf_gguf_release(const tf_gguf *g, const void *p, size_t n)
{
    if (!g || !g->map || !p)
        return;
    uintptr_t base = (uintptr_t)g->map, end = base + g->len, lo = (uintptr_t)p, hi = lo + n;
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    if (lo < base || hi > end || hi < lo)
        return;
    lo = (lo + page - 1) / page * page; /* whole pages only: neighbours stay */
    hi = hi / page * page;
    if (hi > lo) /* a private read-only file mapping: dropped pages refault from the file */
        madvise((void *)lo, hi - lo, MADV_DONTNEED);
}

void tf_gguf_close(tf_gguf *g)
{
    if (!g) return;
    if (g->kv)
        for (uint64_t i = 0; i < g->n_kv; i++)
            if (g->kv[i].type == TF_GGUF_ARRAY) free(g->kv[i].v.arr.strs);
    free(g->kv);
    free(g->tensors);
    free(g->kv_index);
    free(g->t_index);
    if (g->map) munmap(g->map, g->len);
    free(g);
}

uint32_t tf_gguf_version(const tf_gguf *g) { return g->version; }
uint64_t tf_gguf_file_size(const tf_gguf *g) { return g->len; }
uint32_t tf_gguf_alignment(const tf_gguf *g) { return g->alignment; }
uint64_t tf_gguf_data_offset(const tf_gguf *g) { return g->data_offset; }
const char *tf_gguf_name(const tf_gguf *g) { return g->name; }
uint64_t tf_gguf_n_kv(const tf_gguf *g) { return g->n_kv; }
uint64_t tf_gguf_n_tensors(const tf_gguf *g) { return g->n_tensors; }

const tf_gguf_kv *tf_gguf_kv_at(const tf_gguf *g, uint64_t i)
{
    return i < g->n_kv ? &g->kv[i] : NULL;
}

const tf_gguf_tensor *tf_gguf_tensor_at(const tf_gguf *g, uint64_t i)
{
    return i < g->n_tensors ? &g->tensors[i] : NULL;
}

const tf_gguf_kv *tf_gguf_find(const tf_gguf *g, const char *key)
{
    int64_t i = index_find(g->kv_index, g->kv_cap, key, kv_name, g);
    return i < 0 ? NULL : &g->kv[i];
}

const tf_gguf_tensor *tf_gguf_find_tensor(const tf_gguf *g, const char *name)
{
    int64_t i = index_find(g->t_index, g->t_cap, name, t_name, g);
    return i < 0 ? NULL : &g->tensors[i];
}

static bool is_uint_type(uint32_t t)
{
    return t == TF_GGUF_U8 || t == TF_GGUF_U16 || t == TF_GGUF_U32 || t == TF_GGUF_U64;
}
static bool is_int_type(uint32_t t)
{
    return t == TF_GGUF_I8 || t == TF_GGUF_I16 || t == TF_GGUF_I32 || t == TF_GGUF_I64;
}

int tf_gguf_get_i64(const tf_gguf *g, const char *key, int64_t *out)
{
    const tf_gguf_kv *kv = tf_gguf_find(g, key);
    if (!kv) return 1;
    if (is_int_type(kv->type)) *out = kv->v.i;
    else if (is_uint_type(kv->type) && kv->v.u <= (uint64_t)INT64_MAX) *out = (int64_t)kv->v.u;
    else return -1;
    return 0;
}

int tf_gguf_get_u32(const tf_gguf *g, const char *key, uint32_t *out)
{
    int64_t v;
    int rc = tf_gguf_get_i64(g, key, &v);
    if (rc) return rc;
    if (v < 0 || v > UINT32_MAX) return -1;
    *out = (uint32_t)v;
    return 0;
}

int tf_gguf_get_f32(const tf_gguf *g, const char *key, float *out)
{
    const tf_gguf_kv *kv = tf_gguf_find(g, key);
    if (!kv) return 1;
    if (kv->type != TF_GGUF_F32 && kv->type != TF_GGUF_F64) return -1;
    *out = (float)kv->v.f;
    return 0;
}

int tf_gguf_get_bool(const tf_gguf *g, const char *key, bool *out)
{
    const tf_gguf_kv *kv = tf_gguf_find(g, key);
    if (!kv) return 1;
    if (kv->type != TF_GGUF_BOOL) return -1;
    *out = kv->v.u != 0;
    return 0;
}

int tf_gguf_get_str(const tf_gguf *g, const char *key, tf_gguf_str *out)
{
    const tf_gguf_kv *kv = tf_gguf_find(g, key);
    if (!kv) return 1;
    if (kv->type != TF_GGUF_STRING) return -1;
    *out = kv->v.str;
    return 0;
}
