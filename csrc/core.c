/* core.c -- what every reading shares: taking the GIL back, naming the
 * interpreter, and the messages of the status codes.
 *
 * Why this is safe: cffi calls these functions with the GIL released.  No
 * interpreter state is touched before PyGILState_Ensure() returns, and a
 * reading refuses to run for a thread whose interpreter is not the one the
 * caller named, so it never reads state that another GIL protects.
 */
#include "internal.h"

int
mv_enter(int64_t interpreter_id, mv_hold *hold)
{
    hold->gil = PyGILState_Ensure();
    hold->interp = PyInterpreterState_Get();
    if (PyInterpreterState_GetID(hold->interp) != interpreter_id) {
        PyGILState_Release(hold->gil);
        return MV_ERR_WRONG_INTERPRETER;
    }
    return MV_OK;
}

void
mv_leave(mv_hold *hold)
{
    PyGILState_Release(hold->gil);
}

const char *
mv_status_message(int status)
{
    switch (status) {
    case MV_OK:
        return "ok";
    case MV_ERR_UNSUPPORTED:
        return "memviz does not know this interpreter's internal layout";
    case MV_ERR_COLLECTING:
        return "the cyclic garbage collector is running; its lists cannot be read now";
    case MV_ERR_WRONG_INTERPRETER:
        return "the reading was made from a subinterpreter whose state memviz cannot reach "
               "from this thread";
    case MV_ERR_NO_MEMORY:
        return "out of memory for the reading's buffers";
    case MV_ERR_PYMALLOC_OFF:
        return "pymalloc is not the object allocator";
    case MV_ERR_NO_SYMBOLS:
        return "pymalloc's private state could not be found in libpython's symbol table";
    case MV_ERR_BUFFER_TOO_SMALL:
        return "the result buffer is too small";
    default:
        return "unknown status";
    }
}

int
mv_interpreter(mv_interpreter_info *out)
{
    PyGILState_STATE gil = PyGILState_Ensure();
    out->compiled_hex = (uint32_t)PY_VERSION_HEX;
    out->runtime_hex = MV_RUNTIME_VERSION_HEX;
#ifdef Py_GIL_DISABLED
    out->free_threaded = 1;
#else
    out->free_threaded = 0;
#endif
    out->gc_lists_readable = mv_gc_lists_readable();
    out->interpreter_id = PyInterpreterState_GetID(PyInterpreterState_Get());
    PyGILState_Release(gil);
    return MV_OK;
}
