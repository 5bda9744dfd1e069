/* objects.c -- the C-API functions: readings that take or return Python
 * objects, published as the module memviz._objects.
 *
 * cffi cannot pass a PyObject* or return a dict keyed by types, and its
 * calls cost a GIL round trip; these functions are ordinary METH_O /
 * METH_NOARGS functions, called with the GIL held, as fast as
 * sys.getrefcount.  mv_register_objects_module() (a cffi function, called
 * once by memviz._native) creates the module and puts it in sys.modules.
 *
 * Why this is safe: the GIL is held throughout; the list walks allocate
 * nothing until the walk is over and every type found is INCREF'd before
 * the first Python object of the result is built.
 */
#include "census.h"
#include "dominators.h"
#include "paths.h"
#include "unreachable.h"

#include <limits.h>
#include <stdlib.h>
#include "gcread.h"

/* Raised with (status, message); memviz._native turns it into the public
 * exception that fits the status.  Each interpreter that imports memviz gets a
 * module of its own with a class of its own, so the class is the calling
 * module's attribute, never a C static: a static would be the class of
 * whichever interpreter registered last (a subinterpreter's, which dies with
 * it), and the main interpreter's `except ReadingError` would stop matching. */
static PyObject *
raise_status(PyObject *module, int status)
{
    PyObject *error_class = PyObject_GetAttrString(module, "ReadingError");
    if (error_class == NULL) {
        return NULL;
    }
    PyObject *args = Py_BuildValue("(is)", status, mv_status_message(status));
    if (args != NULL) {
        PyErr_SetObject(error_class, args);
        Py_DECREF(args);
    }
    Py_DECREF(error_class);
    return NULL;
}

/* 3.14+ loads some arguments as borrowed stack references (LOAD_FAST_BORROW):
 * the caller's evaluation stack then holds no reference of its own.  While a
 * builtin runs, the caller's frame has saved its stack pointer with the
 * arguments still on the stack, so the argument's stack slot says whether
 * the call owns a reference. */
static int
call_owns_reference(PyObject *op)
{
#if MV_PY_AT_LEAST(3, 14) && MV_KNOWN_LAYOUT
    /* Unchecked: the GIL is held, so there is a thread state; this is the hot path. */
    _PyInterpreterFrame *frame = PyThreadState_GetUnchecked()->current_frame;
    if (frame == NULL || frame->stackpointer == NULL
        || frame->stackpointer <= frame->localsplus) {
        return 1;
    }
    _PyStackRef top = frame->stackpointer[-1];
    if ((PyObject *)(top.bits & ~Py_TAG_BITS) != op) {
        return 1;   /* not called straight from Python code: the caller holds one */
    }
    return PyStackRef_RefcountOnObject(top);
#else
    (void)op;
    return 1;
#endif
}

static PyObject *
refcount(PyObject *module, PyObject *op)
{
    (void)module;
    Py_ssize_t stored = Py_REFCNT(op);
    if (MV_IS_IMMORTAL_OBJECT(op)) {
        return PyLong_FromSsize_t(stored);
    }
    return PyLong_FromSsize_t(stored - call_owns_reference(op));
}

static PyObject *
is_immortal(PyObject *module, PyObject *op)
{
    (void)module;
    return PyBool_FromLong(MV_IS_IMMORTAL_OBJECT(op));
}

static PyObject *
interpreter_id(PyObject *module, PyObject *unused)
{
    (void)module;
    (void)unused;
    return PyLong_FromLongLong(PyInterpreterState_GetID(PyInterpreterState_Get()));
}

static PyObject *
generation_of(PyObject *module, PyObject *op)
{
    (void)module;
#if MV_KNOWN_LAYOUT
    struct _gc_runtime_state *gcstate = MV_GC_STATE(PyInterpreterState_Get());
    int status = mv_gc_readable(gcstate);
    if (status != MV_OK) {
        return raise_status(module, status);
    }
    if (!PyObject_IS_GC(op) || !PyObject_GC_IsTracked(op)) {
        Py_RETURN_NONE;
    }
    int generation = mv_gc_generation_of(gcstate, op);
    if (generation < 0) {
        return raise_status(module, MV_ERR_UNSUPPORTED);
    }
    return PyLong_FromLong(generation);
#else
    (void)op;
    return raise_status(module, MV_ERR_UNSUPPORTED);
#endif
}

#if MV_KNOWN_LAYOUT
static PyObject *
object_count(const mv_type_count *slot)
{
    return PyLong_FromLongLong(slot->count);
}

