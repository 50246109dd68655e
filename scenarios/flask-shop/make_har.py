"""Writes shop.har: a browser-style HAR 1.2 capture of a shopping session
mix against the shop API (what DevTools "Save all as HAR" gives), seeded so
it is reproducible. The trace replayed by the scenario is derived from it:

    pyab trace import shop.har -o trace.jsonl --route-from template
"""
import json
import random
from datetime import datetime, timedelta, timezone

rng = random.Random(20240601)
START = datetime(2024, 6, 1, 9, 30, 0, tzinfo=timezone.utc)
AGENTS = ["Mozilla/5.0 (X11; Linux x86_64; rv:126.0) Gecko/20100101 Firefox/126.0",
          "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 Safari/605.1.15",
          "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) Mobile/15E148"]
WORDS = ["product", "t1", "t3", "t5", "lamp", "product 4", "t10", "mug"]


def header_list(d):
    return [{"name": k, "value": v} for k, v in d.items()]


def entry(t, method, path, query="", body=None, status=200):
    url = "https://shop.example.com" + path + ("?" + query if query else "")
    session = "sess-%04d" % rng.randrange(60)
    headers = {":authority": "shop.example.com", "Host": "shop.example.com",
               "User-Agent": rng.choice(AGENTS), "Accept": "application/json",
               "Cookie": "session=%s" % session, "X-Request-Id": "%016x" % rng.getrandbits(64)}
    req = {"method": method, "url": url, "httpVersion": "HTTP/2",
           "headers": header_list(headers), "queryString": [], "cookies": [],
           "headersSize": -1, "bodySize": 0}
    if body is not None:
        text = json.dumps(body)
        headers["Content-Type"] = "application/json"
        req["headers"] = header_list(headers)
        req["postData"] = {"mimeType": "application/json", "text": text}
        req["bodySize"] = len(text)
    return {"startedDateTime": (START + timedelta(seconds=t)).isoformat(timespec="milliseconds"),
            "time": rng.uniform(5, 40), "request": req,
            "response": {"status": status, "statusText": "", "httpVersion": "HTTP/2",
                         "headers": [], "cookies": [], "content": {"size": 0, "mimeType": "application/json"},
                         "redirectURL": "", "headersSize": -1, "bodySize": -1},
            "cache": {}, "timings": {"send": 0, "wait": 10, "receive": 1}}


entries = []
t = 0.0
while t < 120:
    t += rng.expovariate(4.0)  # about 4 requests per second
    kind = rng.choices(["product", "search", "cart", "checkout", "order", "health"],
                       [45, 20, 15, 6, 10, 4])[0]
    if kind == "product":
        pid = rng.randrange(1, 520)  # ids above 500 do not exist: 404
        entries.append(entry(t, "GET", "/api/products/%d" % pid, status=200 if pid <= 500 else 404))
    elif kind == "search":
        q = "q=%s&limit=%d" % (rng.choice(WORDS).replace(" ", "+"), rng.choice([5, 10, 20]))
        entries.append(entry(t, "GET", "/api/search", q))
    elif kind == "cart":
        items = [{"id": rng.randrange(1, 505), "qty": rng.randrange(1, 4)}
                 for _ in range(rng.randrange(1, 5))]
        entries.append(entry(t, "POST", "/api/cart", body={"items": items}))
    elif kind == "checkout":
        entries.append(entry(t, "POST", "/api/checkout",
                             body={"cart": "c-%d" % rng.randrange(10000), "pay": "card"},
                             status=201))
    elif kind == "order":
        entries.append(entry(t, "GET", "/api/orders/%d" % rng.randrange(1, 40)))
    else:
        entries.append(entry(t, "GET", "/health"))

har = {"log": {"version": "1.2", "creator": {"name": "Firefox", "version": "126.0"},
               "pages": [], "entries": entries}}
with open("shop.har", "w") as f:
    json.dump(har, f, separators=(",", ":"))
    f.write("\n")
print("%d entries over %.0f s" % (len(entries), t))
