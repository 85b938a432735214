/* cmd_bench_quants.c - `tinfer bench-quants`: the quantization-level
 * report.  Quantizes a source model to each level, then per level:
 *   1. file size and bits per weight;
 *   2. a child process loads it and runs a short speed test (pp/tg); its
 *      peak resident memory comes from wait4's rusage;
 *   3. one streaming pass over the text: for each chunk the source and
 *      every level evaluate the same tokens in their own contexts, and
 *      each scored position's distributions are compared at once
 *      (bq_metrics.c) - no logits are ever written out.
 * With --speed-only (random-weight sources) no text is read and step 3
 * is skipped: each level is only opened for step 1.
 * Outputs: markdown on stdout, DIR/bench-quants.{md,csv,json}, and
 * gnuplot plots in DIR (bq_report.c). */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bq.h"
#include "cli.h"
#include "tinfer.h"

#define DEFAULT_TYPES "q8_0,q6_k,q5_k_m,q4_k_m,q4_0,q3_k,q2_k"
#define BIBLE_CMD "bible -l0 gen1:1-rev22:21"
#define MAX_LEVELS 32

static const char *usage_text =
    "usage: tinfer bench-quants -m SOURCE.gguf [options]\n\n"
    "Quantizes SOURCE to each level, then reports per level: file size, bits\n"
    "per weight, peak resident memory, load time, prompt and decode speed,\n"
    "perplexity on a text, and the mean / 99th-percentile KL divergence and\n"
    "top-1 agreement of the next-token distribution against SOURCE.\n"
    "Markdown goes to stdout; DIR gets bench-quants.{md,csv,json} and the\n"
    "plots kl_vs_speed / kl_vs_size (.svg, .png; needs gnuplot).\n\n"
    "  --types LIST     levels to quantize (default " DEFAULT_TYPES ");\n"
    "                   \"none\" or \"\" quantizes nothing (report --files only)\n"
    "  --files A,B      also report these already-quantized files\n"
    "  --speed-only     for sources with random weights: no text, no perplexity,\n"
    "                   KL or top-1 (they would be meaningless); report size, bpw,\n"
    "                   peak RSS, load time and pp/tg speed, and plot decode speed\n"
    "                   vs file size (speed_vs_size) instead of the KL plots;\n"
    "                   the quality fields of the CSV/JSON are left empty/null\n"
    "  --text FILE      text for perplexity/KL (default: the King James Bible\n"
    "                   from Debian's bible-kjv: `" BIBLE_CMD "`)\n"
    "  --chunks N       chunks of text (default 8)\n"
    "  --ctx N          tokens per chunk (default 512); the second half is scored;\n"
    "                   also the speed test's context size (peak RSS)\n"
    "  --pp N, --tg N   speed test sizes (default 64 and 16; at most --ctx)\n"
    "  -t N             threads, for the speed test and everything else\n"
    "                   (default: all CPUs)\n"
    "  -o DIR           output folder (default bench-quants-out)\n"
    "  --pure           quantize without the mix rules (tinfer quantize --pure)\n"
    "  --keep-models    keep the quantized files (DIR/models/LEVEL.gguf)\n"
    "  --note TEXT      a line for the report's header (what the source is, ...)\n";

typedef struct opts {
    const char *model, *types, *files, *text, *dir, *note;
    int threads, chunks, ctx, pp, tg;
    bool pure, keep, speed_only;
} opts;

static bool g_tty;

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* A one-line progress bar on a terminal, a plain line otherwise. */
static void bar(const char *what, double frac, const char *detail)
{
    if (!g_tty) {
        fprintf(stderr, "bench-quants: %s %3.0f%% %s\n", what, 100 * frac, detail);
        return;
    }
    char b[31];
    int fill = (int)(frac * 30 + 0.5);
    for (int i = 0; i < 30; i++) b[i] = i < fill ? '#' : '.';
    b[30] = 0;
    fprintf(stderr, "\r\033[K%-10s [%s] %3.0f%% %s", what, b, 100 * frac, detail);
    if (frac >= 1) fputc('\n', stderr);
}

