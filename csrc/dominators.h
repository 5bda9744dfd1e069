/* dominators.h -- who owns the bytes: the dominator tree of the census's graph
 * (dominators.c), called by objects.c. */
#ifndef MEMVIZ_DOMINATORS_H
#define MEMVIZ_DOMINATORS_H

#include "census.h"

#if MV_KNOWN_LAYOUT
/* One owner: the object numbered node in the graph, with the bytes (and the
 * objects, itself included) that it retains -- that every path from the roots
 * to them passes through it. */
typedef struct {
    uint32_t node;
    uint64_t bytes;
    uint64_t objects;
} mv_retainer;

/* At most n owners of the graph, largest first, none retaining another:
 * from the roots down the dominator tree, passing through the modules, their
 * dicts, and every owner whose largest dominated object retains at least
 * MV_PASS_THROUGH_PERCENT of its bytes (its bytes are that object's, nearly:
 * the owner that accumulates them is the one to show).  *found of them in
 * *retainers (malloc'd; free()).  The graph's sizes must be complete
 * (mv_graph_size_later); runs no Python code. */
#define MV_PASS_THROUGH_PERCENT 80
int mv_largest_retainers(PyInterpreterState *interp, const mv_graph *graph, size_t n,
                         mv_retainer **retainers, size_t *found);
#endif

#endif
