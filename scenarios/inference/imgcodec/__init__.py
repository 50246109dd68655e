"""imgcodec: the service's image decoder (think Pillow or libjpeg-turbo).

decode() writes pixels into a buffer the native codec allocated and hands
it to numpy without a copy, so an image's payload lives outside the Python
heap (pyab.buffer) and is freed when the last array viewing it dies.
"""
import numpy as np

import pyab

SHAPE = (64, 64, 3)


def decode(body):
    raw = pyab.buffer(SHAPE[0] * SHAPE[1] * SHAPE[2])
    return np.frombuffer(raw, dtype=np.uint8).reshape(SHAPE)
