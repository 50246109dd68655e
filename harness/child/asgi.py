"""pyab's event-loop driver, compiled into the pyab binary (see embed.c).

ASGI 3 apps (app.asgi) and `async def` handlers run here, on one asyncio
(or uvloop) event loop in a thread of their own that asgi.c starts. The C
side paces the replay: a timerfd armed at the next due time (to the
nanosecond) becomes readable when requests come due; the loop's reader
callback then takes every request due so far in one call (`take`), which
also arms the timer for the next, and starts a task for each. So a busy
loop costs one wake-up per batch, not one thread-safe call per request. Results go back through `done` / `fail`,
which count them per route, record the latency from the due time, and take
the samples that fall due, as the threaded workers do.

The lifespan protocol runs startup before the replay (a failure is bad
input: the run stops with exit 2) and shutdown after the rep's last
sample. A task that has not finished `timeout_ms` after it started is
cancelled and counted as a timeout; the run goes on.
"""
import asyncio
import inspect
import sys
import time

# A closed-loop user that never waits yields to the event loop this often.
YIELD_NS = 5_000_000

_monotonic_ns = time.monotonic_ns


def _is_async(fn):
    """An `async def` function, or an object whose __call__ is one."""
    if inspect.iscoroutinefunction(fn):
        return True
    call = getattr(type(fn), "__call__", None)
    return call is not None and inspect.iscoroutinefunction(call)


def _new_loop(name):
    if name == "uvloop":
        import uvloop
        return uvloop.new_event_loop()
    return asyncio.new_event_loop()


class _Exchange:
    """One HTTP request's receive() and send(): the body in chunks of at
    most `chunk` bytes (more_body set on all but the last), then, once the
    body is read, http.disconnect when the response is complete; the
    response's status kept, its body bytes dropped."""

    __slots__ = ("body", "pos", "chunk", "status", "complete", "resp_ns", "waiter")

    def __init__(self, body, chunk):
        self.body = body
        self.pos = 0 if body else -1  # -1: the (empty) body has not gone out yet
        self.chunk = chunk
        self.status = None
        self.complete = False
        self.resp_ns = 0
        self.waiter = None

    async def receive(self):
        body = self.body
        pos = self.pos
        if pos < 0:  # a request without a body: one empty http.request
            self.pos = 0
            return {"type": "http.request", "body": b"", "more_body": False}
        if pos < len(body):
            end = pos + self.chunk
            if end >= len(body):
                self.pos = len(body)
                return {"type": "http.request", "body": body[pos:] if pos else body,
                        "more_body": False}
            self.pos = end
            return {"type": "http.request", "body": body[pos:end], "more_body": True}
        if not self.complete:
            # As a server does: the client stays connected until the
            # response has gone out.
            if self.waiter is None:
                self.waiter = asyncio.get_running_loop().create_future()
            await self.waiter
        return {"type": "http.disconnect"}

    async def send(self, message):
        kind = message["type"]
        if self.complete:
            raise RuntimeError("ASGI message %r after the response was complete" % (kind,))
        if kind == "http.response.start":
            if self.status is not None:
                raise RuntimeError("http.response.start sent twice")
            status = message["status"]
            if type(status) is not int:
                raise TypeError("http.response.start status must be an int, got %r" % (status,))
            self.status = status
        elif kind == "http.response.body":
            if self.status is None:
                raise RuntimeError("http.response.body before http.response.start")
            if not message.get("more_body", False):
                self.complete = True
                self.resp_ns = _monotonic_ns()
                if self.waiter is not None and not self.waiter.done():
                    self.waiter.set_result(None)
        else:
            raise RuntimeError("unexpected ASGI message type %r in an http scope" % (kind,))


