/* census.c -- the heap census's walk: every object reachable from the
 * interpreter's roots, each counted once, per exact type, with its bytes.
 *
 * The collector's lists hold only the objects it tracks; a str, an int, a
 * bytes or an untracked tuple is reached only through the references of
 * another object.  So the census starts from the roots (every object of the
 * four lists, sys.modules, builtins, the sys dict, the interned strings
 * (3.12+: before, no header reaches them), and every running
 * frame of the interpreter's threads: a local of a running function is held
 * by the frame alone) and follows tp_traverse from every object of a GC type
 * -- tracked or not, an untracked tuple still holds its items -- as
 * gc.get_referents does, and a dict's str keys, which its traverse leaves out
 * (mv_traverse).  Other objects are leaves.
 *
 * Seen objects are bits in a bitmap of the address space, one bit per 16
 * bytes (no two objects share 16 bytes: each is at least a PyObject), kept
 * in 64 KiB chunks found through a mv_pointer_map: objects allocated
 * together lie together, so the walk tests bits of a few hot chunks instead
 * of probing a table of every address.
 *
 * Sizes are sys.getsizeof's: computed here, as the version's own __sizeof__
 * would, for every type whose __sizeof__ is one of the built-in ones this
 * file knows (object's, int's, str's, list's, bytearray's, set's, frozenset's,
 * dict's, code's from 3.11 -- which covers tuple, bytes, float, function,
 * instances and every type that inherits one); a type whose __sizeof__ is anything else (written
 * in Python, or a C one not known here) has its objects held, and sized by
 * sys.getsizeof after the walk, when code may run again.
 *
 * The same walk collects, for memviz.pymalloc.pinning(), every object met
 * at an address inside given ranges (the sparse arenas): each is held as the
 * walk meets it, as the objects left to sys.getsizeof are (INCREF allocates
 * nothing), and the ranges are a sorted array of bounds searched in place.
 *
 * Why this is safe: the GIL is held throughout and the lists are not being
 * collected (the caller checked mv_gc_readable); tp_traverse only reads (the
 * collector calls it the same way) and runs no Python code; deciding a
 * type's __sizeof__ reads its MRO's dicts with PyDict_Next, comparing exact
 * str keys only (a key of any other type could run an __eq__: that type is
 * left to sys.getsizeof); the bitmap, the tables and the stacks are malloc'd,
 * so nothing is allocated from pymalloc or the Python heap, no collection can
 * start, and nothing the walk has seen can be freed under it.
 */
#include "census.h"    /* first: Python.h sets the feature macros the system headers see */

#include <stdlib.h>
#include <string.h>

#if MV_KNOWN_LAYOUT

/* -- the objects seen: a bitmap of the address space ------------------------- */

#define GRAIN_SHIFT 4       /* one bit per 16 bytes */
#define CHUNK_SHIFT 16      /* 64 KiB of address space per chunk */
#define CHUNK_WORDS ((size_t)1 << (CHUNK_SHIFT - GRAIN_SHIFT - 6))  /* 64 words: 512 bytes */
/* After the bits, one uint32_t per word for mv_census_graph: the number of the
 * word's first object (how many set bits come before it, over all chunks). */
#define CHUNK_STRIDE (CHUNK_WORDS + CHUNK_WORDS / 2)
#define SLAB_CHUNKS 2048    /* bitmaps are carved from 1.5 MiB slabs (mmap'd, so returned on free) */

_Static_assert(sizeof(PyObject) >= ((size_t)1 << GRAIN_SHIFT),
               "two objects must never share a grain of the bitmap");

#define RECENT_CHUNKS 16     /* a power of two */

typedef struct {
    mv_pointer_map chunks;  /* address >> CHUNK_SHIFT, plus one (keys are not 0) -> bitmap */
    mv_map_entry *recent[RECENT_CHUNKS];    /* chunks tested lately, by key: objects come
                                             * in runs, a str, an int and a bytes of one
                                             * instance in different pools */
    uint64_t **slabs;
    size_t slab_count;
    size_t slab_capacity;
    size_t slab_free;       /* bitmaps left in the newest slab */
} address_set;

static uint64_t *
new_bitmap(address_set *set)
{
    if (set->slab_free == 0) {
        if (set->slab_count == set->slab_capacity) {
            size_t capacity = set->slab_capacity ? set->slab_capacity * 2 : 16;
            uint64_t **slabs = realloc(set->slabs, capacity * sizeof(uint64_t *));
            if (slabs == NULL) {
                return NULL;
            }
            set->slabs = slabs;
            set->slab_capacity = capacity;
        }
        uint64_t *slab = calloc(SLAB_CHUNKS * CHUNK_STRIDE, sizeof(uint64_t));
        if (slab == NULL) {
            return NULL;
        }
        set->slabs[set->slab_count++] = slab;
        set->slab_free = SLAB_CHUNKS;
    }
    uint64_t *slab = set->slabs[set->slab_count - 1];
    return slab + (SLAB_CHUNKS - set->slab_free--) * CHUNK_STRIDE;
}

/* 1 when op is new to the set (and now in it), 0 when it was there, -1 when
 * out of memory. */
