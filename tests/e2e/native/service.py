"""Kept and dropped results of real native libraries (Debian's python3-numpy,
-opencv, -lxml, -pil) and a ctypes malloc, one behaviour per arm. Each call
site carries a `# site: NAME` marker: the test reads the line from here and
expects the native site's Python line to be it."""
import ctypes
import os

import numpy as np

B = os.environ["BEHAVIOUR"]
KEEP = not B.endswith("-drop")
LIB = B[:-len("-drop")] if not KEEP else B
kept = []

if LIB == "ctypes":
    libc = ctypes.CDLL("libc.so.6")
    libc.malloc.restype = ctypes.c_void_p
    libc.free.argtypes = [ctypes.c_void_p]
elif LIB == "cv2":
    import cv2
    _img = (np.arange(48 * 64 * 3) % 251).astype(np.uint8).reshape(48, 64, 3)
    PNG = np.frombuffer(cv2.imencode(".png", _img)[1].tobytes(), np.uint8)
elif LIB == "lxml":
    from lxml import etree
    DOC = b"<r>" + b"".join(b"<i n='%d'>t%d</i>" % (i, i) for i in range(24)) + b"</r>"
elif LIB == "pil":
    from PIL import Image


def handle(req):
    if LIB == "ctypes":
        r = libc.malloc(6000)  # site: ctypes
        ctypes.memset(r, 1, 6000)
        if not KEEP:
            libc.free(r)
            r = None
    elif LIB == "numpy":
        r = np.ones(1000)  # site: numpy
    elif LIB == "cv2":
        r = cv2.imdecode(PNG, cv2.IMREAD_COLOR)  # site: cv2
    elif LIB == "lxml":
        r = etree.fromstring(DOC)  # site: lxml
    elif LIB == "pil":
        r = Image.new("RGB", (48, 64))  # site: pil
    if KEEP:
        kept.append(r)
    return "ok"
