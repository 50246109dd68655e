"""A bare ASGI 3 app (no framework): lifespan, a body read in chunks, and a
leak of 256-byte buffers per /api request in the leaky arm."""
import os

LEAK = os.environ.get("ASGI_LEAK") == "1"
kept = []
state = {"started": False, "chunks": 0}


async def app(scope, receive, send):
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                state["started"] = True
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return
    if not state["started"]:
        raise RuntimeError("an http request before the lifespan startup")
    body = b""
    while True:
        message = await receive()
        body += message.get("body", b"")
        state["chunks"] += 1
        if not message.get("more_body"):
            break
    path = scope["path"]
    if path.startswith("/api"):
        if LEAK:
            kept.append(bytearray(1024))
        status = 200 if body.startswith(b'{"i":') else 400
    elif path == "/health":
        status = 204 if scope["method"] == "GET" else 405
    else:
        status = 404
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"text/plain")]})
    await send({"type": "http.response.body", "body": b"ok", "more_body": True})
    await send({"type": "http.response.body", "body": b""})
