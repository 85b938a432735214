/* gguf_write.c - GGUF v3 writer.  See gguf_write.h for the contract.
 *
 * Each key is kept serialized (key, type, value: the exact bytes it will
 * have in the file), so copying a source's keys is a byte copy of values
 * the parser already proved well-formed, and an override replaces one blob.
 * Integers are written little-endian byte by byte, whatever the host.
 */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "gguf_write.h"
#include "kernels.h"

#define GGUF_MAGIC "GGUF"
#define GGUF_WRITE_VERSION 3u
#define DEFAULT_ALIGN 32u

typedef struct wbuf {
    uint8_t *p;
    size_t len, cap;
    bool oom;
} wbuf;

typedef struct wkv {
    uint8_t *blob; /* key string, type, value: as in the file */
    size_t len;
    size_t key_len; /* the key's bytes are blob[8 .. 8+key_len) */
    uint32_t type;
    uint64_t u;     /* scalar value (for general.alignment) */
} wkv;

typedef struct wtensor {
    char *name;
    size_t name_len;
    uint32_t n_dims, type;
    int64_t ne[4];
    uint64_t size, offset;
} wtensor;

struct tf_gguf_writer {
    wkv *kv;
    size_t n_kv, cap_kv;
    wtensor *t;
    size_t n_t, cap_t;
    uint32_t align;
    uint64_t header_bytes, data_bytes;
    FILE *f;
    bool own_file, opened, done;
    char *path, *tmp;
    uint64_t cur, cur_done; /* tensor being written, bytes of it so far */
    tf_status st;
    char err[TF_ERRLEN];
};

static int fail(tf_gguf_writer *w, tf_status st, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int fail(tf_gguf_writer *w, tf_status st, const char *fmt, ...)
{
    if (w->st == TF_OK) { /* keep the first reason */
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(w->err, sizeof w->err, fmt, ap);
        va_end(ap);
        w->st = st;
    }
    return -1;
}

/* ---- byte buffer ------------------------------------------------------ */

static void wb_put(wbuf *b, const void *src, size_t n)
{
    if (b->oom) return;
    if (n > b->cap - b->len) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap - b->len < n) {
            if (cap > SIZE_MAX / 2) { b->oom = true; return; }
            cap *= 2;
        }
        uint8_t *p = realloc(b->p, cap);
        if (!p) { b->oom = true; return; }
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->len, src, n);
    b->len += n;
}

static void wb_le(wbuf *b, uint64_t v, unsigned n)
{
    uint8_t tmp[8];
    for (unsigned i = 0; i < n; i++) tmp[i] = (uint8_t)(v >> (8 * i));
    wb_put(b, tmp, n);
}

static void wb_str(wbuf *b, const char *s, uint64_t n)
{
    wb_le(b, n, 8);
    wb_put(b, s, (size_t)n);
}

static unsigned scalar_size(uint32_t t)
{
    static const unsigned sz[TF_GGUF_VTYPE_COUNT] = {1, 1, 2, 2, 4, 4, 4, 1, 0, 0, 8, 8, 8};
    return t < TF_GGUF_VTYPE_COUNT ? sz[t] : 0;
}

/* The file bits of a parsed scalar. */
static uint64_t scalar_bits(const tf_gguf_kv *kv)
{
    switch (kv->type) {
    case TF_GGUF_I8: case TF_GGUF_I16: case TF_GGUF_I32: case TF_GGUF_I64:
        return (uint64_t)kv->v.i;
    case TF_GGUF_F32: {
        float f = (float)kv->v.f; /* exact: it was read from a float */
        uint32_t u;
        memcpy(&u, &f, 4);
        return u;
    }
    case TF_GGUF_F64: {
        uint64_t u;
        memcpy(&u, &kv->v.f, 8);
        return u;
    }
    default:
        return kv->v.u;
    }
}

/* ---- metadata ----------------------------------------------------------- */

