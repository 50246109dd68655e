#include "elfsym.h"

#include <dlfcn.h>
#include <elf.h>
#include <fcntl.h>
#include <link.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util.h"

typedef struct sym {
    uintptr_t value, size;
    char *name;
    char *demangled;   /* on first use; NULL: not yet or not C++ */
} sym;

typedef struct object {
    pyab_elfsym_object pub;
    char *path, *name, *build_id;
    uintptr_t bias;
    int loaded; /* symbols read */
    sym *syms;
    size_t nsyms;
} object;

typedef struct range {
    uintptr_t lo, hi;
    size_t obj;
} range;

struct pyab_elfsym {
    object *objs;
    size_t nobjs;
    range *ranges;
    size_t nranges;
    void *cxx; /* libstdc++'s handle, when it is loaded */
    char *(*demangle)(const char *, char *, size_t *, int *);
};

static char *hex(const unsigned char *p, size_t n)
{
    char *s = xmalloc(2 * n + 1);

    for (size_t i = 0; i < n; i++)
        snprintf(s + 2 * i, 3, "%02x", p[i]);
    s[2 * n] = '\0';
    return s;
}

/* The GNU build-id note among the object's loaded PT_NOTE segments. */
static char *build_id_of(struct dl_phdr_info *info)
{
    for (int i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        const unsigned char *p, *end;
        if (ph->p_type != PT_NOTE)
            continue;
        p = (const unsigned char *)(info->dlpi_addr + ph->p_vaddr);
        end = p + ph->p_memsz;
        while (p + sizeof(ElfW(Nhdr)) <= end) {
            const ElfW(Nhdr) *nh = (const ElfW(Nhdr) *)p;
            const unsigned char *name = p + sizeof(*nh);
            const unsigned char *desc = name + ((nh->n_namesz + 3) & ~3u);
            if (nh->n_type == NT_GNU_BUILD_ID && nh->n_namesz == 4 &&
                memcmp(name, "GNU", 4) == 0 && desc + nh->n_descsz <= end)
                return hex(desc, nh->n_descsz);
            p = desc + ((nh->n_descsz + 3) & ~3u);
        }
    }
    return xstrdup("");
}

static int add_object(struct dl_phdr_info *info, size_t size, void *data)
{
    pyab_elfsym *es = data;
    object *o;
    char exe[4096];
    const char *path = info->dlpi_name;

    if (path == NULL || path[0] == '\0') {
        /* The program itself (the vDSO has no name either, and no file). */
        ssize_t n = es->nobjs == 0 ? readlink("/proc/self/exe", exe, sizeof(exe) - 1) : -1;
        if (n <= 0)
            return 0;
        exe[n] = '\0';
        path = exe;
    }
    es->objs = xrealloc(es->objs, (es->nobjs + 1) * sizeof(*es->objs));
    o = &es->objs[es->nobjs];
    memset(o, 0, sizeof(*o));
    o->path = xstrdup(path);
    o->name = xstrdup(strrchr(path, '/') ? strrchr(path, '/') + 1 : path);
    o->build_id = build_id_of(info);
    o->bias = info->dlpi_addr;
    o->pub = (pyab_elfsym_object){o->path, o->name, o->build_id};
    for (int i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        if (ph->p_type != PT_LOAD || !(ph->p_flags & PF_X))
            continue;
        es->ranges = xrealloc(es->ranges, (es->nranges + 1) * sizeof(*es->ranges));
        es->ranges[es->nranges++] = (range){info->dlpi_addr + ph->p_vaddr,
                                            info->dlpi_addr + ph->p_vaddr + ph->p_memsz,
                                            es->nobjs};
    }
    es->nobjs++;
    return 0;
}

static int by_lo(const void *a, const void *b)
{
    const range *x = a, *y = b;
    return x->lo < y->lo ? -1 : x->lo > y->lo;
}

pyab_elfsym *pyab_elfsym_create(void)
{
    pyab_elfsym *es = xcalloc(1, sizeof(*es));

    dl_iterate_phdr(add_object, es);
    qsort(es->ranges, es->nranges, sizeof(*es->ranges), by_lo);
    /* libstdc++ is usually loaded by an extension (RTLD_LOCAL), out of
     * the global scope: ask for it by name, without loading it. */
    es->cxx = dlopen("libstdc++.so.6", RTLD_LAZY | RTLD_NOLOAD);
    if (es->cxx)
        es->demangle = (char *(*)(const char *, char *, size_t *, int *))dlsym(es->cxx,
                                                                              "__cxa_demangle");
    return es;
}

void pyab_elfsym_destroy(pyab_elfsym *es)
{
    if (es == NULL)
        return;
    for (size_t i = 0; i < es->nobjs; i++) {
        object *o = &es->objs[i];
        for (size_t k = 0; k < o->nsyms; k++) {
            free(o->syms[k].name);
            free(o->syms[k].demangled);
        }
        free(o->syms);
        free(o->path);
        free(o->name);
        free(o->build_id);
    }
    if (es->cxx)
        dlclose(es->cxx);
    free(es->objs);
    free(es->ranges);
    free(es);
}

