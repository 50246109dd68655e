# Keeps 10 KiB of Python bytes per request: the Python heap grows by
# sys.getsizeof(b"x" * 10240) = 10273 bytes, plus 8 for the list slot.
kept = []


def handle(req):
    sum(range(400))  # a little work, so the run spans enough samples
    kept.append(b"x" * 10240)