static int parse_int(const char *s, int lo, int hi, int *out)
{
    char *end;
    long v = strtol(s, &end, 10);
    if (*s == 0 || *end || v < lo || v > hi) return -1;
    *out = (int)v;
    return 0;
}

static int parse_args(int argc, char **argv, opts *o)
{
    *o = (opts){.types = DEFAULT_TYPES, .dir = "bench-quants-out", .chunks = 8, .ctx = 512,
                .pp = 64, .tg = 16};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        int bad = 0;
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) { fputs(usage_text, stdout); return 0; }
        else if (!strcmp(a, "--pure")) { o->pure = true; continue; }
        else if (!strcmp(a, "--keep-models")) { o->keep = true; continue; }
        else if (!strcmp(a, "--speed-only")) { o->speed_only = true; continue; }
        else if (!v) bad = 1;
        else if (!strcmp(a, "-m")) o->model = v;
        else if (!strcmp(a, "--types")) o->types = v;
        else if (!strcmp(a, "--files")) o->files = v;
        else if (!strcmp(a, "--text")) o->text = v;
        else if (!strcmp(a, "-o")) o->dir = v;
        else if (!strcmp(a, "--note")) o->note = v;
        else if (!strcmp(a, "-t")) bad = parse_int(v, 1, 256, &o->threads);
        else if (!strcmp(a, "--chunks")) bad = parse_int(v, 1, 100000, &o->chunks);
        else if (!strcmp(a, "--ctx")) bad = parse_int(v, 4, 1 << 20, &o->ctx);
        else if (!strcmp(a, "--pp")) bad = parse_int(v, 1, 1 << 20, &o->pp);
        else if (!strcmp(a, "--tg")) bad = parse_int(v, 1, 1 << 20, &o->tg);
        else bad = 2;
        if (bad) {
            fprintf(stderr, "tinfer bench-quants: %s '%s'\n%s", bad == 2 ? "unexpected argument" : "bad value for",
                    a, usage_text);
            return 2;
        }
        i++;
    }
    if (!o->model) { fputs(usage_text, stderr); return 2; }
    if (!strcasecmp(o->types, "none")) o->types = "";
    if (o->speed_only && o->text)
        fprintf(stderr, "bench-quants: --speed-only reads no text: --text is ignored\n");
    if (o->pp > o->ctx || o->tg > o->ctx) {
        fprintf(stderr, "tinfer bench-quants: --pp and --tg must not exceed --ctx\n");
        return 2;
    }
    if (o->threads == 0) {
        long c = sysconf(_SC_NPROCESSORS_ONLN);
        o->threads = c > 0 ? (int)c : 1;
    }
    return -1; /* go on */
}

/* ---- levels ------------------------------------------------------------------ */

/* Labels go into CSV, TSV and markdown: keep them plain. */
static void set_label(bq_level *l, const char *s, size_t n)
{
    if (n >= sizeof l->label) n = sizeof l->label - 1;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        l->label[i] = c > 0x20 && c < 0x7f && c != ',' && c != '"' && c != '|' ? (char)c : '_';
    }
    l->label[n] = 0;
}

