/* fuzz_sampler.c - libFuzzer target: sampler parameters and logits from
 * the input (layout: fz_sampler_head in fuzz_common.h, then logits as raw
 * f32 bit patterns - NaN, infinities and denormals included - then tokens
 * to accept).
 *
 * tf_sampler_new must refuse bad parameters (no sampler, a message) and
 * accept the rest; an accepted sampler, over several accept/sample rounds:
 * - samples an id in [0, n_vocab), or - only when every logit is NaN or
 *   -inf, or penalties may have pushed the rest there - refuses, and then
 *   tf_sampler_probs refuses too;
 * - reports a distribution (tf_sampler_probs) of distinct in-range ids
 *   whose probabilities are finite, in [0, 1], non-increasing and sum to 1,
 *   and the sampled id is one of them (greedy: the only one);
 * - accepts exactly the in-range tokens;
 * - after tf_sampler_reset replays the same rounds to the same ids.
 */
#include <math.h>

#include "fuzz_common.h"
#include "tinfer.h"
#include "sampler.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

typedef struct fs_state {
    tf_sampler *s;
    int32_t nv;
    float *logits;
    int32_t *ids;
    float *probs;
    bool must_work; /* a logit above -inf that no penalty can lower */
} fs_state;

static tf_token fs_round(fs_state *f, fz_cursor *cur, bool greedy)
{
    for (int k = 0; k < 3; k++) { /* accept a few tokens, some out of range */
        int32_t t = (int32_t)(uint32_t)fz_take(cur, 2) - 8;
        tf_status st = tf_sampler_accept(f->s, t);
        FZ_CHECK(st == (t >= 0 && t < f->nv ? TF_OK : TF_ERR_INVALID_ARG));
    }
    int32_t n = f->nv;
    tf_status st = tf_sampler_probs(f->s, f->logits, f->ids, f->probs, &n);
    if (st != TF_OK) { /* nothing can be drawn: refused, by both calls */
        FZ_CHECK(st == TF_ERR_INVALID_ARG && !f->must_work && tf_sampler_error(f->s)[0]);
        tf_token t = 0;
        FZ_CHECK(tf_sampler_sample(f->s, f->logits, &t) == TF_ERR_INVALID_ARG);
        return -1;
    }
    FZ_CHECK(n >= 1 && n <= f->nv);
    FZ_CHECK(!greedy || n == 1);
    double sum = 0;
    for (int32_t i = 0; i < n; i++) {
        FZ_CHECK(f->ids[i] >= 0 && f->ids[i] < f->nv);
        FZ_CHECK(isfinite(f->probs[i]) && f->probs[i] >= 0.0f && f->probs[i] <= 1.0f);
        FZ_CHECK(i == 0 || f->probs[i] <= f->probs[i - 1] * (1.0f + 1e-5f) + 1e-30f);
        sum += f->probs[i];
    }
    FZ_CHECK(fabs(sum - 1.0) < 1e-3);
    if (n > 1) {
        int32_t small = 0;
        st = tf_sampler_probs(f->s, f->logits, f->ids + n, f->probs + n, &small);
        FZ_CHECK(st == TF_ERR_BUFFER);
        FZ_CHECK(small == n);
    }
    tf_token t = -1;
    FZ_CHECK(tf_sampler_sample(f->s, f->logits, &t) == TF_OK);
    FZ_CHECK(t >= 0 && t < f->nv);
    bool listed = false;
    for (int32_t i = 0; i < n; i++) listed |= f->ids[i] == t;
    FZ_CHECK(listed);
    return t;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fz_cursor cur = {data, size, 0};
    fz_sampler_head h = fz_sampler_head_get(&cur);
    tf_sampler_params p = {h.temp, h.top_k, h.top_p, h.min_p, h.repeat_penalty,
                           h.presence_penalty, h.frequency_penalty, h.penalty_last_n, h.seed};
    /* Vocabularies up to 4096 keep runs fast and still reach every path
     * (top-k above the heap limit of 512 included). */
    int32_t nv = h.n_vocab > 4096 ? h.n_vocab % 4097 : h.n_vocab;
    fs_state f = {NULL, nv, NULL, NULL, NULL, false};
    tf_status st = tf_sampler_new(&p, f.nv, &f.s);
    if (st != TF_OK) {
        FZ_CHECK(st == TF_ERR_INVALID_ARG && f.s == NULL && tf_last_error()[0]);
        return 0;
    }
    FZ_CHECK(f.nv > 0 && f.s != NULL);
    f.logits = malloc((size_t)f.nv * sizeof *f.logits);
    f.ids = malloc(2 * (size_t)f.nv * sizeof *f.ids);
    f.probs = malloc(2 * (size_t)f.nv * sizeof *f.probs);
    FZ_CHECK(f.logits && f.ids && f.probs);
    size_t body = size > FZ_SAMPLER_HEAD_BYTES ? size - FZ_SAMPLER_HEAD_BYTES : 0;
    for (int32_t i = 0; i < f.nv; i++) {
        uint32_t u = 0;
        for (int b = 0; b < 4 && body; b++)
            u |= (uint32_t)data[FZ_SAMPLER_HEAD_BYTES + ((size_t)i * 4 + b) % body] << (8 * b);
        memcpy(&f.logits[i], &u, 4);
        f.must_work |= f.logits[i] > -INFINITY;
    }
    bool penalised = p.penalty_last_n != 0 && (p.repeat_penalty != 1.0f ||
                                               p.presence_penalty != 0.0f ||
                                               p.frequency_penalty != 0.0f);
    f.must_work &= !penalised;
    fz_cursor toks = {data, size, FZ_SAMPLER_HEAD_BYTES + (size_t)f.nv * 4 < size
                                      ? FZ_SAMPLER_HEAD_BYTES + (size_t)f.nv * 4 : FZ_SAMPLER_HEAD_BYTES};
    int rounds = 1 + h.rounds % 4;
    bool greedy = !(p.temp > 0.0f);
    tf_token first[4];
    fz_cursor replay = toks;
    for (int r = 0; r < rounds; r++) first[r] = fs_round(&f, &toks, greedy);
    tf_sampler_reset(f.s);
    for (int r = 0; r < rounds; r++) FZ_CHECK(fs_round(&f, &replay, greedy) == first[r]);
    FZ_CHECK(tf_sampler_sample(f.s, NULL, first) == TF_ERR_INVALID_ARG);
    FZ_CHECK(tf_sampler_error(f.s)[0] != 0);
    tf_sampler_free(f.s);
    free(f.logits);
    free(f.ids);
    free(f.probs);
    return 0;
}
