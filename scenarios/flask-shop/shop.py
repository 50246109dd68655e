"""A small shop API on Flask: catalogue, search, cart, checkout, orders.

The leak is the kind that ships: an after_request hook records a metrics
line per request into a module-level buffer that only the /metrics scrape
drains. In this deployment nothing scrapes /metrics (the trace never calls
it), so the buffer grows by one small dict per request for ever.

PYAB_SHOP_FIXED=1 selects the fix: a bounded deque, so the buffer holds the
latest 1000 lines whether or not anyone scrapes.
"""
import collections
import os
import time

from flask import Flask, abort, g, jsonify, request

app = Flask(__name__)

FIXED = os.environ.get("PYAB_SHOP_FIXED") == "1"
_metrics = collections.deque(maxlen=1000) if FIXED else []

PRODUCTS = {i: {"id": i, "name": "product %d" % i, "price_cents": 199 + (i * 37) % 5000,
                "tags": ["t%d" % (i % 7), "t%d" % (i % 11)]}
            for i in range(1, 501)}
ORDERS = {}


@app.before_request
def _start_timer():
    g.started = time.perf_counter()


@app.after_request
def _record_metrics(response):
    _metrics.append({"path": request.path, "method": request.method,
                     "status": response.status_code,
                     "ms": (time.perf_counter() - g.started) * 1e3,
                     "agent": request.headers.get("User-Agent", "")})
    return response


@app.get("/health")
def health():
    return "ok\n"


@app.get("/metrics")
def metrics():
    lines = ["%s %s %d %.3f" % (m["method"], m["path"], m["status"], m["ms"]) for m in _metrics]
    _metrics.clear()
    return "\n".join(lines) + "\n", 200, {"Content-Type": "text/plain"}


@app.get("/api/products/<int:pid>")
def product(pid):
    p = PRODUCTS.get(pid)
    if p is None:
        abort(404)
    return jsonify(p)


@app.get("/api/search")
def search():
    q = request.args.get("q", "").lower()
    limit = min(int(request.args.get("limit", "10")), 50)
    hits = [p for p in PRODUCTS.values() if q in p["name"] or q in p["tags"]][:limit]
    return jsonify({"q": q, "count": len(hits), "items": hits})


@app.post("/api/cart")
def cart():
    body = request.get_json(silent=True)
    if not isinstance(body, dict) or not isinstance(body.get("items"), list):
        return jsonify({"error": "items must be a list"}), 400
    total = 0
    for item in body["items"]:
        p = PRODUCTS.get(item.get("id"))
        if p is None:
            return jsonify({"error": "no product %r" % item.get("id")}), 422
        total += p["price_cents"] * int(item.get("qty", 1))
    return jsonify({"items": len(body["items"]), "total_cents": total})


@app.post("/api/checkout")
def checkout():
    body = request.get_json(silent=True) or {}
    cart_id = body.get("cart")
    if not cart_id:
        return jsonify({"error": "cart missing"}), 400
    order_id = len(ORDERS) % 200 + 1
    ORDERS[order_id] = {"cart": cart_id, "status": "placed"}  # 200 slots, reused
    return jsonify({"order": order_id}), 201


@app.get("/api/orders/<int:oid>")
def order(oid):
    o = ORDERS.get(oid)
    if o is None:
        return jsonify({"error": "not found"}), 404
    return jsonify(o)
