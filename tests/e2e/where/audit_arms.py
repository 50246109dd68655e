# Arm "leaky" keeps every request's payload; arm "fixed" (AUDIT_FIXED=1) keeps
# only the last 100: what pyab compare must show as the site arm B removed.
import collections
import os

_audit = collections.deque(maxlen=100) if os.environ.get("AUDIT_FIXED") else []


def handle(req):
    _audit.append(bytes(8000))
    sum(range(300))