static int
address_set_add(address_set *set, PyObject *op)
{
    uintptr_t address = (uintptr_t)op;
    uintptr_t key = (address >> CHUNK_SHIFT) + 1;
    mv_map_entry *chunk = set->recent[key & (RECENT_CHUNKS - 1)];
    if (chunk == NULL || chunk->key != key) {
        mv_map_entry *entries = set->chunks.entries;
        chunk = mv_map_add(&set->chunks, key);
        if (chunk == NULL) {
            return -1;
        }
        if (set->chunks.entries != entries) {
            memset(set->recent, 0, sizeof(set->recent));    /* they pointed into the old table */
        }
        if (chunk->value == NULL && (chunk->value = new_bitmap(set)) == NULL) {
            return -1;
        }
        set->recent[key & (RECENT_CHUNKS - 1)] = chunk;
    }
    size_t grain = (address & (((uintptr_t)1 << CHUNK_SHIFT) - 1)) >> GRAIN_SHIFT;
    uint64_t bit = (uint64_t)1 << (grain & 63);
    uint64_t *word = &((uint64_t *)chunk->value)[grain >> 6];
    if (*word & bit) {
        return 0;
    }
    *word |= bit;
    return 1;
}

/* The bitmap of op's chunk, and op's grain in it; NULL when the set has no
 * object in that chunk. */
static const uint64_t *
address_set_chunk(address_set *set, PyObject *op, size_t *grain)
{
    uintptr_t address = (uintptr_t)op;
    uintptr_t key = (address >> CHUNK_SHIFT) + 1;
    mv_map_entry *chunk = set->recent[key & (RECENT_CHUNKS - 1)];
    if (chunk == NULL || chunk->key != key) {
        chunk = mv_map_find(&set->chunks, key);
        if (chunk == NULL) {
            return NULL;
        }
        set->recent[key & (RECENT_CHUNKS - 1)] = chunk;
    }
    *grain = (address & (((uintptr_t)1 << CHUNK_SHIFT) - 1)) >> GRAIN_SHIFT;
    return chunk->value;
}

/* A set that keeps type marks (mv_census_seen) keeps, where the numbers of
 * mv_census_graph would be, a pointer to one byte per grain: a mark of the
 * type of the object there (never 0), so that an object found later at the
 * address of one met before, but of another type, is known for another. */
#define TYPE_MARKS(bits) (*(uint8_t **)((uint64_t *)(bits) + CHUNK_WORDS))
#define CHUNK_GRAINS ((size_t)1 << (CHUNK_SHIFT - GRAIN_SHIFT))

static uint8_t
type_mark(PyTypeObject *type)
{
    return (uint8_t)((((uintptr_t)type >> 3) * UINT64_C(0x9E3779B97F4A7C15)) >> 56) | 1;
}

static int
address_set_mark(address_set *set, PyObject *op)
{
    size_t grain;
    uint64_t *bits = (uint64_t *)address_set_chunk(set, op, &grain);
    if (TYPE_MARKS(bits) == NULL && (TYPE_MARKS(bits) = calloc(CHUNK_GRAINS, 1)) == NULL) {
        return MV_ERR_NO_MEMORY;
    }
    TYPE_MARKS(bits)[grain] = type_mark(Py_TYPE(op));
    return MV_OK;
}

/* Whether op is in a set that keeps type marks, as an object of its type. */
static int
address_set_has_as(address_set *set, PyObject *op)
{
    size_t grain;
    const uint64_t *bits = address_set_chunk(set, op, &grain);
    return bits != NULL && (bits[grain >> 6] & ((uint64_t)1 << (grain & 63))) != 0
           && TYPE_MARKS(bits)[grain] == type_mark(Py_TYPE(op));
}

static void
address_set_free_marks(address_set *set)
{
    for (size_t i = 0; i < set->chunks.capacity; i++) {
        if (set->chunks.entries[i].key != 0) {
            free(TYPE_MARKS(set->chunks.entries[i].value));
        }
    }
}

/* The number of an object of the set once address_set_number has numbered
 * them: 0 .. count - 1, in the order of their bits; UINT32_MAX when op is not
 * in the set. */
static uint32_t
address_set_number_of(address_set *set, PyObject *op)
{
    size_t grain;
    const uint64_t *bits = address_set_chunk(set, op, &grain);
    if (bits == NULL) {
        return UINT32_MAX;
    }
    uint64_t word = bits[grain >> 6];
    uint64_t bit = (uint64_t)1 << (grain & 63);
    if ((word & bit) == 0) {
        return UINT32_MAX;
    }
    const uint32_t *first = (const uint32_t *)(bits + CHUNK_WORDS);
    return first[grain >> 6] + (uint32_t)__builtin_popcountll(word & (bit - 1));
}

/* Numbers the objects of the set (address_set_number_of) and lists them,
 * objects[number] (malloc'd, borrowed references), each at the start of its
 * grain: the caller puts back the objects that start elsewhere.  MV_ERR_NO_MEMORY when
 * they are more than a uint32_t numbers. */
