/* cmd_run.c - `tinfer run`: one-shot generation, streamed to stdout.
 * Never waits for input; timings go to stderr. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "tinfer.h"

#define MAX_STOPS 8

static const char *usage_text =
    "usage: tinfer run -m MODEL (-p PROMPT | -f FILE) [options]\n\n"
    "Generates text and streams it to stdout; timings go to stderr.\n"
    "  -n N               tokens to generate at most (default 256; -1: until the context is full)\n"
    "  --temp T           temperature; 0 means greedy (default 0.8)\n"
    "  --top-k K          keep the K most likely tokens (default 40; 0: off)\n"
    "  --top-p P          nucleus sampling (default 0.95; 1: off)\n"
    "  --min-p M          drop tokens below M x the top probability (default 0.05; 0: off)\n"
    "  --repeat-penalty R penalise recent tokens (default 1.0: off)\n"
    "  --presence-penalty X, --frequency-penalty X, --repeat-last-n N (default 64)\n"
    "  --seed S           random seed (default: fixed, so runs are reproducible)\n"
    "  --stop TEXT        stop when TEXT is generated (repeatable, up to 8)\n"
    "  -t N               threads (default: all CPUs)\n"
    "  -c N               context length (default: min(model's, 4096))\n"
    "  --chat             wrap the prompt in the model's chat template\n"
    "  --system TEXT      system message for --chat\n"
    "  --no-bos           don't add the BOS token\n"
    "  --bf16             round F16 matrices to BF16 at load: faster prompts on CPUs\n"
    "                     with AVX512_BF16, 3 fewer significand bits (CPU only)\n"
    "  --backend cpu|vulkan  where to compute (default cpu); vulkan prints its device on stderr\n"
    "  --device N         Vulkan device index (default: the best: discrete > integrated > CPU)\n";

typedef struct run_opts {
    const char *model, *prompt, *file, *system;
    int n_predict;
    bool chat, no_bos;
    const char *stops[MAX_STOPS];
    int n_stops;
    tf_sampler_params sp;
    tf_context_params cp;
    tf_model_params mp;
    bool show_backend;
} run_opts;

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static int parse(int argc, char **argv, run_opts *o)
{
    o->n_predict = 256;
    o->sp = tf_sampler_default_params();
    o->cp = tf_context_default_params();
    o->mp = tf_model_default_params();
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) { fputs(usage_text, stdout); return 1; }
        if (!strcmp(a, "--chat")) { o->chat = true; continue; }
        if (!strcmp(a, "--no-bos")) { o->no_bos = true; continue; }
        if (!strcmp(a, "--bf16")) { o->mp.f16_as_bf16 = true; continue; }
        if (!v) { fprintf(stderr, "tinfer run: '%s' needs a value (or is unknown)\n", a); return 2; }
        i++;
        char *end = NULL;
        double num = strtod(v, &end);
        bool isnum = end && *end == 0 && end != v;
        if (!strcmp(a, "-m")) o->model = v;
        else if (!strcmp(a, "-p")) o->prompt = v;
        else if (!strcmp(a, "-f")) o->file = v;
        else if (!strcmp(a, "--system")) o->system = v;
        else if (!strcmp(a, "--backend")) {
            if (!strcmp(v, "cpu")) o->mp.backend = TF_BACKEND_CPU;
            else if (!strcmp(v, "vulkan")) o->mp.backend = TF_BACKEND_VULKAN;
            else { fprintf(stderr, "tinfer run: --backend takes cpu or vulkan\n"); return 2; }
            o->show_backend = true;
        }
        else if (!strcmp(a, "--stop")) {
            if (o->n_stops == MAX_STOPS || !*v) { fprintf(stderr, "tinfer run: at most %d non-empty --stop\n", MAX_STOPS); return 2; }
            o->stops[o->n_stops++] = v;
        } else if (!isnum) { fprintf(stderr, "tinfer run: '%s %s': unknown option or not a number\n", a, v); return 2; }
        else if (!strcmp(a, "-n")) o->n_predict = (int)num;
        else if (!strcmp(a, "--temp")) o->sp.temp = (float)num;
        else if (!strcmp(a, "--top-k")) o->sp.top_k = (int32_t)num;
        else if (!strcmp(a, "--top-p")) o->sp.top_p = (float)num;
        else if (!strcmp(a, "--min-p")) o->sp.min_p = (float)num;
        else if (!strcmp(a, "--repeat-penalty")) o->sp.repeat_penalty = (float)num;
        else if (!strcmp(a, "--presence-penalty")) o->sp.presence_penalty = (float)num;
        else if (!strcmp(a, "--frequency-penalty")) o->sp.frequency_penalty = (float)num;
        else if (!strcmp(a, "--repeat-last-n")) o->sp.penalty_last_n = (int32_t)num;
        else if (!strcmp(a, "--seed")) o->sp.seed = (uint64_t)num;
        else if (!strcmp(a, "-t")) o->cp.n_threads = (int)num;
        else if (!strcmp(a, "-c")) o->cp.n_ctx = (uint32_t)num;
        else if (!strcmp(a, "--device")) o->mp.device = (int)num;
        else { fprintf(stderr, "tinfer run: unknown option '%s'\n", a); return 2; }
    }
    if (!o->model || (!o->prompt == !o->file)) {
        fprintf(stderr, "tinfer run: need -m MODEL and one of -p PROMPT or -f FILE\n\n%s", usage_text);
        return 2;
    }
    return 0;
}

static char *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    size_t cap = 4096, n = 0;
    char *b = malloc(cap);
    size_t got;
    while (b && (got = fread(b + n, 1, cap - n - 1, f)) > 0) {
        n += got;
        if (cap - n - 1 == 0) {
            char *nb = realloc(b, cap *= 2);
            if (!nb) { free(b); b = NULL; }
            else b = nb;
        }
    }
    fclose(f);
    if (b) { b[n] = 0; *len = n; }
    return b;
}

/* Text to send the model: the prompt, or the chat template around it. */
static char *build_prompt(const tf_model *m, const run_opts *o, size_t *len)
{
    char *text = o->file ? slurp(o->file, len) : strdup(o->prompt);
    if (!text) { fprintf(stderr, "tinfer run: cannot read %s\n", o->file ? o->file : "prompt"); return NULL; }
    if (!o->file) *len = strlen(text);
    if (!o->chat) return text;
    size_t n = 0;
    tf_status st = tf_chat_format(m, o->system, text, NULL, 0, &n);
    char *out = st == TF_ERR_BUFFER ? malloc(n + 1) : NULL;
    if (!out || tf_chat_format(m, o->system, text, out, n + 1, &n) != TF_OK) {
        fprintf(stderr, "tinfer run: --chat: %s\n", st == TF_ERR_BUFFER ? "out of memory" : tf_last_error());
        free(text);
        free(out);
        return NULL;
    }
    free(text);
    *len = n;
    return out;
}

