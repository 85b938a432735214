/* test_kernels_isa.c - every ISA level this CPU runs (ref, avx2, avx512,
 * neon: tf_kernels_level_of) against the portable kernels, and every
 * level's gemm against its own vec_dot:
 *   exact integer paths: random block bytes (every bit pattern, -128
 *     included) with unit scales and small-integer activations, so every
 *     float operation is exact and any reordering must give the same
 *     bits; the int block sums are compared through the result;
 *   realistic data: quantized random floats, within float rounding;
 *   gemm == vec_dot bit for bit for odd shapes (1 row, 1 column, rows and
 *     tokens not multiples of the tile, cache blocks forced small), with
 *     strided output and untouched padding;
 *   activation quantizers: identical bytes;
 *   TINFER_KERNELS caps the selected level.
 */
#include "testutil.h"
#include <math.h>
#include "kernels.h"

static const char *const k_levels[] = {"ref", "avx2", "avx512", "neon"};
#define N_LEVELS 4

static const uint32_t k_types[] = {
    TF_TYPE_F32, TF_TYPE_F16, TF_TYPE_BF16, TF_TYPE_Q4_0, TF_TYPE_Q4_1,
    TF_TYPE_Q5_0, TF_TYPE_Q5_1, TF_TYPE_Q8_0, TF_TYPE_IQ4_NL, TF_TYPE_Q2_K,
    TF_TYPE_Q3_K, TF_TYPE_Q4_K, TF_TYPE_Q5_K, TF_TYPE_Q6_K,
};
#define N_TYPES (sizeof k_types / sizeof k_types[0])

#define H_ONE 0x3c00

static void put16(uint8_t *p, uint16_t v) { p[0] = (uint8_t)v; p[1] = (uint8_t)(v >> 8); }

static uint8_t *xmalloc(size_t n)
{
    uint8_t *p = malloc(n ? n : 1);
    assert_non_null(p);
    return p;
}

static int64_t blck(uint32_t type) { return tf_type_traits_of(type)->blck; }
static bool is_float(uint32_t type) { return blck(type) == 1; }

/* ---- exact integer paths -------------------------------------------------- */

/* Offsets of the f16 scale fields of a weight block (-1: none). */
static void scale_fields(uint32_t type, int off[2])
{
    off[0] = off[1] = -1;
    switch (type) {
    case TF_TYPE_Q4_1: case TF_TYPE_Q5_1: case TF_TYPE_Q4_K: case TF_TYPE_Q5_K:
        off[0] = 0; off[1] = 2; break;
    case TF_TYPE_Q2_K: off[0] = 80; off[1] = 82; break;
    case TF_TYPE_Q3_K: off[0] = 108; break;
    case TF_TYPE_Q6_K: off[0] = 208; break;
    default: off[0] = 0; break;
    }
}

/* nb blocks of random bytes with every scale field 1.0. */
static uint8_t *random_weights(uint32_t type, int64_t nb, uint64_t *s)
{
    size_t bs = tf_type_traits_of(type)->size;
    uint8_t *w = xmalloc(nb * bs);
    for (size_t i = 0; i < nb * bs; i++)
        w[i] = (uint8_t)tu_rand(s);
    int off[2];
    scale_fields(type, off);
    for (int64_t b = 0; b < nb; b++)
        for (int k = 0; k < 2; k++)
            if (off[k] >= 0)
                put16(w + b * bs + off[k], H_ONE);
    return w;
}

/* Activations of the weight type's vec_dot_type: scale 1, quants uniform
 * in [-amp, amp], the derived fields (Q8_1's s, Q8_K's bsums) consistent. */
static uint8_t *random_acts(uint32_t vdt, int64_t n, int amp, uint64_t *s)
{
    size_t bytes = tf_row_size(vdt, n);
    uint8_t *a = xmalloc(bytes);
    memset(a, 0, bytes);
    for (int64_t b = 0; b < n / blck(vdt); b++) {
        int8_t q[256];
        int nq = (int)blck(vdt), sum = 0;
        for (int j = 0; j < nq; j++) {
            q[j] = (int8_t)((int)(tu_rand(s) % (2u * amp + 1)) - amp);
            sum += q[j];
        }
        if (vdt == TF_TYPE_Q8_0) {
            uint8_t *p = a + b * 34;
            put16(p, H_ONE);
            memcpy(p + 2, q, 32);
        } else if (vdt == TF_TYPE_Q8_1) {
            uint8_t *p = a + b * 36;
            put16(p, H_ONE);
            put16(p + 2, tf_f32_to_f16((float)sum));
            memcpy(p + 4, q, 32);
        } else {
            assert_int_equal(vdt, TF_TYPE_Q8_K);
            uint8_t *p = a + b * 292;
            float one = 1.0f;
            memcpy(p, &one, 4);
            memcpy(p + 4, q, 256);
            for (int j = 0; j < 16; j++) {
                int16_t bsum = 0;
                for (int l = 0; l < 16; l++) bsum = (int16_t)(bsum + q[16 * j + l]);
                memcpy(p + 260 + 2 * j, &bsum, 2);
            }
        }
    }
    return a;
}

