"""pyab's Python-side part of the "where" report (where.c), compiled into
pyab-child. Nothing here runs while requests are replayed: where.c calls
these functions once, at the end of a rep, after the load and the last
sample, to name files, types and holders of the memory that survived.
"""
import gc
import sys

# Imported at the first report, not at start-up: a rep's baseline memory
# should not carry modules only the end-of-rep report needs.
collections = os = sysconfig = threading = time = types = None
_STDLIB = ()


def _imports():
    global collections, os, sysconfig, threading, time, types, _STDLIB
    if types is not None:
        return
    import collections
    import os
    import sysconfig
    import threading
    import time
    import types
    paths = sysconfig.get_paths()
    _STDLIB = tuple(os.path.realpath(p) + os.sep
                    for p in {paths.get("stdlib"), paths.get("platstdlib")} if p)


def classify(filenames):
    """For each file name: (package, own). `own` is the service's code: a
    real file outside the standard library and outside installed packages.
    `package` is the top-level package of an installed file ("jinja2"), the
    stdlib module ("logging (stdlib)"), or the service module's name."""
    _imports()
    out = []
    for name in filenames:
        if name.startswith("<"):
            out.append((name, False))
            continue
        parts = name.split(os.sep)
        for marker in ("site-packages", "dist-packages"):
            if marker in parts:
                i = len(parts) - 1 - parts[::-1].index(marker)
                top = parts[i + 1] if i + 1 < len(parts) else name
                out.append((os.path.splitext(top)[0], False))
                break
        else:
            real = os.path.realpath(name)
            if real.startswith(_STDLIB):
                rest = real[len(next(p for p in _STDLIB if real.startswith(p))):]
                top = os.path.splitext(rest.split(os.sep)[0])[0]
                out.append(("%s (stdlib)" % top, False))
            else:
                out.append((os.path.splitext(os.path.basename(name))[0], True))
    return out


def all_types():
    """Every type object the interpreter has readied: object's subclasses,
    transitively (static and heap types alike)."""
    seen = {id(object): object}
    todo = [object]
    while todo:
        t = todo.pop()
        try:
            subs = type.__subclasses__(t)
        except TypeError:
            continue
        for s in subs:
            if id(s) not in seen:
                seen[id(s)] = s
                todo.append(s)
    return list(seen.values())


def type_name(t):
    mod = getattr(t, "__module__", None)
    name = getattr(t, "__qualname__", None) or t.__name__
    if not isinstance(mod, str) or mod == "builtins":
        return name
    return "%s.%s" % (mod, name)


def _tname(o):
    return type_name(type(o))


def _edge(parent, child, grand):
    """How `parent` holds `child`, in words; None to fold the hop into the
    next one (a module's or an instance's __dict__)."""
    if isinstance(parent, types.ModuleType):
        return None if child is getattr(parent, "__dict__", None) else "referent (%s)" % _tname(child)
    if isinstance(parent, dict):
        owner_is_ns = grand is not None and getattr(grand, "__dict__", None) is parent
        for k, v in parent.items():
            if v is child:
                if owner_is_ns and isinstance(k, str):
                    if isinstance(grand, type):
                        return "class attribute %s (%s)" % (k, _tname(child))
                    return "attribute %s (%s)" % (k, _tname(child))
                return "dict value [%s] (%s)" % (_short(k), _tname(child))
            if k is child:
                return "dict key (%s)" % _tname(child)
        return "dict referent (%s)" % _tname(child)
    if isinstance(parent, (list, collections.deque)):
        return "%s item (%s)" % (_tname(parent), _tname(child))
    if isinstance(parent, tuple):
        return "tuple item (%s)" % _tname(child)
    if isinstance(parent, (set, frozenset)):
        return "set member (%s)" % _tname(child)
    if isinstance(parent, types.CellType):
        return "closure cell (%s)" % _tname(child)
    if isinstance(parent, types.FunctionType):
        if child is parent.__closure__:
            return None
        if child is parent.__defaults__ or child is parent.__kwdefaults__:
            return "default arguments of %s" % parent.__qualname__
        return "referent of function %s (%s)" % (parent.__qualname__, _tname(child))
    if isinstance(parent, types.FrameType):
        for k, v in parent.f_locals.items():
            if v is child:
                return "local %s (%s)" % (k, _tname(child))
        return "frame referent (%s)" % _tname(child)
    d = getattr(parent, "__dict__", None)
    if child is d:
        return None
    if isinstance(d, dict):
        for k, v in d.items():
            if v is child:
                return "attribute %s (%s)" % (k, _tname(child))
    return "referent of %s (%s)" % (_tname(parent), _tname(child))


def _short(k):
    r = repr(k)
    return r if len(r) <= 40 else r[:37] + "..."


