/* cmd_quantize.c - `tinfer quantize`: rewrite a model in another file type
 * (tf_quantize), with a progress bar and the fallback notes on stderr. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "tinfer.h"

static const char *usage_text =
    "usage: tinfer quantize IN.gguf OUT.gguf TYPE [--pure] [-t N] [-q|-v]\n\n"
    "Writes IN's weights in file type TYPE (case-insensitive) to OUT.  Any\n"
    "tensor type tinfer reads is a valid source (F32, F16, BF16 or quantized:\n"
    "requantizing loses more than quantizing the original).  OUT appears only\n"
    "when complete (written as OUT.tmp, then renamed).\n\n"
    "  --pure   every quantized matrix gets TYPE's base type; without it the\n"
    "           reference engine's mix rules apply (output/tied embedding Q6_K,\n"
    "           attn_v and ffn_down upgraded in some layers for the _M mixes)\n"
    "  -t N     threads (default: all CPUs; the file is identical for any N)\n"
    "  -q       no progress output\n"
    "  -v       name every tensor that falls back (else each reason once)\n\n"
    "Norms and other 1-D tensors are copied unchanged.  A matrix whose rows\n"
    "don't fit TYPE's block size falls back to a type that fits (noted).\n";

typedef struct prog {
    bool tty, quiet, verbose;
    int last_pct;
    size_t converted, fallbacks, n_seen;
    char seen[16][160]; /* reasons already said: each is said once */
} prog;

/* True the first time a reason comes (and when too many differ to track). */
static bool first_time(prog *g, const char *note)
{
    for (size_t i = 0; i < g->n_seen; i++)
        if (!strncmp(g->seen[i], note, sizeof g->seen[i] - 1)) return false;
    if (g->n_seen < sizeof g->seen / sizeof g->seen[0])
        snprintf(g->seen[g->n_seen++], sizeof g->seen[0], "%s", note);
    return true;
}

static void on_progress(const tf_quantize_progress *p, void *user)
{
    prog *g = user;
    if (p->note) {
        g->fallbacks++;
        if (!g->quiet && (first_time(g, p->note) || g->verbose))
            fprintf(stderr, "%s%s: %s%s\n", g->tty ? "\r\033[K" : "", p->name, p->note,
                    g->verbose ? "" : " (and in every tensor like it; -v names each)");
    }
    if (p->rows_done == p->rows && p->src_type != p->dst_type) g->converted++;
    if (g->quiet) return;
    int pct = p->bytes_total ? (int)(100.0 * (double)p->bytes_done / (double)p->bytes_total) : 100;
    if (g->tty) {
        char bar[41];
        int fill = pct * 40 / 100;
        for (int i = 0; i < 40; i++) bar[i] = i < fill ? '#' : '.';
        bar[40] = 0;
        fprintf(stderr, "\r\033[K[%s] %3d%%  %4zu/%zu  %-28.28s %s -> %s", bar, pct, p->i_tensor + 1,
                p->n_tensors, p->name, p->src_type_name, p->dst_type_name);
    } else if (pct / 10 > g->last_pct / 10 || (p->i_tensor == 0 && p->rows_done == 0)) {
        fprintf(stderr, "quantize: %3d%% (tensor %zu/%zu)\n", pct, p->i_tensor + 1, p->n_tensors);
    }
    g->last_pct = pct;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

int cmd_quantize(int argc, char **argv)
{
    const char *pos[3] = {0};
    int npos = 0;
    tf_quantize_params qp = tf_quantize_default_params();
    prog g = {.tty = isatty(2) != 0, .last_pct = -1};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            printf("%s\ntypes: %s\n", usage_text, tf_quantize_type_names());
            return 0;
        } else if (!strcmp(a, "--pure")) {
            qp.pure = true;
        } else if (!strcmp(a, "-q")) {
            g.quiet = true;
        } else if (!strcmp(a, "-v")) {
            g.verbose = true;
        } else if (!strcmp(a, "-t") && i + 1 < argc) {
            char *end;
            long v = strtol(argv[++i], &end, 10);
            if (*end || v < 1 || v > 256) {
                fprintf(stderr, "tinfer quantize: -t takes 1..256\n");
                return 2;
            }
            qp.n_threads = (int)v;
        } else if (a[0] == '-' && a[1]) {
            fprintf(stderr, "tinfer quantize: unexpected option '%s'\n%s", a, usage_text);
            return 2;
        } else if (npos < 3) {
            pos[npos++] = a;
        } else {
            fprintf(stderr, "tinfer quantize: unexpected argument '%s'\n%s", a, usage_text);
            return 2;
        }
    }
    if (npos != 3) {
        fputs(usage_text, stderr);
        return 2;
    }
    qp.progress = on_progress;
    qp.user = &g;
    double t0 = now_s();
    tf_status st = tf_quantize(pos[0], pos[1], pos[2], &qp);
    if (g.tty && !g.quiet) fputs("\r\033[K", stderr);
    if (st != TF_OK) {
        fprintf(stderr, "tinfer quantize: %s\n", tf_last_error());
        return st == TF_ERR_INVALID_ARG ? 2 : 1;
    }
    struct stat si, so;
    if (!g.quiet && stat(pos[0], &si) == 0 && stat(pos[1], &so) == 0)
        fprintf(stderr, "quantize: %s (%.2f MiB) -> %s (%.2f MiB, %s%s): %zu tensors converted, "
                        "%zu fallbacks, %.2f s\n",
                pos[0], si.st_size / 1048576.0, pos[1], so.st_size / 1048576.0, pos[2],
                qp.pure ? ", pure" : "", g.converted, g.fallbacks, now_s() - t0);
    return 0;
}
