# A finalizer that stores self: every request's record is freed, its __del__
# runs and puts it back in a module list. It survives, finalized.
graveyard = []


class Record(bytes):
    def __del__(self):
        graveyard.append(self)


def handle(req):
    Record(bytes(7000))
