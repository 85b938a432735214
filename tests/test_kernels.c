/* test_kernels.c - type traits, half-float conversions, and the kernels of
 * every computable type on synthetic data:
 *   known-answer blocks built byte by byte (pins the bit layouts),
 *   quantize -> dequantize error bounds on random data,
 *   vec_dot against a float64 dot of the dequantized operands,
 *   the selected (possibly SIMD) table against the reference table.
 * The real-file cross-checks are in test_kernels_files.c.
 */
#include "testutil.h"
#include <math.h>
#include "kernels.h"

static const uint32_t k_weight_types[] = {
    TF_TYPE_F32, TF_TYPE_F16, TF_TYPE_BF16, TF_TYPE_Q4_0, TF_TYPE_Q4_1,
    TF_TYPE_Q5_0, TF_TYPE_Q5_1, TF_TYPE_Q8_0, TF_TYPE_IQ4_NL, TF_TYPE_Q2_K,
    TF_TYPE_Q3_K, TF_TYPE_Q4_K, TF_TYPE_Q5_K, TF_TYPE_Q6_K,
};
#define N_WEIGHT_TYPES (sizeof k_weight_types / sizeof k_weight_types[0])

static float *rand_vec(int64_t n, uint64_t seed)
{
    float *v = malloc((size_t)n * sizeof *v);
    assert_non_null(v);
    uint64_t s = seed * 0x9E3779B97F4A7C15ull + 1;
    for (int64_t i = 0; i < n; i++)
        v[i] = tu_randf(&s);
    return v;
}

static void *quantize(uint32_t type, const float *x, int64_t n)
{
    size_t bytes = tf_row_size(type, n);
    assert_true(bytes > 0);
    void *q = malloc(bytes);
    assert_non_null(q);
    tf_kernels_ref_of(type)->from_float(x, q, n);
    return q;
}

static float *dequantize(uint32_t type, const void *q, int64_t n)
{
    float *x = malloc((size_t)n * sizeof *x);
    assert_non_null(x);
    tf_kernels_ref_of(type)->to_float(q, x, n);
    return x;
}

/* ---- traits ------------------------------------------------------------ */

static void test_traits(void **state)
{
    (void)state;
    static const struct {
        uint32_t id; const char *name; uint32_t blck, size; bool compute;
    } k[] = {
        {0, "F32", 1, 4, true}, {1, "F16", 1, 2, true}, {2, "Q4_0", 32, 18, true},
        {3, "Q4_1", 32, 20, true}, {6, "Q5_0", 32, 22, true}, {7, "Q5_1", 32, 24, true},
        {8, "Q8_0", 32, 34, true}, {9, "Q8_1", 32, 36, false}, {10, "Q2_K", 256, 84, true},
        {11, "Q3_K", 256, 110, true}, {12, "Q4_K", 256, 144, true},
        {13, "Q5_K", 256, 176, true}, {14, "Q6_K", 256, 210, true},
        {15, "Q8_K", 256, 292, false}, {16, "IQ2_XXS", 256, 66, false},
        {17, "IQ2_XS", 256, 74, false}, {18, "IQ3_XXS", 256, 98, false},
        {19, "IQ1_S", 256, 50, false}, {20, "IQ4_NL", 32, 18, true},
        {21, "IQ3_S", 256, 110, false}, {22, "IQ2_S", 256, 82, false},
        {23, "IQ4_XS", 256, 136, false}, {24, "I8", 1, 1, false},
        {25, "I16", 1, 2, false}, {26, "I32", 1, 4, false}, {27, "I64", 1, 8, false},
        {28, "F64", 1, 8, false}, {29, "IQ1_M", 256, 56, false},
        {30, "BF16", 1, 2, true}, {34, "TQ1_0", 256, 54, false},
        {35, "TQ2_0", 256, 66, false}, {39, "MXFP4", 32, 17, false},
    };
    const int nk = (int)(sizeof k / sizeof k[0]);
    for (int i = 0; i < nk; i++) {
        const tf_type_traits *t = tf_type_traits_of(k[i].id);
        assert_non_null(t);
        assert_string_equal(t->name, k[i].name);
        assert_string_equal(tf_type_name(k[i].id), k[i].name);
        assert_int_equal(t->blck, k[i].blck);
        assert_int_equal(t->size, k[i].size);
        assert_int_equal(t->compute, k[i].compute);
        assert_int_equal(tf_row_size(k[i].id, 4096), 4096 / k[i].blck * k[i].size);
        /* every computable type (and the activation formats) has kernels */
        bool has = k[i].compute || k[i].id == TF_TYPE_Q8_1 || k[i].id == TF_TYPE_Q8_K;
        assert_int_equal(tf_kernels_ref_of(k[i].id) != NULL, has);
        if (k[i].compute)
            assert_non_null(tf_kernels_ref_of(k[i].id)->vec_dot);
    }
    int known = 0;
    for (uint32_t id = 0; id < 300; id++)
        known += tf_type_traits_of(id) != NULL;
    assert_int_equal(known, nk);
    assert_null(tf_type_traits_of(4));
    assert_null(tf_type_traits_of(31));
    assert_null(tf_type_traits_of(40));
    assert_string_equal(tf_type_name(5), "unknown");
    assert_string_equal(tf_type_name(0xffffffffu), "unknown");
    assert_null(tf_kernels_ref_of(TF_TYPE_COUNT));
    assert_null(tf_kernels_ref_of(16));
    /* partial blocks, negative counts, unknown types and wrapping sizes */
    assert_int_equal(tf_row_size(TF_TYPE_Q4_0, 33), 0);
    assert_int_equal(tf_row_size(TF_TYPE_Q4_K, 128), 0);
    assert_int_equal(tf_row_size(TF_TYPE_F32, -1), 0);
    assert_int_equal(tf_row_size(4, 32), 0);
    assert_int_equal(tf_row_size(28 /* F64 */, INT64_MAX), 0);
    assert_int_equal(tf_row_size(TF_TYPE_F32, 3), 12);
}

