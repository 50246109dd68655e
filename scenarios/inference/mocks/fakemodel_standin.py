"""Stand-in for fakemodel: the same API and the same time per prediction
with the GIL released (so the load and the concurrency stay the same), but
no native runtime behind it, hence nothing of its to leak."""
import numpy as np

import pyab

LATENCY_S = 0.004


class Model:
    def __init__(self, latency_s=LATENCY_S):
        self.latency_s = latency_s
        self.calls = 0

    def predict(self, image):
        self.calls += 1
        pyab.release_gil(self.latency_s)
        return np.zeros(3, dtype=np.float32)