tf_gguf_writer *tf_gguf_writer_new(void)
{
    tf_gguf_writer *w = calloc(1, sizeof *w);
    if (w) w->align = DEFAULT_ALIGN;
    return w;
}

const char *tf_gguf_writer_error(const tf_gguf_writer *w) { return w ? w->err : "NULL writer"; }
tf_status tf_gguf_writer_status(const tf_gguf_writer *w) { return w ? w->st : TF_ERR_INVALID_ARG; }
uint64_t tf_gguf_writer_n_kv(const tf_gguf_writer *w) { return w->n_kv; }
uint64_t tf_gguf_writer_n_tensors(const tf_gguf_writer *w) { return w->n_t; }

static int64_t find_kv(const tf_gguf_writer *w, const char *key, size_t n)
{
    for (size_t i = 0; i < w->n_kv; i++)
        if (w->kv[i].key_len == n && memcmp(w->kv[i].blob + 8, key, n) == 0) return (int64_t)i;
    return -1;
}

int tf_gguf_writer_remove(tf_gguf_writer *w, const char *key)
{
    int64_t i = find_kv(w, key, strlen(key));
    if (i < 0) return 0;
    free(w->kv[i].blob);
    memmove(&w->kv[i], &w->kv[i + 1], (w->n_kv - (size_t)i - 1) * sizeof *w->kv);
    w->n_kv--;
    return 0;
}

static int serialize_kv(tf_gguf_writer *w, const tf_gguf_kv *kv, wbuf *b)
{
    char key[64];
    snprintf(key, sizeof key, "%.*s", (int)(kv->key.len < 60 ? kv->key.len : 60), kv->key.ptr);
    if (kv->type >= TF_GGUF_VTYPE_COUNT)
        return fail(w, TF_ERR_INVALID_ARG, "key '%s': unknown value type %u", key, kv->type);
    wb_str(b, kv->key.ptr, kv->key.len);
    wb_le(b, kv->type, 4);
    if (kv->type == TF_GGUF_STRING) {
        wb_str(b, kv->v.str.ptr, kv->v.str.len);
    } else if (kv->type == TF_GGUF_ARRAY) {
        uint32_t et = kv->v.arr.type;
        if (et == TF_GGUF_ARRAY || et >= TF_GGUF_VTYPE_COUNT)
            return fail(w, TF_ERR_INVALID_ARG, "key '%s': bad array element type %u", key, et);
        wb_le(b, et, 4);
        wb_le(b, kv->v.arr.n, 8);
        if (et == TF_GGUF_STRING) {
            for (uint64_t i = 0; i < kv->v.arr.n; i++)
                wb_str(b, kv->v.arr.strs[i].ptr, kv->v.arr.strs[i].len);
        } else {
            uint64_t bytes;
            if (!tf_mul_u64(kv->v.arr.n, scalar_size(et), &bytes) || bytes > SIZE_MAX)
                return fail(w, TF_ERR_INVALID_ARG, "key '%s': array too large", key);
            wb_put(b, kv->v.arr.data, (size_t)bytes);
        }
    } else {
        wb_le(b, scalar_bits(kv), scalar_size(kv->type));
    }
    if (b->oom) return fail(w, TF_ERR_NOMEM, "out of memory serializing key '%s'", key);
    return 0;
}