static void test_pairing(void **state)
{
    (void)state;
    static const uint32_t pair[][2] = {
        {TF_TYPE_F32, TF_TYPE_F32}, {TF_TYPE_F16, TF_TYPE_F16},
        {TF_TYPE_BF16, TF_TYPE_BF16}, {TF_TYPE_Q4_0, TF_TYPE_Q8_0},
        {TF_TYPE_Q4_1, TF_TYPE_Q8_1}, {TF_TYPE_Q5_0, TF_TYPE_Q8_0},
        {TF_TYPE_Q5_1, TF_TYPE_Q8_1}, {TF_TYPE_Q8_0, TF_TYPE_Q8_0},
        {TF_TYPE_IQ4_NL, TF_TYPE_Q8_0}, {TF_TYPE_Q2_K, TF_TYPE_Q8_K},
        {TF_TYPE_Q3_K, TF_TYPE_Q8_K}, {TF_TYPE_Q4_K, TF_TYPE_Q8_K},
        {TF_TYPE_Q5_K, TF_TYPE_Q8_K}, {TF_TYPE_Q6_K, TF_TYPE_Q8_K},
    };
    /* The environment may force "ref" (a run of the reference path):
     * test the selection without it, then put it back. */
    const char *env = getenv("TINFER_KERNELS");
    char *saved = env ? strdup(env) : NULL;
    unsetenv("TINFER_KERNELS");
    const char *isa = tf_kernels_init(false);
    assert_non_null(isa);
    for (size_t i = 0; i < sizeof pair / sizeof pair[0]; i++) {
        assert_int_equal(tf_kernels_ref_of(pair[i][0])->vec_dot_type, pair[i][1]);
        assert_int_equal(tf_kernels_of(pair[i][0])->vec_dot_type, pair[i][1]);
    }
    assert_string_equal(tf_kernels_init(true), "ref");
    for (size_t i = 0; i < N_WEIGHT_TYPES; i++)
        assert_ptr_equal(tf_kernels_of(k_weight_types[i]), tf_kernels_ref_of(k_weight_types[i]));
    setenv("TINFER_KERNELS", "ref", 1);
    assert_string_equal(tf_kernels_init(false), "ref");
    unsetenv("TINFER_KERNELS");
    assert_string_equal(tf_kernels_init(false), isa);
    assert_null(tf_kernels_of(TF_TYPE_COUNT));
    if (saved) {
        setenv("TINFER_KERNELS", saved, 1);
        free(saved);
    }
}

/* ---- half floats ------------------------------------------------------- */

static uint32_t fbits(float f) { uint32_t u; memcpy(&u, &f, 4); return u; }
static float bitsf(uint32_t u) { float f; memcpy(&f, &u, 4); return f; }

