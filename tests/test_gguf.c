/* test_gguf.c - the GGUF loader and model validation.
 *
 * Every shipped model and vocabulary opens with the right hyperparameters
 * (through the API and through `tinfer info`); a hostile corpus generated
 * here from valid models (gguf_writer.h + gguf_cases.h) is rejected case by
 * case with a message naming the defect; truncation at every section
 * boundary and random header corruption never crash or read out of bounds
 * (run under ASan/UBSan by `make asan`).  Each rejection message is printed,
 * one line per case, for a human to judge.
 */
#include "testutil.h"
#include <dirent.h>
#include <math.h>
#include <sys/wait.h>
#include <unistd.h>
#include "tinfer.h"
#include "gguf.h"
#include "internal.h"
#include "gguf_writer.h"
#include "gguf_cases.h"

/* ---- shared state: the valid models the corpus is made from ---------- */

static const char *base_rel[B_COUNT] = {
    "models/tiny-llama-q8_0.gguf", "models/tiny-moe-q4_0.gguf", "models/tiny-qwen2-q8_0.gguf"};
static tf_gguf *base_g[B_COUNT];
static gw_model *base_m[B_COUNT];

static int setup(void **st)
{
    (void)st;
    memset(long_name, 'x', sizeof long_name);
    for (int b = 0; b < B_COUNT; b++) {
        char err[512];
        if (tf_gguf_open_file(tu_shared(base_rel[b]), &base_g[b], err, sizeof err) != 0) {
            fprintf(stderr, "FATAL: %s\n", err);
            return -1;
        }
        base_m[b] = malloc(sizeof *base_m[b]);
        if (!base_m[b]) return -1;
        gw_from_gguf(base_m[b], base_g[b]);
    }
    return 0;
}

static int teardown(void **st)
{
    (void)st;
    for (int b = 0; b < B_COUNT; b++) {
        free(base_m[b]);
        tf_gguf_close(base_g[b]);
    }
    return 0;
}

/* Write bytes to a fresh temporary file and open it as a model. */
static tf_status open_bytes(const uint8_t *buf, size_t len, const tf_model_params *p,
                            tf_model **out)
{
    char path[] = "/tmp/tf_test_gguf_XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    size_t done = 0;
    while (done < len) {
        ssize_t w = write(fd, buf + done, len - done);
        assert_true(w > 0);
        done += (size_t)w;
    }
    close(fd);
    tf_status st = tf_model_open(path, p, out);
    unlink(path);
    return st;
}

static bool has_suffix(const char *s, const char *suf)
{
    size_t n = strlen(s), k = strlen(suf);
    return n >= k && strcmp(s + n - k, suf) == 0;
}

/* ---- every shipped file opens with the documented shape ------------- */

static void check_desc(const char *file, const tf_model_desc *d)
{
    if (strncmp(file, "tiny-", 5) == 0) {
        assert_false(d->vocab_only);
        assert_int_equal(d->n_embd, 256);
        assert_int_equal(d->n_layer, 2);
        assert_true(d->n_params > 1000000);
        assert_true(d->weight_bytes > 0 && d->weight_bytes < d->file_bytes);
    }
    if (strncmp(file, "tiny-llama-", 11) == 0) {
        assert_string_equal(d->arch, "llama");
        assert_int_equal(d->n_head, 8);
        assert_int_equal(d->n_head_kv, 4);
        assert_int_equal(d->n_ff, 512);
        assert_int_equal(d->n_vocab, 4096);
        assert_int_equal(d->n_expert, 0);
        assert_true(d->tied_output);
        assert_string_equal(d->tokenizer, "llama");
        assert_true(d->rope_freq_base == 10000.0f);
    } else if (strncmp(file, "tiny-moe-", 9) == 0) {
        assert_string_equal(d->arch, "llama");
        assert_int_equal(d->n_head, 8);
        assert_int_equal(d->n_head_kv, 4);
        assert_int_equal(d->n_vocab, 4096);
        assert_int_equal(d->n_expert, 4);
        assert_int_equal(d->n_expert_used, 2);
        assert_false(d->tied_output);
    } else if (strncmp(file, "tiny-qwen2-", 11) == 0) {
        assert_string_equal(d->arch, "qwen2");
        assert_int_equal(d->n_head, 4);
        assert_int_equal(d->n_head_kv, 2);
        assert_int_equal(d->n_ff, 512);
        assert_int_equal(d->n_vocab, 4097);
        assert_true(d->rope_freq_base == 1e6f);
        assert_false(d->tied_output);
        assert_string_equal(d->tokenizer, "gpt2");
    } else {
        static const struct { const char *file; int n; const char *tok; } v[] = {
            {"ggml-vocab-gpt-2.gguf", 50257, "gpt2"}, {"ggml-vocab-llama-spm.gguf", 32000, "llama"},
            {"ggml-vocab-phi-3.gguf", 32064, "llama"}, {"ggml-vocab-starcoder.gguf", 49152, "gpt2"}};
        bool known = false;
        for (size_t i = 0; i < sizeof v / sizeof v[0]; i++)
            if (strcmp(file, v[i].file) == 0) {
                known = true;
                assert_true(d->vocab_only);
                assert_int_equal(d->n_vocab, v[i].n);
                assert_string_equal(d->tokenizer, v[i].tok);
            }
        assert_true(known);
    }
}

