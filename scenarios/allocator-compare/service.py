"""A fragmentation-prone, multi-threaded service.

Each request builds a response from many short-lived buffers of mixed
sizes (hundreds of bytes to tens of kilobytes) and keeps a few of them in
a bounded cache with random eviction. Short- and long-lived blocks of
mixed sizes interleave in the allocator's heaps, from several threads at
once (glibc gives each thread its own arena), which is how RSS climbs
while the live data stays bounded: the classic "retention" pattern that
an allocator change (arena limit, jemalloc) can fix.
"""
import random
import threading

CACHE_SLOTS = 3_000
cache = [None] * CACHE_SLOTS
lock = threading.Lock()
local = threading.local()


def rng():
    r = getattr(local, "rng", None)
    if r is None:
        r = local.rng = random.Random(threading.get_ident())
    return r


def handle(req):
    r = rng()
    parts = [bytes(r.randrange(200, 40_000)) for _ in range(30)]
    keep = [bytearray(p[: r.randrange(100, 4000)]) for p in parts[:3]]
    with lock:
        for k in keep:
            cache[r.randrange(CACHE_SLOTS)] = k
    return sum(len(p) for p in parts)
