/*
 * elfsym against the process itself: a static function of this program
 * (its .symtab), a libc function (libc's own table), libstdc++'s mangled
 * names demangled, an address in no object, build-ids as readelf shows.
 */
#include <dlfcn.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "elfsym.h"

/* noinline and used: it must exist at its own address. */
__attribute__((noinline, used)) static int local_marker(int x)
{
    return x * 3 + 1;
}

/* A return address points after a call: elfsym looks up pc - 1. */
static uintptr_t as_return_address(const void *fn)
{
    return (uintptr_t)fn + 1;
}

static void test_own_static_function(void)
{
    pyab_elfsym *es = pyab_elfsym_create();
    const pyab_elfsym_object *o = pyab_elfsym_object_of(es, (uintptr_t)&local_marker);

    CHECK(o != NULL);
    CHECK(o && strncmp(o->name, "test-elfsym", 11) == 0);
    CHECK(o && strchr(o->path, '/') != NULL);
    CHECK(strcmp(pyab_elfsym_function(es, as_return_address(&local_marker)) ?: "",
                 "local_marker") == 0);
    CHECK(local_marker(1) == 4);
    pyab_elfsym_destroy(es);
}

static void test_libc_function(void)
{
    pyab_elfsym *es = pyab_elfsym_create();
    /* libc's own qsort (by its handle: under ASan the global one is the interceptor's). */
    void *libc = dlopen("libc.so.6", RTLD_LAZY | RTLD_NOLOAD);
    void *fn = libc ? dlsym(libc, "qsort") : NULL;
    const pyab_elfsym_object *o = pyab_elfsym_object_of(es, (uintptr_t)fn);

    CHECK(fn != NULL);
    CHECK(o && strncmp(o->name, "libc.so", 7) == 0);
    CHECK_CONTAINS(pyab_elfsym_function(es, as_return_address(fn)), "qsort");
    /* GNU build-ids are 20 bytes of SHA-1: 40 hex digits. */
    CHECK(o && strlen(o->build_id) == 40 && strspn(o->build_id, "0123456789abcdef") == 40);
    pyab_elfsym_destroy(es);
    if (libc)
        dlclose(libc);
}

static void test_cxx_names_are_demangled(void)
{
    void *cxx = dlopen("libstdc++.so.6", RTLD_NOW | RTLD_LOCAL);
    void *fn = cxx ? dlsym(cxx, "_ZNSt9bad_allocD0Ev") : NULL;
    pyab_elfsym *es = pyab_elfsym_create();

    CHECK(fn != NULL);
    CHECK(strcmp(pyab_elfsym_function(es, as_return_address(fn)) ?: "",
                 "std::bad_alloc::~bad_alloc()") == 0);
    pyab_elfsym_destroy(es);
    if (cxx)
        dlclose(cxx);
}

static void test_address_in_no_object(void)
{
    pyab_elfsym *es = pyab_elfsym_create();
    char *heap = malloc(64);

    CHECK(pyab_elfsym_object_of(es, (uintptr_t)heap) == NULL);
    CHECK(pyab_elfsym_function(es, (uintptr_t)heap) == NULL);
    CHECK(pyab_elfsym_object_of(es, 0) == NULL);
    free(heap);
    pyab_elfsym_destroy(es);
    pyab_elfsym_destroy(NULL);
}

static const struct check_test tests[] = {
    CHECK_TEST(test_own_static_function),
    CHECK_TEST(test_libc_function),
    CHECK_TEST(test_cxx_names_are_demangled),
    CHECK_TEST(test_address_in_no_object),
};

int main(int argc, char **argv)
{
    return check_run("elfsym", tests, CHECK_COUNT(tests), argc, argv);
}
