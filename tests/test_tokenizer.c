/* test_tokenizer.c - tokenizers against the reference engine's vectors.
 *
 * Every .inp/.out case of the four shared vocabularies and line 1 of every
 * golden .tokens file must match id for id; decode(encode(text)) must give
 * the text back; hostile input (invalid UTF-8, NULs, 1 MB of one
 * character) must not crash or go quadratic; streaming never splits a
 * character; malformed vocabularies must be refused naming the key.
 * Counts of matched cases are printed.  (Pre-tokenizers: test_pretok.c.)
 */
#include "testutil.h"
#include <dirent.h>
#include <time.h>
#include <sys/wait.h>
#include <unistd.h>
#include "tinfer.h"
#include "gguf.h"
#include "tokenizer.h"
#include "tok_internal.h"
#include "pretok.h"
#include "unicode.h"
#include "gguf_writer.h"

static const char *const k_vocabs[] = {"llama-spm", "phi-3", "gpt-2", "starcoder"};
#define N_VOCABS 4

typedef struct loaded {
    tf_gguf *g;
    tf_tokenizer *t;
} loaded;

static loaded open_rel(const char *rel)
{
    loaded l = {0};
    char err[512];
    if (tf_gguf_open_file(tu_shared(rel), &l.g, err, sizeof err) ||
        tf_tokenizer_load(l.g, &l.t, err, sizeof err)) {
        fprintf(stderr, "%s: %s\n", rel, err);
        fail();
    }
    return l;
}

static loaded open_vocab(const char *name)
{
    char rel[256];
    snprintf(rel, sizeof rel, "vocab/ggml-vocab-%s.gguf", name);
    return open_rel(rel);
}

static void close_l(loaded *l)
{
    tf_tokenizer_free(l->t);
    tf_gguf_close(l->g);
}

/* Encode with the size-query convention; caller frees. */
static int32_t *enc(const tf_tokenizer *t, const char *s, size_t n, bool bos,
                    bool special, size_t *n_out)
{
    size_t need;
    int rc = tf_tokenizer_encode(t, s, n, bos, false, special, NULL, 0, &need);
    assert_true(rc == 0 || rc == 1);
    int32_t *ids = malloc((need + 1) * sizeof *ids);
    assert_non_null(ids);
    assert_int_equal(tf_tokenizer_encode(t, s, n, bos, false, special, ids,
                                         need, n_out), 0);
    assert_int_equal(*n_out, need);
    return ids;
}

static char *dec(const tf_tokenizer *t, const int32_t *ids, size_t n,
                 bool special, size_t *len)
{
    size_t need;
    int rc = tf_tokenizer_decode(t, ids, n, special, NULL, 0, &need);
    assert_true(rc == 0 || rc == 1);
    char *s = malloc(need + 1);
    assert_non_null(s);
    assert_int_equal(tf_tokenizer_decode(t, ids, n, special, s, need, len), 0);
    s[*len] = 0;
    return s;
}

static bool round_trips(const tf_tokenizer *t, const char *s, size_t n)
{
    size_t ni, nd;
    int32_t *ids = enc(t, s, n, false, false, &ni);
    char *d = dec(t, ids, ni, false, &nd);
    bool ok = nd == n && memcmp(d, s, n) == 0;
    free(ids);
    free(d);
    return ok;
}

static size_t parse_ids(const char *line, int32_t *out, size_t cap)
{
    size_t n = 0;
    char *end;
    for (const char *p = line;; p = end) {
        long v = strtol(p, &end, 10);
        if (end == p)
            break;
        assert_true(n < cap);
        out[n++] = (int32_t)v;
    }
    return n;
}

