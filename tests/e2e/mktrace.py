"""Writes the small traces the e2e cases use (run once; the output is committed)."""
import json
import sys


def write(path, n, duration, routes=("/a",), body=None):
    with open(path, "w") as f:
        for i in range(n):
            rec = {"t": round(i * duration / n, 6), "route": routes[i % len(routes)],
                   "body": body if body is not None else {"i": i}}
            f.write(json.dumps(rec) + "\n")


if __name__ == "__main__":
    write(sys.argv[1], int(sys.argv[2]), float(sys.argv[3]),
          tuple(sys.argv[4].split(",")) if len(sys.argv) > 4 else ("/a",))
