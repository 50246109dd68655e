#!/usr/bin/python3
"""Opens a generated report in headless Chromium and checks what a reader gets.

    browser_test.py --tool REPORT_TOOL --kind small|large --workdir DIR [--png]

Makes a fixture results folder (make_fixture.py) in DIR, runs REPORT_TOOL
on it (`pyab report` or the test's own wrapper), then drives Chromium over
the DevTools protocol on a pipe (--remote-debugging-pipe: no websocket, no
PyPI) and checks:
  - every chart canvas was drawn (the page's data-rendered flag, and pixels
    on each canvas), and dragging across a chart zooms it;
  - no console error, uncaught exception or error log entry;
  - no script from the data ran (window.__pwned unset, title untouched) and
    the hostile strings show as text;
  - --png: report.png is a PNG of sensible size;
  - with --kind small, also a broken folder (make_fixture.py broken): a run
    cut off by a kill says so, failed reps show their outcome and reason on
    their arm's card, skipped reps their reason, twelve arms stay apart
    (colour and line style), GC charts without collections say so, the
    throughput axis is clipped to the steady part, and the native chart is
    titled with the column it draws.
Saves a full-page screenshot in DIR and prints the load time (navigation
start to every chart drawn); timings are printed, never asserted.
Exit 77 (skip) when Chromium is absent. Debian's python3 only.
"""
import argparse
import base64
import fcntl
import json
import os
import shutil
import struct
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import make_fixture  # noqa: E402

CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync",
                  "--hide-scrollbars", "--remote-debugging-pipe"]

failures = []


def check(cond, what):
    print(("ok   " if cond else "FAIL ") + what)
    if not cond:
        failures.append(what)


class Browser:
    """A headless Chromium and one page, spoken to over fds 3 and 4."""

    def __init__(self, exe, profile):
        to_child_r, self.to_child = os.pipe()
        self.from_child, from_child_w = os.pipe()

        def wire():  # in the child: the protocol wants fd 3 to read and fd 4 to write
            a = fcntl.fcntl(to_child_r, fcntl.F_DUPFD, 10)
            b = fcntl.fcntl(from_child_w, fcntl.F_DUPFD, 10)
            os.dup2(a, 3)
            os.dup2(b, 4)

        self.log = open(os.path.join(profile, "chromium.log"), "w")
        self.proc = subprocess.Popen([exe] + CHROMIUM_FLAGS + ["--user-data-dir=" + profile, "about:blank"],
                                     preexec_fn=wire, pass_fds=(3, 4), stdin=subprocess.DEVNULL,
                                     stdout=self.log, stderr=self.log)
        os.close(to_child_r)
        os.close(from_child_w)
        self.buf = b""
        self.next_id = 0
        self.events = []
        self.session = None

    def _read_message(self, deadline):
        while b"\0" not in self.buf:
            if time.monotonic() > deadline:
                raise TimeoutError("no answer from Chromium")
            chunk = os.read(self.from_child, 1 << 20)
            if not chunk:
                raise RuntimeError("Chromium closed the pipe (see chromium.log)")
            self.buf += chunk
        msg, self.buf = self.buf.split(b"\0", 1)
        return json.loads(msg)

    def call(self, method, params=None, session=True, timeout=60):
        self.next_id += 1
        msg = {"id": self.next_id, "method": method, "params": params or {}}
        if session and self.session:
            msg["sessionId"] = self.session
        os.write(self.to_child, json.dumps(msg).encode() + b"\0")
        deadline = time.monotonic() + timeout
        while True:
            reply = self._read_message(deadline)
            if reply.get("id") == self.next_id:
                if "error" in reply:
                    raise RuntimeError("%s: %s" % (method, reply["error"]))
                return reply.get("result", {})
            self.events.append(reply)

    def open_page(self):
        target = self.call("Target.createTarget", {"url": "about:blank"}, session=False)["targetId"]
        self.session = self.call("Target.attachToTarget", {"targetId": target, "flatten": True},
                                 session=False)["sessionId"]
        for domain in ("Page", "Runtime", "Log"):
            self.call(domain + ".enable")
        self.call("Emulation.setDeviceMetricsOverride",
                  {"width": 1400, "height": 1000, "deviceScaleFactor": 1, "mobile": False})

    def eval(self, expr):
        r = self.call("Runtime.evaluate", {"expression": expr, "returnByValue": True, "awaitPromise": True})
        if "exceptionDetails" in r:
            raise RuntimeError("evaluate %s: %s" % (expr, r["exceptionDetails"]))
        return r["result"].get("value")

    def mouse(self, kind, x, y):
        self.call("Input.dispatchMouseEvent", {"type": kind, "x": x, "y": y, "button": "left",
                                               "buttons": 1 if kind != "mouseReleased" else 0, "clickCount": 1})

    def problems(self):
        """Console errors, uncaught exceptions and error log entries seen so far."""
        out = []
        for ev in self.events:
            m, p = ev.get("method"), ev.get("params", {})
            if m == "Runtime.exceptionThrown":
                out.append("exception: " + json.dumps(p.get("exceptionDetails", {}))[:400])
            elif m == "Runtime.consoleAPICalled" and p.get("type") in ("error", "assert"):
                out.append("console.%s: %s" % (p["type"], json.dumps(p.get("args"))[:400]))
            elif m == "Log.entryAdded" and p.get("entry", {}).get("level") == "error":
                out.append("log: " + p["entry"].get("text", "")[:400])
        return out

    def close(self):
        try:
            self.call("Browser.close", session=False, timeout=10)
        except Exception:
            pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.log.close()


