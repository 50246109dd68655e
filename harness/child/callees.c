#include "callees.h"

#include <Python.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

typedef struct callee {
    uintptr_t fn;
    char *name;
} callee;

struct pyab_callees {
    callee *v;
    size_t n, cap;
};

static void add(pyab_callees *cs, void *fn, const char *owner, const char *name)
{
    if (fn == NULL || owner == NULL || name == NULL)
        return;
    if (cs->n == cs->cap) {
        cs->cap = cs->cap ? 2 * cs->cap : 1024;
        cs->v = xrealloc(cs->v, cs->cap * sizeof(*cs->v));
    }
    cs->v[cs->n++] = (callee){(uintptr_t)fn, xasprintf("%s.%s", owner, name)};
}

/*
 * Cython's functions ("cython_function_or_method": lxml's, for one) are
 * not builtin functions to PyCFunction_Check, but their objects start
 * with a PyCFunctionObject, whose m_ml names the C function.
 */
static PyMethodDef *method_def(PyObject *v)
{
    if (PyCFunction_Check(v) ||
        (strcmp(Py_TYPE(v)->tp_name, "cython_function_or_method") == 0 &&
         Py_TYPE(v)->tp_basicsize >= (Py_ssize_t)sizeof(PyCFunctionObject)))
        return ((PyCFunctionObject *)v)->m_ml;
    return NULL;
}

/* A C type's methods (a class written in Python has no method table). */
static void add_type(pyab_callees *cs, const char *module, PyTypeObject *t)
{
    char *owner;

    if (t->tp_methods == NULL)
        return;
    owner = xasprintf("%s.%s", module, t->tp_name[0] && strrchr(t->tp_name, '.')
                                          ? strrchr(t->tp_name, '.') + 1 : t->tp_name);
    for (PyMethodDef *m = t->tp_methods; m->ml_name; m++)
        add(cs, (void *)m->ml_meth, owner, m->ml_name);
    free(owner);
}

static void add_module(pyab_callees *cs, const char *module, PyObject *dict)
{
    Py_ssize_t pos = 0;
    PyObject *key, *v;
    PyMethodDef *m;

    while (PyDict_Next(dict, &pos, &key, &v)) {
        if ((m = method_def(v)) != NULL)
            add(cs, (void *)m->ml_meth, module, m->ml_name);
        else if (PyType_Check(v))
            add_type(cs, module, (PyTypeObject *)v);
    }
}

static int by_fn_then_name(const void *a, const void *b)
{
    const callee *x = a, *y = b;
    size_t lx = strlen(x->name), ly = strlen(y->name);

    if (x->fn != y->fn)
        return x->fn < y->fn ? -1 : 1;
    if (lx != ly)
        return lx < ly ? -1 : 1;
    return strcmp(x->name, y->name);
}

pyab_callees *pyab_callees_create(void)
{
    pyab_callees *cs = xmalloc(sizeof(*cs));
    PyObject *modules = PyImport_GetModuleDict(), *key, *mod;
    Py_ssize_t pos = 0;
    size_t kept = 0;

    *cs = (pyab_callees){NULL, 0, 0};
    while (modules && PyDict_Next(modules, &pos, &key, &mod)) {
        const char *name = PyUnicode_Check(key) ? PyUnicode_AsUTF8(key) : NULL;
        if (name == NULL || !PyModule_Check(mod)) {
            PyErr_Clear();
            continue;
        }
        add_module(cs, name, PyModule_GetDict(mod));
    }
    /* One entry per function: the shortest of its names. */
    if (cs->n)
        qsort(cs->v, cs->n, sizeof(*cs->v), by_fn_then_name);
    for (size_t i = 0; i < cs->n; i++) {
        if (kept && cs->v[kept - 1].fn == cs->v[i].fn) {
            free(cs->v[i].name);
            continue;
        }
        cs->v[kept++] = cs->v[i];
    }
    cs->n = kept;
    return cs;
}

const char *pyab_callees_name(const pyab_callees *cs, uintptr_t fn)
{
    size_t lo = 0, hi = cs->n;

    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (cs->v[mid].fn == fn)
            return cs->v[mid].name;
        if (cs->v[mid].fn < fn)
            lo = mid + 1;
        else
            hi = mid;
    }
    return NULL;
}

size_t pyab_callees_count(const pyab_callees *cs)
{
    return cs->n;
}

void pyab_callees_destroy(pyab_callees *cs)
{
    if (cs == NULL)
        return;
    for (size_t i = 0; i < cs->n; i++)
        free(cs->v[i].name);
    free(cs->v);
    free(cs);
}
