# The same cache with a bound: it fills, then evicts; nothing grows.
import itertools

_seq = itertools.count()  # a number unique to each request
import functools


@functools.lru_cache(maxsize=200)
def render(key):
    return "<p>%s</p>" % key + "x" * 6000


def handle(req):
    render(next(_seq))
