# Keeps every request's 8000-byte payload in a module global: the classic leak.
_audit = []


def handle(req):
    _audit.append(bytes(8000))
