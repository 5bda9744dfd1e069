/* unreachable.c -- what the next full collection would find unreachable,
 * computed now, without collecting.
 *
 * It is the collector's own algorithm (deduce_unreachable in
 * Modules/gcmodule.c, Python/gc.c from 3.13), run over side tables instead of
 * the GC headers: the candidates are the objects of generations 0, 1 and 2
 * (not the permanent one: gc.collect() leaves it alone, so what it holds
 * counts as held from outside); each gets gc_refs = its reference count;
 * every candidate's tp_traverse then subtracts one for each reference it
 * holds to a candidate; a candidate left with gc_refs > 0 is held from
 * outside the candidates (a running frame, a C global, an untracked or frozen
 * object) and is a root; everything the roots reach through tp_traverse is
 * reachable, the rest is unreachable.  On 3.12+ an immortal object is no
 * candidate: the collector moves it out of the generation (to the permanent
 * one, or untracks it) before counting, so what it holds is held from
 * outside.
 *
 * The unreachable objects are then grouped: Tarjan's strongly connected
 * components (iterative) over the unreachable subgraph; a component with two
 * or more objects, or one that holds itself, is a cycle.  An unreachable
 * object in no cycle (a list only a cycle holds) joins the cycle nearest to
 * it: a breadth-first walk from every cycle at once gives it to the first
 * that reaches it.  So every unreachable object is in exactly one component.
 * Each cycle's loop is a shortest cycle through the first of its objects on
 * the cycle, breadth first inside the component.
 *
 * Why this is safe: the GIL is held and the lists are not being collected
 * (the caller checked mv_gc_readable); the GC headers are only read (their
 * links), never written: gc_refs live in a malloc'd array indexed through a
 * mv_pointer_map keyed by address; tp_traverse only reads and runs no Python
 * code; nothing is allocated from pymalloc or the Python heap until the walk
 * is over, so no collection can start and no object can be freed or moved
 * under it.  The unreachable objects are held before anything can run.
 */
#include "unreachable.h"    /* first: Python.h sets the feature macros the system headers see */

#include <stdlib.h>
#include <string.h>

#if MV_KNOWN_LAYOUT

/* Every candidate, numbered in list order; then the unreachable ones,
 * numbered again 0 .. unreachable-1 (the map's values are number + 1). */
typedef struct {
    mv_pointer_map number;      /* candidate -> its number + 1; later unreachable -> its
                                 * unreachable number + 1, reachable -> 0 */
    PyObject **candidates;
    size_t count;
    Py_ssize_t *gc_refs;
    unsigned char *reachable;
    size_t *pending;            /* reachable, not yet traversed: at most count */
    size_t pending_used;
    /* the unreachable subgraph, as adjacency lists */
    PyObject **unreachable;
    size_t unreachable_count;
    size_t *edge_starts;        /* unreachable_count + 1 */
    size_t *edges;
    size_t edges_used;
    size_t edges_capacity;
    int status;
} walk;

static size_t
number_of(const mv_map_entry *entry)
{
    return (size_t)(uintptr_t)entry->value - 1;
}

static size_t
count_candidates(struct _gc_runtime_state *gcstate)
{
    size_t count = 0;
    for (int i = 0; i < MV_PERMANENT_GENERATION; i++) {
        PyGC_Head *head = mv_gc_list_head(gcstate, i);
        for (PyGC_Head *g = MV_GC_NEXT(head); g != head; g = MV_GC_NEXT(g)) {
            count += !MV_IS_IMMORTAL_OBJECT(MV_FROM_GC(g));
        }
    }
    return count;
}

/* update_refs: every candidate, numbered, with gc_refs = its reference count. */
static int
number_candidates(struct _gc_runtime_state *gcstate, walk *w)
{
    size_t n = 0;
    for (int i = 0; i < MV_PERMANENT_GENERATION; i++) {
        PyGC_Head *head = mv_gc_list_head(gcstate, i);
        for (PyGC_Head *g = MV_GC_NEXT(head); g != head; g = MV_GC_NEXT(g)) {
            PyObject *op = MV_FROM_GC(g);
            if (MV_IS_IMMORTAL_OBJECT(op)) {
                continue;
            }
            mv_map_entry *entry = mv_map_add(&w->number, (uintptr_t)op);
            if (entry == NULL) {
                return MV_ERR_NO_MEMORY;
            }
            entry->value = (void *)(uintptr_t)(n + 1);
            w->candidates[n] = op;
            w->gc_refs[n] = Py_REFCNT(op);
            n++;
        }
    }
    return MV_OK;
}

/* subtract_refs' visitproc: one reference less from outside. */
static int
subtract_one(PyObject *op, void *arg)
{
    walk *w = arg;
    mv_map_entry *entry = mv_map_find(&w->number, (uintptr_t)op);
    if (entry != NULL) {
        w->gc_refs[number_of(entry)]--;
    }
    return 0;
}