static int add_levels(const opts *o, bq_level *lv, size_t *n)
{
    lv[0] = (bq_level){.source = true};
    const char *b = strrchr(o->model, '/');
    b = b ? b + 1 : o->model;
    size_t bl = strlen(b);
    set_label(&lv[0], b, bl > 5 && !strcmp(b + bl - 5, ".gguf") ? bl - 5 : bl);
    snprintf(lv[0].path, sizeof lv[0].path, "%s", o->model);
    if (access(o->model, R_OK) != 0) {
        fprintf(stderr, "tinfer bench-quants: %s: %s\n", o->model, strerror(errno));
        return 1;
    }
    *n = 1;
    for (int pass = 0; pass < 2; pass++) {
        const char *list = pass == 0 ? o->types : o->files;
        for (const char *p = list; p && *p;) {
            size_t len = strcspn(p, ",");
            if (len) {
                if (*n == MAX_LEVELS) { fprintf(stderr, "tinfer bench-quants: too many levels\n"); return 2; }
                bq_level *l = &lv[(*n)++];
                *l = (bq_level){.quantized_here = pass == 0};
                if (pass == 0) {
                    set_label(l, p, len);
                    snprintf(l->path, sizeof l->path, "%s/models/%s.gguf", o->dir, l->label);
                } else {
                    snprintf(l->path, sizeof l->path, "%.*s", (int)len, p);
                    const char *s = strrchr(l->path, '/');
                    s = s ? s + 1 : l->path;
                    size_t sl = strlen(s);
                    set_label(l, s, sl > 5 && !strcmp(s + sl - 5, ".gguf") ? sl - 5 : sl);
                    if (access(l->path, R_OK) != 0) { /* before minutes of quantizing */
                        fprintf(stderr, "tinfer bench-quants: %s: %s\n", l->path, strerror(errno));
                        return 1;
                    }
                }
            }
            p += len + (p[len] == ',');
        }
    }
    return -1;
}

/* ---- text -------------------------------------------------------------------- */

static char *read_stream(FILE *f, size_t cap, size_t *len)
{
    char *buf = malloc(cap + 1);
    if (!buf) return NULL;
    *len = fread(buf, 1, cap, f);
    buf[*len] = 0;
    return buf;
}

/* The text: --text FILE, else the KJV Bible through Debian's `bible`. */
static char *load_text(const opts *o, size_t want, bq_info *ri, size_t *len)
{
    char *t = NULL;
    if (o->text) {
        FILE *f = fopen(o->text, "rb");
        if (!f) {
            fprintf(stderr, "tinfer bench-quants: cannot open %s: %s\n", o->text, strerror(errno));
            return NULL;
        }
        t = read_stream(f, want, len);
        fclose(f);
        snprintf(ri->text_desc, sizeof ri->text_desc, "`%s`", o->text);
    } else {
        if (access("/usr/bin/bible", X_OK) != 0) {
            fprintf(stderr, "tinfer bench-quants: no text: pass --text FILE, or install Debian's bible-kjv "
                            "(tools/deps.sh bench) for the default text\n");
            return NULL;
        }
        FILE *p = popen(BIBLE_CMD " </dev/null 2>/dev/null", "r");
        if (!p) return NULL;
        t = read_stream(p, want, len);
        pclose(p); /* it may die of SIGPIPE once we stop reading: fine */
        snprintf(ri->text_desc, sizeof ri->text_desc,
                 "the King James Bible from Debian's bible-kjv (`%s`), from Genesis 1:1", BIBLE_CMD);
    }
    if (t && *len == 0) {
        fprintf(stderr, "tinfer bench-quants: the text is empty\n");
        free(t);
        return NULL;
    }
    return t;
}

/* Tokens of the text with the source's tokenizer; bos_out: the BOS token
 * when the model adds one (it then starts every chunk), else -1. */
static tf_token *tokenize_text(const opts *o, const char *text, size_t len, size_t *n, tf_token *bos_out)
{
    tf_model *m = NULL;
    tf_model_params mp = tf_model_default_params();
    mp.vocab_only = true;
    if (tf_model_open(o->model, &mp, &m) != TF_OK) {
        fprintf(stderr, "tinfer bench-quants: %s\n", tf_last_error());
        return NULL;
    }
    tf_token probe[4];
    size_t np = 0;
    *bos_out = -1;
    if (tf_tokenize(m, "", 0, TF_TOKENIZE_DEFAULT, probe, 4, &np) == TF_OK && np == 1)
        *bos_out = probe[0];
    tf_token *t = NULL;
    if (tf_tokenize(m, text, len, TF_TOKENIZE_NO_BOS, NULL, 0, n) == TF_ERR_BUFFER &&
        (t = malloc((*n ? *n : 1) * sizeof *t)) &&
        tf_tokenize(m, text, len, TF_TOKENIZE_NO_BOS, t, *n, n) != TF_OK) {
        free(t);
        t = NULL;
    }
    if (!t) fprintf(stderr, "tinfer bench-quants: cannot tokenize the text\n");
    tf_model_close(m);
    return t;
}

