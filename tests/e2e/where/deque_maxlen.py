# The last 300 payloads, in a deque with maxlen: bounded.
import collections

recent = collections.deque(maxlen=300)


def handle(req):
    recent.append(bytearray(6000))
