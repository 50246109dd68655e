"""A GC-heavy service on the standard library only, for comparing Pythons.

At import it builds a catalogue of 100k small records that lives for the
whole process, as a service's start-up data does; every full collection
walks it. Every request parses its query into a little tree whose nodes
point at their parents and children (cyclic garbage only the cyclic
collector frees), renders it with json, and keeps the last 500 answers in
a bounded cache. Nothing leaks: the cache is bounded and the trees die with
each request, so the arms differ in how often the collector runs (3.13
raised threshold0 from 700 to 2000), how long it pauses, and how fast the
interpreter is, not in whether memory grows.
"""
import collections
import json


class Record:
    __slots__ = ("sku", "name", "tags", "price")

    def __init__(self, i):
        self.sku = i
        self.name = "item-%06d" % i
        self.tags = ("t%d" % (i % 7), "t%d" % (i % 11))
        self.price = (i * 37) % 1000 / 10.0


CATALOGUE = [Record(i) for i in range(100_000)]
CACHE = collections.OrderedDict()
CACHE_MAX = 500


class Node:
    def __init__(self, label, parent=None):
        self.label = label
        self.parent = parent
        self.children = []
        if parent is not None:
            parent.children.append(self)


def parse(words):
    """A tree of words: each word a child of the one before it, every third a sibling."""
    root = Node("query")
    cur = root
    for i, w in enumerate(words):
        node = Node(w, cur if i % 3 else root)
        cur = node
    return root


def render(node):
    return {"l": node.label, "c": [render(c) for c in node.children]}


def handle(request):
    body = request.get("body") or {}
    q = int(body.get("q", 0))
    words = ["w%d" % ((q * k) % 97) for k in range(1, 13)]
    tree = parse(words)
    hits = [CATALOGUE[(q * 7919 + k) % len(CATALOGUE)] for k in range(8)]
    answer = json.dumps({"tree": render(tree), "hits": [(r.sku, r.name, r.price) for r in hits]})
    CACHE[q] = answer
    if len(CACHE) > CACHE_MAX:
        CACHE.popitem(last=False)
    return len(answer)
