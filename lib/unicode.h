/* unicode.h - UTF-8 decoding and the character classes the tokenizers need.
 *
 * Categories come from utf8proc (tf_uc_version() names the Unicode version).
 * Where the reference engine deviates from plain Unicode, these functions
 * deviate the same way, because token ids must match it exactly; each such
 * place says so.
 */
#ifndef TF_UNICODE_H
#define TF_UNICODE_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>

/* Character class bits returned by tf_uc_flags. */
enum {
    TF_UC_L = 1 << 0,  /* letter (L*) */
    TF_UC_N = 1 << 1,  /* number (N*) */
    TF_UC_P = 1 << 2,  /* punctuation (P*) */
    TF_UC_S = 1 << 3,  /* symbol (S*) */
    TF_UC_M = 1 << 4,  /* mark (M*) */
    TF_UC_WS = 1 << 5, /* White_Space property */
    TF_UC_OTHER = 1 << 6 /* none of the above (C*, unassigned): never 0 */
};

#define TF_UC_REPLACEMENT 0xFFFDu

/* Decode one code point from s[0..len) (len >= 1).  Lenient like the
 * reference engine: a lead byte followed by the right number of
 * continuation bytes is accepted even when overlong or a surrogate; any
 * other byte decodes as U+FFFD consuming one byte.  *adv gets the bytes
 * consumed (1..4). */
uint32_t tf_utf8_decode(const unsigned char *s, size_t len, size_t *adv);

/* Encode cp (<= 0x10FFFF) into out; returns 1..4. */
size_t tf_utf8_encode(uint32_t cp, unsigned char out[4]);

/* Length of the sequence a lead byte announces, from its high nibble only
 * (continuation and ASCII bytes: 1).  SentencePiece splits text this way,
 * without validating, so invalid bytes later fall back to byte tokens. */
static inline size_t tf_utf8_seq_len(unsigned char lead)
{
    static const unsigned char len[16] = {1, 1, 1, 1, 1, 1, 1, 1,
                                          1, 1, 1, 1, 2, 2, 3, 4};
    return len[lead >> 4];
}

/* Bytes at the end of s[0..n) that start a UTF-8 sequence not yet
 * complete (0..3): what a streaming decoder must hold back. */
size_t tf_utf8_incomplete_tail(const unsigned char *s, size_t n);

/* Class bits of cp.  ASCII punctuation/symbols follow the reference
 * engine's table: P is Unicode's P, S is "$+<=>^`|" (it leaves '~' out). */
unsigned tf_uc_flags(uint32_t cp);

/* "15.0.0" */
const char *tf_uc_version(void);

/* GPT-2 byte-level map: every byte <-> one printable code point. */
uint32_t tf_bytemap_cp(uint8_t b);
int tf_bytemap_byte(uint32_t cp); /* -1 if cp is not in the map */

#endif
