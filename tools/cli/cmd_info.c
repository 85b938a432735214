/* cmd_info.c - `tinfer info MODEL`: what a GGUF file holds. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "tinfer.h"

static void print_size(uint64_t b)
{
    if (b >= (1ull << 30)) printf("%.2f GiB", b / 1073741824.0);
    else if (b >= (1ull << 20)) printf("%.2f MiB", b / 1048576.0);
    else printf("%.1f KiB", b / 1024.0);
}

static void print_meta(const tf_model *m)
{
    printf("\nmetadata:\n");
    char buf[128];
    for (size_t i = 0; i < tf_model_n_meta(m); i++) {
        const char *key;
        size_t n;
        if (tf_model_meta_key(m, i, &key) != TF_OK) continue;
        tf_status st = tf_model_meta_str(m, key, buf, sizeof buf, &n);
        if (st == TF_ERR_BUFFER) /* long strings (chat templates): the start */
            printf("  %-44s %.60s... (%zu bytes)\n", key, buf, n);
        else if (st == TF_OK) {
            for (char *p = buf; *p; p++) if (*p == '\n') *p = ' ';
            printf("  %-44s %s\n", key, buf);
        }
    }
}

int cmd_info(int argc, char **argv)
{
    const char *path = NULL;
    bool meta = false;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            printf("usage: tinfer info [--meta] MODEL.gguf\n\n"
                   "Prints the architecture, hyperparameters, tokenizer summary and a\n"
                   "table of tensors (name, type, shape, bytes) with the total size.\n"
                   "  --meta   also list every metadata key and value\n");
            return 0;
        } else if (!strcmp(argv[i], "--meta")) meta = true;
        else if (argv[i][0] == '-' && argv[i][1]) {
            fprintf(stderr, "tinfer info: unknown option '%s'\n", argv[i]);
            return 2;
        } else path = argv[i];
    }
    if (!path) {
        fprintf(stderr, "usage: tinfer info [--meta] MODEL.gguf\n");
        return 2;
    }
    tf_model *m;
    tf_model_params mp = tf_model_default_params();
    if (tf_model_open(path, &mp, &m) != TF_OK) {
        fprintf(stderr, "tinfer info: %s\n", tf_last_error());
        return 1;
    }
    tf_model_desc d;
    tf_model_describe(m, &d);
    printf("model:        %s\n", path);
    printf("name:         %s\n", d.name[0] ? d.name : "(none)");
    printf("architecture: %s%s\n", d.arch, d.vocab_only ? " (vocabulary only: no weights)" : "");
    if (!d.vocab_only) {
        printf("hyperparameters:\n");
        printf("  n_vocab %d  n_ctx_train %d  n_embd %d  n_layer %d\n", d.n_vocab, d.n_ctx_train,
               d.n_embd, d.n_layer);
        printf("  n_head %d  n_head_kv %d  n_ff %d  n_rot %d\n", d.n_head, d.n_head_kv, d.n_ff, d.n_rot);
        printf("  rope_freq_base %g  rope_scaling %s  rope_freq_scale %g  rms_eps %g\n",
               d.rope_freq_base, d.rope_scaling, d.rope_freq_scale, d.rms_eps);
        if (d.n_expert) {
            printf("  n_expert %d  n_expert_used %d  n_ff_exp %d", d.n_expert, d.n_expert_used,
                   d.n_ff_exp);
            if (d.n_expert_shared)
                printf("  n_expert_shared %d  n_ff_shexp %d", d.n_expert_shared, d.n_ff_shexp);
            printf("\n");
        }
        printf("  output: %s\n", d.tied_output ? "tied to token_embd" : "separate output.weight");
    }
    printf("tokenizer:    %s%s%s, %d tokens, bos %d, eos %d\n", d.tokenizer,
           d.pretokenizer[0] ? ", pre " : "", d.pretokenizer, d.n_vocab, tf_token_bos(m),
           tf_token_eos(m));
    if (meta) print_meta(m);
    size_t nt = tf_model_n_tensors(m);
    if (nt) printf("\ntensors (%zu):\n  %-36s %-7s %-26s %12s\n", nt, "name", "type", "shape", "bytes");
    for (size_t i = 0; i < nt; i++) {
        tf_tensor_info ti;
        tf_model_tensor(m, i, &ti);
        char shape[64];
        int o = snprintf(shape, sizeof shape, "[%lld", (long long)ti.ne[0]);
        for (uint32_t k = 1; k < ti.n_dims; k++)
            o += snprintf(shape + o, sizeof shape - (size_t)o, ", %lld", (long long)ti.ne[k]);
        snprintf(shape + o, sizeof shape - (size_t)o, "]");
        printf("  %-36s %-7s %-26s %12llu\n", ti.name, ti.type_name, shape, (unsigned long long)ti.bytes);
    }
    printf("\nparameters: %llu (%.1f M)   tensor data: ", (unsigned long long)d.n_params,
           d.n_params / 1e6);
    print_size(d.weight_bytes);
    printf("   file: ");
    print_size(d.file_bytes);
    printf("\n");
    tf_model_close(m);
    return 0;
}