static int open_dir(const char *rel, int *n_files)
{
    const char *dir = tu_shared(rel);
    DIR *dp = opendir(dir);
    assert_non_null(dp);
    struct dirent *e;
    while ((e = readdir(dp)) != NULL) {
        if (!has_suffix(e->d_name, ".gguf")) continue;
        char path[1200];
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        tf_model *m = NULL;
        tf_status st = tf_model_open(path, NULL, &m);
        if (st != TF_OK) fprintf(stderr, "%s: %s\n", path, tf_last_error());
        assert_int_equal(st, TF_OK);
        tf_model_desc d;
        assert_int_equal(tf_model_describe(m, &d), TF_OK);
        printf("  ok %-28s %-6s vocab %-6d embd %d layers %d heads %d/%d%s\n", e->d_name, d.arch,
               d.n_vocab, d.n_embd, d.n_layer, d.n_head, d.n_head_kv, d.vocab_only ? " (vocab)" : "");
        check_desc(e->d_name, &d);
        tf_model_close(m);
        (*n_files)++;
    }
    closedir(dp);
    return 0;
}

static void test_shared_files_open(void **st)
{
    (void)st;
    int n_models = 0, n_vocab = 0;
    open_dir("models", &n_models);
    open_dir("vocab", &n_vocab);
    assert_int_equal(n_models, 19);
    assert_int_equal(n_vocab, 4);
}

/* `tinfer info` prints the same hyperparameters. */
static char *run_cli(const char *args, int *status)
{
    char cmd[2048];
    if (access(tu_bin(), X_OK) != 0) {
        fprintf(stderr, "FATAL: CLI '%s' not built (make build/tinfer, or set TINFER_BIN)\n", tu_bin());
        fail();
    }
    snprintf(cmd, sizeof cmd, "%s %s 2>&1", tu_bin(), args);
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    size_t cap = 1 << 16, n = 0;
    char *out = malloc(cap);
    assert_non_null(out);
    size_t k;
    while ((k = fread(out + n, 1, cap - 1 - n, p)) > 0) n += k;
    out[n] = 0;
    int rc = pclose(p);
    *status = WIFEXITED(rc) ? WEXITSTATUS(rc) : -1;
    return out;
}

static void expect_cli(const char *rel, const char *const *want)
{
    char args[1200];
    int status;
    snprintf(args, sizeof args, "info %s", tu_shared(rel));
    char *out = run_cli(args, &status);
    for (; *want; want++)
        if (!strstr(out, *want)) {
            fprintf(stderr, "tinfer info %s: missing '%s' in:\n%s\n", rel, *want, out);
            fail();
        }
    assert_int_equal(status, 0);
    free(out);
}

static void test_cli_info(void **st)
{
    (void)st;
    static const char *llama[] = {"architecture: llama", "n_vocab 4096", "n_embd 256", "n_layer 2",
                                  "n_head 8  n_head_kv 4", "n_ff 512", "tied to token_embd", NULL};
    static const char *moe[] = {"architecture: llama", "n_embd 256", "n_layer 2",
                                "n_head 8  n_head_kv 4", "n_expert 4  n_expert_used 2",
                                "separate output.weight", "blk.1.ffn_up_exps.weight", NULL};
    static const char *qwen[] = {"architecture: qwen2", "n_vocab 4097", "n_head 4  n_head_kv 2",
                                 "rope_freq_base 1e+06", "separate output.weight", "gpt2", NULL};
    static const char *voc[] = {"vocabulary only", "50257 tokens", NULL};
    expect_cli("models/tiny-llama-q4_k_m.gguf", llama);
    expect_cli("models/tiny-moe-f16.gguf", moe);
    expect_cli("models/tiny-qwen2-f16.gguf", qwen);
    expect_cli("vocab/ggml-vocab-gpt-2.gguf", voc);
}

/* ---- the writer round-trips ----------------------------------------- */