CANVAS_DRAWN = """
[...document.querySelectorAll('canvas')].map((c) => {
  const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
  let n = 0;
  for (let i = 3; i < d.length; i += 4) if (d[i] !== 0) n++;
  return n;
})
"""


def png_size(path):
    with open(path, "rb") as f:
        head = f.read(24)
    if head[:8] != b"\x89PNG\r\n\x1a\n":
        return None
    return struct.unpack(">II", head[16:24])


def run_report(tool, results, png):
    t0 = time.monotonic()
    proc = subprocess.run([tool, results] + (["--png"] if png else []), capture_output=True, text=True)
    took = time.monotonic() - t0
    print(proc.stdout + proc.stderr, end="")
    check(proc.returncode == 0, "report tool exits 0 (took %.2f s)" % took)
    return took


def static_checks(html):
    check(html.count("<script") == html.count("</script>"), "every <script> block is closed once")
    for s in (make_fixture.HOSTILE_ROUTE, make_fixture.HOSTILE_ARGV, "<img src=x", "<svg onload"):
        check(s not in html, "raw %r does not appear in the HTML" % s[:30])
    check("\\u003cscript\\u003ealert(1)" in html, "data strings are escaped as \\u003c")


def browser_checks(chromium, html_path, workdir, kind):
    profile = tempfile.mkdtemp(prefix="pyab-report-test-")
    browser = Browser(chromium, profile)
    try:
        browser.open_page()
        t0 = time.monotonic()
        browser.call("Page.navigate", {"url": "file://" + html_path})
        state = None
        while time.monotonic() - t0 < 60:
            state = browser.eval("document.body && document.body.dataset.rendered || null")
            if state:
                break
            time.sleep(0.02)
        wall = time.monotonic() - t0
        data = browser.eval("Object.assign({}, document.body.dataset)") or {}
        print("load: %s ms from navigation start to every chart drawn (page clock), drawing %s ms, "
              "%.2f s seen by the test" % (data.get("loadMs"), data.get("renderMs"), wall))
        check(state == "1", "page reports every chart rendered (data-rendered=%r)" % state)
        check(int(data.get("charts", 0)) >= 8 and data.get("charts") == data.get("drawn"),
              "charts drawn %s of %s" % (data.get("drawn"), data.get("charts")))
        painted = browser.eval(CANVAS_DRAWN) or []
        check(len(painted) >= 8 and all(n > 1000 for n in painted), "each canvas has pixels: %s" % painted)
        check(browser.eval("typeof window.__pwned") == "undefined", "no script from the data ran (window.__pwned)")
        title = browser.eval("document.title")
        check(title.startswith("pyab report") and "PWNED" not in title, "title untouched: %r" % title)
        text = browser.eval("document.body.innerText")
        if kind == "small":
            for s in (make_fixture.HOSTILE_ROUTE, make_fixture.HOSTILE_ARM, make_fixture.HOSTILE_SCENARIO):
                check(s in text, "shown as text: %r" % s)
        check("[object" not in text and "\nnull\n" not in text, "no [object ...] or stray null in the text")
        comparisons = browser.eval("document.getElementById('comparisons').innerText")
        check("46.15 MiB" in comparisons and "50 MiB" in comparisons and "+3.852 MiB" in comparisons,
              "comparison bytes in MiB: %r" % comparisons[:300])
        check("[+401, +440]" in comparisons and "401.33" not in comparisons and "0.123456" not in comparisons,
              "comparison numbers to 3-4 significant digits")
        check("null" not in comparisons and "—" in comparisons, "an untested CI reads —, not null")
        check(browser.eval("document.querySelectorAll('#comparisons b').length") >= 2,
              "significant differences are highlighted")
        check("latency p99 (mean of reps)" in comparisons and "control 26.3 ms, arm 24.5 ms" in comparisons,
              "the comparison labels its mean of reps' p99s and shows the arms' own p99")
        arms_text = browser.eval("document.getElementById('arms').innerText")
        check("median of reps" in arms_text and "one histogram" in arms_text,
              "the arm table says which figures are medians of reps")
        cards = browser.eval("document.getElementById('verdicts').innerText")
        check("B/request" in cards, "verdict cards show the slopes in B/request")
        check("51053296" in text and "51,053,296" not in text, "python_hexversion without separators")
        zoom_check(browser)
        problems = browser.problems()
        check(not problems, "no console errors: %s" % problems)
        height = min(browser.eval("document.documentElement.scrollHeight"), 16000)
        browser.call("Emulation.setDeviceMetricsOverride",
                     {"width": 1400, "height": height, "deviceScaleFactor": 1, "mobile": False})
        shot = browser.call("Page.captureScreenshot", {"format": "png"})
        out = os.path.join(workdir, "report-%s.png" % kind)
        with open(out, "wb") as f:
            f.write(base64.b64decode(shot["data"]))
        print("screenshot:", out)
    finally:
        browser.close()
        shutil.rmtree(profile, ignore_errors=True)