static int
address_set_number(address_set *set, PyObject ***objects, size_t *count)
{
    size_t total = 0;
    for (size_t i = 0; i < set->chunks.capacity; i++) {
        mv_map_entry *chunk = &set->chunks.entries[i];
        if (chunk->key == 0) {
            continue;
        }
        uint64_t *bits = chunk->value;
        uint32_t *first = (uint32_t *)(bits + CHUNK_WORDS);
        for (size_t w = 0; w < CHUNK_WORDS; w++) {
            first[w] = (uint32_t)total;
            total += (size_t)__builtin_popcountll(bits[w]);
        }
        if (total >= UINT32_MAX) {
            return MV_ERR_NO_MEMORY;
        }
    }
    *objects = malloc((total ? total : 1) * sizeof(PyObject *));
    if (*objects == NULL) {
        return MV_ERR_NO_MEMORY;
    }
    *count = total;
    for (size_t i = 0; i < set->chunks.capacity; i++) {
        mv_map_entry *chunk = &set->chunks.entries[i];
        if (chunk->key == 0) {
            continue;
        }
        const uint64_t *bits = chunk->value;
        const uint32_t *first = (const uint32_t *)(bits + CHUNK_WORDS);
        uintptr_t base = (chunk->key - 1) << CHUNK_SHIFT;
        for (size_t w = 0; w < CHUNK_WORDS; w++) {
            size_t number = first[w];
            for (uint64_t word = bits[w]; word != 0; word &= word - 1) {
                size_t grain = w * 64 + (size_t)__builtin_ctzll(word);
                (*objects)[number++] = (PyObject *)(base + (grain << GRAIN_SHIFT));
            }
        }
    }
    memset(set->recent, 0, sizeof(set->recent));
    return MV_OK;
}

static void
address_set_free(address_set *set)
{
    for (size_t i = 0; i < set->slab_count; i++) {
        free(set->slabs[i]);
    }
    free(set->slabs);
    mv_map_free(&set->chunks);
    memset(set, 0, sizeof(*set));
}

/* What one walk met, kept for a later one (census.h), with each object's type
 * mark: an object made later where one of another type lay is known as new.
 * From 3.13 a reference tracer forgets each object freed after the walk, so
 * that one made where an object of its own type lay is known too. */
struct mv_seen {
    address_set objects;
#if MV_HAS_REF_TRACER
    int watching;               /* the tracer is installed, with this as its data */
    int forwarding_only;        /* another tracer was installed over it: the set is
                                 * freed, the tracer only passes events on */
    PyRefTracer previous;       /* the tracer installed before, called in turn */
    void *previous_data;
#endif
};

#if MV_HAS_REF_TRACER
static void
address_set_forget(address_set *set, PyObject *op)
{
    size_t grain;
    uint64_t *bits = (uint64_t *)address_set_chunk(set, op, &grain);
    if (bits != NULL) {
        bits[grain >> 6] &= ~((uint64_t)1 << (grain & 63));
    }
}
#endif

/* -- sizes: the built-in __sizeof__s computed in C ------------------------------ */

enum {
    SIZER_UNDECIDED = 0,    /* the type's first object decides (calloc'd slots start so) */
    SIZER_GETSIZEOF,        /* held, and sized by sys.getsizeof after the walk */
    SIZER_OBJECT,           /* object.__sizeof__: basic size plus items */
    SIZER_INT,
    SIZER_STR,
    SIZER_LIST,
    SIZER_BYTEARRAY,
    SIZER_SET,              /* set's and frozenset's */
    SIZER_DICT,
    SIZER_CODE,
};

/* The __sizeof__ descriptors the census knows, as the built-in types' dicts
 * hold them: a type is sized in C when its MRO finds one of these. */
typedef struct {
    PyObject *descriptor;   /* borrowed: the built-in type's dict holds it */
    int sizer;
} known_sizer;

#define KNOWN_SIZERS 9

/* The __sizeof__ of one class's own dict: *found is it (borrowed) or NULL.
 * -1 when a key is not an exact str: comparing it could run code. */
static int
own_sizeof(PyTypeObject *type, PyObject **found)
{
    *found = NULL;
    PyObject *dict = mv_type_dict(type);
    if (dict == NULL) {
        return 0;
    }
    int status = PyDict_CheckExact(dict) ? 0 : -1;
    Py_ssize_t position = 0;
    PyObject *key, *value;
    while (status == 0 && *found == NULL && PyDict_Next(dict, &position, &key, &value)) {
        if (!PyUnicode_CheckExact(key)) {
            status = -1;
        }
        else if (PyUnicode_CompareWithASCIIString(key, "__sizeof__") == 0) {
            *found = value;     /* borrowed: the type holds its dict, the dict the value */
        }
    }
    Py_DECREF(dict);    /* the type still holds it */
    return status;
}

static int
known_sizers_init(known_sizer known[KNOWN_SIZERS])
{
    static const struct { PyTypeObject *type; int sizer; } builtin[KNOWN_SIZERS] = {
        {&PyBaseObject_Type, SIZER_OBJECT}, {&PyLong_Type, SIZER_INT},
        {&PyUnicode_Type, SIZER_STR}, {&PyList_Type, SIZER_LIST},
        {&PyByteArray_Type, SIZER_BYTEARRAY}, {&PySet_Type, SIZER_SET},
        {&PyFrozenSet_Type, SIZER_SET}, {&PyDict_Type, SIZER_DICT},
        {&PyCode_Type, SIZER_CODE},
    };
    for (int i = 0; i < KNOWN_SIZERS; i++) {
        known[i].sizer = builtin[i].sizer;
        if (own_sizeof(builtin[i].type, &known[i].descriptor) != 0
            || known[i].descriptor == NULL) {
            return MV_ERR_UNSUPPORTED;  /* a built-in type without its own __sizeof__ */
        }
    }
    return MV_OK;
}