class Driver:
    """Runs one app on one event loop. `kind` is "asgi" (an ASGI 3 app) or
    "handler" (an `async def handle(request)`)."""

    def __init__(self, app, kind, loop_name, lifespan, chunk, root_path, timeout_s):
        if loop_name == "uvloop":
            try:
                import uvloop  # noqa: F401  (fails here, at import time: bad input)
            except ImportError as exc:
                raise ImportError("asgi.loop \"uvloop\" needs the uvloop package "
                                  "(Debian: python3-uvloop): %s" % exc) from exc
        self.app = app
        self.kind = kind
        self.loop_name = loop_name
        self.lifespan = lifespan
        self.chunk = chunk
        self.root_path = root_path
        self.timeout_s = timeout_s
        self.loop = None
        self.hooks = None
        self.running = {}  # request index -> (task, start ns)
        self.timed_out = set()
        self.state = {}  # lifespan state, copied into each http scope
        self.lifespan_used = "off"
        self._ls_queue = None
        self._ls_task = None
        self._ls_done = None
        self._header_names = {}
        from urllib.parse import unquote, urlencode
        self._unquote = unquote
        self._urlencode = urlencode
        self._base = {
            "type": "http",
            "asgi": {"version": "3.0", "spec_version": "2.3"},
            "http_version": "1.1",
            "scheme": "http",
            "root_path": root_path,
            "server": ("localhost", 80),
            "client": ("127.0.0.1", 50000),
        }

    # -- the life of the loop thread (called by asgi.c) --------------------

    def run(self, hooks):
        loop = self.loop = _new_loop(self.loop_name)
        self.hooks = hooks
        asyncio.set_event_loop(loop)
        try:
            error = loop.run_until_complete(self._startup(hooks))
        except BaseException as exc:  # the lifespan machinery itself
            error = "lifespan startup raised:\n" + _format(exc)
        if hooks.ready(error) and error is None:
            loop.run_until_complete(self._replay(hooks))
        hooks.over(len(self.running))
        message = None
        try:
            message = loop.run_until_complete(self._shutdown())
        except BaseException as exc:
            message = "lifespan shutdown raised:\n" + _format(exc)
        hooks.shut(message)

    # -- lifespan ----------------------------------------------------------

    async def _startup(self, hooks):
        """None when the app started (or has no lifespan), else the reason."""
        if self.kind != "asgi" or self.lifespan == "off":
            return None
        loop = asyncio.get_running_loop()
        queue = self._ls_queue = asyncio.Queue()
        started = loop.create_future()
        self._ls_done = loop.create_future()
        sent = []

        async def send(message):
            kind = message.get("type")
            sent.append(kind)
            if kind == "lifespan.startup.complete" and not started.done():
                started.set_result(None)
            elif kind == "lifespan.startup.failed" and not started.done():
                started.set_result("the app sent lifespan.startup.failed: %s"
                                   % (message.get("message") or "(no message)"))
            elif kind in ("lifespan.shutdown.complete", "lifespan.shutdown.failed"):
                if not self._ls_done.done():
                    self._ls_done.set_result(None if kind.endswith("complete") else
                                             "the app sent lifespan.shutdown.failed: %s"
                                             % (message.get("message") or "(no message)"))

        async def run_lifespan():
            scope = {"type": "lifespan", "asgi": {"version": "3.0", "spec_version": "2.3"},
                     "state": self.state}
            try:
                await self.app(scope, queue.get, send)
            except BaseException as exc:
                if not started.done():
                    if self.lifespan == "auto" and not sent:
                        # As uvicorn's "auto": an app that raises before
                        # answering does not speak the lifespan protocol.
                        started.set_result(("unsupported", exc))
                    else:
                        started.set_result("lifespan startup raised:\n" + _format(exc))
                if not self._ls_done.done():
                    self._ls_done.set_result("lifespan task raised:\n" + _format(exc))
                return
            if not started.done():
                started.set_result(("unsupported", None) if self.lifespan == "auto" and not sent
                                   else "the app returned from the lifespan scope without "
                                        "sending lifespan.startup.complete")
            if not self._ls_done.done():
                self._ls_done.set_result(None)

        self._ls_task = loop.create_task(run_lifespan())
        queue.put_nowait({"type": "lifespan.startup"})
        result = await started
        if type(result) is tuple:
            exc = result[1]
            hooks.warn("asgi.lifespan \"auto\": the app does not support the lifespan protocol (%s); "
                       "replaying without it" % ("it returned at once" if exc is None else
                                                 "%s: %s" % (type(exc).__name__, exc)))
            self._ls_task = None
            self.lifespan_used = "unsupported"
            return None
        if result is None:
            self.lifespan_used = "on"
        return result

    async def _shutdown(self):
        if self._ls_task is None or self._ls_task.done():
            return None
        self._ls_queue.put_nowait({"type": "lifespan.shutdown"})
        try:
            return await asyncio.wait_for(asyncio.shield(self._ls_done), self.timeout_s)
        except asyncio.TimeoutError:
            return "lifespan shutdown did not complete within timeout_ms"

    # -- the replay ----------------------------------------------------------

    async def _replay(self, hooks):
        loop = asyncio.get_running_loop()
        sweeper = loop.create_task(self._sweep(hooks))
        if hooks.closed_users:
            await asyncio.gather(*[self._user(hooks) for _ in range(hooks.closed_users)])
        else:
            await self._open(hooks, loop)
        # Stopped early (a signal, settled): what is in flight may finish.
        if self.running:
            tasks = [t for t, _ in self.running.values()]
            await asyncio.wait(tasks, timeout=self.timeout_s + 0.1)
        sweeper.cancel()

    async def _open(self, hooks, loop):
        ended = loop.create_future()
        take = hooks.take
        start = self._start
        fd = hooks.fd

        def on_wake():
            batch = take()
            if batch is None:
                loop.remove_reader(fd)
                if not ended.done():
                    ended.set_result(None)
                return
            for item in batch:
                start(item)

        loop.add_reader(fd, on_wake)
        await ended
        # Every request has started: wait for the last ones. A task that
        # was cancelled for its timeout and still does not end is given
        # timeout_ms more, then left behind (hooks.over counts it).
        while True:
            live = [t for i, (t, _) in self.running.items() if i not in self.timed_out]
            if not live:
                break
            await asyncio.wait(live, return_when=asyncio.FIRST_COMPLETED)
        if self.running:
            await asyncio.wait([t for t, _ in self.running.values()], timeout=self.timeout_s)

    async def _user(self, hooks):
        """One user of the closed loop: a request, then think, then the next."""
        take_one = hooks.take_one
        think = hooks.think_s
        one = self._one
        running = self.running
        last = _monotonic_ns()
        while True:
            item = take_one()
            if item is None:
                return
            idx, due, req = item
            running[idx] = (asyncio.current_task(), due)
            await one(idx, due, req, False)
            if think:
                await asyncio.sleep(think)
            elif _monotonic_ns() - last > YIELD_NS:
                # An app that never suspends would keep this loop from ever
                # giving the event loop back: the sweeper (whose beat tells
                # a blocked loop from a busy one) and the other users would
                # starve, and a healthy app read as a blocked loop (QA).
                await asyncio.sleep(0)
                last = _monotonic_ns()

    def _start(self, item):
        idx, due, req = item
        self.running[idx] = (self.loop.create_task(self._one(idx, due, req, True)),
                             _monotonic_ns())

    async def _one(self, idx, due, req, own_task):
        hooks = self.hooks
        ex = None
        try:
            if self.kind == "asgi":
                scope, data = self._scope(req)
                ex = _Exchange(data, self.chunk)
                await self.app(scope, ex.receive, ex.send)
                if ex.status is None:
                    raise RuntimeError("the app returned without sending http.response.start")
                if not ex.complete:
                    raise RuntimeError("the app returned before the response body was complete "
                                       "(no http.response.body without more_body)")
                status, resp_ns = ex.status, ex.resp_ns
            else:
                status = await self.app(req)
                resp_ns = _monotonic_ns()
        except BaseException as exc:
            if idx in self.timed_out:
                self.timed_out.discard(idx)
                exc = TimeoutError("no response within timeout_ms (%.0f ms): the task was cancelled"
                                   % (self.timeout_s * 1000))
                if not own_task:
                    # A closed-loop user goes on with its next request.
                    asyncio.current_task().uncancel()
            # A response that went out before the exception (Starlette sends
            # its 500 and then re-raises) is counted too.
            hooks.fail(idx, due, exc, ex.status if ex is not None else None)
        else:
            hooks.done(idx, due, status, resp_ns)
        finally:
            del self.running[idx]

    async def _sweep(self, hooks):
        """Cancels requests running past timeout_ms (each counted once)."""
        limit = int(self.timeout_s * 1e9)
        period = min(0.1, self.timeout_s / 4)
        beat = hooks.beat
        while True:
            beat()  # the loop runs: asgi.c raises TimeoutError in it when this stops
            await asyncio.sleep(period)
            now = _monotonic_ns()
            for idx, (task, since) in list(self.running.items()):
                if now - since >= limit and idx not in self.timed_out:
                    self.timed_out.add(idx)
                    hooks.timeout(idx, (now - since) / 1e6)
                    task.cancel()

    # -- one http request ------------------------------------------------------

    def _scope(self, req):
        """The http scope of a request dict, and its body bytes."""
        body = req.get("body")
        headers = []
        if body is None:
            data = b""
        elif type(body) is bytes:  # JSON text, written by the replayer (wsgi.c)
            data = body
            ctype = b"application/json"
        else:
            data = body.encode("utf-8")
            ctype = None
        has_host = has_type = False
        rec = req.get("headers")
        if rec:
            names = self._header_names
            for name, value in rec.items():
                key = names.get(name)
                if key is None:
                    key = names[name] = name.lower().encode("latin-1", "replace")
                if key == b"content-length":
                    continue  # the length of the body actually sent, below
                if key == b"host":
                    has_host = True
                elif key == b"content-type":
                    has_type = True
                try:
                    headers.append((key, value.encode("latin-1")))
                except UnicodeEncodeError:
                    headers.append((key, value.encode("utf-8")))
        if not has_host:
            headers.append((b"host", b"localhost"))
        if data:
            if not has_type and type(body) is bytes:
                headers.append((b"content-type", ctype))
            headers.append((b"content-length", str(len(data)).encode("ascii")))
        path = req.get("path") or req["route"]
        raw = path.encode("utf-8")
        if "%" in path:
            path = self._unquote(path)
        query = req.get("query")
        if not query:
            qs = b""
        elif type(query) is not str:
            qs = self._urlencode(query, doseq=True).encode("ascii")
        else:
            qs = (query[1:] if query[0] == "?" else query).encode("utf-8")
        scope = self._base.copy()
        scope["method"] = (req.get("method") or ("POST" if data else "GET")).upper()
        scope["path"] = path
        scope["raw_path"] = raw
        scope["query_string"] = qs
        scope["headers"] = headers
        if self.state:
            scope["state"] = self.state.copy()
        return scope, data


def _format(exc):
    import traceback
    return "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))


def driver_for(app, kind, loop_name, lifespan, chunk, root_path, timeout_s):
    """The driver for an app.asgi app, or for a plain handler when it is an
    `async def` (None for a plain synchronous handler)."""
    if kind == "asgi":
        return Driver(app, "asgi", loop_name, lifespan, chunk, root_path, timeout_s)
    if _is_async(app):
        return Driver(app, "handler", loop_name, lifespan, chunk, root_path, timeout_s)
    return None
