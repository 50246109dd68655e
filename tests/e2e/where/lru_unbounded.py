# An unbounded functools.lru_cache keyed by something unique per request.
import itertools

_seq = itertools.count()  # a number unique to each request
import functools


@functools.lru_cache(maxsize=None)
def render(key):
    return "<p>%s</p>" % key + "x" * 6000


def handle(req):
    render(next(_seq))
