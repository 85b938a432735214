/* test_cli.c - the tinfer command and the installed library, end to end:
 * usage errors, `make install` + pkg-config building the README example,
 * the example agreeing with `tinfer run`, no network system calls, no
 * leaks under valgrind, and the real default model answering "Paris". */
#include <math.h>
#include <stdbool.h>
#include <sys/wait.h>
#include <unistd.h>

#include "testutil.h"

/* Run a shell command, capture stdout (up to cap bytes), return exit code. */
static int run_cmd(const char *cmd, char *out, size_t cap)
{
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    size_t n = 0, got;
    char sink[4096];
    while ((got = fread(out && n + 1 < cap ? out + n : sink, 1,
                        out && n + 1 < cap ? cap - n - 1 : sizeof sink, p)) > 0)
        if (out && n + 1 < cap) n += got;
    if (out) out[n] = 0;
    int st = pclose(p);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static const char *tiny(void) { return tu_shared("models/tiny-llama-q8_0.gguf"); }

static void test_usage(void **state)
{
    (void)state;
    char cmd[2048], out[8192];
    snprintf(cmd, sizeof cmd, "%s --help", tu_bin());
    assert_int_equal(run_cmd(cmd, out, sizeof out), 0);
    assert_non_null(strstr(out, "run"));
    assert_non_null(strstr(out, "info"));
    for (const char *const *v = (const char *const[]){"TINFER_KERNELS", "TINFER_PACK", "TINFER_BLAS", NULL};
         *v; v++)
        assert_non_null(strstr(out, *v)); /* the knobs the library reads are documented */
    snprintf(cmd, sizeof cmd, "%s run 2>/dev/null", tu_bin());
    assert_int_equal(run_cmd(cmd, NULL, 0), 2);
    snprintf(cmd, sizeof cmd, "%s frobnicate 2>/dev/null", tu_bin());
    assert_int_equal(run_cmd(cmd, NULL, 0), 2);
    snprintf(cmd, sizeof cmd, "%s info /nonexistent.gguf 2>&1", tu_bin());
    assert_int_equal(run_cmd(cmd, out, sizeof out), 1);
    assert_non_null(strstr(out, "/nonexistent.gguf"));
    snprintf(cmd, sizeof cmd, "%s run -m %s -p hi --temp abc 2>/dev/null", tu_bin(), tiny());
    assert_int_equal(run_cmd(cmd, NULL, 0), 2);
}

/* A value after "key": in the JSON text (first occurrence from p). */
static double json_num(const char *p, const char *key)
{
    char k[64];
    snprintf(k, sizeof k, "\"%s\": ", key);
    const char *at = strstr(p, k);
    assert_non_null(at);
    return strtod(at + strlen(k), NULL);
}

/* `tinfer bench --json` on the tiny model: both tests, positive speeds,
 * the bandwidths (the whole-run one and the one around the decode test)
 * and decode's fractions of them consistent with the tokens/s. */
static void test_bench_json(void **state)
{
    (void)state;
    char cmd[2048], out[8192];
    snprintf(cmd, sizeof cmd, "%s bench -m %s -p 8 -n 4 -r 1 -t 2 --bw-mib 16 --json", tu_bin(), tiny());
    assert_int_equal(run_cmd(cmd, out, sizeof out), 0);
    const char *pp = strstr(out, "\"pp8\""), *tg = strstr(out, "\"tg4\"");
    assert_non_null(pp);
    assert_non_null(tg);
    assert_true(json_num(pp, "tps_median") > 0);
    double tps = json_num(tg, "tps_median"), bw = json_num(tg, "bandwidth_bytes_per_s"),
           near = json_num(tg, "bandwidth_near_bytes_per_s"), per_tok = json_num(out, "weight_bytes_per_token");
    assert_true(tps > 0 && bw > 1e8 && near > 1e8 && per_tok > 0);
    double frac = json_num(tg, "bandwidth_fraction"), frac_near = json_num(tg, "bandwidth_near_fraction");
    assert_true(fabs(frac - per_tok * tps / bw) <= 1e-3 * frac + 1e-4);
    assert_true(fabs(frac_near - per_tok * tps / near) <= 1e-3 * frac_near + 1e-4);
    /* the lower of the two around it, and whether they differ by > 25% or
     * the test read faster than both */
    double low = json_num(tg, "bandwidth_near_low_bytes_per_s");
    assert_true(low > 1e8 && low <= near);
    const char *changed = strstr(tg, "\"bandwidth_near_changed\": ");
    assert_non_null(changed);
    changed += strlen("\"bandwidth_near_changed\": ");
    bool varied = near > 1.25 * low || frac_near > 1.0;
    assert_true(strncmp(changed, varied ? "true" : "false", varied ? 4 : 5) == 0);
}

/* --bf16 from the command line: bench names the type it computes, run
 * with Vulkan refuses it with a message (a CPU option), and run on the CPU
 * generates. */
static void test_bf16_option(void **state)
{
    (void)state;
    char cmd[2048], out[8192];
    const char *f16 = tu_shared("models/tiny-llama-f16.gguf");
    snprintf(cmd, sizeof cmd, "%s bench -m %s -p 8 -n 2 -r 1 -t 2 --bw-mib 0 --csv --bf16", tu_bin(), f16);
    assert_int_equal(run_cmd(cmd, out, sizeof out), 0);
    assert_non_null(strstr(out, "F16 as BF16"));
    snprintf(cmd, sizeof cmd, "%s run -m %s -p hello -n 4 --temp 0 --bf16 --backend vulkan 2>&1", tu_bin(), f16);
    assert_true(run_cmd(cmd, out, sizeof out) != 0);
    assert_non_null(strstr(out, "f16_as_bf16 is a CPU backend option"));
    snprintf(cmd, sizeof cmd, "%s run -m %s -p hello -n 4 --temp 0 --bf16 -t 2 2>&1", tu_bin(), f16);
    assert_int_equal(run_cmd(cmd, out, sizeof out), 0);
    assert_non_null(strstr(out, "generated 4 tokens"));
}

/* make install into a temp prefix, build the README example with
 * pkg-config, and check it generates what `tinfer run --temp 0` does. */
static void test_install_and_example(void **state)
{
    (void)state;
    char prefix[] = "/tmp/tinfer-inst-XXXXXX", cmd[4096], a[4096], b[4096];
    assert_non_null(mkdtemp(prefix));
    /* A plain build: the sanitized test run must not leak its flags in. */
    snprintf(cmd, sizeof cmd, "env -u MAKEFLAGS -u MFLAGS make -s install SAN= OPT=-O2 BUILD=build PREFIX=%s >/dev/null 2>&1", prefix);
    assert_int_equal(run_cmd(cmd, NULL, 0), 0);
    snprintf(cmd, sizeof cmd, "test -f %s/include/tinfer.h -a -f %s/lib/libtinfer.a -a -f %s/lib/libtinfer.so.0",
             prefix, prefix, prefix);
    assert_int_equal(run_cmd(cmd, NULL, 0), 0);
    snprintf(cmd, sizeof cmd,
             "cc -std=c99 -o %s/generate tests/examples/generate.c "
             "$(PKG_CONFIG_PATH=%s/lib/pkgconfig pkg-config --cflags --libs --static tinfer) 2>&1",
             prefix, prefix);
    assert_int_equal(run_cmd(cmd, a, sizeof a), 0);
    /* The header also compiles as C++ (tools/deps.sh test installs g++). */
    snprintf(cmd, sizeof cmd,
             "printf '#include <tinfer.h>\\nint main(){return tf_version()[0]==0;}\\n' "
             "| c++ -x c++ -Wall -Wextra -I%s/include -fsyntax-only -", prefix);
    assert_int_equal(run_cmd(cmd, NULL, 0), 0);
    /* Installed outside the loader's path: the shared library needs its dir. */
    snprintf(cmd, sizeof cmd, "LD_LIBRARY_PATH=%s/lib %s/generate %s 'Once upon a time' 12", prefix, prefix,
             tiny());
    assert_int_equal(run_cmd(cmd, a, sizeof a), 0);
    snprintf(cmd, sizeof cmd, "%s run -m %s -p 'Once upon a time' --temp 0 -n 12 2>/dev/null", tu_bin(), tiny());
    assert_int_equal(run_cmd(cmd, b, sizeof b), 0);
    printf("example: [%s]\nrun:     [%s]\n", a, b);
    assert_true(strlen(a) > 1);
    assert_string_equal(a, b);
    snprintf(cmd, sizeof cmd, "rm -rf %s", prefix);
    run_cmd(cmd, NULL, 0);
}

static void test_no_network(void **state)
{
    (void)state;
    if (run_cmd("command -v strace >/dev/null", NULL, 0) != 0) {
        printf("strace not installed: skipping the system-call check\n");
        skip();
    }
    char cmd[4096], out[65536];
    /* A whole generation under strace; count network system calls. */
    snprintf(cmd, sizeof cmd,
             "ASAN_OPTIONS=detect_leaks=0 " /* LeakSanitizer cannot run under ptrace */
             "strace -f -qq -e trace=socket,connect,socketpair,bind,sendto -o /tmp/tinfer-strace.log "
             "%s run -m %s -p 'Hello' -n 8 >/dev/null 2>&1 || echo RUNFAIL; "
             "grep -c -E '(socket|connect|socketpair|bind|sendto)\\(' /tmp/tinfer-strace.log; "
             "rm -f /tmp/tinfer-strace.log",
             tu_bin(), tiny());
    run_cmd(cmd, out, sizeof out);
    printf("network system calls seen: %s", out);
    assert_null(strstr(out, "RUNFAIL"));
    assert_true(out[0] >= '0' && out[0] <= '9');
    assert_int_equal(atoi(out), 0);
}

static void test_valgrind(void **state)
{
    (void)state;
    if (run_cmd("command -v valgrind >/dev/null", NULL, 0) != 0) {
        printf("valgrind not installed: skipping the memcheck run\n");
        skip();
    }
    if (getenv("TINFER_SLOW")) { /* under ASan valgrind can't run the binary */
        printf("sanitizer build: valgrind runs in the plain build only\n");
        skip();
    }
    char cmd[4096], out[16384];
    snprintf(cmd, sizeof cmd,
             "valgrind -q --leak-check=full --show-leak-kinds=definite,indirect,possible "
             "--errors-for-leak-kinds=definite,indirect,possible --error-exitcode=9 "
             "%s run -m %s -p 'Once upon a time' -n 6 -t 2 >/dev/null 2>/tmp/tinfer-vg.log; "
             "rc=$?; grep -E '==[0-9]+==' /tmp/tinfer-vg.log; rm -f /tmp/tinfer-vg.log; exit $rc",
             tu_bin(), tiny());
    int rc = run_cmd(cmd, out, sizeof out);
    printf("valgrind: exit %d %s\n", rc, out);
    assert_int_equal(rc, 0);
}

static void test_real_model_paris(void **state)
{
    (void)state;
    const char *model = getenv("TINFER_MODEL");
    if (!model) {
        printf("TINFER_MODEL is not set (tools/test.sh fetches it): skipping the real-model test\n");
        skip();
    }
    assert_int_equal(access(model, R_OK), 0);
    char cmd[4096], out[8192];
    snprintf(cmd, sizeof cmd, "%s run -m %s --chat --temp 0 -n 48 -p 'What is the capital of France?' 2>/dev/null",
             tu_bin(), model);
    assert_int_equal(run_cmd(cmd, out, sizeof out), 0);
    printf("answer: %s\n", out);
    assert_non_null(strstr(out, "Paris"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_usage),
        cmocka_unit_test(test_bench_json),
        cmocka_unit_test(test_bf16_option),
        cmocka_unit_test(test_install_and_example),
        cmocka_unit_test(test_no_network),
        cmocka_unit_test(test_valgrind),
        cmocka_unit_test(test_real_model_paris),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
