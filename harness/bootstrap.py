"""pyab's Python-side glue, compiled into the pyab binary (see embed.py).

The child runs this once, before replay starts. It does what is plainer to
read in Python than in C: putting folders on sys.path, installing stand-in
modules for mocked native libraries, importing the service and finding its
handler, adapting a WSGI app, and formatting tracebacks. Nothing here runs
on the per-request path except the WSGI adapter, which a WSGI service
needs anyway.
"""
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
        for name in self.mapping:
            if fullname == name or fullname.startswith(name + "."):
                return name
        return None

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
                spec = importlib.util.spec_from_file_location(fullname, standin)
            if spec is None:
                raise ImportError("mock for %r: cannot load stand-in %r" % (root, standin))
            self.served[fullname] = standin
            return spec
        if os.path.isdir(standin):
            return None  # the package's own __path__ finds its submodules
        parent = sys.modules.get(fullname.rpartition(".")[0])
        attr = getattr(parent, fullname.rpartition(".")[2], None)
        if attr is None or not isinstance(attr, type(sys)):
            raise ImportError("mock for %r: stand-in %r has no submodule %r"
                              % (root, standin, fullname))
        return importlib.util.spec_from_loader(fullname, _AliasLoader(attr))


class _AliasLoader(importlib.abc.Loader):
    def __init__(self, module):
        self.module = module

    def create_module(self, spec):
        return self.module

    def exec_module(self, module):
        pass


def install_mocks(mapping):
    if not mapping:
        return None
    for name in list(sys.modules):
        if any(name == m or name.startswith(m + ".") for m in mapping):
            del sys.modules[name]
    finder = StandInFinder(mapping)
    sys.meta_path.insert(0, finder)
    for name, path in mapping.items():
        try:
            importlib.import_module(name)
        except BaseException as exc:
            raise ImportError("mock %r: stand-in %r failed to import: %s: %s"
                              % (name, path, type(exc).__name__, exc)) from exc
    return finder


def wsgi_adapter(app):
    """Calls a PEP 3333 app with an environ built from a trace record."""
    def call(req):
        headers = req.get("headers") or {}
        query = req.get("query") or ""
        if isinstance(query, dict):
            from urllib.parse import urlencode
            query = urlencode(query, doseq=True)
        body = req.get("body")
        if body is None:
            data = b""
        elif isinstance(body, str):
            data = body.encode("utf-8")
        else:
            import json
            data = json.dumps(body).encode("utf-8")
        environ = {
            "REQUEST_METHOD": req.get("method") or ("POST" if data else "GET"),
            "SCRIPT_NAME": "",
            "PATH_INFO": req.get("path") or req["route"],
            "QUERY_STRING": query,
            "SERVER_NAME": "pyab",
            "SERVER_PORT": "80",
            "SERVER_PROTOCOL": "HTTP/1.1",
            "REMOTE_ADDR": "127.0.0.1",
            "CONTENT_LENGTH": str(len(data)),
            "wsgi.version": (1, 0),
            "wsgi.url_scheme": "http",
            "wsgi.input": io.BytesIO(data),
            "wsgi.errors": sys.stderr,
            "wsgi.multithread": True,
            "wsgi.multiprocess": False,
            "wsgi.run_once": False,
        }
        for k, v in headers.items():
            key = k.upper().replace("-", "_")
            if key == "CONTENT_TYPE":
                environ["CONTENT_TYPE"] = v
            elif key != "CONTENT_LENGTH":
                environ["HTTP_" + key] = v
        if data and "CONTENT_TYPE" not in environ and not isinstance(body, str):
            environ["CONTENT_TYPE"] = "application/json"
        status = []

        def start_response(s, response_headers, exc_info=None):
            status[:] = [s]
            return lambda chunk: None

        result = app(environ, start_response)
        try:
            for _ in result:
                pass
        finally:
            close = getattr(result, "close", None)
            if close is not None:
                close()
        return int(status[0].split(" ", 1)[0]) if status else 0
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
        return wsgi_adapter(app)
    fn = getattr(module, handler, None)
    if fn is None or not callable(fn):
        raise AttributeError("%s has no callable %r" % (target, handler))
    return fn


def format_exception(exc):
    return "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