/* move_unreachable's visitproc: a candidate held by a reachable one is reachable. */
static int
reach(PyObject *op, void *arg)
{
    walk *w = arg;
    mv_map_entry *entry = mv_map_find(&w->number, (uintptr_t)op);
    if (entry != NULL && !w->reachable[number_of(entry)]) {
        w->reachable[number_of(entry)] = 1;
        w->pending[w->pending_used++] = number_of(entry);
    }
    return 0;
}

static void
traverse(PyObject *op, visitproc visit, walk *w)
{
    traverseproc traverse = Py_TYPE(op)->tp_traverse;
    if (traverse != NULL) {
        traverse(op, visit, w);
    }
}

static void
mark_reachable(walk *w)
{
    for (size_t n = 0; n < w->count; n++) {
        traverse(w->candidates[n], subtract_one, w);
    }
    for (size_t n = 0; n < w->count; n++) {
        if (w->gc_refs[n] > 0 && !w->reachable[n]) {
            w->reachable[n] = 1;
            w->pending[w->pending_used++] = n;
        }
        while (w->pending_used > 0) {
            traverse(w->candidates[w->pending[--w->pending_used]], reach, w);
        }
    }
}

/* The unreachable candidates, renumbered; the map then names only them. */
static int
renumber_unreachable(walk *w)
{
    for (size_t n = 0; n < w->count; n++) {
        w->unreachable_count += !w->reachable[n];
    }
    w->unreachable = malloc((w->unreachable_count + 1) * sizeof(PyObject *));
    w->edge_starts = malloc((w->unreachable_count + 1) * sizeof(size_t));
    if (w->unreachable == NULL || w->edge_starts == NULL) {
        return MV_ERR_NO_MEMORY;
    }
    size_t u = 0;
    for (size_t n = 0; n < w->count; n++) {
        mv_map_entry *entry = mv_map_find(&w->number, (uintptr_t)w->candidates[n]);
        if (w->reachable[n]) {
            entry->value = NULL;
        }
        else {
            entry->value = (void *)(uintptr_t)(u + 1);
            w->unreachable[u++] = w->candidates[n];
        }
    }
    return MV_OK;
}

static int
add_edge(PyObject *op, void *arg)
{
    walk *w = arg;
    mv_map_entry *entry = mv_map_find(&w->number, (uintptr_t)op);
    if (entry == NULL || entry->value == NULL || w->status != MV_OK) {
        return 0;
    }
    if (w->edges_used == w->edges_capacity) {
        size_t capacity = w->edges_capacity ? w->edges_capacity * 2 : 1024;
        size_t *bigger = realloc(w->edges, capacity * sizeof(size_t));
        if (bigger == NULL) {
            w->status = MV_ERR_NO_MEMORY;
            return 0;
        }
        w->edges = bigger;
        w->edges_capacity = capacity;
    }
    w->edges[w->edges_used++] = number_of(entry);
    return 0;
}

/* The references among the unreachable objects, as adjacency lists. */
static int
link_unreachable(walk *w)
{
    for (size_t u = 0; u < w->unreachable_count && w->status == MV_OK; u++) {
        w->edge_starts[u] = w->edges_used;
        traverse(w->unreachable[u], add_edge, w);
    }
    w->edge_starts[w->unreachable_count] = w->edges_used;
    return w->status;
}

/* -- grouping -------------------------------------------------------------- */

typedef struct {
    size_t *scc;                /* each object's strongly connected component */
    unsigned char *is_cycle;    /* per component: two or more objects, or one holding itself */
    size_t sccs;
} components;

#define UNVISITED ((size_t)0)

/* Tarjan's algorithm with an explicit call stack; order[v] is v's visit
 * order + 1 (0: not visited). */
