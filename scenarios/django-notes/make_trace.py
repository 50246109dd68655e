"""Writes trace.jsonl: a fixed-seed, 60 s browser-session-like mix against the
notes API (list, read, create, edit, health; no deletes, so every
pass over the trace meets the same notes and gets the same statuses), JSON bodies on writes.

    /usr/bin/python3 scenarios/django-notes/make_trace.py > scenarios/django-notes/trace.jsonl
"""
import json
import random

rng = random.Random(20240611)
TAGS = ["work", "home", "ideas", "reading", "travel", "groceries", "django", "todo"]
WORDS = ("meeting notes draft follow up buy milk call review ship release fix bug "
         "book flight read chapter plan sprint retro idea sketch").split()
AGENTS = [
    "Mozilla/5.0 (X11; Linux x86_64; rv:126.0) Gecko/20100101 Firefox/126.0",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 Safari/605.1.15",
    "notes-ios/3.4.1 (iPhone; iOS 17.5)",
    "notes-android/3.4.0 (Pixel 8; Android 14)",
]


def text(n):
    return " ".join(rng.choice(WORDS) for _ in range(n))


def record(t):
    headers = {"Host": "notes.example.com", "User-Agent": rng.choice(AGENTS),
               "Accept": "application/json", "X-Request-Id": "%016x" % rng.getrandbits(64)}
    r = {"t": round(t, 3)}
    kind = rng.choices(["list", "get", "create", "patch", "health"], [30, 38, 15, 10, 7])[0]
    nid = rng.randint(1, 330)  # sample notes are ids 1..300: 301..330 answer 404
    if kind == "list":
        q = {"limit": str(rng.choice([10, 20, 50]))}
        if rng.random() < 0.6:
            q["tag"] = rng.choice(TAGS)
        r.update(route="/api/notes", method="GET", path="/api/notes", query=q)
    elif kind == "get":
        r.update(route="/api/notes/{id}", method="GET", path=f"/api/notes/{nid}")
    elif kind == "create":
        r.update(route="/api/notes", method="POST", path="/api/notes",
                 body={"title": text(rng.randint(2, 5)), "body": text(rng.randint(10, 60)),
                       "tags": rng.sample(TAGS, rng.randint(0, 3))})
    elif kind == "patch":
        body = {"body": text(rng.randint(5, 40))}
        if rng.random() < 0.4:
            body["tags"] = rng.sample(TAGS, rng.randint(1, 2))
        r.update(route="/api/notes/{id}", method="PATCH", path=f"/api/notes/{nid}", body=body)
    else:
        r.update(route="/health", method="GET", path="/health")
    r["headers"] = headers
    return r


t = 0.0
while t < 60.0:
    print(json.dumps(record(t), separators=(",", ":")))
    t += rng.expovariate(7.0)
