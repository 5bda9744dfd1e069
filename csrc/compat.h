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

#define MV_PY_AT_LEAST(major, minor) (PY_VERSION_HEX >= (((major) << 24) | ((minor) << 16)))

#if MV_PY_AT_LEAST(3, 10) && !MV_PY_AT_LEAST(3, 16) && !defined(Py_GIL_DISABLED)
#  define MV_KNOWN_LAYOUT 1
#else
#  define MV_KNOWN_LAYOUT 0
#endif

#if MV_KNOWN_LAYOUT
#  include "internal/pycore_interp.h"    /* PyInterpreterState, struct _gc_runtime_state */
#  include "internal/pycore_gc.h"        /* PyGC_Head */
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
#  define MV_IS_IMMORTAL_OBJECT(op) 0
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

#endif /* MV_KNOWN_LAYOUT */

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

#endif /* MEMVIZ_COMPAT_H */
