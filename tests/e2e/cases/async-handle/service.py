"""A plain handler written as `async def handle(request)`: awaited on the
event loop. /slow awaits 5 ms of asyncio.sleep, so at 800 req/s several
are in flight at once on one thread; the leaky arm keeps each /kept
request's dict (its body is a 600-character string)."""
import asyncio
import os
import threading

LEAK = os.environ.get("HANDLE_LEAK") == "1"
kept = []
seen = {"in_flight": 0, "max_in_flight": 0, "threads": set()}


async def handle(request):
    seen["threads"].add(threading.get_ident())
    seen["in_flight"] += 1
    seen["max_in_flight"] = max(seen["max_in_flight"], seen["in_flight"])
    try:
        if request["route"] == "/slow":
            await asyncio.sleep(0.005)
        elif LEAK:
            kept.append(request)
        # One loop thread runs every request, and /slow ones overlap.
        if len(seen["threads"]) != 1:
            return 500
        return 200 if request["route"] != "/slow" or seen["max_in_flight"] >= 2 else 503
    finally:
        seen["in_flight"] -= 1
