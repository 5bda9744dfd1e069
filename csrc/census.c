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
 */
#include "census.h"    /* first: Python.h sets the feature macros the system headers see */

#include <stdlib.h>

#if MV_KNOWN_LAYOUT

typedef struct {
    mv_object_set seen;         /* every object counted */
    mv_object_stack pending;    /* counted, not yet traversed */
    mv_type_table *types;
    int status;
} mv_census_walk;

/* A visitproc: counts an object the first time the walk meets it, and keeps
 * it to traverse when it has references to follow. */
static int
discover(PyObject *op, void *arg)
{
    mv_census_walk *walk = arg;
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

/* Traverses what was discovered until nothing is left: depth first, so the
 * stack stays as deep as the object graph, not as wide as the heap. */
static int
drain(mv_census_walk *walk)
{
    while (walk->status == MV_OK && walk->pending.used > 0) {
        PyObject *op = walk->pending.items[--walk->pending.used];
        Py_TYPE(op)->tp_traverse(op, discover, walk);
    }
    return walk->status;
}

static int
walk_from(mv_census_walk *walk, PyObject *root)
{
    if (root != NULL) {
        discover(root, walk);
    }
    return drain(walk);
}

static int
walk_gc_lists(mv_census_walk *walk, struct _gc_runtime_state *gcstate)
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
walk_frames(mv_census_walk *walk, PyInterpreterState *interp)
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
mv_census_count_types(PyInterpreterState *interp, mv_type_table *table)
{
    mv_census_walk walk = {{NULL, 0, 0}, {NULL, 0, 0}, table, MV_OK};
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
    mv_object_set_free(&walk.seen);
    mv_object_stack_free(&walk.pending);
    if (walk.status != MV_OK) {
        mv_type_table_free(table);
    }
    return walk.status;
}

#endif /* MV_KNOWN_LAYOUT */
