/* gcread.c -- the cyclic collector's generation lists, read in place.
 *
 * Every GC-tracked object carries a PyGC_Head just before its PyObject; the
 * heads form one circular, doubly linked list per generation, anchored in
 * the interpreter's struct _gc_runtime_state (generations[0..2] and
 * permanent_generation).  gc.get_objects() walks the same lists to build a
 * Python list; memviz walks them to count, without allocating.
 *
 * Why this is safe: every function here runs with the GIL held, refuses to
 * walk while the collector runs (gc_prev then holds gc_refs and the lists
 * are half-built), and allocates nothing from pymalloc or the Python heap
 * while it walks, so the lists cannot change under it.
 */
#include "gcread.h"    /* first: Python.h sets the feature macros the system headers see */

#include <stdlib.h>
#include <string.h>

#if MV_KNOWN_LAYOUT

PyGC_Head *
mv_gc_list_head(struct _gc_runtime_state *gcstate, int i)
{
    if (i == MV_PERMANENT_GENERATION) {
        return &gcstate->permanent_generation.head;
    }
    return &MV_GENERATION(gcstate, i)->head;
}

static int64_t
list_length(PyGC_Head *head)
{
    int64_t n = 0;
    for (PyGC_Head *g = MV_GC_NEXT(head); g != head; g = MV_GC_NEXT(g)) {
        n++;
    }
    return n;
}

int
mv_gc_readable(struct _gc_runtime_state *gcstate)
{
    if (!mv_gc_lists_readable()) {
        return MV_ERR_UNSUPPORTED;
    }
    if (gcstate->collecting) {
        return MV_ERR_COLLECTING;
    }
    return MV_OK;
}

int
mv_gc_generation_of(struct _gc_runtime_state *gcstate, PyObject *op)
{
    PyGC_Head *heads[MV_PERMANENT_GENERATION + 1];
    for (int i = 0; i <= MV_PERMANENT_GENERATION; i++) {
        heads[i] = mv_gc_list_head(gcstate, i);
    }
    /* Follow the list forward from the object until a list head: that head
     * names the generation.  Costs the distance to the end of the list. */
    for (PyGC_Head *g = MV_GC_NEXT(MV_AS_GC(op)); g != NULL; g = MV_GC_NEXT(g)) {
        for (int i = 0; i <= MV_PERMANENT_GENERATION; i++) {
            if (g == heads[i]) {
                return i;
            }
        }
        if (g == MV_AS_GC(op)) {
            break;      /* back at the start without a head: not a generation list */
        }
    }
    return -1;
}

/* Open addressing keyed by type pointer; capacity is a power of two. */
static size_t
slot_of(const mv_type_table *table, PyTypeObject *type)
{
    size_t mask = table->capacity - 1;
    size_t i = ((uintptr_t)type >> 4) * 0x9E3779B97F4A7C15ull & mask;
    while (table->slots[i].type != NULL && table->slots[i].type != type) {
        i = (i + 1) & mask;
    }
    return i;
}

int
mv_type_table_init(mv_type_table *table, size_t capacity)
{
    /* calloc, not PyMem_*: nothing may come from pymalloc during a walk. */
    table->slots = calloc(capacity, sizeof(mv_type_count));
    table->capacity = capacity;
    table->used = 0;
    return table->slots == NULL ? MV_ERR_NO_MEMORY : MV_OK;
}

static int
table_grow(mv_type_table *table)
{
    mv_type_table bigger;
    if (mv_type_table_init(&bigger, table->capacity * 2) != MV_OK) {
        return MV_ERR_NO_MEMORY;
    }
    for (size_t i = 0; i < table->capacity; i++) {
        if (table->slots[i].type != NULL) {
            bigger.slots[slot_of(&bigger, table->slots[i].type)] = table->slots[i];
            bigger.used++;
        }
    }
    free(table->slots);
    *table = bigger;
    return MV_OK;
}

mv_type_count *
mv_type_table_add(mv_type_table *table, PyTypeObject *type)
{
    size_t i = slot_of(table, type);
    if (table->slots[i].type == NULL) {
        if ((table->used + 1) * 2 > table->capacity) {
            if (table_grow(table) != MV_OK) {
                return NULL;
            }
            i = slot_of(table, type);
        }
        table->slots[i].type = type;
        table->used++;
    }
    table->slots[i].count++;
    return &table->slots[i];
}

