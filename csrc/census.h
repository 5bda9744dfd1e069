/* census.h -- the heap census's walk (census.c), called by objects.c. */
#ifndef MEMVIZ_CENSUS_H
#define MEMVIZ_CENSUS_H

#include "gcread.h"

#if MV_KNOWN_LAYOUT
/* Every object reachable from the interpreter's roots, each counted once per
 * exact type into a new table (count: objects, tracked: those the collector
 * tracks).  The GIL must be held and the lists readable (mv_gc_readable).
 * On MV_OK, *objects is every object counted, each with a reference taken
 * after the walk: release them with mv_census_release. */
int mv_census_walk(PyInterpreterState *interp, mv_type_table *table, mv_object_set *objects);
/* Adds each object's sys.getsizeof() to its type's bytes; -1 with the
 * exception set when one raised.  May run Python code. */
int mv_census_add_sizes(mv_type_table *table, const mv_object_set *objects);
/* Drops the references mv_census_walk took, and frees the set. */
void mv_census_release(mv_object_set *objects);
#endif

#endif
