/* cmd_bench.c - `tinfer bench`: prompt and decode speed of one model, as
 * a table in the style of llama-bench, with the machine's memory read
 * bandwidth (membw.c) and the fraction of it decoding achieves.
 *
 * Prompt test ppN: N tokens evaluated as one batch into an empty context.
 * Decode test tgN: N tokens evaluated one at a time into an empty
 * context.  Tokens are fixed pseudo-random ids (speed doesn't depend on
 * them).  Each test runs once to warm up, then -r times; the table shows
 * the median tokens/s and the standard deviation over the runs.
 *
 * Decode reads every weight matrix once per token (the token embedding is
 * a row lookup unless the output shares it; of a mixture of experts only
 * the used experts), so weight bytes per token x tokens/s over the
 * bandwidth says how close decoding runs to the memory limit. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "membw.h"
#include "tinfer.h"

#define MAX_LIST 8
#define MAX_RESULTS (3 * MAX_LIST * MAX_LIST)

static const char *usage_text =
    "usage: tinfer bench -m MODEL [options]\n\n"
    "Measures prompt processing (ppN: N tokens as one batch) and decoding (tgN:\n"
    "N tokens one at a time), each from an empty context, after one warm-up\n"
    "run; shows the median tokens/s +- the standard deviation over the runs.\n"
    "Also measures the memory read bandwidth (threads streaming a buffer far\n"
    "larger than the caches; best of 10 runs before and 10 after the tests)\n"
    "and, for decoding, the weight bytes read per second and their fraction\n"
    "of that bandwidth, and of the bandwidth measured right around that\n"
    "decode test (best of 3 runs of a quarter of the buffer just before and\n"
    "3 just after: on a shared machine the bandwidth can change within\n"
    "minutes; when those two differ by more than 25%, or the test read its\n"
    "weights faster than both, the row says \"changed\", as neither then\n"
    "describes the test).\n\n"
    "  -p N[,N...]        prompt sizes (default 128; 0: none)\n"
    "  -n N[,N...]        decode lengths (default 32; 0: none)\n"
    "  -t N[,N...]        threads (default: all CPUs)\n"
    "  -r N               runs per test (default 3)\n"
    "  --backend cpu|vulkan  (default cpu)\n"
    "  --bf16             round F16 matrices to BF16 at load (faster prompts on\n"
    "                     CPUs with AVX512_BF16; the type column says \"as BF16\")\n"
    "  --json, --csv      machine-readable output instead of the table\n"
    "  --bw-mib N         bandwidth buffer in MiB (default 1024); 0: skip the test\n";

typedef struct opts {
    const char *model;
    int pp[MAX_LIST], n_pp, tg[MAX_LIST], n_tg, th[MAX_LIST], n_th;
    int reps, fmt; /* fmt 0: table, 1: json, 2: csv */
    bool bf16;
    tf_backend_kind backend;
    long bw_mib;
} opts;

typedef struct minfo {
    char name[128], type[32];
    const char *arch;
    uint64_t size, params, bytes_per_tok;
} minfo;

typedef struct result {
    char test[24];
    int threads, n;
    bool decode;
    double tps, sd, bw; /* bw: the bandwidth measured with these threads (0: none) */
    double bw_near;     /* decoding: the best of short measurements just before and after it */
    double bw_near_lo;  /* the lower of those two: far below bw_near, the bandwidth changed */
} result;

/* Whether the bandwidth just before and just after a decode test differ
 * by more than 25%, or the test read weights faster than either: the
 * machine changed phase during it (seconds apart here). */
