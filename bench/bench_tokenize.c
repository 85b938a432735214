/* bench_tokenize.c - tokenizer throughput (MB/s) per vocabulary.
 *
 * usage: bench_tokenize [-f FILE] [-n MB] [-r RUNS] VOCAB.gguf...
 * Without -f the text is synthetic English (a fixed pseudo-random mix of
 * common words, punctuation, numbers and paragraphs), the same every run.
 * Each vocabulary tokenizes the whole text RUNS times; the best run counts.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "tinfer.h"

static const char *const words[] = {
    "the", "of", "and", "to", "a", "in", "is", "it", "you", "that", "he", "was",
    "for", "on", "are", "with", "as", "I", "his", "they", "be", "at", "one",
    "have", "this", "from", "or", "had", "by", "hot", "word", "but", "what",
    "some", "we", "can", "out", "other", "were", "all", "there", "when", "up",
    "use", "your", "how", "said", "an", "each", "she", "which", "do", "their",
    "time", "if", "will", "way", "about", "many", "then", "them", "write",
    "would", "like", "so", "these", "her", "long", "make", "thing", "see",
    "him", "two", "has", "look", "more", "day", "could", "go", "come", "did",
    "number", "sound", "no", "most", "people", "my", "over", "know", "water",
    "than", "call", "first", "who", "may", "down", "side", "been", "now",
    "find", "don't", "it's", "we're", "inference", "tokenizer", "model",
    "language", "quickly", "understanding", "government", "information",
    "development", "children", "important", "between", "Paris", "London",
    "September", "university", "experience", "(see", "below)", "\"quoted\"",
    "e-mail", "well-known", "U.S.", "3.14", "1999", "42", "100,000"};

static size_t synth_english(char *buf, size_t n)
{
    uint64_t s = 0x2545F4914F6CDD1Dull;
    size_t o = 0, in_sentence = 0;
    while (o + 64 < n) {
        s ^= s << 13; s ^= s >> 7; s ^= s << 17;
        const char *w = words[(s >> 11) % (sizeof words / sizeof words[0])];
        if (in_sentence == 0 && o && buf[o - 1] != '\n')
            buf[o++] = ' ';
        else if (in_sentence)
            buf[o++] = ' ';
        size_t len = strlen(w);
        memcpy(buf + o, w, len);
        if (in_sentence == 0 && buf[o] >= 'a' && buf[o] <= 'z')
            buf[o] -= 32;
        o += len;
        in_sentence++;
        unsigned r = (unsigned)(s >> 40) % 100;
        if (r < 6 && in_sentence > 2) {
            buf[o++] = ',';
        } else if (r < 14 && in_sentence > 4) {
            buf[o++] = r < 12 ? '.' : r < 13 ? '?' : '!';
            in_sentence = 0;
            if ((s >> 20) % 6 == 0) {
                memcpy(buf + o, "\n\n", 2);
                o += 2;
            }
        }
    }
    return o;
}

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + t.tv_nsec * 1e-9;
}

int main(int argc, char **argv)
{
    const char *file = NULL;
    double mb = 1.0;
    int runs = 3, first = 1;
    for (; first < argc && argv[first][0] == '-'; first++) {
        if (first + 1 >= argc)
            break;
        if (!strcmp(argv[first], "-f")) file = argv[++first];
        else if (!strcmp(argv[first], "-n")) mb = atof(argv[++first]);
        else if (!strcmp(argv[first], "-r")) runs = atoi(argv[++first]);
        else break;
    }
    if (first >= argc || mb <= 0 || runs < 1) {
        fprintf(stderr, "usage: bench_tokenize [-f FILE] [-n MB] [-r RUNS] VOCAB.gguf...\n");
        return 2;
    }
    char *text;
    size_t len;
    if (file) {
        FILE *f = fopen(file, "rb");
        if (!f) { fprintf(stderr, "cannot open %s\n", file); return 1; }
        fseek(f, 0, SEEK_END);
        len = (size_t)ftell(f);
        fseek(f, 0, SEEK_SET);
        text = malloc(len + 1);
        if (!text || fread(text, 1, len, f) != len) { fprintf(stderr, "cannot read %s\n", file); return 1; }
        fclose(f);
    } else {
        size_t cap = (size_t)(mb * 1e6) + 64;
        text = malloc(cap);
        if (!text) return 1;
        len = synth_english(text, cap);
    }
    printf("%-40s %-6s %10s %10s %9s %9s\n", "vocabulary", "type", "bytes", "tokens", "best s", "MB/s");
    for (int i = first; i < argc; i++) {
        tf_model_params mp = tf_model_default_params();
        mp.vocab_only = true;
        tf_model *m;
        if (tf_model_open(argv[i], &mp, &m) != TF_OK) {
            fprintf(stderr, "%s\n", tf_last_error());
            return 1;
        }
        tf_model_desc d;
        tf_model_describe(m, &d);
        size_t cap = len + 16, n = 0;
        tf_token *ids = malloc(cap * sizeof *ids);
        double best = 1e30;
        for (int r = 0; r < runs; r++) {
            double t0 = now();
            if (tf_tokenize(m, text, len, TF_TOKENIZE_NO_BOS, ids, cap, &n) != TF_OK) {
                fprintf(stderr, "%s\n", tf_last_error());
                return 1;
            }
            double dt = now() - t0;
            if (dt < best) best = dt;
        }
        const char *name = strrchr(argv[i], '/');
        printf("%-40s %-6s %10zu %10zu %9.4f %9.2f\n", name ? name + 1 : argv[i], d.tokenizer,
               len, n, best, len / 1e6 / best);
        free(ids);
        tf_model_close(m);
    }
    free(text);
    return 0;
}