mv_type_count *
mv_type_table_find(mv_type_table *table, PyTypeObject *type)
{
    mv_type_count *slot = &table->slots[slot_of(table, type)];
    return slot->type == NULL ? NULL : slot;
}

static int
table_has(const mv_type_table *table, PyTypeObject *type)
{
    return table->slots[slot_of(table, type)].type != NULL;
}

static int
count_list_types(PyGC_Head *head, mv_type_table *table)
{
    for (PyGC_Head *g = MV_GC_NEXT(head); g != head; g = MV_GC_NEXT(g)) {
        if (mv_type_table_add(table, Py_TYPE(MV_FROM_GC(g))) == NULL) {
            return MV_ERR_NO_MEMORY;
        }
    }
    return MV_OK;
}

int
mv_gc_count_types(struct _gc_runtime_state *gcstate, int generation, mv_type_table *table)
{
    int status = mv_type_table_init(table, 1024);
    int first = generation < 0 ? 0 : generation;
    int last = generation < 0 ? 2 : generation;
    for (int i = first; status == MV_OK && i <= last; i++) {
        status = count_list_types(mv_gc_list_head(gcstate, i), table);
    }
    if (status != MV_OK) {
        mv_type_table_free(table);
    }
    return status;
}

/* -- memviz's own objects, counted apart -----------------------------------
 *
 * A snapshot does not count what memviz itself keeps alive: the instances of
 * memviz's classes (own_types, a tuple memviz.snapshot passes) and the
 * objects of the types memviz builds them from (part_types: tuples, lists,
 * dicts, arrays, locks) reachable from them through such objects only (their
 * __dict__, a snapshot's tuple of names, an arena's tuple of pools, a
 * tracker's lock).  Anything else a memviz value refers to -- a type, a
 * function, a user's object -- is not entered.
 *
 * They are found before the counting walk: one pass over the four lists for
 * the instances, then their referents through tp_traverse, which only reads
 * (the collector calls it the same way).  The set and the stack are
 * malloc'd, like the type tables.  With no instance found (the usual case
 * with no memviz value kept), the counting walk is the plain one. */

/* -- sets and stacks of objects, malloc'd (shared with census.c) ---------- */

static size_t
object_slot(const mv_object_set *set, PyObject *op)
{
    size_t mask = set->capacity - 1;
    size_t i = ((uintptr_t)op >> 4) * 0x9E3779B97F4A7C15ull & mask;
    while (set->slots[i] != NULL && set->slots[i] != op) {
        i = (i + 1) & mask;
    }
    return i;
}

/* Fibonacci hashing: the product's top bits, which every bit of the key moves
 * (aligned addresses have zero low bits). */
static size_t
entry_of(const mv_map_entry *entries, size_t capacity, uintptr_t key)
{
    int shift = 64 - __builtin_ctzll((unsigned long long)capacity);
    size_t mask = capacity - 1;
    size_t i = (size_t)(((uint64_t)key * 0x9E3779B97F4A7C15ull) >> shift) & mask;
    while (entries[i].key != 0 && entries[i].key != key) {
        i = (i + 1) & mask;
    }
    return i;
}

mv_map_entry *
mv_map_find(const mv_pointer_map *map, uintptr_t key)
{
    if (map->used == 0) {
        return NULL;
    }
    mv_map_entry *entry = &map->entries[entry_of(map->entries, map->capacity, key)];
    return entry->key == key ? entry : NULL;
}

mv_map_entry *
mv_map_add(mv_pointer_map *map, uintptr_t key)
{
    if ((map->used + 1) * 2 > map->capacity) {
        size_t capacity = map->capacity ? map->capacity * 2 : 1024;
        mv_map_entry *bigger = calloc(capacity, sizeof(mv_map_entry));
        if (bigger == NULL) {
            return NULL;
        }
        for (size_t i = 0; i < map->capacity; i++) {
            if (map->entries[i].key != 0) {
                bigger[entry_of(bigger, capacity, map->entries[i].key)] = map->entries[i];
            }
        }
        free(map->entries);
        map->entries = bigger;
        map->capacity = capacity;
    }
    mv_map_entry *entry = &map->entries[entry_of(map->entries, map->capacity, key)];
    if (entry->key == 0) {
        entry->key = key;
        map->used++;
    }
    return entry;
}

