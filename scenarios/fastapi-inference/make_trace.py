"""Writes trace.jsonl: 4 s of traffic at 150 req/s with a 5x peak from
1.5 s to 2.3 s; /predict bodies carry PGM images of 16x16 to 40x40 pixels
(a few malformed), and /health and /model are polled. Seeded: the same
file every time.  python3 make_trace.py"""
import base64
import json
import random

rng = random.Random(16)


def pgm(w, h):
    pixels = bytes(rng.randrange(256) for _ in range(w * h))
    return b"P5\n%d %d\n255\n" % (w, h) + pixels


def rate(t):
    return 750 if 1.5 <= t < 2.3 else 150


records, t, n = [], 0.0, 0
while t < 4.0:
    t += rng.expovariate(rate(t))
    n += 1
    u = rng.random()
    if u < 0.05:
        records.append({"t": round(t, 6), "route": "/health", "method": "GET"})
    elif u < 0.07:
        records.append({"t": round(t, 6), "route": "/model", "method": "GET"})
    else:
        side = rng.choice([16, 24, 32, 40])
        img = pgm(side, side) if rng.random() > 0.01 else b"GIF89a" + bytes(20)
        records.append({"t": round(t, 6), "route": "/predict", "method": "POST",
                        "headers": {"Content-Type": "application/json"},
                        "body": {"id": n, "image": base64.b64encode(img).decode()}})
with open("trace.jsonl", "w") as f:
    for r in records:
        f.write(json.dumps(r, separators=(",", ":")) + "\n")
print(len(records), "records")