static void test_f16_edges(void **state)
{
    (void)state;
    static const struct { uint16_t h; float f; } exact[] = {
        {0x0000, 0.0f}, {0x3c00, 1.0f}, {0xc000, -2.0f}, {0x0001, 0x1p-24f},
        {0x03ff, 1023 * 0x1p-24f}, {0x0400, 0x1p-14f}, {0x7bff, 65504.0f},
        {0xfbff, -65504.0f}, {0x3555, 0x1.554p-2f}, {0x8001, -0x1p-24f},
    };
    for (size_t i = 0; i < sizeof exact / sizeof exact[0]; i++) {
        assert_true(tf_f16_to_f32(exact[i].h) == exact[i].f);
        assert_int_equal(tf_f32_to_f16(exact[i].f), exact[i].h);
    }
    assert_int_equal(fbits(tf_f16_to_f32(0x8000)), 0x80000000u); /* -0 */
    assert_int_equal(tf_f32_to_f16(-0.0f), 0x8000);
    assert_true(isinf(tf_f16_to_f32(0x7c00)) && tf_f16_to_f32(0x7c00) > 0);
    assert_true(isinf(tf_f16_to_f32(0xfc00)) && tf_f16_to_f32(0xfc00) < 0);
    assert_true(isnan(tf_f16_to_f32(0x7e00)) && isnan(tf_f16_to_f32(0x7c01)));
    assert_int_equal(tf_f32_to_f16(INFINITY), 0x7c00);
    assert_int_equal(tf_f32_to_f16(-INFINITY), 0xfc00);
    uint16_t hn = tf_f32_to_f16(NAN);
    assert_true((hn & 0x7c00) == 0x7c00 && (hn & 0x3ff) != 0);
    /* a NaN whose payload lies only in the low bits must not become inf */
    hn = tf_f32_to_f16(bitsf(0x7f800001u));
    assert_true((hn & 0x7c00) == 0x7c00 && (hn & 0x3ff) != 0);
    /* overflow: 65520 is the tie between 65504 and 65536 -> even -> inf */
    assert_int_equal(tf_f32_to_f16(65519.99f), 0x7bff);
    assert_int_equal(tf_f32_to_f16(65520.0f), 0x7c00);
    assert_int_equal(tf_f32_to_f16(1e10f), 0x7c00);
    assert_int_equal(tf_f32_to_f16(-1e10f), 0xfc00);
    /* ties to even, normal range: 1 + 2^-11 is halfway between 0x3c00/01 */
    assert_int_equal(tf_f32_to_f16(1.0f + 0x1p-11f), 0x3c00);
    assert_int_equal(tf_f32_to_f16(1.0f + 3 * 0x1p-11f), 0x3c02);
    assert_int_equal(tf_f32_to_f16(1.0f + 0x1p-11f + 0x1p-20f), 0x3c01);
    /* subnormal range: ties to even, carry into the smallest normal */
    assert_int_equal(tf_f32_to_f16(0x1p-25f), 0x0000);
    assert_int_equal(tf_f32_to_f16(0x1.000002p-25f), 0x0001);
    assert_int_equal(tf_f32_to_f16(3 * 0x1p-25f), 0x0002);
    assert_int_equal(tf_f32_to_f16(1023.5f * 0x1p-24f), 0x0400);
    assert_int_equal(tf_f32_to_f16(1e-30f), 0x0000);
    assert_int_equal(tf_f32_to_f16(-1e-30f), 0x8000);
    assert_int_equal(tf_f32_to_f16(bitsf(1)), 0x0000); /* float subnormal */
    /* every half survives a round trip through float */
    for (uint32_t h = 0; h < 0x10000; h++) {
        float f = tf_f16_to_f32((uint16_t)h);
        if (isnan(f)) {
            uint16_t r = tf_f32_to_f16(f);
            assert_true((r & 0x7c00) == 0x7c00 && (r & 0x3ff) != 0);
        } else {
            assert_int_equal(tf_f32_to_f16(f), h);
        }
    }
}

/* Random floats near the half range against an independent rounding rule:
 * the result's neighbours must be no closer, and a tie must pick even. */
static void test_f16_random(void **state)
{
    (void)state;
    uint64_t s = 12345;
    for (int i = 0; i < 1000000; i++) {
        uint32_t u = tu_rand(&s) ^ (tu_rand(&s) << 9);
        /* exponents 2^-26 .. 2^17, both signs */
        u = (u & 0x807fffffu) | (uint32_t)(101 + (tu_rand(&s) % 44)) << 23;
        float f = bitsf(u);
        uint16_t h = tf_f32_to_f16(f);
        double x = fabs((double)f), got = fabs((double)tf_f16_to_f32(h));
        assert_int_equal(h >> 15, u >> 31);
        if ((h & 0x7fff) == 0x7c00) {
            assert_true(x >= 65520.0);
            continue;
        }
        double up = fabs((double)tf_f16_to_f32((uint16_t)((h & 0x7fff) + 1)));
        double dn = (h & 0x7fff) ? fabs((double)tf_f16_to_f32((uint16_t)((h & 0x7fff) - 1))) : -1;
        double e = fabs(got - x);
        if ((h & 0x7fff) != 0x7bff)
            assert_true(e < fabs(up - x) || (e == fabs(up - x) && (h & 1) == 0));
        if (dn >= 0)
            assert_true(e < fabs(dn - x) || (e == fabs(dn - x) && (h & 1) == 0));
    }
}

static void test_bf16_edges(void **state)
{
    (void)state;
    assert_int_equal(tf_f32_to_bf16(1.0f), 0x3f80);
    assert_true(tf_bf16_to_f32(0x3f80) == 1.0f);
    assert_true(tf_bf16_to_f32(0xc040) == -3.0f);
    assert_int_equal(fbits(tf_bf16_to_f32(0x8000)), 0x80000000u);
    assert_int_equal(tf_f32_to_bf16(-0.0f), 0x8000);
    /* ties to even, both directions, and just above a tie */
    assert_int_equal(tf_f32_to_bf16(bitsf(0x3f808000u)), 0x3f80);
    assert_int_equal(tf_f32_to_bf16(bitsf(0x3f818000u)), 0x3f82);
    assert_int_equal(tf_f32_to_bf16(bitsf(0x3f808001u)), 0x3f81);
    assert_int_equal(tf_f32_to_bf16(bitsf(0x3f807fffu)), 0x3f80);
    /* subnormals round like everything else */
    assert_int_equal(tf_f32_to_bf16(bitsf(0x00008000u)), 0x0000);
    assert_int_equal(tf_f32_to_bf16(bitsf(0x00018000u)), 0x0002);
    assert_int_equal(tf_f32_to_bf16(bitsf(0x00010000u)), 0x0001);
    assert_true(tf_bf16_to_f32(0x0001) == bitsf(0x00010000u));
    /* inf, overflow by rounding, NaN (low payload must stay NaN) */
    assert_int_equal(tf_f32_to_bf16(INFINITY), 0x7f80);
    assert_int_equal(tf_f32_to_bf16(-INFINITY), 0xff80);
    assert_int_equal(tf_f32_to_bf16(bitsf(0x7f7fffffu)), 0x7f80);
    assert_int_equal(tf_f32_to_bf16(bitsf(0x7f7f7fffu)), 0x7f7f);
    uint16_t n1 = tf_f32_to_bf16(bitsf(0x7f800001u)), n2 = tf_f32_to_bf16(bitsf(0xffc00000u));
    assert_true((n1 & 0x7f80) == 0x7f80 && (n1 & 0x7f) != 0);
    assert_true((n2 & 0xff80) == 0xff80 && (n2 & 0x7f) != 0);
    assert_true(isnan(tf_bf16_to_f32(n1)));
    for (uint32_t h = 0; h < 0x10000; h++) {
        float f = tf_bf16_to_f32((uint16_t)h);
        if (!isnan(f))
            assert_int_equal(tf_f32_to_bf16(f), h);
    }
}