static bool near_varied(const result *r, double bytes_per_s)
{
    return r->bw_near > 0 && (r->bw_near > 1.25 * r->bw_near_lo || bytes_per_s > r->bw_near);
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* "128,512" -> list; false on a bad or too long list. */
static bool parse_list(const char *v, int *out, int *n, int min)
{
    *n = 0;
    for (const char *p = v; *p;) {
        char *end;
        long x = strtol(p, &end, 10);
        if (end == p || x < min || x > 1 << 20 || *n == MAX_LIST || (*end && *end != ',')) return false;
        out[(*n)++] = (int)x;
        p = *end ? end + 1 : end;
    }
    return *n > 0;
}

static int parse(int argc, char **argv, opts *o)
{
    *o = (opts){.pp = {128}, .n_pp = 1, .tg = {32}, .n_tg = 1, .th = {0}, .n_th = 1, .reps = 3,
                .bw_mib = 1024};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) { fputs(usage_text, stdout); return 1; }
        if (!strcmp(a, "--json")) { o->fmt = 1; continue; }
        if (!strcmp(a, "--csv")) { o->fmt = 2; continue; }
        if (!strcmp(a, "--bf16")) { o->bf16 = true; continue; }
        if (!v) { fprintf(stderr, "tinfer bench: '%s' needs a value (or is unknown)\n", a); return 2; }
        i++;
        bool ok = true;
        char *end;
        if (!strcmp(a, "-m")) o->model = v;
        else if (!strcmp(a, "-p")) ok = parse_list(v, o->pp, &o->n_pp, 0);
        else if (!strcmp(a, "-n")) ok = parse_list(v, o->tg, &o->n_tg, 0);
        else if (!strcmp(a, "-t")) ok = parse_list(v, o->th, &o->n_th, 1);
        else if (!strcmp(a, "-r")) { o->reps = (int)strtol(v, &end, 10); ok = !*end && o->reps >= 1 && o->reps <= 1000; }
        else if (!strcmp(a, "--bw-mib")) { o->bw_mib = strtol(v, &end, 10); ok = !*end && o->bw_mib >= 0 && o->bw_mib <= 1 << 20; }
        else if (!strcmp(a, "--backend")) {
            ok = !strcmp(v, "cpu") || !strcmp(v, "vulkan");
            o->backend = !strcmp(v, "vulkan") ? TF_BACKEND_VULKAN : TF_BACKEND_CPU;
        } else { fprintf(stderr, "tinfer bench: unknown option '%s'\n", a); return 2; }
        if (!ok) { fprintf(stderr, "tinfer bench: bad value for %s: '%s'\n", a, v); return 2; }
    }
    if (!o->model) { fprintf(stderr, "tinfer bench: need -m MODEL\n\n%s", usage_text); return 2; }
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    for (int i = 0; i < o->n_th; i++)
        if (o->th[i] == 0) o->th[i] = ncpu > 0 ? (int)ncpu : 1; /* the default: all CPUs */
    return 0;
}

/* general.file_type as the reference engine names it (llama_ftype). */
static const char *ftype_name(long ft)
{
    static const char *const names[] = {
        [0] = "F32", [1] = "F16", [2] = "Q4_0", [3] = "Q4_1", [7] = "Q8_0", [8] = "Q5_0",
        [9] = "Q5_1", [10] = "Q2_K", [11] = "Q3_K_S", [12] = "Q3_K_M", [13] = "Q3_K_L",
        [14] = "Q4_K_S", [15] = "Q4_K_M", [16] = "Q5_K_S", [17] = "Q5_K_M", [18] = "Q6_K",
        [25] = "IQ4_NL", [32] = "BF16"};
    return ft >= 0 && ft < (long)(sizeof names / sizeof names[0]) ? names[ft] : NULL;
}

