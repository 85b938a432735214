/* sampler.c - token sampling: penalties -> top-k -> top-p -> min-p ->
 * temperature -> draw (see sampler.h for the contract).
 *
 * Cost per token, n = n_vocab:
 * - the penalised logits are copied into a candidate array allocated at
 *   tf_sampler_new; nothing is allocated per token;
 * - top-k up to TF_HEAP_TOP_K: a bounded heap (one comparison per
 *   candidate on typical data); above: quickselect (median-of-three,
 *   falling back to a full sort on a bad pivot sequence), O(n); then only
 *   the k are sorted;
 * - min-p needs no order: it is a threshold in logit space
 *   (logit >= max + log(min_p), i.e. prob >= min_p * max prob), applied
 *   with one partition pass;
 * - top-p after top-k walks the k sorted candidates; without top-k it needs
 *   no full sort: a histogram of each candidate's distance below the max
 *   logit (1/32-nat buckets) locates the bucket where the cumulative
 *   probability reaches p; the buckets above are kept whole and only the
 *   boundary bucket is sorted, to find the exact cut.  O(n) plus the sort
 *   of one bucket;
 * - without top-k/top-p/min-p nothing is sorted: the draw walks the
 *   softmax weights in array order.
 * Candidates are ordered by logit descending, ties by id ascending, a total
 * order, so results never depend on the selection algorithm.  NaN logits
 * count as -inf.
 *
 * PRNG: xoshiro256** seeded through splitmix64; same seed and same calls,
 * same tokens.  tf_sampler_reset reseeds it and clears the penalty window.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "internal.h"
#include "sampler.h"

/* top-k up to this uses a bounded heap, larger k quickselect. */
#define TF_HEAP_TOP_K 512
/* Top-p without top-k: histogram of distances below the max logit, 32
 * buckets per nat over 32 nats (weights past that are < 1e-13). */
#define TF_TOPP_BUCKETS 1024
#define TF_TOPP_SCALE 32.0f

typedef struct tf_cand {
    float v;    /* logit; after the filters, the softmax weight */
    int32_t id;
} tf_cand;

struct tf_sampler {
    tf_sampler_params p;
    int32_t n_vocab;
    tf_cand *cand;    /* n_vocab */
    int32_t *count;   /* n_vocab: occurrences of each token in the window */
    int32_t *ring;    /* the last `window` accepted tokens */
    int32_t window;   /* 0: penalties off */
    int32_t ring_head, ring_len;
    bool pen_active;  /* window > 0 and some penalty is not neutral */
    uint64_t rng[4];
    double hist[TF_TOPP_BUCKETS]; /* top-p scratch */
    char err[TF_ERRLEN];
};

/* ---- PRNG ----------------------------------------------------------- */

static uint64_t splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static void rng_seed(uint64_t st[4], uint64_t seed)
{
    uint64_t x = seed;
    for (int i = 0; i < 4; i++) st[i] = splitmix64(&x);
}