/* ---- known answers ----------------------------------------------------- */

static void put16(uint8_t *b, int off, uint16_t v) { b[off] = (uint8_t)v; b[off + 1] = (uint8_t)(v >> 8); }

#define H_0_25 0x3400
#define H_0_5 0x3800
#define H_1 0x3c00
#define H_2 0x4000
#define H_M1 0xbc00
#define H_M8 0xc800

/* Dequantizes blk (one block of type) and compares every element. */
static void check_block(uint32_t type, const uint8_t *blk, const float *want)
{
    int n = (int)tf_type_traits_of(type)->blck;
    float got[256];
    tf_kernels_ref_of(type)->to_float(blk, got, n);
    for (int i = 0; i < n; i++) {
        if (got[i] != want[i])
            fail_msg("%s element %d: got %g want %g", tf_type_name(type), i, got[i], want[i]);
    }
}

static void fill(float *w, int n, float v) { for (int i = 0; i < n; i++) w[i] = v; }

static void test_known_32(void **state)
{
    (void)state;
    uint8_t b[64];
    float w[32];

    /* Q4_0: d=0.5; low nibble = element j, high nibble = element j+16 */
    memset(b, 0x88, sizeof b); put16(b, 0, H_0_5);
    b[2 + 0] = 0x9f; b[2 + 15] = 0x07;
    fill(w, 32, 0); w[0] = 3.5f; w[16] = 0.5f; w[15] = -0.5f; w[31] = -4.0f;
    check_block(TF_TYPE_Q4_0, b, w);

    /* Q4_1: d=0.5, m=1 */
    memset(b, 0, sizeof b); put16(b, 0, H_0_5); put16(b, 2, H_1);
    b[4 + 0] = 0x9f;
    fill(w, 32, 1.0f); w[0] = 8.5f; w[16] = 5.5f;
    check_block(TF_TYPE_Q4_1, b, w);

    /* Q5_0: d=1; qh bit 0 -> element 0, bit 17 -> element 17 */
    memset(b, 0, sizeof b); put16(b, 0, H_1);
    b[2] = 0x01; b[4] = 0x02;          /* qh = 0x00020001 */
    b[6 + 0] = 0x53; b[6 + 1] = 0x0f;  /* qs */
    fill(w, 32, -16.0f); w[0] = 3; w[16] = -11; w[1] = -1; w[17] = 0;
    check_block(TF_TYPE_Q5_0, b, w);

    /* Q5_1: d=0.5, m=-8, same quants */
    memset(b, 0, sizeof b); put16(b, 0, H_0_5); put16(b, 2, H_M8);
    b[4] = 0x01; b[6] = 0x02;
    b[8 + 0] = 0x53; b[8 + 1] = 0x0f;
    fill(w, 32, -8.0f); w[0] = 1.5f; w[16] = -5.5f; w[1] = -0.5f; w[17] = 0;
    check_block(TF_TYPE_Q5_1, b, w);

    /* Q8_0 and Q8_1: d=0.25, plain int8 */
    memset(b, 0, sizeof b); put16(b, 0, H_0_25);
    for (int j = 0; j < 32; j++) { b[2 + j] = (uint8_t)(int8_t)(j - 16); w[j] = (j - 16) * 0.25f; }
    b[2 + 31] = 0x80; w[31] = -32.0f;
    check_block(TF_TYPE_Q8_0, b, w);
    memset(b, 0, sizeof b); put16(b, 0, H_0_25); put16(b, 2, H_M1);
    for (int j = 0; j < 32; j++) b[4 + j] = (uint8_t)(int8_t)(j - 16);
    b[4 + 31] = 0x80;
    check_block(TF_TYPE_Q8_1, b, w);

    /* IQ4_NL: d=0.5, index 0 -> -127, 15 -> 113, 8 -> 1 */
    memset(b, 0x88, sizeof b); put16(b, 0, H_0_5);
    b[2 + 0] = 0xf0;
    fill(w, 32, 0.5f); w[0] = -63.5f; w[16] = 56.5f;
    check_block(TF_TYPE_IQ4_NL, b, w);
}

