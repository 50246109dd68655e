# Leaks 4 KiB of libc malloc per request through ctypes, outside the Python
# heap; the memset makes the pages resident.
import ctypes

libc = ctypes.CDLL(None)
libc.malloc.restype = ctypes.c_void_p
libc.malloc.argtypes = [ctypes.c_size_t]


def handle(req):
    sum(range(400))  # a little work, so the run spans enough samples
    p = libc.malloc(4096)
    ctypes.memset(p, 1, 4096)
