/* fuzz_common.h - helpers shared by the libFuzzer targets (tests/fuzz/fuzz_*.c),
 * the seed-corpus generator (mkcorpus.c) and the regression driver
 * (tests/test_fuzz_regress.c, which compiles the targets without libFuzzer).
 *
 * A target checks its invariants with FZ_CHECK: a violated one prints what
 * and where and aborts, which libFuzzer (and the regression driver) report
 * as a crash.  Everything here is static inline so each target and the
 * driver can include it without unused-function warnings.
 */
#ifndef TF_FUZZ_COMMON_H
#define TF_FUZZ_COMMON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FZ_CHECK(cond)                                                              \
    do {                                                                            \
        if (!(cond)) {                                                              \
            fprintf(stderr, "fuzz invariant violated: %s (%s:%d)\n", #cond, __FILE__, \
                    __LINE__);                                                      \
            abort();                                                                \
        }                                                                           \
    } while (0)

/* Root of the reference data: $TINFER_SHARED, else ../shared. */
static inline const char *fz_shared(void)
{
    const char *s = getenv("TINFER_SHARED");
    return s && *s ? s : "../shared";
}

/* Strict UTF-8: no overlong forms, no surrogates, nothing past U+10FFFF. */
static inline bool fz_utf8_valid(const uint8_t *s, size_t n)
{
    size_t i = 0;
    while (i < n) {
        uint8_t c = s[i];
        size_t k;
        uint32_t cp, min;
        if (c < 0x80) { i++; continue; }
        if (c >= 0xC2 && c <= 0xDF) { k = 1; cp = c & 0x1F; min = 0x80; }
        else if (c >= 0xE0 && c <= 0xEF) { k = 2; cp = c & 0x0F; min = 0x800; }
        else if (c >= 0xF0 && c <= 0xF4) { k = 3; cp = c & 0x07; min = 0x10000; }
        else return false;
        if (n - i <= k) return false;
        for (size_t j = 1; j <= k; j++) {
            if ((s[i + j] & 0xC0) != 0x80) return false;
            cp = (cp << 6) | (s[i + j] & 0x3F);
        }
        if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return false;
        i += k + 1;
    }
    return true;
}

/* Little-endian readers over a cursor that yields zeros past the end, so a
 * short input still decodes to something. */
typedef struct fz_cursor {
    const uint8_t *p;
    size_t n, at;
} fz_cursor;

static inline uint64_t fz_take(fz_cursor *c, unsigned bytes)
{
    uint64_t v = 0;
    for (unsigned i = 0; i < bytes; i++, c->at++)
        if (c->at < c->n) v |= (uint64_t)c->p[c->at] << (8 * i);
    return v;
}

static inline float fz_take_f32(fz_cursor *c)
{
    uint32_t u = (uint32_t)fz_take(c, 4);
    float f;
    memcpy(&f, &u, 4);
    return f;
}

/* Sampler inputs (fuzz_sampler.c; mkcorpus.c writes seeds in this layout):
 * the parameters as raw little-endian fields, then n_vocab logits as f32
 * (the input's bytes repeat when it is short), then tokens to accept. */
typedef struct fz_sampler_head {
    float temp;
    int32_t top_k;
    float top_p, min_p, repeat_penalty, presence_penalty, frequency_penalty;
    int32_t penalty_last_n;
    uint64_t seed;
    int16_t n_vocab; /* <= 0 must be rejected */
    uint8_t rounds;  /* sample/accept rounds, taken modulo 4, plus 1 */
} fz_sampler_head;

#define FZ_SAMPLER_HEAD_BYTES 43

static inline void fz_sampler_head_put(const fz_sampler_head *h, uint8_t *out)
{
    uint32_t u[8];
    memcpy(&u[0], &h->temp, 4);
    memcpy(&u[1], &h->top_k, 4);
    memcpy(&u[2], &h->top_p, 4);
    memcpy(&u[3], &h->min_p, 4);
    memcpy(&u[4], &h->repeat_penalty, 4);
    memcpy(&u[5], &h->presence_penalty, 4);
    memcpy(&u[6], &h->frequency_penalty, 4);
    memcpy(&u[7], &h->penalty_last_n, 4);
    size_t o = 0;
    for (int i = 0; i < 8; i++)
        for (int b = 0; b < 4; b++) out[o++] = (uint8_t)(u[i] >> (8 * b));
    for (int b = 0; b < 8; b++) out[o++] = (uint8_t)(h->seed >> (8 * b));
    out[o++] = (uint8_t)((uint16_t)h->n_vocab & 0xff);
    out[o++] = (uint8_t)((uint16_t)h->n_vocab >> 8);
    out[o++] = h->rounds;
}

static inline fz_sampler_head fz_sampler_head_get(fz_cursor *c)
{
    fz_sampler_head h;
    h.temp = fz_take_f32(c);
    h.top_k = (int32_t)(uint32_t)fz_take(c, 4);
    h.top_p = fz_take_f32(c);
    h.min_p = fz_take_f32(c);
    h.repeat_penalty = fz_take_f32(c);
    h.presence_penalty = fz_take_f32(c);
    h.frequency_penalty = fz_take_f32(c);
    h.penalty_last_n = (int32_t)(uint32_t)fz_take(c, 4);
    h.seed = fz_take(c, 8);
    h.n_vocab = (int16_t)(uint16_t)fz_take(c, 2);
    h.rounds = (uint8_t)fz_take(c, 1);
    return h;
}

/* Separator between the template, system text and user text of a chat
 * input (fuzz_chat.c). */
#define FZ_CHAT_SEP 0x1f

#endif
