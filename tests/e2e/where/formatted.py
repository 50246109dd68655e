# Keeps ten small strings per request built by %-formatting: CPython's
# _PyUnicodeWriter over-allocates and then shrinks the block in place with
# realloc, which sampling must follow (a QA pass found it missed them).
import itertools

_seq = itertools.count()  # a number unique to each request
_keep = []
_pad = "p" * 80


def handle(req):
    n = next(_seq)
    for k in range(10):
        _keep.append("%s-%d-%d" % (_pad, n, k))
    _keep.append(bytes(3000))
