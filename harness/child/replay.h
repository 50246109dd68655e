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
#include "util.h"

typedef struct pyab_replay pyab_replay;

/*
 * Creates a replayer. Steals `handler`. `notify` is signalled (from worker
 * threads) when warm-up is reached and when a worker exits. GIL held.
 * Never freed: the child process exits without finalising (child.h).
 */
pyab_replay *pyab_replay_create(const pyab_config *cfg, const pyab_trace *trace,
                                PyObject *handler, uv_async_t *notify);
/*
 * After create, before start: an event-loop app (app.asgi, an `async def`
 * handler) gets its loop thread (asgi.h), which runs the lifespan startup.
 * 0, or -EINVAL with err set (a startup failure is bad input). GIL held.
 */
int pyab_replay_prepare(pyab_replay *rp, pyab_error *err);
/* Starts the workers (or the event loop); the caller must release the GIL afterwards. 0 or -errno. */
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
/* The event loop's pacer (asgi.c) dispatches by its own count: it says so
 * here, so the dispatched count above means the same for every app kind. */
void pyab_replay_set_dispatched(pyab_replay *rp, uint64_t n);
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
/* After the rep's last sample: an event-loop app's lifespan shutdown. Without the GIL. */
void pyab_replay_shutdown_app(pyab_replay *rp);

/*
 * For the event-loop driver (asgi.c), which takes the workers' place: the
 * pacing arithmetic, the request dicts and the counting they share.
 */
enum { PYAB_REPLAY_LATE, PYAB_REPLAY_DROPPED, PYAB_REPLAY_TIMEOUT };
/* When request idx is due (open loop), in pyab_now_ns() time. */
uint64_t pyab_replay_due_ns(const pyab_replay *rp, uint64_t idx);
/* How many requests are due by `now`, counting from `from` (known due). */
uint64_t pyab_replay_due_by(const pyab_replay *rp, uint64_t from, uint64_t now);
/* 1 once pyab_replay_stop was called. */
int pyab_replay_stopping(const pyab_replay *rp);
/* Closed loop: the next request's index, or -1 when the replay is over. */
int64_t pyab_replay_next(pyab_replay *rp);
/* Request idx's dict (bytes_body: a JSON body as bytes, as for WSGI). New ref; GIL held. */
PyObject *pyab_replay_request(pyab_replay *rp, uint64_t idx, int bytes_body);
/*
 * Counts request idx as finished at `end` (latency from `due`): res
 * (borrowed) is its result, or NULL with its exception pending (taken).
 * Takes the samples and marks that fall due. GIL held.
 */
void pyab_replay_record(pyab_replay *rp, uint64_t idx, uint64_t due, uint64_t end, PyObject *res);
/* Counts one late, dropped or timed-out request (PYAB_REPLAY_*). */
void pyab_replay_count(pyab_replay *rp, int what);
/* Counts the status (an int, borrowed) of a request that then raised, in its route's classes. */
void pyab_replay_count_status(pyab_replay *rp, uint64_t idx, PyObject *status);
/* Request idx's route name and trace line, for messages. */
const char *pyab_replay_route(const pyab_replay *rp, uint64_t idx);
unsigned pyab_replay_line(const pyab_replay *rp, uint64_t idx);
/* The loop thread is done replaying: the rep may finish. */
void pyab_replay_loop_exited(pyab_replay *rp);

#endif