/* The census's (objects, tracked_objects, bytes, sized_by_getsizeof). */
static PyObject *
census_figures(const mv_type_count *slot)
{
    return Py_BuildValue("(LLLL)", (long long)slot->count, (long long)slot->tracked,
                         (long long)slot->bytes, (long long)slot->sized_later);
}

/* {type: value(slot)} for every type of the table. */
static PyObject *
table_to_dict_of(mv_type_table *table, PyObject *(*value)(const mv_type_count *))
{
    /* Types first: building the dict may run a collection that frees one. */
    for (size_t i = 0; i < table->capacity; i++) {
        Py_XINCREF(table->slots[i].type);
    }
    PyObject *result = PyDict_New();
    for (size_t i = 0; result != NULL && i < table->capacity; i++) {
        mv_type_count *slot = &table->slots[i];
        if (slot->type == NULL) {
            continue;
        }
        PyObject *figure = value(slot);
        if (figure == NULL || PyDict_SetItem(result, (PyObject *)slot->type, figure) < 0) {
            Py_CLEAR(result);
        }
        Py_XDECREF(figure);
    }
    for (size_t i = 0; i < table->capacity; i++) {
        Py_XDECREF(table->slots[i].type);
    }
    return result;
}

static PyObject *
table_to_dict(mv_type_table *table)
{
    return table_to_dict_of(table, object_count);
}
#endif

static PyObject *
type_counts(PyObject *module, PyObject *arg)
{
    (void)module;
#if MV_KNOWN_LAYOUT
    int generation = PyLong_AsLong(arg);
    if (generation == -1 && PyErr_Occurred()) {
        return NULL;
    }
    if (generation < -1 || generation > MV_PERMANENT_GENERATION) {
        PyErr_SetString(PyExc_ValueError, "generation must be 0, 1, 2, 3 (permanent) or -1 (0-2)");
        return NULL;
    }
    struct _gc_runtime_state *gcstate = MV_GC_STATE(PyInterpreterState_Get());
    int status = mv_gc_readable(gcstate);
    mv_type_table table;
    if (status == MV_OK) {
        status = mv_gc_count_types(gcstate, generation, &table);
    }
    if (status != MV_OK) {
        return raise_status(module, status);
    }
    PyObject *result = table_to_dict(&table);
    mv_type_table_free(&table);
    return result;
#else
    (void)arg;
    return raise_status(module, MV_ERR_UNSUPPORTED);
#endif
}

static PyObject *
census(PyObject *module, PyObject *unused)
{
    (void)unused;
#if MV_KNOWN_LAYOUT
    PyInterpreterState *interp = PyInterpreterState_Get();
    int status = mv_gc_readable(MV_GC_STATE(interp));
    if (status != MV_OK) {
        return raise_status(module, status);
    }
    mv_census census;
    status = mv_census_walk(interp, &census);
    PyObject *result = NULL;
    if (status != MV_OK) {
        raise_status(module, status);
    }
    /* The objects sized late are held until the dict holds their types. */
    else if (mv_census_size_later(&census) == 0) {
        result = table_to_dict_of(&census.types, census_figures);
    }
    mv_census_free(&census);
    return result;
#else
    return raise_status(module, MV_ERR_UNSUPPORTED);
#endif
}

/* The target comes first in a list, which the walk does not follow: the
 * caller's frame then holds the target -- and what else the caller keeps in
 * the list, out of the walk's way -- only through that list.  1, or 0 with
 * TypeError set. */
static int
is_box(PyObject *box)
{
    if (!PyList_CheckExact(box) || PyList_GET_SIZE(box) < 1) {
        PyErr_SetString(PyExc_TypeError, "expected a list whose first item is the object");
        return 0;
    }
    return 1;
}

static int
reach_of(PyObject *module, PyObject *box, int want_holders, mv_reach *reach)
{
    memset(reach, 0, sizeof(*reach));
    if (!is_box(box)) {
        return MV_ERR_UNSUPPORTED;
    }
#if MV_KNOWN_LAYOUT
    PyInterpreterState *interp = PyInterpreterState_Get();
    int status = mv_gc_readable(MV_GC_STATE(interp));
    reach->target = PyList_GET_ITEM(box, 0);
    reach->skip = box;
    reach->want_holders = want_holders;
    if (status == MV_OK) {
        status = mv_census_reach(interp, reach);
    }
    if (status != MV_OK) {
        mv_reach_free(reach);
        raise_status(module, status);
    }
    return status;
#else
    raise_status(module, MV_ERR_UNSUPPORTED);
    return MV_ERR_UNSUPPORTED;
#endif
}

static PyObject *
census_reach(PyObject *module, PyObject *box)
{
    mv_reach reach;
    if (reach_of(module, box, 0, &reach) != MV_OK) {
        return NULL;
    }
    PyObject *result = Py_BuildValue("(iO)", reach.root,
                                     reach.referrer == NULL ? Py_None : reach.referrer);
    mv_reach_free(&reach);
    return result;
}

