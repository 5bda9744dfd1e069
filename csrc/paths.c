/* paths.c -- the shortest chain of references from a root to one object.
 *
 * A breadth-first walk from the roots a program's data hangs from --
 * sys.modules, builtins, the sys dict, and what every running frame holds of
 * its own (its locals, cells and value stack; its globals are reached through
 * the modules, which name them) -- through tp_traverse and a dict's str keys
 * (mv_traverse), as the census walks.  Each object met is kept with the
 * object it was first met through (its parent), so the walk that first meets the target has found a shortest
 * chain: the parents, back to a root.  The collector's lists are no roots
 * here: an object only they lead to (cyclic garbage, or held from C) has no
 * path.
 *
 * Why this is safe: as census.c -- the GIL is held, the collector is not
 * running, tp_traverse only reads and runs no code, and the map of parents
 * and the queue are malloc'd, so nothing the walk meets can be freed or moved
 * under it.  The chain's objects are held before anything can run.
 */
#include "paths.h"    /* first: Python.h sets the feature macros the system headers see */

#include <stdlib.h>
#include <string.h>

#if MV_KNOWN_LAYOUT

/* A parent that is no object is odd (objects are aligned): 1 for a root object
 * itself; for what the k-th running frame met holds (frames[k - 1]) in its
 * locals dict (slot 0) or its own slot s - 1, ((k << SLOT_BITS | s) << 1) | 1. */
#define SLOT_BITS 24
#define ROOT_PARENT ((PyObject *)(uintptr_t)1)
#define FRAME_PARENT(k, s) \
    ((PyObject *)(((((uintptr_t)(k) << SLOT_BITS) | (uintptr_t)(s)) << 1) | 1))
#define IS_TAG(parent) (((uintptr_t)(parent) & 1) != 0)
#define TAG_FRAME(parent) ((size_t)((uintptr_t)(parent) >> (SLOT_BITS + 1)))
#define TAG_SLOT(parent) ((Py_ssize_t)(((uintptr_t)(parent) >> 1) & ((1u << SLOT_BITS) - 1)))

typedef struct {
    mv_pointer_map parents;     /* object -> the object (or tag) it was first met through */
    mv_object_stack queue;      /* met, to traverse: items[head .. used) */
    size_t head;
    mv_object_stack frames;     /* the running frames met: mv_frame pointers, not objects */
    PyObject *parent;           /* the object being traversed, or a tag */
    mv_path *path;
    int found;
    int status;
} bfs;

static PyObject *
parent_of(const bfs *walk, PyObject *op)
{
    return mv_map_find(&walk->parents, (uintptr_t)op)->value;
}

/* A visitproc: keeps an object with its parent the first time the walk meets
 * it; stops every traversal once the target is met. */
static int
meet(PyObject *op, void *arg)
{
    bfs *walk = arg;
    if (walk->status != MV_OK || walk->found) {
        return -1;
    }
    size_t before = walk->parents.used;
    mv_map_entry *entry = mv_map_add(&walk->parents, (uintptr_t)op);
    if (entry == NULL) {
        walk->status = MV_ERR_NO_MEMORY;
        return -1;
    }
    if (walk->parents.used == before) {
        return 0;       /* met before */
    }
    entry->value = walk->parent;
    if (op == walk->path->target) {
        walk->found = 1;
        return -1;
    }
    if (op != walk->path->skip && _PyObject_IS_GC(op) && Py_TYPE(op)->tp_traverse != NULL) {
        walk->status = mv_object_stack_push(&walk->queue, op);
    }
    return walk->status == MV_OK ? 0 : -1;
}