/* ---- quantizing ------------------------------------------------------------------ */

typedef struct qprog { const char *label; double last; } qprog;

static void on_quant(const tf_quantize_progress *p, void *user)
{
    qprog *q = user;
    double t = now_s();
    bool end = p->i_tensor + 1 == p->n_tensors && p->rows_done == p->rows;
    if (!end && t - q->last < (g_tty ? 0.2 : 5.0)) return;
    q->last = t;
    char d[160];
    snprintf(d, sizeof d, "%s: %s -> %s", q->label, p->name, p->dst_type_name);
    bar("quantize", p->bytes_total ? (double)p->bytes_done / (double)p->bytes_total : 1, end ? q->label : d);
}

static int quantize_levels(const opts *o, bq_level *lv, size_t n)
{
    char dir[1100];
    snprintf(dir, sizeof dir, "%s/models", o->dir);
    bool any = false;
    for (size_t i = 0; i < n; i++) any = any || lv[i].quantized_here;
    if (any && mkdir(dir, 0777) != 0 && errno != EEXIST) {
        fprintf(stderr, "tinfer bench-quants: cannot create %s: %s\n", dir, strerror(errno));
        return 1;
    }
    for (size_t i = 0; i < n; i++) {
        if (!lv[i].quantized_here) continue;
        qprog q = {.label = lv[i].label};
        tf_quantize_params qp = tf_quantize_default_params();
        qp.n_threads = o->threads;
        qp.pure = o->pure;
        qp.progress = on_quant;
        qp.user = &q;
        if (tf_quantize(o->model, lv[i].path, lv[i].label, &qp) != TF_OK) {
            fprintf(stderr, "%stinfer bench-quants: quantize %s: %s\n", g_tty ? "\n" : "", lv[i].label,
                    tf_last_error());
            return 1;
        }
    }
    return 0;
}

/* ---- speed and memory: one child process per level -------------------------------- */

typedef struct speed_res {
    int ok;
    double load_s, pp_tps, tg_tps;
    char err[240], backend[96];
} speed_res;

static double best_time(tf_context *c, const tf_token *t, int n, bool one_by_one, int *ok)
{
    double best = INFINITY;
    for (int rep = 0; rep < 3 && *ok; rep++) {
        tf_context_reset(c);
        double t0 = now_s();
        if (one_by_one) {
            for (int i = 0; i < n && *ok; i++) *ok = tf_eval(c, &t[i], 1, false) == TF_OK;
        } else {
            *ok = tf_eval(c, t, (size_t)n, false) == TF_OK;
        }
        double dt = now_s() - t0;
        best = dt < best ? dt : best;
    }
    return best;
}

/* toks: at least max(pp, tg) tokens of text, or NULL (--speed-only): then
 * fixed spread-out token ids (any valid ids time the same). */