/* unique: the caller knows the key is not there yet (no search). */
static int put_kv(tf_gguf_writer *w, const tf_gguf_kv *kv, bool unique)
{
    if (w->opened) return fail(w, TF_ERR_STATE, "metadata changed after the header was written");
    if (kv->key.len == 0 || kv->key.len > 65535) /* GGUF's limit for keys */
        return fail(w, TF_ERR_INVALID_ARG, "metadata key of %llu bytes", (unsigned long long)kv->key.len);
    wbuf b = {0};
    if (serialize_kv(w, kv, &b)) {
        free(b.p);
        return -1;
    }
    int64_t old = unique ? -1 : find_kv(w, kv->key.ptr, kv->key.len);
    if (old >= 0) {
        free(w->kv[old].blob);
        memmove(&w->kv[old], &w->kv[old + 1], (w->n_kv - (size_t)old - 1) * sizeof *w->kv);
        w->n_kv--;
    }
    if (w->n_kv == w->cap_kv) {
        size_t cap = w->cap_kv ? w->cap_kv * 2 : 64;
        wkv *p = realloc(w->kv, cap * sizeof *p);
        if (!p) {
            free(b.p);
            return fail(w, TF_ERR_NOMEM, "out of memory for metadata");
        }
        w->kv = p;
        w->cap_kv = cap;
    }
    w->kv[w->n_kv++] = (wkv){.blob = b.p, .len = b.len, .key_len = (size_t)kv->key.len,
                             .type = kv->type, .u = kv->v.u};
    return 0;
}

int tf_gguf_writer_set_kv(tf_gguf_writer *w, const tf_gguf_kv *kv) { return put_kv(w, kv, false); }

int tf_gguf_writer_copy_kvs(tf_gguf_writer *w, const tf_gguf *src)
{
    /* The parser proved src's keys unique: into an empty writer they go
     * without a search each (65,536 keys would otherwise cost 2^31). */
    bool unique = w->n_kv == 0;
    for (uint64_t i = 0; i < tf_gguf_n_kv(src); i++)
        if (put_kv(w, tf_gguf_kv_at(src, i), unique)) return -1;
    return 0;
}

int tf_gguf_writer_set_u32(tf_gguf_writer *w, const char *key, uint32_t v)
{
    tf_gguf_kv kv = {.key = {key, strlen(key)}, .type = TF_GGUF_U32};
    kv.v.u = v;
    return tf_gguf_writer_set_kv(w, &kv);
}

int tf_gguf_writer_set_str(tf_gguf_writer *w, const char *key, const char *v)
{
    tf_gguf_kv kv = {.key = {key, strlen(key)}, .type = TF_GGUF_STRING};
    kv.v.str = (tf_gguf_str){v, strlen(v)};
    return tf_gguf_writer_set_kv(w, &kv);
}

/* ---- tensors ------------------------------------------------------------ */

int tf_gguf_writer_add_tensor(tf_gguf_writer *w, const char *name, size_t name_len,
                              uint32_t n_dims, const int64_t ne[4], uint32_t type)
{
    if (w->opened) return fail(w, TF_ERR_STATE, "tensor added after the header was written");
    if (name_len == 0 || name_len > TF_GGUF_MAX_NAME)
        return fail(w, TF_ERR_INVALID_ARG, "tensor name of %zu bytes", name_len);
    if (n_dims < 1 || n_dims > 4)
        return fail(w, TF_ERR_INVALID_ARG, "tensor '%.*s': %u dimensions", (int)name_len, name, n_dims);
    uint64_t rows = 1;
    for (unsigned d = 0; d < 4; d++) {
        if (ne[d] < 1 || (d >= n_dims && ne[d] != 1) || (d > 0 && !tf_mul_u64(rows, (uint64_t)ne[d], &rows)))
            return fail(w, TF_ERR_INVALID_ARG, "tensor '%.*s': bad dimension %u", (int)name_len, name, d);
    }
    size_t rs = tf_row_size(type, ne[0]);
    uint64_t size;
    if (!rs || !tf_mul_u64(rows, rs, &size) || size > (UINT64_MAX >> 2))
        return fail(w, TF_ERR_INVALID_ARG, "tensor '%.*s': %lld elements per row don't fit type %s",
                    (int)name_len, name, (long long)ne[0], tf_type_name(type));
    if (w->n_t == w->cap_t) {
        size_t cap = w->cap_t ? w->cap_t * 2 : 64;
        wtensor *p = realloc(w->t, cap * sizeof *p);
        if (!p) return fail(w, TF_ERR_NOMEM, "out of memory for tensor infos");
        w->t = p;
        w->cap_t = cap;
    }
    char *nm = malloc(name_len + 1);
    if (!nm) return fail(w, TF_ERR_NOMEM, "out of memory for tensor infos");
    memcpy(nm, name, name_len);
    nm[name_len] = 0;
    wtensor *t = &w->t[w->n_t++];
    *t = (wtensor){.name = nm, .name_len = name_len, .n_dims = n_dims, .type = type, .size = size};
    memcpy(t->ne, ne, sizeof t->ne);
    return 0;
}