static int
strongly_connected(const walk *w, components *c)
{
    size_t count = w->unreachable_count;
    size_t *order = calloc(count + 1, sizeof(size_t));
    size_t *low = malloc((count + 1) * sizeof(size_t));
    size_t *next_edge = malloc((count + 1) * sizeof(size_t));
    size_t *calls = malloc((count + 1) * sizeof(size_t));
    size_t *stack = malloc((count + 1) * sizeof(size_t));
    unsigned char *on_stack = calloc(count + 1, 1);
    c->scc = malloc((count + 1) * sizeof(size_t));
    c->is_cycle = calloc(count + 1, 1);
    int status = MV_ERR_NO_MEMORY;
    if (order == NULL || low == NULL || next_edge == NULL || calls == NULL || stack == NULL
        || on_stack == NULL || c->scc == NULL || c->is_cycle == NULL) {
        goto done;
    }
    size_t visited = 0, calls_used = 0, stack_used = 0;
    for (size_t start = 0; start < count; start++) {
        if (order[start] != UNVISITED) {
            continue;
        }
        calls[calls_used++] = start;
        order[start] = low[start] = ++visited;
        next_edge[start] = w->edge_starts[start];
        stack[stack_used++] = start;
        on_stack[start] = 1;
        while (calls_used > 0) {
            size_t v = calls[calls_used - 1];
            if (next_edge[v] < w->edge_starts[v + 1]) {
                size_t to = w->edges[next_edge[v]++];
                if (order[to] == UNVISITED) {
                    calls[calls_used++] = to;
                    order[to] = low[to] = ++visited;
                    next_edge[to] = w->edge_starts[to];
                    stack[stack_used++] = to;
                    on_stack[to] = 1;
                }
                else if (on_stack[to] && order[to] < low[v]) {
                    low[v] = order[to];
                }
                continue;
            }
            calls_used--;
            if (low[v] == order[v]) {
                size_t members = 0, member;
                do {
                    member = stack[--stack_used];
                    on_stack[member] = 0;
                    c->scc[member] = c->sccs;
                    members++;
                } while (member != v);
                c->is_cycle[c->sccs] = members > 1;
                c->sccs++;
            }
            if (calls_used > 0 && low[v] < low[calls[calls_used - 1]]) {
                low[calls[calls_used - 1]] = low[v];
            }
        }
    }
    /* A single object is a cycle when it holds itself. */
    for (size_t v = 0; v < count; v++) {
        for (size_t e = w->edge_starts[v]; e < w->edge_starts[v + 1]; e++) {
            if (w->edges[e] == v) {
                c->is_cycle[c->scc[v]] = 1;
            }
        }
    }
    status = MV_OK;
done:
    free(order);
    free(low);
    free(next_edge);
    free(calls);
    free(stack);
    free(on_stack);
    return status;
}

/* Each object's group: its component when that is a cycle; else the cycle
 * whose breadth-first walk (all cycles at once) reaches it first; else (held
 * by no cycle: only a traverse that visits more than its object holds could
 * leave one so) its own component. */
static int
group(const walk *w, const components *c, size_t *group_of)
{
    size_t count = w->unreachable_count;
    size_t *queue = malloc((count + 1) * sizeof(size_t));
    unsigned char *grouped = calloc(count + 1, 1);
    int status = MV_ERR_NO_MEMORY;
    if (queue != NULL && grouped != NULL) {
        size_t head = 0, used = 0;
        for (size_t v = 0; v < count; v++) {
            group_of[v] = c->scc[v];
            if (c->is_cycle[c->scc[v]]) {
                grouped[v] = 1;
                queue[used++] = v;
            }
        }
        while (head < used) {
            size_t v = queue[head++];
            for (size_t e = w->edge_starts[v]; e < w->edge_starts[v + 1]; e++) {
                size_t to = w->edges[e];
                if (!grouped[to]) {
                    grouped[to] = 1;
                    group_of[to] = group_of[v];
                    queue[used++] = to;
                }
            }
        }
        status = MV_OK;
    }
    free(queue);
    free(grouped);
    return status;
}

/* The loop through root: breadth first inside root's component until an edge
 * back to root; written into loop (root first), its length returned.
 * parent[] is shared by all loops (components are disjoint), queue is
 * scratch. */
static size_t
shortest_loop(const walk *w, const components *c, size_t root, size_t *parent,
              size_t *queue, PyObject **loop)
{
    size_t head = 0, used = 0;
    parent[root] = root;
    queue[used++] = root;
    while (head < used) {
        size_t v = queue[head++];
        for (size_t e = w->edge_starts[v]; e < w->edge_starts[v + 1]; e++) {
            size_t to = w->edges[e];
            if (to == root) {
                size_t length = 0;
                for (size_t step = v; step != root; step = parent[step]) {
                    length++;
                }
                length++;
                size_t i = length;
                for (size_t step = v; i > 0; step = parent[step]) {
                    loop[--i] = w->unreachable[step];
                }
                return length;
            }
            if (c->scc[to] == c->scc[root] && parent[to] == (size_t)-1) {
                parent[to] = v;
                queue[used++] = to;
            }
        }
    }
    return 0;   /* not reached for a cycle: its root is on one */
}

/* The groups in the order their first object has in the lists, each with its
 * objects in list order and the loop through its first object on a cycle. */
