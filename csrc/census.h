/* census.h -- the heap census's walk (census.c), called by objects.c. */
#ifndef MEMVIZ_CENSUS_H
#define MEMVIZ_CENSUS_H

#include "gcread.h"

#if MV_KNOWN_LAYOUT
/* Every object reachable from the interpreter's roots, each counted once per
 * exact type into a new table (count: objects, tracked: those the collector
 * tracks).  The GIL must be held and the lists readable (mv_gc_readable). */
int mv_census_count_types(PyInterpreterState *interp, mv_type_table *table);
#endif

#endif
