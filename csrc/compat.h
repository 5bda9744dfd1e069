/* compat.h -- every CPython-version difference memviz depends on, in one place.
 *
 * The extension is compiled once per CPython minor version against that
 * version's own headers (including Include/internal), so most differences are
 * resolved here at compile time.  The one that is not: 3.14.0-3.14.4 used an
 * incremental collector whose state sits at the same offsets as 3.14.5+'s
 * generation array but means something else, so it is checked at run time
 * (mv_gc_lists_readable).
 *
 * Versions memviz knows: 3.10 to 3.15, default (GIL) builds.  Anything else
 * compiles with MV_KNOWN_LAYOUT 0 and every reading of internal state reports
 * MV_ERR_UNSUPPORTED.
 */
#ifndef MEMVIZ_COMPAT_H
#define MEMVIZ_COMPAT_H

#ifndef Py_BUILD_CORE_MODULE
#  error "memviz's C core must be compiled with -DPy_BUILD_CORE_MODULE (see src/memviz/_build.py)"
#endif

#include <Python.h>
#include <stddef.h>     /* offsetof: Python.h includes it only from 3.11 */

#define MV_PY_AT_LEAST(major, minor) (PY_VERSION_HEX >= (((major) << 24) | ((minor) << 16)))

/* PyRefTracer_SetTracer: a hook on every object's creation and free, from 3.13. */
#define MV_HAS_REF_TRACER MV_PY_AT_LEAST(3, 13)

#if MV_PY_AT_LEAST(3, 10) && !MV_PY_AT_LEAST(3, 16) && !defined(Py_GIL_DISABLED)
#  define MV_KNOWN_LAYOUT 1
#else
#  define MV_KNOWN_LAYOUT 0
#endif

#if MV_KNOWN_LAYOUT
#  include "internal/pycore_interp.h"    /* PyInterpreterState, struct _gc_runtime_state */
#  include "internal/pycore_gc.h"        /* PyGC_Head, _PyObject_GC_IS_TRACKED */
#  include "internal/pycore_object.h"    /* _PyObject_IS_GC, _PyType_PreHeaderSize (3.11+) */
/* _PySys_GetSizeOf (sys.getsizeof): cpython/sysmodule.h until 3.12, internal from 3.13. */
#  if MV_PY_AT_LEAST(3, 13)
#    include "internal/pycore_sysmodule.h"
#  endif
#endif

/* The running interpreter's version: Py_Version is exported from 3.11 on. */
#if MV_PY_AT_LEAST(3, 11)
#  define MV_RUNTIME_VERSION_HEX ((uint32_t)Py_Version)
#else
#  define MV_RUNTIME_VERSION_HEX ((uint32_t)PY_VERSION_HEX)
#endif

/* Immortal objects (PEP 683, 3.12+): the version's own test. */
#if MV_PY_AT_LEAST(3, 12)
#  define MV_IS_IMMORTAL_OBJECT(op) _Py_IsImmortal(op)
#else
#  define MV_IS_IMMORTAL_OBJECT(op) ((void)(op), 0)   /* uses op: -Wunused-parameter */
#endif

#if MV_KNOWN_LAYOUT

/* The cyclic collector's state of one interpreter. */
#define MV_GC_STATE(interp) (&(interp)->gc)

/* The list head and counters of generation i (0..2).  3.14 headers before
 * 3.14.5 name the same three structs young/old[2]. */
#if PY_VERSION_HEX >= 0x030E0000 && PY_VERSION_HEX < 0x030E05A0
#  define MV_GENERATION(gcstate, i) ((i) == 0 ? &(gcstate)->young : &(gcstate)->old[(i) - 1])
#else
#  define MV_GENERATION(gcstate, i) (&(gcstate)->generations[(i)])
#endif

/* gc.get_stats()'s figures for generation i.  3.15 keeps them in ring buffers
 * behind a pointer; the newest entry of each buffer is the cumulative figure. */
#if MV_PY_AT_LEAST(3, 15)
static inline struct gc_generation_stats *
mv_generation_stats(struct _gc_runtime_state *gcstate, int i)
{
    struct gc_stats *stats = gcstate->generation_stats;
    if (i == 0) {
        return &stats->young.items[stats->young.index];
    }
    return &stats->old[i - 1].items[stats->old[i - 1].index];
}
#else
static inline struct gc_generation_stats *
mv_generation_stats(struct _gc_runtime_state *gcstate, int i)
{
    return &gcstate->generation_stats[i];
}
#endif