/* Every object whose references include the target, then the frame objects of
 * the running frames that hold it. */
static PyObject *
census_holders(PyObject *module, PyObject *box)
{
    mv_reach reach;
    if (reach_of(module, box, 1, &reach) != MV_OK) {
        return NULL;
    }
    PyObject *result = PyList_New(0);
    for (size_t i = 0; result != NULL && i < reach.holders.used; i++) {
        if (PyList_Append(result, reach.holders.items[i]) < 0) {
            Py_CLEAR(result);
        }
    }
#if MV_KNOWN_LAYOUT
    PyInterpreterState *interp = PyInterpreterState_Get();
    for (size_t i = 0; result != NULL && i < reach.frames.used; i++) {
        PyObject *frame = mv_frame_object(interp, (mv_frame *)reach.frames.items[i]);
        if (frame == NULL && PyErr_Occurred()) {
            Py_CLEAR(result);
        }
        else if (frame != NULL && PyList_Append(result, frame) < 0) {
            Py_CLEAR(result);
        }
        Py_XDECREF(frame);
    }
#endif
    mv_reach_free(&reach);
    return result;
}

/* A census's totals: (objects, bytes). */
static void
census_totals(const mv_census *census, long long *objects, long long *bytes)
{
    for (size_t i = 0; i < census->types.capacity; i++) {
        if (census->types.slots[i].type != NULL) {
            *objects += census->types.slots[i].count;
            *bytes += census->types.slots[i].bytes;
        }
    }
}

/* (objects, bytes) that the target in box retains: what the program's roots
 * reach only through it, itself included. */
static PyObject *
census_retained(PyObject *module, PyObject *box)
{
    if (!is_box(box)) {
        return NULL;
    }
#if MV_KNOWN_LAYOUT
    PyInterpreterState *interp = PyInterpreterState_Get();
    int status = mv_gc_readable(MV_GC_STATE(interp));
    if (status != MV_OK) {
        return raise_status(module, status);
    }
    mv_census with, without;
    status = mv_census_retained(interp, PyList_GET_ITEM(box, 0), box, &with, &without);
    PyObject *result = NULL;
    if (status != MV_OK) {
        raise_status(module, status);
    }
    else if (mv_census_size_later(&with) == 0 && mv_census_size_later(&without) == 0) {
        long long objects = 0, bytes = 0, objects_without = 0, bytes_without = 0;
        census_totals(&with, &objects, &bytes);
        census_totals(&without, &objects_without, &bytes_without);
        result = Py_BuildValue("(LL)", objects - objects_without, bytes - bytes_without);
    }
    mv_census_free(&with);
    mv_census_free(&without);
    return result;
#else
    return raise_status(module, MV_ERR_UNSUPPORTED);
#endif
}

/* [(object, bytes, objects, interned), ...]: at most n owners that retain the
 * most (dominators.c), largest first; interned: the owner is the interned
 * strings' dict, a root that no path starts from. */
static PyObject *
largest_retainers(PyObject *module, PyObject *count)
{
    Py_ssize_t n = PyLong_AsSsize_t(count);
    if (n == -1 && PyErr_Occurred()) {
        return NULL;
    }
    if (n < 0) {
        PyErr_SetString(PyExc_ValueError, "the number of retainers must not be negative");
        return NULL;
    }
#if MV_KNOWN_LAYOUT
    PyInterpreterState *interp = PyInterpreterState_Get();
    int status = mv_gc_readable(MV_GC_STATE(interp));
    if (status != MV_OK) {
        return raise_status(module, status);
    }
    mv_graph graph;
    mv_retainer *retainers = NULL;
    size_t found = 0;
    PyObject *result = NULL;
    status = mv_census_graph(interp, &graph);
    if (status != MV_OK) {
        raise_status(module, status);
    }
    else if (mv_graph_size_later(&graph) == 0) {
        status = mv_largest_retainers(interp, &graph, (size_t)n, &retainers, &found);
        result = status == MV_OK ? PyList_New((Py_ssize_t)found) : raise_status(module, status);
    }
    for (size_t i = 0; result != NULL && i < found; i++) {
        PyObject *owner = graph.objects[retainers[i].node];
        PyObject *row = Py_BuildValue("(OKKO)", owner, (unsigned long long)retainers[i].bytes,
                                      (unsigned long long)retainers[i].objects,
                                      owner == MV_INTERNED_STRINGS(interp) ? Py_True : Py_False);
        if (row == NULL) {
            Py_CLEAR(result);
        }
        else {
            PyList_SET_ITEM(result, (Py_ssize_t)i, row);
        }
    }
    free(retainers);
    mv_graph_free(&graph);
    return result;
#else
    return raise_status(module, MV_ERR_UNSUPPORTED);
#endif
}

