"""pyab's Python-side glue, compiled into the pyab binary (see embed.py).

The child runs this once, before replay starts. It does what is plainer to
read in Python than in C: putting folders on sys.path, installing stand-in
modules for mocked native libraries, importing the service and finding its
handler, adapting a WSGI app, and formatting tracebacks. Nothing here runs
on the per-request path except the WSGI adapter, which a WSGI service
needs anyway.
"""
# traceback imports ast the first time it formats a frame (its carets): here,
# before the run, not inside it, where pyab's formatting of the service's first
# exception read as the service's own surviving allocation (QA).
import ast  # noqa: F401
import importlib
import importlib.abc
import importlib.util
import io
import os
import site
import sys
import traceback


def add_paths(paths, venv):
    for p in reversed(paths):
        if p not in sys.path:
            sys.path.insert(0, p)
    if venv:
        lib = os.path.join(venv, "lib")
        if not os.path.isdir(lib):
            raise ImportError("python.venv %r has no lib/ folder" % venv)
        for name in sorted(os.listdir(lib)):
            sp = os.path.join(lib, name, "site-packages")
            if name.startswith("python") and os.path.isdir(sp):
                site.addsitedir(sp)
                sys.path.remove(sp)
                sys.path.insert(0, sp)


class StandInFinder(importlib.abc.MetaPathFinder):
    """Serves a stand-in file for a mocked module and its submodules.

    A stand-in may be a single .py file (submodules then resolve to
    attributes of it that are modules) or a package folder.
    """

    def __init__(self, mapping):
        self.mapping = dict(mapping)
        self.served = {}

    def _root(self, fullname):
        # The longest mocked name wins, so "a.b" can be mocked apart from "a".
        best = None
        for name in self.mapping:
            if fullname == name or fullname.startswith(name + "."):
                if best is None or len(name) > len(best):
                    best = name
        return best

    def find_spec(self, fullname, path=None, target=None):
        root = self._root(fullname)
        if root is None:
            return None
        standin = self.mapping[root]
        if fullname == root:
            if os.path.isdir(standin):
                init = os.path.join(standin, "__init__.py")
                spec = importlib.util.spec_from_file_location(
                    fullname, init, submodule_search_locations=[standin])
            else:
                # An empty __path__ makes it a package, so `import x.sub`
                # reaches this finder instead of failing with "x is not a
                # package"; the sub-module is then an attribute of the file.
                spec = importlib.util.spec_from_file_location(
                    fullname, standin, submodule_search_locations=[])
            if spec is None:
                raise ImportError("mock for %r: cannot load stand-in %r" % (root, standin))
            self.served[fullname] = standin
            return spec
        if os.path.isdir(standin):
            return None  # the package's own __path__ finds its submodules
        parent = sys.modules.get(fullname.rpartition(".")[0])
        attr = getattr(parent, fullname.rpartition(".")[2], None)
        if attr is None or not isinstance(attr, type(sys)):
            # ModuleNotFoundError, as for a real package: `try: import x.opt`
            # and importlib.util.find_spec behave as they would without the mock.
            raise ModuleNotFoundError("mock for %r: stand-in %r has no submodule %r"
                                      % (root, standin, fullname), name=fullname)
        self.served[fullname] = standin
        return importlib.util.spec_from_loader(fullname, _AliasLoader(attr))


class _AliasLoader(importlib.abc.Loader):
    def __init__(self, module):
        self.module = module

    def create_module(self, spec):
        return self.module

    def exec_module(self, module):
        pass


_finder = None


def install_mocks(mapping):
    global _finder
    if not mapping:
        return None
    for name in list(sys.modules):
        if any(name == m or name.startswith(m + ".") for m in mapping):
            del sys.modules[name]
    finder = _finder = StandInFinder(mapping)
    sys.meta_path.insert(0, finder)
    for name, path in mapping.items():
        if not os.path.exists(path):
            raise ImportError("mock %r: stand-in %r does not exist" % (name, path))
        try:
            importlib.import_module(name)
        except BaseException as exc:
            raise ImportError("mock %r: stand-in %r failed to import: %s: %s"
                              % (name, path, type(exc).__name__, exc)) from exc
    return finder


def mocks_served():
    """For the manifest: each mocked name -> the file its module came from
    after the service's import (None when it is not imported), and which
    module names the stand-ins served, proof the swap took effect."""
    if _finder is None:
        return "null"
    import json
    modules = {}
    for name in _finder.mapping:
        mod = sys.modules.get(name)
        modules[name] = getattr(mod, "__file__", None) if mod is not None else None
    return json.dumps({"modules": modules, "served": sorted(_finder.served)})