/* How the census sizes the objects of type: where its MRO finds __sizeof__,
 * as sys.getsizeof's lookup does. */
static int
decide_sizer(const known_sizer known[KNOWN_SIZERS], PyTypeObject *type)
{
    PyObject *mro = type->tp_mro;
    if (!PyType_HasFeature(type, Py_TPFLAGS_READY) || mro == NULL || !PyTuple_CheckExact(mro)) {
        return SIZER_GETSIZEOF;
    }
    for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(mro); i++) {
        PyObject *base = PyTuple_GET_ITEM(mro, i);
        PyObject *found;
        if (!PyType_Check(base) || own_sizeof((PyTypeObject *)base, &found) != 0) {
            return SIZER_GETSIZEOF;
        }
        if (found != NULL) {
            for (int k = 0; k < KNOWN_SIZERS; k++) {
                if (found == known[k].descriptor) {
                    return known[k].sizer;
                }
            }
            return SIZER_GETSIZEOF;
        }
    }
    return SIZER_GETSIZEOF;
}

/* sys.getsizeof(op) for a type the census sizes in C; 0 when this object
 * must be left to sys.getsizeof after all. */
static size_t
size_in_c(int sizer, PyObject *op)
{
    PyTypeObject *type = Py_TYPE(op);
    size_t size;
    switch (sizer) {
    case SIZER_OBJECT:
        size = (size_t)type->tp_basicsize;
        if (type->tp_itemsize > 0) {
            size += (size_t)(((PyVarObject *)op)->ob_size * type->tp_itemsize);
        }
        break;
    case SIZER_INT:
        size = mv_int_sizeof(op);
        break;
    case SIZER_STR:
        size = mv_str_sizeof(op);
        if (size == 0) {
            return 0;
        }
        break;
    case SIZER_LIST:
        size = (size_t)type->tp_basicsize + (size_t)((PyListObject *)op)->allocated * sizeof(PyObject *);
        break;
    case SIZER_BYTEARRAY:
        size = mv_bytearray_sizeof(op);
        break;
    case SIZER_SET: {
        PySetObject *set = (PySetObject *)op;
        size = (size_t)type->tp_basicsize;
        if (set->table != set->smalltable) {
            size += ((size_t)set->mask + 1) * sizeof(setentry);
        }
        break;
    }
    case SIZER_DICT:
        size = (size_t)_PyDict_SizeOf((PyDictObject *)op);
        break;
    case SIZER_CODE:
        size = mv_code_sizeof(op);
        if (size == 0) {
            return 0;
        }
        break;
    default:
        return 0;
    }
    return size + mv_getsizeof_extra(op);
}

void
mv_census_sizeof_each(PyObject *const *objects, size_t count, size_t *sizes)
{
    known_sizer known[KNOWN_SIZERS];
    int known_ok = known_sizers_init(known) == MV_OK;
    PyTypeObject *last_type = NULL;     /* objects of one type come in runs */
    int sizer = SIZER_GETSIZEOF;
    for (size_t i = 0; i < count; i++) {
        if (!known_ok) {
            sizes[i] = 0;
            continue;
        }
        if (Py_TYPE(objects[i]) != last_type) {
            last_type = Py_TYPE(objects[i]);
            sizer = decide_sizer(known, last_type);
        }
        sizes[i] = size_in_c(sizer, objects[i]);
    }
}

size_t
mv_census_sizeof(PyObject *op)
{
    size_t size;
    mv_census_sizeof_each(&op, 1, &size);
    return size;
}

/* -- the walk ---------------------------------------------------------------- */

typedef struct {
    address_set seen;           /* every object counted */
    mv_object_stack pending;    /* counted, not yet traversed */
    mv_census *census;
    known_sizer known[KNOWN_SIZERS];
    PyTypeObject *last_type;    /* the type of the previous object counted, and its slot: */
    mv_type_count *last_slot;   /* objects of one type come in runs */
    int root;                   /* the root being walked: an MV_ROOT_* */
    PyObject *traversing;       /* whose references are being followed; NULL at a root */
    mv_frame *frame;            /* the frame being visited (3.11+), or NULL */
    PyObject *blocked;          /* an object the walk does not count or follow, or NULL */
    int program_roots_only;     /* 1: not from the collector's lists (mv_census_retained) */
    int keep_seen;              /* 1: the caller frees seen (mv_census_graph) */
    int mark_types;             /* 1: seen keeps each object's type mark (mv_census_seen) */
    mv_object_stack unaligned;  /* with keep_seen: the objects met whose address is not a
                                 * multiple of the grain (static ones: a str, an int or a
                                 * type in the interpreter's data), which the bits alone
                                 * do not give back */
    mv_reach *reach;            /* how one object was first met (mv_census_reach), or NULL */
    mv_in_ranges *in_ranges;    /* the objects to collect by address (mv_census_in_ranges),
                                 * or NULL */
    int status;
} mv_walk;

static mv_type_count *
type_slot(mv_walk *walk, PyTypeObject *type)
{
    if (type == walk->last_type) {
        walk->last_slot->count++;
        return walk->last_slot;
    }
    /* Adding a type may move every slot: the cached one is replaced at once. */
    mv_type_count *slot = mv_type_table_add(&walk->census->types, type);
    walk->last_type = slot == NULL ? NULL : type;
    walk->last_slot = slot;
    return slot;
}

