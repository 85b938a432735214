/* main.c - `tinfer` entry point: dispatch to one subcommand per file. */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "tinfer.h"

static const struct {
    const char *name;
    int (*fn)(int, char **);
    const char *help;
} cmds[] = {
    {"run", cmd_run, "generate text from a prompt (one shot, streams to stdout)"},
    {"info", cmd_info, "show a model's architecture, hyperparameters, tokenizer and tensors"},
    {"tokenize", cmd_tokenize, "print the token ids of a text"},
    {"logits", cmd_logits, "replay a golden .tokens file and write the logits (float32)"},
    {"quantize", cmd_quantize, "rewrite a model in another tensor type (Q4_K_M, Q8_0, F16, ...)"},
    {"bench-quants", cmd_bench_quants, "quantization-level report: size, speed, perplexity, KL vs source"},
    {"bench", cmd_bench, "prompt and decode speed (llama-bench style), memory bandwidth use"},
};

static void usage(FILE *f)
{
    fprintf(f, "tinfer %s - local LLM inference from GGUF files\n\n"
               "usage: tinfer COMMAND [options]   (tinfer COMMAND --help for details)\n\n"
               "commands:\n", tf_version());
    for (size_t i = 0; i < sizeof cmds / sizeof cmds[0]; i++)
        fprintf(f, "  %-12s %s\n", cmds[i].name, cmds[i].help);
    fprintf(f, "\nenvironment (CPU backend):\n"
               "  TINFER_KERNELS=ref|avx2|avx512|neon  cap the kernel level (default: the best the CPU has)\n"
               "  TINFER_PACK=0     keep weights in the file's row layout (no packed copies)\n"
               "  TINFER_BLAS=auto  OpenBLAS only for float types the kernel level has no SIMD GEMM for\n"
               "                    (the default); 0: never; N: every F32/F16/BF16 matrix from N tokens\n"
               "`tinfer bench` prints which kernels, packing and OpenBLAS use a run got.\n");
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
        usage(stdout);
        return 0;
    }
    if (!strcmp(argv[1], "--version")) {
        printf("tinfer %s\n", tf_version());
        return 0;
    }
    for (size_t i = 0; i < sizeof cmds / sizeof cmds[0]; i++)
        if (!strcmp(argv[1], cmds[i].name)) return cmds[i].fn(argc - 1, argv + 1);
    fprintf(stderr, "tinfer: unknown command '%s'\n\n", argv[1]);
    usage(stderr);
    return 2;
}
