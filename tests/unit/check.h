/*
 * check: the few assertion macros the unit tests share. A failed check
 * prints the file, line and expression and counts as a failure; main
 * returns non-zero when any check failed, so meson reports the test.
 */
#ifndef PYAB_TEST_CHECK_H
#define PYAB_TEST_CHECK_H

#include <math.h>
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

static inline int check_report(const char *name)
{
    printf("%s: %d checks, %d failed\n", name, check_count, check_failures);
    return check_failures ? 1 : 0;
}

#endif