/* Counts and sizes one object the walk has just met for the first time. */
static int
count(mv_walk *walk, PyObject *op, int is_gc)
{
    mv_type_count *slot = type_slot(walk, Py_TYPE(op));
    if (slot == NULL) {
        return MV_ERR_NO_MEMORY;
    }
    if (is_gc && _PyObject_GC_IS_TRACKED(op)) {
        slot->tracked++;
    }
    if (slot->sizer == SIZER_UNDECIDED) {
        slot->sizer = decide_sizer(walk->known, Py_TYPE(op));
    }
    size_t size = size_in_c(slot->sizer, op);
    if (size != 0) {
        slot->bytes += (int64_t)size;
        return MV_OK;
    }
    /* Held from now on: nothing can free it before sys.getsizeof has sized it. */
    if (mv_object_stack_push(&walk->census->later, op) != MV_OK) {
        return MV_ERR_NO_MEMORY;
    }
    Py_INCREF(op);
    slot->sized_later++;
    return MV_OK;
}

/* Whether address falls in one of the ranges: a binary search of the sorted bounds. */
static int
in_a_range(const mv_in_ranges *in, uint64_t address)
{
    size_t low = 0, high = in->ranges;
    while (low < high) {
        size_t middle = low + (high - low) / 2;
        if (address < in->bounds[2 * middle]) {
            high = middle;
        }
        else if (address >= in->bounds[2 * middle + 1]) {
            low = middle + 1;
        }
        else {
            return 1;
        }
    }
    return 0;
}

/* Collects an object count() has just counted, when it lies in a range: held
 * from now on (nothing can free it before the caller has it), with its size
 * as count() computed it (the slot count() used is walk->last_slot). */
static int
collect_in_range(mv_walk *walk, PyObject *op)
{
    mv_in_ranges *in = walk->in_ranges;
    int wanted = in->earlier != NULL ? !address_set_has_as(&in->earlier->objects, op)
                                     : in_a_range(in, (uint64_t)(uintptr_t)op);
    if (!wanted) {
        return MV_OK;
    }
    size_t capacity = in->found.capacity;
    if (mv_object_stack_push(&in->found, op) != MV_OK) {
        return MV_ERR_NO_MEMORY;
    }
    if (in->found.capacity != capacity) {
        size_t *sizes = realloc(in->sizes, in->found.capacity * sizeof(size_t));
        if (sizes == NULL) {
            in->found.used--;
            return MV_ERR_NO_MEMORY;
        }
        in->sizes = sizes;
    }
    Py_INCREF(op);
    in->sizes[in->found.used - 1] = size_in_c(walk->last_slot->sizer, op);
    return MV_OK;
}

/* Notes what holds reach->target: the frame being visited or the object being
 * traversed (once: a list may hold it twice, and each is traversed once). */
static int
note_holder(mv_walk *walk)
{
    mv_object_stack *holders = &walk->reach->holders;
    PyObject *holder = walk->traversing;
    if (walk->frame != NULL) {
        holders = &walk->reach->frames;
        holder = (PyObject *)walk->frame;   /* a pointer kept to compare, never read as one */
    }
    if (holder == NULL || (holders->used > 0 && holders->items[holders->used - 1] == holder)) {
        return MV_OK;
    }
    return mv_object_stack_push(holders, holder);
}

/* A visitproc: counts an object the first time the walk meets it, and keeps
 * it to traverse when it has references to follow. */
static int
discover(PyObject *op, void *arg)
{
    mv_walk *walk = arg;
    if (walk->status != MV_OK) {
        return -1;
    }
    if (walk->reach != NULL && op == walk->reach->target && walk->reach->want_holders) {
        walk->status = note_holder(walk);
        if (walk->status != MV_OK) {
            return -1;
        }
    }
    if (op == walk->blocked) {
        return 0;
    }
    int added = address_set_add(&walk->seen, op);
    if (added == 0) {
        return 0;
    }
    if (walk->keep_seen && ((uintptr_t)op & (((uintptr_t)1 << GRAIN_SHIFT) - 1)) != 0
        && added > 0 && mv_object_stack_push(&walk->unaligned, op) != MV_OK) {
        walk->status = MV_ERR_NO_MEMORY;
        return -1;
    }
    if (walk->mark_types && address_set_mark(&walk->seen, op) != MV_OK) {
        walk->status = MV_ERR_NO_MEMORY;
        return -1;
    }
    if (walk->reach != NULL && op == walk->reach->target) {
        walk->reach->root = walk->root;
        walk->reach->referrer = walk->traversing;
    }
    int is_gc = _PyObject_IS_GC(op);
    walk->status = added < 0 ? MV_ERR_NO_MEMORY : count(walk, op, is_gc);
    if (walk->status == MV_OK && walk->in_ranges != NULL) {
        walk->status = collect_in_range(walk, op);
    }
    if (walk->status == MV_OK && is_gc && Py_TYPE(op)->tp_traverse != NULL) {
        if (walk->pending.used < walk->pending.capacity) {
            /* the stack's push, without a call: this is the hot path */
            walk->pending.items[walk->pending.used++] = op;
        }
        else {
            walk->status = mv_object_stack_push(&walk->pending, op);
        }
    }
    return walk->status == MV_OK ? 0 : -1;     /* -1 stops the traversal that called it */
}