/* Links of a PyGC_Head.  The low two bits of both words carry flags in some
 * versions and phases; objects are at least 16-byte aligned, so masking them
 * is always safe. */
#define MV_GC_LINK_MASK (~(uintptr_t)3)
#define MV_GC_NEXT(g) ((PyGC_Head *)((g)->_gc_next & MV_GC_LINK_MASK))
#define MV_AS_GC(op) ((PyGC_Head *)(op) - 1)
#define MV_FROM_GC(g) ((PyObject *)((PyGC_Head *)(g) + 1))

/* sys.modules of an interpreter: 3.12 moved it into interp->imports. */
#  if MV_PY_AT_LEAST(3, 12)
#    define MV_INTERP_MODULES(interp) ((interp)->imports.modules)
#  else
#    define MV_INTERP_MODULES(interp) ((interp)->modules)
#  endif
/* The dict of interned strings: the interpreter's from 3.12 on; before, a
 * static of unicodeobject.c that no header reaches (NULL: not a root). */
#  if MV_PY_AT_LEAST(3, 12)
#    define MV_INTERNED_STRINGS(interp) _Py_INTERP_CACHED_OBJECT((interp), interned_strings)
#  else
#    define MV_INTERNED_STRINGS(interp) ((void)(interp), (PyObject *)NULL)
#  endif

/* ---- Running frames (csrc/census.c) --------------------------------------
 * What a running function holds lives in its frame: on 3.10 a PyFrameObject
 * (a GC object whose tp_traverse visits its locals and value stack), on 3.11+
 * a _PyInterpreterFrame, which is no object at all.  mv_thread_frame() is a
 * thread's innermost frame, mv_frame_previous() its caller, and
 * mv_frame_visit() visits what one frame holds, as the frame's own
 * _PyFrame_Traverse would (not exported): the code, the function, globals,
 * builtins, the locals dict, the frame object, then the locals, cells and
 * the value stack.  The value stack is only valid up to the top the frame
 * saved: 3.11-3.13 set stacktop to -1 while the frame itself executes, 3.14+
 * may leave stackpointer NULL; the locals are always initialised (NULL until
 * bound), so without a saved top only they are visited. */
#  if MV_PY_AT_LEAST(3, 11)
#    if MV_PY_AT_LEAST(3, 14)
#      include "internal/pycore_interpframe.h"
#      include "internal/pycore_frame.h"     /* PyFrameObject's fields (mv_frame_object) */
#    else
#      include "internal/pycore_frame.h"
#    endif
typedef _PyInterpreterFrame mv_frame;

static inline mv_frame *
mv_thread_frame(PyThreadState *tstate)
{
#    if MV_PY_AT_LEAST(3, 13)
    return tstate->current_frame;
#    else
    return tstate->cframe == NULL ? NULL : tstate->cframe->current_frame;
#    endif
}

static inline mv_frame *
mv_frame_previous(mv_frame *frame)
{
    return frame->previous;
}

/* 3.14+ keeps the code, the function, the locals and the stack as tagged
 * stack references: NULL, a tagged int (no object) or a pointer with flag bits. */
#    if MV_PY_AT_LEAST(3, 14)
static inline PyObject *
mv_stackref_object(_PyStackRef ref)
{
    if (PyStackRef_IsNull(ref) || PyStackRef_IsTaggedInt(ref)) {
        return NULL;
    }
    return PyStackRef_AsPyObjectBorrow(ref);
}
#      define MV_FRAME_SLOT(object) mv_stackref_object(object)
#      define MV_FRAME_CODE(frame) mv_stackref_object((frame)->f_executable)
#      define MV_FRAME_FUNCTION(frame) mv_stackref_object((frame)->f_funcobj)
#    elif MV_PY_AT_LEAST(3, 13)
#      define MV_FRAME_SLOT(object) (object)
#      define MV_FRAME_CODE(frame) ((frame)->f_executable)
#      define MV_FRAME_FUNCTION(frame) ((frame)->f_funcobj)
#    elif MV_PY_AT_LEAST(3, 12)
#      define MV_FRAME_SLOT(object) (object)
#      define MV_FRAME_CODE(frame) ((PyObject *)(frame)->f_code)
#      define MV_FRAME_FUNCTION(frame) ((frame)->f_funcobj)
#    else
#      define MV_FRAME_SLOT(object) (object)
#      define MV_FRAME_CODE(frame) ((PyObject *)(frame)->f_code)
#      define MV_FRAME_FUNCTION(frame) ((PyObject *)(frame)->f_func)
#    endif

