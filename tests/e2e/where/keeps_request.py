# Keeps every request it is handed: the memory was allocated by pyab when it
# built the request from the trace record, not by a line of the service.
kept = []


def handle(req):
    kept.append(req)
