/* bq_report.c - the outputs of `tinfer bench-quants`: a markdown table
 * (stdout and DIR/bench-quants.md), DIR/bench-quants.csv,
 * DIR/bench-quants.json, and two gnuplot plots (mean KL on a log scale vs
 * decode speed and vs file size, one labelled point per level), or with
 * --speed-only one: decode speed vs file size. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bq.h"

static double mib(uint64_t b) { return (double)b / 1048576.0; }

static const char *base_name(const char *p)
{
    const char *s = strrchr(p, '/');
    return s ? s + 1 : p;
}

#define SPEED_ONLY_NOTE "speed only: the source has random weights, so perplexity and KL divergence " \
                        "would be meaningless and are not measured"

static void markdown_header(FILE *f, const bq_info *ri, const bq_level *lv, size_t n)
{
    bool quantized = false, given = false;
    const char *backend = NULL;
    for (size_t i = 0; i < n; i++) {
        quantized = quantized || lv[i].quantized_here;
        given = given || (!lv[i].source && !lv[i].quantized_here);
        if (!backend && lv[i].speed_ok && lv[i].backend[0]) backend = lv[i].backend;
    }
    fprintf(f, "# tinfer bench-quants: %s\n\n", base_name(ri->source));
    if (ri->speed_only) fprintf(f, "**" SPEED_ONLY_NOTE "**\n\n");
    fprintf(f, "- date: %s, tinfer %s, %.0f s for the whole run\n", ri->date, ri->version, ri->seconds);
    fprintf(f, "- machine: %s, %d cores online; load average before the run %.2f %.2f %.2f, "
               "after %.2f %.2f %.2f\n", ri->cpu, ri->cores, ri->load_before[0], ri->load_before[1],
            ri->load_before[2], ri->load_after[0], ri->load_after[1], ri->load_after[2]);
    if (ri->load_before[0] > 0.25 * ri->cores)
        fprintf(f, "- **note: the machine was busy before the run started (1-minute load %.2f on %d "
                   "cores): other work shared the CPU, so speeds and load times are pessimistic**\n",
                ri->load_before[0], ri->cores);
    fprintf(f, "- source: `%s`", ri->source);
    if (quantized)
        fprintf(f, "; the `--types` levels were quantized from it with `tinfer quantize`%s", ri->pure ? " --pure" : "");
    if (given) fprintf(f, "; the `--files` levels are reported as given");
    fprintf(f, "\n");
    if (ri->note) fprintf(f, "- note: %s\n", ri->note);
    if (!ri->speed_only)
        fprintf(f, "- text: %s; %d chunks of %d tokens, each scored on its second half (%zu positions)\n",
                ri->text_desc, ri->chunks, ri->ctx, ri->n_scored);
    fprintf(f, "- speed on %s: pp%d = one %d-token batch, tg%d = %d single-token steps from an "
               "empty context, best of 3; load = model open + context creation (file in the page "
               "cache); peak RSS = maximum resident set of a child process that loads the model and "
               "runs the speed test with a %d-token context\n",
            backend ? backend : "no level measured", ri->pp, ri->pp, ri->tg, ri->tg, ri->ctx);
    if (!ri->speed_only)
        fprintf(f, "- KL = KL(source || level) of the next-token distribution in nats (mean and 99th "
                   "percentile over the scored positions); top-1 = share of positions where the level's "
                   "most likely token is the source's; PPL = perplexity of the text (± standard error)\n");
    fprintf(f, "\n");
}

void bq_write_markdown(FILE *f, const bq_info *ri, const bq_level *lv, size_t n, bool full)
{
    bool q = !ri->speed_only;
    if (full) markdown_header(f, ri, lv, n);
    else if (!q) fprintf(f, SPEED_ONLY_NOTE "\n\n");
    fprintf(f, "| level | size MiB | bpw | peak RSS MiB | load s | pp%d tok/s | tg%d tok/s |%s matrix types |\n",
            ri->pp, ri->tg, q ? " PPL | mean KL | p99 KL | top-1 % |" : "");
    fprintf(f, "| --- | ---: | ---: | ---: | ---: | ---: | ---: |%s --- |\n", q ? " ---: | ---: | ---: | ---: |" : "");
    for (size_t i = 0; i < n; i++) {
        const bq_level *l = &lv[i];
        fprintf(f, "| %s%s | %.1f | %.2f | ", l->label, l->source ? " (source)" : "", mib(l->file_bytes), l->bpw);
        if (l->speed_ok)
            fprintf(f, "%.0f | %.3f | %.1f | %.1f | ", l->rss_mib, l->load_s, l->pp_tps, l->tg_tps);
        else
            fprintf(f, "- | - | - | - | ");
        if (q) fprintf(f, "%.3f ± %.3f | ", l->st.ppl, l->st.ppl_err);
        if (q && l->source)
            fprintf(f, "0 | 0 | 100 | ");
        else if (q)
            fprintf(f, "%.5f | %.4f | %.2f | ", l->st.kl_mean, l->st.kl_p99, 100 * l->st.top1);
        fprintf(f, "%s |\n", l->types);
    }
}

int bq_write_csv(const char *path, const bq_info *ri, const bq_level *lv, size_t n)
{
    FILE *f = fopen(path, "w");
    if (!f) {
        fprintf(stderr, "bench-quants: cannot write %s: %s\n", path, strerror(errno));
        return -1;
    }
    fprintf(f, "level,file,source,size_bytes,n_params,bpw,peak_rss_mib,load_s,pp_tps,tg_tps,ppl,ppl_err,"
               "kl_mean,kl_err,kl_p99,kl_max,top1,top1_err,types\n");
    for (size_t i = 0; i < n; i++) {
        const bq_level *l = &lv[i];
        fprintf(f, "%s,%s,%d,%llu,%llu,%.4f,", l->label, base_name(l->path), l->source,
                (unsigned long long)l->file_bytes, (unsigned long long)l->n_params, l->bpw);
        if (l->speed_ok)
            fprintf(f, "%.1f,%.4f,%.2f,%.2f,", l->rss_mib, l->load_s, l->pp_tps, l->tg_tps);
        else
            fprintf(f, ",,,,");
        if (ri->speed_only) /* no quality pass: those fields stay empty */
            fprintf(f, ",,,,,,,,%s\n", l->types);
        else
            fprintf(f, "%.6f,%.6f,%.8f,%.8f,%.8f,%.8f,%.6f,%.6f,%s\n", l->st.ppl, l->st.ppl_err,
                l->source ? 0 : l->st.kl_mean, l->source ? 0 : l->st.kl_err, l->source ? 0 : l->st.kl_p99,
                l->source ? 0 : l->st.kl_max, l->source ? 1 : l->st.top1, l->source ? 0 : l->st.top1_err,
                l->types);
    }
    return fclose(f) == 0 ? 0 : -1;
}