/* Frames the C stack or the interpreter owns (entry shims, 3.14's base
 * frame) hold no Python function's state: their other fields are not valid. */
static inline int
mv_frame_is_python(mv_frame *frame)
{
#    if MV_PY_AT_LEAST(3, 14)
    return frame->owner < FRAME_OWNED_BY_INTERPRETER;
#    elif MV_PY_AT_LEAST(3, 12)
    return frame->owner != FRAME_OWNED_BY_CSTACK;
#    else
    (void)frame;
    return 1;
#    endif
}

/* Slots of localsplus that hold objects now: up to the saved stack top, or
 * only the locals (and cells and free variables) without a valid one. */
static inline Py_ssize_t
mv_frame_live_slots(mv_frame *frame, PyCodeObject *code)
{
    Py_ssize_t top;
#    if MV_PY_AT_LEAST(3, 14)
    top = frame->stackpointer == NULL ? -1 : frame->stackpointer - frame->localsplus;
#    else
    top = frame->stacktop;
#    endif
    if (top < code->co_nlocalsplus || top > code->co_nlocalsplus + code->co_stacksize) {
        return code->co_nlocalsplus;
    }
    return top;
}

/* A frame's own slots that hold objects now: its locals, cells and free
 * variables (in the order of the code's co_varnames, co_cellvars, co_freevars;
 * code._varname_from_oparg names them), then its value stack. */
static inline Py_ssize_t
mv_frame_own_slots(mv_frame *frame)
{
    PyObject *code = MV_FRAME_CODE(frame);
    if (!mv_frame_is_python(frame) || code == NULL || !PyCode_Check(code)) {
        return 0;
    }
    return mv_frame_live_slots(frame, (PyCodeObject *)code);
}

static inline PyObject *
mv_frame_own_slot(mv_frame *frame, Py_ssize_t i)
{
    return MV_FRAME_SLOT(frame->localsplus[i]);
}

/* Its locals dict when that is not its globals (a class body's), or NULL. */
static inline PyObject *
mv_frame_locals_dict(mv_frame *frame)
{
    if (!mv_frame_is_python(frame) || frame->f_locals == frame->f_globals) {
        return NULL;
    }
    return frame->f_locals;
}

static inline int mv_frame_visit_locals(mv_frame *frame, visitproc visit, void *arg);

/* Everything a frame holds: its code, function, globals and builtins too. */
static inline int
mv_frame_visit(mv_frame *frame, visitproc visit, void *arg)
{
    if (!mv_frame_is_python(frame)) {
        return 0;
    }
    Py_VISIT(MV_FRAME_CODE(frame));
    Py_VISIT(MV_FRAME_FUNCTION(frame));
    Py_VISIT(frame->f_globals);
    Py_VISIT(frame->f_builtins);
    Py_VISIT(frame->frame_obj);
    if (frame->f_locals == frame->f_globals) {
        Py_VISIT(frame->f_locals);  /* a module's frame: mv_frame_visit_locals leaves it */
    }
    return mv_frame_visit_locals(frame, visit, arg);
}

/* From 3.11 a running frame is no object: a walk meets what it holds through
 * the frame itself (mv_frame_visit), not through a traversed object. */
#    define MV_FRAMES_ARE_OBJECTS 0

/* The frame object of a frame one of interp's threads is running (a new
 * reference, made if it had none), or NULL when none runs it any more: the
 * pointer is only compared, never read.  May allocate. */
static inline PyObject *
mv_frame_object(PyInterpreterState *interp, mv_frame *frame)
{
    for (PyThreadState *tstate = PyInterpreterState_ThreadHead(interp); tstate != NULL;
         tstate = PyThreadState_Next(tstate)) {
        PyFrameObject *candidate = PyThreadState_GetFrame(tstate);
        while (candidate != NULL) {
            if (candidate->f_frame == frame) {
                return (PyObject *)candidate;
            }
            PyFrameObject *back = PyFrame_GetBack(candidate);
            Py_DECREF(candidate);
            candidate = back;
        }
    }
    return NULL;
}

#  else /* 3.10 */
#    include "frameobject.h"
typedef PyFrameObject mv_frame;
#    define MV_FRAMES_ARE_OBJECTS 1

/* The frame is its object. */
static inline PyObject *
mv_frame_object(PyInterpreterState *interp, mv_frame *frame)
{
    (void)interp;
    return Py_NewRef((PyObject *)frame);
}

