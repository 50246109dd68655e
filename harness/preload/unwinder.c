/*
 * A DWARF-CFI stack walker for x86-64 Linux with a cache of rules by
 * return address (unwinder.h). The rule of a frame is all a walk needs on
 * x86-64: where the CFA is (rsp or rbp plus an offset), where the return
 * address is (CFA - 8 in compiled code) and where the caller's rbp was
 * saved (an offset from the CFA, or still in rbp). Other callee-saved
 * registers are not tracked: a CFA is never computed from them in code
 * that gcc or clang emit, except in the few functions that realign their
 * stack, whose CFA is an expression and ends the walk anyway.
 *
 * References: the System V x86-64 psABI (DWARF register numbers), DWARF 5
 * section 6.4 (the CFA program), the LSB's .eh_frame and .eh_frame_hdr
 * formats.
 */
#include "unwinder.h"

#include <dlfcn.h>
#include <errno.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <string.h>
#include <sys/mman.h>

/* _dl_find_object arrived in glibc 2.35 with this macro beside it. */
#if defined(__x86_64__) && defined(__linux__) && defined(DLFO_EH_SEGMENT_TYPE)
#define HAVE_UNWINDER 1
#else
#define HAVE_UNWINDER 0
#endif

#if HAVE_UNWINDER

/* DWARF register numbers on x86-64 (psABI figure 3.36). */
enum { REG_RBP = 6, REG_RSP = 7, REG_RA = 16 };

/* Pointer encodings of .eh_frame (DW_EH_PE_*). */
enum {
    PE_ABSPTR = 0x00, PE_ULEB128 = 0x01, PE_UDATA2 = 0x02, PE_UDATA4 = 0x03, PE_UDATA8 = 0x04,
    PE_SLEB128 = 0x09, PE_SDATA2 = 0x0a, PE_SDATA4 = 0x0b, PE_SDATA8 = 0x0c,
    PE_PCREL = 0x10, PE_DATAREL = 0x30, PE_INDIRECT = 0x80,
};

/* CFA instructions without an operand in their low six bits (DW_CFA_*). */
enum {
    CFA_NOP = 0x00, CFA_SET_LOC = 0x01, CFA_ADVANCE_LOC1 = 0x02, CFA_ADVANCE_LOC2 = 0x03,
    CFA_ADVANCE_LOC4 = 0x04, CFA_OFFSET_EXTENDED = 0x05, CFA_RESTORE_EXTENDED = 0x06,
    CFA_UNDEFINED = 0x07, CFA_SAME_VALUE = 0x08, CFA_REGISTER = 0x09,
    CFA_REMEMBER_STATE = 0x0a, CFA_RESTORE_STATE = 0x0b, CFA_DEF_CFA = 0x0c,
    CFA_DEF_CFA_REGISTER = 0x0d, CFA_DEF_CFA_OFFSET = 0x0e, CFA_DEF_CFA_EXPRESSION = 0x0f,
    CFA_EXPRESSION = 0x10, CFA_OFFSET_EXTENDED_SF = 0x11, CFA_DEF_CFA_SF = 0x12,
    CFA_DEF_CFA_OFFSET_SF = 0x13, CFA_VAL_OFFSET = 0x14, CFA_VAL_OFFSET_SF = 0x15,
    CFA_VAL_EXPRESSION = 0x16, CFA_GNU_ARGS_SIZE = 0x2e,
    CFA_GNU_NEGATIVE_OFFSET_EXTENDED = 0x2f,
};

/*
 * The cache: direct-mapped, one 64-bit word an entry, so that a thread
 * reads or writes an entry whole with one relaxed atomic access and no
 * lock (an entry is a pure function of its address: two threads that
 * learn the same one write the same word). An entry holds the lookup
 * address's bits above the slot index (the key) and the rule:
 *
 *   bits  0..35  key: address >> CACHE_BITS
 *   bit  36      the CFA is rbp + offset (else rsp + offset)
 *   bit  37      the outermost frame (return address undefined)
 *   bit  38      a frame the walk cannot unwind
 *   bits 39..54  CFA offset / 8
 *   bits 55..62  the caller's rbp is at CFA - 8 * this (0: still in rbp)
 *
 * The slot mixes the key into the low bits, so that return addresses at
 * the same page offset in different libraries spread out, yet a slot and
 * a key still name one address. A rule that does not fit (return address
 * not at CFA - 8, an odd or huge offset, an address above 2^48) is
 * computed every time instead. 4096 entries are 32 KiB, touched as used.
 */
