"""A handler that calls a C extension once per request.

With LEAK=1 the extension keeps one reference to an object that lives for
the whole process (so no memory grows: only the reference count does);
with LEAK=0 it releases it. A debug interpreter's sys.gettotalrefcount()
tells the two apart; RSS and the Python heap cannot.
"""
import os

import leaky

SHARED = ["an object that lives for the whole process"]
call = leaky.keep if os.environ.get("LEAK") == "1" else leaky.fine


def handle(request):
    call(SHARED)
    return {"ok": True, "n": len(request.get("route", ""))}
