/*
 * leaky: a C extension with the ownership bug regrtest -R hunts.
 * leaky.keep(obj) takes a reference to obj and never releases it (the
 * missing Py_DECREF); leaky.fine(obj) does the same work correctly. Built
 * by tests/e2e/test_interpreters.py against the release and the debug
 * headers of the Python pyab embeds.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

static PyObject *keep(PyObject *self, PyObject *obj)
{
    Py_INCREF(obj); /* the bug: nothing ever releases this reference */
    Py_RETURN_NONE;
}

static PyObject *fine(PyObject *self, PyObject *obj)
{
    Py_INCREF(obj);
    Py_DECREF(obj);
    Py_RETURN_NONE;
}

static PyMethodDef methods[] = {
    {"keep", keep, METH_O, "take a reference to obj and never release it"},
    {"fine", fine, METH_O, "take a reference to obj and release it"},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "leaky", NULL, -1, methods};

PyMODINIT_FUNC PyInit_leaky(void)
{
    return PyModule_Create(&module);
}