static void test_known_k_low(void **state)
{
    (void)state;
    uint8_t b[292];
    float w[256];

    /* Q2_K: scales@0 (lo nibble scale, hi nibble min), qs@16, d@80, dmin@82.
     * d=1, dmin=0.5.  2-bit field k of qs byte l covers element 32k + l
     * (+128 for bytes 32..63). */
    memset(b, 0, sizeof b); put16(b, 80, H_1); put16(b, 82, H_0_5);
    b[0] = 0x21; b[1] = 0x03; b[2] = 0x15; b[8] = 0x07;
    b[16 + 0] = 0xe4;  /* elements 0, 32, 64, 96 = 0, 1, 2, 3 */
    b[16 + 16] = 0x03; /* element 16 = 3 */
    b[16 + 32] = 0x02; /* element 128 = 2 */
    fill(w, 256, 0);
    fill(w, 16, -1.0f);         /* sub-block 0: 1*q - 0.5*2 */
    w[16] = 9;                  /* sub-block 1: 3*3 */
    fill(w + 32, 16, -0.5f);    /* sub-block 2: 5*q - 0.5*1 */
    w[32] = 4.5f;
    w[128] = 14;                /* sub-block 8: 7*2; 64, 96 have scale 0 */
    check_block(TF_TYPE_Q2_K, b, w);

    /* Q3_K: hmask@0, qs@32, scales@96, d@108; d=1.  Scale j: low nibble in
     * byte j%8 (high nibble for j>=8), top 2 bits in byte 8 + j%4 at 2*(j/4);
     * a clear hmask bit subtracts 4. */
    memset(b, 0, sizeof b); put16(b, 108, H_1);
    memset(b, 0xff, 32);
    memset(b + 96 + 8, 0xaa, 4); /* all top bits 2: scale = low nibble */
    b[96 + 0] = 0x01;            /* sc0 = 1 */
    b[96 + 1] = 0x50;            /* sc9 = 5 */
    b[96 + 7] = 0xf0;            /* sc15 low = 15 ... */
    b[96 + 11] = 0x2a;           /* ... top bits 0 -> 15 - 32 = -17 */
    b[0] &= 0xfe;                /* element 0: -4 */
    b[32 + 0] = 0x01;            /* element 0: 1 - 4 = -3 */
    b[32 + 48] = 0x03;           /* element 144 = 3 (hmask[16] bit 4 set) */
    b[32 + 63] = 0x40;           /* element 255: field 3 = 1 */
    b[31] &= 0x7f;               /* ... hmask[31] bit 7 clear: 1 - 4 = -3 */
    fill(w, 256, 0);
    w[0] = -3; w[144] = 15; w[255] = 51;
    /* every other element of sub-blocks 0, 9, 15 is 0 only because its q
     * is 0; the scale of the rest is 0 */
    check_block(TF_TYPE_Q3_K, b, w);
}

/* Q4_K/Q5_K scales for sc = {1,2,3,4,33,34,35,63}, m = {0,1,0,0,17,0,0,2}. */
static const uint8_t k_scales_k4[12] = {
    0x81, 0x82, 0x83, 0xc4, 0x40, 0x01, 0x00, 0x00, 0x11, 0x02, 0x03, 0x2f,
};

static void test_known_k_high(void **state)
{
    (void)state;
    uint8_t b[292];
    float w[256];

    /* Q4_K: d@0 dmin@2 scales@4 qs@16; d=dmin=1; sub-block j = 32 elements;
     * byte l of each 32-byte group holds element 64g + l (low nibble) and
     * 64g + 32 + l (high nibble). */
    memset(b, 0, sizeof b); put16(b, 0, H_1); put16(b, 2, H_1);
    memcpy(b + 4, k_scales_k4, 12);
    b[16 + 0] = 0x21;   /* e0 = 1*1 - 0, e32 = 2*2 - 1 */
    b[16 + 69] = 0x0a;  /* e133 = 33*10 - 17 */
    b[16 + 127] = 0xf0; /* e255 = 63*15 - 2 */
    fill(w, 256, 0);
    fill(w + 32, 32, -1); fill(w + 128, 32, -17); fill(w + 224, 32, -2);
    w[0] = 1; w[32] = 3; w[133] = 313; w[255] = 943;
    check_block(TF_TYPE_Q4_K, b, w);

    /* Q5_K: d@0 dmin@2 scales@4 qh@16 qs@48; fifth bit e/32 of qh[e%32] */
    memset(b, 0, sizeof b); put16(b, 0, H_1); put16(b, 2, H_1);
    memcpy(b + 4, k_scales_k4, 12);
    b[48 + 0] = 0x21; b[48 + 69] = 0x0a; b[48 + 127] = 0xf0;
    b[16 + 0] = 0x01;  /* e0: 17 */
    b[16 + 5] = 0x10;  /* e133: 26 */
    b[16 + 31] = 0x80; /* e255: 31 */
    fill(w, 256, 0);
    fill(w + 32, 32, -1); fill(w + 128, 32, -17); fill(w + 224, 32, -2);
    w[0] = 17; w[32] = 3; w[133] = 33 * 26 - 17; w[255] = 63 * 31 - 2;
    check_block(TF_TYPE_Q5_K, b, w);

    /* Q6_K: ql@0 qh@128 scales@192 d@208; d=0.5.  qh fields of 2 set q to
     * (nibble | 32) - 32 = nibble. */
    memset(b, 0, sizeof b); put16(b, 208, H_0_5);
    memset(b + 128, 0xaa, 64);
    for (int j = 0; j < 16; j++) b[192 + j] = 1;
    b[192 + 0] = 2; b[192 + 2] = (uint8_t)-3; b[192 + 8] = 0x80; b[192 + 15] = 127;
    b[0] = 0x75;         /* e0 = nibble 5, e64 = nibble 7 */
    b[128 + 0] = 0xa2;   /* e32: qh field 1 = 0, ql[32] = 0 -> -32 */
    b[128 + 32] = 0xa8;  /* e128: qh[32] field 0 = 0 -> -32 */
    b[127] = 0xf0;       /* e255: nibble 15 ... */
    b[128 + 63] = 0xea;  /* ... qh[63] field 3 = 3 -> 63 - 32 = 31 */
    fill(w, 256, 0);
    w[0] = 0.5f * 2 * 5; w[64] = 0.5f * 7; w[32] = 48; w[128] = 2048; w[255] = 1968.5f;
    check_block(TF_TYPE_Q6_K, b, w);

    /* Q8_K: float d@0, qs@4, bsums@260 */
    memset(b, 0, sizeof b);
    float d = 0.5f;
    memcpy(b, &d, 4);
    for (int j = 0; j < 256; j++) { b[4 + j] = (uint8_t)(j - 128); w[j] = (j - 128) * 0.5f; }
    check_block(TF_TYPE_Q8_K, b, w);
}

