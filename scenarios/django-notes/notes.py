"""A small Django notes API in one file: settings configured in code, no
database (notes live in a bounded in-memory store), a WSGI entry point
`notes:application`.

The leak: RecentRequestsMiddleware records every request's metadata for a
"recent requests" debug page (/debug/recent) that nobody opens. The record
list is module-level and never trimmed, so it grows by one dict per request.
The fix (PYAB_NOTES_FIXED=1) keeps the last 500 in a deque(maxlen=500).

Routes:
  GET    /health
  GET    /api/notes?tag=T&limit=N   list (newest first, filtered by tag)
  POST   /api/notes                 create {"title", "body", "tags"}
  GET    /api/notes/<id>            one note
  PATCH  /api/notes/<id>            update some fields
  DELETE /api/notes/<id>            remove
  GET    /debug/recent              the debug page (not in the trace)
"""
import collections
import json
import os
import random
import threading
import time

import django
from django.conf import settings

settings.configure(
    DEBUG=False,
    SECRET_KEY="pyab-django-notes-not-a-secret",
    ALLOWED_HOSTS=["*"],
    ROOT_URLCONF=__name__,
    INSTALLED_APPS=[],
    DATABASES={},
    MIDDLEWARE=[
        "django.middleware.security.SecurityMiddleware",
        "django.middleware.common.CommonMiddleware",
        __name__ + ".RecentRequestsMiddleware",
    ],
    USE_TZ=True,
    USE_I18N=False,
)
django.setup()

from django.core.wsgi import get_wsgi_application  # noqa: E402  (needs settings)
from django.http import HttpResponse, JsonResponse  # noqa: E402
from django.urls import path  # noqa: E402
from django.views.decorators.http import require_http_methods  # noqa: E402

FIXED = os.environ.get("PYAB_NOTES_FIXED") == "1"

# --- the debug buffer (the leak) -------------------------------------------
if FIXED:
    RECENT = collections.deque(maxlen=500)
else:
    RECENT = []


class RecentRequestsMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        t0 = time.perf_counter()
        response = self.get_response(request)
        RECENT.append({
            "at": time.time(),
            "method": request.method,
            "path": request.path,
            "query": request.META.get("QUERY_STRING", ""),
            "status": response.status_code,
            "ms": round((time.perf_counter() - t0) * 1000.0, 3),
            "agent": request.META.get("HTTP_USER_AGENT", ""),
            "request_id": request.META.get("HTTP_X_REQUEST_ID", ""),
            "bytes_in": len(request.body) if request.method in ("POST", "PATCH") else 0,
        })
        return response


# --- the store: SAMPLES sample notes + at most CAPACITY user notes ---------
SAMPLES = 300
CAPACITY = 200
TAGS = ["work", "home", "ideas", "reading", "travel", "groceries", "django", "todo"]
_lock = threading.Lock()
_notes = collections.OrderedDict()
_next_id = 1001
_user_notes = collections.deque()


def _put(nid, title, body, tags):
    now = time.time()
    _notes[nid] = {"id": nid, "title": title, "body": body, "tags": list(tags),
                   "created": now, "updated": now}
    return _notes[nid]


def _create(title, body, tags):
    """A user's note: ids from 1001 on; beyond CAPACITY user notes the
    oldest one is evicted (the 300 sample notes, ids 1..300, stay)."""
    global _next_id
    with _lock:
        nid = _next_id
        _next_id += 1
        note = _put(nid, title, body, tags)
        _user_notes.append(nid)
        while len(_user_notes) > CAPACITY:
            _notes.pop(_user_notes.popleft(), None)
        return note


def _seed():
    global _next_id, _user_notes
    rng = random.Random(7)
    for i in range(1, SAMPLES + 1):
        _put(i, f"note {i}", " ".join(rng.choice(TAGS) for _ in range(12)),
             rng.sample(TAGS, rng.randint(1, 3)))
    _next_id = 1001
    _user_notes = collections.deque()


_seed()


def _bad(msg, status=400):
    return JsonResponse({"error": msg}, status=status)


def _parse(request):
    try:
        data = json.loads(request.body or b"null")
    except ValueError:
        return None
    return data if isinstance(data, dict) else None


# --- views -----------------------------------------------------------------
def health(request):
    return JsonResponse({"ok": True, "notes": len(_notes)})


@require_http_methods(["GET", "POST"])
def notes(request):
    if request.method == "POST":
        data = _parse(request)
        if data is None or not isinstance(data.get("title"), str) or not data["title"]:
            return _bad("a JSON object with a non-empty title is required")
        tags = data.get("tags", [])
        if not isinstance(tags, list) or not all(isinstance(t, str) for t in tags):
            return _bad("tags must be a list of strings")
        note = _create(data["title"], str(data.get("body", "")), tags)
        return JsonResponse(note, status=201)
    tag = request.GET.get("tag")
    try:
        limit = max(1, min(100, int(request.GET.get("limit", "20"))))
    except ValueError:
        return _bad("limit must be an integer")
    with _lock:
        items = list(reversed(_notes.values()))
    if tag:
        items = [n for n in items if tag in n["tags"]]
    return JsonResponse({"count": len(items),
                         "notes": [{"id": n["id"], "title": n["title"], "tags": n["tags"]}
                                   for n in items[:limit]]})


@require_http_methods(["GET", "PATCH", "DELETE"])
def note(request, nid):
    with _lock:
        found = _notes.get(nid)
    if found is None:
        return _bad(f"no note {nid}", 404)
    if request.method == "GET":
        return JsonResponse(found)
    if request.method == "DELETE":
        with _lock:
            _notes.pop(nid, None)  # a user note's id stays in _user_notes until evicted
        return HttpResponse(status=204)
    data = _parse(request)
    if data is None:
        return _bad("a JSON object is required")
    with _lock:
        for key in ("title", "body"):
            if isinstance(data.get(key), str):
                found[key] = data[key]
        if isinstance(data.get("tags"), list):
            found["tags"] = [t for t in data["tags"] if isinstance(t, str)]
        found["updated"] = time.time()
        return JsonResponse(found)


def recent(request):
    return JsonResponse({"fixed": FIXED, "kept": len(RECENT), "requests": list(RECENT)[-50:]})


urlpatterns = [
    path("health", health),
    path("api/notes", notes),
    path("api/notes/<int:nid>", note),
    path("debug/recent", recent),
]

application = get_wsgi_application()