static inline mv_frame *
mv_thread_frame(PyThreadState *tstate)
{
    return tstate->frame;
}

static inline mv_frame *
mv_frame_previous(mv_frame *frame)
{
    return frame->f_back;
}

#    define MV_FRAME_CODE(frame) ((PyObject *)(frame)->f_code)

/* The frame object itself: the walk then traverses it like any object. */
static inline int
mv_frame_visit(mv_frame *frame, visitproc visit, void *arg)
{
    Py_VISIT((PyObject *)frame);
    return 0;
}

/* A frame's own slots, as frame_traverse reads them: its locals, cells and
 * free variables (co_varnames, co_cellvars, co_freevars), then its saved value
 * stack, which follows them in memory. */
static inline Py_ssize_t
mv_frame_own_slots(mv_frame *frame)
{
    return (frame->f_valuestack - frame->f_localsplus) + frame->f_stackdepth;
}

static inline PyObject *
mv_frame_own_slot(mv_frame *frame, Py_ssize_t i)
{
    return frame->f_localsplus[i];
}

static inline PyObject *
mv_frame_locals_dict(mv_frame *frame)
{
    return frame->f_locals == frame->f_globals ? NULL : frame->f_locals;
}
#  endif

/* What a frame holds of its own: its slots, and a locals dict that is not its
 * globals. */
static inline int
mv_frame_visit_locals(mv_frame *frame, visitproc visit, void *arg)
{
    Py_VISIT(mv_frame_locals_dict(frame));
    Py_ssize_t slots = mv_frame_own_slots(frame);
    for (Py_ssize_t i = 0; i < slots; i++) {
        Py_VISIT(mv_frame_own_slot(frame, i));
    }
    return 0;
}

/* -- sys.getsizeof in C (the census) -------------------------------------------
 * What differs per version in the sizes the census computes itself; each must
 * equal sys.getsizeof(op) (tests/test_census.py checks every object of the
 * heap, per version).  Only reads; nothing allocates, nothing runs. */

/* A type's own dict (a new reference, or NULL): static builtin types keep it
 * in the interpreter from 3.12 on, where tp_dict may be NULL. */
static inline PyObject *
mv_type_dict(PyTypeObject *type)
{
#  if MV_PY_AT_LEAST(3, 12)
    return PyType_GetDict(type);
#  else
    return Py_XNewRef(type->tp_dict);
#  endif
}

/* What sys.getsizeof adds to __sizeof__: the GC header on 3.10; the
 * pre-header (GC header, managed dict and weakref pointers) from 3.11, which
 * 3.13+ leaves off static types. */
/* _PyDict_SizeOf (dict.__sizeof__, exported on every version): cpython/dictobject.h
 * until 3.12, internal from 3.13. */
#  if MV_PY_AT_LEAST(3, 13)
#    include "internal/pycore_dict.h"
#  endif
static inline size_t
mv_getsizeof_extra(PyObject *op)
{
#  if MV_PY_AT_LEAST(3, 13)
    if (Py_IS_TYPE(op, &PyType_Type)
        && !PyType_HasFeature((PyTypeObject *)op, Py_TPFLAGS_HEAPTYPE)) {
        return 0;
    }
    return _PyType_PreHeaderSize(Py_TYPE(op));
#  elif MV_PY_AT_LEAST(3, 11)
    return _PyType_PreHeaderSize(Py_TYPE(op));
#  else
    return _PyObject_IS_GC(op) ? sizeof(PyGC_Head) : 0;
#  endif
}

/* int.__sizeof__: digits are counted differently in each of 3.10, 3.11, 3.12+. */
#  if MV_PY_AT_LEAST(3, 12)
#    include "internal/pycore_long.h"      /* _PyLong_DigitCount */
#  elif !MV_PY_AT_LEAST(3, 11)
#    include "longintrepr.h"               /* PyLongObject's digits (Python.h has them from 3.11) */
#  endif
static inline size_t
mv_int_sizeof(PyObject *op)
{
#  if MV_PY_AT_LEAST(3, 12)
    Py_ssize_t digits = _PyLong_DigitCount((PyLongObject *)op);
    return (size_t)(Py_TYPE(op)->tp_basicsize + Py_TYPE(op)->tp_itemsize * Py_MAX(digits, 1));
#  elif MV_PY_AT_LEAST(3, 11)
    return offsetof(PyLongObject, ob_digit) + (size_t)Py_MAX(Py_ABS(Py_SIZE(op)), 1) * sizeof(digit);
#  else
    return offsetof(PyLongObject, ob_digit) + (size_t)Py_ABS(Py_SIZE(op)) * sizeof(digit);
#  endif
}