static void speed_child(const bq_level *l, const opts *o, const tf_token *toks, speed_res *r)
{
    double t0 = now_s();
    tf_model *m = NULL;
    tf_context *c = NULL;
    tf_context_params cp = tf_context_default_params();
    cp.n_ctx = (uint32_t)o->ctx;
    cp.n_batch = (uint32_t)o->pp;
    cp.n_threads = o->threads;
    if (tf_model_open(l->path, NULL, &m) != TF_OK || tf_context_new(m, &cp, &c) != TF_OK) {
        snprintf(r->err, sizeof r->err, "%s", tf_last_error());
        tf_model_close(m);
        return;
    }
    r->load_s = now_s() - t0;
    snprintf(r->backend, sizeof r->backend, "%s", tf_context_backend(c));
    tf_token *own = NULL;
    if (!toks) {
        int nt = o->pp > o->tg ? o->pp : o->tg, nv = tf_n_vocab(m);
        if ((own = malloc((size_t)nt * sizeof *own)))
            for (int i = 0; i < nt; i++) own[i] = (tf_token)((1 + 7919L * i) % nv);
        toks = own;
    }
    int ok = toks && tf_eval(c, toks, (size_t)(o->pp < 8 ? o->pp : 8), false) == TF_OK; /* warm up */
    double pp = best_time(c, toks, o->pp, false, &ok), tg = best_time(c, toks, o->tg, true, &ok);
    if (ok) {
        r->pp_tps = o->pp / pp;
        r->tg_tps = o->tg / tg;
        r->ok = 1;
    } else {
        snprintf(r->err, sizeof r->err, "%s", toks ? tf_context_error(c) : "out of memory");
    }
    free(own);
    tf_context_free(c);
    tf_model_close(m);
}

/* Fork, measure in the child, read its result and its peak RSS. */
static void measure_speed(bq_level *l, const opts *o, const tf_token *toks)
{
    int fd[2];
    speed_res r = {0};
    fflush(NULL);
    if (pipe(fd) != 0) return;
    pid_t pid = fork();
    if (pid == 0) {
        close(fd[0]);
        speed_child(l, o, toks, &r);
        ssize_t w = write(fd[1], &r, sizeof r);
        _exit(w == (ssize_t)sizeof r ? 0 : 1);
    }
    close(fd[1]);
    size_t got = 0;
    while (pid > 0 && got < sizeof r) {
        ssize_t k = read(fd[0], (char *)&r + got, sizeof r - got);
        if (k <= 0) break;
        got += (size_t)k;
    }
    close(fd[0]);
    struct rusage ru;
    int st = 0;
    if (pid < 0 || wait4(pid, &st, 0, &ru) < 0 || got != sizeof r || !r.ok) {
        fprintf(stderr, "%stinfer bench-quants: speed test of %s failed: %s\n", g_tty ? "\n" : "", l->label,
                got == sizeof r ? r.err : "the child process died");
        return;
    }
    l->speed_ok = true;
    l->rss_mib = ru.ru_maxrss / 1024.0; /* Linux: kilobytes */
    l->load_s = r.load_s;
    l->pp_tps = r.pp_tps;
    l->tg_tps = r.tg_tps;
    snprintf(l->backend, sizeof l->backend, "%s", r.backend);
}

/* ---- the streaming pass ---------------------------------------------------------------- */

typedef struct live { tf_model *m; tf_context *c; } live;

/* Size, bits per weight and the matrix types of an opened level. */
static void describe(bq_level *l, tf_model *m)
{
    tf_model_desc d;
    tf_model_describe(m, &d);
    l->file_bytes = d.file_bytes;
    l->n_params = d.n_params;
    l->weight_bytes = d.weight_bytes;
    l->bpw = d.n_params ? 8.0 * (double)d.weight_bytes / (double)d.n_params : 0;
    int count[64] = {0};
    for (size_t i = 0; i < tf_model_n_tensors(m); i++) {
        tf_tensor_info ti;
        if (tf_model_tensor(m, i, &ti) == TF_OK && ti.n_dims >= 2 && ti.type < 64) count[ti.type]++;
    }
    size_t o = 0;
    l->types[0] = 0;
    for (;;) { /* by count, largest first */
        int best = -1;
        for (int t = 0; t < 64; t++)
            if (count[t] && (best < 0 || count[t] > count[best])) best = t;
        if (best < 0 || o + 24 >= sizeof l->types) break;
        tf_tensor_info ti = {0};
        for (size_t i = 0; i < tf_model_n_tensors(m); i++)
            if (tf_model_tensor(m, i, &ti) == TF_OK && ti.type == (uint32_t)best) break;
        o += (size_t)snprintf(l->types + o, sizeof l->types - o, "%s%s x%d", o ? " " : "", ti.type_name,
                              count[best]);
        count[best] = 0;
    }
}

