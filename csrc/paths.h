/* paths.h -- the shortest chain of references from a root to one object (paths.c). */
#ifndef MEMVIZ_PATHS_H
#define MEMVIZ_PATHS_H

#include "census.h"

#if MV_KNOWN_LAYOUT
typedef struct {
    PyObject *target;           /* in */
    PyObject *skip;             /* in: an object not followed (the caller's holder), or NULL */
    int max_depth;              /* in: references followed at most */
    int root;                   /* out: MV_ROOT_MODULES, _BUILTINS, _SYS or _FRAME, or
                                 * MV_ROOT_NONE: no path */
    mv_frame *frame;            /* out, for MV_ROOT_FRAME: the frame (compare only) */
    Py_ssize_t slot;            /* out, for MV_ROOT_FRAME: the frame's own slot that holds
                                 * objects[0] (mv_frame_own_slot), -1 for its locals dict */
    PyObject **objects;         /* out: root ... target, each a new reference (malloc'd) */
    size_t length;
} mv_path;

/* Breadth first from sys.modules, builtins, the sys dict and every running frame,
 * without allocating from the interpreter: MV_OK with path->root MV_ROOT_NONE
 * when no chain of at most max_depth references leads to the target.  The GIL
 * must be held and the lists readable.  Free with mv_path_free. */
int mv_path_find(PyInterpreterState *interp, mv_path *path);
void mv_path_free(mv_path *path);
#endif

#endif