static void test_known_float(void **state)
{
    (void)state;
    uint16_t h[3] = {0x3c00, 0xc200, 0x7bff}, bf[2] = {0x4049, 0xbf80};
    float f[3];
    tf_kernels_ref_of(TF_TYPE_F16)->to_float(h, f, 3);
    assert_true(f[0] == 1.0f && f[1] == -3.0f && f[2] == 65504.0f);
    tf_kernels_ref_of(TF_TYPE_BF16)->to_float(bf, f, 2);
    assert_true(f[0] == 3.140625f && f[1] == -1.0f);
    float src[2] = {2.5f, -7.0f};
    tf_kernels_ref_of(TF_TYPE_F32)->to_float(src, f, 2);
    assert_true(f[0] == 2.5f && f[1] == -7.0f);
}

/* The activation quantizers' documented rules. */
static void test_activation_rules(void **state)
{
    (void)state;
    float x[256];
    uint64_t s = 99;
    for (int i = 0; i < 256; i++) x[i] = tu_randf(&s) * 3;
    x[77] = 5.0f; /* largest magnitude, positive */
    uint8_t qk[292];
    tf_kernels_ref_of(TF_TYPE_Q8_K)->from_float(x, qk, 256);
    float d;
    memcpy(&d, qk, 4);
    assert_int_equal((int8_t)qk[4 + 77], -127); /* maps to -127 whatever its sign */
    assert_float_equal(d, -5.0f / 127, 1e-7);
    for (int j = 0; j < 16; j++) {
        int sum = 0;
        for (int l = 0; l < 16; l++) sum += (int8_t)qk[4 + 16 * j + l];
        int16_t bs;
        memcpy(&bs, qk + 260 + 2 * j, 2);
        assert_int_equal(bs, sum);
    }
    /* Q8_1: d = amax/127, q = round(x/d), s = d * sum(q) */
    uint8_t q1[36];
    tf_kernels_ref_of(TF_TYPE_Q8_1)->from_float(x + 64, q1, 32);
    float d1 = tf_f16_to_f32((uint16_t)(q1[0] | q1[1] << 8));
    int sum = 0;
    for (int j = 0; j < 32; j++) sum += (int8_t)q1[4 + j];
    assert_int_equal((int8_t)q1[4 + 13], 127); /* x[77] is element 13 */
    assert_int_equal(q1[2] | q1[3] << 8, tf_f32_to_f16((float)sum * (5.0f / 127)));
    assert_float_equal(d1, 5.0f / 127, 1e-5);
    /* roundf: exact halves go away from zero */
    float h[32] = {0};
    h[0] = 127.0f; h[1] = 2.5f; h[2] = -2.5f; h[3] = 3.5f;
    uint8_t q0[34];
    tf_kernels_ref_of(TF_TYPE_Q8_0)->from_float(h, q0, 32);
    assert_int_equal((int8_t)q0[3], 3);
    assert_int_equal((int8_t)q0[4], -3);
    assert_int_equal((int8_t)q0[5], 4);
    /* an all-zero block quantizes to zeros with d = 0 */
    memset(x, 0, sizeof x);
    memset(qk, 0x55, sizeof qk);
    tf_kernels_ref_of(TF_TYPE_Q8_K)->from_float(x, qk, 256);
    for (int i = 0; i < 292; i++) assert_int_equal(qk[i], 0);
}

/* ---- round trip ---------------------------------------------------------- */

static double rms_roundtrip(uint32_t type, const float *x, int64_t n)
{
    void *q = quantize(type, x, n);
    float *y = dequantize(type, q, n);
    double e = 0;
    for (int64_t i = 0; i < n; i++)
        e += ((double)y[i] - x[i]) * ((double)y[i] - x[i]);
    free(q);
    free(y);
    return sqrt(e / (double)n);
}