static void test_writer_roundtrip(void **st)
{
    (void)st;
    for (int b = 0; b < B_COUNT; b++) {
        size_t len;
        uint8_t *buf = gw_write(base_m[b], NULL, &len);
        if (b == B_LLAMA) { /* llama.cpp's own layout: byte for byte */
            assert_int_equal(len, tf_gguf_file_size(base_g[b]));
            char *orig = tu_read_file(tu_shared(base_rel[b]), NULL);
            assert_memory_equal(buf, orig, len);
            free(orig);
        }
        tf_model *m = NULL, *o = NULL;
        assert_int_equal(open_bytes(buf, len, NULL, &m), TF_OK);
        assert_int_equal(tf_model_open(tu_shared(base_rel[b]), NULL, &o), TF_OK);
        tf_model_desc dm, dorig;
        tf_model_describe(m, &dm);
        tf_model_describe(o, &dorig);
        assert_int_equal(dm.n_params, dorig.n_params);
        assert_int_equal(dm.n_expert, dorig.n_expert);
        assert_int_equal(dm.n_head_kv, dorig.n_head_kv);
        assert_int_equal(dm.tied_output, dorig.tied_output);
        tf_model_close(m);
        tf_model_close(o);
        /* Version 2 (same layout, 64-bit counts) loads too, and so do
         * other alignments that keep every tensor naturally aligned. */
        gw_model *v2 = malloc(sizeof *v2);
        static const uint32_t aligns[] = {32, 64, 4096, 8};
        for (int k = 0; k < 4; k++) {
            *v2 = *base_m[b];
            v2->version = k == 0 ? 2 : 3;
            if (k) {
                v2->align = aligns[k];
                gw_set_u32(v2, "general.alignment", aligns[k]);
                gw_set_str(v2, "general.name", "odd-name-x");
            }
            free(buf);
            buf = gw_write(v2, NULL, &len);
            if (open_bytes(buf, len, NULL, &m) != TF_OK) fprintf(stderr, "%s\n", tf_last_error());
            assert_non_null(m);
            tf_model_close(m);
        }
        free(v2);
        free(buf);
    }
}

static const char *arr_key[TF_GGUF_VTYPE_COUNT] = {
    "test.arr.u8", "test.arr.i8", "test.arr.u16", "test.arr.i16", "test.arr.u32",
    "test.arr.i32", "test.arr.f32", "test.arr.bool", "test.arr.str", NULL,
    "test.arr.u64", "test.arr.i64", "test.arr.f64"};

/* Extra keys of every value type and arrays of every element type. */
static void add_every_type(gw_model *m)
{
    static const uint8_t raw[3 * 8] = {1, 0, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0,
                                       3, 0, 0, 0, 0, 0, 0, 0};
    static const uint8_t bools[3] = {1, 0, 1};
    static const tf_gguf_str strs[3] = {{"a", 1}, {"", 0}, {"h\xc3\xa9llo", 6}};
    gw_set_u(m, "test.u8", TF_GGUF_U8, 200);
    gw_set_u(m, "test.i8", TF_GGUF_I8, (uint64_t)-5);
    gw_set_u(m, "test.u16", TF_GGUF_U16, 60000);
    gw_set_u(m, "test.i16", TF_GGUF_I16, (uint64_t)-30000);
    gw_set_u(m, "test.u32", TF_GGUF_U32, 4000000000u);
    gw_set_u(m, "test.i32", TF_GGUF_I32, (uint64_t)-2000000000);
    gw_set_f(m, "test.f32", TF_GGUF_F32, 1.5);
    gw_set_u(m, "test.bool", TF_GGUF_BOOL, 1);
    gw_set_str(m, "test.str", "h\xc3\xa9llo");
    gw_set_u(m, "test.u64", TF_GGUF_U64, (1ull << 63) + 5);
    gw_set_u(m, "test.i64", TF_GGUF_I64, (uint64_t)-(1ll << 62));
    gw_set_f(m, "test.f64", TF_GGUF_F64, 2.25);
    for (uint32_t t = 0; t < TF_GGUF_VTYPE_COUNT; t++) {
        if (t == TF_GGUF_ARRAY) continue;
        gw_set_arr(m, arr_key[t], t, 3, t == TF_GGUF_BOOL ? bools : raw);
        if (t == TF_GGUF_STRING) m->kv[ki(m, arr_key[t])].v.arr.strs = (tf_gguf_str *)strs;
    }
}