static bool ids_equal(const int32_t *a, size_t na, const int32_t *b, size_t nb)
{
    return na == nb && (na == 0 || memcmp(a, b, na * sizeof *a) == 0);
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* Seconds one 1 MB case may take: far above linear, far below quadratic. */
static double time_bound(void) { return getenv("TINFER_SLOW") ? 30.0 : 5.0; }

/* ---- the reference vectors ------------------------------------------ */

static void test_vocab_vectors(void **state)
{
    (void)state;
    static const char sep[] = "\n__ggml_vocab_test__\n";
    int total = 0;
    for (int v = 0; v < N_VOCABS; v++) {
        char rel[256];
        size_t ni, no;
        snprintf(rel, sizeof rel, "vocab/ggml-vocab-%s.gguf.inp", k_vocabs[v]);
        char *inp = tu_read_file(tu_shared(rel), &ni);
        snprintf(rel, sizeof rel, "vocab/ggml-vocab-%s.gguf.out", k_vocabs[v]);
        char *out = tu_read_file(tu_shared(rel), &no);
        /* texts are what stands between separators; the file ends with one */
        assert_true(ni >= sizeof sep - 1);
        assert_memory_equal(inp + ni - (sizeof sep - 1), sep, sizeof sep - 1);
        loaded l = open_vocab(k_vocabs[v]);
        int cases = 0, match = 0, rt = 0;
        char *pos = inp, *line = out, *hit;
        while ((hit = memmem(pos, ni - (size_t)(pos - inp), sep, sizeof sep - 1))) {
            char *eol = strchr(line, '\n');
            assert_non_null(eol); /* one .out line per text */
            *eol = 0;
            int32_t want[4096];
            size_t nw = parse_ids(line, want, 4096), ng;
            int32_t *got = enc(l.t, pos, (size_t)(hit - pos), false, false, &ng);
            cases++;
            if (ids_equal(got, ng, want, nw))
                match++;
            else
                fprintf(stderr, "  %s case %d: ids differ\n", k_vocabs[v], cases);
            rt += round_trips(l.t, pos, (size_t)(hit - pos));
            free(got);
            line = eol + 1;
            pos = hit + sizeof sep - 1;
        }
        assert_true(line == out + no); /* every .out line used */
        printf("vocab %-10s %d/%d cases match, %d/%d round-trip\n", k_vocabs[v],
               match, cases, rt, cases);
        assert_true(cases >= 40);
        assert_int_equal(match, cases);
        assert_int_equal(rt, cases);
        total += cases;
        close_l(&l);
        free(inp);
        free(out);
    }
    assert_int_equal(total, 4 * 46);
}

static void test_golden_prompts(void **state)
{
    (void)state;
    DIR *d = opendir(tu_shared("golden"));
    assert_non_null(d);
    int files = 0, match = 0, rt = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        size_t n = strlen(e->d_name);
        if (n < 10 || strcmp(e->d_name + n - 7, ".tokens"))
            continue;
        /* M.k.tokens */
        char model[256], rel[512];
        int k = e->d_name[n - 8] - '0';
        snprintf(model, sizeof model, "%.*s", (int)(n - 9), e->d_name);
        snprintf(rel, sizeof rel, "models/%s.gguf", model);
        loaded l = open_rel(rel);
        snprintf(rel, sizeof rel, "golden/%s", e->d_name);
        char *tok = tu_read_file(tu_shared(rel), NULL);
        snprintf(rel, sizeof rel, "golden/prompts/%d.txt", k);
        size_t plen;
        char *prompt = tu_read_file(tu_shared(rel), &plen);
        *strchr(tok, '\n') = 0;
        int32_t want[4096];
        size_t nw = parse_ids(tok, want, 4096), ng;
        int32_t *got = enc(l.t, prompt, plen, tf_tokenizer_add_bos(l.t), false, &ng);
        files++;
        if (ids_equal(got, ng, want, nw))
            match++;
        else
            fprintf(stderr, "  %s: ids differ\n", e->d_name);
        rt += round_trips(l.t, prompt, plen);
        free(got);
        free(tok);
        free(prompt);
        close_l(&l);
    }
    closedir(d);
    printf("golden prompts: %d/%d match (BOS as each model asks), %d/%d round-trip\n",
           match, files, rt, files);
    assert_true(files >= 30);
    assert_int_equal(match, files);
    assert_int_equal(rt, files);
}

/* ---- round trips and hostile input ---------------------------------- */