uint64_t tf_gguf_writer_tensor_bytes(const tf_gguf_writer *w, uint64_t i)
{
    return i < w->n_t ? w->t[i].size : 0;
}

static uint64_t pad_to(uint64_t n, uint32_t a) { return (n + a - 1) / a * a; }

/* Alignment, tensor offsets, header and data sizes. */
static void layout(tf_gguf_writer *w)
{
    w->align = DEFAULT_ALIGN;
    int64_t a = find_kv(w, "general.alignment", 17);
    if (a >= 0 && w->kv[a].type == TF_GGUF_U32) {
        uint64_t v = w->kv[a].u;
        if (v && !(v & (v - 1)) && v <= (1u << 20)) w->align = (uint32_t)v;
    }
    uint64_t h = 4 + 4 + 8 + 8;
    for (size_t i = 0; i < w->n_kv; i++) h += w->kv[i].len;
    uint64_t off = 0;
    for (size_t i = 0; i < w->n_t; i++) {
        h += 8 + w->t[i].name_len + 4 + 8ull * w->t[i].n_dims + 4 + 8;
        w->t[i].offset = off;
        off += pad_to(w->t[i].size, w->align);
    }
    w->header_bytes = h;
    w->data_bytes = off;
}

uint64_t tf_gguf_writer_file_bytes(tf_gguf_writer *w)
{
    if (!w->opened) layout(w);
    return pad_to(w->header_bytes, w->align) + w->data_bytes;
}

/* ---- output ------------------------------------------------------------- */

static int put(tf_gguf_writer *w, const void *p, size_t n)
{
    if (n && fwrite(p, 1, n, w->f) != n)
        return fail(w, TF_ERR_IO, "writing %s: %s", w->tmp ? w->tmp : "output",
                    strerror(errno ? errno : EIO));
    return 0;
}

static int put_zeros(tf_gguf_writer *w, uint64_t n)
{
    static const uint8_t z[4096];
    while (n) {
        size_t k = n < sizeof z ? (size_t)n : sizeof z;
        if (put(w, z, k)) return -1;
        n -= k;
    }
    return 0;
}

int tf_gguf_writer_open_stream(tf_gguf_writer *w, FILE *f)
{
    if (w->opened || w->st) return fail(w, TF_ERR_STATE, "writer already opened or failed");
    layout(w);
    w->f = f;
    w->opened = true;
    wbuf b = {0};
    wb_put(&b, GGUF_MAGIC, 4);
    wb_le(&b, GGUF_WRITE_VERSION, 4);
    wb_le(&b, w->n_t, 8);
    wb_le(&b, w->n_kv, 8);
    for (size_t i = 0; i < w->n_kv; i++) wb_put(&b, w->kv[i].blob, w->kv[i].len);
    for (size_t i = 0; i < w->n_t; i++) {
        const wtensor *t = &w->t[i];
        wb_str(&b, t->name, t->name_len);
        wb_le(&b, t->n_dims, 4);
        for (unsigned d = 0; d < t->n_dims; d++) wb_le(&b, (uint64_t)t->ne[d], 8);
        wb_le(&b, t->type, 4);
        wb_le(&b, t->offset, 8);
    }
    int rc = b.oom ? fail(w, TF_ERR_NOMEM, "out of memory for the header") : put(w, b.p, b.len);
    free(b.p);
    if (rc) return -1;
    return put_zeros(w, pad_to(w->header_bytes, w->align) - w->header_bytes);
}

