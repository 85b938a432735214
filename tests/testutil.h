/* testutil.h - shared helpers for the cmocka tests.
 * Reference data comes from $TINFER_SHARED (make check sets it to
 * ../shared); a missing folder fails the test loudly, never skips it. */
#ifndef TF_TESTUTIL_H
#define TF_TESTUTIL_H

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <cmocka.h>

/* Path of a file under the shared reference data (static buffer). */
static inline const char *tu_shared(const char *rel)
{
    static char buf[4][1024];
    static int k;
    const char *root = getenv("TINFER_SHARED");
    if (!root) root = "../shared";
    struct stat st;
    if (stat(root, &st) != 0) {
        fprintf(stderr, "FATAL: reference data folder '%s' is missing "
                        "(set TINFER_SHARED or place ../shared)\n", root);
        fail();
    }
    k = (k + 1) & 3;
    snprintf(buf[k], sizeof buf[k], "%s/%s", root, rel);
    return buf[k];
}

/* Whole file into memory (NUL-terminated); fails the test if unreadable. */
static inline char *tu_read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f) { fprintf(stderr, "cannot open %s\n", path); fail(); }
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *b = malloc((size_t)n + 1);
    assert_non_null(b);
    assert_int_equal(fread(b, 1, (size_t)n, f), (size_t)n);
    b[n] = 0;
    fclose(f);
    if (len) *len = (size_t)n;
    return b;
}

/* Path of the CLI binary ($TINFER_BIN, set by make check). */
static inline const char *tu_bin(void)
{
    const char *b = getenv("TINFER_BIN");
    return b ? b : "build/tinfer";
}

/* Deterministic xorshift for random test data. */
static inline uint32_t tu_rand(uint64_t *s)
{
    *s ^= *s << 13; *s ^= *s >> 7; *s ^= *s << 17;
    return (uint32_t)(*s >> 11);
}
static inline float tu_randf(uint64_t *s) /* uniform in [-1, 1) */
{
    return (float)((tu_rand(s) & 0xffffff) / 8388608.0 - 1.0);
}

#endif