/* Random valid UTF-8 from a mix of scripts, spaces and punctuation. */
static size_t random_text(uint64_t *rng, char *buf, size_t max_cp)
{
    static const uint32_t pool[] = {
        'a', 'e', 'z', 'Q', ' ', ' ', ' ', '\n', '\t', '\r', '0', '7', '\'',
        's', '.', ',', '!', '$', '<', '>', '~', '`', '|', 0xE9, 0xDF, 0x4E2D,
        0x6587, 0x3000, 0xA0, 0x2028, 0x0301, 0x1F999, 0x1F600, 0x0627, 0x0915,
        0x200D, 0xFFFD, 0x85, 0x7F, 0x01, 0x10FFFF, 0xE000, 0x2580, 0x0120};
    size_t n = 0, k = 1 + tu_rand(rng) % max_cp;
    for (size_t i = 0; i < k; i++)
        n += tf_utf8_encode(pool[tu_rand(rng) % (sizeof pool / sizeof pool[0])],
                            (unsigned char *)buf + n);
    return n;
}

static void test_round_trip_random(void **state)
{
    (void)state;
    uint64_t rng = 0x9e3779b97f4a7c15ull;
    char buf[1024];
    for (int v = 0; v < N_VOCABS; v++) {
        loaded l = open_vocab(k_vocabs[v]);
        bool spm = !strcmp(tf_tokenizer_model(l.t), "llama");
        int ok = 0, n = 400;
        for (int i = 0; i < n; i++) {
            size_t len = random_text(&rng, buf, 60);
            if (spm && i % 2) /* SentencePiece keeps any bytes via <0xNN> */
                for (size_t j = 0; j < len; j++)
                    if (tu_rand(&rng) % 8 == 0)
                        buf[j] = (char)tu_rand(&rng);
            ok += round_trips(l.t, buf, len);
        }
        printf("random round-trip %-10s %d/%d\n", k_vocabs[v], ok, n);
        assert_int_equal(ok, n);
        close_l(&l);
    }
}

static void test_hostile(void **state)
{
    (void)state;
    static const char *const bad[] = {"\xff\xfe", "\xc3", "a\xe2\x82", "\xf4\x90\x80\x80",
                                      "\xed\xa0\x80", "\xc0\xaf", "\x80\x80z", "\xf8\x88\x80\x80\x80"};
    const size_t mb = 1 << 20;
    char *big = malloc(mb);
    assert_non_null(big);
    static const char *const fills[] = {"a", " ", "\n", "0", "\xc3\xa9", "\xff", "\0", "!"};
    for (int v = 0; v < N_VOCABS; v++) {
        loaded l = open_vocab(k_vocabs[v]);
        bool spm = !strcmp(tf_tokenizer_model(l.t), "llama");
        size_t n;
        int32_t one;
        /* empty input: nothing, or BOS alone */
        assert_int_equal(tf_tokenizer_encode(l.t, "", 0, false, false, false, &one, 1, &n), 0);
        assert_int_equal(n, 0);
        assert_int_equal(tf_tokenizer_encode(l.t, NULL, 0, true, false, false, &one, 1, &n), 0);
        assert_int_equal(n, 1);
        assert_int_equal(one, tf_tokenizer_bos(l.t));
        /* NUL bytes are text like any other */
        assert_true(round_trips(l.t, "a\0b\0\0c", 6));
        for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
            int32_t *ids = enc(l.t, bad[i], strlen(bad[i]), false, false, &n);
            assert_true(n > 0);
            if (spm) /* raw bytes survive as byte tokens */
                assert_true(round_trips(l.t, bad[i], strlen(bad[i])));
            free(ids);
        }
        for (size_t f = 0; f < sizeof fills / sizeof fills[0]; f++) {
            size_t w = fills[f][0] ? strlen(fills[f]) : 1;
            for (size_t i = 0; i + w <= mb; i += w)
                memcpy(big + i, fills[f], w);
            double t0 = now_s();
            int32_t *ids = enc(l.t, big, mb / w * w, false, false, &n);
            double dt = now_s() - t0;
            if (dt > time_bound())
                fprintf(stderr, "  %s fill %zu: %.2f s\n", k_vocabs[v], f, dt);
            assert_true(dt < time_bound());
            assert_true(n > 0);
            free(ids);
        }
        close_l(&l);
    }
    free(big);
}

/* ---- specials, flags, decode ---------------------------------------- */

