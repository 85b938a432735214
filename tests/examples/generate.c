/* generate.c - the README's example: greedy generation with the C API.
 * usage: generate MODEL.gguf "prompt" [n_tokens] */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <tinfer.h>

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: %s MODEL.gguf PROMPT [N]\n", argv[0]);
        return 2;
    }
    int n_gen = argc > 3 ? atoi(argv[3]) : 32;
    tf_model *model = NULL;
    tf_context *ctx = NULL;
    tf_sampler *smp = NULL;
    tf_token toks[512];
    size_t n = 0;
    int rc = 1;

    if (tf_model_open(argv[1], NULL, &model) != TF_OK ||
        tf_context_new(model, NULL, &ctx) != TF_OK) {
        fprintf(stderr, "error: %s\n", tf_last_error());
        goto out;
    }
    tf_sampler_params sp = tf_sampler_default_params();
    sp.temp = 0; /* greedy */
    if (tf_sampler_new(&sp, tf_n_vocab(model), &smp) != TF_OK ||
        tf_tokenize(model, argv[2], strlen(argv[2]), TF_TOKENIZE_DEFAULT, toks, 512, &n) != TF_OK) {
        fprintf(stderr, "error: %s\n", tf_last_error());
        goto out;
    }
    tf_detok_stream ds = {0};
    for (int i = 0; i < n_gen; i++) {
        const float *logits;
        tf_token next;
        char piece[64];
        size_t len;
        if (tf_eval(ctx, toks, n, false) != TF_OK || tf_logits(ctx, -1, &logits) != TF_OK) {
            fprintf(stderr, "error: %s\n", tf_context_error(ctx));
            goto out;
        }
        tf_sampler_sample(smp, logits, &next);
        if (tf_token_is_eog(model, next)) break;
        if (tf_detok_stream_push(model, &ds, next, piece, sizeof piece, &len) == TF_OK)
            fwrite(piece, 1, len, stdout);
        toks[0] = next; /* feed the new token next round */
        n = 1;
    }
    printf("\n");
    rc = 0;
out:
    tf_sampler_free(smp);
    tf_context_free(ctx);
    tf_model_close(model);
    return rc;
}
