/* bq_metrics.c - next-token metrics of `tinfer bench-quants`, one
 * position at a time (nothing is kept but sums and the per-position KL
 * values the percentile needs).
 *
 * For a position with source distribution P (log-probs lp_s) and a
 * quantized model's Q (lp_q): KL(P || Q) = sum_i P_i (lp_s_i - lp_q_i) in
 * nats, the direction the reference engine's perplexity tool reports;
 * top-1 agreement: argmax P == argmax Q; perplexity: exp of the mean of
 * -lp_q(next token).  Sums are in double. */
#include <math.h>
#include <stdlib.h>

#include "bq.h"

int bq_log_softmax(const float *x, int n, float *lp)
{
    int top = 0;
    for (int i = 1; i < n; i++)
        if (x[i] > x[top]) top = i;
    float mx = x[top];
    double sum = 0;
    for (int i = 0; i < n; i++) sum += expf(x[i] - mx);
    float lse = mx + (float)log(sum);
    for (int i = 0; i < n; i++) lp[i] = x[i] - lse;
    return top;
}

int bq_acc_add(bq_acc *a, const float *src_p, const float *src_lp, int src_top,
               const float *lp, int top, int n, int target)
{
    double nll = -(double)lp[target], kl = 0;
    if (src_p)
        for (int i = 0; i < n; i++)
            if (src_p[i] > 0) kl += (double)src_p[i] * ((double)src_lp[i] - (double)lp[i]);
    if (a->n == a->kl_cap) {
        size_t cap = a->kl_cap ? a->kl_cap * 2 : 1024;
        float *p = realloc(a->kl, cap * sizeof *p);
        if (!p) return -1;
        a->kl = p;
        a->kl_cap = cap;
    }
    a->kl[a->n++] = (float)kl;
    a->nll_sum += nll;
    a->nll_sq += nll * nll;
    a->kl_sum += kl;
    a->kl_sq += kl * kl;
    a->top1_same += !src_p || top == src_top;
    return 0;
}

void bq_acc_free(bq_acc *a)
{
    free(a->kl);
    a->kl = NULL;
    a->kl_cap = 0;
}

static int cmp_float(const void *x, const void *y)
{
    float a = *(const float *)x, b = *(const float *)y;
    return a < b ? -1 : a > b;
}

double bq_percentile_sorted(const float *v, size_t n, double p)
{
    if (n == 0) return NAN;
    double pos = p / 100.0 * (double)(n - 1);
    size_t lo = (size_t)pos;
    if (lo >= n - 1) return v[n - 1];
    double f = pos - (double)lo;
    return v[lo] + f * ((double)v[lo + 1] - v[lo]);
}

/* Standard error of a mean from its sums. */
static double sem(double sum, double sq, size_t n)
{
    if (n < 2) return 0;
    double m = sum / (double)n, var = sq / (double)n - m * m;
    return var > 0 ? sqrt(var / (double)(n - 1)) : 0;
}

void bq_acc_stats(bq_acc *a, bq_stats *s)
{
    size_t n = a->n;
    double m = n ? a->nll_sum / (double)n : NAN;
    s->ppl = exp(m);
    s->ppl_err = s->ppl * sem(a->nll_sum, a->nll_sq, n);
    s->kl_mean = n ? a->kl_sum / (double)n : NAN;
    s->kl_err = sem(a->kl_sum, a->kl_sq, n);
    qsort(a->kl, n, sizeof *a->kl, cmp_float);
    s->kl_p99 = bq_percentile_sorted(a->kl, n, 99.0);
    s->kl_max = n ? a->kl[n - 1] : NAN;
    s->top1 = n ? (double)a->top1_same / (double)n : NAN;
    s->top1_err = n > 1 ? sqrt(s->top1 * (1 - s->top1) / (double)(n - 1)) : 0;
}
