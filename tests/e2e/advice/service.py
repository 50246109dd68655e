# Services for tests/e2e/test_advice.py: one behaviour per BEHAVIOUR.
import os

BEHAVIOUR = os.environ.get("BEHAVIOUR", "noop")
kept = []


def handle(req):
    if BEHAVIOUR == "slow-leak":
        kept.append(None)  # 8 B a request: the list's slot
    elif BEHAVIOUR == "sawtooth":
        kept.append(bytes(1000))
        if len(kept) >= 2000:
            kept.clear()
    return None
