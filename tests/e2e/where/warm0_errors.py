"""Keeps 200 bytes per request and raises on one request in 50 (pyab formats
each error's traceback). Run with no warm-up: nothing pyab's own Python does
(its start-up readback, formatting the first traceback) may read as the
service's surviving allocation."""
_kept = []
_n = 0


def handle(req):
    global _n
    _n += 1
    _kept.append(bytes(200))
    if _n % 50 == 0:
        raise ValueError("one in fifty")
    return "ok"