#if MV_KNOWN_LAYOUT
/* None, or (root, frame, slot, [root ... target]): the shortest chain of
 * references from a root to target, not through skip (for a running frame:
 * its frame object, and the own slot that holds the chain's first object, -1
 * for its locals dict).  NULL with the exception set when the walk failed. */
static PyObject *
find_path(PyObject *module, PyInterpreterState *interp, PyObject *target, PyObject *skip,
          int max_depth)
{
    mv_path path = {target, skip, max_depth, MV_ROOT_NONE, NULL, -1, NULL, 0};
    int status = mv_path_find(interp, &path);
    if (status != MV_OK) {
        mv_path_free(&path);
        return raise_status(module, status);
    }
    if (path.root == MV_ROOT_NONE) {
        Py_RETURN_NONE;
    }
    PyObject *objects = PyList_New((Py_ssize_t)path.length);
    for (size_t i = 0; objects != NULL && i < path.length; i++) {
        PyList_SET_ITEM(objects, (Py_ssize_t)i, Py_NewRef(path.objects[i]));
    }
    PyObject *frame = NULL;
    if (objects != NULL && path.root == MV_ROOT_FRAME) {
        frame = mv_frame_object(interp, path.frame);
    }
    PyObject *result = NULL;
    if (objects != NULL && !PyErr_Occurred()) {
        result = Py_BuildValue("(iOnO)", path.root, frame == NULL ? Py_None : frame,
                               path.slot, objects);
    }
    Py_XDECREF(frame);
    Py_XDECREF(objects);
    mv_path_free(&path);
    return result;
}
#endif

/* max_depth from a Python int: at least 0; -1 with the exception set. */
static int
depth_of(PyObject *arg)
{
    long depth = PyLong_AsLong(arg);
    if (depth == -1 && PyErr_Occurred()) {
        return -1;
    }
    return depth < 0 ? 0 : depth > INT_MAX ? INT_MAX : (int)depth;
}

/* find_path's result for the target in box, not through box. */
static PyObject *
path_to(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 2 || !PyLong_Check(args[1])) {
        PyErr_SetString(PyExc_TypeError, "path_to([target], max_depth)");
        return NULL;
    }
    if (!is_box(args[0])) {
        return NULL;
    }
    int max_depth = depth_of(args[1]);
    if (max_depth < 0) {
        return NULL;
    }
#if MV_KNOWN_LAYOUT
    PyInterpreterState *interp = PyInterpreterState_Get();
    int status = mv_gc_readable(MV_GC_STATE(interp));
    if (status != MV_OK) {
        return raise_status(module, status);
    }
    return find_path(module, interp, PyList_GET_ITEM(args[0], 0), args[0], max_depth);
#else
    return raise_status(module, MV_ERR_UNSUPPORTED);
#endif
}

/* [find_path's result for box[0][i] for each i of indices], none of them through
 * box: box holds the caller's list of objects (the caller holds it only through
 * box), so no path leads through the caller's own list to a target. */
static PyObject *
paths_in(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 3 || !PyTuple_CheckExact(args[1]) || !PyLong_Check(args[2])) {
        PyErr_SetString(PyExc_TypeError, "paths_in([objects], (index, ...), max_depth)");
        return NULL;
    }
    if (!is_box(args[0])) {
        return NULL;
    }
    PyObject *objects = PyList_GET_ITEM(args[0], 0);
    if (!PyList_CheckExact(objects)) {
        PyErr_SetString(PyExc_TypeError, "paths_in: the box must hold a list of objects");
        return NULL;
    }
    int max_depth = depth_of(args[2]);
    if (max_depth < 0) {
        return NULL;
    }
#if MV_KNOWN_LAYOUT
    PyInterpreterState *interp = PyInterpreterState_Get();
    int status = mv_gc_readable(MV_GC_STATE(interp));
    if (status != MV_OK) {
        return raise_status(module, status);
    }
    PyObject *indices = args[1];
    PyObject *result = PyList_New(PyTuple_GET_SIZE(indices));
    for (Py_ssize_t i = 0; result != NULL && i < PyTuple_GET_SIZE(indices); i++) {
        Py_ssize_t index = PyLong_AsSsize_t(PyTuple_GET_ITEM(indices, i));
        if (index == -1 && PyErr_Occurred()) {
            Py_CLEAR(result);
            break;
        }
        /* No Python code runs between two walks: the list is as the caller left it. */
        if (index < 0 || index >= PyList_GET_SIZE(objects)) {
            PyErr_SetString(PyExc_IndexError, "paths_in: an index out of the list");
            Py_CLEAR(result);
            break;
        }
        PyObject *found = find_path(module, interp, PyList_GET_ITEM(objects, index),
                                    args[0], max_depth);
        if (found == NULL) {
            Py_CLEAR(result);
            break;
        }
        PyList_SET_ITEM(result, i, found);
    }
    return result;
