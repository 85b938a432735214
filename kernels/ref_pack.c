/* ref_pack.c - the packed-weight layout (kernels.h, "Packed weights"): the
 * packer, the packed products' activation quantizer, and the portable
 * product that unpacks block by block and calls the reference vec_dot.
 *
 * Packing is a pure byte permutation (plus Q8_0's sign flip), so the
 * unpacked block is the file's block byte for byte and the portable product
 * is the reference dot exactly; the SIMD kernels must match it bit for bit.
 * F16 has no blocks: its packed product is defined as the AVX-512 row
 * kernel's (16 lanes of fused multiply-adds, then one fixed reduction),
 * so packing changes no result on the level that packs it.
 */
#include <math.h>

#include "pack.h"

/* Each type's half-float scale fields are contiguous at the start or the
 * end of its block, so the other bytes - the words - are one run. */
typedef struct {
    uint32_t type, bytes;
    int n_half;
    uint32_t half_off, word_off;
    uint32_t flip; /* xor of every word (Q8_0: the sign bits) */
    const uint8_t *order; /* packed word i is block word order[i] (NULL: i) */
} pack_info;

/* Q6_K's words in the order its kernel reads them, so a block column is
 * one ascending stream (the prefetchers lose track of a kernel that jumps
 * back and forth within it: measured 3x slower from memory): the 4
 * scale words, then per (n, c) the qh word 32 + 8n + c and the two ql
 * words 16n + c and 16n + 8 + c. */
static const uint8_t g_q6_K_order[52] = {
    48, 49, 50, 51,
#define Q6W(n, c) 32 + 8 * (n) + (c), 16 * (n) + (c), 16 * (n) + 8 + (c)
    Q6W(0, 0), Q6W(0, 1), Q6W(0, 2), Q6W(0, 3), Q6W(0, 4), Q6W(0, 5), Q6W(0, 6), Q6W(0, 7),
    Q6W(1, 0), Q6W(1, 1), Q6W(1, 2), Q6W(1, 3), Q6W(1, 4), Q6W(1, 5), Q6W(1, 6), Q6W(1, 7),
#undef Q6W
};

static const pack_info g_info[] = {
    {TF_TYPE_Q4_0, sizeof(tf_block_q4_0), 1, 0, 2, 0, NULL},
    {TF_TYPE_Q8_0, sizeof(tf_block_q8_0), 1, 0, 2, 0x80808080u, NULL},
    {TF_TYPE_Q4_K, sizeof(tf_block_q4_K), 2, 0, 4, 0, NULL},
    {TF_TYPE_Q6_K, sizeof(tf_block_q6_K), 1, offsetof(tf_block_q6_K, d), 0, 0, g_q6_K_order},
};

static const pack_info *info_of(uint32_t type)
{
    for (size_t i = 0; i < sizeof g_info / sizeof g_info[0]; i++)
        if (g_info[i].type == type)
            return &g_info[i];
    return NULL;
}

bool tf_pack_supported(uint32_t type, int64_t n)
{
    if (type == TF_TYPE_F16)
        return n > 0 && n % TF_F16_CHUNK == 0;
    return info_of(type) != NULL;
}

/* F16 (pack.h): each row's chunks of 16 columns where tf_f16_pack_off says. */
static void pack_f16(const uint8_t *src, size_t stride, int64_t n, uint8_t *dst)
{
    int64_t nc = n / TF_F16_CHUNK;
    for (int64_t c = 0; c < nc; c++)
        for (int r = 0; r < TF_PACK_ROWS; r++)
            memcpy(dst + tf_f16_pack_off(c, r, nc), src + r * stride + 2 * TF_F16_CHUNK * c,
                   2 * TF_F16_CHUNK);
}

/* The packed F16 product of one row and one activation row: the AVX-512
 * row kernel's arithmetic in C - lane j sums elements j, j + 16, ... with
 * fused multiply-adds, then the lanes are added pairwise (8 apart, 4, 2,
 * then 1), as hsum16 does (x86_avx512.h). */
