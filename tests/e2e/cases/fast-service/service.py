# A service fast enough to finish 60k requests in well under a second, one
# known memory behaviour per arm (BEHAVIOUR): the verdicts must decide with
# the sampling the scenario gives (interval_ms 20), from samples by work.
import gc
import os
import threading

BEHAVIOUR = os.environ["BEHAVIOUR"]
kept = []
cache = {}
local = threading.local()
count = 0


class Node:
    __slots__ = ("other", "__weakref__")


def handle(req):
    global count
    count += 1
    if BEHAVIOUR == "leak256":
        kept.append(bytes(223))  # 256 B with the bytes header: Python heap
    elif BEHAVIOUR == "leak108":
        kept.append(bytes(75))
    elif BEHAVIOUR == "plateau":
        cache[count % 1000] = bytes(200)  # bounded: fills, then stays full
    elif BEHAVIOUR == "perthread":
        if not hasattr(local, "buf"):
            local.buf = bytearray(65536)  # one per worker thread, kept
    elif BEHAVIOUR == "oneoff":
        if count == 100:
            kept.append(bytearray(5 << 20))  # one step, then flat
    elif BEHAVIOUR == "sawtooth":
        kept.append(bytes(1000))
        if len(kept) >= 2000:
            kept.clear()
    elif BEHAVIOUR == "cycle":
        a, b = Node(), Node()
        a.other, b.other = b, a  # freed only by the cyclic GC
    return None
