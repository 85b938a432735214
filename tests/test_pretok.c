/* test_pretok.c - the byte-level BPE pre-tokenizers and their regex engine.
 *
 * Known splits for every pattern family; every name in pretokenizers.md
 * accepted, others refused; the hand-written GPT-2 / Llama 3 / Qwen2
 * splitters agree with the regex engine running the same pattern on
 * random text; inputs that make naive backtracking quadratic finish in
 * linear time; malformed patterns are refused.
 */
#include "testutil.h"
#include <time.h>
#include "pretok.h"
#include "unicode.h"

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

/* Seconds one 1 MB case may take: far above linear, far below quadratic. */
static double time_bound(void) { return getenv("TINFER_SLOW") ? 30.0 : 5.0; }

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

/* ---- pre-tokenizers ------------------------------------------------- */

/* Pieces of text under pre-tokenizer name, joined with '|'. */
static char *pieces_of(const char *name, const char *text)
{
    tf_pretok *p;
    char err[256];
    assert_int_equal(tf_pretok_new(name, &p, err, sizeof err), 0);
    uint32_t cp[256];
    uint8_t fl[256];
    uint32_t off[257];
    size_t n = 0, len = strlen(text);
    for (size_t i = 0; i < len; n++) {
        size_t adv;
        cp[n] = tf_utf8_decode((const unsigned char *)text + i, len - i, &adv);
        fl[n] = (uint8_t)tf_uc_flags(cp[n]);
        off[n] = (uint32_t)i;
        i += adv;
    }
    off[n] = (uint32_t)len;
    tf_spans sp = {0};
    assert_int_equal(tf_pretok_split(p, cp, fl, n, &sp), 0);
    char *out = malloc(2 * len + 2), *o = out;
    for (size_t i = 0; i < sp.n; i++) {
        if (i)
            *o++ = '|';
        memcpy(o, text + off[sp.v[i].a], off[sp.v[i].b] - off[sp.v[i].a]);
        o += off[sp.v[i].b] - off[sp.v[i].a];
    }
    *o = 0;
    tf_spans_free(&sp);
    tf_pretok_free(p);
    return out;
}

static void expect_pieces(const char *name, const char *text, const char *want)
{
    char *got = pieces_of(name, text);
    if (strcmp(got, want))
        fprintf(stderr, "  %s: '%s' -> '%s', want '%s'\n", name, text, got, want);
    assert_string_equal(got, want);
    free(got);
}

static void test_pretok_splits(void **state)
{
    (void)state;
    expect_pieces("gpt-2", "a   b", "a|  | b");
    expect_pieces("gpt-2", "it's 42!\n\n", "it|'s| 42|!|\n\n");
    expect_pieces("gpt-2", "\tx", "\t|x");
    expect_pieces("llama3", "123456 I'LL\r\n\r\nok", "123|456| I|'LL|\r\n\r\n|ok");
    expect_pieces("qwen2", "x123", "x|1|2|3");
    expect_pieces("starcoder", "v12 a", "v|1|2| a");
    expect_pieces(NULL, "3333 a+b", "333|3| a|+|b");
    expect_pieces("default", "x `y`", "x| `|y|`");
    expect_pieces("falcon", "x `y`", "x| |`|y|`");
    expect_pieces("deepseek-llm", "ab  \xE4\xB8\xAD  ", "ab|  |\xE4\xB8\xAD|  ");
    expect_pieces("deepseek-coder", "a1\n\xE4\xB8\xAD.", "a|1|\n|\xE4\xB8\xAD|.");
    expect_pieces("deepseek-v3", "1234 #ab ?x", "123|4| #|ab| ?|x");
    expect_pieces("poro-chat", "hi, there!", "hi|,| there|!");
    expect_pieces("viking", "a12", "a|1|2");
    expect_pieces("gpt-2", "", "");
}

