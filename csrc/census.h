/* census.h -- the heap census's walk (census.c), called by objects.c. */
#ifndef MEMVIZ_CENSUS_H
#define MEMVIZ_CENSUS_H

#include "gcread.h"

#if MV_KNOWN_LAYOUT
typedef struct {
    mv_type_table types;        /* per exact type: count, tracked, bytes, sized_later */
    mv_object_stack later;      /* the objects to size by sys.getsizeof, each held */
} mv_census;

/* The roots, in the order the walk takes them (memviz._native names them). */
enum {
    MV_ROOT_NONE = -1,          /* not reached */
    MV_ROOT_MODULES = 0,        /* sys.modules */
    MV_ROOT_BUILTINS,
    MV_ROOT_SYS,                /* the sys module's dict */
    MV_ROOT_INTERNED,           /* the interned strings (3.12+) */
    MV_ROOT_FRAME,              /* a running frame of one of the interpreter's threads */
    MV_ROOT_GENERATION_0,       /* then generations 1 and 2, and the permanent one */
};
#define MV_GENERATION_ROOT(i) (MV_ROOT_GENERATION_0 + (i))

/* How the walk first met one object. */
typedef struct {
    PyObject *target;           /* in: the object */
    PyObject *skip;             /* in: an object the walk does not follow (the caller's own
                                 * holder of target), or NULL */
    int root;                   /* out: the root it was met from, or MV_ROOT_NONE */
    PyObject *referrer;         /* out: a new reference to the object it was met through
                                 * (for MV_ROOT_FRAME: the frame's code), NULL when it is
                                 * the root itself or was not met */
    int want_holders;           /* in: also list every object and frame holding target */
    mv_object_stack holders;    /* out: the objects whose references include target, each
                                 * with a new reference (not skip, not frames) */
    mv_object_stack frames;     /* out: the running frames whose locals, cells or value
                                 * stack hold target -- mv_frame pointers, not objects (3.11+:
                                 * mv_frame_object turns them into frame objects) */
} mv_reach;

/* Every object one census walk met (mv_census_seen), to tell the objects a
 * later walk meets for the first time. */
typedef struct mv_seen mv_seen;

/* The objects the walk meets inside given address ranges (pymalloc's arenas:
 * what keeps each one allocated), or, with earlier, at an address an earlier
 * walk met no object at (what a block of code left alive). */
typedef struct {
    mv_seen *earlier;           /* in: NULL, or the ranges are not read */
    const uint64_t *bounds;     /* in: start, end of each range [start, end), sorted,
                                 * disjoint */
    size_t ranges;              /* in: how many */
    mv_object_stack found;      /* out: every object met at an address in a range, in
                                 * the order met, each held (a reference taken as the
                                 * walk meets it, as census->later's) */
    size_t *sizes;              /* out: found's sizes as the census computes them in C,
                                 * 0 where it leaves one to sys.getsizeof (malloc'd,
                                 * found.capacity of them) */
} mv_in_ranges;

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
/* mv_census_sizeof of each of objects[0 .. count) into sizes, deciding how to
 * size each type once per run of objects of that type. */
void mv_census_sizeof_each(PyObject *const *objects, size_t count, size_t *sizes);
/* Walks as mv_census_walk does, and says how it first met reach->target (and,
 * with want_holders, what holds it).  Free reach with mv_reach_free. */
int mv_census_reach(PyInterpreterState *interp, mv_reach *reach);
void mv_reach_free(mv_reach *reach);
/* Two censuses from the program's roots only (not the collector's lists), not
 * following skip: *with as they are, *without as if target were gone.  What
 * target retains is their difference.  Free both with mv_census_free, in any
 * case. */
int mv_census_retained(PyInterpreterState *interp, PyObject *target, PyObject *skip,
                       mv_census *with, mv_census *without);
/* The census's graph: every object the program's roots reach (not the
 * collector's lists), numbered 0 .. count - 1, and one node more, numbered
 * count, for the roots themselves (sys.modules, builtins, the sys dict, the
 * interned strings, what the running frames hold). */
typedef struct {
    size_t count;
    PyObject **objects;         /* by number, each held (held: 1) */
    uint64_t *sizes;            /* sys.getsizeof's, by number; 0 until mv_graph_size_later
                                 * for the objects the census leaves to sys.getsizeof */
    uint32_t *first_edge;       /* count + 2: the references of node i are the numbers
                                 * edges[first_edge[i] .. first_edge[i + 1]) */
    uint32_t *edges;
    size_t edge_count;
    size_t edge_capacity;
    int held;
} mv_graph;

/* Walks as mv_census_retained does (the program's roots only), then numbers
 * what it met and lists every object's references.  The GIL must be held and
 * the lists readable.  Free with mv_graph_free, in any case. */
int mv_census_graph(PyInterpreterState *interp, mv_graph *graph);
/* Sizes the objects left to sys.getsizeof; -1 with the exception set when one
 * raised.  May run Python code (the graph holds every object). */
int mv_graph_size_later(mv_graph *graph);
void mv_graph_free(mv_graph *graph);

/* Walks as mv_census_walk does (not counting or following blocked, if not
 * NULL), and collects into in->found every object whose address falls in one
 * of in->bounds' ranges, or that in->earlier did not meet.  Free in with
 * mv_in_ranges_free, in any case. */
int mv_census_in_ranges(PyInterpreterState *interp, mv_in_ranges *in, PyObject *blocked);
/* Walks as mv_census_walk does, and keeps the set of what it met in *seen
 * (malloc'd, nothing else).  Free with mv_seen_free, in any case. */
int mv_census_seen(PyInterpreterState *interp, mv_seen **seen);
/* From 3.13 (MV_HAS_REF_TRACER): forgets each object freed from now on, by a
 * reference tracer (chained to the one installed before, restored by
 * mv_seen_free).  A no-op before 3.13. */
int mv_seen_watch(mv_seen *seen);
void mv_seen_free(mv_seen *seen);
void mv_in_ranges_free(mv_in_ranges *in);

/* Drops the references the walk took, and frees the census. */
void mv_census_free(mv_census *census);
#endif

#endif