/* --speed-only: size, bpw and types of every level, opened one at a time
 * (after the speed tests, so no child inherits a mapped model). */
static int describe_levels(bq_level *lv, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        tf_model *m = NULL;
        if (tf_model_open(lv[i].path, NULL, &m) != TF_OK) {
            fprintf(stderr, "tinfer bench-quants: %s: %s\n", lv[i].path, tf_last_error());
            return 1;
        }
        describe(&lv[i], m);
        tf_model_close(m);
    }
    return 0;
}

static int open_levels(const opts *o, bq_level *lv, size_t n, live *lm, int n_batch)
{
    tf_context_params cp = tf_context_default_params();
    cp.n_ctx = (uint32_t)o->ctx;
    cp.n_batch = (uint32_t)n_batch;
    cp.n_threads = o->threads;
    for (size_t i = 0; i < n; i++) {
        if (tf_model_open(lv[i].path, NULL, &lm[i].m) != TF_OK ||
            tf_context_new(lm[i].m, &cp, &lm[i].c) != TF_OK) {
            fprintf(stderr, "tinfer bench-quants: %s: %s\n", lv[i].path, tf_last_error());
            return 1;
        }
        describe(&lv[i], lm[i].m);
        if (tf_n_vocab(lm[i].m) != tf_n_vocab(lm[0].m)) {
            fprintf(stderr, "tinfer bench-quants: %s has a different vocabulary than the source\n", lv[i].path);
            return 1;
        }
    }
    return 0;
}

/* Score rows 0..rows-1 of every context: the source's distribution
 * against each level's. */
static int score_chunk(bq_level *lv, size_t n, live *lm, const tf_token *next, int rows, float *buf, int nv)
{
    float *p = buf, *lps = buf + nv, *lpq = buf + 2 * (size_t)nv;
    for (int r = 0; r < rows; r++) {
        const float *x;
        if (tf_logits(lm[0].c, r, &x) != TF_OK) return 1;
        int top_s = bq_log_softmax(x, nv, lps);
        for (int i = 0; i < nv; i++) p[i] = expf(lps[i]);
        if (bq_acc_add(&lv[0].acc, NULL, lps, top_s, lps, top_s, nv, next[r])) return 1;
        for (size_t k = 1; k < n; k++) {
            if (tf_logits(lm[k].c, r, &x) != TF_OK) return 1;
            int top = bq_log_softmax(x, nv, lpq);
            if (bq_acc_add(&lv[k].acc, p, lps, top_s, lpq, top, nv, next[r])) return 1;
        }
    }
    return 0;
}

