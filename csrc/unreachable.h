/* unreachable.h -- what the next full collection would find unreachable,
 * computed without collecting (unreachable.c), called by objects.c. */
#ifndef MEMVIZ_UNREACHABLE_H
#define MEMVIZ_UNREACHABLE_H

#include "gcread.h"

#if MV_KNOWN_LAYOUT
/* The unreachable objects, grouped: component k is
 * objects[starts[k] .. starts[k + 1]), in the order of the collector's lists,
 * and its loop -- a shortest cycle through the first of them on a cycle, each
 * holding the next and the last the first -- is
 * loops[loop_starts[k] .. loop_starts[k + 1]) (empty for a component that
 * is no cycle).  Every object in objects is held (a new reference); loops
 * repeats some of them without references of its own. */
typedef struct {
    PyObject **objects;
    size_t count;
    size_t *starts;             /* components + 1 entries */
    PyObject **loops;
    size_t *loop_starts;        /* components + 1 entries */
    size_t components;
} mv_unreachable;

/* Finds what a collection of generations 0, 1 and 2 would find unreachable,
 * as the collector does (gc_refs, subtracted internal references, what the
 * roots reach), in malloc'd side tables: no GC header is written, nothing is
 * allocated from the interpreter and no code runs.  The GIL must be held and
 * the lists readable (mv_gc_readable).  Free with mv_unreachable_free, in any
 * case. */
int mv_unreachable_find(struct _gc_runtime_state *gcstate, mv_unreachable *found);
void mv_unreachable_free(mv_unreachable *found);
/* Whether the collector would run a finalizer of op: a tp_finalize (a
 * __del__) it has not run yet, or a legacy tp_del. */
int mv_finalizer_pending(PyObject *op);
#endif

#endif
