/* dominators.c -- who owns the bytes: the dominator tree of the census's graph.
 *
 * An object d dominates an object x when every chain of references from the
 * roots to x passes through d: were d released, x would be freed with it.
 * What an object retains is itself and everything it dominates -- the answer
 * memviz.retained(obj) gives for one object by two walks -- and the
 * dominator tree gives it for every object at once: each object's immediate
 * dominator is its parent, and an object retains its subtree.
 *
 * The tree is computed by Semi-NCA (Georgiadis, Tarjan, Werneck: "Finding
 * dominators in practice", 2006), the Lengauer-Tarjan variant LLVM uses: a
 * depth-first numbering of the graph from the roots, semidominators by
 * Lengauer and Tarjan's evaluation with path compression (in reverse
 * preorder), then each immediate dominator as the nearest common ancestor of
 * the object's DFS parent and its semidominator, found by climbing the tree
 * built so far (in preorder).  Its work is near-linear in the references.
 *
 * Who is shown: descending from the roots, an owner is shown unless it is a
 * namespace (sys.modules, a module, or a module's dict: the globals are the
 * owners) or it
 * passes its bytes through -- its largest dominated object retains at least
 * MV_PASS_THROUGH_PERCENT of them (an instance whose __dict__ holds a cache
 * is shown as the cache).  A shown owner's dominated objects are not shown:
 * the owners listed are disjoint, and their bytes add up.  A class's dict is
 * shown as the class.
 *
 * Why this is safe: everything here works on the graph's numbers, in
 * malloc'd arrays; the objects are read only to ask their type (modules) and
 * a module's dict, which runs no code; the graph holds every object.
 */
#include "dominators.h"    /* first: Python.h sets the feature macros the system headers see */

#include <stdlib.h>
#include <string.h>

#if MV_KNOWN_LAYOUT

#define NONE UINT32_MAX

/* The graph's nodes in depth-first preorder from the roots (preorder 0), and
 * the references reversed, in preorder numbers. */
typedef struct {
    size_t count;           /* nodes the roots reach, the roots' node included */
    uint32_t *order;        /* preorder -> node */
    uint32_t *parent;       /* preorder -> preorder of its DFS parent (0 for 0) */
    uint32_t *first_pred;   /* count + 1: the referrers of k are preds[first_pred[k] ..) */
    uint32_t *preds;
} numbering;

static void
numbering_free(numbering *dfs)
{
    free(dfs->order);
    free(dfs->parent);
    free(dfs->first_pred);
    free(dfs->preds);
}

/* Depth first from the roots' node, iteratively: cursor[depth] is the next
 * reference to follow of the node at stack[depth]. */
static int
number_depth_first(const mv_graph *graph, numbering *dfs, uint32_t *preorder_of)
{
    size_t nodes = graph->count + 1;
    uint32_t *stack = malloc(nodes * sizeof(uint32_t));
    uint32_t *cursor = malloc(nodes * sizeof(uint32_t));
    if (stack == NULL || cursor == NULL) {
        free(stack);
        free(cursor);
        return MV_ERR_NO_MEMORY;
    }
    for (size_t i = 0; i < nodes; i++) {
        preorder_of[i] = NONE;
    }
    uint32_t root = (uint32_t)graph->count;
    size_t next = 0, depth = 0;
    preorder_of[root] = (uint32_t)next;
    dfs->order[next] = root;
    dfs->parent[next++] = 0;
    stack[0] = root;
    cursor[0] = graph->first_edge[root];
    while (1) {
        uint32_t node = stack[depth];
        if (cursor[depth] == graph->first_edge[node + 1]) {
            if (depth == 0) {
                break;
            }
            depth--;
            continue;
        }
        uint32_t child = graph->edges[cursor[depth]++];
        if (preorder_of[child] != NONE) {
            continue;
        }
        preorder_of[child] = (uint32_t)next;
        dfs->order[next] = child;
        dfs->parent[next++] = preorder_of[node];
        stack[++depth] = child;
        cursor[depth] = graph->first_edge[child];
    }
    dfs->count = next;
    free(stack);
    free(cursor);
    return MV_OK;
}

