/* gguf_writer.h - a small GGUF writer for the loader tests.
 *
 * A gw_model is an editable, shallow copy of a parsed tf_gguf: its keys,
 * values and tensor infos reuse the parser's structs and point into the
 * source buffer (which must stay open) or at test literals.  gw_write()
 * serializes it (header, KVs, tensor infos, alignment padding, data) and
 * records where each field landed, so a test can then corrupt one field
 * with a queued gw_patch.  Tensor data with a NULL pointer is written as
 * zeros.  Offsets are assigned in order, each aligned; no padding follows
 * the last tensor, so the file ends where the data does.
 */
#ifndef TF_GGUF_WRITER_H
#define TF_GGUF_WRITER_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "gguf.h"
#include "kernels.h"

#define GW_MAGIC 0x46554747u
#define GW_MAX_KV 96
#define GW_MAX_T 64
#define GW_MAX_PATCH 8

/* Where a patch lands: a field of KV/tensor idx, or an absolute offset. */
enum gw_at {
    GW_ABS, GW_KV, GW_KV_TYPE, GW_KV_VAL, GW_T, GW_T_NDIMS, GW_T_DIMS, GW_T_TYPE, GW_T_OFF
};

typedef struct gw_patch {
    int at;
    size_t idx;
    size_t add;   /* bytes after the field start */
    unsigned width;
    bool plus;    /* add val to the field's value instead of storing it */
    uint64_t val;
} gw_patch;

typedef struct gw_model {
    uint32_t magic, version, align;
    size_t n_kv, n_t, n_patch;
    tf_gguf_kv kv[GW_MAX_KV];
    tf_gguf_tensor t[GW_MAX_T];
    gw_patch patch[GW_MAX_PATCH];
} gw_model;

typedef struct gw_layout {
    size_t kv_at[GW_MAX_KV], kv_type_at[GW_MAX_KV], kv_val_at[GW_MAX_KV];
    size_t t_at[GW_MAX_T], t_ndims_at[GW_MAX_T], t_type_at[GW_MAX_T], t_off_at[GW_MAX_T];
    size_t t_data_at[GW_MAX_T]; /* absolute file offset of the tensor's bytes */
    size_t ti_start, data_at, len;
} gw_layout;

typedef struct gw_buf {
    uint8_t *p;
    size_t len, cap;
} gw_buf;

static inline tf_gguf_str gw_s(const char *z) { return (tf_gguf_str){z, strlen(z)}; }

static inline unsigned gw_vsize(uint32_t t)
{
    static const unsigned sz[TF_GGUF_VTYPE_COUNT] = {1, 1, 2, 2, 4, 4, 4, 1, 0, 0, 8, 8, 8};
    return t < TF_GGUF_VTYPE_COUNT ? sz[t] : 0;
}

static inline void gw_grow(gw_buf *b, size_t n)
{
    if (b->len + n <= b->cap) return;
    size_t cap = b->cap ? b->cap : 4096;
    while (cap < b->len + n) cap *= 2;
    b->p = realloc(b->p, cap);
    if (!b->p) abort();
    b->cap = cap;
}

static inline void gw_put(gw_buf *b, const void *src, size_t n)
{
    gw_grow(b, n);
    if (src) memcpy(b->p + b->len, src, n);
    else memset(b->p + b->len, 0, n);
    b->len += n;
}

static inline void gw_le(gw_buf *b, uint64_t v, unsigned n)
{
    uint8_t x[8];
    for (unsigned i = 0; i < n; i++) x[i] = (uint8_t)(v >> (8 * i));
    gw_put(b, x, n);
}

static inline void gw_str(gw_buf *b, tf_gguf_str s)
{
    gw_le(b, s.len, 8);
    gw_put(b, s.ptr, (size_t)s.len);
}

/* One scalar value of type t (the parser's union: v.u / v.i / v.f). */
static inline void gw_scalar(gw_buf *b, uint32_t t, const tf_gguf_kv *kv)
{
    if (t == TF_GGUF_F32) {
        float f = (float)kv->v.f;
        gw_put(b, &f, 4);
    } else if (t == TF_GGUF_F64) {
        gw_put(b, &kv->v.f, 8);
    } else {
        gw_le(b, kv->v.u, gw_vsize(t));
    }
}

static inline void gw_value(gw_buf *b, const tf_gguf_kv *kv)
{
    if (kv->type == TF_GGUF_STRING) {
        gw_str(b, kv->v.str);
    } else if (kv->type == TF_GGUF_ARRAY) {
        gw_le(b, kv->v.arr.type, 4);
        gw_le(b, kv->v.arr.n, 8);
        if (kv->v.arr.type == TF_GGUF_STRING)
            for (uint64_t i = 0; i < kv->v.arr.n; i++) gw_str(b, kv->v.arr.strs[i]);
        else
            gw_put(b, kv->v.arr.data, (size_t)kv->v.arr.n * gw_vsize(kv->v.arr.type));
    } else {
        gw_scalar(b, kv->type, kv);
    }
}