#define CACHE_BITS 12
#define CACHE_SIZE (1u << CACHE_BITS)
#define KEY_BITS 36
#define KEY_MASK ((UINT64_C(1) << KEY_BITS) - 1)
#define E_CFA_RBP (UINT64_C(1) << 36)
#define E_END (UINT64_C(1) << 37)
#define E_STOP (UINT64_C(1) << 38)
#define E_CFA_SHIFT 39
#define E_RBP_SHIFT 55

/* How far above the walk's first rsp a CFA may lie: a thread's default stack. */
#define STACK_SPAN ((uintptr_t)8 << 20)
/* remember_state nesting the CFA program may use. */
#define STATE_DEPTH 8

static _Atomic uint64_t cache[CACHE_SIZE];
static _Atomic int ready;

enum { RULE_FRAME, RULE_END, RULE_STOP };

typedef struct rule {
    int kind;
    int cfa_reg;     /* REG_RSP or REG_RBP */
    int64_t cfa_off;
    int64_t rbp_off; /* where the caller's rbp is, from the CFA; 0: still in rbp */
    int64_t ra_off;  /* where the return address is, from the CFA */
} rule;

static inline uint32_t slot_of(uintptr_t a)
{
    uint64_t key = a >> CACHE_BITS;

    return (uint32_t)(a ^ ((key * 0x9E3779B97F4A7C15ull) >> (64 - CACHE_BITS))) &
           (CACHE_SIZE - 1);
}

static void cache_put(uintptr_t a, const rule *r)
{
    uint64_t key = a >> CACHE_BITS, e = key;

    if (key > KEY_MASK)
        return;
    if (r->kind == RULE_FRAME) {
        if (r->ra_off != -8 || r->cfa_off < 0 || r->cfa_off % 8 || r->cfa_off / 8 > 0xffff ||
            r->rbp_off > 0 || r->rbp_off % 8 || -r->rbp_off / 8 > 0xff)
            return;
        e |= (r->cfa_reg == REG_RBP ? E_CFA_RBP : 0) | (uint64_t)(r->cfa_off / 8) << E_CFA_SHIFT |
             (uint64_t)(-r->rbp_off / 8) << E_RBP_SHIFT;
    } else {
        e |= r->kind == RULE_END ? E_END : E_STOP;
    }
    atomic_store_explicit(&cache[slot_of(a)], e, memory_order_relaxed);
}

/*
 * Reading the tables. A cursor stops at its end: a read past it sets bad
 * and yields 0, so that a malformed table ends in "cannot unwind" rather
 * than in a read of whatever follows it.
 */
typedef struct cursor {
    const uint8_t *p, *end;
    bool bad;
} cursor;

static uint64_t get_fixed(cursor *c, size_t n)
{
    uint64_t v = 0;

    if ((size_t)(c->end - c->p) < n) {
        c->bad = true;
        return 0;
    }
    memcpy(&v, c->p, n); /* little-endian: the low n bytes */
    c->p += n;
    return v;
}

static uint64_t get_uleb(cursor *c)
{
    uint64_t v = 0;

    for (unsigned shift = 0; c->p < c->end; shift += 7) {
        uint8_t b = *c->p++;
        if (shift < 64)
            v |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80))
            return v;
    }
    c->bad = true;
    return 0;
}

static int64_t get_sleb(cursor *c)
{
    uint64_t v = 0;
    unsigned shift = 0;

    while (c->p < c->end) {
        uint8_t b = *c->p++;
        if (shift < 64)
            v |= (uint64_t)(b & 0x7f) << shift;
        shift += 7;
        if (!(b & 0x80)) {
            if (shift < 64 && (b & 0x40))
                v |= ~UINT64_C(0) << shift;
            return (int64_t)v;
        }
    }
    c->bad = true;
    return 0;
}