/* Every name in pretokenizers.md is known; others are refused. */
static void test_pretok_names(void **state)
{
    (void)state;
    char *md = tu_read_file(tu_shared("pretokenizers.md"), NULL);
    int names = 0;
    for (char *line = strtok(md, "\n"); line; line = strtok(NULL, "\n")) {
        if (strncmp(line, "| ", 2) || strstr(line, "tokenizer.ggml.pre") || line[2] == '-')
            continue;
        char *end = strstr(line + 2, " | ");
        assert_non_null(end);
        *end = 0;
        for (char *q = strchr(line, '`'); q; q = strchr(q, '`')) {
            char *e = strchr(q + 1, '`');
            assert_non_null(e);
            *e = 0;
            char name[64];
            snprintf(name, sizeof name, "%s", q + 1);
            if (!strcmp(name, "jina-*"))
                strcpy(name, "jina-v2-code");
            tf_pretok *p;
            char err[256];
            if (tf_pretok_new(name, &p, err, sizeof err))
                fprintf(stderr, "  '%s': %s\n", name, err);
            assert_non_null(p);
            tf_pretok_free(p);
            names++;
            q = e + 1;
        }
    }
    free(md);
    printf("pre-tokenizer names from pretokenizers.md: %d known\n", names);
    assert_true(names >= 30);
    tf_pretok *p;
    char err[256];
    assert_int_not_equal(tf_pretok_new("no-such-pre", &p, err, sizeof err), 0);
    assert_non_null(strstr(err, "no-such-pre"));
    assert_non_null(strstr(err, "tokenizer.ggml.pre"));
    for (const char *const *nm = tf_pretok_names(); *nm; nm++) {
        assert_int_equal(tf_pretok_new(*nm, &p, err, sizeof err), 0);
        tf_pretok_free(p);
    }
}

static void decode_all(const char *s, size_t len, uint32_t *cp, uint8_t *fl, size_t *n)
{
    *n = 0;
    for (size_t i = 0; i < len; (*n)++) {
        size_t adv;
        cp[*n] = tf_utf8_decode((const unsigned char *)s + i, len - i, &adv);
        fl[*n] = (uint8_t)tf_uc_flags(cp[*n]);
        i += adv;
    }
}

static void test_builtin_equals_regex(void **state)
{
    (void)state;
    uint64_t rng = 7;
    char buf[512];
    uint32_t cp[512];
    uint8_t fl[512];
    for (int w = TF_SPLIT_GPT2; w <= TF_SPLIT_QWEN2; w++) {
        tf_regex *re;
        char err[256];
        assert_int_equal(tf_regex_compile(tf_pretok_builtin_pattern(w), &re, err, sizeof err), 0);
        tf_spans a = {0}, b = {0};
        int same = 0, n_tests = 3000;
        for (int i = 0; i < n_tests; i++) {
            size_t n, len = random_text(&rng, buf, 40);
            decode_all(buf, len, cp, fl, &n);
            tf_span whole = {0, (uint32_t)n};
            assert_int_equal(tf_pretok_builtin_split(w, cp, fl, &whole, 1, &a), 0);
            assert_int_equal(tf_regex_split(re, cp, fl, &whole, 1, &b), 0);
            same += a.n == b.n && (a.n == 0 || !memcmp(a.v, b.v, a.n * sizeof *a.v));
        }
        printf("hand-written splitter %d vs regex engine: %d/%d agree\n", w, same, n_tests);
        assert_int_equal(same, n_tests);
        tf_spans_free(&a);
        tf_spans_free(&b);
        tf_regex_free(re);
    }
}

static void test_regex_linear(void **state)
{
    (void)state;
    /* inputs where a naive search backtracks quadratically */
    static const char *const cases[][2] = {
        {"deepseek-llm", " "}, {"deepseek-v3", " "}, {"llama3", " "}, {"gpt-2", "\t"}};
    size_t n = 1 << 20;
    uint32_t *cp = malloc((n + 1) * sizeof *cp);
    uint8_t *fl = malloc(n + 1);
    assert_true(cp && fl);
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        for (size_t i = 0; i < n; i++) {
            cp[i] = (uint32_t)cases[c][1][0];
            fl[i] = (uint8_t)tf_uc_flags(cp[i]);
        }
        cp[n] = 0x4E2D; /* a CJK char at the end defeats \s+$ */
        fl[n] = (uint8_t)tf_uc_flags(cp[n]);
        tf_pretok *p;
        char err[256];
        assert_int_equal(tf_pretok_new(cases[c][0], &p, err, sizeof err), 0);
        tf_spans sp = {0};
        double t0 = now_s();
        assert_int_equal(tf_pretok_split(p, cp, fl, n + 1, &sp), 0);
        assert_true(now_s() - t0 < time_bound());
        assert_true(sp.n >= 2);
        tf_spans_free(&sp);
        tf_pretok_free(p);
    }
    free(cp);
    free(fl);
    tf_regex *re;
    char err[256];
    const char *bad[] = {"(a", "[a", "a{2,1}", "\\p{X}", "(?<=a)", "z-a]", "[z-a]", "a**", "(ab)+"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int rc = tf_regex_compile(bad[i], &re, err, sizeof err);
        if (rc == 0)
            tf_regex_free(re);
        if (strcmp(bad[i], "z-a]") != 0) /* that one is plain literals */
            assert_int_not_equal(rc, 0);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pretok_splits),
        cmocka_unit_test(test_pretok_names),
        cmocka_unit_test(test_builtin_equals_regex),
        cmocka_unit_test(test_regex_linear),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