/* sum |w_i a_i| of the dequantized rows (every exact float path stays
 * below it in magnitude). */
static double magnitude(uint32_t type, const void *w, const void *a, int64_t n)
{
    const tf_type_kernels *k = tf_kernels_ref_of(type);
    float *x = malloc(n * sizeof *x), *y = malloc(n * sizeof *y);
    assert_true(x && y);
    k->to_float(w, x, n);
    tf_kernels_ref_of(k->vec_dot_type)->to_float(a, y, n);
    double m = 0;
    for (int64_t i = 0; i < n; i++) m += fabs((double)x[i] * y[i]);
    free(x);
    free(y);
    return m;
}

/* Activation amplitude keeping sum |w a| of nb blocks well under 2^24. */
static int amp_for(uint32_t type, int64_t nb)
{
    int wmax; /* largest |dequantized weight| with unit scales */
    switch (type) {
    case TF_TYPE_Q2_K: wmax = 15 * 3 + 15; break;
    case TF_TYPE_Q3_K: wmax = 32 * 4; break;
    case TF_TYPE_Q4_K: wmax = 63 * 15 + 63; break;
    case TF_TYPE_Q5_K: wmax = 63 * 31 + 63; break;
    case TF_TYPE_Q6_K: wmax = 128 * 32; break;
    default: wmax = 128 + 31; break;
    }
    int64_t amp = (1 << 23) / (nb * blck(type) * wmax);
    return amp > 127 ? 127 : amp < 1 ? 1 : (int)amp;
}

static void test_exact_integer(void **state)
{
    (void)state;
    static const int64_t nbs32[] = {1, 2, 3, 5, 15}, nbsK[] = {1, 2, 3};
    uint64_t s = 4242;
    int levels = 0;
    for (int l = 0; l < N_LEVELS; l++) {
        if (!tf_kernels_level_of(k_levels[l], TF_TYPE_Q4_0))
            continue;
        levels++;
        for (size_t ti = 0; ti < N_TYPES; ti++) {
            uint32_t type = k_types[ti];
            if (is_float(type))
                continue;
            const tf_type_kernels *f = tf_kernels_level_of(k_levels[l], type);
            const tf_type_kernels *r = tf_kernels_ref_of(type);
            bool kq = blck(type) == 256;
            const int64_t *nbs = kq ? nbsK : nbs32;
            int cnt = kq ? 3 : 5;
            for (int c = 0; c < cnt; c++)
                for (int rep = 0; rep < 20; rep++) {
                    int64_t nb = nbs[c], n = nb * blck(type);
                    uint8_t *w = random_weights(type, nb, &s);
                    uint8_t *a = random_acts(r->vec_dot_type, n, amp_for(type, nb), &s);
                    assert_true(magnitude(type, w, a, n) < 0x1p24);
                    float got = f->vec_dot(n, w, a), want = r->vec_dot(n, w, a);
                    if (got != want)
                        fail_msg("%s %s n=%lld rep %d: %.9g, ref %.9g", k_levels[l],
                                 tf_type_name(type), (long long)n, rep, got, want);
                    free(w);
                    free(a);
                }
        }
    }
    printf("  exact integer dots: %d levels\n", levels);
}

/* ---- realistic data -------------------------------------------------------- */

static float *rand_floats(int64_t n, uint64_t *s)
{
    float *v = malloc(n * sizeof *v);
    assert_non_null(v);
    for (int64_t i = 0; i < n; i++)
        v[i] = tu_randf(s) * ((i % 61 == 3) ? 20.0f : 1.0f);
    return v;
}

static void *quant(uint32_t type, const float *x, int64_t n)
{
    void *q = xmalloc(tf_row_size(type, n));
    tf_kernels_ref_of(type)->from_float(x, q, n);
    return q;
}

/* Row lengths to try: odd element counts for the float formats. */
static int sizes_of(uint32_t type, int64_t *sz)
{
    static const int64_t fl[] = {1, 7, 8, 15, 16, 17, 31, 33, 100, 257, 4096};
    static const int64_t q32[] = {32, 64, 96, 160, 480, 4096};
    static const int64_t qk[] = {256, 512, 768, 4096};
    const int64_t *src = is_float(type) ? fl : blck(type) == 32 ? q32 : qk;
    int cnt = is_float(type) ? 11 : blck(type) == 32 ? 6 : 4;
    memcpy(sz, src, cnt * sizeof *sz);
    return cnt;
}

