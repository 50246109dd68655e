"""Keeps a 3000-byte bytearray per request as a dict value. The dict holds
nothing the GC tracks, so the GC does not track it either: its buffers are
found two levels under the module (module dict, untracked dict, bytearray)."""
_reports = {}
_n = 0


def handle(req):
    global _n
    _n += 1
    _reports[_n] = bytearray(3000)
    return "ok"