/* bytearray.__sizeof__: its buffer; from 3.15 the buffer is a bytes object
 * (ob_bytes_object), counted as sys.getsizeof counts that bytes unless it is
 * the empty one. */
static inline size_t
mv_bytearray_sizeof(PyObject *op)
{
    size_t size = (size_t)Py_TYPE(op)->tp_basicsize;
#  if MV_PY_AT_LEAST(3, 15)
    PyObject *buffer = ((PyByteArrayObject *)op)->ob_bytes_object;
    if (buffer != NULL && Py_SIZE(buffer) > 0) {
        size += (size_t)(Py_TYPE(buffer)->tp_basicsize + Py_SIZE(buffer));
    }
#  else
    size += (size_t)((PyByteArrayObject *)op)->ob_alloc;
#  endif
    return size;
}

/* code.__sizeof__ from 3.11 on (3.10's counts caches no header describes: 0,
 * left to sys.getsizeof).  co_extra, when a tool set it, is codeobject.c's
 * private { Py_ssize_t ce_size; void *ce_extras[1]; }. */
static inline size_t
mv_code_sizeof(PyObject *op)
{
#  if MV_PY_AT_LEAST(3, 11)
    PyCodeObject *code = (PyCodeObject *)op;
    size_t size = (size_t)_PyObject_VAR_SIZE(Py_TYPE(op), Py_SIZE(op));
    if (code->co_extra != NULL) {
        size += sizeof(Py_ssize_t) + (size_t)*(Py_ssize_t *)code->co_extra * sizeof(void *);
    }
    return size;
#  else
    (void)op;
    return 0;
#  endif
}

/* str.__sizeof__; 0 for a str it cannot size (3.10/3.11: not "ready", whose
 * kind and length are not set yet): that one is left to sys.getsizeof. */
static inline size_t
mv_str_sizeof(PyObject *op)
{
#  if !MV_PY_AT_LEAST(3, 12)
    if (!PyUnicode_IS_READY(op)) {
        return 0;
    }
#  endif
    size_t length = (size_t)PyUnicode_GET_LENGTH(op);
    int ascii = PyUnicode_IS_COMPACT_ASCII(op);
    const PyCompactUnicodeObject *compact = (const PyCompactUnicodeObject *)op;
    size_t size;
    if (ascii) {
        size = sizeof(PyASCIIObject) + length + 1;
    }
    else if (PyUnicode_IS_COMPACT(op)) {
        size = sizeof(PyCompactUnicodeObject) + (length + 1) * PyUnicode_KIND(op);
    }
    else {
        size = sizeof(PyUnicodeObject);
        if (((const PyUnicodeObject *)op)->data.any != NULL) {
            size += (length + 1) * PyUnicode_KIND(op);
        }
    }
#  if !MV_PY_AT_LEAST(3, 12)
    /* The wchar_t copy (gone in 3.12), unless it is the data itself; an
     * ASCII str's is as long as the str. */
    const wchar_t *wstr = ((const PyASCIIObject *)op)->wstr;
    if (wstr != NULL && (const void *)wstr != PyUnicode_DATA(op)) {
        size_t wstr_length = ascii ? length : (size_t)compact->wstr_length;
        size += (wstr_length + 1) * sizeof(wchar_t);
    }
#  endif
    /* The UTF-8 copy, unless it is the data itself (an ASCII str has none). */
    if (!ascii && compact->utf8 != NULL && (const void *)compact->utf8 != PyUnicode_DATA(op)) {
        size += (size_t)compact->utf8_length + 1;
    }
    return size;
}

#endif /* MV_KNOWN_LAYOUT */

/* The name of holder's attribute whose value is held, when the attribute is
 * kept inline, without a __dict__ (3.11+: an instance's values, keyed by its
 * class's shared keys, in the pre-header on 3.11/3.12 and after the object
 * from 3.13); NULL when none is (or holder keeps no inline values).  Reading
 * them makes no __dict__, as asking Python for obj.__dict__ would. */