#else
    return raise_status(module, MV_ERR_UNSUPPORTED);
#endif
}

#if MV_KNOWN_LAYOUT
/* (objects, sizes) of what mv_census_in_ranges collects into in (freed here),
 * the walk not counting or following blocked. */
static PyObject *
collect(PyObject *module, mv_in_ranges *in, PyObject *blocked)
{
    PyInterpreterState *interp = PyInterpreterState_Get();
    int status = mv_gc_readable(MV_GC_STATE(interp));
    if (status == MV_OK) {
        status = mv_census_in_ranges(interp, in, blocked);
    }
    if (status != MV_OK) {
        mv_in_ranges_free(in);
        return raise_status(module, status);
    }
    /* The walk is over: Python objects may be made, and code run (sys.getsizeof). */
    PyObject *objects = PyList_New((Py_ssize_t)in->found.used);
    PyObject *sizes = PyList_New((Py_ssize_t)in->found.used);
    for (size_t i = 0; objects != NULL && sizes != NULL && i < in->found.used; i++) {
        PyObject *op = in->found.items[i];
        size_t size = in->sizes[i] != 0 ? in->sizes[i] : _PySys_GetSizeOf(op);
        if (size == (size_t)-1 && PyErr_Occurred()) {
            Py_CLEAR(objects);
            break;
        }
        PyObject *size_object = PyLong_FromSize_t(size);
        if (size_object == NULL) {
            Py_CLEAR(objects);
            break;
        }
        PyList_SET_ITEM(sizes, (Py_ssize_t)i, size_object);
        PyList_SET_ITEM(objects, (Py_ssize_t)i, Py_NewRef(op));
    }
    PyObject *result = NULL;
    if (objects != NULL && sizes != NULL) {
        result = PyTuple_Pack(2, objects, sizes);
    }
    Py_XDECREF(objects);
    Py_XDECREF(sizes);
    mv_in_ranges_free(in);
    return result;
}
#endif

/* (objects, sizes): every object the census's walk meets at an address in one of
 * the ranges of bounds (a bytes of native uint64 start, end pairs, sorted and
 * disjoint), in the order met, and each one's size as the census sizes it. */
static PyObject *
census_in_ranges(PyObject *module, PyObject *bounds)
{
    if (!PyBytes_CheckExact(bounds) || PyBytes_GET_SIZE(bounds) % (2 * sizeof(uint64_t)) != 0) {
        PyErr_SetString(PyExc_TypeError,
                        "census_in_ranges(bounds): bytes of native uint64 (start, end) pairs");
        return NULL;
    }
#if MV_KNOWN_LAYOUT
    mv_in_ranges in = {NULL, (const uint64_t *)PyBytes_AS_STRING(bounds),
                       (size_t)PyBytes_GET_SIZE(bounds) / (2 * sizeof(uint64_t)),
                       {NULL, 0, 0}, NULL};
    for (size_t i = 0; i < in.ranges; i++) {
        if (in.bounds[2 * i] >= in.bounds[2 * i + 1]
            || (i > 0 && in.bounds[2 * i] < in.bounds[2 * i - 1])) {
            PyErr_SetString(PyExc_ValueError,
                            "census_in_ranges: the ranges must be non-empty, sorted and disjoint");
            return NULL;
        }
    }
    return collect(module, &in, NULL);
#else
    return raise_status(module, MV_ERR_UNSUPPORTED);
#endif
}

#define SEEN_CAPSULE "memviz._objects.seen"

#if MV_KNOWN_LAYOUT
static void
free_seen(PyObject *capsule)
{
    mv_seen_free(PyCapsule_GetPointer(capsule, SEEN_CAPSULE));
}
#endif

/* A capsule of every object a census walk meets now, for census_new_objects;
 * from 3.13 each one freed from now on is forgotten (mv_seen_watch) until the
 * capsule is freed. */