static void test_specials(void **state)
{
    (void)state;
    size_t n;
    loaded g = open_vocab("gpt-2");
    assert_false(tf_tokenizer_add_bos(g.t));
    int32_t *ids = enc(g.t, "a<|endoftext|>b", 15, false, true, &n);
    assert_int_equal(n, 3);
    assert_int_equal(ids[1], 50256);
    free(ids);
    ids = enc(g.t, "a<|endoftext|>b", 15, false, false, &n);
    for (size_t i = 0; i < n; i++)
        assert_int_not_equal(ids[i], 50256);
    free(ids);
    assert_true(tf_tokenizer_is_eog(g.t, 50256));
    assert_false(tf_tokenizer_is_eog(g.t, 0));
    close_l(&g);

    loaded p = open_vocab("phi-3");
    assert_int_equal(tf_tokenizer_eot(p.t), 32007); /* <|end|>, found by text */
    assert_true(tf_tokenizer_is_eog(p.t, 32007));
    assert_true(tf_tokenizer_is_eog(p.t, 32000));
    ids = enc(p.t, "<|user|>\nHi<|end|>", 18, true, true, &n);
    assert_int_equal(ids[0], 1);
    assert_int_equal(ids[1], 32010);
    assert_int_equal(ids[n - 1], 32007);
    /* Phi-3 strips whitespace after its special tokens */
    size_t n2;
    int32_t *ids2 = enc(p.t, "<|user|>   \nHi<|end|>", 21, true, true, &n2);
    assert_true(ids_equal(ids, n, ids2, n2));
    char buf[64];
    size_t bl;
    assert_int_equal(tf_tokenizer_piece(p.t, 32007, false, buf, sizeof buf, &bl), 0);
    assert_int_equal(bl, 0);
    assert_int_equal(tf_tokenizer_piece(p.t, 32007, true, buf, sizeof buf, &bl), 0);
    assert_int_equal(bl, 7);
    assert_memory_equal(buf, "<|end|>", 7);
    assert_int_equal(tf_tokenizer_piece(p.t, 1, true, buf, 2, &bl), 1); /* too small */
    assert_int_equal(bl, 3);
    assert_int_equal(tf_tokenizer_piece(p.t, 99999, true, buf, 2, &bl), -1);
    free(ids);
    free(ids2);
    close_l(&p);

    loaded s = open_vocab("llama-spm");
    assert_true(tf_tokenizer_add_bos(s.t));
    assert_int_equal(tf_tokenizer_bos(s.t), 1);
    /* the space prefix follows a special token, and decode removes it */
    ids = enc(s.t, "<s>Hello world", 14, false, true, &n);
    assert_int_equal(n, 3);
    assert_int_equal(ids[0], 1);
    assert_int_equal(ids[1], 15043);
    size_t dl;
    char *d = dec(s.t, ids, n, true, &dl);
    assert_string_equal(d, "<s>Hello world");
    free(d);
    d = dec(s.t, ids, n, false, &dl);
    assert_string_equal(d, "Hello world");
    free(d);
    free(ids);
    /* a llama is not in the vocabulary: four byte tokens, reassembled */
    ids = enc(s.t, "\xF0\x9F\xA6\x99", 4, false, false, &n);
    int bytes = 0;
    for (size_t i = 0; i < n; i++)
        bytes += ids[i] >= 3 && ids[i] < 3 + 256;
    assert_int_equal(bytes, 4);
    d = dec(s.t, ids, n, false, &dl);
    assert_string_equal(d, "\xF0\x9F\xA6\x99");
    free(d);
    free(ids);
    assert_int_equal(tf_tokenizer_find(s.t, "\xE2\x96\x81the", 6), 278);
    assert_string_equal(tf_tokenizer_token_text(s.t, 278), "\xE2\x96\x81the");
    assert_null(tf_tokenizer_token_text(s.t, -1));
    close_l(&s);
}

/* Merging words alone (spm_word_cut) must equal one global merge. */
static void test_spm_word_cut(void **state)
{
    (void)state;
    loaded l = open_vocab("llama-spm");
    tf_tokenizer *t = (tf_tokenizer *)l.t;
    assert_true(t->spm_word_cut);
    uint64_t rng = 42;
    char buf[2048];
    int same = 0;
    for (int i = 0; i < 300; i++) {
        size_t len = random_text(&rng, buf, 200), na, nb;
        t->spm_word_cut = true;
        int32_t *a = enc(t, buf, len, false, false, &na);
        t->spm_word_cut = false;
        int32_t *b = enc(t, buf, len, false, false, &nb);
        same += ids_equal(a, na, b, nb);
        free(a);
        free(b);
    }
    t->spm_word_cut = true;
    printf("spm word-cut equals whole-text merge: %d/300\n", same);
    assert_int_equal(same, 300);
    close_l(&l);
}

