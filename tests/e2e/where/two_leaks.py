# Two leaks of different sizes and allocation noise that does not survive.
import itertools

_seq = itertools.count()  # a number unique to each request
import json

big = []
small = {}


def handle(req):
    n = next(_seq)
    doc = json.dumps({"n": n, "items": list(range(200))})  # noise: dropped
    json.loads(doc)
    big.append(bytearray(9000))
    small[n] = "y" * 2000 + str(n)