static inline uint64_t rotl64(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

static uint64_t rng_next(uint64_t st[4])
{
    uint64_t r = rotl64(st[1] * 5, 7) * 9;
    uint64_t t = st[1] << 17;
    st[2] ^= st[0];
    st[3] ^= st[1];
    st[1] ^= st[2];
    st[0] ^= st[3];
    st[2] ^= t;
    st[3] = rotl64(st[3], 45);
    return r;
}

/* Uniform in [0, 1), 53 bits. */
static double rng_unit(uint64_t st[4])
{
    return (double)(rng_next(st) >> 11) * 0x1.0p-53;
}

/* ---- ordering, selection -------------------------------------------- */

/* a goes before b: higher value, or same value and lower id. */
static inline bool before(const tf_cand *a, const tf_cand *b)
{
    return a->v > b->v || (a->v == b->v && a->id < b->id);
}

static int cmp_cand(const void *pa, const void *pb)
{
    const tf_cand *a = pa, *b = pb;
    if (before(a, b)) return -1;
    return before(b, a) ? 1 : 0;
}

static void sort_cands(tf_cand *c, size_t n)
{
    if (n > 1) qsort(c, n, sizeof *c, cmp_cand);
}

static inline void cswap(tf_cand *a, tf_cand *b)
{
    tf_cand t = *a;
    *a = *b;
    *b = t;
}

/* Lomuto partition of c[0..n) (n >= 2) around the median of first, middle
 * and last.  Returns the pivot's final index: everything left of it goes
 * before it, everything right of it after.  Keys are distinct (ids), so
 * equal logits don't degrade it. */
static size_t partition(tf_cand *c, size_t n)
{
    size_t mid = n / 2, last = n - 1;
    if (before(&c[mid], &c[0])) cswap(&c[mid], &c[0]);
    if (before(&c[last], &c[0])) cswap(&c[last], &c[0]);
    if (before(&c[last], &c[mid])) cswap(&c[last], &c[mid]);
    cswap(&c[mid], &c[last]); /* median is the pivot, at the end */
    size_t store = 0;
    for (size_t i = 0; i < last; i++)
        if (before(&c[i], &c[last])) cswap(&c[i], &c[store++]);
    cswap(&c[store], &c[last]);
    return store;
}

/* Rearrange c[0..n) so its k first elements (in the candidate order) are
 * c[0..k), in no particular order.  0 < k < n. */
static void select_top(tf_cand *c, size_t n, size_t k)
{
    size_t lo = 0, hi = n;
    int depth = 8;
    for (size_t m = n; m > 1; m >>= 1) depth += 2;
    while (hi - lo > 1) {
        if (depth-- == 0) { /* bad pivots: finish with a sort */
            sort_cands(c + lo, hi - lo);
            return;
        }
        size_t p = lo + partition(c + lo, hi - lo);
        if (p == k || p + 1 == k) return;
        if (k < p) hi = p;
        else lo = p + 1;
    }
}

/* Heap of the k best seen so far in c[0..k), the worst at the root. */
static void heap_sift(tf_cand *c, size_t k, size_t i)
{
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, w = i;
        if (l < k && before(&c[w], &c[l])) w = l;
        if (r < k && before(&c[w], &c[r])) w = r;
        if (w == i) return;
        cswap(&c[i], &c[w]);
        i = w;
    }
}

/* Like select_top but with a bounded heap: one comparison per element on
 * typical data, O(n log k) at worst.  The elements past k are lost (the
 * ones that would be evicted overwrite nothing: only c[0..k) matters). */
static void heap_top(tf_cand *c, size_t n, size_t k)
{
    for (size_t i = k / 2; i-- > 0;) heap_sift(c, k, i);
    for (size_t i = k; i < n; i++) {
        if (before(&c[i], &c[0])) {
            c[0] = c[i];
            heap_sift(c, k, 0);
        }
    }
}

/* ---- params, lifetime ----------------------------------------------- */

tf_sampler_params tf_sampler_default_params(void)
{
    tf_sampler_params p;
    memset(&p, 0, sizeof p);
    p.temp = 0.8f;
    p.top_k = 40;
    p.top_p = 0.95f;
    p.min_p = 0.05f;
    p.repeat_penalty = 1.0f;
    p.presence_penalty = 0.0f;
    p.frequency_penalty = 0.0f;
    p.penalty_last_n = 64;
    p.seed = TF_SAMPLER_DEFAULT_SEED;
    return p;
}

/* Checks p; on failure writes why into err and returns false. */
static bool params_valid(const tf_sampler_params *p, char *err, size_t len)
{
    if (!isfinite(p->temp)) {
        tf_errf(err, len, "sampler: temp must be finite (got %g)",
                (double)p->temp);
        return false;
    }
    if (isnan(p->top_p) || p->top_p < 0.0f) {
        tf_errf(err, len, "sampler: top_p must be >= 0 (got %g; >= 1 is off)",
                (double)p->top_p);
        return false;
    }
    if (isnan(p->min_p) || p->min_p > 1.0f) {
        tf_errf(err, len, "sampler: min_p must be <= 1 (got %g; <= 0 is off)",
                (double)p->min_p);
        return false;
    }
    if (!isfinite(p->repeat_penalty) || p->repeat_penalty <= 0.0f) {
        tf_errf(err, len, "sampler: repeat_penalty must be finite and > 0 "
                "(got %g; 1 is off)", (double)p->repeat_penalty);
        return false;
    }
    if (!isfinite(p->presence_penalty) || !isfinite(p->frequency_penalty)) {
        tf_errf(err, len, "sampler: presence/frequency penalties must be "
                "finite (got %g, %g)", (double)p->presence_penalty,
                (double)p->frequency_penalty);
        return false;
    }
    if (p->penalty_last_n < -1) {
        tf_errf(err, len, "sampler: penalty_last_n must be >= -1 (got %d)",
                (int)p->penalty_last_n);
        return false;
    }
    return true;
}