/* Streams text, holding back what could still become a stop string.
 * Returns true when a stop string was completed. */
typedef struct out_state { char *buf; size_t n, cap; } out_state;

static bool emit(out_state *os, const run_opts *o, const char *s, size_t n, bool flush)
{
    if (os->n + n + 1 > os->cap) {
        size_t cap = (os->n + n + 1) * 2;
        char *b = realloc(os->buf, cap);
        if (!b) return true;
        os->buf = b;
        os->cap = cap;
    }
    memcpy(os->buf + os->n, s, n);
    os->n += n;
    os->buf[os->n] = 0;
    size_t keep = 0;
    for (int k = 0; k < o->n_stops; k++) {
        char *hit = strstr(os->buf, o->stops[k]);
        if (hit) {
            fwrite(os->buf, 1, (size_t)(hit - os->buf), stdout);
            os->n = 0;
            return true;
        }
        size_t sl = strlen(o->stops[k]);
        for (size_t p = sl - 1; p > keep; p--)
            if (p <= os->n && !memcmp(os->buf + os->n - p, o->stops[k], p)) { keep = p; break; }
    }
    if (flush) keep = 0;
    fwrite(os->buf, 1, os->n - keep, stdout);
    fflush(stdout);
    memmove(os->buf, os->buf + os->n - keep, keep);
    os->n = keep;
    return false;
}