static void test_every_value_type(void **st)
{
    (void)st;
    gw_model *m = malloc(sizeof *m);
    *m = *base_m[B_LLAMA];
    add_every_type(m);
    size_t len;
    uint8_t *buf = gw_write(m, NULL, &len);
    tf_gguf *g = NULL;
    char err[512] = "";
    assert_int_equal(tf_gguf_open_memory(buf, len, "types", &g, err, sizeof err), 0);
    int64_t i;
    uint32_t u;
    float f;
    bool bo;
    tf_gguf_str s;
    assert_int_equal(tf_gguf_get_u32(g, "test.u8", &u), 0); assert_int_equal(u, 200);
    assert_int_equal(tf_gguf_get_i64(g, "test.i8", &i), 0); assert_int_equal(i, -5);
    assert_int_equal(tf_gguf_get_u32(g, "test.u16", &u), 0); assert_int_equal(u, 60000);
    assert_int_equal(tf_gguf_get_i64(g, "test.i16", &i), 0); assert_int_equal(i, -30000);
    assert_int_equal(tf_gguf_get_u32(g, "test.u32", &u), 0); assert_int_equal(u, 4000000000u);
    assert_int_equal(tf_gguf_get_i64(g, "test.i32", &i), 0); assert_int_equal(i, -2000000000);
    assert_int_equal(tf_gguf_get_u32(g, "test.i32", &u), -1); /* negative: not a u32 */
    assert_int_equal(tf_gguf_get_f32(g, "test.f32", &f), 0); assert_true(f == 1.5f);
    assert_int_equal(tf_gguf_get_bool(g, "test.bool", &bo), 0); assert_true(bo);
    assert_int_equal(tf_gguf_get_str(g, "test.str", &s), 0);
    assert_true(tf_gguf_str_eq(s, "h\xc3\xa9llo"));
    assert_int_equal(tf_gguf_get_i64(g, "test.u64", &i), -1); /* > INT64_MAX */
    assert_int_equal(tf_gguf_find(g, "test.u64")->v.u, (1ull << 63) + 5);
    assert_int_equal(tf_gguf_get_i64(g, "test.i64", &i), 0); assert_true(i == -(1ll << 62));
    assert_int_equal(tf_gguf_get_f32(g, "test.f64", &f), 0); assert_true(f == 2.25f);
    assert_int_equal(tf_gguf_get_f32(g, "test.u8", &f), -1);
    assert_int_equal(tf_gguf_get_str(g, "test.u8", &s), -1);
    assert_int_equal(tf_gguf_get_u32(g, "test.none", &u), 1);
    const tf_gguf_kv *a = tf_gguf_find(g, "test.arr.str");
    assert_non_null(a);
    assert_int_equal(a->v.arr.n, 3);
    assert_true(tf_gguf_str_eq(a->v.arr.strs[2], "h\xc3\xa9llo"));
    assert_int_equal(a->v.arr.strs[1].len, 0);
    for (uint32_t t = 0; t < TF_GGUF_VTYPE_COUNT; t++) {
        if (t == TF_GGUF_ARRAY || t == TF_GGUF_STRING) continue;
        const tf_gguf_kv *kv = tf_gguf_find(g, arr_key[t]);
        assert_non_null(kv);
        assert_int_equal(kv->type, TF_GGUF_ARRAY);
        assert_int_equal(kv->v.arr.type, t);
        assert_int_equal(kv->v.arr.n, 3);
        assert_int_equal(kv->v.arr.data[0], 1);
    }
    tf_gguf_close(g);
    /* The model still opens; metadata renders every type. */
    tf_model *mo = NULL;
    assert_int_equal(open_bytes(buf, len, NULL, &mo), TF_OK);
    char text[128];
    size_t n;
    assert_int_equal(tf_model_meta_str(mo, "test.i16", text, sizeof text, &n), TF_OK);
    assert_string_equal(text, "-30000");
    assert_int_equal(tf_model_meta_str(mo, "test.arr.i16", text, sizeof text, &n), TF_OK);
    assert_string_equal(text, "[array of 3 int16]");
    assert_int_equal(tf_model_meta_str(mo, "test.bool", text, sizeof text, &n), TF_OK);
    assert_string_equal(text, "true");
    tf_model_close(mo);
    free(buf);
    free(m);
}

/* ---- the hostile corpus --------------------------------------------- */

static bool msg_has(const char *msg, const char *want)
{
    return !want || strstr(msg, want) != NULL;
}

/* One case; returns false (and says why) when it is not rejected as it should be. */
static bool run_case(const hcase *c)
{
    gw_model *m = malloc(sizeof *m);
    assert_non_null(m);
    *m = *base_m[c->base];
    c->mut(m);
    size_t len;
    uint8_t *buf = gw_write(m, NULL, &len);
    free(m);
    char err[512] = "";
    tf_gguf *g = NULL;
    int prc = tf_gguf_open_memory(buf, len, "hostile", &g, err, sizeof err);
    bool ok = true;
    if (c->fmt && (prc == 0 || g || !err[0] || !msg_has(err, c->want1) || !msg_has(err, c->want2))) {
        printf("FAIL %-26s parser: rc %d, '%s'\n", c->what, prc, err);
        ok = false;
    }
    if (!c->fmt && prc != 0) {
        printf("FAIL %-26s the parser rejects a well-formed file: %s\n", c->what, err);
        ok = false;
    }
    tf_gguf_close(g);
    tf_model *mo = NULL;
    tf_status st = open_bytes(buf, len, NULL, &mo);
    free(buf);
    const char *msg = tf_last_error();
    if (c->fmt && st != TF_ERR_FORMAT) {
        printf("FAIL %-26s status %s, expected format error\n", c->what, tf_status_str(st));
        ok = false;
    }
    if (st == TF_OK || mo) {
        printf("FAIL %-26s ACCEPTED by tf_model_open\n", c->what);
        tf_model_close(mo);
        return false;
    }
    if (!msg[0] || !msg_has(msg, c->want1) || !msg_has(msg, c->want2)) {
        printf("FAIL %-26s message lacks '%s'%s%s: %s\n", c->what, c->want1,
               c->want2 ? " / " : "", c->want2 ? c->want2 : "", msg);
        return false;
    }
    /* The temp path is noise: show the message from the defect on. */
    const char *shown = strncmp(msg, "/tmp/tf_test_gguf_", 18) == 0 ? msg + 26 : msg;
    printf("  %-26s [%s] %s\n", c->what, tf_status_str(st), shown);
    return ok;
}