void
mv_map_free(mv_pointer_map *map)
{
    free(map->entries);
    *map = (mv_pointer_map){NULL, 0, 0};
}

int
mv_object_set_has(const mv_object_set *set, PyObject *op)
{
    return set->used != 0 && set->slots[object_slot(set, op)] == op;
}

int
mv_object_set_add(mv_object_set *set, PyObject *op)
{
    if ((set->used + 1) * 2 > set->capacity) {
        size_t capacity = set->capacity ? set->capacity * 2 : 64;
        PyObject **bigger = calloc(capacity, sizeof(PyObject *));
        if (bigger == NULL) {
            return -1;
        }
        PyObject **old = set->slots;
        size_t old_capacity = set->capacity;
        set->slots = bigger;
        set->capacity = capacity;
        for (size_t i = 0; i < old_capacity; i++) {
            if (old[i] != NULL) {
                set->slots[object_slot(set, old[i])] = old[i];
            }
        }
        free(old);
    }
    size_t i = object_slot(set, op);
    if (set->slots[i] == op) {
        return 0;
    }
    set->slots[i] = op;
    set->used++;
    return 1;
}

void
mv_object_set_free(mv_object_set *set)
{
    free(set->slots);
    *set = (mv_object_set){NULL, 0, 0};
}

int
mv_object_stack_push(mv_object_stack *stack, PyObject *op)
{
    if (stack->used == stack->capacity) {
        size_t capacity = stack->capacity ? stack->capacity * 2 : 64;
        PyObject **bigger = realloc(stack->items, capacity * sizeof(PyObject *));
        if (bigger == NULL) {
            return MV_ERR_NO_MEMORY;
        }
        stack->items = bigger;
        stack->capacity = capacity;
    }
    stack->items[stack->used++] = op;
    return MV_OK;
}

void
mv_object_stack_free(mv_object_stack *stack)
{
    free(stack->items);
    *stack = (mv_object_stack){NULL, 0, 0};
}

typedef struct {
    mv_object_set found;
    mv_object_stack pending;    /* found, not yet traversed */
    const mv_type_table *own_types;
    const mv_type_table *part_types;
    int status;
} mv_own_objects;

static int
visit_own(PyObject *op, void *arg)
{
    mv_own_objects *own = arg;
    if (own->status == MV_OK && PyObject_IS_GC(op) && PyObject_GC_IsTracked(op)
        && (table_has(own->part_types, Py_TYPE(op)) || table_has(own->own_types, Py_TYPE(op)))) {
        own->status = mv_object_stack_push(&own->pending, op);
    }
    return 0;
}

static int
find_own_objects(struct _gc_runtime_state *gcstate, mv_own_objects *own)
{
    for (int i = 0; i <= MV_PERMANENT_GENERATION; i++) {
        PyGC_Head *head = mv_gc_list_head(gcstate, i);
        for (PyGC_Head *g = MV_GC_NEXT(head); g != head; g = MV_GC_NEXT(g)) {
            PyObject *op = MV_FROM_GC(g);
            if (table_has(own->own_types, Py_TYPE(op))
                && mv_object_stack_push(&own->pending, op) != MV_OK) {
                return MV_ERR_NO_MEMORY;
            }
        }
    }
    while (own->pending.used > 0 && own->status == MV_OK) {
        PyObject *op = own->pending.items[--own->pending.used];
        int added = mv_object_set_add(&own->found, op);
        if (added < 0) {
            return MV_ERR_NO_MEMORY;
        }
        traverseproc traverse = Py_TYPE(op)->tp_traverse;
        if (added && traverse != NULL) {
            traverse(op, visit_own, own);
        }
    }
    return own->status;
}

int
mv_traverse(PyObject *op, visitproc visit, void *arg)
{
    int stopped = Py_TYPE(op)->tp_traverse(op, visit, arg);
    if (stopped != 0 || !PyDict_Check(op)) {
        return stopped;
    }
    /* The str keys: again where the traverse visited them (a dict of mixed
     * keys), which every walk here takes as a reference met twice. */
    Py_ssize_t position = 0;
    PyObject *key, *value;
    while (PyDict_Next(op, &position, &key, &value)) {
        if (PyUnicode_CheckExact(key) && (stopped = visit(key, arg)) != 0) {
            return stopped;
        }
    }
    return 0;
}

