"""An image-classification API in FastAPI, as such services are written.

POST /predict takes {"id": ..., "image": <base64 of a binary PGM>}, decodes
the image with numpy, scales it to the model's 32x32 input, runs a small
two-layer model (numpy matmuls, weights made at start-up by the lifespan
startup handler) and answers the top classes. After answering it hands an audit
record to a background task, the way asyncio's documentation suggests:
keep a reference to the task in a set so it is not garbage-collected
mid-flight, and discard it when it is done.

The leak (the default, leaky arm) is the half-copied version of that
pattern: the task is added to the set and never discarded, so every
finished task stays reachable with its result (the audit record). The
fixed arm (INFER_FIXED=1) adds the done-callback that discards it.

GET /health is a plain `def` endpoint (Starlette runs it in anyio's
threadpool); GET /model answers the model's shape.
"""
import asyncio
import base64
import os

import numpy as np
from fastapi import FastAPI, HTTPException
from pydantic import BaseModel

FIXED = os.environ.get("INFER_FIXED") == "1"
SIDE = 32
CLASSES = ["cat", "dog", "bird", "car", "tree", "boat", "cup", "lamp", "shoe", "book"]

model = {}
background = set()
audited = {"count": 0}


app = FastAPI()


@app.on_event("startup")
async def load_model():
    rng = np.random.default_rng(7)
    model["w1"] = rng.standard_normal((SIDE * SIDE, 64)).astype(np.float32) / SIDE
    model["w2"] = rng.standard_normal((64, len(CLASSES))).astype(np.float32) / 8


@app.on_event("shutdown")
async def unload_model():
    model.clear()


class Image(BaseModel):
    id: int
    image: str


def decode_pgm(data):
    """A binary PGM (P5, 8-bit) as a 2-D uint8 array."""
    if not data.startswith(b"P5"):
        raise ValueError("not a binary PGM")
    fields, pos = [], 2
    while len(fields) < 3:
        while data[pos:pos + 1].isspace():
            pos += 1
        end = pos
        while not data[end:end + 1].isspace():
            end += 1
        fields.append(int(data[pos:end]))
        pos = end
    width, height, maxval = fields
    if maxval > 255:
        raise ValueError("16-bit PGM not supported")
    pixels = np.frombuffer(data, dtype=np.uint8, count=width * height, offset=pos + 1)
    return pixels.reshape(height, width)


def to_input(img):
    """Nearest-neighbour resize to SIDE x SIDE, scaled to [0, 1]."""
    rows = np.arange(SIDE) * img.shape[0] // SIDE
    cols = np.arange(SIDE) * img.shape[1] // SIDE
    return img[rows][:, cols].astype(np.float32).reshape(-1) / 255.0


def predict(x):
    h = np.maximum(x @ model["w1"], 0)
    z = h @ model["w2"]
    p = np.exp(z - z.max())
    return p / p.sum()


async def audit(record):
    # Stands in for a write to an audit log or a metrics pipeline.
    await asyncio.sleep(0)
    audited["count"] += 1
    return record


@app.post("/predict")
async def predict_endpoint(item: Image):
    try:
        img = decode_pgm(base64.b64decode(item.image))
    except ValueError as exc:
        raise HTTPException(status_code=422, detail=str(exc))
    probs = predict(to_input(img))
    top = np.argsort(probs)[::-1][:3]
    answer = {"id": item.id, "top": [{"label": CLASSES[i], "p": round(float(probs[i]), 4)}
                                     for i in top]}
    record = {"id": item.id, "shape": list(img.shape), "probs": probs.tolist(),
              "answer": answer}
    task = asyncio.create_task(audit(record))
    background.add(task)
    if FIXED:
        task.add_done_callback(background.discard)
    return answer


@app.get("/health")
def health():
    return {"ok": bool(model), "in_background": len(background)}


@app.get("/model")
async def model_info():
    return {"input": [SIDE, SIDE], "classes": CLASSES, "hidden": int(model["w1"].shape[1])}