static void test_hostile_corpus(void **st)
{
    (void)st;
    size_t n = sizeof hcases / sizeof hcases[0], failed = 0;
    for (size_t i = 0; i < n; i++)
        if (!run_case(&hcases[i])) failed++;
    printf("  %zu hostile cases, %zu not rejected as expected\n", n, failed);
    fflush(stdout);
    assert_true(n >= 40);
    assert_int_equal(failed, 0);
}

/* The CLI reports a rejected file on stderr and exits 1. */
static void test_cli_rejects(void **st)
{
    (void)st;
    if (access(tu_bin(), X_OK) != 0) run_cli("", NULL); /* fails the test, allocating nothing */
    gw_model *m = malloc(sizeof *m);
    *m = *base_m[B_LLAMA];
    gw_tdel(m, "blk.1.ffn_up.weight");
    size_t len;
    uint8_t *buf = gw_write(m, NULL, &len);
    char path[] = "/tmp/tf_test_gguf_cli_XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, buf, len), (ssize_t)len);
    close(fd);
    char args[128];
    snprintf(args, sizeof args, "info %s", path);
    int status;
    char *out = run_cli(args, &status);
    unlink(path);
    printf("  tinfer info (missing tensor) -> exit %d: %s", status, out);
    assert_int_equal(status, 1);
    assert_non_null(strstr(out, "blk.1.ffn_up.weight"));
    free(out);
    free(buf);
    free(m);
}

/* Exercise an opened vocabulary: every piece, a tokenize/decode round. */
static void exercise_vocab(const tf_tokenizer *t)
{
    static const char text[] = "Hello world\n\n  123 h\xc3\xa9llo <|endoftext|><s> \xff\xc3 end";
    char buf[4096];
    size_t n;
    int32_t ids[512];
    for (int32_t id = -1; id <= tf_tokenizer_n_vocab(t); id++) {
        int rc = tf_tokenizer_piece(t, id, true, buf, sizeof buf, &n);
        assert_true(rc == 0 || rc == 1 || (rc == -1 && (id < 0 || id == tf_tokenizer_n_vocab(t))));
    }
    for (int special = 0; special < 2; special++) {
        int rc = tf_tokenizer_encode(t, text, sizeof text - 1, true, true, special, ids, 512, &n);
        assert_int_equal(rc, 0);
        for (size_t i = 0; i < n; i++) assert_true(ids[i] >= 0 && ids[i] < tf_tokenizer_n_vocab(t));
        size_t m;
        rc = tf_tokenizer_decode(t, ids, n, special, buf, sizeof buf, &m);
        assert_true(rc == 0 || rc == 1);
    }
}

static void test_vocab_oddities(void **st)
{
    (void)st;
    for (size_t i = 0; i < sizeof ocases / sizeof ocases[0]; i++) {
        const ocase *c = &ocases[i];
        gw_model *m = malloc(sizeof *m);
        *m = *base_m[c->base];
        c->mut(m);
        size_t len;
        uint8_t *buf = gw_write(m, NULL, &len);
        free(m);
        tf_model *mo = NULL;
        tf_status rc = open_bytes(buf, len, NULL, &mo);
        free(buf);
        if (rc == TF_OK) {
            exercise_vocab(tf_model_tokenizer(mo));
            printf("  %-26s accepted\n", c->what);
            tf_model_close(mo);
        } else {
            const char *msg = tf_last_error();
            assert_true(msg[0] != 0);
            printf("  %-26s rejected: %s\n", c->what,
                   strncmp(msg, "/tmp/tf_test_gguf_", 18) == 0 ? msg + 26 : msg);
        }
    }
    for (int b = 0; b < B_COUNT; b++) { /* and the valid ones */
        tf_model *mo = NULL;
        assert_int_equal(tf_model_open(tu_shared(base_rel[b]), NULL, &mo), TF_OK);
        exercise_vocab(tf_model_tokenizer(mo));
        tf_model_close(mo);
    }
}

