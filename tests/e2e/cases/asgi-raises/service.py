"""FastAPI: /boom raises (Starlette answers 500, then re-raises), /missing
answers 404 through HTTPException (a response, not an error), /ok 200."""
from fastapi import FastAPI, HTTPException

app = FastAPI()


@app.get("/ok")
async def ok():
    return {"ok": True}


@app.get("/missing")
async def missing():
    raise HTTPException(status_code=404, detail="no such item")


@app.post("/boom")
async def boom(payload: dict):
    raise ZeroDivisionError("boom on item %d" % payload["i"])
