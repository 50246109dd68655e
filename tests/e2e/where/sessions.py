# A session store without expiry: one dict entry (and its cart) per request.
import itertools

_seq = itertools.count()  # a number unique to each request
sessions = {}


class Session:
    def __init__(self, sid):
        self.sid = sid
        self.cart = [bytes(1500) for _ in range(4)]


def handle(req):
    sid = "s%d" % next(_seq)
    sessions[sid] = Session(sid)
