"""fakemodel: the service's model library (think TensorFlow or ONNX Runtime).

predict() runs the "graph" in native code with the GIL released, as real
inference runtimes do. Its per-session scratch cache is not thread-safe:
when two predictions overlap, the one that loses the race leaks its
scratch block (pyab.native_call's leak_on_overlap). Called one at a time,
it never leaks; that is what made the leak hard to find.
"""
import numpy as np

import pyab

LATENCY_S = 0.004
SCRATCH_BYTES = 32 * 1024


class Model:
    def __init__(self, latency_s=LATENCY_S):
        self.latency_s = latency_s
        self.calls = 0

    def predict(self, image):
        self.calls += 1
        pyab.native_call(self.latency_s, leak_on_overlap=SCRATCH_BYTES)
        return image.reshape(-1, 3).mean(axis=0).astype(np.float32)