static inline size_t gw_field(const gw_layout *L, const gw_patch *p)
{
    switch (p->at) {
    case GW_KV: return L->kv_at[p->idx] + p->add;
    case GW_KV_TYPE: return L->kv_type_at[p->idx] + p->add;
    case GW_KV_VAL: return L->kv_val_at[p->idx] + p->add;
    case GW_T: return L->t_at[p->idx] + p->add;
    case GW_T_NDIMS: return L->t_ndims_at[p->idx] + p->add;
    case GW_T_DIMS: return L->t_ndims_at[p->idx] + 4 + p->add;
    case GW_T_TYPE: return L->t_type_at[p->idx] + p->add;
    case GW_T_OFF: return L->t_off_at[p->idx] + p->add;
    default: return p->add;
    }
}

static inline void gw_apply(uint8_t *buf, size_t len, const gw_layout *L, const gw_patch *p)
{
    size_t at = gw_field(L, p);
    if (at + p->width > len) abort();
    uint64_t v = 0;
    for (unsigned i = 0; i < p->width; i++) v |= (uint64_t)buf[at + i] << (8 * i);
    v = p->plus ? v + p->val : p->val;
    for (unsigned i = 0; i < p->width; i++) buf[at + i] = (uint8_t)(v >> (8 * i));
}

static inline void gw_header(gw_buf *b, const gw_model *m, gw_layout *L)
{
    gw_le(b, m->magic, 4);
    gw_le(b, m->version, 4);
    gw_le(b, m->n_t, 8);
    gw_le(b, m->n_kv, 8);
    for (size_t i = 0; i < m->n_kv; i++) {
        const tf_gguf_kv *kv = &m->kv[i];
        L->kv_at[i] = b->len;
        gw_str(b, kv->key);
        L->kv_type_at[i] = b->len;
        gw_le(b, kv->type, 4);
        L->kv_val_at[i] = b->len;
        gw_value(b, kv);
    }
}

/* Serialize m; *L records the layout (may be NULL).  Caller frees. */
static inline uint8_t *gw_write(const gw_model *m, gw_layout *L, size_t *len)
{
    static gw_layout scratch;
    if (!L) L = &scratch;
    memset(L, 0, sizeof *L);
    gw_buf b = {0};
    uint64_t align = m->align ? m->align : 32, off[GW_MAX_T], cur = 0;
    gw_header(&b, m, L);
    L->ti_start = b.len;
    for (size_t i = 0; i < m->n_t; i++) {
        const tf_gguf_tensor *t = &m->t[i];
        L->t_at[i] = b.len;
        gw_str(&b, t->name);
        L->t_ndims_at[i] = b.len;
        gw_le(&b, t->n_dims, 4);
        for (uint32_t d = 0; d < t->n_dims && d < 4; d++) gw_le(&b, (uint64_t)t->ne[d], 8);
        L->t_type_at[i] = b.len;
        gw_le(&b, t->type, 4);
        L->t_off_at[i] = b.len;
        off[i] = (cur + align - 1) / align * align;
        cur = off[i] + t->size;
        gw_le(&b, off[i], 8);
    }
    if (m->n_t) gw_put(&b, NULL, (size_t)((align - b.len % align) % align));
    L->data_at = b.len;
    for (size_t i = 0; i < m->n_t; i++) {
        gw_put(&b, NULL, (size_t)(L->data_at + off[i] - b.len));
        L->t_data_at[i] = b.len;
        gw_put(&b, m->t[i].data, (size_t)m->t[i].size);
    }
    L->len = b.len;
    for (size_t i = 0; i < m->n_patch; i++) gw_apply(b.p, b.len, L, &m->patch[i]);
    *len = b.len;
    return b.p;
}

/* ---- building and editing ------------------------------------------ */

/* Shallow copy of a parsed file (g must stay open while m is used). */
static inline void gw_from_gguf(gw_model *m, const tf_gguf *g)
{
    memset(m, 0, sizeof *m);
    m->magic = GW_MAGIC;
    m->version = tf_gguf_version(g);
    m->align = tf_gguf_alignment(g);
    m->n_kv = (size_t)tf_gguf_n_kv(g);
    m->n_t = (size_t)tf_gguf_n_tensors(g);
    if (m->n_kv > GW_MAX_KV || m->n_t > GW_MAX_T) abort();
    for (size_t i = 0; i < m->n_kv; i++) m->kv[i] = *tf_gguf_kv_at(g, i);
    for (size_t i = 0; i < m->n_t; i++) m->t[i] = *tf_gguf_tensor_at(g, i);
}