/* Traverses what was discovered until nothing is left.  Called after each
 * root, so the stack holds what is still to follow from one root, not every
 * object of the collector's lists at once. */
static int
drain(mv_walk *walk)
{
    while (walk->status == MV_OK && walk->pending.used > 0) {
        PyObject *op = walk->pending.items[--walk->pending.used];
        if (walk->reach != NULL && op == walk->reach->skip) {
            continue;
        }
        walk->traversing = op;
        mv_traverse(op, discover, walk);
    }
    walk->traversing = NULL;
    return walk->status;
}

static int
walk_from(mv_walk *walk, int kind, PyObject *root)
{
    walk->root = kind;
    if (root != NULL) {
        discover(root, walk);
    }
    return drain(walk);
}

static int
walk_gc_lists(mv_walk *walk, struct _gc_runtime_state *gcstate)
{
    for (int i = 0; walk->status == MV_OK && i <= MV_PERMANENT_GENERATION; i++) {
        PyGC_Head *head = mv_gc_list_head(gcstate, i);
        for (PyGC_Head *g = MV_GC_NEXT(head); walk->status == MV_OK && g != head;
             g = MV_GC_NEXT(g)) {
            walk_from(walk, MV_GENERATION_ROOT(i), MV_FROM_GC(g));
        }
    }
    return walk->status;
}

/* Every frame every thread of the interpreter is running, innermost first. */
static int
walk_frames(mv_walk *walk, PyInterpreterState *interp)
{
    for (PyThreadState *tstate = PyInterpreterState_ThreadHead(interp);
         walk->status == MV_OK && tstate != NULL; tstate = PyThreadState_Next(tstate)) {
        for (mv_frame *frame = mv_thread_frame(tstate); walk->status == MV_OK && frame != NULL;
             frame = mv_frame_previous(frame)) {
            /* What a frame holds is met through its code: the frame itself is
             * no object from 3.11 on. */
            walk->root = MV_ROOT_FRAME;
            walk->traversing = MV_FRAME_CODE(frame);
            walk->frame = MV_FRAMES_ARE_OBJECTS ? NULL : frame;
            mv_frame_visit(frame, discover, walk);
            walk->frame = NULL;
            walk->traversing = NULL;
            drain(walk);
        }
    }
    return walk->status;
}

/* The roots that are objects, by their MV_ROOT_* (the running frames come
 * after them): sys.modules, builtins, the sys dict, the interned strings
 * (NULL before 3.12). */
#define ROOT_OBJECTS MV_ROOT_FRAME

static void
root_objects(PyInterpreterState *interp, PyObject *roots[ROOT_OBJECTS])
{
    roots[MV_ROOT_MODULES] = MV_INTERP_MODULES(interp);
    roots[MV_ROOT_BUILTINS] = interp->builtins;
    roots[MV_ROOT_SYS] = interp->sysdict;
    roots[MV_ROOT_INTERNED] = MV_INTERNED_STRINGS(interp);
}

/* The roots that hold what the program uses come first, the collector's
 * lists last: what is first met from a list is held by no module, builtin,
 * interned string or running frame (cyclic garbage, or held from C). */
static int
walk_roots(mv_walk *walk, PyInterpreterState *interp, mv_census *census)
{
    memset(census, 0, sizeof(*census));
    walk->census = census;
    walk->status = known_sizers_init(walk->known);
    if (walk->status == MV_OK) {
        walk->status = mv_type_table_init(&census->types, 1024);
    }
    if (walk->status == MV_OK) {
        PyObject *roots[ROOT_OBJECTS];
        root_objects(interp, roots);
        for (int kind = 0; kind < ROOT_OBJECTS; kind++) {
            walk_from(walk, kind, roots[kind]);
        }
        walk_frames(walk, interp);
        if (!walk->program_roots_only) {
            walk_gc_lists(walk, MV_GC_STATE(interp));
        }
    }
    mv_object_stack_free(&walk->pending);
    if (!walk->keep_seen) {
        address_set_free(&walk->seen);
    }
    return walk->status;
}

int
mv_census_walk(PyInterpreterState *interp, mv_census *census)
{
    mv_walk walk;
    memset(&walk, 0, sizeof(walk));
    return walk_roots(&walk, interp, census);
}

int
mv_census_reach(PyInterpreterState *interp, mv_reach *reach)
{
    mv_walk walk;
    memset(&walk, 0, sizeof(walk));
    reach->root = MV_ROOT_NONE;
    reach->referrer = NULL;
    memset(&reach->holders, 0, sizeof(reach->holders));
    memset(&reach->frames, 0, sizeof(reach->frames));
    walk.reach = reach;
    mv_census census;
    int status = walk_roots(&walk, interp, &census);
    /* Nothing has run since the walk met them: the referrer and holders are alive. */
    Py_XINCREF(reach->referrer);
    for (size_t i = 0; i < reach->holders.used; i++) {
        Py_INCREF(reach->holders.items[i]);
    }
    mv_census_free(&census);
    return status;
}

