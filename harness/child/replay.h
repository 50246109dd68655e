/*
 * replay: runs the trace against the handler on worker threads.
 *
 * Each worker is an OS thread with its own Python thread state. It takes
 * the next request index from an atomic counter, waits (without the GIL)
 * until the request is due, takes the GIL, builds a fresh request dict from
 * the compact record (request.h), calls the handler, counts its outcome by
 * route (routestats.h), releases the GIL, and records the latency in its
 * own histogram. So native code that drops the GIL runs in
 * parallel, as in a threaded server, and the hot path takes no lock.
 *
 * Why workers pace themselves instead of a libuv timer handing requests
 * over: libuv timers tick in milliseconds and a hand-over costs a context
 * switch per request; the child's libuv loop runs the control plane
 * (sampling, warm-up, deadlines, signals) while workers sleep to the
 * nanosecond. Open-loop latency is measured from the due time, never from
 * the moment a worker was free, so a stall cannot hide (coordinated
 * omission); requests that come due while max_in_flight are outstanding
 * are dropped and counted, as a server would shed them.
 */
#ifndef PYAB_REPLAY_H
#define PYAB_REPLAY_H

#include <Python.h>
#include <jansson.h>
#include <stdatomic.h>
#include <uv.h>

#include "hist.h"
#include "config.h"
#include "trace.h"

typedef struct pyab_replay pyab_replay;

/*
 * Creates a replayer. Steals `handler`. `notify` is signalled (from worker
 * threads) when warm-up is reached and when a worker exits. GIL held.
 * Never freed: the child process exits without finalising (child.h).
 */
pyab_replay *pyab_replay_create(const pyab_config *cfg, const pyab_trace *trace,
                                PyObject *handler, uv_async_t *notify);
/* Starts the workers; the caller must release the GIL afterwards. 0 or -errno. */
int pyab_replay_start(pyab_replay *rp);
/* Asks workers to stop taking requests (signal-safe: one atomic store). */
void pyab_replay_stop(pyab_replay *rp);
/* Number of workers that have not exited yet. */
int pyab_replay_running(const pyab_replay *rp);
/* Waits for workers that have exited (those still running are left alone). */
void pyab_replay_join(pyab_replay *rp);

/*
 * The counter of requests taken by workers so far (dispatched, including
 * those dropped), for stamping what happens during a request; borrowed,
 * lives as long as rp. No GIL.
 */
const _Atomic uint64_t *pyab_replay_dispatched(const pyab_replay *rp);
/* Completed requests and errors so far (no GIL). */
uint64_t pyab_replay_completed(const pyab_replay *rp);
uint64_t pyab_replay_errors(const pyab_replay *rp);
/* The most requests this rep replays: the planned ones, or the until-settled cap. */
uint64_t pyab_replay_total(const pyab_replay *rp);
/* The requests of the planned run (the scenario's requests or trace passes). */
uint64_t pyab_replay_planned(const pyab_replay *rp);
/*
 * Before start: call fn(data, completed) each time `every` more requests
 * complete (0: never), from the worker that completed the request, without
 * the GIL.
 */
void pyab_replay_sample_every(pyab_replay *rp, uint64_t every, void (*fn)(void *, uint64_t),
                              void *data);
/* Nanosecond timestamp of warm-up's end, 0 before. */
uint64_t pyab_replay_warmup_ns(const pyab_replay *rp);
uint64_t pyab_replay_start_ns(const pyab_replay *rp);
/* Latency histogram of requests finished since the previous call (main thread). */
void pyab_replay_window(pyab_replay *rp, pyab_hist *window);
/*
 * Reports requests running past timeout_ms (once each) and raises
 * TimeoutError in their thread. Main thread; takes the GIL only if needed.
 */
void pyab_replay_check_timeouts(pyab_replay *rp, PyThreadState *main_ts);
/* Final figures (requests, latency, errors by route, ...). New ref; GIL held. */
json_t *pyab_replay_result(pyab_replay *rp);

#endif