static void test_realistic(void **state)
{
    (void)state;
    uint64_t s = 777;
    double worst = 0;
    for (int l = 0; l < N_LEVELS; l++) {
        for (size_t ti = 0; ti < N_TYPES; ti++) {
            uint32_t type = k_types[ti];
            const tf_type_kernels *f = tf_kernels_level_of(k_levels[l], type);
            if (!f)
                continue;
            const tf_type_kernels *r = tf_kernels_ref_of(type);
            int64_t sz[16];
            int cnt = sizes_of(type, sz);
            for (int c = 0; c < cnt; c++) {
                int64_t n = sz[c];
                float *xw = rand_floats(n, &s), *xa = rand_floats(n, &s);
                void *w = quant(type, xw, n), *a = quant(r->vec_dot_type, xa, n);
                double mag = magnitude(type, w, a, n);
                if (r->vec_dot_type == TF_TYPE_Q8_1) /* m * s: s is rounded to f16 */
                    mag *= 1.01;
                float got = f->vec_dot(n, w, a), want = r->vec_dot(n, w, a);
                double e = fabs((double)got - want) / (mag > 0 ? mag : 1);
                if (e > 2e-6)
                    fail_msg("%s %s n=%lld: %.9g, ref %.9g (mag %.3g)", k_levels[l],
                             tf_type_name(type), (long long)n, got, want, mag);
                worst = fmax(worst, e);
                free(xw); free(xa); free(w); free(a);
            }
        }
    }
    printf("  realistic dots: worst |fast - ref| / sum|w a| = %.3g\n", worst);
}

/* ---- gemm == vec_dot --------------------------------------------------------- */

/* One product of nw x na with padded strides; sentinels around and between
 * the outputs must survive.  big: strides large enough that the driver's
 * cache blocks hold only a few rows and tokens. */
static void check_gemm(const char *lv, uint32_t type, int64_t n, int nw, int na, bool big,
                       uint64_t *s)
{
    const tf_type_kernels *k = tf_kernels_level_of(lv, type);
    uint32_t vdt = k->vec_dot_type;
    size_t wrow = tf_row_size(type, n), arow = tf_row_size(vdt, n);
    /* padded strides, multiples of 4 (the blocks' fields stay aligned) */
    size_t ws = big ? 48 * 1024 + 4 : wrow + 4 * (n % 3 == 0);
    size_t as = big ? 80 * 1024 + 4 : arow + 4;
    uint8_t *w = xmalloc(ws * nw), *a = xmalloc(as * na);
    for (int r = 0; r < nw; r++) {
        float *x = rand_floats(n, s);
        tf_kernels_ref_of(type)->from_float(x, w + r * ws, n);
        free(x);
    }
    for (int t = 0; t < na; t++) {
        float *x = rand_floats(n, s);
        tf_kernels_ref_of(vdt)->from_float(x, a + t * as, n);
        free(x);
    }
    size_t os = nw + 3;
    float *out = malloc((os * na + 1) * sizeof *out);
    assert_non_null(out);
    for (size_t i = 0; i < os * na + 1; i++) out[i] = -12345.0f;
    k->gemm(n, w, ws, nw, a, as, na, out, os);
    for (int t = 0; t < na; t++) {
        for (int r = 0; r < nw; r++) {
            float want = k->vec_dot(n, w + r * ws, a + t * as), got = out[t * os + r];
            if (memcmp(&got, &want, sizeof got) != 0)
                fail_msg("%s %s gemm n=%lld %dx%d%s: [%d,%d] %.9g, vec_dot %.9g", lv,
                         tf_type_name(type), (long long)n, nw, na, big ? " (blocked)" : "",
                         r, t, got, want);
        }
        for (size_t r = nw; r < os; r++)
            assert_true(out[t * os + r] == -12345.0f);
    }
    assert_true(out[os * na] == -12345.0f);
    free(w); free(a); free(out);
}

static void test_gemm(void **state)
{
    (void)state;
    static const int shapes[][2] = {
        {1, 1}, {1, 7}, {5, 1}, {7, 9}, {13, 6}, {4, 4}, {8, 8}, {3, 5}, {2, 2}, {9, 3},
    };
    uint64_t s = 99;
    int done = 0;
    for (int l = 0; l < N_LEVELS; l++) {
        for (size_t ti = 0; ti < N_TYPES; ti++) {
            uint32_t type = k_types[ti];
            const tf_type_kernels *k = tf_kernels_level_of(k_levels[l], type);
            if (!k)
                continue;
            assert_non_null(k->gemm);
            int64_t b = blck(type);
            int64_t ns[3] = {b == 1 ? 37 : b, b == 1 ? 16 : 3 * b, b == 1 ? 300 : 7 * b};
            if (b == 256)
                ns[2] = 2 * b;
            for (int i = 0; i < 3; i++)
                for (size_t sh = 0; sh < sizeof shapes / sizeof shapes[0]; sh++)
                    check_gemm(k_levels[l], type, ns[i], shapes[sh][0], shapes[sh][1], false, &s);
            check_gemm(k_levels[l], type, ns[1], 11, 13, true, &s);
            k->gemm(ns[0], NULL, 0, 0, NULL, 0, 5, NULL, 0); /* empty products are fine */
            k->gemm(ns[0], NULL, 0, 5, NULL, 0, 0, NULL, 0);
            done++;
        }
    }
    printf("  gemm == vec_dot: %d (level, type) pairs\n", done);
}