static PyObject *
census_seen(PyObject *module, PyObject *unused)
{
    (void)unused;
#if MV_KNOWN_LAYOUT
    PyInterpreterState *interp = PyInterpreterState_Get();
    int status = mv_gc_readable(MV_GC_STATE(interp));
    mv_seen *seen = NULL;
    if (status == MV_OK) {
        status = mv_census_seen(interp, &seen);
    }
    if (status == MV_OK) {
        status = mv_seen_watch(seen);
    }
    if (status != MV_OK) {
        mv_seen_free(seen);
        return raise_status(module, status);
    }
    PyObject *capsule = PyCapsule_New(seen, SEEN_CAPSULE, free_seen);
    if (capsule == NULL) {
        mv_seen_free(seen);
    }
    return capsule;
#else
    return raise_status(module, MV_ERR_UNSUPPORTED);
#endif
}

/* (objects, sizes): what the census's walk meets now at an address where the
 * walk of census_seen met nothing, not the capsule itself. */
static PyObject *
census_new_objects(PyObject *module, PyObject *capsule)
{
#if MV_KNOWN_LAYOUT
    mv_seen *seen = PyCapsule_GetPointer(capsule, SEEN_CAPSULE);
    if (seen == NULL) {
        return NULL;
    }
    mv_in_ranges in = {seen, NULL, 0, {NULL, 0, 0}, NULL};
    return collect(module, &in, capsule);
#else
    (void)capsule;
    return raise_status(module, MV_ERR_UNSUPPORTED);
#endif
}

static PyObject *
census_sizeof(PyObject *module, PyObject *op)
{
#if MV_KNOWN_LAYOUT
    (void)module;
    size_t size = mv_census_sizeof(op);
    if (size == 0) {
        Py_RETURN_NONE;
    }
    return PyLong_FromSize_t(size);
#else
    (void)op;
    return raise_status(module, MV_ERR_UNSUPPORTED);
#endif
}

#if MV_KNOWN_LAYOUT
/* A tuple of objects[0 .. count), each a new reference. */
static PyObject *
tuple_of(PyObject **objects, size_t count)
{
    PyObject *tuple = PyTuple_New((Py_ssize_t)count);
    for (size_t i = 0; tuple != NULL && i < count; i++) {
        PyTuple_SET_ITEM(tuple, (Py_ssize_t)i, Py_NewRef(objects[i]));
    }
    return tuple;
}

/* (objects, loop, bytes, finalizers) of one component: bytes as the census sizes
 * them, finalizers the objects whose finalizer the collector would run. */
static PyObject *
component(PyObject **objects, size_t count, PyObject **loop, size_t loop_length)
{
    long long bytes = 0;
    size_t pending = 0;
    size_t *sizes = malloc((count + 1) * sizeof(size_t));
    if (sizes == NULL) {
        return PyErr_NoMemory();
    }
    mv_census_sizeof_each(objects, count, sizes);
    for (size_t i = 0; i < count; i++) {
        size_t size = sizes[i] != 0 ? sizes[i] : _PySys_GetSizeOf(objects[i]);
        if (size == (size_t)-1 && PyErr_Occurred()) {
            free(sizes);
            return NULL;
        }
        bytes += (long long)size;
        pending += (size_t)mv_finalizer_pending(objects[i]);
    }
    free(sizes);
    PyObject *finalizers = PyTuple_New((Py_ssize_t)pending);
    for (size_t i = 0, j = 0; finalizers != NULL && i < count; i++) {
        if (mv_finalizer_pending(objects[i])) {
            PyTuple_SET_ITEM(finalizers, (Py_ssize_t)j++, Py_NewRef(objects[i]));
        }
    }
    PyObject *members = tuple_of(objects, count);
    PyObject *cycle = tuple_of(loop, loop_length);
    PyObject *result = NULL;
    if (finalizers != NULL && members != NULL && cycle != NULL) {
        result = Py_BuildValue("(OOLO)", members, cycle, bytes, finalizers);
    }
    Py_XDECREF(finalizers);
    Py_XDECREF(members);
    Py_XDECREF(cycle);
    return result;
}
#endif

/* What the next full collection would find unreachable, without collecting:
 * ((objects, loop, bytes, finalizers), ...), one per cycle (unreachable.c). */
static PyObject *
unreachable(PyObject *module, PyObject *unused)
{
    (void)unused;
#if MV_KNOWN_LAYOUT
    struct _gc_runtime_state *gcstate = MV_GC_STATE(PyInterpreterState_Get());
    int status = mv_gc_readable(gcstate);
    mv_unreachable found;
    if (status == MV_OK) {
        status = mv_unreachable_find(gcstate, &found);
    }
    if (status != MV_OK) {
        return raise_status(module, status);
    }
    /* The walk is over and every object found is held: code may run now. */
    PyObject *result = PyTuple_New((Py_ssize_t)found.components);
    for (size_t k = 0; result != NULL && k < found.components; k++) {
        PyObject *one = component(found.objects + found.starts[k],
                                  found.starts[k + 1] - found.starts[k],
                                  found.loops + found.loop_starts[k],
                                  found.loop_starts[k + 1] - found.loop_starts[k]);
        if (one == NULL) {
            Py_CLEAR(result);
        }
        else {
            PyTuple_SET_ITEM(result, (Py_ssize_t)k, one);
        }
    }
    mv_unreachable_free(&found);
    return result;
#else
    return raise_status(module, MV_ERR_UNSUPPORTED);
#endif
}