#if MV_KNOWN_LAYOUT && MV_PY_AT_LEAST(3, 11) && !MV_PY_AT_LEAST(3, 13)
#  include "internal/pycore_dict.h"     /* PyDictValues, DK_UNICODE_ENTRIES */
#endif
static inline PyObject *
mv_inline_attribute(PyObject *holder, PyObject *held)
{
#if MV_KNOWN_LAYOUT && MV_PY_AT_LEAST(3, 11)
    PyTypeObject *type = Py_TYPE(holder);
    if (!PyType_HasFeature(type, Py_TPFLAGS_MANAGED_DICT)
        || !PyType_HasFeature(type, Py_TPFLAGS_HEAPTYPE)) {
        return NULL;
    }
    PyDictKeysObject *keys = ((PyHeapTypeObject *)type)->ht_cached_keys;
    Py_ssize_t count = keys == NULL ? 0 : keys->dk_nentries;
    PyDictValues *values;
#  if MV_PY_AT_LEAST(3, 13)
    if (!PyType_HasFeature(type, Py_TPFLAGS_INLINE_VALUES)) {
        return NULL;
    }
    values = _PyObject_InlineValues(holder);
    if (!values->valid) {
        return NULL;    /* moved into a __dict__, which names them */
    }
    count = count < values->capacity ? count : values->capacity;
#  elif MV_PY_AT_LEAST(3, 12)
    PyDictOrValues dict_or_values = *_PyObject_DictOrValuesPointer(holder);
    values = _PyDictOrValues_IsValues(dict_or_values)
             ? _PyDictOrValues_GetValues(dict_or_values) : NULL;
#  else
    values = *_PyObject_ValuesPointer(holder);
#  endif
    if (values == NULL || keys == NULL) {
        return NULL;
    }
    PyDictUnicodeEntry *entries = DK_UNICODE_ENTRIES(keys);
    for (Py_ssize_t i = 0; i < count; i++) {
        if (values->values[i] == held && entries[i].me_key != NULL) {
            return entries[i].me_key;
        }
    }
    return NULL;
#else
    (void)holder;
    (void)held;
    return NULL;
#endif
}

/* 1 when the running interpreter's generation lists have the layout this
 * build reads: not on 3.14.0-3.14.4 (incremental collector). */
static inline int
mv_gc_lists_readable(void)
{
#if MV_KNOWN_LAYOUT
    uint32_t v = MV_RUNTIME_VERSION_HEX;
    if ((v >> 16) != (PY_VERSION_HEX >> 16)) {
        return 0;   /* a different minor version than the headers: never guess */
    }
    return !(v >= 0x030E0000 && v < 0x030E05A0);
#else
    return 0;
#endif
}

/* =========================================================================
 * pymalloc (csrc/pymalloc.c)
 *
 * MV_PM_KNOWN        1 when this build can read pymalloc: a known GIL build
 *                    of a 64-bit interpreter with pymalloc compiled in.
 * MV_PM_FROM_SYMTAB  1 on 3.10/3.11, whose state is made of file-static
 *                    variables of Objects/obmalloc.c that no header declares:
 *                    pymalloc.c finds them in libpython's .symtab
 *                    (csrc/elfsyms.c) by the names and sizes MV_PM_SYMBOLS
 *                    lists.  0 on 3.12+, where the interpreter holds the
 *                    state (mv_pm_state).
 * MV_PM_*            the constants.  3.12+: the headers' own
 *                    (internal/pycore_obmalloc.h, so 3.15's optional 2 MiB
 *                    huge-page arenas follow the build).  3.10/3.11: copied
 *                    from that version's obmalloc.c for 64-bit with the radix
 *                    tree (its default); the sizes of the symbols found
 *                    (usedpools, nfp2lasta, arena_map_root) are checked
 *                    against them at run time, so another configuration is
 *                    refused rather than misread.
 * mv_pm_pool, mv_pm_arena   struct pool_header and struct arena_object.
 * mv_pm_globals      the management figures one reading needs, copied out.
 * ========================================================================= */
#if MV_KNOWN_LAYOUT && defined(WITH_PYMALLOC) && SIZEOF_VOID_P == 8
#  define MV_PM_KNOWN 1
#else
#  define MV_PM_KNOWN 0
#endif

#if MV_PM_KNOWN

/* The exported functions pymalloc.c calls are declared in a different header
 * in each version: _PyObject_DebugMallocStats in cpython/objimpl.h (3.10),
 * internal/pycore_pymem.h (3.11), internal/pycore_obmalloc.h (3.12+);
 * _PyMem_GetCurrentAllocatorName in cpython/pymem.h (3.10-3.12),
 * internal/pycore_pymem.h (3.13+). */