/* ---- packed weights ---------------------------------------------------------- */

/* One packed product: nw = 16 ng rows (quantized random floats, or random
 * quant bytes with unit scales when bits), na tokens, strided output.  Every
 * element must equal the reference vec_dot of the unpacked row with the
 * same activations bit for bit, from the level's pack_gemm and from the
 * portable tf_ref_pack_gemm alike. */
/* fill: -2 the rows are quantized random floats, -1 random bytes (scales
 * 1), 0..255 every byte but the scales is fill and every activation row
 * is constant, +1 or -1 by token (every activation quant at +-127): the
 * largest sums the kernels' narrow accumulators must hold. */
static void check_pack(const char *lv, uint32_t type, int64_t n, int ng, int na, int fill,
                       uint64_t *s)
{
    const tf_type_kernels *k = tf_kernels_level_of(lv, type), *ref = tf_kernels_ref_of(type);
    uint32_t vdt = ref->vec_dot_type;
    /* F16's packed product is defined as the AVX-512 row kernel's (kernels.h);
     * without AVX-512 only the packed products are compared. */
    const tf_type_kernels *oracle = type == TF_TYPE_F16 ? tf_kernels_level_of("avx512", type) : ref;
    int nw = ng * TF_PACK_ROWS;
    size_t wrow = tf_row_size(type, n), ws = wrow + 8, arow = tf_row_size(vdt, n);
    size_t pas = tf_pack_act_row_size(type, n) + 40; /* padded act stride */
    uint8_t *w = NULL, *pw = xmalloc(wrow * nw), *a = xmalloc(arow * na), *pa = xmalloc(pas * na);
    if (fill >= -1) {
        int64_t nb = n / blck(type) * nw;
        uint8_t *r = random_weights(type, nb, s);
        if (fill >= 0) {
            size_t bs = tf_type_traits_of(type)->size;
            int off[2];
            scale_fields(type, off);
            memset(r, fill, nb * bs);
            for (int64_t b = 0; b < nb; b++)
                for (int f = 0; f < 2; f++)
                    if (off[f] >= 0)
                        put16(r + b * bs + off[f], H_ONE);
        }
        w = xmalloc(ws * nw);
        for (int i = 0; i < nw; i++) memcpy(w + i * ws, r + i * wrow, wrow);
        free(r);
    } else {
        w = xmalloc(ws * nw);
        for (int r = 0; r < nw; r++) {
            float *x = rand_floats(n, s);
            ref->from_float(x, w + r * ws, n);
            free(x);
        }
    }
    for (int g = 0; g < ng; g++)
        tf_pack_rows(type, w + (size_t)g * TF_PACK_ROWS * ws, ws, n, pw + (size_t)g * TF_PACK_ROWS * wrow);
    for (int t = 0; t < na; t++) {
        float *x = rand_floats(n, s);
        for (int64_t i = 0; fill >= 0 && i < n; i++)
            x[i] = t % 2 ? -1.0f : 1.0f;
        tf_kernels_of(vdt)->from_float(x, a + t * arow, n);
        tf_pack_act_from_float(type, x, pa + t * pas, n);
        free(x);
    }
    size_t os = (size_t)nw + 5;
    float *out = malloc((os * na + 1) * sizeof *out), *ro = malloc((os * na + 1) * sizeof *ro);
    assert_true(out && ro);
    for (size_t i = 0; i < os * na + 1; i++) out[i] = ro[i] = -12345.0f;
    if (k && k->pack_gemm)
        k->pack_gemm(n, pw, ng, pa, pas, na, out, os);
    else
        memcpy(out, ro, (os * na + 1) * sizeof *out);
    tf_ref_pack_gemm(type, n, pw, ng, pa, pas, na, ro, os);
    for (int t = 0; t < na; t++) {
        for (int r = 0; r < nw; r++) {
            float got = out[t * os + r], gref = ro[t * os + r];
            float want = oracle ? oracle->vec_dot(n, w + r * ws, a + t * arow) : gref;
            if (memcmp(&gref, &want, 4) != 0 || (k && k->pack_gemm && memcmp(&got, &want, 4) != 0))
                fail_msg("%s %s packed n=%lld %dx%d fill %d: [%d,%d] %.9g (portable %.9g), vec_dot %.9g",
                         lv, tf_type_name(type), (long long)n, nw, na, fill, r, t, got, gref, want);
        }
        for (size_t r = nw; r < os; r++)
            assert_true(out[t * os + r] == -12345.0f && ro[t * os + r] == -12345.0f);
    }
    assert_true(out[os * na] == -12345.0f);
    free(w); free(pw); free(a); free(pa); free(out); free(ro);
}