/* A pointer in encoding enc; pc-relative is the only base that .eh_frame's FDEs use. */
static uintptr_t get_encoded(cursor *c, uint8_t enc)
{
    uintptr_t at = (uintptr_t)c->p;
    uint64_t v;

    switch (enc & 0x0f) {
    case PE_ABSPTR: case PE_UDATA8: case PE_SDATA8: v = get_fixed(c, 8); break;
    case PE_UDATA4: v = (uint32_t)get_fixed(c, 4); break;
    case PE_SDATA4: v = (uint64_t)(int64_t)(int32_t)get_fixed(c, 4); break;
    case PE_UDATA2: v = (uint16_t)get_fixed(c, 2); break;
    case PE_SDATA2: v = (uint64_t)(int64_t)(int16_t)get_fixed(c, 2); break;
    case PE_ULEB128: v = get_uleb(c); break;
    case PE_SLEB128: v = (uint64_t)get_sleb(c); break;
    default: c->bad = true; return 0;
    }
    if ((enc & 0x70) == PE_PCREL)
        v += at;
    else if ((enc & 0x70) != 0 || (enc & PE_INDIRECT))
        c->bad = true;
    return (uintptr_t)v;
}

static void skip_block(cursor *c)
{
    uint64_t n = get_uleb(c);

    if (n > (uint64_t)(c->end - c->p))
        c->bad = true;
    else
        c->p += n;
}

/*
 * The FDE whose table entry covers a, from .eh_frame_hdr's sorted table
 * of (initial location, FDE) pairs. Only the table encoding every
 * toolchain writes (4-byte offsets from the header) is understood.
 */
static const uint8_t *find_fde(const uint8_t *hdr, uintptr_t a)
{
    cursor c = {hdr + 4, hdr + 32, false};
    const uint8_t *table;
    size_t lo = 0, hi;
    int32_t e[2];

    if (hdr[0] != 1 || hdr[3] != (PE_DATAREL | PE_SDATA4))
        return NULL;
    get_encoded(&c, hdr[1] & 0x0f); /* eh_frame_ptr: the table has what is needed */
    hi = get_encoded(&c, hdr[2] & 0x0f);
    if (c.bad || hi == 0)
        return NULL;
    table = c.p;
    while (hi - lo > 1) {
        size_t mid = lo + (hi - lo) / 2;
        memcpy(e, table + mid * 8, 4);
        if ((uintptr_t)hdr + (intptr_t)e[0] <= a)
            lo = mid;
        else
            hi = mid;
    }
    memcpy(e, table + lo * 8, 8);
    return (uintptr_t)hdr + (intptr_t)e[0] <= a ? hdr + e[1] : NULL;
}

/*
 * A miss reads the object's unwind tables, and those reads map file pages
 * into the process: the kernel maps up to 64 KiB around each page a read
 * faults in, so a binary search of a large library's table holds far more
 * than it reads. On the default scenario, which hashes in every request,
 * 320 KiB of libcrypto's tables stayed resident with native sampling on
 * (MADV_RANDOM does not stop that fault-around). The tables are read only
 * on a miss, so after one the walk drops its mappings of them again
 * (MADV_DONTNEED): the pages stay in the page cache, the next miss maps
 * them anew, and the child's RSS does not carry them. The range is the
 * object's .eh_frame_hdr, its table, and .eh_frame up to the end of the
 * FDE of the table's last entry (linkers lay FDEs out in address order,
 * so that is about the section's end). Those sections sit in a read-only
 * segment the loader never writes, so the mapping has no private pages
 * to lose; a read of them by the service itself (a C++ throw) faults
 * them in again.
 */
#define TABLES_MAX 128
#define PAGE ((uintptr_t)4096) /* x86-64's, the only architecture the unwinder exists on */

static struct tables {
    _Atomic(const uint8_t *) hdr;
    _Atomic uintptr_t lo, len; /* the pages to drop; len 0 until known */
} tables[TABLES_MAX];