#  if MV_PY_AT_LEAST(3, 12)
#    include "internal/pycore_obmalloc.h"
#  endif
#  if (MV_PY_AT_LEAST(3, 11) && !MV_PY_AT_LEAST(3, 12)) || MV_PY_AT_LEAST(3, 13)
#    include "internal/pycore_pymem.h"
#  endif

/* Debug hooks (PYTHONMALLOC=debug/pymalloc_debug, -X dev) put two size_t
 * before the pointer they hand out: the object starts this far into its block. */
#  define MV_PM_DEBUG_PREFIX (2 * sizeof(size_t))

/* What one reading needs from the management state, copied out. */
typedef struct mv_pm_globals mv_pm_globals;

#  if !MV_PY_AT_LEAST(3, 12)
#    define MV_PM_FROM_SYMTAB 1
#    include "internal/pycore_runtime.h"   /* _PyRuntime: checks the symbol lookup */

#    define MV_PM_ALIGNMENT 16
#    define MV_PM_SMALL_REQUEST_THRESHOLD 512
#    define MV_PM_SIZE_CLASSES (MV_PM_SMALL_REQUEST_THRESHOLD / MV_PM_ALIGNMENT)
#    define MV_PM_ARENA_BITS 20                     /* USE_LARGE_ARENAS: 1 MiB */
#    define MV_PM_POOL_BITS 14                      /* USE_LARGE_POOLS: 16 KiB */
#    define MV_PM_ARENA_SIZE ((size_t)1 << MV_PM_ARENA_BITS)
#    define MV_PM_POOL_SIZE ((size_t)1 << MV_PM_POOL_BITS)
#    define MV_PM_MAX_POOLS_IN_ARENA (MV_PM_ARENA_SIZE / MV_PM_POOL_SIZE)
#    define MV_PM_RADIX_TREE 1
/* The radix tree: 3.10 indexes 48-bit addresses (ADDRESS_BITS 48), 3.11
 * whole pointers (IGNORE_BITS 0). */
#    if MV_PY_AT_LEAST(3, 11)
#      define MV_PM_ADDRESS_BITS 64
#    else
#      define MV_PM_ADDRESS_BITS 48
#    endif
#    define MV_PM_INTERIOR_BITS ((MV_PM_ADDRESS_BITS - MV_PM_ARENA_BITS + 2) / 3)
#    define MV_PM_MAP_BOT_BITS (MV_PM_ADDRESS_BITS - MV_PM_ARENA_BITS - 2 * MV_PM_INTERIOR_BITS)
#    define MV_PM_MAP_ROOT_BYTES (((size_t)1 << MV_PM_INTERIOR_BITS) * sizeof(void *))
#    define MV_PM_MAP_MID_BYTES (((size_t)1 << MV_PM_INTERIOR_BITS) * sizeof(void *))
#    define MV_PM_MAP_BOT_BYTES (((size_t)1 << MV_PM_MAP_BOT_BITS) * 2 * sizeof(int32_t))

typedef struct mv_pm_pool {
    union { uint8_t *_padding; unsigned int count; } ref;
    uint8_t *freeblock;
    struct mv_pm_pool *nextpool;
    struct mv_pm_pool *prevpool;
    unsigned int arenaindex;
    unsigned int szidx;
    unsigned int nextoffset;
    unsigned int maxnextoffset;
} mv_pm_pool;

typedef struct mv_pm_arena {
    uintptr_t address;
    uint8_t *pool_address;
    unsigned int nfreepools;
    unsigned int ntotalpools;
    mv_pm_pool *freepools;
    struct mv_pm_arena *nextarena;
    struct mv_pm_arena *prevarena;
} mv_pm_arena;

#    define MV_PM_POOL_OVERHEAD \
        ((sizeof(mv_pm_pool) + MV_PM_ALIGNMENT - 1) & ~(size_t)(MV_PM_ALIGNMENT - 1))

/* obmalloc.c's statics that memviz reads, with the size each must have.
 * usedpools, nfp2lasta and arena_map_root are not read: their sizes check
 * the number of size classes, of pools per arena and the radix tree. */