/* The references reversed, between preorder numbers. */
static int
reverse_references(const mv_graph *graph, numbering *dfs, const uint32_t *preorder_of)
{
    dfs->first_pred = calloc(dfs->count + 1, sizeof(uint32_t));
    dfs->preds = malloc((graph->edge_count ? graph->edge_count : 1) * sizeof(uint32_t));
    if (dfs->first_pred == NULL || dfs->preds == NULL) {
        return MV_ERR_NO_MEMORY;
    }
    /* Counted into first_pred[k + 1], summed, then filled from first_pred[k]
     * up (which leaves first_pred[k] at the start of k + 1's), shifted back.
     * Only from the nodes the roots reach (every node, unless a tp_traverse
     * changed its mind): what they refer to is reached too. */
    for (size_t k = 0; k < dfs->count; k++) {
        uint32_t node = dfs->order[k];
        for (uint32_t e = graph->first_edge[node]; e < graph->first_edge[node + 1]; e++) {
            dfs->first_pred[preorder_of[graph->edges[e]] + 1]++;
        }
    }
    for (size_t k = 0; k < dfs->count; k++) {
        dfs->first_pred[k + 1] += dfs->first_pred[k];
    }
    for (size_t k = 0; k < dfs->count; k++) {
        uint32_t node = dfs->order[k];
        for (uint32_t e = graph->first_edge[node]; e < graph->first_edge[node + 1]; e++) {
            dfs->preds[dfs->first_pred[preorder_of[graph->edges[e]]]++] = (uint32_t)k;
        }
    }
    for (size_t k = dfs->count; k > 0; k--) {
        dfs->first_pred[k] = dfs->first_pred[k - 1];
    }
    dfs->first_pred[0] = 0;
    return MV_OK;
}

/* Lengauer and Tarjan's EVAL with path compression, over the nodes numbered
 * last_linked or more (the ones already processed): the node of least
 * semidominator on v's path up the linked forest. */
static uint32_t
eval(uint32_t v, uint32_t last_linked, uint32_t *ancestor, uint32_t *label,
     const uint32_t *semi, uint32_t *stack)
{
    if (ancestor[v] < last_linked) {
        return label[v];
    }
    size_t depth = 0;
    uint32_t top = v;
    do {
        stack[depth++] = top;
        top = ancestor[top];
    } while (ancestor[top] >= last_linked);
    uint32_t above = top, above_label = label[top];
    do {
        uint32_t below = stack[--depth];
        ancestor[below] = ancestor[above];
        if (semi[above_label] < semi[label[below]]) {
            label[below] = above_label;
        }
        else {
            above_label = label[below];
        }
        above = below;
    } while (depth > 0);
    return label[v];
}

/* idom[k]: the preorder number of k's immediate dominator (0 for 0). */
static int
semi_nca(const numbering *dfs, uint32_t *idom)
{
    size_t count = dfs->count;
    uint32_t *semi = malloc(count * sizeof(uint32_t));
    uint32_t *label = malloc(count * sizeof(uint32_t));
    uint32_t *ancestor = malloc(count * sizeof(uint32_t));
    uint32_t *stack = malloc(count * sizeof(uint32_t));
    int status = semi && label && ancestor && stack ? MV_OK : MV_ERR_NO_MEMORY;
    if (status == MV_OK) {
        for (size_t k = 0; k < count; k++) {
            semi[k] = label[k] = (uint32_t)k;
        }
        memcpy(ancestor, dfs->parent, count * sizeof(uint32_t));
        for (size_t k = count - 1; k >= 1; k--) {
            semi[k] = dfs->parent[k];
            for (uint32_t p = dfs->first_pred[k]; p < dfs->first_pred[k + 1]; p++) {
                uint32_t least = eval(dfs->preds[p], (uint32_t)k + 1, ancestor, label, semi, stack);
                if (semi[least] < semi[k]) {
                    semi[k] = semi[least];
                }
            }
        }
        idom[0] = 0;
        for (size_t k = 1; k < count; k++) {
            uint32_t candidate = dfs->parent[k];
            while (candidate > semi[k]) {
                candidate = idom[candidate];
            }
            idom[k] = candidate;
        }
    }
    free(semi);
    free(label);
    free(ancestor);
    free(stack);
    return status;
}

/* -- what each object retains, and who is shown ------------------------------- */

