# Every request makes a reference cycle with a payload; the arm turns the GC
# off, so the cycles are never collected.
class Node:
    def __init__(self):
        self.me = self
        self.data = bytearray(6000)


def handle(req):
    Node()