tf_status tf_sampler_new(const tf_sampler_params *params, int32_t n_vocab,
                         tf_sampler **out)
{
    char err[TF_ERRLEN];
    if (!out) {
        tf_set_last_error("tf_sampler_new: out is NULL");
        return TF_ERR_INVALID_ARG;
    }
    *out = NULL;
    tf_sampler_params p = params ? *params : tf_sampler_default_params();
    if (n_vocab <= 0) {
        tf_set_last_error("tf_sampler_new: n_vocab must be > 0 (got %d)",
                          (int)n_vocab);
        return TF_ERR_INVALID_ARG;
    }
    if (!params_valid(&p, err, sizeof err)) {
        tf_set_last_error("%s", err);
        return TF_ERR_INVALID_ARG;
    }
    int32_t window = p.penalty_last_n == -1 ? TF_SAMPLER_WHOLE_CONTEXT_N
                                            : p.penalty_last_n;
    if (window > TF_SAMPLER_MAX_PENALTY_N) window = TF_SAMPLER_MAX_PENALTY_N;

    tf_sampler *s = calloc(1, sizeof *s);
    if (s) {
        s->cand = malloc((size_t)n_vocab * sizeof *s->cand);
        s->count = calloc((size_t)n_vocab, sizeof *s->count);
        s->ring = malloc((size_t)(window > 0 ? window : 1) * sizeof *s->ring);
    }
    if (!s || !s->cand || !s->count || !s->ring) {
        tf_sampler_free(s);
        tf_set_last_error("tf_sampler_new: out of memory (n_vocab %d)",
                          (int)n_vocab);
        return TF_ERR_NOMEM;
    }
    s->p = p;
    s->n_vocab = n_vocab;
    s->window = window;
    s->pen_active = window > 0 && (p.repeat_penalty != 1.0f ||
                                   p.presence_penalty != 0.0f ||
                                   p.frequency_penalty != 0.0f);
    rng_seed(s->rng, p.seed);
    *out = s;
    return TF_OK;
}

/* The penalty window holds the prompt's tokens and the candidates the
 * last logits: zeroed before they are freed (prompts are private). */
void tf_sampler_free(tf_sampler *s)
{
    if (!s) return;
    size_t nv = s->cand && s->count ? (size_t)s->n_vocab : 0;
    tf_secure_zero(s->cand, nv * sizeof *s->cand);
    tf_secure_zero(s->count, nv * sizeof *s->count);
    tf_secure_zero(s->ring, (size_t)(s->window > 0 ? s->window : 1) * sizeof *s->ring);
    free(s->cand);
    free(s->count);
    free(s->ring);
    tf_secure_zero(s, sizeof *s);
    free(s);
}

const char *tf_sampler_error(const tf_sampler *s)
{
    return s ? s->err : "";
}

void tf_sampler_reset(tf_sampler *s)
{
    if (!s) return;
    for (int32_t i = 0; i < s->ring_len; i++)
        s->count[s->ring[(s->ring_head + i) % s->window]]--;
    if (s->ring_len) tf_secure_zero(s->ring, (size_t)s->window * sizeof *s->ring);
    s->ring_head = 0;
    s->ring_len = 0;
    rng_seed(s->rng, s->p.seed);
    s->err[0] = '\0';
}

tf_status tf_sampler_accept(tf_sampler *s, tf_token t)
{
    if (!s) return TF_ERR_INVALID_ARG;
    if (t < 0 || t >= s->n_vocab) {
        tf_errf(s->err, sizeof s->err,
                "tf_sampler_accept: token %d out of range [0, %d)", (int)t,
                (int)s->n_vocab);
        return TF_ERR_INVALID_ARG;
    }
    if (s->window == 0) return TF_OK;
    if (s->ring_len == s->window) { /* full: the oldest leaves */
        s->count[s->ring[s->ring_head]]--;
        s->ring[s->ring_head] = t;
        s->ring_head = (s->ring_head + 1) % s->window;
    } else {
        s->ring[(s->ring_head + s->ring_len) % s->window] = t;
        s->ring_len++;
    }
    s->count[t]++;
    return TF_OK;
}

