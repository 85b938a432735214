/* meta.c - metadata of an open model as text, for `tinfer info` and
 * callers that want a key without knowing GGUF value types. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model.h"

size_t tf_model_n_meta(const tf_model *m) { return m ? (size_t)tf_gguf_n_kv(m->g) : 0; }

tf_status tf_model_meta_key(const tf_model *m, size_t i, const char **key)
{
    if (!m || !key || i >= tf_gguf_n_kv(m->g)) return TF_ERR_INVALID_ARG;
    *key = m->keys[i];
    return TF_OK;
}

/* Keys are proven NUL-free by the loader; keep terminated copies so
 * callers get stable C strings for the model's lifetime. */
bool tf_model_index_keys(tf_model *m)
{
    uint64_t n = tf_gguf_n_kv(m->g), bytes = 0;
    for (uint64_t i = 0; i < n; i++) bytes += tf_gguf_kv_at(m->g, i)->key.len + 1;
    m->keys = malloc((n ? n : 1) * sizeof *m->keys);
    m->key_text = malloc(bytes ? bytes : 1);
    if (!m->keys || !m->key_text) return false;
    char *p = m->key_text;
    for (uint64_t i = 0; i < n; i++) {
        const tf_gguf_kv *kv = tf_gguf_kv_at(m->g, i);
        memcpy(p, kv->key.ptr, kv->key.len);
        p[kv->key.len] = 0;
        m->keys[i] = p;
        p += kv->key.len + 1;
    }
    return true;
}

/* Render one scalar of type t stored little-endian at p. */
static int scalar_text(uint32_t t, const uint8_t *p, char *out, size_t cap)
{
    uint64_t u = 0;
    static const unsigned sz[] = {1, 1, 2, 2, 4, 4, 4, 1, 0, 0, 8, 8, 8};
    for (unsigned i = 0; i < sz[t]; i++) u |= (uint64_t)p[i] << (8 * i);
    switch (t) {
    case TF_GGUF_I8: return snprintf(out, cap, "%d", (int8_t)u);
    case TF_GGUF_I16: return snprintf(out, cap, "%d", (int16_t)u);
    case TF_GGUF_I32: return snprintf(out, cap, "%d", (int32_t)u);
    case TF_GGUF_I64: return snprintf(out, cap, "%lld", (long long)(int64_t)u);
    case TF_GGUF_F32: { float f; uint32_t v = (uint32_t)u; memcpy(&f, &v, 4); return snprintf(out, cap, "%g", f); }
    case TF_GGUF_F64: { double f; memcpy(&f, &u, 8); return snprintf(out, cap, "%g", f); }
    case TF_GGUF_BOOL: return snprintf(out, cap, "%s", u ? "true" : "false");
    default: return snprintf(out, cap, "%llu", (unsigned long long)u);
    }
}

tf_status tf_model_meta_str(const tf_model *m, const char *key, char *buf, size_t cap,
                            size_t *n_out)
{
    if (!m || !key || !n_out || (!buf && cap)) return TF_ERR_INVALID_ARG;
    const tf_gguf_kv *kv = tf_gguf_find(m->g, key);
    if (!kv) {
        tf_set_last_error("metadata key '%s' not found", key);
        return TF_ERR_INVALID_ARG;
    }
    char small[128];
    const char *text = small;
    size_t n;
    if (kv->type == TF_GGUF_STRING) {
        text = kv->v.str.ptr;
        n = kv->v.str.len;
    } else if (kv->type == TF_GGUF_ARRAY) {
        n = (size_t)snprintf(small, sizeof small, "[array of %llu %s]",
                             (unsigned long long)kv->v.arr.n, tf_gguf_vtype_name(kv->v.arr.type));
    } else {
        uint8_t raw[8];
        uint64_t u = kv->type == TF_GGUF_F32 || kv->type == TF_GGUF_F64 ? 0 : kv->v.u;
        if (kv->type == TF_GGUF_F32) { float f = (float)kv->v.f; memcpy(raw, &f, 4); }
        else if (kv->type == TF_GGUF_F64) memcpy(raw, &kv->v.f, 8);
        else for (int i = 0; i < 8; i++) raw[i] = (uint8_t)(u >> (8 * i));
        n = (size_t)scalar_text(kv->type, raw, small, sizeof small);
    }
    *n_out = n;
    if (cap < n + 1) return TF_ERR_BUFFER;
    memcpy(buf, text, n);
    buf[n] = 0;
    return TF_OK;
}
