# Makes a little cyclic garbage; in the "meddles" arm it turns the collector
# back on behind the harness's back, as some libraries do.
import gc
import os

count = 0


class Node:
    def __init__(self):
        self.me = self


def handle(req):
    global count
    count += 1
    Node()
    if os.environ.get("MEDDLE") and count == 100:
        gc.enable()
