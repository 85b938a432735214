/* dequant.glsl - one weight type's decoder, chosen at build time by
 * TYPE_<NAME>.  dq4(rb, q, K) returns elements 4q .. 4q+3 of the row that
 * starts at byte rb of W0 (a row holds K elements); elements at or past K
 * are 0 (only F32/F16 rows can end inside a quad).  Block layouts are
 * GGUF's, read straight from the file's bytes (see kernels/ref.h):
 *
 *   Q4_0  18 B: f16 d, 16 B nibbles          x = d (q - 8)
 *   Q4_1  20 B: f16 d, f16 m, 16 B nibbles   x = d q + m
 *   Q5_0  22 B: f16 d, u32 qh, 16 B nibbles  x = d (q - 16)
 *   Q5_1  24 B: f16 d, f16 m, u32 qh, 16 B   x = d q + m
 *   Q8_0  34 B: f16 d, 32 int8               x = d q
 *   byte j of the nibbles holds element j (low) and j + 16 (high); bit i of
 *   qh is element i's fifth bit.
 *   Q4_K 144 B / Q5_K 176 B / Q6_K 210 B per 256 elements: see below.
 *
 * Quads never straddle a block: blocks hold 32 or 256 elements.
 */
#include "common.glsl"

vec4 nib_lo(uint v) { return vec4(v & 15u, (v >> 8) & 15u, (v >> 16) & 15u, (v >> 24) & 15u); }
vec4 nib_hi(uint v) { return vec4((v >> 4) & 15u, (v >> 12) & 15u, (v >> 20) & 15u, v >> 28); }
vec4 bits_at(uint v, uint sh)
{
    return vec4((v >> sh) & 1u, (v >> (sh + 1u)) & 1u, (v >> (sh + 2u)) & 1u, (v >> (sh + 3u)) & 1u);
}
vec4 bytes_s8(uint v)
{
    ivec4 b = ivec4(int(v << 24) >> 24, int(v << 16) >> 24, int(v << 8) >> 24, int(v) >> 24);
    return vec4(b);
}

#if defined(TYPE_F32)
vec4 dq4(uint rb, uint q, uint K)
{
    uint e = 4u * q, i = (rb >> 2) + e;
    if (e + 4u <= K) return vec4(uintBitsToFloat(w0.w[i]), uintBitsToFloat(w0.w[i + 1u]),
                                 uintBitsToFloat(w0.w[i + 2u]), uintBitsToFloat(w0.w[i + 3u]));
    vec4 r = vec4(0.0);
    for (uint c = 0u; c < 4u; c++) if (e + c < K) r[c] = uintBitsToFloat(w0.w[i + c]);
    return r;
}
#elif defined(TYPE_F16)
vec4 dq4(uint rb, uint q, uint K)
{
    uint e = 4u * q, b = rb + 8u * q;
    if (e + 4u <= K) return vec4(unpackHalf2x16(w0_u32(b)), unpackHalf2x16(w0_u32(b + 4u)));
    vec4 r = vec4(0.0);
    for (uint c = 0u; c < 4u; c++) if (e + c < K) r[c] = h2f(w0_u16(b + 2u * c));
    return r;
}
#elif defined(TYPE_Q4_0)
vec4 dq4(uint rb, uint q, uint K)
{
    uint b = rb + (q >> 3) * 18u, qi = q & 7u;
    uint v = w0_u32(b + 2u + 4u * (qi & 3u));
    return ((qi < 4u ? nib_lo(v) : nib_hi(v)) - 8.0) * h2f(w0_u16(b));
}
#elif defined(TYPE_Q4_1)
vec4 dq4(uint rb, uint q, uint K)
{
    uint b = rb + (q >> 3) * 20u, qi = q & 7u;
    uint v = w0_u32(b + 4u + 4u * (qi & 3u));
    return (qi < 4u ? nib_lo(v) : nib_hi(v)) * h2f(w0_u16(b)) + h2f(w0_u16(b + 2u));
}
#elif defined(TYPE_Q5_0)
vec4 dq4(uint rb, uint q, uint K)
{
    uint b = rb + (q >> 3) * 22u, qi = q & 7u;
    uint v = w0_u32(b + 6u + 4u * (qi & 3u));
    vec4 n = (qi < 4u ? nib_lo(v) : nib_hi(v)) + 16.0 * bits_at(w0_u32(b + 2u), 4u * qi);
    return (n - 16.0) * h2f(w0_u16(b));
}
#elif defined(TYPE_Q5_1)
vec4 dq4(uint rb, uint q, uint K)
{
    uint b = rb + (q >> 3) * 24u, qi = q & 7u;
    uint v = w0_u32(b + 8u + 4u * (qi & 3u));
    vec4 n = (qi < 4u ? nib_lo(v) : nib_hi(v)) + 16.0 * bits_at(w0_u32(b + 4u), 4u * qi);
    return n * h2f(w0_u16(b)) + h2f(w0_u16(b + 2u));
}
#elif defined(TYPE_Q8_0)
vec4 dq4(uint rb, uint q, uint K)
{
    uint b = rb + (q >> 3) * 34u, qi = q & 7u;
    return bytes_s8(w0_u32(b + 2u + 4u * qi)) * h2f(w0_u16(b));
}
#elif defined(TYPE_Q4_K) || defined(TYPE_Q5_K)
/* Super-block: f16 d, f16 dmin, 12 B of 6-bit scales and mins (8 each),
 * [Q5_K: 32 B qh, bit j of qh[l] = fifth bit of element 32j + l], 128 B
 * nibbles: sub-block j (32 elements) uses byte 32(j/2) + l, low nibble for
 * even j.  x = d sc_j q - dmin m_j. */
