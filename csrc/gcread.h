/* gcread.h -- walks of the collector's lists, shared by the cffi reading
 * (gcread.c) and the C-API functions (objects.c). */
#ifndef MEMVIZ_GCREAD_H
#define MEMVIZ_GCREAD_H

#include "internal.h"

/* Index of the permanent generation in memviz's numbering (after 0, 1, 2). */
#define MV_PERMANENT_GENERATION 3

typedef struct {
    PyTypeObject *type;
    int64_t count;
} mv_type_count;

/* Objects per exact type: a malloc'd open-addressing table. */
typedef struct {
    mv_type_count *slots;
    size_t capacity;
    size_t used;
} mv_type_table;

void mv_type_table_free(mv_type_table *table);

#if MV_KNOWN_LAYOUT
/* MV_OK when the lists can be walked now. */
int mv_gc_readable(struct _gc_runtime_state *gcstate);
/* 0..2, MV_PERMANENT_GENERATION, or -1: the list that holds a tracked object. */
int mv_gc_generation_of(struct _gc_runtime_state *gcstate, PyObject *op);
/* Counts generation 0..2, or all three for generation < 0, into a new table. */
int mv_gc_count_types(struct _gc_runtime_state *gcstate, int generation, mv_type_table *table);
/* The lists a snapshot counts: generations 0, 1, 2 and the permanent one. */
#define MV_COUNTED_LISTS (MV_PERMANENT_GENERATION + 1)
/* Counts each of the four lists into tables[i], leaving out memviz's own
 * objects (instances of a type in the tuple own_types, and the objects of a
 * type in the tuple part_types reachable from them through such objects),
 * which are counted into own_tables[i] instead.  Every table is new; none on
 * failure. */
int mv_gc_count_types_apart(struct _gc_runtime_state *gcstate, PyObject *own_types,
                            PyObject *part_types, mv_type_table tables[MV_COUNTED_LISTS],
                            mv_type_table own_tables[MV_COUNTED_LISTS]);
#endif

#endif
