kept = []


def handle(req):
    kept.append(b"m" * (4 << 20))