def load_page(browser, html_path):
    browser.call("Page.navigate", {"url": "file://" + html_path})
    t0, state = time.monotonic(), None
    while time.monotonic() - t0 < 60:
        state = browser.eval("document.body && document.body.dataset.rendered || null")
        if state:
            break
        time.sleep(0.02)
    return state


def broken_checks(chromium, tool, workdir):
    """The page over a cut-off run with failed, skipped and unfinished reps."""
    results = os.path.join(workdir, "results-broken")
    shutil.rmtree(results, ignore_errors=True)
    os.makedirs(results)
    make_fixture.make_broken(results)
    proc = subprocess.run([tool, results], capture_output=True, text=True)
    check(proc.returncode == 0, "broken folder: report tool exits 0 (%s)" % proc.stderr.strip())
    profile = tempfile.mkdtemp(prefix="pyab-report-test-")
    browser = Browser(chromium, profile)
    try:
        browser.open_page()
        state = load_page(browser, os.path.join(results, "report.html"))
        check(state == "1", "broken folder: every chart rendered (data-rendered=%r)" % state)
        note = browser.eval("(document.getElementById('status-note') || {}).innerText || ''")
        check("cut off" in note, "the cut-off run says so: %r" % note[:120])
        cards = browser.eval("document.getElementById('verdicts').innerText")
        check(make_fixture.CRASH_REASON in cards, "the crashed rep's reason is on its card")
        check(make_fixture.OVER_LIMIT_REASON in cards and "memory" in cards,
              "the over-limit rep reads as a finding about memory on its card")
        check(make_fixture.TIMEOUT_REASON in cards, "the timed-out rep's reason is on its card")
        reps = browser.eval("document.getElementById('reps').innerText")
        check("not drawn: " in reps and "samples.csv:1: header has no column" in reps, "the skipped rep's reason is in the reps table")
        check("unfinished" in reps and "samples.csv.part" in reps, "the unfinished rep is listed, drawn from its .part file")
        styles = browser.eval("""(() => { const ch = Chart.getChart(document.querySelector('canvas'));
          return ch.data.datasets.map((d) => d.borderColor + ' ' + JSON.stringify(d.borderDash || [])); })()""")
        check(len(styles) == 11 and len(set(styles)) == len(styles),
              "11 drawn arms, each its own colour and line style: %s" % styles)
        empty = browser.eval("[...document.querySelectorAll('canvas')].map((c) => Chart.getChart(c).$empty).filter(Boolean)")
        check(len(empty) == 2 and all("no GC collections" in e for e in empty),
              "both GC charts say there were no collections: %s" % empty)
        tput = browser.eval("""(() => { const c = [...document.querySelectorAll('canvas')].find((x) =>
          /Throughput/.test(x.getAttribute('aria-label'))); const ch = Chart.getChart(c);
          return [ch.scales.y.max, c.closest('figure').innerText]; })()""")
        check(tput[0] < 200 and "clipped to the steady part" in tput[1],
              "throughput axis clipped to the steady part: max %s, %r" % (tput[0], tput[1][-160:]))
        captions = browser.eval("[...document.querySelectorAll('figcaption')].map((x) => x.innerText)")
        check(any("native_other_bytes" in c and "verdict" in c for c in captions),
              "the native chart says it draws native_other_bytes: %s" % captions[2:3])
        problems = browser.problems()
        check(not problems, "broken folder: no console errors: %s" % problems)
    finally:
        browser.close()
        shutil.rmtree(profile, ignore_errors=True)


