/*
 * check: the few assertion macros the unit tests share, and the runner
 * that calls their test functions. A failed check prints the file, line
 * and expression and counts as a failure; main returns non-zero when any
 * check failed, so meson reports the test.
 *
 * Each test file lists its test functions in a table and hands the table
 * to check_run from main, in the manner of libuv's TEST_ENTRY list:
 *
 *     static const struct check_test tests[] = {
 *         CHECK_TEST(test_defaults),
 *         CHECK_TEST(test_bad),
 *     };
 *
 *     int main(int argc, char **argv)
 *     {
 *         return check_run("scenario", tests, CHECK_COUNT(tests), argc, argv);
 *     }
 *
 * The table is what keeps a test from passing vacuously. check_run fails
 * when the table is empty and when any one test function ran no check at
 * all, naming it: a loop over fixtures that found none, or a body emptied
 * by mistake, is then a failure instead of a quiet pass. The test functions
 * are static, so one left out of the table is never called and gcc says it
 * is unused (-Wunused-function, part of -Wall); CI builds with
 * -Dwerror=true, where that warning fails the build, so keep the build
 * warning-free and the warning is seen locally too. For the same reason a
 * file that includes this header but never calls check_run does not build
 * under -Werror.
 *
 * `test-scenario test_bad` runs only the test named; it still fails when
 * that test ran no check.
 */
#ifndef PYAB_TEST_CHECK_H
#define PYAB_TEST_CHECK_H

#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

static int check_failures;
static int check_count;

#define CHECK(cond)                                                              \
    do {                                                                         \
        check_count++;                                                           \
        if (!(cond)) {                                                           \
            fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
            check_failures++;                                                    \
        }                                                                        \
    } while (0)

#define CHECK_NEAR(a, b, tol)                                                    \
    do {                                                                         \
        double a_ = (a), b_ = (b);                                               \
        check_count++;                                                           \
        if (!(fabs(a_ - b_) <= (tol))) {                                         \
            fprintf(stderr, "%s:%d: %s = %g, expected %g +- %g\n", __FILE__,     \
                    __LINE__, #a, a_, b_, (double)(tol));                        \
            check_failures++;                                                    \
        }                                                                        \
    } while (0)

#define CHECK_CONTAINS(hay, needle)                                              \
    do {                                                                         \
        const char *h_ = (hay);                                                  \
        check_count++;                                                           \
        if (h_ == NULL || strstr(h_, (needle)) == NULL) {                        \
            fprintf(stderr, "%s:%d: \"%s\" does not contain \"%s\"\n", __FILE__, \
                    __LINE__, h_ ? h_ : "(null)", (needle));                     \
            check_failures++;                                                    \
        }                                                                        \
    } while (0)

/* One entry of a file's test table: the function and the name it is run and reported by. */
struct check_test {
    const char *name;
    void (*fn)(void);
};

#define CHECK_TEST(fn) { #fn, fn }
#define CHECK_COUNT(table) (sizeof(table) / sizeof((table)[0]))

/*
 * Runs one test function and reports its own checks, not the running
 * totals, so a test that ran none cannot hide behind the ones before it.
 * Returns 1 when it failed a check or ran none.
 */
static int check_run_one(const char *suite, const struct check_test *t)
{
    int count = check_count, failures = check_failures;

    t->fn();
    count = check_count - count;
    failures = check_failures - failures;
    printf("%s/%s: %d checks, %d failed\n", suite, t->name, count, failures);
    /* Flushed so the line stays in order with the checks' messages on stderr. */
    fflush(stdout);
    if (count == 0) {
        fprintf(stderr, "%s/%s: FAILED: it ran no checks, so it tested nothing\n", suite,
                t->name);
        return 1;
    }
    if (failures)
        fprintf(stderr, "%s/%s: FAILED: %d of %d checks failed\n", suite, t->name, failures,
                count);
    return failures ? 1 : 0;
}

/* Whether the table has a test of that name; when not, lists the names there are. */
static int check_known(const char *suite, const struct check_test *tests, size_t n,
                       const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(tests[i].name, name) == 0)
            return 1;
    fprintf(stderr, "%s: no test named %s; there are:\n", suite, name);
    for (size_t i = 0; i < n; i++)
        fprintf(stderr, "  %s\n", tests[i].name);
    return 0;
}

/*
 * Runs every test of the table, or only the one named by argv[1], and
 * returns main's exit code: 0 when every test ran at least one check and
 * none failed, 1 when one did not or the table is empty, 2 for a bad
 * command line.
 */
static int check_run(const char *suite, const struct check_test *tests, size_t n, int argc,
                     char **argv)
{
    const char *only = argc > 1 ? argv[1] : NULL;
    int failed = 0, ran = 0;

    if (argc > 2) {
        fprintf(stderr, "usage: %s [TEST]\n", argv[0]);
        return 2;
    }
    if (n == 0) {
        fprintf(stderr, "%s: FAILED: the test table is empty, so nothing was tested\n", suite);
        return 1;
    }
    if (only != NULL && !check_known(suite, tests, n, only))
        return 2;
    for (size_t i = 0; i < n; i++) {
        if (only != NULL && strcmp(tests[i].name, only) != 0)
            continue;
        failed += check_run_one(suite, &tests[i]);
        ran++;
    }
    printf("%s: %d tests, %d checks, %d failed\n", suite, ran, check_count, check_failures);
    if (failed)
        fprintf(stderr, "%s: %d of %d tests FAILED\n", suite, failed, ran);
    return failed ? 1 : 0;
}

#endif
