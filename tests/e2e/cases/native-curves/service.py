# One pyab behaviour per arm, 4 KiB a request, to check which curve it moves.
import os

import pyab

BEHAVIOUR = os.environ["BEHAVIOUR"]
kept = []


def handle(req):
    if BEHAVIOUR == "malloc":
        pyab.leak(4096)  # malloc, never freed: native
    elif BEHAVIOUR == "mmap":
        pyab.leak(4096, kind="mmap")  # outside malloc: RSS only
    elif BEHAVIOUR == "pyobj":
        kept.append(bytearray(4096))  # a Python object kept: pyheap
    elif BEHAVIOUR == "buffer":
        kept.append(pyab.buffer(4096))  # native payload held by a small object: native
    elif BEHAVIOUR == "leak_ref":
        pyab.leak_ref(bytearray(4096))  # a reference never dropped: pyheap