/* The page range an object's tables span; 0 when the header is not understood. */
static uintptr_t table_range(const uint8_t *hdr, uintptr_t *lo)
{
    cursor c = {hdr + 4, hdr + 32, false};
    uintptr_t eh, n, hi;
    const uint8_t *table, *last;
    int32_t e[2];
    uint32_t len;

    if (hdr[0] != 1 || hdr[3] != (PE_DATAREL | PE_SDATA4))
        return 0;
    eh = get_encoded(&c, hdr[1]);
    n = get_encoded(&c, hdr[2] & 0x0f);
    if (c.bad || n == 0)
        return 0;
    table = c.p;
    memcpy(e, table + (n - 1) * 8, 8);
    last = hdr + e[1];
    memcpy(&len, last, 4);
    *lo = ((uintptr_t)hdr < eh ? (uintptr_t)hdr : eh) & ~(PAGE - 1);
    hi = (uintptr_t)(table + n * 8);
    if (len != 0xffffffff && (uintptr_t)last + 4 + len > hi)
        hi = (uintptr_t)last + 4 + len;
    return ((hi + PAGE - 1) & ~(PAGE - 1)) - *lo;
}

/* Drops this process's mappings of the tables behind hdr (see above). */
static void drop_tables(const uint8_t *hdr)
{
    for (int i = 0; i < TABLES_MAX; i++) {
        const uint8_t *seen = atomic_load_explicit(&tables[i].hdr, memory_order_acquire);
        uintptr_t lo = 0, len;
        if (seen == NULL) {
            if (!atomic_compare_exchange_strong(&tables[i].hdr, &seen, hdr)) {
                i--; /* another object took the slot: look at it again */
                continue;
            }
            if ((len = table_range(hdr, &lo)) == 0)
                return;
            atomic_store_explicit(&tables[i].lo, lo, memory_order_relaxed);
            atomic_store_explicit(&tables[i].len, len, memory_order_release);
        } else if (seen != hdr) {
            continue;
        }
        if ((len = atomic_load_explicit(&tables[i].len, memory_order_acquire)) != 0)
            madvise((void *)atomic_load_explicit(&tables[i].lo, memory_order_relaxed), len,
                    MADV_DONTNEED);
        return;
    }
}

typedef struct cie {
    uint64_t code_align;
    int64_t data_align;
    uint8_t fde_enc;
    bool z;          /* augmentation data follows each FDE's address range */
    cursor program;  /* the initial instructions */
} cie;

/* A CIE's record, for unit length *p: its contents. -1 for 64-bit DWARF and terminators. */
static int get_record(const uint8_t *p, cursor *c)
{
    uint32_t len;

    memcpy(&len, p, 4);
    if (len == 0 || len == 0xffffffff)
        return -1;
    *c = (cursor){p + 4, p + 4 + len, false};
    return 0;
}

static int parse_augmentation(cursor *c, const char *aug, cie *ci)
{
    uint64_t n = get_uleb(c);
    const uint8_t *end = c->p + n;

    ci->z = true;
    for (const char *s = aug + 1; *s; s++) {
        if (*s == 'R')
            ci->fde_enc = (uint8_t)get_fixed(c, 1);
        else if (*s == 'L')
            get_fixed(c, 1);
        else if (*s == 'P')
            get_encoded(c, (uint8_t)get_fixed(c, 1) & 0x0f); /* only its size matters */
        else
            return -1; /* 'S', a signal frame, whose pc is not a return address; or unknown */
    }
    if (c->bad || c->p > end || end > c->end)
        return -1;
    c->p = end;
    return 0;
}

static int parse_cie(const uint8_t *p, cie *ci)
{
    cursor c;
    const char *aug;
    uint8_t version;

    if (get_record(p, &c) != 0 || get_fixed(&c, 4) != 0)
        return -1;
    version = (uint8_t)get_fixed(&c, 1);
    aug = (const char *)c.p;
    while (c.p < c.end && *c.p)
        c.p++;
    c.p++;
    if ((version != 1 && version != 3) || c.p > c.end || (aug[0] && aug[0] != 'z'))
        return -1;
    ci->code_align = get_uleb(&c);
    ci->data_align = get_sleb(&c);
    if ((version == 1 ? get_fixed(&c, 1) : get_uleb(&c)) != REG_RA)
        return -1;
    ci->fde_enc = PE_ABSPTR;
    ci->z = false;
    if (aug[0] == 'z' && parse_augmentation(&c, aug, ci) != 0)
        return -1;
    ci->program = c;
    return c.bad ? -1 : 0;
}

