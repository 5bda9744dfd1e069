/* census.c -- the heap census's walk: every object reachable from the
 * interpreter's roots, each counted once, per exact type.
 *
 * The collector's lists hold only the objects it tracks; a str, an int, a
 * bytes or an untracked tuple is reached only through the references of
 * another object.  So the census starts from the roots (every object of the
 * four lists, sys.modules, builtins and the sys dict, and every running
 * frame of the interpreter's threads: a local of a running function is held
 * by the frame alone) and follows tp_traverse from every object of a GC type
 * -- tracked or not, an untracked tuple still holds its items -- as
 * gc.get_referents does.  Other objects are leaves.
 *
 * Why this is safe: the GIL is held throughout and the lists are not being
 * collected (the caller checked mv_gc_readable); tp_traverse only reads (the
 * collector calls it the same way) and runs no Python code; the set of seen
 * objects, the stack and the type table are malloc'd, so nothing is
 * allocated from pymalloc or the Python heap, no collection can start, and
 * nothing the walk has seen can be freed under it.
 *
 * Sizes come after the walk: sys.getsizeof may run Python code (a __sizeof__
 * written in Python), so every object found is held first (a reference
 * taken while nothing else can run) and released after the result is built.
 */
#include "census.h"    /* first: Python.h sets the feature macros the system headers see */

#include <stdlib.h>

#if MV_KNOWN_LAYOUT

typedef struct {
    mv_object_set seen;         /* every object counted */
    mv_object_stack pending;    /* counted, not yet traversed */
    mv_type_table *types;
    int status;
} mv_walk;

/* A visitproc: counts an object the first time the walk meets it, and keeps
 * it to traverse when it has references to follow. */
static int
discover(PyObject *op, void *arg)
{
    mv_walk *walk = arg;
    if (walk->status != MV_OK) {
        return -1;
    }
    int added = mv_object_set_add(&walk->seen, op);
    if (added == 0) {
        return 0;
    }
    mv_type_count *slot = added < 0 ? NULL : mv_type_table_add(walk->types, Py_TYPE(op));
    int follow = PyObject_IS_GC(op) && Py_TYPE(op)->tp_traverse != NULL;
    if (slot == NULL || (follow && mv_object_stack_push(&walk->pending, op) != MV_OK)) {
        walk->status = MV_ERR_NO_MEMORY;
        return -1;      /* stops the traversal that called it */
    }
    if (PyObject_GC_IsTracked(op)) {
        slot->tracked++;
    }
    return 0;
}

/* Traverses what was discovered until nothing is left.  Called after each
 * root, so the stack holds what is still to follow from one root, not every
 * object of the collector's lists at once. */
static int
drain(mv_walk *walk)
{
    while (walk->status == MV_OK && walk->pending.used > 0) {
        PyObject *op = walk->pending.items[--walk->pending.used];
        Py_TYPE(op)->tp_traverse(op, discover, walk);
    }
    return walk->status;
}

static int
walk_from(mv_walk *walk, PyObject *root)
{
    if (root != NULL) {
        discover(root, walk);
    }
    return drain(walk);
}

static int
walk_gc_lists(mv_walk *walk, struct _gc_runtime_state *gcstate)
{
    for (int i = 0; walk->status == MV_OK && i <= MV_PERMANENT_GENERATION; i++) {
        PyGC_Head *head = mv_gc_list_head(gcstate, i);
        for (PyGC_Head *g = MV_GC_NEXT(head); walk->status == MV_OK && g != head;
             g = MV_GC_NEXT(g)) {
            walk_from(walk, MV_FROM_GC(g));
        }
    }
    return walk->status;
}

/* Every frame every thread of the interpreter is running, innermost first. */
static int
walk_frames(mv_walk *walk, PyInterpreterState *interp)
{
    for (PyThreadState *tstate = PyInterpreterState_ThreadHead(interp);
         walk->status == MV_OK && tstate != NULL; tstate = PyThreadState_Next(tstate)) {
        for (mv_frame *frame = mv_thread_frame(tstate); walk->status == MV_OK && frame != NULL;
             frame = mv_frame_previous(frame)) {
            mv_frame_visit(frame, discover, walk);
            drain(walk);
        }
    }
    return walk->status;
}

int
mv_census_walk(PyInterpreterState *interp, mv_type_table *table, mv_object_set *objects)
{
    mv_walk walk = {{NULL, 0, 0}, {NULL, 0, 0}, table, MV_OK};
    walk.status = mv_type_table_init(table, 1024);
    if (walk.status == MV_OK) {
        walk_gc_lists(&walk, MV_GC_STATE(interp));
    }
    if (walk.status == MV_OK) {
        walk_from(&walk, MV_INTERP_MODULES(interp));
        walk_from(&walk, interp->builtins);
        walk_from(&walk, interp->sysdict);
        walk_frames(&walk, interp);
    }
    mv_object_stack_free(&walk.pending);
    if (walk.status != MV_OK) {
        mv_object_set_free(&walk.seen);
        mv_type_table_free(table);
        return walk.status;
    }
    /* Nothing has run since the walk saw them: every object is alive.  Held from
     * here on, none can be freed while their sizes are taken. */
    for (size_t i = 0; i < walk.seen.capacity; i++) {
        Py_XINCREF(walk.seen.slots[i]);
    }
    *objects = walk.seen;
    return MV_OK;
}

int
mv_census_add_sizes(mv_type_table *table, const mv_object_set *objects)
{
    for (size_t i = 0; i < objects->capacity; i++) {
        PyObject *op = objects->slots[i];
        if (op == NULL) {
            continue;
        }
        size_t size = _PySys_GetSizeOf(op);
        if (size == (size_t)-1 && PyErr_Occurred()) {
            return -1;
        }
        /* A __sizeof__ written in Python could have changed the object's class
         * (__class__ assignment) to one the walk did not count: its bytes then
         * stay with no type rather than be given to the wrong one. */
        mv_type_count *slot = mv_type_table_find(table, Py_TYPE(op));
        if (slot != NULL) {
            slot->bytes += (int64_t)size;
        }
    }
    return 0;
}

void
mv_census_release(mv_object_set *objects)
{
    for (size_t i = 0; i < objects->capacity; i++) {
        Py_XDECREF(objects->slots[i]);
    }
    mv_object_set_free(objects);
}

#endif /* MV_KNOWN_LAYOUT */