static int
count_list_types_apart(PyGC_Head *head, const mv_own_objects *own, mv_type_table *table,
                       mv_type_table *own_table)
{
    for (PyGC_Head *g = MV_GC_NEXT(head); g != head; g = MV_GC_NEXT(g)) {
        PyObject *op = MV_FROM_GC(g);
        if (mv_type_table_add(mv_object_set_has(&own->found, op) ? own_table : table,
                              Py_TYPE(op)) == NULL) {
            return MV_ERR_NO_MEMORY;
        }
    }
    return MV_OK;
}

static int
type_set(PyObject *types, mv_type_table *set)
{
    int status = mv_type_table_init(set, 64);
    for (Py_ssize_t i = 0; status == MV_OK && i < PyTuple_GET_SIZE(types); i++) {
        status = mv_type_table_add(set, (PyTypeObject *)PyTuple_GET_ITEM(types, i)) == NULL
                 ? MV_ERR_NO_MEMORY : MV_OK;
    }
    return status;
}

int
mv_gc_count_types_apart(struct _gc_runtime_state *gcstate, PyObject *own_types,
                        PyObject *part_types, mv_type_table tables[MV_COUNTED_LISTS],
                        mv_type_table own_tables[MV_COUNTED_LISTS])
{
    mv_type_table own_type_set = {NULL, 0, 0}, part_type_set = {NULL, 0, 0};
    mv_own_objects own = {{NULL, 0, 0}, {NULL, 0, 0}, &own_type_set, &part_type_set, MV_OK};
    int status = type_set(own_types, &own_type_set);
    if (status == MV_OK) {
        status = type_set(part_types, &part_type_set);
    }
    if (status == MV_OK) {
        status = find_own_objects(gcstate, &own);
    }
    int counted = 0;   /* tables[0 .. counted) and own_tables[0 .. counted) are filled */
    while (status == MV_OK && counted < MV_COUNTED_LISTS) {
        status = mv_type_table_init(&tables[counted], 1024);
        if (status == MV_OK) {
            status = mv_type_table_init(&own_tables[counted], 64);
            if (status != MV_OK) {
                mv_type_table_free(&tables[counted]);
            }
        }
        if (status == MV_OK) {
            status = count_list_types_apart(mv_gc_list_head(gcstate, counted), &own,
                                            &tables[counted], &own_tables[counted]);
            if (status != MV_OK) {
                mv_type_table_free(&tables[counted]);
                mv_type_table_free(&own_tables[counted]);
            }
        }
        if (status == MV_OK) {
            counted++;
        }
    }
    if (status != MV_OK) {
        for (int i = 0; i < counted; i++) {
            mv_type_table_free(&tables[i]);
            mv_type_table_free(&own_tables[i]);
        }
    }
    mv_object_set_free(&own.found);
    mv_object_stack_free(&own.pending);
    mv_type_table_free(&own_type_set);
    mv_type_table_free(&part_type_set);
    return status;
}

#endif /* MV_KNOWN_LAYOUT */

void
mv_type_table_free(mv_type_table *table)
{
    free(table->slots);
    table->slots = NULL;
    table->capacity = table->used = 0;
}

int
mv_read_gc(mv_gc_reading *out)
{
#if MV_KNOWN_LAYOUT
    mv_hold hold;
    int status = mv_enter(out->interpreter_id, &hold);
    if (status != MV_OK) {
        return status;
    }
    struct _gc_runtime_state *gcstate = MV_GC_STATE(hold.interp);
    status = mv_gc_readable(gcstate);
    if (status == MV_OK) {
        for (int i = 0; i < 3; i++) {
            struct gc_generation *gen = MV_GENERATION(gcstate, i);
            struct gc_generation_stats *stats = mv_generation_stats(gcstate, i);
            out->generations[i].objects = list_length(&gen->head);
            out->generations[i].count = gen->count;
            out->generations[i].threshold = gen->threshold;
            out->generations[i].collections = stats->collections;
            out->generations[i].collected = stats->collected;
            out->generations[i].uncollectable = stats->uncollectable;
        }
        out->permanent = list_length(&gcstate->permanent_generation.head);
        out->enabled = gcstate->enabled;
    }
    mv_leave(&hold);
    return status;
#else
    (void)out;
    return MV_ERR_UNSUPPORTED;
#endif
}