static void json_str(FILE *f, const char *s)
{
    fputc('"', f);
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\') fprintf(f, "\\%c", c);
        else if (c < 0x20) fprintf(f, "\\u%04x", c);
        else fputc(c, f);
    }
    fputc('"', f);
}

static void json_num(FILE *f, const char *key, double v, const char *sep)
{
    if (isfinite(v)) fprintf(f, "\"%s\": %.10g%s", key, v, sep);
    else fprintf(f, "\"%s\": null%s", key, sep);
}

int bq_write_json(const char *path, const bq_info *ri, const bq_level *lv, size_t n)
{
    FILE *f = fopen(path, "w");
    if (!f) {
        fprintf(stderr, "bench-quants: cannot write %s: %s\n", path, strerror(errno));
        return -1;
    }
    fprintf(f, "{\n  \"tinfer\": ");
    json_str(f, ri->version);
    fprintf(f, ",\n  \"date\": ");
    json_str(f, ri->date);
    fprintf(f, ",\n  \"cpu\": ");
    json_str(f, ri->cpu);
    fprintf(f, ",\n  \"cores\": %d,\n  \"load_before\": [%.2f, %.2f, %.2f],\n  \"load_after\": [%.2f, %.2f, %.2f],\n",
            ri->cores, ri->load_before[0], ri->load_before[1], ri->load_before[2], ri->load_after[0],
            ri->load_after[1], ri->load_after[2]);
    fprintf(f, "  \"source\": ");
    json_str(f, ri->source);
    fprintf(f, ",\n  \"note\": ");
    json_str(f, ri->note ? ri->note : "");
    fprintf(f, ",\n  \"speed_only\": %s", ri->speed_only ? "true" : "false");
    fprintf(f, ",\n  \"text\": ");
    json_str(f, ri->text_desc);
    fprintf(f, ",\n  \"chunks\": %d, \"ctx\": %d, \"scored\": %zu, \"threads\": %d, \"pp\": %d, \"tg\": %d,\n",
            ri->chunks, ri->ctx, ri->n_scored, ri->threads, ri->pp, ri->tg);
    fprintf(f, "  \"levels\": [\n");
    for (size_t i = 0; i < n; i++) {
        const bq_level *l = &lv[i];
        fprintf(f, "    {\"level\": ");
        json_str(f, l->label);
        fprintf(f, ", \"file\": ");
        json_str(f, base_name(l->path));
        fprintf(f, ", \"source\": %s, \"size_bytes\": %llu, \"n_params\": %llu, ", l->source ? "true" : "false",
                (unsigned long long)l->file_bytes, (unsigned long long)l->n_params);
        json_num(f, "bpw", l->bpw, ", ");
        json_num(f, "peak_rss_mib", l->speed_ok ? l->rss_mib : NAN, ", ");
        json_num(f, "load_s", l->speed_ok ? l->load_s : NAN, ", ");
        json_num(f, "pp_tps", l->speed_ok ? l->pp_tps : NAN, ", ");
        json_num(f, "tg_tps", l->speed_ok ? l->tg_tps : NAN, ", ");
        double no = ri->speed_only ? NAN : 0; /* NaN: null, the quality pass did not run */
        json_num(f, "ppl", no + l->st.ppl, ", ");
        json_num(f, "ppl_err", no + l->st.ppl_err, ", ");
        json_num(f, "kl_mean", no + (l->source ? 0 : l->st.kl_mean), ", ");
        json_num(f, "kl_err", no + (l->source ? 0 : l->st.kl_err), ", ");
        json_num(f, "kl_p99", no + (l->source ? 0 : l->st.kl_p99), ", ");
        json_num(f, "kl_max", no + (l->source ? 0 : l->st.kl_max), ", ");
        json_num(f, "top1", no + (l->source ? 1 : l->st.top1), ", ");
        json_num(f, "top1_err", no + (l->source ? 0 : l->st.top1_err), ", ");
        fprintf(f, "\"backend\": ");
        json_str(f, l->speed_ok ? l->backend : "");
        fprintf(f, ", \"types\": ");
        json_str(f, l->types);
        fprintf(f, "}%s\n", i + 1 < n ? "," : "");
    }
    fprintf(f, "  ]\n}\n");
    return fclose(f) == 0 ? 0 : -1;
}

