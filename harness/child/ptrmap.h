/*
 * ptrmap: an open-addressing map from nonzero pointer-sized keys to 64-bit
 * values, for the allocator hooks (heap.c, where.c).
 *
 * Linear probing and backward-shift deletion (no tombstones, so probes stay
 * short under churn); key 0 marks an empty slot. The tables come from libc's
 * calloc, never from the Python allocators the hooks wrap, so the maps never
 * count or sample themselves. Not thread-safe: the hooks that use it run
 * with the GIL held.
 */
#ifndef PYAB_PTRMAP_H
#define PYAB_PTRMAP_H

#include <stdint.h>
#include <stdlib.h>

typedef struct ptrmap {
    uintptr_t *keys;
    uint64_t *vals;
    size_t cap, len;
} ptrmap;

static inline size_t ptrmap_slot(uintptr_t key, size_t cap)
{
    return (size_t)((key * 0x9E3779B97F4A7C15ull) >> 17) & (cap - 1);
}

static inline void ptrmap_put(ptrmap *m, uintptr_t key, uint64_t val);

static inline void ptrmap_grow(ptrmap *m)
{
    ptrmap old = *m;

    m->cap = old.cap ? old.cap * 2 : 1024;
    m->len = 0;
    m->keys = calloc(m->cap, sizeof(*m->keys));
    m->vals = calloc(m->cap, sizeof(*m->vals));
    if (m->keys == NULL || m->vals == NULL)
        abort();
    for (size_t i = 0; i < old.cap; i++)
        if (old.keys[i])
            ptrmap_put(m, old.keys[i], old.vals[i]);
    free(old.keys);
    free(old.vals);
}

static inline void ptrmap_put(ptrmap *m, uintptr_t key, uint64_t val)
{
    size_t i;

    if ((m->len + 1) * 2 > m->cap)
        ptrmap_grow(m);
    i = ptrmap_slot(key, m->cap);
    while (m->keys[i] && m->keys[i] != key)
        i = (i + 1) & (m->cap - 1);
    if (m->keys[i] == 0)
        m->len++;
    m->keys[i] = key;
    m->vals[i] = val;
}

static inline int ptrmap_get(const ptrmap *m, uintptr_t key, uint64_t *val)
{
    if (m->cap == 0)
        return 0;
    for (size_t i = ptrmap_slot(key, m->cap); m->keys[i]; i = (i + 1) & (m->cap - 1)) {
        if (m->keys[i] == key) {
            *val = m->vals[i];
            return 1;
        }
    }
    return 0;
}

static inline int ptrmap_del(ptrmap *m, uintptr_t key, uint64_t *val)
{
    size_t i, j, mask = m->cap - 1;

    if (m->cap == 0)
        return 0;
    for (i = ptrmap_slot(key, m->cap); m->keys[i] != key; i = (i + 1) & mask)
        if (m->keys[i] == 0)
            return 0;
    if (val)
        *val = m->vals[i];
    /* Backward shift: pull later entries of the probe run into the hole. */
    for (j = (i + 1) & mask; m->keys[j]; j = (j + 1) & mask) {
        size_t home = ptrmap_slot(m->keys[j], m->cap);
        if (((j - home) & mask) >= ((j - i) & mask)) {
            m->keys[i] = m->keys[j];
            m->vals[i] = m->vals[j];
            i = j;
        }
    }
    m->keys[i] = 0;
    m->len--;
    return 1;
}

#endif