/* ---- the chain ------------------------------------------------------ */

/* Copy logits into the candidates, penalised; NaN -> -inf.  Returns the
 * index of the best candidate (lowest id among equal maxima). */
static size_t load_candidates(tf_sampler *s, const float *logits)
{
    const tf_sampler_params *p = &s->p;
    tf_cand *c = s->cand;
    size_t n = (size_t)s->n_vocab, best = 0;
    float bv = -INFINITY;
    for (size_t i = 0; i < n; i++) {
        float l = logits[i];
        if (isnan(l)) l = -INFINITY;
        if (s->pen_active && s->count[i] > 0) {
            int32_t k = s->count[i];
            l = l <= 0.0f ? l * p->repeat_penalty : l / p->repeat_penalty;
            l -= (float)k * p->frequency_penalty + p->presence_penalty;
            if (isnan(l)) l = -INFINITY;
        }
        c[i].v = l;
        c[i].id = (int32_t)i;
        if (l > bv) {
            bv = l;
            best = i;
        }
    }
    return best;
}

/* Softmax weight of logit l given the maximum mx; exact 1 at the maximum,
 * so infinite maxima don't make NaN. */
static inline float weight(float l, float mx)
{
    return l == mx ? 1.0f : expf(l - mx);
}

/* Move the candidates with v >= thr to the front; returns their count. */
static size_t keep_at_least(tf_cand *c, size_t n, float thr)
{
    size_t m = 0;
    for (size_t i = 0; i < n; i++)
        if (c[i].v >= thr) cswap(&c[i], &c[m++]);
    return m;
}

/* Histogram bucket of logit l: its distance below the maximum in steps of
 * 1/TF_TOPP_SCALE nats; the last bucket takes everything further (and
 * -inf). */
static inline size_t bucket_of(float l, float mx)
{
    if (l == mx) return 0;
    float d = (mx - l) * TF_TOPP_SCALE;
    return d < (float)(TF_TOPP_BUCKETS - 1) ? (size_t)d : TF_TOPP_BUCKETS - 1;
}

/* Top-p on unordered candidates c[0..n): one pass sums the weights per
 * bucket and finds the bucket where the cumulative probability reaches p;
 * the buckets above it are kept whole, and only the boundary bucket is
 * sorted to find the exact cut.  Leaves the kept candidates in c[0..ret). */
static size_t top_p_unsorted(tf_sampler *s, tf_cand *c, size_t n,
                             float top_p, float mx)
{
    double *hw = s->hist;
    memset(hw, 0, sizeof s->hist);
    double z = 0.0;
    for (size_t i = 0; i < n; i++) {
        float w = weight(c[i].v, mx);
        hw[bucket_of(c[i].v, mx)] += w;
        z += w;
    }
    double target = (double)top_p * z, cum = 0.0;
    size_t bs = 0;
    while (bs < TF_TOPP_BUCKETS - 1 && cum + hw[bs] < target) cum += hw[bs++];
    size_t a = 0, e;
    for (size_t i = 0; i < n; i++)
        if (bucket_of(c[i].v, mx) < bs) cswap(&c[i], &c[a++]);
    e = a;
    for (size_t i = a; i < n; i++)
        if (bucket_of(c[i].v, mx) == bs) cswap(&c[i], &c[e++]);
    sort_cands(c + a, e - a);
    for (size_t i = a; i < e; i++) {
        cum += weight(c[i].v, mx);
        if (cum >= target) return i + 1;
    }
    return e; /* rounding: keep the whole boundary bucket */
}

/* Top-p then min-p on c[0..n), sorted when `sorted`; returns how many
 * candidates survive, left in c[0..ret).  Both keep a prefix of the
 * candidate order, so min-p is applied to what top-p kept. */