static float dot_f16_lanes(const uint8_t *g, int r, const float *a, int64_t n)
{
    float l[16] = {0};
    int64_t nc = n / TF_F16_CHUNK;
    for (int64_t c = 0; c < nc; c++) {
        const uint8_t *w = g + tf_f16_pack_off(c, r, nc);
        for (int j = 0; j < 16; j++) {
            uint16_t h;
            memcpy(&h, w + 2 * j, 2);
            l[j] = fmaf(tf_h2f(h), a[c * TF_F16_CHUNK + j], l[j]);
        }
    }
    for (int j = 0; j < 8; j++) l[j] += l[j + 8];
    for (int j = 0; j < 4; j++) l[j] += l[j + 4];
    l[0] += l[2];
    l[1] += l[3];
    return l[0] + l[1];
}

static int n_words(const pack_info *pi) { return (int)(pi->bytes - 2u * pi->n_half) / 4; }

void tf_pack_rows(uint32_t type, const void *src, size_t stride, int64_t n, void *dst)
{
    if (type == TF_TYPE_F16) { /* no blocks: its own layout */
        if (tf_pack_supported(type, n))
            pack_f16(src, stride, n, dst);
        return;
    }
    const pack_info *pi = info_of(type);
    if (!pi)
        return;
    int nw = n_words(pi);
    int64_t nb = n / (int64_t)tf_type_traits_of(type)->blck;
    const uint8_t *s = src;
    uint8_t *o = dst, *h;
    for (int64_t b = 0; b < nb; b++) {
        h = o;
        o += 2 * TF_PACK_ROWS * pi->n_half;
        for (int f = 0; f < pi->n_half; f++)
            for (int r = 0; r < TF_PACK_ROWS; r++, h += 2)
                memcpy(h, s + r * stride + b * pi->bytes + pi->half_off + 2 * f, 2);
        for (int w = 0; w < nw; w++)
            for (int r = 0; r < TF_PACK_ROWS; r++, o += 4) {
                uint32_t v;
                int sw = pi->order ? pi->order[w] : w;
                memcpy(&v, s + r * stride + b * pi->bytes + pi->word_off + 4 * sw, 4);
                v ^= pi->flip;
                memcpy(o, &v, 4);
            }
    }
}

/* Block b of row r of a packed group, back in the file's layout. */
static void unpack_block(const pack_info *pi, const uint8_t *g, int64_t b, int r, uint8_t *blk)
{
    const uint8_t *h = g + b * pi->bytes * TF_PACK_ROWS;
    const uint8_t *p = h + 2 * TF_PACK_ROWS * pi->n_half;
    for (int w = 0; w < n_words(pi); w++) {
        uint32_t v;
        memcpy(&v, p + 4 * (TF_PACK_ROWS * w + r), 4);
        v ^= pi->flip;
        memcpy(blk + pi->word_off + 4 * (pi->order ? pi->order[w] : w), &v, 4);
    }
    for (int f = 0; f < pi->n_half; f++)
        memcpy(blk + pi->half_off + 2 * f, h + 2 * (TF_PACK_ROWS * f + r), 2);
}

size_t tf_pack_act_row_size(uint32_t type, int64_t n)
{
    if (type == TF_TYPE_F16)
        return (size_t)n * sizeof(float);
    if (type == TF_TYPE_Q4_0 || type == TF_TYPE_Q8_0)
        return (size_t)(n / TF_QK) * sizeof(tf_block_q8_0s);
    return (size_t)(n / TF_QK_K) * sizeof(tf_block_q8_Ks);
}

/* The K-quants' blocks (pack.h): Q8_K's own quantizer, then the sums'
 * terms. */
static void act_q8_Ks(uint32_t type, const float *x, tf_block_q8_Ks *o, int64_t n)
{
    const tf_type_kernels *q8 = tf_kernels_of(TF_TYPE_Q8_K);
    for (int64_t b = 0; b < n / TF_QK_K; b++) {
        q8->from_float(x + b * TF_QK_K, &o[b].q, TF_QK_K);
        const int16_t *bs = o[b].q.bsums;
        for (int j = 0; j < TF_QK_K / 16; j++) {
            if (type == TF_TYPE_Q6_K) {
                o[b].pre[j] = -32 * bs[j];
            } else if (j < 4) {
                uint16_t lo = (uint16_t)(bs[4 * j] + bs[4 * j + 1]),
                         hi = (uint16_t)(bs[4 * j + 2] + bs[4 * j + 3]);
                o[b].pre[j] = (int32_t)((uint32_t)hi << 16 | lo);
            } else {
                o[b].pre[j] = 0;
            }
        }
    }
}