/* ---- public API ------------------------------------------------------ */

static tf_model *open_model(const char *rel)
{
    tf_model_params mp = tf_model_default_params();
    mp.vocab_only = true;
    tf_model *m = NULL;
    if (tf_model_open(tu_shared(rel), &mp, &m) != TF_OK) {
        fprintf(stderr, "%s: %s\n", rel, tf_last_error());
        fail();
    }
    return m;
}

static void test_api(void **state)
{
    (void)state;
    tf_model *m = open_model("vocab/ggml-vocab-llama-spm.gguf");
    tf_token ids[16];
    size_t n;
    assert_int_equal(tf_tokenize(m, "Hello world", 11, TF_TOKENIZE_DEFAULT, NULL, 0, &n),
                     TF_ERR_BUFFER);
    assert_int_equal(n, 3);
    assert_int_equal(tf_tokenize(m, "Hello world", 11, 0, ids, 16, &n), TF_OK);
    assert_int_equal(ids[0], 1);
    assert_int_equal(tf_tokenize(m, "Hello world", 11, TF_TOKENIZE_NO_BOS, ids, 16, &n), TF_OK);
    assert_int_equal(n, 2);
    assert_int_equal(ids[0], 15043);
    assert_int_equal(tf_tokenize(m, NULL, 3, 0, ids, 16, &n), TF_ERR_INVALID_ARG);
    assert_int_equal(tf_tokenize(m, "x", 1, TF_TOKENIZE_NO_BOS | TF_TOKENIZE_ADD_BOS, ids, 16, &n),
                     TF_ERR_INVALID_ARG);
    assert_int_equal(tf_tokenize(NULL, "x", 1, 0, ids, 16, &n), TF_ERR_INVALID_ARG);
    char buf[64];
    assert_int_equal(tf_token_to_piece(m, 15043, buf, sizeof buf, &n), TF_OK);
    assert_int_equal(n, 6);
    assert_memory_equal(buf, " Hello", 6);
    assert_int_equal(tf_token_to_piece(m, 40000, buf, sizeof buf, &n), TF_ERR_INVALID_ARG);
    tf_token hw[] = {1, 15043, 3186};
    assert_int_equal(tf_detokenize(m, hw, 3, 0, buf, sizeof buf, &n), TF_OK);
    assert_int_equal(n, 11);
    assert_memory_equal(buf, "Hello world", 11);
    assert_int_equal(tf_detokenize(m, hw, 3, TF_TOKENIZE_SPECIAL, buf, 4, &n), TF_ERR_BUFFER);
    assert_int_equal(n, 14);
    assert_int_equal(tf_n_vocab(m), 32000);
    assert_int_equal(tf_token_bos(m), 1);
    assert_int_equal(tf_token_eos(m), 2);
    assert_true(tf_token_is_eog(m, 2));
    tf_model_close(m);

    m = open_model("vocab/ggml-vocab-gpt-2.gguf");
    assert_int_equal(tf_tokenize(m, "Hi", 2, TF_TOKENIZE_ADD_BOS, ids, 16, &n), TF_OK);
    assert_int_equal(ids[0], 50256);
    assert_int_equal(tf_tokenize(m, "Hi", 2, 0, ids, 16, &n), TF_OK);
    assert_int_not_equal(ids[0], 50256);
    assert_int_equal(tf_token_eot(m), 50256);
    tf_model_close(m);
}

static bool valid_complete_utf8(const char *s, size_t n)
{
    for (size_t i = 0; i < n;) {
        size_t adv;
        uint32_t c = tf_utf8_decode((const unsigned char *)s + i, n - i, &adv);
        if (c == TF_UC_REPLACEMENT && !(adv == 3 && !memcmp(s + i, "\xEF\xBF\xBD", 3)))
            return false;
        i += adv;
    }
    return true;
}