#    define MV_PM_SYMBOLS(X)                                                    \
        X(arenas, sizeof(mv_pm_arena *))                                        \
        X(maxarenas, sizeof(unsigned int))                                      \
        X(narenas_currently_allocated, sizeof(size_t))                          \
        X(ntimes_arena_allocated, sizeof(size_t))                               \
        X(narenas_highwater, sizeof(size_t))                                    \
        X(raw_allocated_blocks, sizeof(Py_ssize_t))                             \
        X(arena_map_mid_count, sizeof(int))                                     \
        X(arena_map_bot_count, sizeof(int))                                     \
        X(usedpools, 2 * ((MV_PM_SIZE_CLASSES + 7) / 8) * 8 * sizeof(void *))   \
        X(nfp2lasta, (MV_PM_MAX_POOLS_IN_ARENA + 1) * sizeof(void *))           \
        X(arena_map_root, MV_PM_MAP_ROOT_BYTES)

#  else /* 3.12+ */
#    define MV_PM_FROM_SYMTAB 0

typedef struct pool_header mv_pm_pool;
typedef struct arena_object mv_pm_arena;

#    define MV_PM_ALIGNMENT ALIGNMENT
#    define MV_PM_SMALL_REQUEST_THRESHOLD SMALL_REQUEST_THRESHOLD
#    define MV_PM_SIZE_CLASSES NB_SMALL_SIZE_CLASSES
#    define MV_PM_ARENA_SIZE ((size_t)ARENA_SIZE)
#    define MV_PM_POOL_SIZE ((size_t)POOL_SIZE)
#    define MV_PM_MAX_POOLS_IN_ARENA MAX_POOLS_IN_ARENA
#    define MV_PM_POOL_OVERHEAD ((size_t)POOL_OVERHEAD)
#    if WITH_PYMALLOC_RADIX_TREE && defined(USE_INTERIOR_NODES)
#      define MV_PM_RADIX_TREE 1
#      define MV_PM_MAP_ROOT_BYTES sizeof(arena_map_top_t)
#      define MV_PM_MAP_MID_BYTES sizeof(arena_map_mid_t)
#      define MV_PM_MAP_BOT_BYTES sizeof(arena_map_bot_t)
#    else
#      define MV_PM_RADIX_TREE 0
#    endif

/* The state this interpreter allocates from.  3.12 embeds one in every
 * interpreter, but a legacy subinterpreter (Py_RTFLAGS_USE_MAIN_OBMALLOC)
 * allocates from the main interpreter's; 3.13+ points each interpreter at
 * the state it uses (NULL only before the allocator is initialised). */
static inline struct _obmalloc_state *
mv_pm_state(PyInterpreterState *interp)
{
#    if MV_PY_AT_LEAST(3, 13)
    return interp->obmalloc;
#    else
    if (interp != PyInterpreterState_Main()
        && (interp->feature_flags & Py_RTFLAGS_USE_MAIN_OBMALLOC)) {
        interp = PyInterpreterState_Main();
    }
    return &interp->obmalloc;
#    endif
}
#  endif /* 3.12+ */

#  ifndef MV_PM_MAP_ROOT_BYTES
#    define MV_PM_MAP_ROOT_BYTES 0
#    define MV_PM_MAP_MID_BYTES 0
#    define MV_PM_MAP_BOT_BYTES 0
#  endif

struct mv_pm_globals {
    mv_pm_arena *arenas;                    /* the arenas vector (maxarenas slots) */
    unsigned int maxarenas;
    size_t narenas_currently_allocated;
    size_t ntimes_arena_allocated;
    size_t narenas_highwater;
    Py_ssize_t raw_allocated_blocks;
    int map_mid_count;                      /* -1 without the radix tree */
    int map_bot_count;
};

#  if !MV_PM_FROM_SYMTAB
static inline void
mv_pm_copy_globals(struct _obmalloc_state *state, mv_pm_globals *g)
{
    g->arenas = state->mgmt.arenas;
    g->maxarenas = state->mgmt.maxarenas;
    g->narenas_currently_allocated = state->mgmt.narenas_currently_allocated;
    g->ntimes_arena_allocated = state->mgmt.ntimes_arena_allocated;
    g->narenas_highwater = state->mgmt.narenas_highwater;
    g->raw_allocated_blocks = state->mgmt.raw_allocated_blocks;
#    if MV_PM_RADIX_TREE
    g->map_mid_count = state->usage.arena_map_mid_count;
    g->map_bot_count = state->usage.arena_map_bot_count;
#    else
    g->map_mid_count = g->map_bot_count = -1;
#    endif
}
#  endif

#endif /* MV_PM_KNOWN */

#endif /* MEMVIZ_COMPAT_H */
