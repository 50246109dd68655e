"""FastAPI whose startup handler fails (a model file that is not there):
Starlette sends lifespan.startup.failed with the traceback."""
from fastapi import FastAPI

app = FastAPI()


@app.on_event("startup")
async def load_model():
    raise FileNotFoundError("model weights /srv/model/weights.npy are missing")


@app.get("/ok")
async def ok():
    return {}
