/* quantize.c - tf_quantize: rewrite a GGUF model in another file type.
 *
 * Plan first (every tensor's target type, from quantize_rules.c), so the
 * header with its tensor offsets can be written before any data; then
 * stream the tensors in the reference engine's order (tensors outside the
 * layers by name, then layer by layer, by name), each either copied byte
 * for byte (same type, or not a quantizable matrix) or converted: source
 * rows -> F32 (any type with a dequantizer) -> target type.
 *
 * Conversion runs in batches of rows (at most ~4 MiB of output) on a
 * thread pool; each row is converted by one thread with the portable
 * reference kernels, so the bytes are identical for any thread count and
 * any CPU.  A source row holding NaN or infinity is refused: no quantizer
 * can represent it and the model would be broken anyway.
 */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "gguf_write.h"
#include "quantize.h"
#include "threadpool.h"

#define BATCH_BYTES (4u << 20)

typedef struct qtensor {
    const tf_gguf_tensor *src;
    char name[TF_GGUF_MAX_NAME + 1];
    int layer;      /* from "blk.<n>.", -1 outside the layers */
    uint32_t dst;   /* target type */
    bool convert;   /* else copied as is */
    char note[160]; /* fallback reason, "" if none */
} qtensor;

typedef struct qstate {
    const char *in;
    tf_gguf *g;
    const tf_qrecipe *recipe;
    tf_quantize_params p;
    qtensor *t;
    size_t n;
    uint64_t bytes_total, bytes_done;
    tf_gguf_writer *w;
    tf_pool *pool;
    float *scratch; /* one row of floats per thread */
    size_t scratch_stride;
    uint8_t *out;   /* one batch of converted rows */
    size_t out_cap;
} qstate;

/* One batch of rows, split between the pool's threads. */
typedef struct qbatch {
    const qstate *s;
    const tf_type_kernels *from, *to;
    const uint8_t *src;
    size_t src_rs, dst_rs;
    int64_t ne0, row0, nrows;
    atomic_llong bad_row; /* first row with a non-finite value, -1 if none */
} qbatch;

tf_quantize_params tf_quantize_default_params(void)
{
    tf_quantize_params p = {.n_threads = 0, .pure = false, .progress = NULL, .user = NULL};
    return p;
}

static bool all_finite(const float *x, int64_t n)
{
    for (int64_t i = 0; i < n; i++)
        if (!(x[i] - x[i] == 0)) return false; /* NaN and inf give NaN */
    return true;
}

static void convert_rows(void *arg, int ith, int nth)
{
    qbatch *b = arg;
    int64_t lo = b->nrows * ith / nth, hi = b->nrows * (ith + 1) / nth;
    float *tmp = b->s->scratch + (size_t)ith * b->s->scratch_stride;
    for (int64_t r = lo; r < hi; r++) {
        const uint8_t *row = b->src + (size_t)(b->row0 + r) * b->src_rs;
        const float *x;
        if (b->from == NULL) { /* F32 source: used in place */
            memcpy(tmp, row, (size_t)b->ne0 * sizeof(float));
            x = tmp;
        } else {
            b->from->to_float(row, tmp, b->ne0);
            x = tmp;
        }
        if (!all_finite(x, b->ne0)) {
            long long want = b->row0 + r, cur = atomic_load(&b->bad_row);
            while ((cur < 0 || want < cur) && !atomic_compare_exchange_weak(&b->bad_row, &cur, want)) {}
            continue;
        }
        b->to->from_float(x, b->s->out + (size_t)r * b->dst_rs, b->ne0);
    }
}

static void report(qstate *s, size_t i, int64_t rows_done, const char *note)
{
    if (!s->p.progress) return;
    const qtensor *t = &s->t[i];
    tf_quantize_progress pr = {
        .i_tensor = i, .n_tensors = s->n, .name = t->name,
        .src_type = t->src->type, .dst_type = t->dst,
        .src_type_name = tf_type_name(t->src->type), .dst_type_name = tf_type_name(t->dst),
        .rows_done = rows_done, .rows = t->src->ne[1] * t->src->ne[2] * t->src->ne[3],
        .bytes_done = s->bytes_done, .bytes_total = s->bytes_total, .note = note};
    s->p.progress(&pr, s->p.user);
}

static tf_status writer_fail(qstate *s)
{
    tf_set_last_error("%s", tf_gguf_writer_error(s->w));
    return tf_gguf_writer_status(s->w);
}