#if defined(TYPE_Q4_K)
#define KQ_BYTES 144u
#define KQ_QS 16u
#else
#define KQ_BYTES 176u
#define KQ_QS 48u
#endif
vec4 dq4(uint rb, uint q, uint K)
{
    uint b = rb + (q >> 6) * KQ_BYTES, qi = q & 63u, j = qi >> 3, l = (qi & 7u) * 4u;
    uint sc, mn;
    if (j < 4u) {
        sc = w0_u8(b + 4u + j) & 63u;
        mn = w0_u8(b + 8u + j) & 63u;
    } else {
        uint s8 = w0_u8(b + 8u + j);
        sc = (s8 & 15u) | ((w0_u8(b + j) >> 6) << 4);
        mn = (s8 >> 4) | ((w0_u8(b + 4u + j) >> 6) << 4);
    }
    uint v = w0_u32(b + KQ_QS + 32u * (j >> 1) + l);
    vec4 n = (j & 1u) == 0u ? nib_lo(v) : nib_hi(v);
#if defined(TYPE_Q5_K)
    uint h = w0_u32(b + 16u + l);
    n += 16.0 * vec4((h >> j) & 1u, (h >> (8u + j)) & 1u, (h >> (16u + j)) & 1u, (h >> (24u + j)) & 1u);
#endif
    float d = h2f(w0_u16(b)) * float(sc), m = h2f(w0_u16(b + 2u)) * float(mn);
    return d * n - m;
}
#elif defined(TYPE_Q6_K)
/* Super-block: 128 B ql (low 4 bits), 64 B qh (high 2 bits), 16 int8
 * scales (one per 16 elements), f16 d.  Element 128g + 32k + l: low bits
 * from ql[64g + 32(k & 1) + l] (high nibble when k >= 2), high bits from
 * qh[32g + l] >> 2k; q in -32..31, x = d sc q. */
vec4 dq4(uint rb, uint q, uint K)
{
    uint b = rb + (q >> 6) * 210u, qi = q & 63u, j = qi >> 3, l = (qi & 7u) * 4u;
    uint g = j >> 2, k = j & 3u;
    uint v = w0_u32(b + 64u * g + 32u * (k & 1u) + l);
    vec4 lo = (k >> 1) == 0u ? nib_lo(v) : nib_hi(v);
    uint h = w0_u32(b + 128u + 32u * g + l) >> (2u * k);
    vec4 hi = vec4(h & 3u, (h >> 8) & 3u, (h >> 16) & 3u, (h >> 24) & 3u);
    int sc = int(w0_u8(b + 192u + 8u * g + 2u * k + (l >> 4)) << 24) >> 24;
    return (h2f(w0_u16(b + 208u)) * float(sc)) * (lo + 16.0 * hi - 32.0);
}
#else
#error "dequant.glsl: define one TYPE_*"
#endif

