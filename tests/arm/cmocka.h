/* tests/arm/cmocka.h - the few cmocka calls tests/test_kernels_isa.c makes,
 * for `make cross-arm`, which builds that test for aarch64 and runs it under
 * qemu: Debian has no arm64 cmocka without multiarch.  A failed check
 * prints where and exits 1; tests run in order and stop at the first
 * failure.  Only for that cross build; the real suite uses cmocka. */
#ifndef TF_ARM_CMOCKA_H
#define TF_ARM_CMOCKA_H
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stdint.h>
#define fail() do { fprintf(stderr, "FAIL %s:%d\n", __FILE__, __LINE__); exit(1); } while (0)
#define fail_msg(...) do { fprintf(stderr, "ERROR: " __VA_ARGS__); fprintf(stderr, "\n"); fail(); } while (0)
#define assert_true(c) do { if (!(c)) { fprintf(stderr, "assert_true(%s)\n", #c); fail(); } } while (0)
#define assert_false(c) assert_true(!(c))
#define assert_int_equal(a, b) do { long long a_ = (long long)(a), b_ = (long long)(b); if (a_ != b_) { fprintf(stderr, "%lld != %lld\n", a_, b_); fail(); } } while (0)
#define assert_memory_equal(a, b, n) assert_true(memcmp((a), (b), (n)) == 0)
#define assert_non_null(p) assert_true((p) != NULL)
#define assert_null(p) assert_true((p) == NULL)
#define assert_ptr_equal(a, b) assert_true((const void *)(a) == (const void *)(b))
#define assert_string_equal(a, b) assert_true(strcmp((a), (b)) == 0)
struct CMUnitTest { const char *name; void (*f)(void **); };
#define cmocka_unit_test(fn) { #fn, fn }
static inline int cmocka_run_group_tests_(const struct CMUnitTest *t, size_t n) {
    for (size_t i = 0; i < n; i++) { printf("[ RUN ] %s\n", t[i].name); fflush(stdout); t[i].f(NULL); printf("[ OK  ] %s\n", t[i].name); }
    return 0; }
#define cmocka_run_group_tests(t, a, b) cmocka_run_group_tests_(t, sizeof(t) / sizeof(t[0]))

#endif