/* Files that are not there, not files, or not given. */
static void test_open_errors(void **st)
{
    (void)st;
    tf_model *m = (tf_model *)&m;
    assert_int_equal(tf_model_open("/nonexistent/x.gguf", NULL, &m), TF_ERR_IO);
    assert_null(m);
    assert_non_null(strstr(tf_last_error(), "/nonexistent/x.gguf"));
    assert_int_equal(tf_model_open("/tmp", NULL, &m), TF_ERR_IO);
    assert_non_null(strstr(tf_last_error(), "not a regular file"));
    assert_int_equal(tf_model_open(NULL, NULL, &m), TF_ERR_INVALID_ARG);
    assert_int_equal(tf_model_open("/tmp", NULL, NULL), TF_ERR_INVALID_ARG);
    tf_gguf *g = (tf_gguf *)&g;
    char err[256] = "";
    assert_int_not_equal(tf_gguf_open_memory(NULL, 0, NULL, &g, err, sizeof err), 0);
    assert_null(g);
    assert_int_not_equal(tf_gguf_open_memory(NULL, 5, "x", &g, err, sizeof err), 0);
    assert_non_null(strstr(err, "NULL"));
    assert_int_not_equal(tf_gguf_open_memory("GGUF", 4, "x", &g, NULL, 0), 0); /* no err buffer */
    /* A full model opened vocab-only has no weights bound. */
    tf_model_params p = tf_model_default_params();
    p.vocab_only = true;
    assert_int_equal(tf_model_open(tu_shared(base_rel[B_LLAMA]), &p, &m), TF_OK);
    tf_model_desc d;
    tf_model_describe(m, &d);
    assert_true(d.vocab_only);
    assert_int_equal(d.n_vocab, 4096);
    tf_model_close(m);
    tf_model_close(NULL);
    tf_gguf_close(NULL);
}

/* ---- truncation at every section ------------------------------------ */

#define MAX_CUTS 2048

static size_t add_cut(size_t *cuts, size_t n, size_t at, size_t len)
{
    if (at < len && n < MAX_CUTS) cuts[n++] = at;
    return n;
}

/* Cut points: each byte of the fixed header, the start, middle and end of
 * every key, value, array and tensor info field, the padding, and the start
 * and middle of every tensor's data. */
static size_t cut_points(const gw_model *m, const gw_layout *L, size_t *cuts)
{
    size_t n = 0, len = L->len;
    for (size_t i = 0; i <= 24; i++) n = add_cut(cuts, n, i, len);
    for (size_t i = 0; i < m->n_kv; i++) {
        size_t end = i + 1 < m->n_kv ? L->kv_at[i + 1] : L->ti_start;
        size_t pts[] = {L->kv_at[i] + 3, L->kv_at[i] + 8, L->kv_at[i] + 9, L->kv_type_at[i] - 1,
                        L->kv_type_at[i], L->kv_type_at[i] + 2, L->kv_val_at[i],
                        L->kv_val_at[i] + 1, L->kv_val_at[i] + 4, L->kv_val_at[i] + 7,
                        L->kv_val_at[i] + 12, L->kv_val_at[i] + 13,
                        (L->kv_val_at[i] + end) / 2, end - 1};
        for (size_t k = 0; k < sizeof pts / sizeof pts[0]; k++)
            if (pts[k] < end) n = add_cut(cuts, n, pts[k], len);
    }
    for (size_t i = 0; i < m->n_t; i++) {
        size_t pts[] = {L->t_at[i], L->t_at[i] + 5, L->t_at[i] + 9, L->t_ndims_at[i],
                        L->t_ndims_at[i] + 2, L->t_ndims_at[i] + 4, L->t_ndims_at[i] + 13,
                        L->t_type_at[i], L->t_type_at[i] + 3, L->t_off_at[i],
                        L->t_off_at[i] + 7, L->t_data_at[i], L->t_data_at[i] + 1,
                        L->t_data_at[i] + m->t[i].size / 2, L->t_data_at[i] + m->t[i].size - 1};
        for (size_t k = 0; k < sizeof pts / sizeof pts[0]; k++) n = add_cut(cuts, n, pts[k], len);
    }
    n = add_cut(cuts, n, L->data_at - 1, len);
    n = add_cut(cuts, n, L->data_at, len);
    return add_cut(cuts, n, len - 1, len);
}

static int cmp_size(const void *a, const void *b)
{
    size_t x = *(const size_t *)a, y = *(const size_t *)b;
    return x < y ? -1 : x > y;
}

static const char *section_of(const gw_layout *L, size_t cut)
{
    return cut < 24 ? "header" : cut < L->ti_start ? "key-values" : cut < L->data_at ? "tensor infos"
                                                                                   : "tensor data";
}

