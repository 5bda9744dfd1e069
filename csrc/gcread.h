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
    int64_t tracked;    /* the census's: how many of them the collector tracks */
    int64_t bytes;      /* the census's: the sum of their sys.getsizeof() */
    int64_t sized_later;    /* the census's: how many it sized by calling sys.getsizeof */
    int sizer;          /* the census's: how it sizes this type's objects (census.c) */
} mv_type_count;

/* Objects per exact type: a malloc'd open-addressing table. */
typedef struct {
    mv_type_count *slots;
    size_t capacity;
    size_t used;
} mv_type_table;

void mv_type_table_free(mv_type_table *table);

#if MV_KNOWN_LAYOUT
/* MV_OK, or MV_ERR_NO_MEMORY. */
int mv_type_table_init(mv_type_table *table, size_t capacity);
/* Counts one more object of type; its slot, or NULL when out of memory. */
mv_type_count *mv_type_table_add(mv_type_table *table, PyTypeObject *type);
/* The slot of type, or NULL when the table has none. */
mv_type_count *mv_type_table_find(mv_type_table *table, PyTypeObject *type);

/* A set of objects keyed by address (open addressing) and a stack of them,
 * both malloc'd: a walk may keep them while it must not allocate from the
 * interpreter.  Zero-initialised ({NULL, 0, 0}) means empty. */
typedef struct {
    PyObject **slots;
    size_t capacity;
    size_t used;
} mv_object_set;

typedef struct {
    PyObject **items;
    size_t used;
    size_t capacity;
} mv_object_stack;

/* A map from non-zero pointer-sized keys to pointers, malloc'd (open
 * addressing, at most half full). */
typedef struct {
    uintptr_t key;      /* 0: an empty entry */
    void *value;
} mv_map_entry;

typedef struct {
    mv_map_entry *entries;
    size_t capacity;    /* a power of two, or 0 */
    size_t used;
} mv_pointer_map;

/* The entry of key, or NULL when the map has none. */
mv_map_entry *mv_map_find(const mv_pointer_map *map, uintptr_t key);
/* The entry of key, new (value NULL) when the map had none; NULL when out of
 * memory.  Adding may move every entry: pointers to others are stale after. */
mv_map_entry *mv_map_add(mv_pointer_map *map, uintptr_t key);
void mv_map_free(mv_pointer_map *map);

/* What op refers to, as memviz's walks see it: its tp_traverse (op must be of
 * a GC type that has one), then the keys that a dict's traverse leaves out --
 * a dict whose keys are all exact str visits only its values (a str is in no
 * cycle: the collector needs no more), yet it holds those keys, and they may
 * be held by nothing else.  Runs no code and allocates nothing. */
int mv_traverse(PyObject *op, visitproc visit, void *arg);

int mv_object_set_has(const mv_object_set *set, PyObject *op);
/* 1 when op is new to the set, 0 when it was there, -1 when out of memory. */
int mv_object_set_add(mv_object_set *set, PyObject *op);
void mv_object_set_free(mv_object_set *set);
/* MV_OK, or MV_ERR_NO_MEMORY. */
int mv_object_stack_push(mv_object_stack *stack, PyObject *op);
void mv_object_stack_free(mv_object_stack *stack);
#endif

#if MV_KNOWN_LAYOUT
/* The list head of generation 0..2 or MV_PERMANENT_GENERATION. */
PyGC_Head *mv_gc_list_head(struct _gc_runtime_state *gcstate, int i);
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