/* The name of holder's inline attribute (kept without a __dict__) whose value is
 * held, or None: how a path or a cycle labels that step without making the
 * __dict__ that reading obj.__dict__ would. */
static PyObject *
inline_attribute(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    (void)module;
    if (nargs != 2) {
        PyErr_SetString(PyExc_TypeError, "inline_attribute(holder, held)");
        return NULL;
    }
    PyObject *name = mv_inline_attribute(args[0], args[1]);
    if (name == NULL) {
        Py_RETURN_NONE;
    }
    return Py_NewRef(name);
}

static int
is_tuple_of_types(PyObject *op)
{
    if (!PyTuple_CheckExact(op)) {
        return 0;
    }
    for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(op); i++) {
        if (!PyType_Check(PyTuple_GET_ITEM(op, i))) {
            return 0;
        }
    }
    return 1;
}

static PyObject *
type_counts_apart(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    (void)module;
#if MV_KNOWN_LAYOUT
    if (nargs != 2 || !is_tuple_of_types(args[0]) || !is_tuple_of_types(args[1])) {
        PyErr_SetString(PyExc_TypeError,
                        "type_counts_apart(own_types, part_types) takes two tuples of types");
        return NULL;
    }
    struct _gc_runtime_state *gcstate = MV_GC_STATE(PyInterpreterState_Get());
    int status = mv_gc_readable(gcstate);
    /* all[0..3]: the four lists' counts; all[4..7]: memviz's own objects in each */
    mv_type_table all[2 * MV_COUNTED_LISTS];
    if (status == MV_OK) {
        status = mv_gc_count_types_apart(gcstate, args[0], args[1], all,
                                         all + MV_COUNTED_LISTS);
    }
    if (status != MV_OK) {
        return raise_status(module, status);
    }
    /* Every walk is over: building the result may now allocate, and a collection
     * could free a type that a table not yet turned into a dict names; so every
     * type of every table is held first (table_to_dict only holds its own). */
    for (int i = 0; i < 2 * MV_COUNTED_LISTS; i++) {
        for (size_t j = 0; j < all[i].capacity; j++) {
            Py_XINCREF(all[i].slots[j].type);
        }
    }
    PyObject *result = PyTuple_New(2 * MV_COUNTED_LISTS);
    for (int i = 0; result != NULL && i < 2 * MV_COUNTED_LISTS; i++) {
        PyObject *counts = table_to_dict(&all[i]);
        if (counts == NULL) {
            Py_CLEAR(result);
        }
        else {
            PyTuple_SET_ITEM(result, i, counts);
        }
    }
    for (int i = 0; i < 2 * MV_COUNTED_LISTS; i++) {
        for (size_t j = 0; j < all[i].capacity; j++) {
            Py_XDECREF(all[i].slots[j].type);
        }
        mv_type_table_free(&all[i]);
    }
    return result;
#else
    (void)args;
    (void)nargs;
    return raise_status(module, MV_ERR_UNSUPPORTED);
#endif
}