static void test_packed(void **state)
{
    (void)state;
    static const uint32_t pt[] = {TF_TYPE_Q4_0, TF_TYPE_Q8_0, TF_TYPE_Q4_K, TF_TYPE_Q6_K, TF_TYPE_F16};
    static const int na[] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 13}; /* every tile width, and tiles after a full one */
    uint64_t s = 7;
    int simd = 0;
    for (size_t i = 0; i < sizeof pt / sizeof pt[0]; i++)
        assert_true(tf_pack_supported(pt[i], 256));
    assert_false(tf_pack_supported(TF_TYPE_F16, 24)); /* F16: whole chunks of 16 */
    assert_false(tf_pack_supported(TF_TYPE_Q4_1, 256));
    for (int l = 0; l < N_LEVELS; l++)
        for (size_t i = 0; i < sizeof pt / sizeof pt[0]; i++) {
            const tf_type_kernels *k = tf_kernels_level_of(k_levels[l], pt[i]);
            if (!k || (l > 0 && !k->pack_gemm))
                continue;
            if (l == 0) /* the reference table keeps rows as they are */
                assert_null(k->pack_gemm);
            simd += k->pack_gemm != NULL;
            int64_t b = blck(pt[i]);
            int64_t ns[3] = {b, 3 * b, b == 32 ? 66 * b : 9 * b};
            bool f16 = pt[i] == TF_TYPE_F16;
            if (f16) { /* one chunk; a block and a chunk; two blocks and 3 chunks */
                ns[0] = 16;
                ns[1] = 16 * 33;
                ns[2] = 16 * 67;
            }
            for (int j = 0; j < 3; j++)
                for (size_t m = 0; m < sizeof na / sizeof na[0]; m++) {
                    check_pack(k_levels[l], pt[i], ns[j], 1 + (int)(m % 3), na[m], -2, &s);
                    if (!f16) /* random F16 bytes would be NaNs and infinities */
                        check_pack(k_levels[l], pt[i], ns[j], 1, na[m], -1, &s);
                }
            if (!f16) /* the extremes: quants at their largest, activations at +-127 */
                for (int f = 0; f < 4; f++) {
                    static const int fills[4] = {0xff, 0x80, 0x7f, 0x00};
                    check_pack(k_levels[l], pt[i], ns[2], 1, 1, fills[f], &s);
                    check_pack(k_levels[l], pt[i], ns[2], 1, 9, fills[f], &s);
                }
        }
    printf("  packed products == reference vec_dot: %d SIMD (level, type) pairs\n", simd);
}

/* ---- quantizers and selection ------------------------------------------------ */

