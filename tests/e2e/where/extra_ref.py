# A C-extension-style bug: an extra reference taken on a per-request object
# and never released (what a missing Py_DECREF does), via ctypes.
import itertools

_seq = itertools.count()  # a number unique to each request
import ctypes

_incref = ctypes.pythonapi.Py_IncRef
_incref.argtypes = [ctypes.py_object]
_incref.restype = None


def handle(req):
    payload = bytes(7000) + str(next(_seq)).encode()
    _incref(payload)