static int stream_pass(const opts *o, bq_level *lv, size_t n, const tf_token *toks, tf_token bos, bq_info *ri)
{
    int first = o->ctx / 2, rows = o->ctx - 1 - first;
    live lm[MAX_LEVELS] = {{0}};
    tf_token *chunk = malloc((size_t)o->ctx * sizeof *chunk);
    int rc = !chunk || open_levels(o, lv, n, lm, o->ctx - first);
    int nv = rc ? 0 : tf_n_vocab(lm[0].m);
    float *buf = rc ? NULL : malloc(3 * (size_t)nv * sizeof *buf);
    rc = rc || !buf;
    double t0 = now_s();
    for (int c = 0; c < o->chunks && !rc; c++) {
        memcpy(chunk, toks + (size_t)c * o->ctx, (size_t)o->ctx * sizeof *chunk);
        if (bos >= 0) chunk[0] = bos;
        for (size_t k = 0; k < n && !rc; k++) {
            tf_context_reset(lm[k].c);
            if (tf_eval(lm[k].c, chunk, (size_t)first, false) != TF_OK ||
                tf_eval(lm[k].c, chunk + first, (size_t)(o->ctx - first), true) != TF_OK) {
                fprintf(stderr, "tinfer bench-quants: %s: %s\n", lv[k].label, tf_context_error(lm[k].c));
                rc = 1;
            }
        }
        if (!rc && score_chunk(lv, n, lm, chunk + first + 1, rows, buf, nv)) {
            fprintf(stderr, "tinfer bench-quants: scoring failed (out of memory?)\n");
            rc = 1;
        }
        double el = now_s() - t0, eta = el / (c + 1) * (o->chunks - c - 1);
        char d[96];
        snprintf(d, sizeof d, "chunk %d/%d, %.0f s, ETA %.0f s", c + 1, o->chunks, el, eta);
        if (!rc) bar("evaluate", (double)(c + 1) / o->chunks, d);
    }
    ri->n_scored = (size_t)o->chunks * (size_t)rows;
    for (size_t k = 0; k < n; k++) {
        if (!rc) bq_acc_stats(&lv[k].acc, &lv[k].st);
        tf_context_free(lm[k].c);
        tf_model_close(lm[k].m);
    }
    free(buf);
    free(chunk);
    return rc;
}

/* ---- the run -------------------------------------------------------------------------- */

static void machine_info(bq_info *ri)
{
    snprintf(ri->cpu, sizeof ri->cpu, "unknown CPU");
    FILE *f = fopen("/proc/cpuinfo", "r");
    char line[512];
    while (f && fgets(line, sizeof line, f)) {
        char *colon = strchr(line, ':');
        if (!strncmp(line, "model name", 10) && colon) {
            colon += strspn(colon + 1, " \t") + 1;
            colon[strcspn(colon, "\n")] = 0;
            snprintf(ri->cpu, sizeof ri->cpu, "%s", colon);
            break;
        }
    }
    if (f) fclose(f);
    long c = sysconf(_SC_NPROCESSORS_ONLN);
    ri->cores = c > 0 ? (int)c : 1;
    time_t t = time(NULL);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(ri->date, sizeof ri->date, "%Y-%m-%d %H:%M UTC", &tm);
    snprintf(ri->version, sizeof ri->version, "%s", tf_version());
}

static void load_average(double out[3])
{
    if (getloadavg(out, 3) != 3) out[0] = out[1] = out[2] = NAN;
}

static int mkdir_p(const char *dir)
{
    char p[1024];
    snprintf(p, sizeof p, "%s", dir);
    for (char *s = p + 1; *s; s++)
        if (*s == '/') {
            *s = 0;
            if (mkdir(p, 0777) != 0 && errno != EEXIST) return -1;
            *s = '/';
        }
    return mkdir(p, 0777) != 0 && errno != EEXIST ? -1 : 0;
}

static int write_outputs(const opts *o, const bq_info *ri, const bq_level *lv, size_t n)
{
    char path[1200];
    bq_write_markdown(stdout, ri, lv, n, false);
    fflush(stdout);
    snprintf(path, sizeof path, "%s/bench-quants.md", o->dir);
    FILE *f = fopen(path, "w");
    if (!f) return 1;
    bq_write_markdown(f, ri, lv, n, true);
    int plot = bq_plot(o->dir, ri, lv, n);
    if (plot == 0 && ri->speed_only)
        fprintf(f, "\n![decode speed vs file size](speed_vs_size.svg)\n");
    else if (plot == 0)
        fprintf(f, "\n![mean KL vs decode speed](kl_vs_speed.svg)\n\n![mean KL vs file size](kl_vs_size.svg)\n");
    if (fclose(f) != 0) return 1;
    snprintf(path, sizeof path, "%s/bench-quants.csv", o->dir);
    if (bq_write_csv(path, ri, lv, n)) return 1;
    snprintf(path, sizeof path, "%s/bench-quants.json", o->dir);
    if (bq_write_json(path, ri, lv, n)) return 1;
    if (plot == 1)
        fprintf(stderr, "bench-quants: gnuplot is not installed: plots skipped "
                        "(Debian gnuplot-nox; tools/deps.sh bench installs it)\n");
    fprintf(stderr, "bench-quants: wrote %s/bench-quants.{md,csv,json}%s\n", o->dir,
            plot != 0 ? "" : ri->speed_only ? " and speed_vs_size.{svg,png}" : " and kl_vs_{speed,size}.{svg,png}");
    return plot < 0;
}