int tf_gguf_writer_open(tf_gguf_writer *w, const char *path)
{
    if (w->opened || w->st) return fail(w, TF_ERR_STATE, "writer already opened or failed");
    size_t n = strlen(path);
    w->path = malloc(n + 1);
    w->tmp = malloc(n + 5);
    if (!w->path || !w->tmp) return fail(w, TF_ERR_NOMEM, "out of memory");
    memcpy(w->path, path, n + 1);
    memcpy(w->tmp, path, n);
    memcpy(w->tmp + n, ".tmp", 5);
    int fd = open(w->tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0666);
    if (fd < 0) {
        int e = errno;
        free(w->tmp); /* nothing of ours to remove */
        w->tmp = NULL;
        return fail(w, TF_ERR_IO, "cannot create %s.tmp: %s", path, strerror(e));
    }
    FILE *f = fdopen(fd, "wb");
    if (!f) {
        close(fd);
        return fail(w, TF_ERR_NOMEM, "cannot open a stream on %s", w->tmp);
    }
    w->own_file = true;
    return tf_gguf_writer_open_stream(w, f);
}

int tf_gguf_writer_write(tf_gguf_writer *w, const void *p, size_t n)
{
    if (!w->opened || w->done) return fail(w, TF_ERR_STATE, "data written outside open/close");
    if (w->st) return -1;
    const uint8_t *s = p;
    while (n) {
        if (w->cur >= w->n_t) return fail(w, TF_ERR_STATE, "more data than the tensors hold");
        const wtensor *t = &w->t[w->cur];
        uint64_t left = t->size - w->cur_done;
        size_t k = n < left ? n : (size_t)left;
        if (put(w, s, k)) return -1;
        s += k;
        n -= k;
        w->cur_done += k;
        if (w->cur_done == t->size) {
            if (put_zeros(w, pad_to(t->size, w->align) - t->size)) return -1;
            w->cur++;
            w->cur_done = 0;
        }
    }
    return 0;
}

/* fsync the folder holding path, so the rename itself is durable. */
static void sync_dir(const char *path)
{
    char *copy = strdup(path);
    if (!copy) return;
    int fd = open(dirname(copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0) {
        (void)fsync(fd);
        close(fd);
    }
    free(copy);
}

int tf_gguf_writer_close(tf_gguf_writer *w)
{
    if (!w->opened || w->done) return fail(w, TF_ERR_STATE, "close without open");
    if (w->st) return -1;
    if (w->cur != w->n_t)
        return fail(w, TF_ERR_STATE, "tensor '%s' is incomplete (%llu of %llu bytes written)",
                    w->t[w->cur].name, (unsigned long long)w->cur_done,
                    (unsigned long long)w->t[w->cur].size);
    if (fflush(w->f) != 0) return fail(w, TF_ERR_IO, "writing %s: %s", w->tmp ? w->tmp : "output", strerror(errno));
    if (!w->own_file) {
        w->done = true;
        return 0;
    }
    if (fsync(fileno(w->f)) != 0) return fail(w, TF_ERR_IO, "syncing %s: %s", w->tmp, strerror(errno));
    int rc = fclose(w->f);
    w->f = NULL;
    if (rc != 0) return fail(w, TF_ERR_IO, "closing %s: %s", w->tmp, strerror(errno));
    if (rename(w->tmp, w->path) != 0)
        return fail(w, TF_ERR_IO, "renaming %s to %s: %s", w->tmp, w->path, strerror(errno));
    sync_dir(w->path);
    w->done = true;
    return 0;
}

void tf_gguf_writer_free(tf_gguf_writer *w)
{
    if (!w) return;
    if (w->own_file && w->f) fclose(w->f);
    if (w->tmp && !w->done) unlink(w->tmp);
    for (size_t i = 0; i < w->n_kv; i++) free(w->kv[i].blob);
    for (size_t i = 0; i < w->n_t; i++) free(w->t[i].name);
    free(w->kv);
    free(w->t);
    free(w->path);
    free(w->tmp);
    free(w);
}