static void test_truncation(void **st)
{
    (void)st;
    gw_layout *L = malloc(sizeof *L);
    size_t *cuts = malloc(MAX_CUTS * sizeof *cuts), len;
    uint8_t *full = gw_write(base_m[B_LLAMA], L, &len);
    size_t n = cut_points(base_m[B_LLAMA], L, cuts);
    uint64_t seed = 0x9e3779b97f4a7c15ull;
    while (n < 260) n = add_cut(cuts, n, tu_rand(&seed) % len, len);
    qsort(cuts, n, sizeof *cuts, cmp_size);
    const char *last_section = "";
    for (size_t i = 0; i < n; i++) {
        size_t cut = cuts[i];
        uint8_t *b = malloc(cut ? cut : 1); /* exact size: ASan sees any overread */
        memcpy(b, full, cut);
        char err[512] = "";
        tf_gguf *g = NULL;
        int rc = tf_gguf_open_memory(b, cut, "cut", &g, err, sizeof err);
        if (rc == 0) fprintf(stderr, "truncation at %zu of %zu accepted\n", cut, len);
        assert_int_not_equal(rc, 0);
        assert_null(g);
        assert_true(strstr(err, "file ends") || strstr(err, "outside the data section") ||
                    strstr(err, "larger than the file") || strstr(err, "before the data section"));
        const char *sec = section_of(L, cut);
        if (strcmp(sec, last_section) != 0 || i % 100 == 50) {
            printf("  cut in %-12s at %7zu: %s\n", sec, cut, err);
            last_section = sec;
        }
        if (i % 16 == 0 || cut < 8) { /* the file path: mmap, short files */
            tf_model *m = NULL;
            assert_int_not_equal(open_bytes(b, cut, NULL, &m), TF_OK);
            assert_null(m);
            assert_true(tf_last_error()[0] != 0);
        }
        free(b);
    }
    printf("  %zu cut points rejected\n", n);
    tf_gguf *g = NULL;
    assert_int_equal(tf_gguf_open_memory(full, len, "whole", &g, NULL, 0), 0);
    tf_gguf_close(g);
    free(full);
    free(cuts);
    free(L);
}

/* ---- random corruption of the header -------------------------------- */

/* A successful parse keeps the contract: everything lies inside buf. */
static void check_contract(const tf_gguf *g, const uint8_t *buf, size_t len)
{
    const char *lo = (const char *)buf, *hi = (const char *)buf + len;
    assert_true(tf_gguf_data_offset(g) <= len);
    for (uint64_t i = 0; i < tf_gguf_n_kv(g); i++) {
        const tf_gguf_kv *kv = tf_gguf_kv_at(g, i);
        assert_true(kv->key.ptr >= lo && kv->key.len <= (uint64_t)(hi - kv->key.ptr));
        if (kv->type == TF_GGUF_STRING)
            assert_true(kv->v.str.ptr >= lo && kv->v.str.len <= (uint64_t)(hi - kv->v.str.ptr));
        if (kv->type == TF_GGUF_ARRAY && kv->v.arr.type == TF_GGUF_STRING)
            for (uint64_t k = 0; k < kv->v.arr.n; k++)
                assert_true(kv->v.arr.strs[k].ptr >= lo &&
                            kv->v.arr.strs[k].len <= (uint64_t)(hi - kv->v.arr.strs[k].ptr));
    }
    for (uint64_t i = 0; i < tf_gguf_n_tensors(g); i++) {
        const tf_gguf_tensor *t = tf_gguf_tensor_at(g, i);
        assert_true(t->data >= buf && t->size <= (uint64_t)(buf + len - t->data));
        char name[TF_GGUF_MAX_NAME + 1];
        snprintf(name, sizeof name, "%.*s", (int)t->name.len, t->name.ptr);
        if (!memchr(t->name.ptr, 0, t->name.len)) assert_ptr_equal(tf_gguf_find_tensor(g, name), t);
    }
}

typedef struct flips {
    size_t at[4];
    uint8_t old[4];
    int n;
} flips;

/* Corrupt 1-4 bytes: the fixed header, the tensor infos, or anywhere in
 * the metadata; values are random or boundary bytes. */
static void flip(uint8_t *buf, size_t hdr, size_t ti, uint64_t *seed, flips *f)
{
    static const uint8_t edge[] = {0x00, 0x01, 0x02, 0x7f, 0x80, 0xfe, 0xff, 0x20};
    f->n = 1 + (int)(tu_rand(seed) % 4);
    for (int k = 0; k < f->n; k++) {
        uint32_t r = tu_rand(seed);
        size_t at = r % 4 == 0 ? tu_rand(seed) % 24
                  : r % 4 == 1 ? ti + tu_rand(seed) % (hdr - ti)
                  : r % 4 == 2 ? tu_rand(seed) % 4096 : tu_rand(seed) % hdr;
        f->at[k] = at;
        f->old[k] = buf[at];
        uint32_t v = tu_rand(seed);
        buf[at] = v % 3 == 0   ? edge[(v >> 8) % sizeof edge]
                  : v % 3 == 1 ? (uint8_t)(buf[at] ^ (1u << ((v >> 8) % 8)))
                               : (uint8_t)(v >> 8);
    }
}

static void unflip(uint8_t *buf, const flips *f)
{
    for (int k = f->n - 1; k >= 0; k--) buf[f->at[k]] = f->old[k];
}

/* File offset of the tensor infos (the first key starts at offset 24). */
static size_t tensor_infos_at(int b)
{
    const char *key0 = tf_gguf_kv_at(base_g[b], 0)->key.ptr;
    return (size_t)(tf_gguf_tensor_at(base_g[b], 0)->name.ptr - 8 - key0) + 32;
}

