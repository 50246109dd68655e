# One service, four fates chosen by the arm's environment.
import os
import pyab

FATE = os.environ.get("FATE", "fine")
count = 0
kept = []


def handle(req):
    global count
    count += 1
    if count < 200 or (FATE == "crash" and count < 4000):
        return
    if FATE == "crash":
        os.kill(os.getpid(), 11)
    elif FATE == "hang":
        pyab.hold_gil(3600)
    elif FATE == "hog":
        kept.append(b"h" * (8 << 20))