typedef struct {
    size_t count;
    uint32_t *idom;
    uint64_t *bytes;        /* retained, by preorder */
    uint64_t *objects;
    uint32_t *first_child;  /* the dominator tree's children, by preorder */
    uint32_t *next_sibling;
    uint32_t *largest_child;
} owners;

static void
owners_free(owners *tree)
{
    free(tree->idom);
    free(tree->bytes);
    free(tree->objects);
    free(tree->first_child);
    free(tree->next_sibling);
    free(tree->largest_child);
}

/* Sums each subtree: a node dominates only nodes numbered after it. */
static int
sum_subtrees(const mv_graph *graph, const numbering *dfs, owners *tree)
{
    size_t count = dfs->count;
    tree->count = count;
    tree->bytes = malloc(count * sizeof(uint64_t));
    tree->objects = malloc(count * sizeof(uint64_t));
    tree->first_child = malloc(count * sizeof(uint32_t));
    tree->next_sibling = malloc(count * sizeof(uint32_t));
    tree->largest_child = malloc(count * sizeof(uint32_t));
    if (!tree->bytes || !tree->objects || !tree->first_child || !tree->next_sibling
        || !tree->largest_child) {
        return MV_ERR_NO_MEMORY;
    }
    for (size_t k = 0; k < count; k++) {
        tree->bytes[k] = graph->sizes[dfs->order[k]];   /* the roots' node's is 0 */
        tree->objects[k] = k == 0 ? 0 : 1;
        tree->first_child[k] = tree->largest_child[k] = NONE;
    }
    for (size_t k = count - 1; k >= 1; k--) {
        uint32_t up = tree->idom[k];
        tree->bytes[up] += tree->bytes[k];
        tree->objects[up] += tree->objects[k];
        tree->next_sibling[k] = tree->first_child[up];
        tree->first_child[up] = (uint32_t)k;
        if (tree->largest_child[up] == NONE
            || tree->bytes[k] > tree->bytes[tree->largest_child[up]]) {
            tree->largest_child[up] = (uint32_t)k;
        }
    }
    return MV_OK;
}

/* A max-heap of preorder numbers by the bytes they retain. */
typedef struct {
    uint32_t *items;
    size_t used;
    size_t capacity;
} owner_heap;

static int
heap_push(owner_heap *heap, const uint64_t *bytes, uint32_t k)
{
    if (heap->used == heap->capacity) {
        size_t capacity = heap->capacity ? heap->capacity * 2 : 256;
        uint32_t *items = realloc(heap->items, capacity * sizeof(uint32_t));
        if (items == NULL) {
            return MV_ERR_NO_MEMORY;
        }
        heap->items = items;
        heap->capacity = capacity;
    }
    size_t i = heap->used++;
    while (i > 0 && bytes[heap->items[(i - 1) / 2]] < bytes[k]) {
        heap->items[i] = heap->items[(i - 1) / 2];
        i = (i - 1) / 2;
    }
    heap->items[i] = k;
    return MV_OK;
}

static uint32_t
heap_pop(owner_heap *heap, const uint64_t *bytes)
{
    uint32_t top = heap->items[0];
    uint32_t last = heap->items[--heap->used];
    size_t i = 0;
    while (1) {
        size_t child = 2 * i + 1;
        if (child >= heap->used) {
            break;
        }
        if (child + 1 < heap->used && bytes[heap->items[child + 1]] > bytes[heap->items[child]]) {
            child++;
        }
        if (bytes[heap->items[child]] <= bytes[last]) {
            break;
        }
        heap->items[i] = heap->items[child];
        i = child;
    }
    if (heap->used > 0) {
        heap->items[i] = last;
    }
    return top;
}

/* sys.modules and the dicts of the modules in it: namespaces, passed through. */
static int
module_dicts(PyInterpreterState *interp, mv_object_set *dicts)
{
    PyObject *modules = MV_INTERP_MODULES(interp);
    if (modules == NULL || !PyDict_Check(modules)) {
        return MV_OK;
    }
    if (mv_object_set_add(dicts, modules) < 0) {
        return MV_ERR_NO_MEMORY;
    }
    Py_ssize_t position = 0;
    PyObject *name, *module;
    while (PyDict_Next(modules, &position, &name, &module)) {
        if (PyModule_Check(module)) {
            PyObject *dict = PyModule_GetDict(module);    /* borrowed; reads md_dict */
            if (dict != NULL && mv_object_set_add(dicts, dict) < 0) {
                return MV_ERR_NO_MEMORY;
            }
        }
    }
    return MV_OK;
}

