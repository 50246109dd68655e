# Hangs inside native code that holds the GIL: no exception can reach it,
# so only limits.run_seconds ends the rep.
import pyab

count = 0


def handle(req):
    global count
    count += 1
    if count == 50:
        pyab.hold_gil(3600)