static void test_fuzz_header(void **st)
{
    (void)st;
    size_t len;
    uint8_t *buf = (uint8_t *)tu_read_file(tu_shared(base_rel[B_LLAMA]), &len);
    size_t hdr = (size_t)tf_gguf_data_offset(base_g[B_LLAMA]);
    size_t ti = tensor_infos_at(B_LLAMA);
    uint64_t seed = 12345;
    int good = 0, bad = 0;
    for (int it = 0; it < 3000; it++) {
        flips f;
        flip(buf, hdr, ti, &seed, &f);
        char err[512] = "";
        tf_gguf *g = NULL;
        int rc = tf_gguf_open_memory(buf, len, "fuzz", &g, err, sizeof err);
        if (rc == 0) {
            assert_non_null(g);
            check_contract(g, buf, len);
            tf_gguf_close(g);
            good++;
        } else {
            assert_null(g);
            assert_true(err[0] != 0);
            if (bad++ % 300 == 0) printf("  fuzz %4d: %s\n", it, err);
        }
        unflip(buf, &f);
    }
    printf("  3000 corrupted headers: %d parsed, %d rejected\n", good, bad);
    free(buf);
}

/* The same through tf_model_open: tokenizer and model checks see
 * corrupted metadata that still parses. */
static void test_fuzz_model(void **st)
{
    (void)st;
    size_t len;
    uint8_t *buf = (uint8_t *)tu_read_file(tu_shared(base_rel[B_LLAMA]), &len);
    size_t hdr = (size_t)tf_gguf_data_offset(base_g[B_LLAMA]);
    size_t ti = tensor_infos_at(B_LLAMA);
    uint64_t seed = 777;
    int good = 0, bad = 0, iters = getenv("TINFER_SLOW") ? 200 : 120;
    for (int it = 0; it < iters; it++) {
        flips f;
        flip(buf, hdr, ti, &seed, &f);
        tf_model *m = NULL;
        tf_status rc = open_bytes(buf, len, NULL, &m);
        if (rc == TF_OK) {
            tf_model_desc d;
            assert_int_equal(tf_model_describe(m, &d), TF_OK);
            int32_t toks[64];
            size_t nt = 0;
            tf_tokenizer_encode(tf_model_tokenizer(m), "Hello world, 123!", 17, true, false, true,
                                toks, 64, &nt);
            tf_model_close(m);
            good++;
        } else {
            assert_null(m);
            assert_true(tf_last_error()[0] != 0);
            bad++;
        }
        unflip(buf, &f);
    }
    printf("  %d corrupted models: %d opened, %d rejected\n", iters, good, bad);
    free(buf);
}

/* tf_gguf_release drops pages of a mapped file; the bytes read afterwards
 * are the same (they come back from the file), and a buffer index or bytes
 * outside the mapping are left alone. */
static void test_release_pages(void **st)
{
    (void)st;
    tf_gguf *g = NULL;
    assert_int_equal(tf_gguf_open_file(tu_shared("models/tiny-llama-q8_0.gguf"), &g, NULL, 0), 0);
    uint64_t nt = tf_gguf_n_tensors(g), total = 0;
    uint8_t *copy[64] = {0};
    assert_true(nt > 2 && nt <= 64);
    for (uint64_t i = 0; i < nt; i++) {
        const tf_gguf_tensor *t = tf_gguf_tensor_at(g, i);
        copy[i] = malloc(t->size ? t->size : 1);
        assert_non_null(copy[i]);
        memcpy(copy[i], t->data, t->size);
        total += t->size;
    }
    for (uint64_t i = 0; i < nt; i++) {
        const tf_gguf_tensor *t = tf_gguf_tensor_at(g, i);
        tf_gguf_release(g, t->data, t->size);
    }
    tf_gguf_release(g, copy[0], 4096);   /* not in the mapping: ignored */
    tf_gguf_release(NULL, copy[0], 4096);
    for (uint64_t i = 0; i < nt; i++) {
        const tf_gguf_tensor *t = tf_gguf_tensor_at(g, i);
        assert_memory_equal(copy[i], t->data, t->size);
        free(copy[i]);
    }
    assert_true(total > 0);
    tf_gguf_close(g);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_shared_files_open),
        cmocka_unit_test(test_cli_info),
        cmocka_unit_test(test_writer_roundtrip),
        cmocka_unit_test(test_every_value_type),
        cmocka_unit_test(test_hostile_corpus),
        cmocka_unit_test(test_release_pages),
        cmocka_unit_test(test_cli_rejects),
        cmocka_unit_test(test_vocab_oddities),
        cmocka_unit_test(test_open_errors),
        cmocka_unit_test(test_truncation),
        cmocka_unit_test(test_fuzz_header),
        cmocka_unit_test(test_fuzz_model),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