/* Level 0: the root objects themselves, and what each running frame holds. */
static void
meet_roots(bfs *walk, PyInterpreterState *interp)
{
    walk->parent = ROOT_PARENT;
    meet(MV_INTERP_MODULES(interp), walk);
    meet(interp->builtins, walk);
    meet(interp->sysdict, walk);
    for (PyThreadState *tstate = PyInterpreterState_ThreadHead(interp);
         walk->status == MV_OK && tstate != NULL; tstate = PyThreadState_Next(tstate)) {
        for (mv_frame *frame = mv_thread_frame(tstate); walk->status == MV_OK && frame != NULL;
             frame = mv_frame_previous(frame)) {
            walk->status = mv_object_stack_push(&walk->frames, (PyObject *)frame);
            /* Its own locals only: its globals and builtins are reached through the
             * modules, which name them.  Each with its slot, which names the local. */
            PyObject *locals = mv_frame_locals_dict(frame);
            if (locals != NULL) {
                walk->parent = FRAME_PARENT(walk->frames.used, 0);
                meet(locals, walk);
            }
            Py_ssize_t slots = mv_frame_own_slots(frame);
            for (Py_ssize_t i = 0; i < slots && i + 1 < ((Py_ssize_t)1 << SLOT_BITS); i++) {
                PyObject *held = mv_frame_own_slot(frame, i);
                if (held != NULL) {
                    walk->parent = FRAME_PARENT(walk->frames.used, i + 1);
                    meet(held, walk);
                }
            }
        }
    }
}

/* Traverses level after level, up to max_depth references from the roots. */
static void
meet_the_rest(bfs *walk)
{
    for (int depth = 0; depth < walk->path->max_depth && !walk->found; depth++) {
        size_t level_end = walk->queue.used;
        if (walk->head == level_end) {
            return;     /* nothing left to follow */
        }
        while (walk->head < level_end && !walk->found && walk->status == MV_OK) {
            PyObject *op = walk->queue.items[walk->head++];
            walk->parent = op;
            mv_traverse(op, meet, walk);
        }
    }
}

/* The chain back from the target, held: nothing has run since the walk met it. */
static int
keep_chain(bfs *walk, PyInterpreterState *interp)
{
    mv_path *path = walk->path;
    size_t length = 0;
    PyObject *op = path->target;
    PyObject *parent = op;
    while (!IS_TAG(parent)) {
        length++;
        op = parent;
        parent = parent_of(walk, op);
    }
    path->objects = malloc(length * sizeof(PyObject *));
    if (path->objects == NULL) {
        return MV_ERR_NO_MEMORY;
    }
    path->length = length;
    PyObject *step = path->target;
    for (size_t i = length; i-- > 0;) {
        path->objects[i] = Py_NewRef(step);
        step = parent_of(walk, step);
    }
    PyObject *root = path->objects[0];
    if (parent != ROOT_PARENT) {
        path->root = MV_ROOT_FRAME;
        path->frame = (mv_frame *)walk->frames.items[TAG_FRAME(parent) - 1];
        path->slot = TAG_SLOT(parent) - 1;
    }
    else if (root == MV_INTERP_MODULES(interp)) {
        path->root = MV_ROOT_MODULES;
    }
    else {
        path->root = root == interp->builtins ? MV_ROOT_BUILTINS : MV_ROOT_SYS;
    }
    return MV_OK;
}

int
mv_path_find(PyInterpreterState *interp, mv_path *path)
{
    bfs walk;
    memset(&walk, 0, sizeof(walk));
    walk.path = path;
    path->root = MV_ROOT_NONE;
    path->frame = NULL;
    path->slot = -1;
    path->objects = NULL;
    path->length = 0;
    meet_roots(&walk, interp);
    if (walk.status == MV_OK) {
        meet_the_rest(&walk);
    }
    if (walk.status == MV_OK && walk.found) {
        walk.status = keep_chain(&walk, interp);
    }
    mv_map_free(&walk.parents);
    mv_object_stack_free(&walk.queue);
    mv_object_stack_free(&walk.frames);
    return walk.status;
}

void
mv_path_free(mv_path *path)
{
    for (size_t i = 0; i < path->length; i++) {
        Py_DECREF(path->objects[i]);
    }
    free(path->objects);
    path->objects = NULL;
    path->length = 0;
}

#endif /* MV_KNOWN_LAYOUT */
