CONFIG = 1 / 0


def handle(req):
    pass
