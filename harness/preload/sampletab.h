/*
 * sampletab: the native sampler's tables of live samples and their stacks
 * (sampletab.c says how they are laid out and why they grow). Internal to
 * pyab-native.so; natsample.c calls every function with its lock held.
 */
#ifndef PYAB_SAMPLETAB_H
#define PYAB_SAMPLETAB_H

#include "natsample.h"

/* Maps the tables (once). 0 or -ENOMEM. */
int pyab__tab_init(void);
/*
 * Records the live block p of n bytes with its stacks (copied) and the
 * dispatched-request count it was made at; counted as dropped when a
 * table is at its bound.
 */
void pyab__tab_record(uintptr_t p, uint64_t n, int kind, const uintptr_t *pc, int npc,
                      const pyab_natsample_pyframe *py, int npy, uint64_t dispatched);
/* The block p is being freed: its sample, if any, goes. */
void pyab__tab_forget(uintptr_t p);
/* The mappings inside [lo, hi) are going: their samples go. */
void pyab__tab_unmap(uintptr_t lo, uintptr_t hi);
/* fn for every live sample and its stack (borrowed). */
void pyab__tab_foreach(void (*fn)(void *, const pyab_natsample_live *,
                                  const pyab_natsample_stack *),
                       void *data);
/* Fills the counts and the tables' sizes of out (not its unwinder). */
void pyab__tab_stats(pyab_natsample_stats *out);

#endif
