"""An image-classification service: decode the upload, run the model, and
keep the features of recent requests in batches for a background job
(the last KEEP batches of BATCH requests: a sawtooth of a few MB that is
not a leak). Workers run predictions concurrently, as a threaded server
does."""
import collections
import threading

import numpy as np

import fakemodel
import imgcodec

BATCH = 32
KEEP = 4

MODEL = fakemodel.Model()
_lock = threading.Lock()
_current = []
_recent = collections.deque(maxlen=KEEP)


def handle(req):
    image = imgcodec.decode(req.get("body"))
    scores = MODEL.predict(image)
    features = image.astype(np.float32) / 255.0
    with _lock:
        _current.append(features)
        if len(_current) == BATCH:
            _recent.append(np.stack(_current))
            _current.clear()
    return {"label": int(np.argmax(scores)), "score": float(scores.max())}
