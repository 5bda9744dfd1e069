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
#include <stdlib.h>
#include <string.h>

#include "gcread.h"

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

static int
table_init(mv_type_table *table, size_t capacity)
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
    if (table_init(&bigger, table->capacity * 2) != MV_OK) {
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

static int
count_list_types(PyGC_Head *head, mv_type_table *table)
{
    for (PyGC_Head *g = MV_GC_NEXT(head); g != head; g = MV_GC_NEXT(g)) {
        PyTypeObject *type = Py_TYPE(MV_FROM_GC(g));
        size_t i = slot_of(table, type);
        if (table->slots[i].type == NULL) {
            if ((table->used + 1) * 2 > table->capacity) {
                if (table_grow(table) != MV_OK) {
                    return MV_ERR_NO_MEMORY;
                }
                i = slot_of(table, type);
            }
            table->slots[i].type = type;
            table->used++;
        }
        table->slots[i].count++;
    }
    return MV_OK;
}

int
mv_gc_count_types(struct _gc_runtime_state *gcstate, int generation, mv_type_table *table)
{
    int status = table_init(table, 1024);
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
