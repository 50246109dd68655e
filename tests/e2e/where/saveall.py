# gc.DEBUG_SAVEALL: every collected cycle goes to gc.garbage instead of being
# freed; each request makes one two-object cycle.
import gc

gc.set_debug(gc.DEBUG_SAVEALL)


class Pair:
    def __init__(self):
        self.other = Pair.__new__(Pair)
        self.other.other = self


def handle(req):
    Pair()