/* ---- plots ---------------------------------------------------------------- */

static const char *plot_script =
    "# Written by tinfer bench-quants; rerun with: gnuplot bench-quants.gp\n"
    "set datafile separator \"\\t\"\n"
    "set logscale y\n"
    "set format y \"%g\"\n"
    "set grid\n"
    "set key off\n"
    "set ylabel \"mean KL divergence vs source (nats, log scale)\"\n"
    "set offsets graph 0.08, graph 0.15, graph 0.1, graph 0.1\n"
    "do for [fmt in \"svg png\"] {\n"
    "  if (fmt eq \"svg\") { set terminal svg size 800,520 dynamic noenhanced font \"sans,12\" }\n"
    "  if (fmt eq \"png\") { set terminal pngcairo size 1000,650 noenhanced font \"sans,11\" }\n"
    "  set output \"kl_vs_speed.\".fmt\n"
    "  set title TITLE.\": quality vs decode speed\"\n"
    "  set xlabel \"decode speed, tokens/s (tg\".TG.\", \".THREADS.\" threads)\"\n"
    "  plot \"bench-quants.dat\" using 3:4 with points pt 7 ps 1.3, "
    "\"\" using 3:4:1 with labels offset char 1,0.6 left\n"
    "  set output \"kl_vs_size.\".fmt\n"
    "  set title TITLE.\": quality vs file size\"\n"
    "  set xlabel \"file size, MiB\"\n"
    "  plot \"bench-quants.dat\" using 2:4 with points pt 7 ps 1.3, "
    "\"\" using 2:4:1 with labels offset char 1,0.6 left\n"
    "  unset output\n"
    "}\n";

