/* gemm.c - matrix products: the reference ones (a vec_dot per output
 * element, the oracle) and the cache-blocking walk the SIMD files hand
 * their tile kernels to.
 *
 * The walk never changes what an element is: each (row, token) pair is
 * computed by exactly one tile call, and tile kernels compute every pair
 * the way their vec_dot does, so the blocking below (or the thread split
 * of the caller) affects speed only, never the bytes of the result.
 */
#include "ref.h"

#define REF_GEMM(t)                                                                     \
    void tf_ref_gemm_##t(int64_t n, const void *w, size_t ws, int nw, const void *a,   \
                         size_t as, int na, float *out, size_t os)                     \
    {                                                                                   \
        for (int r = 0; r < nw; r++)                                                    \
            for (int j = 0; j < na; j++)                                                \
                out[(size_t)j * os + r] = tf_ref_vec_dot_##t(                           \
                    n, (const uint8_t *)w + (size_t)r * ws, (const uint8_t *)a + (size_t)j * as); \
    }
REF_GEMM(f32)
REF_GEMM(f16)
REF_GEMM(bf16)
REF_GEMM(q4_0)
REF_GEMM(q4_1)
REF_GEMM(q5_0)
REF_GEMM(q5_1)
REF_GEMM(q8_0)
REF_GEMM(iq4_nl)
REF_GEMM(q2_K)
REF_GEMM(q3_K)
REF_GEMM(q4_K)
REF_GEMM(q5_K)
REF_GEMM(q6_K)

/* Bytes of weight rows and of activation rows one block should hold: a
 * block of each (plus the tile's working set) stays within a typical L2,
 * so weights come from memory once per token block and activations are
 * re-read from L2 for every tile of rows. */
#define ROW_BLOCK_BYTES (128u << 10)
#define TOK_BLOCK_BYTES (256u << 10)

static int block_of(size_t budget, size_t stride, int tile, int total)
{
    size_t k = stride ? budget / stride : (size_t)total;
    k = k / (size_t)tile * (size_t)tile;
    if (k < (size_t)tile)
        k = (size_t)tile;
    return k > (size_t)total ? total : (int)k;
}

void tf_gemm_drive(tf_tile_fn tile, int tw, int ta, int64_t n, const void *w, size_t ws, int nw,
                   const void *a, size_t as, int na, float *out, size_t os)
{
    if (nw <= 0 || na <= 0)
        return;
    const uint8_t *wb = w, *ab = a;
    if (na < ta) {
        /* Small batches (decoding): row after row, so the weights, which
         * come from memory, are read as one contiguous stream.  Tiles of
         * several rows read several short streams at once, which measured
         * half as fast once the matrix no longer fits in cache. */
        for (int r = 0; r < nw; r++)
            tile(n, wb + (size_t)r * ws, ws, 1, a, as, na, out + r, os);
        return;
    }
    int rb = block_of(ROW_BLOCK_BYTES, ws, tw, nw), tb = block_of(TOK_BLOCK_BYTES, as, ta, na);
    for (int r0 = 0; r0 < nw; r0 += rb) {
        int r1 = r0 + rb < nw ? r0 + rb : nw;
        for (int t0 = 0; t0 < na; t0 += tb) {
            int t1 = t0 + tb < na ? t0 + tb : na;
            for (int r = r0; r < r1; r += tw) {
                int nr = r1 - r < tw ? r1 - r : tw;
                for (int t = t0; t < t1; t += ta) {
                    int nt = t1 - t < ta ? t1 - t : ta;
                    tile(n, wb + (size_t)r * ws, ws, nr, ab + (size_t)t * as, as, nt,
                         out + (size_t)t * os + r, os);
                }
            }
        }
    }
}