static PyMethodDef methods[] = {
    {"refcount", refcount, METH_O,
     "refcount(obj) -> int\n\nReferences to obj, not counting the call's own argument."},
    {"is_immortal", is_immortal, METH_O, "is_immortal(obj) -> bool"},
    {"interpreter_id", interpreter_id, METH_NOARGS, "interpreter_id() -> int"},
    {"generation_of", generation_of, METH_O,
     "generation_of(obj) -> 0, 1, 2, 3 (permanent) or None when not tracked"},
    {"type_counts", type_counts, METH_O,
     "type_counts(generation) -> {type: count}; 3 is the permanent generation, -1 counts 0, 1 and 2"},
    {"census", census, METH_NOARGS,
     "census() -> {type: (objects, tracked_objects, bytes, sized_by_getsizeof)}: every object "
     "reachable from the collector's lists, sys.modules, builtins, the sys dict and the running "
     "frames, once; bytes is the sum of their sys.getsizeof()"},
    {"census_reach", census_reach, METH_O,
     "census_reach([target]) -> (root, referrer): how the census's walk first meets "
     "target (root: the index of the root it comes from, -1 when none leads to it; "
     "referrer: the object it is met through, or for a running frame the frame's code, "
     "None at a root), not following the list"},
    {"census_holders", census_holders, METH_O,
     "census_holders([target]) -> list: every object the census's walk finds holding target "
     "(its references include it), then the frame objects of the running frames that hold it; "
     "not the list"},
    {"path_to", (PyCFunction)(void (*)(void))path_to, METH_FASTCALL,
     "path_to([target], max_depth) -> None or (root, frame, slot, [root ... target]): the shortest "
     "chain of references from sys.modules, builtins, the sys dict or a running frame to "
     "target, of at most max_depth steps, not through the list"},
    {"census_retained", census_retained, METH_O,
     "census_retained([target]) -> (objects, bytes): what the program's roots (not the "
     "collector's lists) reach only through target, itself included; not through the list"},
    {"census_seen", census_seen, METH_NOARGS,
     "census_seen() -> capsule: every object the census's walk meets now"},
    {"census_new_objects", census_new_objects, METH_O,
     "census_new_objects(seen) -> (objects, sizes): what the census's walk meets now at an "
     "address where census_seen's walk met no object (not the capsule)"},
    {"largest_retainers", largest_retainers, METH_O,
     "largest_retainers(n) -> [(object, bytes, objects, interned), ...]: at most n owners the "
     "program's roots reach, largest first, none retaining another, each with the bytes and "
     "objects it retains (itself and what every path from a root reaches only through it), "
     "and whether it is the interned strings' dict"},
    {"paths_in", (PyCFunction)(void (*)(void))paths_in, METH_FASTCALL,
     "paths_in([objects], indices, max_depth) -> list: path_to's result for objects[i], "
     "each i of indices, not through the box"},
    {"census_in_ranges", census_in_ranges, METH_O,
     "census_in_ranges(bounds) -> (objects, sizes): every object the census's walk meets "
     "at an address in one of the (start, end) ranges of bounds (bytes of native uint64 "
     "pairs), and its size as the census sizes it"},
    {"census_sizeof", census_sizeof, METH_O,
     "census_sizeof(obj) -> int or None: sys.getsizeof(obj) as the census computes it in C, "
     "None when the census leaves obj's type to sys.getsizeof"},
    {"unreachable", unreachable, METH_NOARGS,
     "unreachable() -> ((objects, loop, bytes, finalizers), ...): what a collection of "
     "generations 0, 1 and 2 would find unreachable, computed without collecting, one "
     "entry per cycle (with the objects only it holds)"},
    {"inline_attribute", (PyCFunction)(void (*)(void))inline_attribute, METH_FASTCALL,
     "inline_attribute(holder, held) -> str or None: the name of holder's attribute kept "
     "inline (without a __dict__) whose value is held"},
    {"type_counts_apart", (PyCFunction)(void (*)(void))type_counts_apart, METH_FASTCALL,
     "type_counts_apart(own_types, part_types) -> 8 {type: count}: generations 0, 1, 2, "
     "permanent, then memviz's own objects in each (instances of own_types and the "
     "objects of part_types reachable from them through such objects)"},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef objects_module = {
    PyModuleDef_HEAD_INIT, "memviz._objects",
    "memviz's C-API functions (see csrc/objects.c).", -1, methods,
    NULL, NULL, NULL, NULL,
};

int
mv_register_objects_module(uint64_t modules)
{
    PyGILState_STATE gil = PyGILState_Ensure();
    /* On 3.10/3.11, PyGILState_Ensure() in a subinterpreter's thread gives back the
     * main interpreter's thread state: the module would land in another
     * interpreter's sys.modules.  Refused; memviz then says why it cannot read. */
    if ((uint64_t)(uintptr_t)PySys_GetObject("modules") != modules) {
        PyGILState_Release(gil);
        return MV_ERR_WRONG_INTERPRETER;
    }
    int status = -1;
    PyObject *module = PyModule_Create(&objects_module);
    if (module != NULL) {
        PyObject *error_class = PyErr_NewException("memviz._objects.ReadingError",
                                                   PyExc_RuntimeError, NULL);
        if (error_class != NULL
            && PyModule_AddObject(module, "ReadingError", Py_NewRef(error_class)) == 0
            && PyModule_AddIntConstant(module, "PERMANENT_GENERATION", MV_PERMANENT_GENERATION) == 0
            && PyDict_SetItemString(PyImport_GetModuleDict(), "memviz._objects", module) == 0) {
            status = 0;
        }
        Py_XDECREF(error_class);
        Py_DECREF(module);
    }
    if (status != 0) {
        PyErr_Clear();
    }
    PyGILState_Release(gil);
    return status;
}