def zoom_check(browser):
    """Drags across the first chart; its x range (and its axis group's) must narrow."""
    box = browser.eval("""(() => { const c = document.querySelector('canvas'); c.scrollIntoView();
      const r = c.getBoundingClientRect(); const ch = Chart.getChart(c);
      return {x: r.left, y: r.top, l: ch.chartArea.left, r: ch.chartArea.right, t: ch.chartArea.top,
              b: ch.chartArea.bottom, min: ch.scales.x.min, max: ch.scales.x.max}; })()""")
    y = box["y"] + (box["t"] + box["b"]) / 2
    x0 = box["x"] + box["l"] + (box["r"] - box["l"]) * 0.3
    x1 = box["x"] + box["l"] + (box["r"] - box["l"]) * 0.6
    browser.mouse("mousePressed", x0, y)
    browser.mouse("mouseMoved", x1, y)
    browser.mouse("mouseReleased", x1, y)
    after = browser.eval("(() => { const s = Chart.getChart(document.querySelector('canvas')).scales.x; return [s.min, s.max]; })()")
    span0 = box["max"] - box["min"]
    check(after[0] > box["min"] and after[1] < box["max"] and (after[1] - after[0]) < 0.5 * span0,
          "drag zooms the x axis: [%g, %g] -> [%g, %g]" % (box["min"], box["max"], after[0], after[1]))
    browser.eval("document.querySelector('canvas').dispatchEvent(new MouseEvent('dblclick'))")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--tool", required=True)
    ap.add_argument("--kind", choices=("small", "large"), required=True)
    ap.add_argument("--workdir", required=True)
    ap.add_argument("--png", action="store_true")
    args = ap.parse_args()

    results = os.path.join(os.path.abspath(args.workdir), "results-" + args.kind)
    shutil.rmtree(results, ignore_errors=True)
    os.makedirs(results)
    t0 = time.monotonic()
    make_fixture.make(args.kind, results)
    print("fixture %s written in %.1f s: %s" % (args.kind, time.monotonic() - t0, results))

    chromium = os.environ.get("PYAB_CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
    if not chromium or not os.access(chromium, os.X_OK):
        print("SKIP: chromium not installed (apt-get install chromium)")
        sys.exit(77)

    run_report(args.tool, results, args.png)
    html_path = os.path.join(results, "report.html")
    with open(html_path, encoding="utf-8") as f:
        html = f.read()
    print("report.html: %.1f KiB" % (len(html) / 1024))
    if args.kind == "small":
        static_checks(html)
    if args.png:
        size = png_size(os.path.join(results, "report.png"))
        check(size is not None and size[0] >= 800 and size[1] >= 600, "report.png is a PNG, size %s" % (size,))
        if size:
            shutil.copy(os.path.join(results, "report.png"), os.path.join(args.workdir, "report-%s-static.png" % args.kind))
    browser_checks(chromium, html_path, os.path.abspath(args.workdir), args.kind)
    if args.kind == "small":
        broken_checks(chromium, args.tool, os.path.abspath(args.workdir))
    if failures:
        print("%d check(s) failed" % len(failures))
        sys.exit(1)


if __name__ == "__main__":
    main()
