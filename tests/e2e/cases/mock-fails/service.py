import tensorflow  # noqa: F401


def handle(req):
    pass