/* The FDE at p if it covers a: its CIE, its start and its program. */
static int parse_fde(const uint8_t *p, uintptr_t a, cie *ci, uintptr_t *start, cursor *program)
{
    cursor c;
    uint32_t cie_off;
    uintptr_t range;

    if (get_record(p, &c) != 0 || (cie_off = (uint32_t)get_fixed(&c, 4)) == 0 ||
        parse_cie(p + 4 - cie_off, ci) != 0)
        return -1;
    *start = get_encoded(&c, ci->fde_enc);
    range = get_encoded(&c, ci->fde_enc & 0x0f);
    if (ci->z)
        skip_block(&c);
    if (c.bad || a < *start || a - *start >= range)
        return -1;
    *program = c;
    return 0;
}

/* A register's rule, for the two registers tracked besides the CFA. */
enum { HOW_SAME, HOW_UNDEFINED, HOW_OFFSET, HOW_OTHER };

typedef struct reg_rule {
    int how;
    int64_t off;
} reg_rule;

typedef struct row {
    uint64_t cfa_reg; /* a DWARF register, or UINT64_MAX: an expression */
    int64_t cfa_off;
    reg_rule rbp, ra;
} row;

static reg_rule *tracked(row *r, uint64_t reg)
{
    return reg == REG_RBP ? &r->rbp : reg == REG_RA ? &r->ra : NULL;
}

static void set_rule(row *r, uint64_t reg, int how, int64_t off)
{
    reg_rule *rr = tracked(r, reg);

    if (rr)
        *rr = (reg_rule){how, off};
}

/* DW_CFA_restore: the rule the CIE's program left (none while that program runs). */
static void restore_rule(row *r, const row *initial, uint64_t reg)
{
    reg_rule *rr = tracked(r, reg);

    if (rr && initial)
        *rr = reg == REG_RBP ? initial->rbp : initial->ra;
}

typedef struct program {
    cursor c;
    const cie *ci;
    const row *initial;
    uintptr_t loc, target;
} program;

/* What an instruction leaves: more to run, the target's row complete, or a failure. */
enum { STEP_ON, STEP_DONE, STEP_BAD };

/* The rows from here on describe addresses past the target: its row is complete. */
static int advance(program *pg, uint64_t delta)
{
    pg->loc += delta * pg->ci->code_align;
    return pg->loc > pg->target ? STEP_DONE : STEP_ON;
}