static size_t top_p_min_p(tf_sampler *s, tf_cand *c, size_t n, bool sorted,
                          float mx)
{
    const tf_sampler_params *p = &s->p;
    size_t m = n;
    if (p->top_p < 1.0f) {
        if (sorted) {
            double z = 0.0, cum = 0.0;
            for (size_t i = 0; i < n; i++) z += weight(c[i].v, mx);
            double target = (double)p->top_p * z;
            for (size_t i = 0; i < n; i++) {
                cum += weight(c[i].v, mx);
                if (cum >= target) {
                    m = i + 1;
                    break;
                }
            }
        } else {
            m = top_p_unsorted(s, c, n, p->top_p, mx);
        }
    }
    if (p->min_p > 0.0f) {
        float thr = mx + logf(p->min_p);
        if (sorted) {
            size_t k = 1;
            while (k < m && c[k].v >= thr) k++;
            m = k;
        } else {
            m = keep_at_least(c, m, thr);
        }
        if (m == 0) m = 1; /* unreachable: the maximum passes */
    }
    return m;
}

/* Run the chain.  Leaves the survivors in cand[0..*n_out) with v = their
 * weight (unnormalised probability) and returns the sum of the weights in
 * *z_out.  With sort_out, the survivors are in candidate order. */
static tf_status run_chain(tf_sampler *s, const float *logits, bool sort_out,
                           size_t *n_out, double *z_out)
{
    const tf_sampler_params *p = &s->p;
    tf_cand *c = s->cand;
    size_t n = (size_t)s->n_vocab;
    size_t best = load_candidates(s, logits);
    float mx = c[best].v;
    if (mx == -INFINITY) {
        tf_errf(s->err, sizeof s->err,
                "sampler: every logit is -inf or NaN");
        return TF_ERR_INVALID_ARG;
    }
    if (p->temp <= 0.0f) { /* greedy */
        c[0].id = c[best].id;
        c[0].v = 1.0f;
        *n_out = 1;
        *z_out = 1.0;
        return TF_OK;
    }
    bool sorted = false;
    if (p->top_k > 0 && (size_t)p->top_k < n) {
        if (p->top_k <= TF_HEAP_TOP_K) heap_top(c, n, (size_t)p->top_k);
        else select_top(c, n, (size_t)p->top_k);
        n = (size_t)p->top_k;
        sort_cands(c, n);
        sorted = true;
    }
    n = top_p_min_p(s, c, n, sorted, mx);
    if (sort_out && !sorted) sort_cands(c, n);

    /* temperature, then softmax weights: exp((l - max) / t), which can't
     * overflow however small t is */
    float t = p->temp;
    double z = 0.0;
    for (size_t i = 0; i < n; i++) {
        c[i].v = c[i].v == mx ? 1.0f : expf((c[i].v - mx) / t);
        z += (double)c[i].v;
    }
    *n_out = n;
    *z_out = z;
    return TF_OK;
}

tf_status tf_sampler_sample(tf_sampler *s, const float *logits,
                            tf_token *out)
{
    if (!s) return TF_ERR_INVALID_ARG;
    if (!logits || !out) {
        tf_errf(s->err, sizeof s->err,
                "tf_sampler_sample: logits and out must not be NULL");
        return TF_ERR_INVALID_ARG;
    }
    size_t n;
    double z;
    tf_status st = run_chain(s, logits, false, &n, &z);
    if (st != TF_OK) return st;
    const tf_cand *c = s->cand;
    if (n == 1) {
        *out = c[0].id;
        return TF_OK;
    }
    double u = rng_unit(s->rng) * z, cum = 0.0;
    size_t pick = 0;
    for (size_t i = 0; i < n; i++) {
        if (c[i].v <= 0.0f) continue;
        pick = i; /* rounding: the last with weight wins if u >= sum */
        cum += (double)c[i].v;
        if (u < cum) break;
    }
    *out = c[pick].id;
    return TF_OK;
}

tf_status tf_sampler_probs(tf_sampler *s, const float *logits, int32_t *ids,
                           float *probs, int32_t *n)
{
    if (!s) return TF_ERR_INVALID_ARG;
    if (!logits || !ids || !probs || !n) {
        tf_errf(s->err, sizeof s->err,
                "tf_sampler_probs: NULL argument");
        return TF_ERR_INVALID_ARG;
    }
    size_t m;
    double z;
    tf_status st = run_chain(s, logits, true, &m, &z);
    if (st != TF_OK) return st;
    if (*n < 0 || (size_t)*n < m) {
        *n = (int32_t)m;
        return TF_ERR_BUFFER;
    }
    const tf_cand *c = s->cand;
    for (size_t i = 0; i < m; i++) {
        ids[i] = c[i].id;
        probs[i] = (float)((double)c[i].v / z);
    }
    *n = (int32_t)m;
    return TF_OK;
}
