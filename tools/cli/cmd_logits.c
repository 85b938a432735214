/* cmd_logits.c - `tinfer logits`: replay a golden .tokens file (prompt as
 * one batch, then the generated tokens one at a time) and write one row of
 * float32 logits per position, the layout of ../shared/golden. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "tinfer.h"

static const char *usage_text =
    "usage: tinfer logits -m MODEL --replay FILE.tokens -o OUT.f32 [options]\n\n"
    "Evaluates line 1 of FILE.tokens as one batch, then the tokens of line 2\n"
    "except the last one at a time, and writes n_vocab float32 logits per\n"
    "position (little-endian) to OUT.f32.\n"
    "  -t N          threads (default: all CPUs)\n"
    "  --kv f16|f32  KV cache type (default f16)\n"
    "  --one-by-one  evaluate the prompt one token at a time too\n"
    "  --bf16        round F16 matrices to BF16 at load (CPU only)\n"
    "  --backend cpu|vulkan  where to compute (default cpu)\n"
    "  --device N    Vulkan device index (default: the best)\n";

/* Parse one line of space-separated ids into a growing array. */
static int read_line_ids(FILE *f, tf_token **ids, size_t *n)
{
    size_t cap = 64;
    *n = 0;
    *ids = malloc(cap * sizeof **ids);
    if (!*ids) return -1;
    int c;
    long v = -1;
    while ((c = fgetc(f)) != EOF && c != '\n') {
        if (c >= '0' && c <= '9') {
            v = (v < 0 ? 0 : v) * 10 + (c - '0');
            if (v > 1 << 30) return -1;
        } else if (c == ' ' || c == '\r') {
            if (v >= 0) {
                if (*n == cap) {
                    tf_token *t = realloc(*ids, (cap *= 2) * sizeof *t);
                    if (!t) return -1;
                    *ids = t;
                }
                (*ids)[(*n)++] = (tf_token)v;
            }
            v = -1;
        } else {
            return -1;
        }
    }
    if (v >= 0) {
        if (*n == cap) {
            tf_token *t = realloc(*ids, (cap + 1) * sizeof *t);
            if (!t) return -1;
            *ids = t;
        }
        (*ids)[(*n)++] = (tf_token)v;
    }
    return 0;
}

static int write_row(tf_context *c, int32_t row, FILE *out, int32_t n_vocab)
{
    const float *l;
    if (tf_logits(c, row, &l) != TF_OK) return -1;
    return fwrite(l, sizeof(float), (size_t)n_vocab, out) == (size_t)n_vocab ? 0 : -1;
}

int cmd_logits(int argc, char **argv)
{
    const char *model = NULL, *replay = NULL, *outp = NULL;
    tf_context_params cp = tf_context_default_params();
    bool one_by_one = false;
    tf_model_params mp = tf_model_default_params();
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        bool more = i + 1 < argc;
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) { fputs(usage_text, stdout); return 0; }
        else if (!strcmp(a, "-m") && more) model = argv[++i];
        else if (!strcmp(a, "--replay") && more) replay = argv[++i];
        else if (!strcmp(a, "-o") && more) outp = argv[++i];
        else if (!strcmp(a, "-t") && more) cp.n_threads = atoi(argv[++i]);
        else if (!strcmp(a, "--kv") && more) {
            const char *k = argv[++i];
            if (!strcmp(k, "f16")) cp.kv_type = TF_KV_F16;
            else if (!strcmp(k, "f32")) cp.kv_type = TF_KV_F32;
            else { fprintf(stderr, "tinfer logits: --kv takes f16 or f32\n"); return 2; }
        } else if (!strcmp(a, "--one-by-one")) one_by_one = true;
        else if (!strcmp(a, "--bf16")) mp.f16_as_bf16 = true;
        else if (!strcmp(a, "--backend") && more) {
            const char *b = argv[++i];
            if (!strcmp(b, "cpu")) mp.backend = TF_BACKEND_CPU;
            else if (!strcmp(b, "vulkan")) mp.backend = TF_BACKEND_VULKAN;
            else { fprintf(stderr, "tinfer logits: --backend takes cpu or vulkan\n"); return 2; }
        } else if (!strcmp(a, "--device") && more) mp.device = atoi(argv[++i]);
        else { fprintf(stderr, "tinfer logits: unexpected argument '%s'\n%s", a, usage_text); return 2; }
    }
    if (!model || !replay || !outp) { fputs(usage_text, stderr); return 2; }
    FILE *tf = fopen(replay, "r");
    if (!tf) { fprintf(stderr, "tinfer logits: cannot open %s\n", replay); return 1; }
    tf_token *prompt = NULL, *gen = NULL;
    size_t np = 0, ng = 0;
    int bad = read_line_ids(tf, &prompt, &np) || read_line_ids(tf, &gen, &ng);
    fclose(tf);
    int rc = 1;
    tf_model *m = NULL;
    tf_context *c = NULL;
    FILE *out = NULL;
    if (bad || np == 0) { fprintf(stderr, "tinfer logits: %s is not a .tokens file\n", replay); goto done; }
    if (tf_model_open(model, &mp, &m) != TF_OK) { fprintf(stderr, "tinfer logits: %s\n", tf_last_error()); goto done; }
    if (cp.n_batch < np) cp.n_batch = (uint32_t)np;
    if (tf_context_new(m, &cp, &c) != TF_OK) { fprintf(stderr, "tinfer logits: %s\n", tf_last_error()); goto done; }
    out = fopen(outp, "wb");
    if (!out) { fprintf(stderr, "tinfer logits: cannot write %s\n", outp); goto done; }
    int32_t nv = tf_n_vocab(m);
    if (one_by_one) {
        for (size_t i = 0; i < np; i++)
            if (tf_eval(c, &prompt[i], 1, false) != TF_OK || write_row(c, 0, out, nv)) goto eval_err;
    } else {
        if (tf_eval(c, prompt, np, true) != TF_OK) goto eval_err;
        for (size_t i = 0; i < np; i++)
            if (write_row(c, (int32_t)i, out, nv)) goto eval_err;
    }
    for (size_t i = 0; i + 1 < ng; i++)
        if (tf_eval(c, &gen[i], 1, false) != TF_OK || write_row(c, 0, out, nv)) goto eval_err;
    rc = 0;
    goto done;
eval_err:
    fprintf(stderr, "tinfer logits: %s\n", tf_context_error(c));
done:
    if (out && fclose(out) != 0 && rc == 0) { fprintf(stderr, "tinfer logits: write failed\n"); rc = 1; }
    tf_context_free(c);
    tf_model_close(m);
    free(prompt);
    free(gen);
    return rc;
}