/* Feed ids one by one; the output must never hold half a character and
 * must add up to the text (after the one SPM prefix space). */
static void stream_case(const char *rel, const char *text, size_t tn)
{
    tf_model *m = open_model(rel);
    size_t n, got, all_n = 0;
    tf_token *ids = malloc((tn + 2) * sizeof *ids);
    char *all = malloc(tn + 8), chunk[64];
    assert_true(ids && all);
    assert_int_equal(tf_tokenize(m, text, tn, TF_TOKENIZE_NO_BOS, ids, tn + 2, &n), TF_OK);
    tf_detok_stream s = {0};
    for (size_t i = 0; i < n; i++) {
        /* too small a buffer: nothing changes, the size is reported */
        tf_detok_stream before = s;
        tf_status st = tf_detok_stream_push(m, &s, ids[i], NULL, 0, &got);
        if (st == TF_ERR_BUFFER) {
            assert_memory_equal(&before, &s, sizeof s);
            st = tf_detok_stream_push(m, &s, ids[i], chunk, sizeof chunk, &got);
        } else {
            assert_int_equal(got, 0); /* all held back, nothing to write */
        }
        assert_int_equal(st, TF_OK);
        assert_true(valid_complete_utf8(chunk, got));
        assert_true(all_n + got <= tn + 1);
        memcpy(all + all_n, chunk, got);
        all_n += got;
    }
    assert_int_equal(tf_detok_stream_push(m, &s, -1, chunk, sizeof chunk, &got), TF_OK);
    memcpy(all + all_n, chunk, got);
    all_n += got;
    /* a stream continues text, so it keeps the SPM prefix space */
    if (all_n == tn + 1 && all[0] == ' ')
        memmove(all, all + 1, --all_n);
    assert_int_equal(all_n, tn);
    assert_memory_equal(all, text, tn);
    free(ids);
    free(all);
    tf_model_close(m);
}

static void test_stream(void **state)
{
    (void)state;
    static const char text[] = "H\xC3\xA9 \xF0\x9F\xA6\x99 llama \xF0\x9F\xA6\x99\xE2\x82\xAC!";
    stream_case("vocab/ggml-vocab-llama-spm.gguf", text, sizeof text - 1);
    stream_case("vocab/ggml-vocab-gpt-2.gguf", text, sizeof text - 1);
    /* a 4096-token vocabulary spells "▁" in byte tokens */
    size_t n;
    char *p3 = tu_read_file(tu_shared("golden/prompts/3.txt"), &n);
    stream_case("models/tiny-llama-f32.gguf", p3, n);
    stream_case("models/tiny-qwen2-f16.gguf", p3, n);
    free(p3);
}

/* ---- validation ------------------------------------------------------ */

/* A small SPM vocabulary, written fresh; mutate() may break it. */
static int load_synth(void (*mutate)(gw_model *), char *err, size_t errlen)
{
    static const char *const words[] = {"<unk>", "<s>", "</s>", "\xE2\x96\x81", "a", "b",
                                        "\xE2\x96\x81" "a", "ab"};
    static tf_gguf_str strs[8];
    static float scores[8] = {0, 0, 0, -1, -2, -3, -0.5f, -0.25f};
    static int32_t types[8] = {2, 3, 3, 1, 1, 1, 1, 1};
    for (int i = 0; i < 8; i++)
        strs[i] = gw_s(words[i]);
    gw_model *m = calloc(1, sizeof *m);
    assert_non_null(m);
    m->magic = GW_MAGIC;
    m->version = 3;
    m->align = 32;
    gw_set_str(m, "tokenizer.ggml.model", "llama");
    tf_gguf_kv *kv = gw_kv(m, "tokenizer.ggml.tokens");
    kv->type = TF_GGUF_ARRAY;
    kv->v.arr.type = TF_GGUF_STRING;
    kv->v.arr.n = 8;
    kv->v.arr.strs = strs;
    gw_set_arr(m, "tokenizer.ggml.scores", TF_GGUF_F32, 8, scores);
    gw_set_arr(m, "tokenizer.ggml.token_type", TF_GGUF_I32, 8, types);
    gw_set_u32(m, "tokenizer.ggml.bos_token_id", 1);
    if (mutate)
        mutate(m);
    size_t len;
    uint8_t *buf = gw_write(m, NULL, &len);
    tf_gguf *g;
    tf_tokenizer *t = NULL;
    int rc = tf_gguf_open_memory(buf, len, "synth", &g, err, errlen);
    assert_int_equal(rc, 0);
    rc = tf_tokenizer_load(g, &t, err, errlen);
    if (rc == 0) { /* "▁ab": ab (-0.25) outscores ▁a (-0.5), and ▁ab is no token */
        size_t n;
        int32_t ids[8];
        assert_int_equal(tf_tokenizer_encode(t, "ab", 2, false, false, false, ids, 8, &n), 0);
        assert_int_equal(n, 2);
        assert_int_equal(ids[0], 3);
        assert_int_equal(ids[1], 7);
    }
    tf_tokenizer_free(t);
    tf_gguf_close(g);
    free(buf);
    free(m);
    return rc;
}

