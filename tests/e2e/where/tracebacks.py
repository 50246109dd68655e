# Exceptions kept with their tracebacks: each holds its frames and their locals.
import itertools

_seq = itertools.count()  # a number unique to each request
errors = []


def parse(n):
    scratch = bytearray(5000)
    raise ValueError("bad input %d" % n)


def handle(req):
    try:
        parse(next(_seq))
    except ValueError as e:
        errors.append(e)
