/*
 * unwinder: the native sampler's own stack walker, a small DWARF-CFI
 * unwinder for x86-64 Linux that remembers what it learnt of each return
 * address. natsample.c asks it first for a sample's native stack; libunwind
 * and libgcc stay behind it for other architectures and for comparison
 * (PYAB_NATIVE_UNWINDER).
 *
 * For a return address seen before, a walk reads one 8-byte entry of a
 * fixed table (4096 entries, 32 KiB, shared by all threads without a lock:
 * each entry is one atomic word) and the two stack words the rule names.
 * For one not seen before it finds the object with glibc's
 * _dl_find_object, binary-searches the object's .eh_frame_hdr, runs the
 * CIE's and FDE's CFA programs up to the address, and stores the result.
 * Neither path allocates, takes a lock or calls anything that does.
 */
#ifndef PYAB_UNWINDER_H
#define PYAB_UNWINDER_H

#include <stdint.h>

/*
 * Makes the unwinder ready: resolves what the walk calls and walks once,
 * so that nothing is bound lazily inside an allocation hook. Call it
 * outside any hook. 0, or -ENOSYS where the unwinder does not exist (not
 * x86-64 Linux with glibc 2.35 or later, or no unwind table for this
 * library), and then pyab__unwind always returns -1.
 */
int pyab__unwind_init(void);

/*
 * Fills pc with the return addresses of the calling thread's stack,
 * innermost first: pc[0] is the address pyab__unwind returns to, in its
 * caller (as glibc's backtrace() starts). Stops after storing max, after
 * storing the first address inside [stop_lo, stop_hi), at the end of the
 * stack, or at the first frame it cannot unwind (no object, no FDE, a
 * rule other than a register plus an offset, a signal frame, a value out
 * of bounds): it returns what it has. Returns how many it stored, or -1
 * when pyab__unwind_init failed or was not called.
 */
int pyab__unwind(uintptr_t *pc, int max, uintptr_t stop_lo, uintptr_t stop_hi);

/*
 * Forgets every rule learnt. For a dlclose: another object may be mapped
 * where the closed one was, and its return addresses must not find the
 * closed one's rules.
 */
void pyab__unwind_flush(void);

/*
 * The start of the function holding code address a (its FDE's initial
 * location), 0 when no unwind table covers a. Reads the tables each time:
 * for the end of a run, not for a walk.
 */
uintptr_t pyab__unwind_function_start(uintptr_t a);

#endif
