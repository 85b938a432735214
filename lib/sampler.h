/* sampler.h - internals of lib/sampler.c that the tests (and the CLI's
 * diagnostics) may use.  Not installed.
 *
 * The chain, in order (as llama.cpp's common sampler):
 *   penalties -> top-k -> top-p -> min-p -> temperature -> draw.
 * temp <= 0 is greedy: the argmax of the penalised logits, ties going to the
 * lowest id (the filters never remove the argmax, so they are skipped).
 */
#ifndef TF_SAMPLER_H
#define TF_SAMPLER_H

#include <stdint.h>
#include "tinfer.h"

/* Seed of tf_sampler_default_params(): fixed, so runs are reproducible by
 * default.  Pass your own (e.g. from time) for varied output. */
#define TF_SAMPLER_DEFAULT_SEED 0xC0FFEEull

/* penalty_last_n == -1 ("the whole context"): the sampler doesn't know the
 * context size, so it uses this window. */
#define TF_SAMPLER_WHOLE_CONTEXT_N 4096

/* Larger penalty_last_n values are clamped to this. */
#define TF_SAMPLER_MAX_PENALTY_N 65536

/* The distribution tf_sampler_sample would draw from for these logits:
 * the surviving candidates' ids and probabilities (after temperature),
 * in candidate order: penalised logit descending, ties by id ascending
 * (so probabilities descending).  Greedy samplers
 * give one candidate with probability 1.  *n is in/out: capacity of ids and
 * probs on entry, candidates written on return; when the capacity is too
 * small: TF_ERR_BUFFER with *n = the count needed.  Doesn't touch the PRNG
 * or the penalty window. */
tf_status tf_sampler_probs(tf_sampler *s, const float *logits, int32_t *ids,
                           float *probs, int32_t *n);

#endif
