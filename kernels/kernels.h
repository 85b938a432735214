/* kernels.h - tensor types and the one kernel dispatch table.
 *
 * Every tensor type GGUF defines has a traits row (name, block size, block
 * bytes).  Types tinfer can compute with also have kernels: a dequantizer,
 * a quantizer and a dot product against the activation format the type
 * pairs with (its "vec_dot_type", the same pairing GGUF engines use, so our
 * rounding matches the reference engine's).
 *
 * The portable C kernels in kernels/ref_*.c are the oracle; per-ISA files
 * may replace table entries at start-up (tf_kernels_init) but must agree
 * with the reference (exactly on integer paths, to float rounding otherwise).
 */
#ifndef TF_KERNELS_H
#define TF_KERNELS_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>

/* Type ids are GGUF's (ggml_type) so they can be stored in files as-is. */
enum tf_type {
    TF_TYPE_F32 = 0,
    TF_TYPE_F16 = 1,
    TF_TYPE_Q4_0 = 2,
    TF_TYPE_Q4_1 = 3,
    TF_TYPE_Q5_0 = 6,
    TF_TYPE_Q5_1 = 7,
    TF_TYPE_Q8_0 = 8,
    TF_TYPE_Q8_1 = 9,
    TF_TYPE_Q2_K = 10,
    TF_TYPE_Q3_K = 11,
    TF_TYPE_Q4_K = 12,
    TF_TYPE_Q5_K = 13,
    TF_TYPE_Q6_K = 14,
    TF_TYPE_Q8_K = 15,
    TF_TYPE_IQ4_NL = 20,
    TF_TYPE_BF16 = 30,
    TF_TYPE_COUNT = 40 /* ids >= this are unknown */
};

#define TF_QK 32    /* block size of the 32-element formats */
#define TF_QK_K 256 /* block size of the K-quant super-blocks */

typedef struct tf_type_traits {
    const char *name; /* NULL: id unknown to GGUF */
    uint32_t blck;    /* elements per block */
    uint32_t size;    /* bytes per block */
    bool compute;     /* tinfer computes with it as a weight type.  Q8_1 and
                       * Q8_K have kernels (tf_kernels_of gives their
                       * to_float/from_float) but only as activation
                       * formats: compute is false, vec_dot is NULL. */
} tf_type_traits;

/* Traits of type id, or NULL when id is not a GGUF type at all.
 * A non-NULL row with compute == false is a known but unsupported type. */
const tf_type_traits *tf_type_traits_of(uint32_t id);

/* Name of a type id ("Q4_K"), "unknown" for ids outside GGUF. */
const char *tf_type_name(uint32_t id);

/* Bytes of a row of n elements of type id; 0 when n is not a whole number
 * of blocks or the type is unknown. */
size_t tf_row_size(uint32_t id, int64_t n);

/* n elements of type -> float. n is a multiple of the block size. */
typedef void (*tf_to_float_fn)(const void *src, float *dst, int64_t n);
/* n floats -> type (round to nearest as the reference quantizers do). */
typedef void (*tf_from_float_fn)(const float *src, void *dst, int64_t n);
/* Dot product of n elements: w in the weight type, a in its vec_dot_type. */
typedef float (*tf_vec_dot_fn)(int64_t n, const void *w, const void *a);

/* Matrix product of nr_w weight rows (w, rows w_stride bytes apart) and
 * nr_a activation rows (a, a_stride apart), n elements each:
 *   out[t * out_stride + r] = w_r . a_t   for r < nr_w, t < nr_a.
 * Each element is bit-identical to vec_dot(n, w_r, a_t) of the same table
 * (same integer block sums, same float operations in the same order), so
 * callers may split a product between gemm and vec_dot, or between
 * threads, any way they like and get the same bytes.  Any nr_w, nr_a >= 0;
 * the kernel tiles (and cache-blocks) internally. */
typedef void (*tf_gemm_fn)(int64_t n, const void *w, size_t w_stride, int nr_w,
                           const void *a, size_t a_stride, int nr_a, float *out,
                           size_t out_stride);

/* Product of packed weights (see "Packed weights" below) with na rows of
 * activations in the type's packed activation format (a, a_stride apart):
 *   out[t * out_stride + 16 g + r] = row (16 g + r) . a_t,  g < ng, t < na,
 * where wp points at group 0 of the range.  Each element is bit-identical
 * to the reference vec_dot of the unpacked row with the same activations
 * (same integer sums, same float operations in the same order), whatever
 * na, ng or the thread split. */
typedef void (*tf_pack_gemm_fn)(int64_t n, const void *wp, int ng, const void *a,
                                size_t a_stride, int na, float *out, size_t out_stride);

/* out[i] = silu(g[i]) * u[i] = g[i] / (1 + exp(-g[i])) * u[i], i < n (the
 * SwiGLU of gate and up).  Every level computes the same exponential
 * polynomial (act.h) with the same operations, so results are identical
 * on every level and for any split of the rows; out may alias g or u. */
typedef void (*tf_swiglu_fn)(const float *g, const float *u, float *out, int64_t n);

/* out[i] = a[i] + b[i], i < n; out may alias a or b. */
typedef void (*tf_add_fn)(const float *a, const float *b, float *out, int64_t n);