static int
passes_through(const owners *tree, PyObject *op, uint32_t k, const mv_object_set *namespaces)
{
    if (PyModule_Check(op) || mv_object_set_has(namespaces, op)) {
        return 1;
    }
    uint32_t largest = tree->largest_child[k];
    return largest != NONE
           && tree->bytes[largest] * 100 >= tree->bytes[k] * MV_PASS_THROUGH_PERCENT;
}

static int
pick_owners(PyInterpreterState *interp, const mv_graph *graph, const numbering *dfs,
            const owners *tree, size_t n, mv_retainer *picked, size_t *found)
{
    mv_object_set namespaces = {NULL, 0, 0};
    owner_heap heap = {NULL, 0, 0};
    int status = module_dicts(interp, &namespaces);
    for (uint32_t c = tree->first_child[0]; status == MV_OK && c != NONE; c = tree->next_sibling[c]) {
        status = heap_push(&heap, tree->bytes, c);
    }
    *found = 0;
    while (status == MV_OK && *found < n && heap.used > 0) {
        uint32_t k = heap_pop(&heap, tree->bytes);
        PyObject *op = graph->objects[dfs->order[k]];
        if (passes_through(tree, op, k, &namespaces)) {
            for (uint32_t c = tree->first_child[k]; status == MV_OK && c != NONE;
                 c = tree->next_sibling[c]) {
                status = heap_push(&heap, tree->bytes, c);
            }
            continue;
        }
        /* A class is shown rather than its dict, which it alone holds. */
        uint32_t up = tree->idom[k];
        PyObject *owner = graph->objects[dfs->order[up]];
        if (up != 0 && PyType_Check(owner) && PyDict_CheckExact(op)) {
            PyObject *dict = mv_type_dict((PyTypeObject *)owner);
            Py_XDECREF(dict);   /* the class still holds it */
            k = dict == op ? up : k;
        }
        picked[*found].node = dfs->order[k];
        picked[*found].bytes = tree->bytes[k];
        picked[*found].objects = tree->objects[k];
        (*found)++;
    }
    mv_object_set_free(&namespaces);
    free(heap.items);
    return status;
}

int
mv_largest_retainers(PyInterpreterState *interp, const mv_graph *graph, size_t n,
                     mv_retainer **retainers, size_t *found)
{
    size_t nodes = graph->count + 1;
    numbering dfs = {0, malloc(nodes * sizeof(uint32_t)), malloc(nodes * sizeof(uint32_t)),
                     NULL, NULL};
    owners tree;
    memset(&tree, 0, sizeof(tree));
    uint32_t *preorder_of = malloc(nodes * sizeof(uint32_t));
    *retainers = malloc((n ? n : 1) * sizeof(mv_retainer));
    *found = 0;
    int status = dfs.order && dfs.parent && preorder_of && *retainers ? MV_OK : MV_ERR_NO_MEMORY;
    if (status == MV_OK) {
        status = number_depth_first(graph, &dfs, preorder_of);
    }
    if (status == MV_OK) {
        status = reverse_references(graph, &dfs, preorder_of);
    }
    free(preorder_of);
    if (status == MV_OK) {
        tree.idom = malloc(dfs.count * sizeof(uint32_t));
        status = tree.idom == NULL ? MV_ERR_NO_MEMORY : semi_nca(&dfs, tree.idom);
    }
    if (status == MV_OK) {
        free(dfs.preds);        /* the largest array: not needed from here on */
        dfs.preds = NULL;
        status = sum_subtrees(graph, &dfs, &tree);
    }
    if (status == MV_OK) {
        status = pick_owners(interp, graph, &dfs, &tree, n, *retainers, found);
    }
    numbering_free(&dfs);
    owners_free(&tree);
    if (status != MV_OK) {
        free(*retainers);
        *retainers = NULL;
        *found = 0;
    }
    return status;
}

#endif /* MV_KNOWN_LAYOUT */
