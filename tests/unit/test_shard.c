/*
 * Unit tests of shard.h's arithmetic: --shard I/N parses only 1 <= I <= N,
 * and the N pieces of a run order are contiguous, disjoint, cover it and
 * differ in size by at most one pair, whatever n and N.
 */
#include <stdlib.h>

#include "check.h"
#include "shard.h"

static void test_parse(void)
{
    static const char *const bad[] = {"0/3", "4/3", "3", "/3", "1/", "a/b", "1/0", "-1/3",
                                      "1/3x", ""};
    long i = 0, n = 0;

    CHECK(pyab_shard_parse("2/3", &i, &n) == 0 && i == 2 && n == 3);
    CHECK(pyab_shard_parse("1/1", &i, &n) == 0 && i == 1 && n == 1);
    for (size_t k = 0; k < sizeof(bad) / sizeof(bad[0]); k++)
        CHECK(pyab_shard_parse(bad[k], &i, &n) < 0);
}

static void test_pieces_cover_the_order(void)
{
    int ok = 1;

    for (size_t n = 0; n <= 60; n++)
        for (long count = 1; count <= 13; count++) {
            size_t next = 0, lo = (size_t)-1, hi = 0;
            for (long index = 1; index <= count; index++) {
                size_t from, to;
                pyab_shard_range(n, index, count, &from, &to);
                ok &= from == next && to >= from;
                lo = to - from < lo ? to - from : lo;
                hi = to - from > hi ? to - from : hi;
                next = to;
            }
            ok &= next == n && hi - lo <= 1;
        }
    CHECK(ok);
    /* 2 arms x 3 reps interleaved in 3 shards: each shard one whole round (A_k B_k). */
    size_t from, to;
    pyab_shard_range(6, 2, 3, &from, &to);
    CHECK(from == 2 && to == 4);
}

static const struct check_test tests[] = {
    CHECK_TEST(test_parse),
    CHECK_TEST(test_pieces_cover_the_order),
};

int main(int argc, char **argv)
{
    return check_run("shard", tests, CHECK_COUNT(tests), argc, argv);
}