/* Convert one tensor batch by batch and stream it out. */
static tf_status convert_tensor(qstate *s, size_t i)
{
    const qtensor *t = &s->t[i];
    int64_t ne0 = t->src->ne[0], rows = t->src->ne[1] * t->src->ne[2] * t->src->ne[3];
    qbatch b = {.s = s, .src = t->src->data, .ne0 = ne0,
                .src_rs = tf_row_size(t->src->type, ne0), .dst_rs = tf_row_size(t->dst, ne0),
                .from = t->src->type == TF_TYPE_F32 ? NULL : tf_kernels_ref_of(t->src->type),
                .to = tf_kernels_ref_of(t->dst)};
    if ((t->src->type != TF_TYPE_F32 && !b.from) || !b.to || !b.src_rs || !b.dst_rs) {
        tf_set_last_error("%s: tensor '%s': cannot convert %s to %s", s->in, t->name,
                          tf_type_name(t->src->type), tf_type_name(t->dst));
        return TF_ERR_UNSUPPORTED;
    }
    size_t per = BATCH_BYTES / b.dst_rs ? BATCH_BYTES / b.dst_rs : 1;
    if (per * b.dst_rs > s->out_cap) {
        uint8_t *p = realloc(s->out, per * b.dst_rs);
        if (!p) {
            tf_set_last_error("out of memory converting '%s'", t->name);
            return TF_ERR_NOMEM;
        }
        s->out = p;
        s->out_cap = per * b.dst_rs;
    }
    if ((size_t)ne0 > s->scratch_stride) {
        free(s->scratch);
        s->scratch_stride = (size_t)ne0;
        s->scratch = malloc(s->scratch_stride * (size_t)tf_pool_size(s->pool) * sizeof(float));
        if (!s->scratch) {
            s->scratch_stride = 0;
            tf_set_last_error("out of memory converting '%s'", t->name);
            return TF_ERR_NOMEM;
        }
    }
    for (int64_t r = 0; r < rows; r += b.nrows) {
        b.row0 = r;
        b.nrows = rows - r < (int64_t)per ? rows - r : (int64_t)per;
        atomic_store(&b.bad_row, -1);
        tf_pool_run(s->pool, convert_rows, &b);
        long long bad = atomic_load(&b.bad_row);
        if (bad >= 0) {
            tf_set_last_error("%s: tensor '%s': row %lld holds NaN or infinity", s->in, t->name, bad);
            return TF_ERR_FORMAT;
        }
        if (tf_gguf_writer_write(s->w, s->out, (size_t)b.nrows * b.dst_rs)) return writer_fail(s);
        s->bytes_done += (uint64_t)b.nrows * b.dst_rs;
        report(s, i, r + b.nrows, NULL);
    }
    return TF_OK;
}

/* ---- planning --------------------------------------------------------- */

static int64_t get_int(const tf_gguf *g, const char *arch, const char *suffix, int64_t def)
{
    char key[160];
    snprintf(key, sizeof key, "%s.%s", arch, suffix);
    int64_t v;
    return tf_gguf_get_i64(g, key, &v) == 0 && v >= 0 && v <= (1 << 30) ? v : def;
}

static void read_model(const tf_gguf *g, tf_qmodel *m)
{
    memset(m, 0, sizeof *m);
    tf_gguf_str s;
    if (tf_gguf_get_str(g, "general.architecture", &s) == 0 && s.len < sizeof m->arch &&
        !memchr(s.ptr, 0, s.len))
        memcpy(m->arch, s.ptr, s.len);
    m->n_layer = (int32_t)get_int(g, m->arch, "block_count", 0);
    int64_t n_head = get_int(g, m->arch, "attention.head_count", 0);
    int64_t n_head_kv = get_int(g, m->arch, "attention.head_count_kv", n_head);
    m->n_gqa = n_head_kv > 0 ? (int32_t)(n_head / n_head_kv) : 0;
    m->n_expert = (int32_t)get_int(g, m->arch, "expert_count", 0);
    m->has_output = tf_gguf_find_tensor(g, "output.weight") != NULL;
    m->is_llama_70b = !strcmp(m->arch, "llama") && m->n_layer == 80 && n_head != n_head_kv;
}

/* The reference's order: layer number (-1 outside the layers), then name. */
static int cmp_tensor(const void *a, const void *b)
{
    const qtensor *x = a, *y = b;
    if (x->layer != y->layer) return x->layer < y->layer ? -1 : 1;
    return strcmp(x->name, y->name);
}

static tf_status plan(qstate *s)
{
    tf_qmodel m;
    read_model(s->g, &m);
    s->n = (size_t)tf_gguf_n_tensors(s->g);
    s->t = calloc(s->n ? s->n : 1, sizeof *s->t);
    if (!s->t) {
        tf_set_last_error("out of memory");
        return TF_ERR_NOMEM;
    }
    for (size_t i = 0; i < s->n; i++) {
        qtensor *t = &s->t[i];
        t->src = tf_gguf_tensor_at(s->g, i);
        memcpy(t->name, t->src->name.ptr, t->src->name.len); /* <= 256 bytes, checked */
        if (sscanf(t->name, "blk.%d.", &t->layer) != 1) t->layer = -1;
        t->dst = t->src->type;
        if (tf_qtensor_quantizable(t->name, t->src->n_dims))
            t->dst = tf_qtensor_type(s->recipe, &m, s->p.pure, t->name, t->src->ne[0], t->note,
                                     sizeof t->note);
        t->convert = t->dst != t->src->type;
        if (t->convert && t->src->type != TF_TYPE_F32 && !tf_kernels_ref_of(t->src->type)) {
            tf_set_last_error("%s: tensor '%s' has type %s, which tinfer cannot dequantize", s->in,
                              t->name, tf_type_name(t->src->type));
            return TF_ERR_UNSUPPORTED;
        }
    }
    qsort(s->t, s->n, sizeof *s->t, cmp_tensor);
    return TF_OK;
}

