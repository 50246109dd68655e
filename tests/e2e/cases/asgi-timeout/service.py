"""FastAPI: /stuck awaits an event nobody sets, so it never responds; /ok
answers at once. Each /stuck task must be cancelled at timeout_ms."""
import asyncio

from fastapi import FastAPI

app = FastAPI()
never = None
cancelled = {"n": 0}


@app.get("/ok")
async def ok():
    return {"cancelled_so_far": cancelled["n"]}


@app.get("/stuck")
async def stuck():
    global never
    if never is None:
        never = asyncio.Event()
    try:
        await never.wait()
    except asyncio.CancelledError:
        cancelled["n"] += 1
        raise