def holders(targets, budget_s):
    """targets: a list of (site, object). For each, a referrer chain from a
    root (a module, another thread's frame) found by one breadth-first walk
    of what the roots reach, and the references to it that no object the
    walk saw accounts for.

    Returns (results, complete): results is a list of dicts {"site",
    "type", "chain", "reachable", "excess_references"} in targets' order;
    complete is False when the walk ran out of its time budget (then
    excess_references is None: an unfinished walk proves nothing)."""
    _imports()
    deadline = time.monotonic() + budget_s
    sentinel = type("_pyab_sentinel", (), {})()
    targets = list(targets) + [("", sentinel)]
    want = {id(o): 0 for _, o in targets}
    parent = {}
    objs = {}
    roots = []
    for name, mod in list(sys.modules.items()):
        if mod is not None:
            roots.append((mod, "module %s" % name))
    me = threading.get_ident()
    for tid, frame in sys._current_frames().items():
        if tid != me:
            roots.append((frame, "frame %s:%d in %s (thread %d)" % (
                frame.f_code.co_filename, frame.f_lineno, frame.f_code.co_name, tid)))
    queue = collections.deque()
    for o, label in roots:
        if id(o) not in parent:
            parent[id(o)] = (None, label)
            objs[id(o)] = o
            queue.append(o)
    # Our own objects: never counted as holders.
    ours = {id(targets), id(want), id(parent), id(objs), id(queue), id(roots)}
    ours.update(id(t) for t in targets)
    f = sys._getframe()
    while f is not None:
        ours.add(id(f))
        f = f.f_back

    def walk(o):
        for r in gc.get_referents(o):
            i = id(r)
            if i in want:
                want[i] += 1
            if i not in parent and i not in ours:
                parent[i] = (id(o), None)
                objs[i] = r
                queue.append(r)

    def drain():
        """Walks the queue empty; False when the time budget ran out first."""
        n = 0
        while queue:
            n += 1
            if n % 4096 == 0 and time.monotonic() > deadline:
                return False
            walk(queue.popleft())
        return True

    complete = drain()
    reachable = {i for i in want if i in parent}
    found = set(reachable)
    if complete:
        # Tracked objects no root reaches (cycles awaiting collection, or
        # kept only from C): their references count too.
        everything = gc.get_objects()
        ours.add(id(everything))
        for o in everything:
            if id(o) not in parent and id(o) not in ours:
                parent[id(o)] = (None, "no module reaches it: %s (a reference cycle, or "
                                 "garbage awaiting collection)" % _tname(o))
                objs[id(o)] = o
                queue.append(o)
        del everything
        complete = drain()
    # Reference counts first, while only the walk's own containers hold
    # extra references: the sentinel, held exactly as a target is, gives
    # the count that means "nothing else holds it".
    found.update(i for i in want if i in parent)
    # The walk's map holds one reference to what it reached: not a holder.
    base = sys.getrefcount(sentinel) - want[id(sentinel)] - (id(sentinel) in objs)
    excess = [sys.getrefcount(o) - want[id(o)] - (id(o) in objs) - base if complete else None
              for _, o in targets[:-1]]
    results = []
    for (site, o), extra in zip(targets[:-1], excess):
        i = id(o)
        objs[i] = o
        chain = []
        if i in found:
            hops = []
            cur = i
            while cur is not None and len(hops) < 64:
                hops.append(cur)
                cur = parent[cur][0]
            hops.reverse()
            chain.append(parent[hops[0]][1])
            for k in range(1, len(hops)):
                grand = objs.get(hops[k - 2]) if k >= 2 else None
                label = _edge(objs[hops[k - 1]], objs[hops[k]], grand)
                if label is not None:
                    chain.append(label)
            if len(chain) > 12:
                chain = chain[:6] + ["..."] + chain[-5:]
        results.append({"site": site, "type": _tname(o), "chain": chain,
                        "reachable": i in reachable, "excess_references": extra})
    return results, complete


def garbage_types(start):
    _imports()
    counts = collections.Counter(_tname(o) for o in gc.garbage[start:])
    return dict(counts.most_common(10))


# Exact mode: tracemalloc, started at the end of warm-up.
_exact = {}


def exact_init(depth):
    import tracemalloc
    tracemalloc.start(depth)
    _exact["module"] = tracemalloc


def exact_warm():
    _exact["warm"] = _exact["module"].take_snapshot()


def exact_sites():
    """(traceback frames, size_diff, count_diff) per allocation line since
    warm-up, the innermost frame first, largest growth first."""
    tracemalloc = _exact.get("module")
    if tracemalloc is None or "warm" not in _exact:
        return []
    end = tracemalloc.take_snapshot()
    tracemalloc.stop()
    flt = [tracemalloc.Filter(False, "<pyab *"), tracemalloc.Filter(False, tracemalloc.__file__)]
    stats = end.filter_traces(flt).compare_to(_exact.pop("warm").filter_traces(flt), "traceback")
    out = []
    for st in stats:
        if st.size_diff <= 0:
            continue
        # A Traceback iterates from the oldest frame to the most recent.
        frames = [(fr.filename, fr.lineno) for fr in reversed(list(st.traceback))]
        out.append((frames, st.size_diff, st.count_diff))
    return out