static inline long gw_kv_index(const gw_model *m, const char *key)
{
    for (size_t i = 0; i < m->n_kv; i++)
        if (tf_gguf_str_eq(m->kv[i].key, key)) return (long)i;
    return -1;
}

static inline long gw_t_index(const gw_model *m, const char *name)
{
    for (size_t i = 0; i < m->n_t; i++)
        if (tf_gguf_str_eq(m->t[i].name, name)) return (long)i;
    return -1;
}

/* The KV named key, appended (zeroed) when absent. */
static inline tf_gguf_kv *gw_kv(gw_model *m, const char *key)
{
    long i = gw_kv_index(m, key);
    if (i >= 0) return &m->kv[i];
    if (m->n_kv == GW_MAX_KV) abort();
    tf_gguf_kv *kv = &m->kv[m->n_kv++];
    memset(kv, 0, sizeof *kv);
    kv->key = gw_s(key);
    return kv;
}

static inline void gw_set_u(gw_model *m, const char *key, uint32_t type, uint64_t v)
{
    tf_gguf_kv *kv = gw_kv(m, key);
    kv->type = type;
    kv->v.u = v;
}
static inline void gw_set_u32(gw_model *m, const char *key, uint64_t v)
{
    gw_set_u(m, key, TF_GGUF_U32, v);
}
static inline void gw_set_f(gw_model *m, const char *key, uint32_t type, double v)
{
    tf_gguf_kv *kv = gw_kv(m, key);
    kv->type = type;
    kv->v.f = v;
}
static inline void gw_set_str(gw_model *m, const char *key, const char *s)
{
    tf_gguf_kv *kv = gw_kv(m, key);
    kv->type = TF_GGUF_STRING;
    kv->v.str = gw_s(s);
}
/* Array of n scalars of type et from raw little-endian bytes. */
static inline void gw_set_arr(gw_model *m, const char *key, uint32_t et, uint64_t n,
                              const void *data)
{
    tf_gguf_kv *kv = gw_kv(m, key);
    kv->type = TF_GGUF_ARRAY;
    kv->v.arr.type = et;
    kv->v.arr.n = n;
    kv->v.arr.data = data;
    kv->v.arr.strs = NULL;
}

static inline void gw_del(gw_model *m, const char *key)
{
    long i = gw_kv_index(m, key);
    if (i < 0) abort();
    memmove(&m->kv[i], &m->kv[i + 1], (m->n_kv - (size_t)i - 1) * sizeof m->kv[0]);
    m->n_kv--;
}

static inline tf_gguf_tensor *gw_t(gw_model *m, const char *name)
{
    long i = gw_t_index(m, name);
    if (i < 0) abort();
    return &m->t[i];
}

static inline void gw_tdel(gw_model *m, const char *name)
{
    long i = gw_t_index(m, name);
    if (i < 0) abort();
    memmove(&m->t[i], &m->t[i + 1], (m->n_t - (size_t)i - 1) * sizeof m->t[0]);
    m->n_t--;
}

/* Give t a new type and shape; its data becomes zeros when it grows. */
static inline void gw_reshape(tf_gguf_tensor *t, uint32_t type, uint32_t n_dims, int64_t ne0,
                              int64_t ne1, int64_t ne2)
{
    const tf_type_traits *tt = tf_type_traits_of(type);
    if (!tt) abort();
    int64_t ne[4] = {ne0, ne1, ne2, 1};
    uint64_t nel = 1, size;
    for (int d = 0; d < 4; d++) {
        t->ne[d] = d < (int)n_dims ? ne[d] : 1;
        nel *= (uint64_t)t->ne[d];
    }
    size = nel / tt->blck * tt->size;
    if (size > t->size) t->data = NULL;
    t->type = type;
    t->n_dims = n_dims;
    t->size = size;
}

static inline tf_gguf_tensor *gw_tadd(gw_model *m, const char *name, uint32_t type,
                                      uint32_t n_dims, int64_t ne0, int64_t ne1)
{
    if (m->n_t == GW_MAX_T) abort();
    tf_gguf_tensor *t = &m->t[m->n_t++];
    memset(t, 0, sizeof *t);
    t->name = gw_s(name);
    gw_reshape(t, type, n_dims, ne0, ne1, 1);
    return t;
}

/* Queue a byte patch applied after serialization. */
static inline void gw_poke(gw_model *m, int at, size_t idx, size_t add, unsigned width,
                           bool plus, uint64_t val)
{
    if (m->n_patch == GW_MAX_PATCH) abort();
    m->patch[m->n_patch++] = (gw_patch){at, idx, add, width, plus, val};
}

#endif