static tf_status start_output(qstate *s, const char *out)
{
    s->w = tf_gguf_writer_new();
    if (!s->w) {
        tf_set_last_error("out of memory");
        return TF_ERR_NOMEM;
    }
    tf_gguf_writer *w = s->w;
    if (tf_gguf_writer_copy_kvs(w, s->g) ||
        tf_gguf_writer_set_u32(w, "general.quantization_version", 2) ||
        tf_gguf_writer_set_u32(w, "general.file_type", s->recipe->ftype) ||
        tf_gguf_writer_remove(w, "split.no") || tf_gguf_writer_remove(w, "split.count") ||
        tf_gguf_writer_remove(w, "split.tensors.count"))
        return writer_fail(s);
    /* An alignment below the default (valid GGUF, but it leaves floats
     * unaligned in a mapped file) is raised to the default 32. */
    if (tf_gguf_alignment(s->g) < 32 && tf_gguf_writer_remove(w, "general.alignment"))
        return writer_fail(s);
    for (size_t i = 0; i < s->n; i++) {
        const qtensor *t = &s->t[i];
        if (tf_gguf_writer_add_tensor(w, t->name, strlen(t->name), t->src->n_dims, t->src->ne, t->dst))
            return writer_fail(s);
        s->bytes_total += tf_gguf_writer_tensor_bytes(w, i);
    }
    return tf_gguf_writer_open(w, out) ? writer_fail(s) : TF_OK;
}

static tf_status run(qstate *s, const char *out)
{
    tf_status st = plan(s);
    if (st) return st;
    if ((st = start_output(s, out))) return st;
    int nt = s->p.n_threads;
    if (nt <= 0) {
        long c = sysconf(_SC_NPROCESSORS_ONLN);
        nt = c > 0 ? (int)c : 1;
    }
    s->pool = tf_pool_new(nt > 256 ? 256 : nt);
    if (!s->pool) {
        tf_set_last_error("cannot start %d threads", nt);
        return TF_ERR_NOMEM;
    }
    for (size_t i = 0; i < s->n; i++) {
        const qtensor *t = &s->t[i];
        report(s, i, 0, t->note[0] ? t->note : NULL);
        if (t->convert) {
            if ((st = convert_tensor(s, i))) return st;
        } else {
            if (tf_gguf_writer_write(s->w, t->src->data, (size_t)t->src->size)) return writer_fail(s);
            s->bytes_done += t->src->size;
            report(s, i, t->src->ne[1] * t->src->ne[2] * t->src->ne[3], NULL);
        }
    }
    return tf_gguf_writer_close(s->w) ? writer_fail(s) : TF_OK;
}

tf_status tf_quantize(const char *in, const char *out, const char *type_name,
                      const tf_quantize_params *p)
{
    if (!in || !out || !type_name) {
        tf_set_last_error("tf_quantize: NULL %s", !in ? "input path" : !out ? "output path" : "type name");
        return TF_ERR_INVALID_ARG;
    }
    qstate s = {.in = in, .p = p ? *p : tf_quantize_default_params()};
    s.recipe = tf_qrecipe_find(type_name);
    if (!s.recipe) {
        tf_set_last_error("unknown quantization type '%s' (known: %s)", type_name,
                          tf_quantize_type_names());
        return TF_ERR_INVALID_ARG;
    }
    tf_kernels_init(false);
    char err[TF_ERRLEN] = "";
    int rc = tf_gguf_open_file(in, &s.g, err, sizeof err);
    if (rc != 0) {
        tf_set_last_error("%s", err);
        if (rc == TF_ERR_IO || rc == TF_ERR_FORMAT || rc == TF_ERR_NOMEM) return (tf_status)rc;
        return access(in, R_OK) != 0 || strstr(err, "not a regular") ? TF_ERR_IO : TF_ERR_FORMAT;
    }
    int64_t splits;
    tf_status st;
    if (tf_gguf_get_i64(s.g, "split.count", &splits) == 0 && splits > 1) {
        tf_set_last_error("%s is one part of a split model (%lld parts): not supported", in,
                          (long long)splits);
        st = TF_ERR_UNSUPPORTED;
    } else {
        st = run(&s, out);
    }
    tf_gguf_writer_free(s.w); /* removes OUT.tmp unless it was renamed */
    tf_pool_free(s.pool);
    tf_gguf_close(s.g);
    free(s.t);
    free(s.scratch);
    free(s.out);
    return st;
}
