"""A WSGI app whose status depends on the path, to check the per-route
status classes pyab counts (1xx..5xx), write() and exc_info handling."""
import sys

STATUS = {"/ok": "200 OK", "/created": "201 Created", "/moved": "302 Found",
          "/missing": "404 Not Found", "/fail": "503 Service Unavailable",
          "/early": "103 Early Hints"}


def app(environ, start_response):
    path = environ["PATH_INFO"]
    if path == "/raise":
        raise KeyError("boom")
    if path == "/write":
        # The legacy write() callable, then an empty iterable.
        write = start_response("200 OK", [("Content-Type", "text/plain")])
        write(b"written")
        return []
    if path == "/recover":
        # An error page after a failure, before any body: exc_info replaces the status.
        start_response("200 OK", [])
        try:
            raise ValueError("late failure")
        except ValueError:
            start_response("500 Internal Server Error", [], sys.exc_info())
        return [b"error page"]
    start_response(STATUS[path], [("Content-Type", "text/plain")])
    return [b"body"]