static void describe(const tf_model *m, const char *path, minfo *mi)
{
    tf_model_desc d;
    tf_model_describe(m, &d);
    const char *base = strrchr(path, '/');
    snprintf(mi->name, sizeof mi->name, "%s", *d.name ? d.name : base ? base + 1 : path);
    mi->arch = d.arch;
    mi->size = d.weight_bytes;
    mi->params = d.n_params;
    char buf[32];
    size_t n;
    const char *ft = NULL;
    if (tf_model_meta_str(m, "general.file_type", buf, sizeof buf, &n) == TF_OK) ft = ftype_name(strtol(buf, NULL, 10));
    /* Without a known file type: the type holding most matrix bytes. */
    uint64_t by_type[64] = {0}, best = 0;
    const char *tname[64] = {0};
    mi->bytes_per_tok = 0;
    for (size_t i = 0; i < tf_model_n_tensors(m); i++) {
        tf_tensor_info ti;
        if (tf_model_tensor(m, i, &ti) != TF_OK) continue;
        uint64_t b = ti.bytes;
        if (!strcmp(ti.name, "token_embd.weight") && !d.tied_output) b = 0; /* a row lookup */
        if (strstr(ti.name, "_exps.") && d.n_expert > 0) b = b / (uint64_t)d.n_expert * (uint64_t)d.n_expert_used;
        mi->bytes_per_tok += b;
        if (ti.n_dims >= 2 && ti.type < 64) {
            by_type[ti.type] += ti.bytes;
            tname[ti.type] = ti.type_name;
        }
    }
    for (int t = 0; !ft && t < 64; t++)
        if (by_type[t] > best) {
            best = by_type[t];
            snprintf(mi->type, sizeof mi->type, "%s", tname[t]);
        }
    if (ft || !best) snprintf(mi->type, sizeof mi->type, "%s", ft ? ft : "?");
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* One test (warm-up + reps): median and standard deviation of tokens/s. */
static int run_test(tf_context *c, const tf_token *toks, int n, bool decode, int reps, result *r)
{
    double tps[1001];
    for (int k = -1; k < reps; k++) {
        if (tf_context_reset(c) != TF_OK) return -1;
        double t0 = now_s();
        if (!decode) {
            if (tf_eval(c, toks, (size_t)n, false) != TF_OK) return -1;
        } else {
            for (int i = 0; i < n; i++)
                if (tf_eval(c, &toks[i], 1, false) != TF_OK) return -1;
        }
        if (k >= 0) tps[k] = n / (now_s() - t0);
    }
    double mean = 0, var = 0;
    for (int k = 0; k < reps; k++) mean += tps[k] / reps;
    for (int k = 0; k < reps; k++) var += (tps[k] - mean) * (tps[k] - mean);
    r->sd = reps > 1 ? sqrt(var / (reps - 1)) : 0;
    qsort(tps, (size_t)reps, sizeof tps[0], cmp_double);
    r->tps = reps % 2 ? tps[reps / 2] : (tps[reps / 2 - 1] + tps[reps / 2]) / 2;
    return 0;
}

static void cpu_name(char *out, size_t cap)
{
    snprintf(out, cap, "unknown CPU");
    FILE *f = fopen("/proc/cpuinfo", "r");
    char line[512];
    while (f && fgets(line, sizeof line, f)) {
        char *colon = strchr(line, ':');
        if (!strncmp(line, "model name", 10) && colon) {
            colon += 1 + (colon[1] == ' ');
            colon[strcspn(colon, "\n")] = 0;
            snprintf(out, cap, "%s", colon);
            break;
        }
    }
    if (f) fclose(f);
}

static void human_size(uint64_t b, char *out, size_t cap)
{
    if (b >= (1ull << 30)) snprintf(out, cap, "%.2f GiB", b / 1073741824.0);
    else snprintf(out, cap, "%.1f MiB", b / 1048576.0);
}

static void print_table(const opts *o, const minfo *mi, const result *rs, int nr)
{
    char size[32], par[32];
    human_size(mi->size, size, sizeof size);
    snprintf(par, sizeof par, mi->params >= 1000000000 ? "%.2f B" : "%.1f M",
             mi->params >= 1000000000 ? mi->params / 1e9 : mi->params / 1e6);
    printf("| model | size | params | type | backend | threads | test | t/s | weights GB/s | of bandwidth | of bandwidth around it |\n"
           "| --- | ---: | ---: | --- | --- | ---: | --- | ---: | ---: | ---: | ---: |\n");
    for (int i = 0; i < nr; i++) {
        const result *r = &rs[i];
        printf("| %s | %s | %s | %s | %s | %d | %s | %.2f ± %.2f |", mi->name, size, par, mi->type,
               o->backend == TF_BACKEND_VULKAN ? "vulkan" : "cpu", r->threads, r->test, r->tps, r->sd);
        if (r->decode) {
            double gbs = mi->bytes_per_tok * r->tps / 1e9;
            printf(" %.2f |", gbs);
            if (r->bw > 0) printf(" %.0f%% |", 100 * gbs * 1e9 / r->bw);
            else printf(" - |");
            if (r->bw_near > 0) {
                printf(" %.0f%% of %.1f GB/s", 100 * gbs * 1e9 / r->bw_near, r->bw_near / 1e9);
                if (near_varied(r, gbs * 1e9)) /* neither figure is the test's: say so */
                    printf(" (changed: %.1f before or after%s)", r->bw_near_lo / 1e9,
                           gbs * 1e9 > r->bw_near ? ", more during it" : "");
                printf(" |\n");
            } else {
                printf(" - |\n");
            }
        } else {
            printf(" - | - | - |\n");
        }
    }
}

/* A quoted CSV field (quotes doubled), or a JSON string's body (quotes
 * and backslashes escaped, control bytes dropped). */
static void csv_str(const char *s)
{
    putchar('"');
    for (; *s; s++) {
        if (*s == '"') putchar('"');
        putchar(*s);
    }
    putchar('"');
}

static void json_str(const char *s)
{
    putchar('"');
    for (; *s; s++) {
        if (*s == '"' || *s == '\\') putchar('\\');
        if ((unsigned char)*s >= 0x20) putchar(*s);
    }
    putchar('"');
}

static void print_machine(const opts *o, const minfo *mi, const result *rs, int nr, const double la[2][3])
{
    char cpu[256];
    cpu_name(cpu, sizeof cpu);
    if (o->fmt == 1) {
        printf("{\n  \"cpu\": ");
        json_str(cpu);
        printf(", \"loadavg_before\": [%.2f, %.2f, %.2f], \"loadavg_after\": [%.2f, %.2f, %.2f],\n",
               la[0][0], la[0][1], la[0][2], la[1][0], la[1][1], la[1][2]);
        printf("  \"model\": {\"name\": ");
        json_str(mi->name);
        printf(", \"arch\": \"%s\", \"type\": \"%s\", \"size_bytes\": %llu, "
               "\"params\": %llu, \"weight_bytes_per_token\": %llu},\n  \"backend\": \"%s\", \"reps\": %d,\n  \"results\": [\n",
               mi->arch, mi->type, (unsigned long long)mi->size, (unsigned long long)mi->params,
               (unsigned long long)mi->bytes_per_tok, o->backend == TF_BACKEND_VULKAN ? "vulkan" : "cpu", o->reps);
        for (int i = 0; i < nr; i++) {
            const result *r = &rs[i];
            printf("    {\"test\": \"%s\", \"threads\": %d, \"n_tokens\": %d, \"tps_median\": %.4f, \"tps_stddev\": %.4f, "
                   "\"bandwidth_bytes_per_s\": %.0f", r->test, r->threads, r->n, r->tps, r->sd, r->bw);
            if (r->decode && r->bw > 0) printf(", \"bandwidth_fraction\": %.4f", mi->bytes_per_tok * r->tps / r->bw);
            if (r->decode && r->bw_near > 0)
                printf(", \"bandwidth_near_bytes_per_s\": %.0f, \"bandwidth_near_fraction\": %.4f, "
                       "\"bandwidth_near_low_bytes_per_s\": %.0f, \"bandwidth_near_changed\": %s",
                       r->bw_near, mi->bytes_per_tok * r->tps / r->bw_near, r->bw_near_lo,
                       near_varied(r, mi->bytes_per_tok * r->tps) ? "true" : "false");
            printf("}%s\n", i + 1 < nr ? "," : "");
        }
        printf("  ]\n}\n");
        return;
    }
    printf("model,type,size_bytes,params,backend,threads,test,n_tokens,tps_median,tps_stddev,"
           "weight_bytes_per_token,bandwidth_bytes_per_s,bandwidth_fraction,bandwidth_near_bytes_per_s,"
           "bandwidth_near_fraction,bandwidth_near_low_bytes_per_s,cpu,loadavg1\n");
    for (int i = 0; i < nr; i++) {
        const result *r = &rs[i];
        csv_str(mi->name);
        printf(",%s,%llu,%llu,%s,%d,%s,%d,%.4f,%.4f,%llu,%.0f,", mi->type,
               (unsigned long long)mi->size, (unsigned long long)mi->params,
               o->backend == TF_BACKEND_VULKAN ? "vulkan" : "cpu", r->threads, r->test, r->n, r->tps, r->sd,
               (unsigned long long)(r->decode ? mi->bytes_per_tok : 0), r->bw);
        if (r->decode && r->bw > 0) printf("%.4f", mi->bytes_per_tok * r->tps / r->bw);
        printf(",%.0f,", r->bw_near);
        if (r->decode && r->bw_near > 0) printf("%.4f", mi->bytes_per_tok * r->tps / r->bw_near);
        printf(",%.0f,", r->bw_near_lo);
        csv_str(cpu);
        printf(",%.2f\n", la[1][0]);
    }
}

/* Memory bandwidth per distinct thread count, measured before and after
 * the tests (other work on the machine only ever lowers a run, so the
 * best of both counts). */
typedef struct bwinfo { int threads; double before, after; } bwinfo;

/* Before the tests (after = false): adds every distinct -t to bw[0..*n)
 * and measures it; after: measures each again.  -1 on failure. */
static int measure_bw(const opts *o, bwinfo *bw, int *n, bool after)
{
    if (!after) {
        *n = 0;
        for (int i = 0; i < o->n_th && o->bw_mib > 0; i++) {
            int k = 0;
            while (k < *n && bw[k].threads != o->th[i]) k++;
            if (k == *n) bw[(*n)++] = (bwinfo){o->th[i], 0, 0};
        }
    }
    for (int k = 0; k < *n; k++) {
        membw_result br = {0};
        if (membw_read((size_t)o->bw_mib << 20, bw[k].threads, 10, &br) != 0) return -1;
        *(after ? &bw[k].after : &bw[k].before) = br.bytes_per_s;
    }
    return 0;
}

static double bw_best(const bwinfo *bw, int n, int t)
{
    for (int i = 0; i < n; i++)
        if (bw[i].threads == t) return bw[i].before > bw[i].after ? bw[i].before : bw[i].after;
    return 0;
}

static int bench_threads(tf_model *m, const opts *o, int t, int max_pp, int max_tg, const tf_token *toks,
                         result *rs, int *nr)
{
    tf_context_params cp = tf_context_default_params();
    cp.n_threads = t;
    cp.n_ctx = (uint32_t)((max_pp > max_tg ? max_pp : max_tg) + 16);
    cp.n_batch = (uint32_t)(max_pp > 0 ? max_pp : 1);
    tf_context *c = NULL;
    if (tf_context_new(m, &cp, &c) != TF_OK) {
        fprintf(stderr, "tinfer bench: %s\n", tf_last_error());
        return 1;
    }
    if (o->fmt == 0)
        printf("backend: %s\n", tf_context_backend(c));
    for (int pass = 0; pass < 2; pass++) {
        const int *list = pass ? o->tg : o->pp, n_list = pass ? o->n_tg : o->n_pp;
        for (int i = 0; i < n_list; i++) {
            if (list[i] == 0) continue;
            result *r = &rs[(*nr)++];
            *r = (result){.threads = t, .n = list[i], .decode = pass == 1};
            snprintf(r->test, sizeof r->test, "%s%d", pass ? "tg" : "pp", list[i]);
            /* The machine's bandwidth can change by 2x within minutes on a
             * shared host: decoding is also compared with what the memory
             * gave right around it (a quarter of the buffer, best of 3
             * runs before and 3 after). */
            membw_result b0 = {0}, b1 = {0};
            size_t near = (size_t)o->bw_mib << 18;
            bool measure = pass == 1 && near > 0 && o->backend != TF_BACKEND_VULKAN;
            if (measure && membw_read(near, t, 3, &b0) != 0) measure = false;
            int bad = run_test(c, toks, list[i], pass == 1, o->reps, r);
            if (measure && !bad && membw_read(near, t, 3, &b1) == 0) {
                r->bw_near = b0.bytes_per_s > b1.bytes_per_s ? b0.bytes_per_s : b1.bytes_per_s;
                r->bw_near_lo = b0.bytes_per_s < b1.bytes_per_s ? b0.bytes_per_s : b1.bytes_per_s;
            }
            if (bad) {
                fprintf(stderr, "tinfer bench: %s: %s\n", r->test, tf_context_error(c));
                tf_context_free(c);
                return 1;
            }
        }
    }
    tf_context_free(c);
    return 0;
}

int cmd_bench(int argc, char **argv)
{
    opts o;
    int rc = parse(argc, argv, &o);
    if (rc) return rc == 1 ? 0 : rc;
    double la[2][3] = {{0}};
    getloadavg(la[0], 3);
    tf_model_params mp = tf_model_default_params();
    mp.backend = o.backend;
    mp.f16_as_bf16 = o.bf16;
    tf_model *m = NULL;
    if (tf_model_open(o.model, &mp, &m) != TF_OK) {
        fprintf(stderr, "tinfer bench: %s\n", tf_last_error());
        return 1;
    }
    minfo mi;
    describe(m, o.model, &mi);
    if (o.bf16 && !strcmp(mi.type, "F16")) snprintf(mi.type, sizeof mi.type, "F16 as BF16");
    int max_pp = 0, max_tg = 0;
    for (int i = 0; i < o.n_pp; i++) max_pp = o.pp[i] > max_pp ? o.pp[i] : max_pp;
    for (int i = 0; i < o.n_tg; i++) max_tg = o.tg[i] > max_tg ? o.tg[i] : max_tg;
    int n_tok = (max_pp > max_tg ? max_pp : max_tg) + 1;
    tf_token *toks = malloc((size_t)n_tok * sizeof *toks);
    result *rs = calloc(MAX_RESULTS, sizeof *rs);
    if (!toks || !rs) {
        fprintf(stderr, "tinfer bench: out of memory\n");
        rc = 1;
        goto done;
    }
    uint64_t seed = 0x2545f4914f6cdd1dull;
    int32_t nv = tf_n_vocab(m);
    for (int i = 0; i < n_tok; i++) {
        seed ^= seed << 13, seed ^= seed >> 7, seed ^= seed << 17;
        toks[i] = (tf_token)(seed % (uint64_t)nv);
    }
    if (tf_token_bos(m) >= 0) toks[0] = tf_token_bos(m);
    int nr = 0;
    bwinfo bw[MAX_LIST];
    int n_bw = 0;
    if (measure_bw(&o, bw, &n_bw, false)) n_bw = 0;
    for (int i = 0; i < o.n_th && !rc; i++)
        rc = bench_threads(m, &o, o.th[i], max_pp, max_tg, toks, rs, &nr);
    if (!rc && n_bw > 0) measure_bw(&o, bw, &n_bw, true);
    getloadavg(la[1], 3);
    if (rc) goto done;
    for (int i = 0; i < nr; i++) rs[i].bw = bw_best(bw, n_bw, rs[i].threads);
    if (o.fmt == 0) {
        for (int i = 0; i < n_bw; i++)
            printf("memory read bandwidth with %d thread%s: %.2f GB/s (%ld MiB buffer, best of 10 runs "
                   "before the tests: %.2f, after: %.2f)\n", bw[i].threads, bw[i].threads > 1 ? "s" : "",
                   bw_best(bw, n_bw, bw[i].threads) / 1e9,
                   o.bw_mib, bw[i].before / 1e9, bw[i].after / 1e9);
        print_table(&o, &mi, rs, nr);
        printf("\nweights read per decoded token: %.1f MiB; load average %.2f before, %.2f after\n",
               mi.bytes_per_tok / 1048576.0, la[0][0], la[1][0]);
    } else {
        print_machine(&o, &mi, rs, nr, la);
    }
done:
    free(toks);
    free(rs);
    tf_model_close(m);
    return rc;
}