/* One instruction of the extended set (high two bits zero); STEP_BAD if not understood. */
static int step_extended(program *pg, uint8_t op, row *r, row *saved, int *depth)
{
    cursor *c = &pg->c;
    int64_t daf = pg->ci->data_align;
    uint64_t reg;

    switch (op) {
    case CFA_NOP: return STEP_ON;
    case CFA_SET_LOC:
        pg->loc = get_encoded(c, pg->ci->fde_enc);
        return pg->loc > pg->target ? STEP_DONE : STEP_ON;
    case CFA_ADVANCE_LOC1: return advance(pg, get_fixed(c, 1));
    case CFA_ADVANCE_LOC2: return advance(pg, get_fixed(c, 2));
    case CFA_ADVANCE_LOC4: return advance(pg, get_fixed(c, 4));
    case CFA_OFFSET_EXTENDED:
        reg = get_uleb(c);
        set_rule(r, reg, HOW_OFFSET, (int64_t)get_uleb(c) * daf);
        return STEP_ON;
    case CFA_OFFSET_EXTENDED_SF:
        reg = get_uleb(c);
        set_rule(r, reg, HOW_OFFSET, get_sleb(c) * daf);
        return STEP_ON;
    case CFA_GNU_NEGATIVE_OFFSET_EXTENDED:
        reg = get_uleb(c);
        set_rule(r, reg, HOW_OFFSET, -(int64_t)get_uleb(c) * daf);
        return STEP_ON;
    case CFA_RESTORE_EXTENDED: restore_rule(r, pg->initial, get_uleb(c)); return STEP_ON;
    case CFA_UNDEFINED: set_rule(r, get_uleb(c), HOW_UNDEFINED, 0); return STEP_ON;
    case CFA_SAME_VALUE: set_rule(r, get_uleb(c), HOW_SAME, 0); return STEP_ON;
    case CFA_REGISTER:
    case CFA_VAL_OFFSET:
        reg = get_uleb(c);
        get_uleb(c);
        set_rule(r, reg, HOW_OTHER, 0);
        return STEP_ON;
    case CFA_VAL_OFFSET_SF:
        reg = get_uleb(c);
        get_sleb(c);
        set_rule(r, reg, HOW_OTHER, 0);
        return STEP_ON;
    case CFA_EXPRESSION:
    case CFA_VAL_EXPRESSION:
        reg = get_uleb(c);
        skip_block(c);
        set_rule(r, reg, HOW_OTHER, 0);
        return STEP_ON;
    case CFA_REMEMBER_STATE:
        if (*depth == STATE_DEPTH)
            return STEP_BAD;
        saved[(*depth)++] = *r;
        return STEP_ON;
    case CFA_RESTORE_STATE:
        if (*depth == 0)
            return STEP_BAD;
        *r = saved[--*depth];
        return STEP_ON;
    case CFA_DEF_CFA: r->cfa_reg = get_uleb(c); r->cfa_off = (int64_t)get_uleb(c); return STEP_ON;
    case CFA_DEF_CFA_SF: r->cfa_reg = get_uleb(c); r->cfa_off = get_sleb(c) * daf; return STEP_ON;
    case CFA_DEF_CFA_REGISTER: r->cfa_reg = get_uleb(c); return STEP_ON;
    case CFA_DEF_CFA_OFFSET: r->cfa_off = (int64_t)get_uleb(c); return STEP_ON;
    case CFA_DEF_CFA_OFFSET_SF: r->cfa_off = get_sleb(c) * daf; return STEP_ON;
    case CFA_DEF_CFA_EXPRESSION: r->cfa_reg = UINT64_MAX; skip_block(c); return STEP_ON;
    case CFA_GNU_ARGS_SIZE: get_uleb(c); return STEP_ON;
    default: return STEP_BAD;
    }
}

/*
 * Runs the program until the row for pg->target is complete: the end of
 * the program, or an advance past the target. 0, or -1 for an instruction
 * not understood or a malformed program.
 */
static int run(program *pg, row *r)
{
    row saved[STATE_DEPTH];
    int depth = 0, rc = STEP_ON;

    while (rc == STEP_ON && pg->c.p < pg->c.end && !pg->c.bad) {
        uint8_t op = (uint8_t)get_fixed(&pg->c, 1);
        switch (op >> 6) {
        case 1: rc = advance(pg, op & 0x3f); break;
        case 2:
            set_rule(r, op & 0x3f, HOW_OFFSET, (int64_t)get_uleb(&pg->c) * pg->ci->data_align);
            break;
        case 3: restore_rule(r, pg->initial, op & 0x3f); break;
        default: rc = step_extended(pg, op, r, saved, &depth); break;
        }
    }
    return rc == STEP_BAD || pg->c.bad ? -1 : 0;
}

static void rule_of_row(const row *r, rule *out)
{
    *out = (rule){RULE_STOP, 0, 0, 0, 0};
    if (r->ra.how == HOW_UNDEFINED) {
        out->kind = RULE_END;
        return;
    }
    if ((r->cfa_reg != REG_RSP && r->cfa_reg != REG_RBP) || r->ra.how != HOW_OFFSET ||
        r->rbp.how == HOW_OTHER || (r->rbp.how == HOW_OFFSET && r->rbp.off == 0))
        return;
    out->kind = RULE_FRAME;
    out->cfa_reg = (int)r->cfa_reg;
    out->cfa_off = r->cfa_off;
    out->ra_off = r->ra.off;
    /* An undefined rbp is taken as unchanged: only outermost frames say so,
     * and their undefined return address ends the walk there. */
    out->rbp_off = r->rbp.how == HOW_OFFSET ? r->rbp.off : 0;
}