static void m_scores_short(gw_model *m) { gw_kv(m, "tokenizer.ggml.scores")->v.arr.n = 7; }
static void m_types_short(gw_model *m) { gw_kv(m, "tokenizer.ggml.token_type")->v.arr.n = 5; }
static void m_bos_range(gw_model *m) { gw_set_u32(m, "tokenizer.ggml.bos_token_id", 8); }
static void m_eos_type(gw_model *m) { gw_set_str(m, "tokenizer.ggml.eos_token_id", "2"); }
static void m_model_bert(gw_model *m) { gw_set_str(m, "tokenizer.ggml.model", "bert"); }
static void m_no_tokens(gw_model *m) { gw_del(m, "tokenizer.ggml.tokens"); }
static void m_scores_i32(gw_model *m) { gw_kv(m, "tokenizer.ggml.scores")->v.arr.type = TF_GGUF_I32; }
static void m_gpt2_no_merges(gw_model *m) { gw_set_str(m, "tokenizer.ggml.model", "gpt2"); }

static void test_validation(void **state)
{
    (void)state;
    char err[512];
    assert_int_equal(load_synth(NULL, err, sizeof err), 0);
    static const struct {
        void (*mutate)(gw_model *);
        const char *key, *detail;
    } cases[] = {
        {m_scores_short, "tokenizer.ggml.scores", "7 entries"},
        {m_types_short, "tokenizer.ggml.token_type", "5 entries"},
        {m_bos_range, "tokenizer.ggml.bos_token_id", "out of range"},
        {m_eos_type, "tokenizer.ggml.eos_token_id", "integer"},
        {m_model_bert, "tokenizer.ggml.model", "bert"},
        {m_no_tokens, "tokenizer.ggml.tokens", "missing"},
        {m_scores_i32, "tokenizer.ggml.scores", "float32"},
        {m_gpt2_no_merges, "tokenizer.ggml.merges", "missing"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        err[0] = 0;
        assert_int_not_equal(load_synth(cases[i].mutate, err, sizeof err), 0);
        printf("  refused: %s\n", err);
        assert_non_null(strstr(err, cases[i].key));
        assert_non_null(strstr(err, cases[i].detail));
    }
}

/* BPE-specific defects, on the gpt-2 vocabulary. */
static void test_validation_bpe(void **state)
{
    (void)state;
    tf_gguf *base;
    char err[512];
    assert_int_equal(tf_gguf_open_file(tu_shared("vocab/ggml-vocab-gpt-2.gguf"), &base, err,
                                       sizeof err), 0);
    gw_model *m = calloc(1, sizeof *m);
    assert_non_null(m);
    static const char *const bad_merge[] = {"Ġt", "Ġ t", "Ġ zzzunknown", NULL};
    const char *want[] = {"merges[0]", "merges[0]", "zzzunknown", "nope"};
    for (int c = 0; c < 4; c++) {
        gw_from_gguf(m, base);
        tf_gguf_str *saved = NULL;
        if (c < 3) {
            tf_gguf_kv *kv = gw_kv(m, "tokenizer.ggml.merges");
            saved = malloc(kv->v.arr.n * sizeof *saved);
            memcpy(saved, kv->v.arr.strs, kv->v.arr.n * sizeof *saved);
            saved[0] = gw_s(bad_merge[c]);
            kv->v.arr.strs = saved;
        } else {
            gw_set_str(m, "tokenizer.ggml.pre", "nope");
        }
        size_t len;
        uint8_t *buf = gw_write(m, NULL, &len);
        tf_gguf *g;
        tf_tokenizer *t = NULL;
        assert_int_equal(tf_gguf_open_memory(buf, len, "synth", &g, err, sizeof err), 0);
        int rc = tf_tokenizer_load(g, &t, err, sizeof err);
        if (c == 1) { /* "Ġ t" is fine: it is the real first merge */
            assert_int_equal(rc, 0);
        } else {
            assert_int_not_equal(rc, 0);
            printf("  refused: %s\n", err);
            assert_non_null(strstr(err, want[c]));
        }
        tf_tokenizer_free(t);
        tf_gguf_close(g);
        free(buf);
        free(saved);
    }
    free(m);
    tf_gguf_close(base);
}

/* ---- the CLI ---------------------------------------------------------- */

static int run_cmd(const char *cmd, char *out, size_t cap)
{
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    size_t n = 0, got;
    while (n + 1 < cap && (got = fread(out + n, 1, cap - n - 1, p)) > 0)
        n += got;
    out[n] = 0;
    int st = pclose(p);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static void test_cli(void **state)
{
    (void)state;
    char cmd[2048], out[4096];
    const char *v = tu_shared("vocab/ggml-vocab-llama-spm.gguf");
    snprintf(cmd, sizeof cmd, "%s tokenize -m %s -p 'Hello world'", tu_bin(), v);
    assert_int_equal(run_cmd(cmd, out, sizeof out), 0);
    assert_string_equal(out, "1 15043 3186\n");
    snprintf(cmd, sizeof cmd, "%s tokenize -m %s -p 'Hello world' --no-bos --pieces", tu_bin(), v);
    assert_int_equal(run_cmd(cmd, out, sizeof out), 0);
    assert_string_equal(out, "15043 3186\n15043\t' Hello'\n3186\t' world'\n");
    char path[] = "/tmp/tinfer-tok-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, "Hello world\n", 12), 12);
    close(fd);
    snprintf(cmd, sizeof cmd, "%s tokenize -m %s -f %s --no-bos", tu_bin(), v, path);
    assert_int_equal(run_cmd(cmd, out, sizeof out), 0);
    assert_string_equal(out, "15043 3186 13\n"); /* the newline is kept */
    unlink(path);
    snprintf(cmd, sizeof cmd, "%s tokenize -m %s -p '<|endoftext|>' --special",
             tu_bin(), tu_shared("vocab/ggml-vocab-gpt-2.gguf"));
    assert_int_equal(run_cmd(cmd, out, sizeof out), 0);
    assert_string_equal(out, "50256\n");
    snprintf(cmd, sizeof cmd, "%s tokenize --help", tu_bin());
    assert_int_equal(run_cmd(cmd, out, sizeof out), 0);
    assert_non_null(strstr(out, "--special"));
    const char *usage[] = {"", "-m", "-p x", "-m x -p a -f b", "-m x -p a --bogus"};
    for (size_t i = 0; i < sizeof usage / sizeof usage[0]; i++) {
        snprintf(cmd, sizeof cmd, "%s tokenize %s 2>/dev/null", tu_bin(), usage[i]);
        assert_int_equal(run_cmd(cmd, out, sizeof out), 2);
    }
    snprintf(cmd, sizeof cmd, "%s tokenize -m /nonexistent.gguf -p x 2>&1", tu_bin());
    assert_int_equal(run_cmd(cmd, out, sizeof out), 1);
    assert_non_null(strstr(out, "/nonexistent.gguf"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_vocab_vectors),
        cmocka_unit_test(test_golden_prompts),
        cmocka_unit_test(test_round_trip_random),
        cmocka_unit_test(test_hostile),
        cmocka_unit_test(test_specials),
        cmocka_unit_test(test_spm_word_cut),
        cmocka_unit_test(test_api),
        cmocka_unit_test(test_stream),
        cmocka_unit_test(test_validation),
        cmocka_unit_test(test_validation_bpe),
        cmocka_unit_test(test_cli),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