int
mv_census_retained(PyInterpreterState *interp, PyObject *target, PyObject *skip,
                   mv_census *with, mv_census *without)
{
    mv_walk walk;
    memset(&walk, 0, sizeof(walk));
    walk.program_roots_only = 1;
    mv_reach skipping = {NULL, skip, MV_ROOT_NONE, NULL, 0, {NULL, 0, 0}, {NULL, 0, 0}};
    walk.reach = &skipping;
    int status = walk_roots(&walk, interp, with);
    if (status == MV_OK) {
        memset(&walk, 0, sizeof(walk));
        walk.program_roots_only = 1;
        walk.reach = &skipping;
        walk.blocked = target;
        status = walk_roots(&walk, interp, without);
    }
    else {
        memset(without, 0, sizeof(*without));
    }
    return status;
}

/* -- the graph: the census's objects and their references, numbered ------------ */

typedef struct {
    address_set *seen;
    mv_graph *graph;
    int status;
} graph_walk;

static int
add_edges_room(mv_graph *graph)
{
    if (graph->edge_count < graph->edge_capacity) {
        return MV_OK;
    }
    size_t capacity = graph->edge_capacity ? graph->edge_capacity * 2 : 1 << 16;
    if (capacity >= UINT32_MAX) {
        return MV_ERR_NO_MEMORY;
    }
    uint32_t *edges = realloc(graph->edges, capacity * sizeof(uint32_t));
    if (edges == NULL) {
        return MV_ERR_NO_MEMORY;
    }
    graph->edges = edges;
    graph->edge_capacity = capacity;
    return MV_OK;
}

/* A visitproc: one reference of the object whose references are being listed. */
static int
add_edge(PyObject *op, void *arg)
{
    graph_walk *walk = arg;
    uint32_t number = address_set_number_of(walk->seen, op);
    if (number == UINT32_MAX) {
        /* The walk met every object a reference leads to: a tp_traverse that
         * visits what it did not visit a moment ago is nothing to guess from. */
        walk->status = MV_ERR_UNSUPPORTED;
    }
    else if ((walk->status = add_edges_room(walk->graph)) == MV_OK) {
        walk->graph->edges[walk->graph->edge_count++] = number;
    }
    return walk->status == MV_OK ? 0 : -1;
}

/* The roots' references, as walk_roots takes them (program roots only). */
static void
add_root_edges(graph_walk *walk, PyInterpreterState *interp)
{
    PyObject *roots[ROOT_OBJECTS];
    root_objects(interp, roots);
    for (int i = 0; walk->status == MV_OK && i < ROOT_OBJECTS; i++) {
        if (roots[i] != NULL) {
            add_edge(roots[i], walk);
        }
    }
    for (PyThreadState *tstate = PyInterpreterState_ThreadHead(interp);
         walk->status == MV_OK && tstate != NULL; tstate = PyThreadState_Next(tstate)) {
        for (mv_frame *frame = mv_thread_frame(tstate); walk->status == MV_OK && frame != NULL;
             frame = mv_frame_previous(frame)) {
            mv_frame_visit(frame, add_edge, walk);
        }
    }
}

/* Each object's size and references, in the order of their numbers (the
 * order of their addresses within 64 KiB: the objects are read in runs). */
static int
add_objects(graph_walk *walk, mv_census *census)
{
    mv_graph *graph = walk->graph;
    PyTypeObject *last_type = NULL;
    int sizer = SIZER_GETSIZEOF;
    for (size_t i = 0; walk->status == MV_OK && i < graph->count; i++) {
        PyObject *op = graph->objects[i];
        PyTypeObject *type = Py_TYPE(op);
        if (type != last_type) {
            mv_type_count *slot = mv_type_table_find(&census->types, type);
            sizer = slot == NULL ? SIZER_GETSIZEOF : slot->sizer;
            last_type = type;
        }
        graph->sizes[i] = size_in_c(sizer, op);     /* 0: left to mv_graph_size_later */
        graph->first_edge[i] = (uint32_t)graph->edge_count;
        if (walk->status == MV_OK && _PyObject_IS_GC(op) && type->tp_traverse != NULL) {
            mv_traverse(op, add_edge, walk);
        }
    }
    return walk->status;
}

int
mv_census_graph(PyInterpreterState *interp, mv_graph *graph)
{
    memset(graph, 0, sizeof(*graph));
    mv_walk walk;
    memset(&walk, 0, sizeof(walk));
    walk.program_roots_only = 1;
    walk.keep_seen = 1;
    mv_census census;
    graph_walk edges = {&walk.seen, graph, walk_roots(&walk, interp, &census)};
    if (edges.status == MV_OK) {
        edges.status = address_set_number(&walk.seen, &graph->objects, &graph->count);
    }
    for (size_t i = 0; edges.status == MV_OK && i < walk.unaligned.used; i++) {
        PyObject *op = walk.unaligned.items[i];
        graph->objects[address_set_number_of(&walk.seen, op)] = op;
    }
    mv_object_stack_free(&walk.unaligned);
    if (edges.status == MV_OK) {
        graph->sizes = malloc((graph->count + 1) * sizeof(uint64_t));
        graph->first_edge = malloc((graph->count + 2) * sizeof(uint32_t));
        edges.status = graph->sizes && graph->first_edge ? MV_OK : MV_ERR_NO_MEMORY;
    }
    if (edges.status == MV_OK) {
        add_objects(&edges, &census);
    }
    if (edges.status == MV_OK) {
        graph->sizes[graph->count] = 0;
        graph->first_edge[graph->count] = (uint32_t)graph->edge_count;
        add_root_edges(&edges, interp);
        graph->first_edge[graph->count + 1] = (uint32_t)graph->edge_count;
    }
    if (edges.status == MV_OK) {
        /* Nothing has run since the walk met them: every object is alive. */
        for (size_t i = 0; i < graph->count; i++) {
            Py_INCREF(graph->objects[i]);
        }
        graph->held = 1;
    }
    address_set_free(&walk.seen);
    mv_census_free(&census);
    return edges.status;
}