/* --speed-only: decode speed against file size, every level with a speed. */
static const char *speed_plot_script =
    "# Written by tinfer bench-quants --speed-only; rerun with: gnuplot bench-quants.gp\n"
    "set datafile separator \"\\t\"\n"
    "set grid\n"
    "set key off\n"
    "set yrange [0:*]\n"
    "set xrange [0:*]\n"
    "set ylabel \"decode speed, tokens/s (tg\".TG.\", \".THREADS.\" threads)\"\n"
    "set xlabel \"file size, MiB\"\n"
    "set offsets graph 0.02, graph 0.15, graph 0.1, graph 0\n"
    "do for [fmt in \"svg png\"] {\n"
    "  if (fmt eq \"svg\") { set terminal svg size 800,520 dynamic noenhanced font \"sans,12\" }\n"
    "  if (fmt eq \"png\") { set terminal pngcairo size 1000,650 noenhanced font \"sans,11\" }\n"
    "  set output \"speed_vs_size.\".fmt\n"
    "  set title TITLE.\": decode speed vs file size (random weights: speed only)\"\n"
    "  plot \"bench-quants.dat\" using 2:3 with points pt 7 ps 1.3, "
    "\"\" using 2:3:1 with labels offset char 1,0.6 left\n"
    "  unset output\n"
    "}\n";

static int write_plot_data(const char *path, const bq_info *ri, const bq_level *lv, size_t n)
{
    FILE *f = fopen(path, "w");
    if (!f) return -1;
    if (ri->speed_only) {
        fprintf(f, "# level\tsize_mib\ttg_tps\tpp_tps (levels with a speed)\n");
        for (size_t i = 0; i < n; i++)
            if (lv[i].speed_ok)
                fprintf(f, "%s\t%.3f\t%.3f\t%.3f\n", lv[i].label, mib(lv[i].file_bytes), lv[i].tg_tps,
                        lv[i].pp_tps);
    } else {
        fprintf(f, "# level\tsize_mib\ttg_tps\tkl_mean (levels with KL > 0 and a speed)\n");
        for (size_t i = 0; i < n; i++)
            if (!lv[i].source && lv[i].speed_ok && lv[i].st.kl_mean > 0)
                fprintf(f, "%s\t%.3f\t%.3f\t%.8g\n", lv[i].label, mib(lv[i].file_bytes), lv[i].tg_tps,
                        lv[i].st.kl_mean);
    }
    return fclose(f) == 0 ? 0 : -1;
}

int bq_plot(const char *dir, const bq_info *ri, const bq_level *lv, size_t n)
{
    char path[1200];
    snprintf(path, sizeof path, "%s/bench-quants.dat", dir);
    if (write_plot_data(path, ri, lv, n)) return -1;
    snprintf(path, sizeof path, "%s/bench-quants.gp", dir);
    FILE *f = fopen(path, "w");
    if (!f) return -1;
    char title[128];
    snprintf(title, sizeof title, "%s", base_name(ri->source));
    for (char *c = title; *c; c++)
        if (*c == '"' || *c == '\\' || (unsigned char)*c < 0x20) *c = '_';
    fprintf(f, "TITLE = \"%s\"\nTG = \"%d\"\nTHREADS = \"%d\"\n%s", title, ri->tg, ri->threads,
            ri->speed_only ? speed_plot_script : plot_script);
    if (fclose(f) != 0) return -1;
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) return -1;
    if (pid == 0) {
        if (chdir(dir) != 0) _exit(126);
        execlp("gnuplot", "gnuplot", "bench-quants.gp", (char *)NULL);
        _exit(127);
    }
    int st;
    if (waitpid(pid, &st, 0) < 0) return -1;
    if (WIFEXITED(st) && WEXITSTATUS(st) == 127) return 1;
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
        fprintf(stderr, "bench-quants: gnuplot failed (script %s/bench-quants.gp)\n", dir);
        return -1;
    }
    return 0;
}
