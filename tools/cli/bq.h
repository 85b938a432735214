/* bq.h - `tinfer bench-quants` helpers: streaming next-token metrics
 * (bq_metrics.c) and the report writers (bq_report.c). */
#ifndef TF_BQ_H
#define TF_BQ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* ---- metrics ------------------------------------------------------------ */

/* Running sums for one model over the scored positions. */
typedef struct bq_acc {
    double nll_sum, nll_sq; /* -log p(next token) */
    double kl_sum, kl_sq;   /* KL(source || this model) */
    size_t n, top1_same;
    float *kl;              /* every position's KL, for the percentile */
    size_t kl_cap;
} bq_acc;

/* Log-softmax of n logits into lp; returns the argmax. */
int bq_log_softmax(const float *logits, int n, float *lp);

/* One scored position.  src_p: the source's probabilities (NULL when this
 * is the source itself), src_lp its log-probabilities, src_top its argmax;
 * lp/top: this model's.  target: the token that really comes next. */
int bq_acc_add(bq_acc *a, const float *src_p, const float *src_lp, int src_top,
               const float *lp, int top, int n, int target);
void bq_acc_free(bq_acc *a);

/* Results of an accumulator. */
typedef struct bq_stats {
    double ppl, ppl_err;       /* exp(mean NLL), and its standard error */
    double kl_mean, kl_err, kl_p99, kl_max;
    double top1, top1_err;     /* fraction of positions with the same argmax */
} bq_stats;

void bq_acc_stats(bq_acc *a, bq_stats *s); /* sorts a->kl */

/* p-th percentile (0..100) of sorted v, linear between closest ranks. */
double bq_percentile_sorted(const float *v, size_t n, double p);

/* ---- report --------------------------------------------------------------- */

typedef struct bq_level {
    char label[64];
    char path[1024];
    bool source, quantized_here;
    uint64_t file_bytes, n_params, weight_bytes;
    double bpw;
    char types[256]; /* matrix types by count: "Q5_0x166 Q8_0x15" */
    /* speed child */
    bool speed_ok;
    double rss_mib, load_s, pp_tps, tg_tps;
    char backend[96]; /* the child's tf_context_backend: "cpu (2 threads)" */
    /* streaming pass */
    bq_acc acc;
    bq_stats st;
} bq_level;

typedef struct bq_info {
    const char *source, *note; /* note: NULL or a line for the header */
    char text_desc[512];
    int chunks, ctx, threads, pp, tg;
    bool pure;
    bool speed_only; /* no text pass: the quality fields are unset */
    size_t n_scored;
    char cpu[160], date[40];
    int cores;
    double load_before[3], load_after[3];
    double seconds;
    char version[32];
} bq_info;

/* Markdown: a header (machine, date, settings, load) when full, then the
 * table.  With speed_only the table has no quality columns and the CSV /
 * JSON keep every column with the quality fields empty / null. */
void bq_write_markdown(FILE *f, const bq_info *ri, const bq_level *lv, size_t n, bool full);
int bq_write_csv(const char *path, const bq_info *ri, const bq_level *lv, size_t n);
int bq_write_json(const char *path, const bq_info *ri, const bq_level *lv, size_t n);
/* Data file, gnuplot script, then gnuplot in dir (kl_vs_{speed,size}, or
 * speed_vs_size with speed_only): 0 ok, 1 gnuplot missing, -1 failure
 * (message on stderr). */
int bq_plot(const char *dir, const bq_info *ri, const bq_level *lv, size_t n);

#endif