class _StartResponse:
    """start_response for one request (PEP 3333): keeps the status, checks
    the call order, and hands out a write() that discards the bytes."""

    __slots__ = ("status", "sent")

    def __init__(self):
        self.status = None
        self.sent = False  # set once the first body bytes "went out"

    def __call__(self, status, headers, exc_info=None):
        if exc_info is not None:
            try:
                if self.sent:
                    raise exc_info[1].with_traceback(exc_info[2])
            finally:
                exc_info = None  # no reference cycle through the frame
        elif self.status is not None:
            raise AssertionError("start_response called twice without exc_info")
        if type(status) is not str or len(status) < 4 or status[3] != " ":
            raise AssertionError("status must be a str like '200 OK', got %r" % (status,))
        self.status = status
        return self.write

    def write(self, data):
        if self.status is None:
            raise AssertionError("write() before start_response()")
        if type(data) is not bytes:
            raise TypeError("write() takes bytes, got %s" % type(data).__name__)
        self.sent = True


def _latin1(s):
    """A WSGI native string: text outside latin-1 travels as its UTF-8 bytes."""
    return s if s.isascii() else s.encode("utf-8").decode("latin-1")


def wsgi_adapter(app):
    """Calls a PEP 3333 app with an environ built from a trace record.

    Returns the status code as an int (counted per route by the replayer).
    The response iterable is consumed and its close() called even when the
    app or the iteration raises; the exception then propagates and is
    counted as the route's error.
    """
    from urllib.parse import unquote_to_bytes, urlencode
    import json

    base = {
        "SCRIPT_NAME": "",
        "SERVER_NAME": "localhost",
        "SERVER_PORT": "80",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "127.0.0.1",
        "wsgi.version": (1, 0),
        "wsgi.url_scheme": "http",
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": True,
        "wsgi.multiprocess": False,
        "wsgi.run_once": False,
        "wsgi.input_terminated": True,
    }
    # Header name -> environ key; bounded by the trace's distinct names.
    keys = {}
    dumps = json.dumps
    BytesIO = io.BytesIO

    def header_key(name):
        key = name.upper().replace("-", "_")
        if key not in ("CONTENT_TYPE", "CONTENT_LENGTH"):
            key = "HTTP_" + key
        keys[name] = key
        return key

    def call(req):
        environ = base.copy()
        body = req.get("body")
        if body is None:
            data = b""
        elif type(body) is bytes:  # JSON text already serialised by the replayer
            data = body
            environ["CONTENT_TYPE"] = "application/json"
        elif type(body) is str:
            data = body.encode("utf-8")
        else:
            data = dumps(body).encode("utf-8")
            environ["CONTENT_TYPE"] = "application/json"
        path = req.get("path") or req["route"]
        if "%" in path:
            path = unquote_to_bytes(path).decode("latin-1")
        elif not path.isascii():
            path = _latin1(path)
        query = req.get("query")
        if not query:
            query = ""
        elif type(query) is not str:
            query = urlencode(query, doseq=True)
        elif query[0] == "?":
            query = query[1:]
        environ["REQUEST_METHOD"] = req.get("method") or ("POST" if data else "GET")
        environ["PATH_INFO"] = path
        environ["QUERY_STRING"] = _latin1(query)
        headers = req.get("headers")
        if headers:
            for name, value in headers.items():
                key = keys.get(name) or header_key(name)
                environ[key] = value if value.isascii() else _latin1(value)
        if data:
            environ["CONTENT_LENGTH"] = str(len(data))
        else:
            environ.pop("CONTENT_LENGTH", None)
        environ["wsgi.input"] = BytesIO(data)
        start = _StartResponse()
        result = app(environ, start)
        try:
            for chunk in result:
                if chunk:
                    if start.status is None:
                        raise AssertionError("body bytes before start_response()")
                    start.sent = True
        finally:
            close = getattr(result, "close", None)
            if close is not None:
                close()
        if start.status is None:
            raise AssertionError("the app returned without calling start_response()")
        return int(start.status[:3])
    return call


def load_app(kind, target, handler):
    if kind == "path":
        folder = os.path.dirname(target)
        if folder not in sys.path:
            sys.path.insert(0, folder)
        name = os.path.splitext(os.path.basename(target))[0]
        spec = importlib.util.spec_from_file_location(name, target)
        if spec is None:
            raise ImportError("cannot load %r" % target)
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    elif kind == "module":
        module = importlib.import_module(target)
    else:
        modname, _, attr = target.partition(":")
        module = importlib.import_module(modname)
        app = module
        for part in attr.split("."):
            app = getattr(app, part)
        if kind == "asgi":
            if not callable(app):
                raise TypeError("app.asgi %r is not callable (got %s)" % (target, type(app).__name__))
            return app  # asgi.py's driver calls it on the event loop
        return wsgi_adapter(app)
    fn = getattr(module, handler, None)
    if fn is None or not callable(fn):
        raise AttributeError("%s has no callable %r" % (target, handler))
    return fn


def format_exception(exc):
    """The traceback without pyab's own and importlib's frames: the
    service's lines are what its engineer needs to see."""
    te = traceback.TracebackException(type(exc), exc, exc.__traceback__)
    for part in [te] + [c for c in (te.__cause__, te.__context__) if c is not None]:
        kept = [f for f in part.stack if not f.filename.startswith(("<pyab ", "<frozen importlib"))]
        if kept:
            part.stack = traceback.StackSummary.from_list(kept)
    return "".join(te.format())
