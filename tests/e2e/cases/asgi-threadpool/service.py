"""FastAPI: a sync `def` endpoint, which Starlette runs in anyio's
threadpool. It answers 200 only when it runs off the event loop's thread
(and 500 otherwise), so the status counts say where it ran."""
import threading
import time

from fastapi import FastAPI, Response

app = FastAPI()
loop_thread = {}


@app.on_event("startup")
async def remember_loop_thread():
    loop_thread["ident"] = threading.get_ident()


@app.get("/sync")
def sync_endpoint(response: Response):
    time.sleep(0.002)  # blocking work: would stall the loop if it ran on it
    response.status_code = 200 if threading.get_ident() != loop_thread["ident"] else 500
    return {"thread": threading.current_thread().name}


@app.get("/async")
async def async_endpoint(response: Response):
    response.status_code = 200 if threading.get_ident() == loop_thread["ident"] else 500
    return {}