static void test_quantizers(void **state)
{
    (void)state;
    static const uint32_t at[] = {TF_TYPE_Q8_0, TF_TYPE_Q8_1, TF_TYPE_Q8_K, TF_TYPE_F16,
                                  TF_TYPE_BF16};
    uint64_t s = 5;
    const int64_t n = 4096;
    float *x = rand_floats(n, &s);
    x[0] = 127.0f; /* scale 1: ties land on halves */
    for (int j = 1; j < 256; j++) x[j] = (float)(j % 50) - 24.5f;
    x[300] = -0.0f;
    /* a block with NaN, one with inf, one NaN-only (hostile weights can
     * put them in activations): whatever the rule, levels agree */
    x[520] = NAN; x[1030] = INFINITY; x[1040] = -INFINITY;
    for (int j = 1536; j < 1568; j++) x[j] = NAN;
    /* F16's edges: subnormal halves and their ties, the overflow boundary */
    static const float edge[] = {6e-8f, 2.98e-8f, 5.96046448e-8f * 1.5f, 6.1e-5f, -3e-7f, 1e-9f,
                                 65504.0f, 65519.99f, 65520.0f, -70000.0f, 1e-45f};
    for (size_t j = 0; j < sizeof edge / sizeof edge[0]; j++) x[2001 + j] = edge[j];
    /* BF16's: ties to even (down, then up), the largest float (to inf), a
     * float subnormal (kept, not flushed) */
    static const uint32_t bf_edge[] = {0x3f808000u, 0x3f818000u, 0xbf818000u, 0x7f7fffffu, 0x00012345u};
    for (size_t j = 0; j < sizeof bf_edge / sizeof bf_edge[0]; j++) memcpy(&x[2100 + j], &bf_edge[j], 4);
    /* Q8_K's sign comes from the first element of the largest magnitude:
     * blocks with -m before +m, and +m before -m, in different vectors */
    x[2304 + 19] = -50.5f; x[2304 + 200] = 50.5f;
    x[2560 + 3] = 50.5f; x[2560 + 4] = -50.5f;
    for (int l = 0; l < N_LEVELS; l++)
        for (size_t i = 0; i < sizeof at / sizeof at[0]; i++) {
            const tf_type_kernels *f = tf_kernels_level_of(k_levels[l], at[i]);
            if (!f)
                continue;
            size_t bytes = tf_row_size(at[i], n);
            uint8_t *qf = xmalloc(bytes), *qr = xmalloc(bytes);
            f->from_float(x, qf, n);
            tf_kernels_ref_of(at[i])->from_float(x, qr, n);
            if (memcmp(qf, qr, bytes) != 0)
                fail_msg("%s %s quantizer differs from ref", k_levels[l], tf_type_name(at[i]));
            /* the float formats convert any length: the SIMD tails */
            for (int64_t m = n - 15; (at[i] == TF_TYPE_F16 || at[i] == TF_TYPE_BF16) && m < n; m += 2) {
                memset(qf, 0, bytes);
                memset(qr, 0, bytes);
                f->from_float(x + 1, qf, m);
                tf_kernels_ref_of(at[i])->from_float(x + 1, qr, m);
                if (memcmp(qf, qr, bytes) != 0)
                    fail_msg("%s %s conversion of %lld floats differs from ref", k_levels[l],
                             tf_type_name(at[i]), (long long)m);
            }
            free(qf);
            free(qr);
        }
    /* Halves back to floats: every bit pattern, NaNs with their payloads
     * (signalling ones too), the same on every level. */
    uint16_t all[65536];
    for (int j = 0; j < 65536; j++) all[j] = (uint16_t)j;
    float *fr = malloc(sizeof(float) * 65536), *fl = malloc(sizeof(float) * 65536);
    assert_true(fr && fl);
    tf_kernels_ref_of(TF_TYPE_F16)->to_float(all, fr, 65536);
    for (int l = 0; l < N_LEVELS; l++) {
        const tf_type_kernels *f = tf_kernels_level_of(k_levels[l], TF_TYPE_F16);
        if (!f) continue;
        for (int off = 0; off < 3; off++) { /* the SIMD tails too */
            f->to_float(all + off, fl, 65536 - off);
            assert_memory_equal(fl, fr + off, sizeof(float) * (size_t)(65536 - off));
        }
    }
    free(fr);
    free(fl);
    /* A signalling NaN becomes a quiet one with its payload's top bits on
     * every level (F16 only: activations reach the int8 quantizers after
     * arithmetic, which has quieted any NaN already). */
    uint32_t snan[16];
    for (int j = 0; j < 16; j++) snan[j] = 0x7f812345u + (uint32_t)j * 0x2000u;
    for (int l = 0; l < N_LEVELS; l++) {
        const tf_type_kernels *f = tf_kernels_level_of(k_levels[l], TF_TYPE_F16),
                              *b = tf_kernels_level_of(k_levels[l], TF_TYPE_BF16);
        uint16_t hf[16], hr[16];
        if (!f) continue;
        f->from_float((const float *)snan, hf, 16);
        tf_kernels_ref_of(TF_TYPE_F16)->from_float((const float *)snan, hr, 16);
        assert_memory_equal(hf, hr, sizeof hf);
        assert_int_equal(hr[0], 0x7e09); /* quiet, payload 0x012345 >> 13 */
        /* BF16 too (f16_as_bf16 converts weights, which no arithmetic quieted) */
        b->from_float((const float *)snan, hf, 16);
        tf_kernels_ref_of(TF_TYPE_BF16)->from_float((const float *)snan, hr, 16);
        assert_memory_equal(hf, hr, sizeof hf);
        assert_int_equal(hr[0], 0x7fc1); /* quiet, top payload bits 0x01 */
    }
    free(x);
}

/* ---- SwiGLU -------------------------------------------------------------- */

/* The residual add and the RMS norm: every level gives the reference's
 * bits at every offset and length (tails included) and in place; the
 * reference add is IEEE addition, the reference norm within 1e-6 of the
 * norm computed in long double. */