static void test_roundtrip(void **state)
{
    (void)state;
    /* RMS error of uniform[-1,1) data (RMS 0.577).  Bounds sit ~20% above
     * what the quantizers measure (uniform data: about step/sqrt(12)); a
     * broken packer lands near 0.5+. */
    static const struct { uint32_t type; double bound; } k[] = {
        {TF_TYPE_F32, 0.0}, {TF_TYPE_F16, 1.5e-4}, {TF_TYPE_BF16, 1.2e-3},
        {TF_TYPE_Q8_0, 0.0028}, {TF_TYPE_Q8_1, 0.0028}, {TF_TYPE_Q8_K, 0.0025},
        {TF_TYPE_Q4_0, 0.045}, {TF_TYPE_Q4_1, 0.042}, {TF_TYPE_Q5_0, 0.022},
        {TF_TYPE_Q5_1, 0.021}, {TF_TYPE_IQ4_NL, 0.045}, {TF_TYPE_Q2_K, 0.17},
        {TF_TYPE_Q3_K, 0.085}, {TF_TYPE_Q4_K, 0.038}, {TF_TYPE_Q5_K, 0.019},
        {TF_TYPE_Q6_K, 0.009},
    };
    const int64_t n = 8192;
    float *x = rand_vec(n, 7);
    for (size_t i = 0; i < sizeof k / sizeof k[0]; i++) {
        double e = rms_roundtrip(k[i].type, x, n);
        printf("  round trip %-7s rms %.5f (bound %.5f)\n", tf_type_name(k[i].type), e, k[i].bound);
        assert_true(e <= k[i].bound);
    }
    /* All-zero and constant blocks must survive too (no NaN from 0/0). */
    float z[512];
    memset(z, 0, sizeof z);
    for (size_t i = 0; i < sizeof k / sizeof k[0]; i++)
        assert_true(rms_roundtrip(k[i].type, z, 512) == 0);
    fill(z, 512, -0.75f);
    for (size_t i = 0; i < sizeof k / sizeof k[0]; i++)
        assert_true(rms_roundtrip(k[i].type, z, 512) < 1e-3);
    free(x);
}

/* ---- vec_dot ------------------------------------------------------------- */

static uint16_t rd16(const uint8_t *p) { return (uint16_t)(p[0] | p[1] << 8); }

/* The float64 value the dot of w (weight type) and a (its vec_dot_type)
 * must approximate: sum of the products of the dequantized elements.  Q8_1
 * carries s = f16(d * sum(q)) and the dot uses it for the offset term, so
 * the oracle replaces m * d * sum(q) by m * s block by block. */
static double dot_oracle(uint32_t type, const void *w, const void *a, int64_t n, double *mag)
{
    uint32_t at = tf_kernels_ref_of(type)->vec_dot_type;
    float *x = dequantize(type, w, n), *y = dequantize(at, a, n);
    double sum = 0, m = 0;
    for (int64_t i = 0; i < n; i++) {
        sum += (double)x[i] * y[i];
        m += fabs((double)x[i] * y[i]);
    }
    if (at == TF_TYPE_Q8_1) {
        size_t wsz = tf_type_traits_of(type)->size;
        for (int64_t b = 0; b < n / 32; b++) {
            const uint8_t *wb = (const uint8_t *)w + b * wsz, *ab = (const uint8_t *)a + b * 36;
            double mn = tf_f16_to_f32(rd16(wb + 2)), dsum = 0;
            for (int j = 0; j < 32; j++)
                dsum += (double)y[b * 32 + j];
            sum += mn * (tf_f16_to_f32(rd16(ab + 2)) - dsum);
        }
    }
    free(x);
    free(y);
    *mag = m;
    return sum;
}

/* Dots of random rows against the float64 oracle, for both tables.  The
 * tolerance is relative to sum |w_i a_i| (what float rounding scales with,
 * unlike the possibly cancelling result).  Integer block sums are exact, so
 * only float accumulation differs: measured ~3e-8, allowed 2e-6. */
static void test_vec_dot(void **state)
{
    (void)state;
    tf_kernels_init(false);
    static const int64_t sizes32[] = {32, 96, 224, 256, 512, 4096};
    static const int64_t sizesK[] = {256, 768, 1792, 512, 4096};
    double worst = 0;
    for (size_t t = 0; t < N_WEIGHT_TYPES; t++) {
        uint32_t type = k_weight_types[t];
        bool kq = tf_type_traits_of(type)->blck == 256;
        const int64_t *sz = kq ? sizesK : sizes32;
        size_t nsz = kq ? sizeof sizesK / sizeof sizesK[0] : sizeof sizes32 / sizeof sizes32[0];
        uint32_t at = tf_kernels_ref_of(type)->vec_dot_type;
        for (size_t s = 0; s < nsz; s++) {
            int64_t n = sz[s];
            float *xw = rand_vec(n, 100 + t * 16 + s), *xa = rand_vec(n, 900 + t * 16 + s);
            for (int64_t i = 0; i < n; i++) /* activations with outliers */
                xa[i] *= (i % 61 == 3) ? 20.0f : 1.0f;
            void *w = quantize(type, xw, n), *a = quantize(at, xa, n);
            double mag, want = dot_oracle(type, w, a, n, &mag);
            float got_ref = tf_kernels_ref_of(type)->vec_dot(n, w, a);
            float got = tf_kernels_of(type)->vec_dot(n, w, a);
            double e1 = fabs(got_ref - want) / mag, e2 = fabs(got - want) / mag;
            if (e1 > 2e-6 || e2 > 2e-6)
                fail_msg("%s n=%lld: ref %.9g fast %.9g want %.9g (mag %.3g)",
                         tf_type_name(type), (long long)n, got_ref, got, want, mag);
            worst = fmax(worst, fmax(e1, e2));
            free(xw); free(xa); free(w); free(a);
        }
    }
    printf("  vec_dot worst error / sum|w a|: %.3g\n", worst);
}

