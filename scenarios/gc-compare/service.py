"""A service with a large long-lived heap that makes cyclic garbage.

At import it builds a catalogue of 300k small objects that lives for the
whole process (what a service loads at start: config, models' metadata,
caches). Every request builds a little parse tree whose nodes point at
their parents and children: cyclic garbage that only the cyclic collector
frees. So:
- with the collector off, memory grows without bound (a leak);
- the default thresholds collect often, and every full collection walks
  the whole catalogue (long gen-2 pauses);
- gc.freeze() after warm-up moves the catalogue out of the collector's
  view, so full collections stay short;
- raised thresholds collect less often, with fewer but longer pauses.
"""

CATALOGUE = [{"sku": i, "tags": [i % 7, i % 11]} for i in range(100_000)]


class Node:
    __slots__ = ("parent", "children", "value")

    def __init__(self, parent, value):
        self.parent = parent
        self.children = []
        self.value = value
        if parent is not None:
            parent.children.append(self)


def handle(req):
    body = req.get("body") or {}
    root = Node(None, body.get("q", 0))
    for i in range(10):
        Node(root, i)
    return len(root.children)