static void test_add_norm(void **state)
{
    (void)state;
    enum { N = 6000 };
    uint64_t s = 91;
    float *a = malloc(N * sizeof *a), *b = malloc(N * sizeof *b), *w = malloc(N * sizeof *w);
    float *want = malloc(N * sizeof *want), *got = malloc(N * sizeof *got);
    assert_true(a && b && w && want && got);
    for (int i = 0; i < N; i++) {
        a[i] = tu_randf(&s) * (i % 5 == 0 ? 3e3f : 2.0f);
        b[i] = tu_randf(&s) * 2.0f;
        w[i] = 0.5f + tu_randf(&s);
    }
    a[3] = NAN; b[4] = INFINITY; a[5] = -INFINITY; b[5] = INFINITY; a[6] = -0.0f; b[6] = 0.0f;
    const tf_type_kernels *ref = tf_kernels_ref_of(TF_TYPE_F32);
    assert_non_null(ref->add);
    assert_non_null(ref->rms_norm);
    ref->add(a, b, want, N);
    for (int i = 0; i < N; i++) {
        float e = a[i] + b[i];
        if (memcmp(&e, &want[i], 4) != 0 && !(isnan(e) && isnan(want[i])))
            fail_msg("ref add: element %d = %.9g, want %.9g", i, want[i], e);
    }
    static const int ns[] = {1, 7, 8, 9, 15, 16, 17, 31, 33, 2048, 5632, 5633};
    for (size_t j = 0; j < sizeof ns / sizeof ns[0]; j++) { /* ref norm against long double */
        int n = ns[j];
        long double ss = 0;
        for (int i = 0; i < n; i++) ss += (long double)b[i] * b[i];
        long double sc = 1.0L / sqrtl(ss / n + 1e-5L);
        ref->rms_norm(b, w, 1e-5f, got, n);
        for (int i = 0; i < n; i++) {
            long double e = b[i] * sc * w[i];
            if (fabsl(got[i] - e) > 1e-6L * fabsl(e) + 1e-30L)
                fail_msg("ref rms_norm n %d: element %d = %.9g, want %.9Lg", n, i, got[i], e);
        }
    }
    float *wn = malloc(N * sizeof *wn);
    assert_non_null(wn);
    int levels = 0;
    for (int l = 0; l < N_LEVELS; l++) {
        const tf_type_kernels *k = tf_kernels_level_of(k_levels[l], TF_TYPE_F32);
        if (!k)
            continue;
        levels++;
        for (int off = 0; off < 3; off++)
            for (size_t j = 0; j < sizeof ns / sizeof ns[0]; j++) {
                int n = ns[j];
                memset(got, 0x55, N * sizeof *got);
                k->add(a + off, b + off, got + off, n);
                for (int i = 0; i < N; i++) {
                    bool inside = i >= off && i < off + n;
                    uint32_t gb, wb, fill = 0x55555555;
                    memcpy(&gb, &got[i], 4);
                    memcpy(&wb, &want[i], 4);
                    if (inside ? gb != wb && !(isnan(got[i]) && isnan(want[i])) : gb != fill)
                        fail_msg("%s add off %d n %d: element %d = %.9g, ref %.9g%s", k_levels[l], off, n, i,
                                 got[i], want[i], inside ? "" : " (written outside the range)");
                }
                ref->rms_norm(a + off + 7, w + off, 1e-6f, wn, n);
                memset(got, 0x55, N * sizeof *got);
                k->rms_norm(a + off + 7, w + off, 1e-6f, got + off, n);
                if (memcmp(got + off, wn, (size_t)n * 4) != 0)
                    fail_msg("%s rms_norm off %d n %d differs from ref", k_levels[l], off, n);
                for (int i = 0; i < N; i++) {
                    uint32_t gb;
                    memcpy(&gb, &got[i], 4);
                    if ((i < off || i >= off + n) && gb != 0x55555555)
                        fail_msg("%s rms_norm off %d n %d: wrote element %d", k_levels[l], off, n, i);
                }
            }
        /* in place: out over a (add), out over x (norm) */
        memcpy(got, a, N * sizeof *got);
        k->add(got, b, got, N);
        for (int i = 0; i < N; i++)
            if (memcmp(&got[i], &want[i], 4) != 0 && !(isnan(got[i]) && isnan(want[i])))
                fail_msg("%s add in place: element %d = %.9g, ref %.9g", k_levels[l], i, got[i], want[i]);
        ref->rms_norm(b, w, 1e-5f, wn, 5633);
        memcpy(got, b, N * sizeof *got);
        k->rms_norm(got, w, 1e-5f, got, 5633);
        assert_memory_equal(got, wn, 5633 * sizeof *got);
    }
    printf("  add, rms_norm: %d levels equal the reference bit for bit\n", levels);
    free(a);
    free(b);
    free(w);
    free(wn);
    free(want);
    free(got);
}

/* Every level gives the reference's bits (NaN for NaN) for every element,
 * at every offset and length (the SIMD tails included), and the reference
 * is within 1e-6 relative of silu(g) * u computed in double. */
