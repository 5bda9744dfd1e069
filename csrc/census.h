/* census.h -- the heap census's walk (census.c), called by objects.c. */
#ifndef MEMVIZ_CENSUS_H
#define MEMVIZ_CENSUS_H

#include "gcread.h"

#if MV_KNOWN_LAYOUT
typedef struct {
    mv_type_table types;        /* per exact type: count, tracked, bytes, sized_later */
    mv_object_stack later;      /* the objects to size by sys.getsizeof, each held */
} mv_census;

/* Every object reachable from the interpreter's roots, each counted once per
 * exact type (count: objects, tracked: those the collector tracks, bytes: the
 * sizes computed in C).  The GIL must be held and the lists readable
 * (mv_gc_readable).  On MV_OK, census->later holds, with a reference taken
 * during the walk, every object whose size C cannot compute; release with
 * mv_census_free in any case. */
int mv_census_walk(PyInterpreterState *interp, mv_census *census);
/* Adds the sys.getsizeof() of each object in census->later to its type's
 * bytes; -1 with the exception set when one raised.  May run Python code. */
int mv_census_size_later(mv_census *census);
/* sys.getsizeof(op) as the census computes it in C, or 0 when the census
 * leaves op's type to sys.getsizeof. */
size_t mv_census_sizeof(PyObject *op);
/* Drops the references the walk took, and frees the census. */
void mv_census_free(mv_census *census);
#endif

#endif
