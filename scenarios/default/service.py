"""A small recommendation service with a slow, realistic leak.

/predict scores a request and caches the result per user in an LRU of
bounded size (no leak); /session appends an audit record to a module-level
list that nothing ever trims (the leak: about 600 bytes per /session
request, a quarter of the traffic); /health does nothing.
"""
import collections
import hashlib
import time

CACHE_SIZE = 2000
cache = collections.OrderedDict()
audit = []


def score(features):
    h = hashlib.sha256(repr(sorted(features.items())).encode()).digest()
    return sum(h) / (255 * len(h))


def handle(req):
    route = req["route"]
    body = req.get("body") or {}
    if route == "/predict":
        user = body.get("user", 0)
        result = {"user": user, "score": score(body.get("features", {}))}
        cache[user] = result
        cache.move_to_end(user)
        if len(cache) > CACHE_SIZE:
            cache.popitem(last=False)
        return 200
    if route == "/session":
        audit.append({"session": body["session"], "user": body.get("user"),
                      "at": time.time(), "request": dict(body)})
        return 200
    return 200