/*
 * The rule at address a, from the unwind tables. Returns whether it may
 * be cached: an address in no object known yet may be in one being
 * loaded, so that "cannot unwind" is not remembered.
 */
/* The rule at a from the object's tables at hdr; out stays RULE_STOP when
 * there is none. *start gets the function's start when an FDE covers a. */
static void rule_from_tables(const uint8_t *hdr, uintptr_t a, rule *out, uintptr_t *start)
{
    const uint8_t *fde;
    cie ci;
    program pg;
    row r = {UINT64_MAX, 0, {HOW_SAME, 0}, {HOW_SAME, 0}}, initial;

    if ((fde = find_fde(hdr, a)) == NULL)
        return;
    pg = (program){{NULL, NULL, false}, &ci, NULL, 0, a};
    if (parse_fde(fde, a, &ci, &pg.loc, &pg.c) != 0)
        return;
    *start = pg.loc;
    /* The CIE's program first, from the same start; its row is what DW_CFA_restore restores. */
    {
        program init = {ci.program, &ci, NULL, pg.loc, a};
        if (run(&init, &r) != 0)
            return;
    }
    initial = r;
    pg.initial = &initial;
    if (run(&pg, &r) != 0)
        return;
    rule_of_row(&r, out);
}

static bool find_rule(uintptr_t a, rule *out, uintptr_t *start)
{
    struct dl_find_object fo;

    *out = (rule){RULE_STOP, 0, 0, 0, 0};
    *start = 0;
    if (_dl_find_object((void *)a, &fo) != 0 || fo.dlfo_eh_frame == NULL)
        return false;
    rule_from_tables(fo.dlfo_eh_frame, a, out, start);
    drop_tables(fo.dlfo_eh_frame);
    return true;
}

static inline uintptr_t load(uintptr_t addr)
{
    return *(const uintptr_t *)addr;
}

/* Where a frame's CFA is and where the words the walk reads were saved. */
typedef struct frame {
    uintptr_t cfa, ra_at, bp_at; /* bp_at == cfa: the caller's rbp is still in rbp */
} frame;

/*
 * The frame at a whose rule is not a cached ordinary one: learns it (and
 * caches it when it fits), and says whether the walk goes on. Checks what
 * the fast path in walk() need not for its cached rules (the return
 * address at CFA - 8, inside the stack).
 */
static bool uncommon_frame(uintptr_t a, uintptr_t sp, uintptr_t bp, uintptr_t hi, frame *f)
{
    uint64_t e = atomic_load_explicit(&cache[slot_of(a)], memory_order_relaxed);
    uintptr_t start;
    rule r;

    if ((e & KEY_MASK) == a >> CACHE_BITS && a >> CACHE_BITS <= KEY_MASK)
        return false; /* cached, and not ordinary: the end, or a frame it cannot unwind */
    if (find_rule(a, &r, &start))
        cache_put(a, &r);
    if (r.kind != RULE_FRAME)
        return false;
    f->cfa = (r.cfa_reg == REG_RBP ? bp : sp) + (uintptr_t)r.cfa_off;
    f->ra_at = f->cfa + (uintptr_t)r.ra_off;
    f->bp_at = r.rbp_off ? f->cfa + (uintptr_t)r.rbp_off : f->cfa;
    return f->ra_at >= sp && f->ra_at <= hi - 8 && f->cfa > sp;
}

/*
 * The walk from a point in pyab__unwind whose registers are ip, sp and
 * bp. a is the address whose rule applies: ip itself for that first
 * frame, then each return address minus one, since a call can be the
 * last instruction of its function and its return address the first of
 * the next one. A frame seen before costs one table load and the two
 * stack loads.
 */