int
mv_graph_size_later(mv_graph *graph)
{
    for (size_t i = 0; i < graph->count; i++) {
        if (graph->sizes[i] == 0) {
            size_t size = _PySys_GetSizeOf(graph->objects[i]);
            if (size == (size_t)-1 && PyErr_Occurred()) {
                return -1;
            }
            graph->sizes[i] = size;
        }
    }
    return 0;
}

void
mv_graph_free(mv_graph *graph)
{
    if (graph->held) {
        for (size_t i = 0; i < graph->count; i++) {
            Py_DECREF(graph->objects[i]);
        }
    }
    free(graph->objects);
    free(graph->sizes);
    free(graph->first_edge);
    free(graph->edges);
    memset(graph, 0, sizeof(*graph));
}

int
mv_census_seen(PyInterpreterState *interp, mv_seen **seen)
{
    *seen = calloc(1, sizeof(mv_seen));
    if (*seen == NULL) {
        return MV_ERR_NO_MEMORY;
    }
    mv_walk walk;
    memset(&walk, 0, sizeof(walk));
    walk.keep_seen = 1;
    walk.mark_types = 1;
    mv_census census;
    int status = walk_roots(&walk, interp, &census);
    mv_object_stack_free(&walk.unaligned);
    mv_census_free(&census);
    (*seen)->objects = walk.seen;
    return status;
}

#if MV_HAS_REF_TRACER
/* The reference tracer: an object freed is forgotten (a dealloc that runs no
 * code and allocates nothing: one bit cleared), then the previous tracer's. */
static int
forget_freed(PyObject *op, PyRefTracerEvent event, void *data)
{
    mv_seen *seen = data;
    if (event == PyRefTracer_DESTROY && !seen->forwarding_only) {
        address_set_forget(&seen->objects, op);
    }
    return seen->previous == NULL ? 0 : seen->previous(op, event, seen->previous_data);
}
#endif

int
mv_seen_watch(mv_seen *seen)
{
#if MV_HAS_REF_TRACER
    seen->previous = PyRefTracer_GetTracer(&seen->previous_data);
    if (PyRefTracer_SetTracer(forget_freed, seen) != 0) {
        PyErr_Clear();
        return MV_ERR_UNSUPPORTED;
    }
    seen->watching = 1;
#else
    (void)seen;
#endif
    return MV_OK;
}

void
mv_seen_free(mv_seen *seen)
{
    if (seen == NULL) {
        return;
    }
    address_set_free_marks(&seen->objects);
    address_set_free(&seen->objects);
#if MV_HAS_REF_TRACER
    if (seen->watching) {
        void *data;
        if (PyRefTracer_GetTracer(&data) != forget_freed || data != seen) {
            /* Installed over: the tracer over it calls it still, so it stays,
             * passing events on (a few bytes kept for good). */
            seen->forwarding_only = 1;
            return;
        }
        PyRefTracer_SetTracer(seen->previous, seen->previous_data);
    }
#endif
    free(seen);
}

int
mv_census_in_ranges(PyInterpreterState *interp, mv_in_ranges *in, PyObject *blocked)
{
    mv_walk walk;
    memset(&walk, 0, sizeof(walk));
    walk.blocked = blocked;
    memset(&in->found, 0, sizeof(in->found));
    in->sizes = NULL;
    walk.in_ranges = in;
    mv_census census;
    int status = walk_roots(&walk, interp, &census);
    mv_census_free(&census);
    return status;
}

void
mv_in_ranges_free(mv_in_ranges *in)
{
    for (size_t i = 0; i < in->found.used; i++) {
        Py_DECREF(in->found.items[i]);
    }
    mv_object_stack_free(&in->found);
    free(in->sizes);
    in->sizes = NULL;
}

void
mv_reach_free(mv_reach *reach)
{
    Py_CLEAR(reach->referrer);
    for (size_t i = 0; i < reach->holders.used; i++) {
        Py_DECREF(reach->holders.items[i]);
    }
    mv_object_stack_free(&reach->holders);
    mv_object_stack_free(&reach->frames);
}

int
mv_census_size_later(mv_census *census)
{
    for (size_t i = 0; i < census->later.used; i++) {
        PyObject *op = census->later.items[i];
        size_t size = _PySys_GetSizeOf(op);
        if (size == (size_t)-1 && PyErr_Occurred()) {
            return -1;
        }
        /* A __sizeof__ written in Python could have changed the object's class
         * (__class__ assignment) to one the walk did not count: its bytes then
         * stay with no type rather than be given to the wrong one. */
        mv_type_count *slot = mv_type_table_find(&census->types, Py_TYPE(op));
        if (slot != NULL) {
            slot->bytes += (int64_t)size;
        }
    }
    return 0;
}

void
mv_census_free(mv_census *census)
{
    for (size_t i = 0; i < census->later.used; i++) {
        Py_DECREF(census->later.items[i]);
    }
    mv_object_stack_free(&census->later);
    mv_type_table_free(&census->types);
}

#endif /* MV_KNOWN_LAYOUT */