void tf_pack_act_from_float(uint32_t type, const float *x, void *dst, int64_t n)
{
    if (type == TF_TYPE_F16) { /* rounded to F16, kept as floats */
        const tf_type_kernels *h = tf_kernels_of(TF_TYPE_F16);
        float *o = dst;
        uint16_t tmp[256];
        for (int64_t i = 0; i < n; i += 256) {
            int64_t m = n - i < 256 ? n - i : 256;
            h->from_float(x + i, tmp, m);
            h->to_float(tmp, o + i, m);
        }
        return;
    }
    if (type != TF_TYPE_Q4_0 && type != TF_TYPE_Q8_0) {
        act_q8_Ks(type, x, dst, n);
        return;
    }
    /* Q8_0's own quantizer, so the values are the vec_dot_type's; a run of
     * blocks per call, not one (the call and its setup cost about as much
     * as quantizing a block with SIMD). */
    const tf_type_kernels *q8 = tf_kernels_of(TF_TYPE_Q8_0);
    const int32_t B = type == TF_TYPE_Q4_0 ? -8 : -128;
    tf_block_q8_0s *o = dst;
    tf_block_q8_0 run[64];
    for (int64_t b0 = 0; b0 < n / TF_QK; b0 += 64) {
        int64_t nb = n / TF_QK - b0 < 64 ? n / TF_QK - b0 : 64;
        q8->from_float(x + b0 * TF_QK, run, nb * TF_QK);
        for (int64_t b = 0; b < nb; b++) {
            memcpy(o[b0 + b].qs, run[b].qs, TF_QK);
            o[b0 + b].d = tf_h2f(run[b].d);
            int32_t s = 0;
            for (int j = 0; j < TF_QK; j++)
                s += run[b].qs[j];
            o[b0 + b].bias = B * s;
        }
    }
}

void tf_ref_pack_gemm(uint32_t type, int64_t n, const void *wp, int ng, const void *a,
                      size_t as, int na, float *out, size_t os)
{
    if (type == TF_TYPE_F16 && tf_pack_supported(type, n)) {
        for (int g = 0; g < ng; g++)
            for (int r = 0; r < TF_PACK_ROWS; r++)
                for (int t = 0; t < na; t++)
                    out[(size_t)t * os + (size_t)g * TF_PACK_ROWS + r] =
                        dot_f16_lanes((const uint8_t *)wp + (size_t)g * TF_PACK_ROWS * 2 * (size_t)n, r,
                                      (const float *)((const uint8_t *)a + (size_t)t * as), n);
        return;
    }
    const pack_info *pi = info_of(type);
    const tf_type_kernels *ref = tf_kernels_ref_of(type);
    if (!pi || !ref)
        return;
    uint32_t blck = tf_type_traits_of(type)->blck;
    int64_t nb = n / blck;
    bool q8s = type == TF_TYPE_Q4_0 || type == TF_TYPE_Q8_0;
    size_t gbytes = (size_t)nb * pi->bytes * TF_PACK_ROWS;
    for (int g = 0; g < ng; g++)
        for (int r = 0; r < TF_PACK_ROWS; r++)
            for (int t = 0; t < na; t++) {
                const uint8_t *at = (const uint8_t *)a + (size_t)t * as;
                float sum = 0;
                for (int64_t b = 0; b < nb; b++) {
                    uint8_t blk[256];
                    unpack_block(pi, (const uint8_t *)wp + (size_t)g * gbytes, b, r, blk);
                    /* vec_dot over one block is that block's term exactly */
                    if (q8s) {
                        const tf_block_q8_0s *y = (const tf_block_q8_0s *)at + b;
                        tf_block_q8_0 yb;
                        yb.d = tf_f2h(y->d); /* exact: d came from a half */
                        memcpy(yb.qs, y->qs, TF_QK);
                        sum += ref->vec_dot(blck, blk, &yb);
                    } else {
                        sum += ref->vec_dot(blck, blk, &((const tf_block_q8_Ks *)at + b)->q);
                    }
                }
                out[(size_t)t * os + (size_t)g * TF_PACK_ROWS + r] = sum;
            }
}