static object *find(const pyab_elfsym *es, uintptr_t pc)
{
    size_t lo = 0, hi = es->nranges;

    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (es->ranges[mid].lo <= pc)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo == 0 || pc >= es->ranges[lo - 1].hi)
        return NULL;
    return &es->objs[es->ranges[lo - 1].obj];
}

const pyab_elfsym_object *pyab_elfsym_object_of(const pyab_elfsym *es, uintptr_t pc)
{
    object *o = find(es, pc);
    return o ? &o->pub : NULL;
}

static int by_value(const void *a, const void *b)
{
    const sym *x = a, *y = b;
    return x->value < y->value ? -1 : x->value > y->value;
}

/* Appends the functions of the symbol table `sh` (of the mapped file at `base`). */
static void read_table(object *o, const unsigned char *base, size_t len, const ElfW(Shdr) *sh,
                       const ElfW(Shdr) *strsh)
{
    size_t n = sh->sh_size / sizeof(ElfW(Sym)), keep = 0, had = o->nsyms;
    const ElfW(Sym) *s = (const ElfW(Sym) *)(base + sh->sh_offset);

    if (sh->sh_offset + sh->sh_size > len || strsh->sh_offset + strsh->sh_size > len ||
        sh->sh_entsize != sizeof(ElfW(Sym)))
        return;
    for (size_t i = 0; i < n; i++)
        keep += (ELF64_ST_TYPE(s[i].st_info) == STT_FUNC ||
                 ELF64_ST_TYPE(s[i].st_info) == STT_GNU_IFUNC) && s[i].st_value != 0;
    if (keep == 0)
        return;
    o->syms = xrealloc(o->syms, (had + keep) * sizeof(*o->syms));
    for (size_t i = 0; i < n; i++) {
        int t = ELF64_ST_TYPE(s[i].st_info);
        if ((t != STT_FUNC && t != STT_GNU_IFUNC) || s[i].st_value == 0 ||
            s[i].st_name >= strsh->sh_size)
            continue;
        o->syms[o->nsyms++] = (sym){s[i].st_value, s[i].st_size,
                                    xstrdup((const char *)base + strsh->sh_offset + s[i].st_name),
                                    NULL};
    }
}

/* Reads the function symbols of `path`; 0 when it had a .symtab. */
static int read_file(object *o, const char *path, int want_symtab_only)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC), found = 0;
    struct stat st;
    unsigned char *base;
    const ElfW(Ehdr) *eh;
    const ElfW(Shdr) *sh;

    if (fd < 0)
        return -1;
    if (fstat(fd, &st) != 0 || (size_t)st.st_size < sizeof(ElfW(Ehdr))) {
        close(fd);
        return -1;
    }
    base = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
    close(fd);
    if (base == MAP_FAILED)
        return -1;
    eh = (const ElfW(Ehdr) *)base;
    if (memcmp(eh->e_ident, ELFMAG, SELFMAG) != 0 || eh->e_ident[EI_CLASS] != ELFCLASS64 ||
        eh->e_shoff + (size_t)eh->e_shnum * sizeof(ElfW(Shdr)) > (size_t)st.st_size)
        goto out;
    sh = (const ElfW(Shdr) *)(base + eh->e_shoff);
    for (int pass = 0; pass < 2 && !found; pass++) {
        uint32_t want = pass == 0 ? SHT_SYMTAB : SHT_DYNSYM;
        if (pass == 1 && want_symtab_only)
            break;
        for (int i = 0; i < eh->e_shnum; i++)
            if (sh[i].sh_type == want && sh[i].sh_link < eh->e_shnum) {
                read_table(o, base, (size_t)st.st_size, &sh[i], &sh[sh[i].sh_link]);
                found = pass == 0 ? 1 : 2;
            }
    }
out:
    munmap(base, (size_t)st.st_size);
    return found == 1 ? 0 : -1;
}

static void load_symbols(object *o)
{
    o->loaded = 1;
    if (read_file(o, o->path, 0) != 0 && strlen(o->build_id) > 2) {
        /* A stripped library: Debian's -dbgsym package, when installed,
         * keeps the full table under the build-id. */
        char *dbg = xasprintf("/usr/lib/debug/.build-id/%.2s/%s.debug", o->build_id,
                              o->build_id + 2);
        read_file(o, dbg, 1);
        free(dbg);
    }
    qsort(o->syms, o->nsyms, sizeof(*o->syms), by_value);
}

const char *pyab_elfsym_function(pyab_elfsym *es, uintptr_t pc)
{
    object *o = find(es, pc - 1);
    uintptr_t at;
    size_t lo = 0, hi;
    sym *s;

    if (o == NULL)
        return NULL;
    if (!o->loaded)
        load_symbols(o);
    at = pc - 1 - o->bias;
    hi = o->nsyms;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (o->syms[mid].value <= at)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo == 0)
        return NULL;
    s = &o->syms[lo - 1];
    /* A size-0 symbol (hand-written assembly) covers nothing beyond its start. */
    if (at >= s->value + (s->size ? s->size : 1))
        return NULL;
    if (s->demangled == NULL && es->demangle && strncmp(s->name, "_Z", 2) == 0) {
        int status = -1;
        char *d = es->demangle(s->name, NULL, NULL, &status);
        s->demangled = status == 0 && d ? xstrdup(d) : NULL;
        free(d);
    }
    return s->demangled ? s->demangled : s->name;
}