static int generate(tf_model *m, tf_context *c, tf_sampler *s, const run_opts *o,
                    const tf_token *toks, size_t n_toks, double t_load)
{
    double t0 = now_s();
    /* Default contexts take batches of up to min(512, n_ctx) tokens. */
    size_t chunk = tf_context_n_ctx(c) < 512 ? tf_context_n_ctx(c) : 512;
    for (size_t i = 0; i < n_toks; i += chunk) {
        size_t n = n_toks - i < chunk ? n_toks - i : chunk;
        if (tf_eval(c, toks + i, n, false) != TF_OK) {
            fprintf(stderr, "\ntinfer run: %s\n", tf_context_error(c));
            return 1;
        }
    }
    for (size_t i = 0; i < n_toks; i++) tf_sampler_accept(s, toks[i]);
    double t1 = now_s();
    out_state os = {0};
    tf_detok_stream ds = {0};
    char piece[256];
    int n_gen = 0, rc = 0;
    bool stopped = false;
    while (!stopped && (o->n_predict < 0 || n_gen < o->n_predict)) {
        const float *logits;
        tf_token t;
        if (tf_logits(c, -1, &logits) != TF_OK || tf_sampler_sample(s, logits, &t) != TF_OK) {
            fprintf(stderr, "\ntinfer run: sampling failed: %s\n", tf_sampler_error(s));
            rc = 1;
            break;
        }
        tf_sampler_accept(s, t);
        n_gen++;
        if (tf_token_is_eog(m, t)) break;
        size_t n = 0;
        if (tf_detok_stream_push(m, &ds, t, piece, sizeof piece, &n) == TF_OK)
            stopped = emit(&os, o, piece, n, false);
        if (stopped) break;
        if (tf_context_n_past(c) >= tf_context_n_ctx(c)) {
            fprintf(stderr, "\ntinfer run: context full (%u tokens); stopping\n", tf_context_n_ctx(c));
            break;
        }
        if (tf_eval(c, &t, 1, false) != TF_OK) {
            fprintf(stderr, "\ntinfer run: %s\n", tf_context_error(c));
            rc = 1;
            break;
        }
    }
    size_t n = 0;
    if (!stopped && tf_detok_stream_push(m, &ds, -1, piece, sizeof piece, &n) == TF_OK)
        emit(&os, o, piece, n, true);
    else if (!stopped)
        emit(&os, o, "", 0, true);
    free(os.buf);
    printf("\n");
    double t2 = now_s();
    fprintf(stderr, "\nload %.2f s | prompt %zu tokens, %.1f tok/s | generated %d tokens, %.1f tok/s\n",
            t_load, n_toks, n_toks / (t1 - t0), n_gen, n_gen > 0 ? n_gen / (t2 - t1) : 0.0);
    return rc;
}

int cmd_run(int argc, char **argv)
{
    run_opts o = {0};
    int rc = parse(argc, argv, &o);
    if (rc) return rc == 1 ? 0 : rc;
    double t0 = now_s();
    tf_model *m = NULL;
    tf_context *c = NULL;
    tf_sampler *s = NULL;
    tf_token *toks = NULL;
    char *text = NULL;
    rc = 1;
    if (tf_model_open(o.model, &o.mp, &m) != TF_OK) { fprintf(stderr, "tinfer run: %s\n", tf_last_error()); goto done; }
    if (tf_context_new(m, &o.cp, &c) != TF_OK || tf_sampler_new(&o.sp, tf_n_vocab(m), &s) != TF_OK) {
        fprintf(stderr, "tinfer run: %s\n", tf_last_error());
        goto done;
    }
    if (o.show_backend) fprintf(stderr, "backend: %s\n", tf_context_backend(c));
    size_t len = 0, n = 0;
    if (!(text = build_prompt(m, &o, &len))) goto done;
    int flags = (o.no_bos ? TF_TOKENIZE_NO_BOS : 0) | (o.chat ? TF_TOKENIZE_SPECIAL : 0);
    tf_tokenize(m, text, len, flags, NULL, 0, &n);
    toks = malloc((n ? n : 1) * sizeof *toks);
    if (!toks || tf_tokenize(m, text, len, flags, toks, n, &n) != TF_OK) {
        fprintf(stderr, "tinfer run: tokenize failed: %s\n", tf_last_error());
        goto done;
    }
    if (n == 0) { fprintf(stderr, "tinfer run: the prompt is empty\n"); goto done; }
    if (n >= tf_context_n_ctx(c)) {
        fprintf(stderr, "tinfer run: prompt of %zu tokens does not fit the context of %u (use -c)\n", n, tf_context_n_ctx(c));
        goto done;
    }
    rc = generate(m, c, s, &o, toks, n, now_s() - t0);
done:
    free(text);
    free(toks);
    tf_sampler_free(s);
    tf_context_free(c);
    tf_model_close(m);
    return rc;
}
