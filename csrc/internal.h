/* internal.h -- declarations shared by the C files of the core (not cdef'd). */
#ifndef MEMVIZ_INTERNAL_H
#define MEMVIZ_INTERNAL_H

#include "compat.h"
#include "memviz.h"

/* A reading's hold on the interpreter: the GIL, taken back for the reading
 * because cffi released it around the call. */
typedef struct {
    PyGILState_STATE gil;
    PyInterpreterState *interp;
} mv_hold;

/* Takes the GIL and checks that the calling thread belongs to the interpreter
 * the caller named (readings of another interpreter's state are refused).
 * On MV_OK the caller must call mv_leave(). */
int mv_enter(int64_t interpreter_id, mv_hold *hold);
void mv_leave(mv_hold *hold);

#endif
