/* cmd_tokenize.c - `tinfer tokenize`: the token ids of a text. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "tinfer.h"

static const char USAGE[] =
    "usage: tinfer tokenize -m MODEL (-p TEXT | -f FILE) [--no-bos] [--special] [--pieces]\n";

static void help(void)
{
    printf("%s\n"
           "Prints the token ids of the text on one line, separated by spaces.\n"
           "Only the model's tokenizer is loaded, so vocabulary-only GGUF files work.\n\n"
           "  -m MODEL    GGUF model or vocabulary file\n"
           "  -p TEXT     the text to tokenize\n"
           "  -f FILE     read the text from FILE, byte for byte (a final newline\n"
           "              is part of the text)\n"
           "  --no-bos    never add the BOS token (default: as the model asks)\n"
           "  --special   turn special-token text such as <|im_start|> into its id\n"
           "  --pieces    then print each token as: id<TAB>'text' (C-style escapes)\n",
           USAGE);
}

/* Whole file, byte for byte; NULL on error (message printed). */
static char *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "tinfer tokenize: cannot open %s\n", path);
        return NULL;
    }
    size_t cap = 1 << 16, n = 0;
    char *buf = malloc(cap);
    while (buf) {
        n += fread(buf + n, 1, cap - n, f);
        if (n < cap)
            break;
        char *b = cap < ((size_t)1 << 40) ? realloc(buf, cap * 2) : NULL;
        if (!b) {
            free(buf);
            buf = NULL;
            break;
        }
        buf = b;
        cap *= 2;
    }
    if (!buf || ferror(f)) {
        fprintf(stderr, "tinfer tokenize: cannot read %s\n", path);
        free(buf);
        buf = NULL;
    }
    fclose(f);
    *len = n;
    return buf;
}

/* Piece as a quoted C-style string, so spaces and bytes are visible. */
static void print_piece(const char *p, size_t n)
{
    putchar('\'');
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)p[i];
        switch (c) {
        case '\n': fputs("\\n", stdout); break;
        case '\r': fputs("\\r", stdout); break;
        case '\t': fputs("\\t", stdout); break;
        case '\\': fputs("\\\\", stdout); break;
        case '\'': fputs("\\'", stdout); break;
        default:
            if (c < 0x20 || c == 0x7F)
                printf("\\x%02x", c);
            else
                putchar(c); /* UTF-8 passes through */
        }
    }
    putchar('\'');
}

static int tokenize_and_print(const tf_model *m, const char *text, size_t len,
                              int flags, bool pieces)
{
    size_t n = 0;
    tf_status st = tf_tokenize(m, text, len, flags, NULL, 0, &n);
    tf_token *ids = NULL;
    if (st == TF_ERR_BUFFER) {
        ids = malloc(n * sizeof *ids);
        st = ids ? tf_tokenize(m, text, len, flags, ids, n, &n) : TF_ERR_NOMEM;
    }
    if (st != TF_OK) {
        fprintf(stderr, "tinfer tokenize: %s\n", tf_last_error());
        free(ids);
        return 1;
    }
    for (size_t i = 0; i < n; i++)
        printf("%s%d", i ? " " : "", ids[i]);
    putchar('\n');
    char buf[512];
    for (size_t i = 0; pieces && i < n; i++) {
        size_t pn;
        char *p = buf;
        st = tf_token_to_piece(m, ids[i], buf, sizeof buf, &pn);
        if (st == TF_ERR_BUFFER && (p = malloc(pn)) != NULL)
            st = tf_token_to_piece(m, ids[i], p, pn, &pn);
        printf("%d\t", ids[i]);
        if (st == TF_OK)
            print_piece(p, pn);
        putchar('\n');
        if (p && p != buf)
            free(p);
    }
    free(ids);
    return 0;
}

int cmd_tokenize(int argc, char **argv)
{
    const char *model = NULL, *prompt = NULL, *file = NULL;
    int flags = TF_TOKENIZE_DEFAULT;
    bool pieces = false;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            help();
            return 0;
        } else if (!strcmp(a, "--no-bos")) {
            flags |= TF_TOKENIZE_NO_BOS;
        } else if (!strcmp(a, "--special")) {
            flags |= TF_TOKENIZE_SPECIAL;
        } else if (!strcmp(a, "--pieces")) {
            pieces = true;
        } else if (!strcmp(a, "-m") || !strcmp(a, "-p") || !strcmp(a, "-f")) {
            if (i + 1 >= argc) {
                fprintf(stderr, "tinfer tokenize: %s needs a value\n%s", a, USAGE);
                return 2;
            }
            const char **dst = a[1] == 'm' ? &model : a[1] == 'p' ? &prompt : &file;
            *dst = argv[++i];
        } else {
            fprintf(stderr, "tinfer tokenize: unknown argument '%s'\n%s", a, USAGE);
            return 2;
        }
    }
    if (!model || (!prompt == !file)) {
        fprintf(stderr, "tinfer tokenize: %s\n%s",
                !model ? "-m MODEL is required" : "give exactly one of -p and -f",
                USAGE);
        return 2;
    }
    size_t len = 0;
    char *text = NULL;
    if (file) {
        text = read_file(file, &len);
        if (!text)
            return 1;
    }
    tf_model_params mp = tf_model_default_params();
    mp.vocab_only = true;
    tf_model *m = NULL;
    if (tf_model_open(model, &mp, &m) != TF_OK) {
        fprintf(stderr, "tinfer tokenize: %s\n", tf_last_error());
        free(text);
        return 1;
    }
    int rc = tokenize_and_print(m, file ? text : prompt, file ? len : strlen(prompt),
                                flags, pieces);
    tf_model_close(m);
    free(text);
    return rc;
}