static void test_swiglu(void **state)
{
    (void)state;
    enum { N = 1000 };
    static const float special[] = {0.0f, -0.0f, 1.0f, -1.0f, 86.9f, -86.9f, 87.0f, -87.0f, 88.0f,
                                    -88.0f, 88.5f, -88.5f, 100.0f, -100.0f, 1e-30f, -1e-30f, 1e-40f,
                                    3e38f, -3e38f, INFINITY, -INFINITY, NAN, 0.3466f, -0.3466f};
    const int ns = (int)(sizeof special / sizeof special[0]);
    uint64_t s = 77;
    float *g = malloc(N * sizeof *g), *u = malloc(N * sizeof *u);
    float *want = malloc(N * sizeof *want), *got = malloc(N * sizeof *got);
    assert_true(g && u && want && got);
    for (int i = 0; i < N; i++) {
        g[i] = i < ns ? special[i] : tu_randf(&s) * (i % 3 == 0 ? 120.0f : i % 3 == 1 ? 12.0f : 1.0f);
        u[i] = i < 2 * ns && i >= ns ? special[i - ns] : tu_randf(&s) * 4.0f;
    }
    tf_swiglu_fn ref = tf_kernels_ref_of(TF_TYPE_F32)->swiglu;
    assert_non_null(ref);
    ref(g, u, want, N);
    double worst = 0;
    for (int i = 2 * ns; i < N; i++) {
        double e = (double)g[i] / (1.0 + exp(-(double)g[i])) * u[i], err = fabs(want[i] - e);
        if (g[i] < -87.0f) { /* exp(-g) clamped at e^88: the result is ~0 either way */
            if (err > 1e-30)
                fail_msg("ref swiglu(%.9g, %.9g) = %.9g, exact %.9g", g[i], u[i], want[i], e);
        } else if (err / fabs(e) > worst) {
            worst = err / fabs(e);
        }
    }
    if (worst > 1e-6)
        fail_msg("ref swiglu: relative error %.3g against double", worst);
    int levels = 0;
    for (int l = 0; l < N_LEVELS; l++) {
        const tf_type_kernels *k = tf_kernels_level_of(k_levels[l], TF_TYPE_F32);
        if (!k)
            continue;
        levels++;
        for (int off = 0; off < 5; off++)
            for (int n = 0; n <= 37; n++) {
                memset(got, 0x55, N * sizeof *got);
                k->swiglu(g + off, u + off, got + off, n);
                for (int i = 0; i < N; i++) {
                    bool inside = i >= off && i < off + n;
                    float w = want[i];
                    uint32_t gb, wb, fill = 0x55555555;
                    memcpy(&gb, &got[i], 4);
                    memcpy(&wb, &w, 4);
                    bool same = inside ? (gb == wb || (isnan(got[i]) && isnan(w))) : gb == fill;
                    if (!same)
                        fail_msg("%s swiglu off %d n %d: element %d (g %.9g u %.9g) = %.9g, ref %.9g%s",
                                 k_levels[l], off, n, i, g[i], u[i], got[i], w,
                                 inside ? "" : " (written outside the range)");
                }
            }
        /* the long run, and in place over g */
        memcpy(got, g, N * sizeof *got);
        k->swiglu(got, u, got, N);
        for (int i = 0; i < N; i++)
            if (memcmp(&got[i], &want[i], 4) != 0 && !(isnan(got[i]) && isnan(want[i])))
                fail_msg("%s swiglu in place: element %d = %.9g, ref %.9g", k_levels[l], i, got[i], want[i]);
    }
    printf("  swiglu: %d levels equal the reference bit for bit; ref vs double %.2g relative\n", levels, worst);
    free(g);
    free(u);
    free(want);
    free(got);
}

static void test_selection(void **state)
{
    (void)state;
    const char *env = getenv("TINFER_KERNELS");
    char *saved = env ? strdup(env) : NULL;
    unsetenv("TINFER_KERNELS");
    const char *best = tf_kernels_init(false);
    printf("  best level: %s; available:", best);
    for (int l = 0; l < N_LEVELS; l++) {
        bool have = tf_kernels_level_of(k_levels[l], TF_TYPE_Q4_0) != NULL;
        if (have)
            printf(" %s", k_levels[l]);
        setenv("TINFER_KERNELS", k_levels[l], 1);
        const char *got = tf_kernels_init(false);
        if (have) {
            assert_string_equal(got, k_levels[l]);
            assert_ptr_equal(tf_kernels_of(TF_TYPE_Q4_K),
                             tf_kernels_level_of(k_levels[l], TF_TYPE_Q4_K));
        }
        assert_string_equal(tf_kernels_init(true), "ref");
    }
    printf("\n");
    assert_null(tf_kernels_level_of("sse9", TF_TYPE_Q4_0));
    assert_null(tf_kernels_level_of("ref", TF_TYPE_COUNT));
    assert_non_null(tf_kernels_level_of("ref", TF_TYPE_Q8_K));
    setenv("TINFER_KERNELS", "bogus", 1); /* unknown names are ignored */
    assert_string_equal(tf_kernels_init(false), best);
    unsetenv("TINFER_KERNELS");
    assert_string_equal(tf_kernels_init(false), best);
    if (saved) {
        setenv("TINFER_KERNELS", saved, 1);
        tf_kernels_init(false);
        free(saved);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_selection),
        cmocka_unit_test(test_exact_integer),
        cmocka_unit_test(test_realistic),
        cmocka_unit_test(test_gemm),
        cmocka_unit_test(test_packed),
        cmocka_unit_test(test_quantizers),
        cmocka_unit_test(test_swiglu),
        cmocka_unit_test(test_add_norm),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
