# Allocates per request and keeps nothing.
import itertools

_seq = itertools.count()  # a number unique to each request
import json


def handle(req):
    doc = json.dumps({"n": next(_seq), "payload": "z" * 5000})
    json.loads(doc)