static int walk(uintptr_t *pc, int max, uintptr_t stop_lo, uintptr_t stop_hi, uintptr_t ip,
                uintptr_t sp, uintptr_t bp)
{
    uintptr_t hi = sp + STACK_SPAN, a = ip, ra;
    int n = 0;
    frame f;

    while (n < max) {
        uint64_t e = atomic_load_explicit(&cache[slot_of(a)], memory_order_relaxed);
        uint64_t key = a >> CACHE_BITS;
        if ((e & (KEY_MASK | E_END | E_STOP)) == key && key <= KEY_MASK) {
            f.cfa = (e & E_CFA_RBP ? bp : sp) + (uintptr_t)((e >> E_CFA_SHIFT) & 0xffff) * 8;
            f.ra_at = f.cfa - 8;
            f.bp_at = f.cfa - (uintptr_t)((e >> E_RBP_SHIFT) & 0xff) * 8;
        } else if (!uncommon_frame(a, sp, bp, hi, &f)) {
            break;
        }
        /* The CFA only grows and stays word-aligned on the thread's stack
         * (so, for a cached rule, CFA - 8 does too), and the saved rbp
         * lies between it and the frame's rsp. */
        if (f.cfa <= sp || f.cfa > hi || (f.cfa & 7) || f.bp_at < sp)
            break;
        ra = load(f.ra_at);
        if (f.bp_at != f.cfa)
            bp = load(f.bp_at);
        sp = f.cfa;
        if (ra < 4096)
            break;
        pc[n++] = ra;
        if (ra - stop_lo < stop_hi - stop_lo)
            break;
        a = ra - 1;
    }
    return n;
}

/*
 * noinline: the registers read here must be this function's own, at an
 * address inside it. The lea yields the address of the next instruction,
 * whose CFI row describes the rsp and rbp the same asm statement reads,
 * so the walk starts from an exact frame of its own: its first step
 * yields the return address into the caller.
 */
__attribute__((noinline)) int pyab__unwind(uintptr_t *pc, int max, uintptr_t stop_lo,
                                           uintptr_t stop_hi)
{
    uintptr_t ip, sp, bp;

    if (!atomic_load_explicit(&ready, memory_order_relaxed))
        return -1;
    __asm__ volatile("leaq 0(%%rip), %0\n\t"
                     "movq %%rsp, %1\n\t"
                     "movq %%rbp, %2"
                     : "=r"(ip), "=r"(sp), "=r"(bp));
    return walk(pc, max, stop_lo, stop_hi, ip, sp, bp);
}

int pyab__unwind_init(void)
{
    struct dl_find_object fo;
    uintptr_t pc[4];

    if (_dl_find_object((void *)(uintptr_t)&pyab__unwind_init, &fo) != 0 ||
        fo.dlfo_eh_frame == NULL)
        return -ENOSYS;
    atomic_store(&ready, 1);
    /* Binds _dl_find_object and learns the caller's frames, outside any hook. */
    pyab__unwind(pc, 4, 0, 0);
    return 0;
}

void pyab__unwind_flush(void)
{
    /* A walk under way may store a rule after this, but only for a frame
     * on its stack: none of a library being closed, whose code must not
     * be running. */
    if (!atomic_load_explicit(&ready, memory_order_relaxed))
        return;
    /* Only entries in use are written: a page never touched stays out of the RSS. */
    for (uint32_t i = 0; i < CACHE_SIZE; i++)
        if (atomic_load_explicit(&cache[i], memory_order_relaxed))
            atomic_store_explicit(&cache[i], 0, memory_order_relaxed);
}

uintptr_t pyab__unwind_function_start(uintptr_t a)
{
    uintptr_t start;
    rule r;

    find_rule(a, &r, &start);
    return start;
}

#else /* !HAVE_UNWINDER */

int pyab__unwind_init(void)
{
    return -ENOSYS;
}

int pyab__unwind(uintptr_t *pc, int max, uintptr_t stop_lo, uintptr_t stop_hi)
{
    return -1;
}

void pyab__unwind_flush(void)
{
}

uintptr_t pyab__unwind_function_start(uintptr_t a)
{
    (void)a;
    return 0;
}

#endif
