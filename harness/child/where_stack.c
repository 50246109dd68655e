/*
 * The Python frame walk of where.h, apart from where.c: it needs CPython's
 * internal frame layout (Py_BUILD_CORE), which should not leak into code
 * that only uses the public API. One version-dependent piece, chosen at
 * build time: the frame chain's head and the code object's field.
 */
#define Py_BUILD_CORE 1
#include <Python.h>
#include <internal/pycore_frame.h>
#include <internal/pycore_gc.h>

#include "where.h"

#if PY_VERSION_HEX < 0x030B0000
#error "pyab's frame walk needs CPython 3.11 or later"
#endif

static inline _PyInterpreterFrame *top_frame(PyThreadState *ts)
{
#if PY_VERSION_HEX >= 0x030D0000
    return ts->current_frame;
#else
    return ts->cframe ? ts->cframe->current_frame : NULL;
#endif
}

static inline PyCodeObject *frame_code(_PyInterpreterFrame *f)
{
#if PY_VERSION_HEX >= 0x030D0000
    return _PyFrame_GetCode(f);
#else
    return f->f_code;
#endif
}

int pyab_where_pystack(pyab_pyframe *out, int max)
{
    PyThreadState *ts = _PyThreadState_UncheckedGet();
    int n = 0;

    if (ts == NULL)
        return 0;
    for (_PyInterpreterFrame *f = top_frame(ts); f != NULL && n < max; f = f->previous) {
#if PY_VERSION_HEX >= 0x030C0000
        if (f->owner == FRAME_OWNED_BY_CSTACK)
            continue;
#endif
        /* A frame whose first instruction has not run yet has no line. */
        if (_PyFrame_IsIncomplete(f))
            continue;
        out[n].code = frame_code(f);
        out[n].lasti = _PyInterpreterFrame_LASTI(f);
        n++;
    }
    return n;
}

int pyab_where_frame_line(const pyab_pyframe *f)
{
    return PyCode_Addr2Line(f->code, f->lasti * (int)sizeof(_Py_CODEUNIT));
}

size_t pyab_where_gc_head_size(void)
{
    return sizeof(PyGC_Head);
}