/* RMS norm of one row: out[i] = x[i] * s * w[i] with s = 1 / sqrt(mean of
 * x^2 + eps), the squares summed in double in 8 interleaved partial sums
 * (element i into sum i % 8) combined as ((0+1)+(2+3))+((4+5)+(6+7)).
 * Every level keeps that order, so every level gives the same bits; out
 * may alias x. */
typedef void (*tf_rms_norm_fn)(const float *x, const float *w, float eps, float *out, int64_t n);

typedef struct tf_type_kernels {
    tf_to_float_fn to_float;
    tf_from_float_fn from_float;
    uint32_t vec_dot_type;
    tf_vec_dot_fn vec_dot;
    tf_gemm_fn gemm; /* NULL for the activation-only formats */
    tf_pack_gemm_fn pack_gemm; /* NULL: this level keeps the type's rows as they are */
    tf_swiglu_fn swiglu; /* the F32 row's: elementwise work on F32 activations */
    tf_add_fn add;       /* the F32 row's */
    tf_rms_norm_fn rms_norm; /* the F32 row's */
} tf_type_kernels;

/* Pick the best kernels for this CPU.  force_ref keeps the portable ones.
 * The TINFER_KERNELS environment variable caps the level: "ref", "avx2",
 * "avx512" (or "neon" on Arm); a level the CPU lacks falls back to the
 * best one below it.  Idempotent and thread-safe; returns the name of the
 * selected level. */
const char *tf_kernels_init(bool force_ref);

/* Name of the level tf_kernels_of serves now ("ref" before any init). */
const char *tf_kernels_active(void);

/* Kernels of type id at a named level ("ref", "avx2", "avx512", "neon"),
 * whatever is selected; NULL when this CPU (or this build) lacks the level
 * or the type has no kernels.  For tests and benchmarks. */
const tf_type_kernels *tf_kernels_level_of(const char *level, uint32_t id);

/* Kernels of type id (NULL if it has none).  tf_kernels_init must have run. */
const tf_type_kernels *tf_kernels_of(uint32_t id);

/* The portable reference table, whatever the CPU (for tests). */
const tf_type_kernels *tf_kernels_ref_of(uint32_t id);

/* ---- Packed weights ------------------------------------------------------
 * A level may compute a type from row-interleaved copies of its matrices,
 * in groups of TF_PACK_ROWS rows.  A group holds, block column after block
 * column, the column's half-float scales (per scale field, the 16 rows'
 * halves), then the column's other bytes as 4-byte words, word w of row r
 * at word index 16 w + r (so one 64-byte load holds the same 4 bytes of all
 * 16 rows, which is what an int8 dot product with a broadcast activation
 * word wants).  A group is read front to back as one stream, which is what
 * keeps decoding at memory speed (the hardware prefetchers follow one
 * ascending stream per thread; a separate stream of scales measured half as
 * fast).  A group takes exactly TF_PACK_ROWS row sizes of bytes.  Q8_0 words
 * are stored with the sign bit flipped (q + 128, so the kernels can use
 * unsigned x signed byte products); Q6_K's words are put in the order its
 * kernel reads them (ref_pack.c).  F16 (n a multiple of 16) is laid out for
 * float kernels that keep 16 lanes per row instead: chunks of 16 columns,
 * blocks of 32 chunks, and within a block the chunks of rows 0-3, then of
 * rows 4-7, ... (pack.h), so decoding reads one stream while it computes
 * all 16 rows (rows read side by side from the file's layout are streams a
 * page apart, which measured half as fast from memory) and a prompt tile
 * of 4 rows reads one 4 KB run per block (a quad's chunks side by side in
 * 512-byte chunks measured 10% slower: they fell into a quarter of the L1
 * cache's sets); its product is the AVX-512 row kernel's, bit for bit.
 * The layout is the same on every level; the kernels using it are per
 * level (pack_gemm). */
#define TF_PACK_ROWS 16

/* Whether rows of n elements of type have a packed layout (pack_gemm may
 * still be NULL). */
bool tf_pack_supported(uint32_t type, int64_t n);

/* Packs TF_PACK_ROWS rows of n elements (src, rows stride bytes apart) into
 * dst (TF_PACK_ROWS * tf_row_size(type, n) bytes). */
void tf_pack_rows(uint32_t type, const void *src, size_t stride, int64_t n, void *dst);

/* The packed products' activation format: bytes of a row of n elements, and
 * the quantizer (the same values as the vec_dot_type's quantizer; Q4_0 and
 * Q8_0 add each block's integer sum, the K-quants use Q8_K as it is, F16
 * has the F16 values stored as floats, so kernels need not convert them
 * for every row). */
size_t tf_pack_act_row_size(uint32_t type, int64_t n);
void tf_pack_act_from_float(uint32_t type, const float *x, void *dst, int64_t n);

/* The portable product over packed weights: unpacks each block and calls
 * the reference vec_dot on it (F16: the AVX-512 row kernel's arithmetic,
 * in C).  The oracle the SIMD pack_gemm entries are tested against (bit
 * for bit); not installed in any table. */
void tf_ref_pack_gemm(uint32_t type, int64_t n, const void *wp, int ng, const void *a,
                      size_t a_stride, int na, float *out, size_t out_stride);

/* Half-precision conversions (exact IEEE rounding, round to nearest even). */
float tf_f16_to_f32(uint16_t h);
uint16_t tf_f32_to_f16(float f);
float tf_bf16_to_f32(uint16_t h);
uint16_t tf_f32_to_bf16(float f);

#endif