/* Tokens for chunks x ctx (fewer chunks when the text is short). */
static int prepare_tokens(opts *o, bq_info *ri, tf_token **toks, tf_token *bos)
{
    size_t need = (size_t)o->chunks * (size_t)o->ctx, len = 0, n = 0;
    char *text = load_text(o, need * 8 + 65536, ri, &len);
    if (!text) return 1;
    *toks = tokenize_text(o, text, len, &n, bos);
    free(text);
    if (!*toks) return 1;
    if (n < need) {
        int chunks = (int)(n / (size_t)o->ctx);
        fprintf(stderr, "bench-quants: the text has %zu tokens: %d chunks of %d instead of %d\n", n,
                chunks, o->ctx, o->chunks);
        o->chunks = chunks;
        if (chunks == 0) return 1;
    }
    ri->chunks = o->chunks;
    return 0;
}

static void remove_models(const opts *o, const bq_level *lv, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (lv[i].quantized_here) unlink(lv[i].path);
    char dir[1100];
    snprintf(dir, sizeof dir, "%s/models", o->dir);
    rmdir(dir);
}

int cmd_bench_quants(int argc, char **argv)
{
    opts o;
    int rc = parse_args(argc, argv, &o);
    if (rc >= 0) return rc;
    g_tty = isatty(2) != 0;
    double t0 = now_s();
    bq_info ri = {.source = o.model, .ctx = o.ctx, .threads = o.threads, .pp = o.pp, .tg = o.tg,
                  .pure = o.pure, .note = o.note, .speed_only = o.speed_only};
    machine_info(&ri);
    load_average(ri.load_before);
    bq_level *lv = calloc(MAX_LEVELS, sizeof *lv);
    tf_token *toks = NULL, bos = -1;
    size_t n = 0;
    if (!lv) return 1;
    if ((rc = add_levels(&o, lv, &n)) >= 0) goto out;
    rc = 1;
    if (mkdir_p(o.dir) != 0) {
        fprintf(stderr, "tinfer bench-quants: cannot create %s: %s\n", o.dir, strerror(errno));
        goto out;
    }
    if ((!o.speed_only && prepare_tokens(&o, &ri, &toks, &bos)) || quantize_levels(&o, lv, n)) goto out;
    for (size_t i = 0; i < n; i++) {
        char d[96];
        snprintf(d, sizeof d, "%s (load, pp%d, tg%d)", lv[i].label, o.pp, o.tg);
        bar("speed", (double)i / n, d);
        measure_speed(&lv[i], &o, toks); /* toks NULL with --speed-only */
    }
    bar("speed", 1, "done");
    if (o.speed_only ? describe_levels(lv, n) : stream_pass(&o, lv, n, toks, bos, &ri)) goto out;
    load_average(ri.load_after);
    ri.seconds = now_s() - t0;
    rc = write_outputs(&o, &ri, lv, n);
out:
    if (lv && !o.keep) remove_models(&o, lv, n);
    for (size_t i = 0; lv && i < n; i++) bq_acc_free(&lv[i].acc);
    free(lv);
    free(toks);
    return rc;
}
