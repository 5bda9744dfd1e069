/* memviz.h -- the C core's interface to Python.
 *
 * This file is the single source of truth for the functions and structs that
 * cffi exposes: src/memviz/_build.py feeds it to ffi.cdef() (after dropping the
 * preprocessor lines), and the C files include it.  Keep it to plain
 * declarations: no macros, no conditionals, fixed-width integer types only.
 *
 * Two kinds of entry point live in the extension (see csrc/README.md):
 *   - the readings below: cffi functions that fill plain C structs.  cffi
 *     releases the GIL around every call; each of them takes it back
 *     (mv_enter) before it touches interpreter state.
 *   - functions that take or return Python objects (refcount, generation_of,
 *     type_counts): plain C-API functions in csrc/objects.c, published as the
 *     module memviz._objects by mv_register_objects_module().
 */
#ifndef MEMVIZ_H
#define MEMVIZ_H

#include <stdint.h>

/* Every reading returns one of these. */
enum mv_status {
    MV_OK = 0,
    MV_ERR_UNSUPPORTED = 1,        /* this interpreter's layout is not one memviz knows */
    MV_ERR_COLLECTING = 2,         /* the cyclic collector is running: lists are half-built */
    MV_ERR_WRONG_INTERPRETER = 3,  /* called from a subinterpreter memviz cannot read from here */
    MV_ERR_NO_MEMORY = 4,          /* malloc failed for a result buffer */
    MV_ERR_PYMALLOC_OFF = 5,       /* pymalloc is not the object allocator */
    MV_ERR_NO_SYMBOLS = 6,         /* 3.10/3.11: obmalloc's private state could not be found */
    MV_ERR_BUFFER_TOO_SMALL = 7    /* the caller's buffer is smaller than the reading */
};

/* The running interpreter, as the C core sees it. */
typedef struct {
    uint32_t compiled_hex;      /* PY_VERSION_HEX of the headers memviz was built against */
    uint32_t runtime_hex;       /* Py_Version of the running interpreter */
    int free_threaded;          /* built with Py_GIL_DISABLED */
    int gc_lists_readable;      /* the generation lists have a layout memviz knows */
    int64_t interpreter_id;     /* the interpreter the call was made from */
} mv_interpreter_info;

/* One generation of the cyclic collector. */
typedef struct {
    int64_t objects;            /* length of its list */
    int64_t count;              /* the collector's counter, as gc.get_count() */
    int64_t threshold;
    int64_t collections;        /* as gc.get_stats() */
    int64_t collected;
    int64_t uncollectable;
} mv_generation;

typedef struct {
    int64_t interpreter_id;     /* in: the caller's interpreter (memviz._objects.interpreter_id()) */
    mv_generation generations[3];
    int64_t permanent;          /* length of the permanent generation's list */
    int enabled;                /* gc.isenabled() */
} mv_gc_reading;

const char *mv_status_message(int status);
int mv_interpreter(mv_interpreter_info *out);
int mv_read_gc(mv_gc_reading *out);
int mv_register_objects_module(void);

#endif
