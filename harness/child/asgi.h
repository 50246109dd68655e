/*
 * asgi: the event-loop path of the replay (child side). ASGI 3 apps
 * (app.asgi) and `async def` handlers run as tasks on one asyncio or uvloop
 * event loop, in a thread of their own, driven by the embedded asgi.py.
 *
 * The replayer (replay.h) creates the driver when the app is one of these
 * and uses it in place of its worker threads. The loop thread is started
 * before the replay, runs the lifespan startup and waits; go() starts the
 * replay. In an open loop a timerfd is armed at the next due time (to the
 * nanosecond, CLOCK_MONOTONIC as pyab_now_ns); when it fires, the loop's
 * reader takes every request due by then in one call, starts a task per
 * request and arms the timer for the next: one wake-up per batch, by the
 * kernel, rather than a thread-safe call per request. In a closed loop
 * `users` coroutines send their requests back to back. Each result is counted through the
 * replayer as a worker's would be. After the rep's last sample the
 * lifespan shutdown runs and the thread ends.
 */
#ifndef PYAB_ASGI_H
#define PYAB_ASGI_H

#include <Python.h>
#include <jansson.h>

#include "config.h"
#include "replay.h"
#include "util.h"

typedef struct pyab_asgi pyab_asgi;

/*
 * The driver for `app` (borrowed) when it runs on an event loop: an
 * app.asgi app or an `async def` handler. *out becomes the driver (lives
 * until the child exits), or NULL for a plain synchronous handler.
 * 0, or -EINVAL with err set (uvloop missing: exit 2). GIL held.
 */
int pyab_asgi_create(pyab_replay *rp, const pyab_config *cfg, PyObject *app, pyab_asgi **out,
                     pyab_error *err);
/*
 * Starts the loop thread and waits for the lifespan startup. 0, or -EINVAL
 * with err holding why it failed (bad input: exit 2). GIL held; released
 * while waiting.
 */
int pyab_asgi_startup(pyab_asgi *a, pyab_error *err);
/*
 * Main thread, at each sample: when the loop has not run for timeout_ms (a
 * task blocks it without awaiting), raises TimeoutError in the loop thread,
 * once per such stall; the task running gets it and is counted as an error
 * of its route. Takes the GIL only then.
 */
void pyab_asgi_check_stuck(pyab_asgi *a, PyThreadState *main_ts);
/* Starts the replay (an open loop's timer is armed at the first due time). 0 or -errno. */
int pyab_asgi_go(pyab_asgi *a);
/*
 * After the rep's last sample: runs the lifespan shutdown, waiting at most
 * `seconds`, and lets the loop thread end. Without the GIL.
 */
void pyab_asgi_shutdown(pyab_asgi *a, double seconds);
/* What the rep's result reports: loop, lifespan, batches, tasks left behind. New ref. */
json_t *pyab_asgi_json(const pyab_asgi *a);

#endif
