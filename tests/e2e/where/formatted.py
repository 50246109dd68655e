# Keeps one small string per request built by %-formatting: CPython's
# _PyUnicodeWriter over-allocates and then shrinks the block in place with
# realloc, which sampling must follow (a QA pass found it missed them).
import itertools

_seq = itertools.count()  # a number unique to each request
_keep = []
_pad = "p" * 80


def handle(req):
    _keep.append("%s-%d" % (_pad, next(_seq)))
    _keep.append(bytes(3000))