/* A deliberately wrong dot (swapped halves) must fail the tolerance: the
 * check above can fail. */
static void test_vec_dot_sensitivity(void **state)
{
    (void)state;
    const int64_t n = 256;
    float *xw = rand_vec(n, 5), *xa = rand_vec(n, 6);
    uint8_t *w = quantize(TF_TYPE_Q4_0, xw, n);
    void *a = quantize(TF_TYPE_Q8_0, xa, n);
    for (int b = 0; b < 8; b++) /* swap nibbles of every byte */
        for (int j = 0; j < 16; j++) {
            uint8_t v = w[b * 18 + 2 + j];
            w[b * 18 + 2 + j] = (uint8_t)(v >> 4 | v << 4);
        }
    double mag, want;
    float *xs = dequantize(TF_TYPE_Q4_0, w, n); /* swapped weights ... */
    float *ya = dequantize(TF_TYPE_Q8_0, a, n);
    want = 0;
    mag = 0;
    for (int64_t i = 0; i < n; i++) { /* ... dotted as if unswapped */
        int64_t k = (i & ~31) + ((i & 31) ^ 16);
        want += (double)xs[k] * ya[i];
        mag += fabs((double)xs[k] * ya[i]);
    }
    float got = tf_kernels_ref_of(TF_TYPE_Q4_0)->vec_dot(n, w, a);
    assert_true(fabs(got - want) / mag > 1e-2);
    free(xw); free(xa); free(w); free(a); free(xs); free(ya);
}

/* The selected table against the reference on each entry it replaced:
 * quantizers must produce the same bytes, dots agree to float rounding. */
static void test_fast_vs_ref(void **state)
{
    (void)state;
    const char *isa = tf_kernels_init(false);
    printf("  selected kernels: %s\n", isa);
    static const uint32_t types[] = {
        TF_TYPE_F32, TF_TYPE_F16, TF_TYPE_BF16, TF_TYPE_Q4_0, TF_TYPE_Q4_1,
        TF_TYPE_Q5_0, TF_TYPE_Q5_1, TF_TYPE_Q8_0, TF_TYPE_Q8_1, TF_TYPE_IQ4_NL,
        TF_TYPE_Q2_K, TF_TYPE_Q3_K, TF_TYPE_Q4_K, TF_TYPE_Q5_K, TF_TYPE_Q6_K, TF_TYPE_Q8_K,
    };
    const int64_t n = 4096;
    float *x = rand_vec(n, 31337);
    /* Ties are where roundings differ: with 127 as the block maximum the
     * Q8_0 and Q8_K scales are exactly 1, so these land on halves. */
    x[0] = 127.0f;
    for (int j = 1; j < 256; j++)
        x[j] = (float)(j % 50) - 24.5f;
    for (size_t t = 0; t < sizeof types / sizeof types[0]; t++) {
        const tf_type_kernels *f = tf_kernels_of(types[t]), *r = tf_kernels_ref_of(types[t]);
        size_t bytes = tf_row_size(types[t], n);
        uint8_t *qf = malloc(bytes), *qr = malloc(bytes);
        float *yf = malloc(n * sizeof *yf), *yr = malloc(n * sizeof *yr);
        f->from_float(x, qf, n);
        r->from_float(x, qr, n);
        if (memcmp(qf, qr, bytes) != 0)
            fail_msg("%s: %s quantizer differs from ref", tf_type_name(types[t]), isa);
        f->to_float(qr, yf, n);
        r->to_float(qr, yr, n);
        assert_memory_equal(yf, yr, n * sizeof *yf);
        if (r->vec_dot) { /* same integer sums; float summation order only */
            uint32_t at = r->vec_dot_type;
            void *qa = quantize(at, x, n);
            double mag = 0;
            for (int64_t i = 0; i < n; i++)
                mag += fabs((double)yr[i] * x[i]);
            float df = f->vec_dot(n, qr, qa), dr = r->vec_dot(n, qr, qa);
            if (fabs((double)df - dr) > 1e-6 * mag)
                fail_msg("%s: %s dot %.9g, ref %.9g", tf_type_name(types[t]), isa, df, dr);
            free(qa);
        }
        free(qf); free(qr); free(yf); free(yr);
    }
    free(x);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_traits),
        cmocka_unit_test(test_pairing),
        cmocka_unit_test(test_f16_edges),
        cmocka_unit_test(test_f16_random),
        cmocka_unit_test(test_bf16_edges),
        cmocka_unit_test(test_known_32),
        cmocka_unit_test(test_known_k_low),
        cmocka_unit_test(test_known_k_high),
        cmocka_unit_test(test_known_float),
        cmocka_unit_test(test_activation_rules),
        cmocka_unit_test(test_roundtrip),
        cmocka_unit_test(test_vec_dot),
        cmocka_unit_test(test_vec_dot_sensitivity),
        cmocka_unit_test(test_fast_vs_ref),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