static int
write_groups(const walk *w, const components *c, const size_t *group_of,
             mv_unreachable *found)
{
    size_t count = w->unreachable_count;
    size_t *rank = malloc((count + 1) * sizeof(size_t));       /* per group, in order */
    size_t *root = malloc((count + 1) * sizeof(size_t));       /* per rank: the loop's */
    size_t *filled = calloc(count + 1, sizeof(size_t));
    size_t *parent = malloc((count + 1) * sizeof(size_t));
    size_t *queue = malloc((count + 1) * sizeof(size_t));
    found->objects = malloc((count + 1) * sizeof(PyObject *));
    found->loops = malloc((count + 1) * sizeof(PyObject *));
    found->starts = calloc(count + 2, sizeof(size_t));
    found->loop_starts = calloc(count + 2, sizeof(size_t));
    int status = MV_ERR_NO_MEMORY;
    if (rank == NULL || root == NULL || filled == NULL || parent == NULL || queue == NULL
        || found->objects == NULL || found->loops == NULL || found->starts == NULL
        || found->loop_starts == NULL) {
        goto done;
    }
    /* (size_t)-1 in every entry: no rank, no root, no parent yet */
    memset(rank, 0xff, (count + 1) * sizeof(size_t));
    memset(root, 0xff, (count + 1) * sizeof(size_t));
    memset(parent, 0xff, (count + 1) * sizeof(size_t));
    size_t groups = 0;
    for (size_t v = 0; v < count; v++) {
        size_t *k = &rank[group_of[v]];
        if (*k == (size_t)-1) {
            *k = groups++;
        }
        found->starts[*k + 1]++;
        if (c->is_cycle[c->scc[v]] && root[*k] == (size_t)-1) {
            root[*k] = v;
        }
    }
    for (size_t k = 0; k < groups; k++) {
        found->starts[k + 1] += found->starts[k];
    }
    for (size_t v = 0; v < count; v++) {
        size_t k = rank[group_of[v]];
        found->objects[found->starts[k] + filled[k]++] = w->unreachable[v];
    }
    size_t loops_used = 0;
    for (size_t k = 0; k < groups; k++) {
        found->loop_starts[k] = loops_used;
        if (root[k] != (size_t)-1) {
            loops_used += shortest_loop(w, c, root[k], parent, queue,
                                        found->loops + loops_used);
        }
    }
    found->loop_starts[groups] = loops_used;
    found->components = groups;
    for (size_t i = 0; i < count; i++) {
        Py_INCREF(found->objects[i]);
    }
    found->count = count;
    status = MV_OK;
done:
    free(rank);
    free(root);
    free(filled);
    free(parent);
    free(queue);
    return status;
}

static int
find_groups(const walk *w, mv_unreachable *found)
{
    components c = {NULL, NULL, 0};
    size_t *group_of = malloc((w->unreachable_count + 1) * sizeof(size_t));
    int status = group_of == NULL ? MV_ERR_NO_MEMORY : strongly_connected(w, &c);
    if (status == MV_OK) {
        status = group(w, &c, group_of);
    }
    if (status == MV_OK) {
        status = write_groups(w, &c, group_of, found);
    }
    free(group_of);
    free(c.scc);
    free(c.is_cycle);
    return status;
}

int
mv_unreachable_find(struct _gc_runtime_state *gcstate, mv_unreachable *found)
{
    memset(found, 0, sizeof(*found));
    walk w;
    memset(&w, 0, sizeof(w));
    int status = MV_OK;
    w.count = count_candidates(gcstate);
    w.candidates = malloc((w.count + 1) * sizeof(PyObject *));
    w.gc_refs = malloc((w.count + 1) * sizeof(Py_ssize_t));
    w.reachable = calloc(w.count + 1, 1);
    w.pending = malloc((w.count + 1) * sizeof(size_t));
    if (w.candidates == NULL || w.gc_refs == NULL || w.reachable == NULL || w.pending == NULL) {
        status = MV_ERR_NO_MEMORY;
    }
    if (status == MV_OK) {
        status = number_candidates(gcstate, &w);
    }
    if (status == MV_OK) {
        mark_reachable(&w);
        status = renumber_unreachable(&w);
    }
    if (status == MV_OK) {
        status = link_unreachable(&w);
    }
    if (status == MV_OK) {
        status = find_groups(&w, found);
    }
    if (status != MV_OK) {
        mv_unreachable_free(found);
    }
    mv_map_free(&w.number);
    free(w.candidates);
    free(w.gc_refs);
    free(w.reachable);
    free(w.pending);
    free(w.unreachable);
    free(w.edge_starts);
    free(w.edges);
    return status;
}

void
mv_unreachable_free(mv_unreachable *found)
{
    for (size_t i = 0; i < found->count; i++) {
        Py_DECREF(found->objects[i]);
    }
    free(found->objects);
    free(found->starts);
    free(found->loops);
    free(found->loop_starts);
    memset(found, 0, sizeof(*found));
}

int
mv_finalizer_pending(PyObject *op)
{
    PyTypeObject *type = Py_TYPE(op);
    return type->tp_del != NULL
           || (type->tp_finalize != NULL && !PyObject_GC_IsFinalized(op));
}

#endif /* MV_KNOWN_LAYOUT */
