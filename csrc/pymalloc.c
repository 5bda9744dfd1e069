/* pymalloc.c -- pymalloc's arenas, pools and blocks, read in place.
 *
 * What it reads: pymalloc's management state (the arenas vector and its
 * counters: interp->obmalloc on 3.12+, obmalloc.c's file statics found
 * through libpython's .symtab on 3.10/3.11, see elfsyms.c), the header of
 * every pool carved from a live arena, and nothing else: never a block's
 * contents, never an object.
 *
 * Why that is safe:
 *   - every reading holds the GIL of the interpreter whose state it reads
 *     (mv_enter), and allocates nothing from pymalloc or the Python heap
 *     between the start of its walk and its end (buffers are plain malloc),
 *     so no arena can be created, emptied or unmapped under it;
 *   - a pool header is read only at a pool-aligned address inside a live
 *     arena (address != 0) and below that arena's pool_address, i.e. in a
 *     pool pymalloc has carved and initialised; an address from outside
 *     (locate) is checked against the live arenas before any header is read;
 *   - every arena and pool header is checked against the layout memviz was
 *     built for (pools per arena, pool_address alignment, size class, block
 *     count, arena index); a mismatch refuses the reading
 *     (MV_ERR_UNSUPPORTED) rather than returning figures that may be wrong.
 */
#include "internal.h"     /* first: Python.h's pyconfig.h sets _GNU_SOURCE (open_memstream) */
#include "elfsyms.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#if MV_PM_KNOWN

_Static_assert(MV_PM_SIZE_CLASSES <= 64, "memviz.h sizes its per-class arrays for 64 classes");

#define PM_BLOCK_SIZE(i) (((size_t)(i) + 1) * MV_PM_ALIGNMENT)
#define PM_NUMBLOCKS(i) ((MV_PM_POOL_SIZE - MV_PM_POOL_OVERHEAD) / PM_BLOCK_SIZE(i))

/* NUMBLOCKS per class, computed once: the walks look it up for every pool,
 * where a 64-bit division each would cost as much as the pool's cache miss. */
static unsigned int pm_numblocks[MV_PM_SIZE_CLASSES];

static void
init_numblocks(void)
{
    if (pm_numblocks[0] == 0) {
        for (size_t i = 0; i < MV_PM_SIZE_CLASSES; i++) {
            pm_numblocks[i] = (unsigned int)PM_NUMBLOCKS(i);
        }
    }
}
#define PM_FIRST_POOL(address) \
    (((address) + MV_PM_POOL_SIZE - 1) & ~(uintptr_t)(MV_PM_POOL_SIZE - 1))

/* The walks read one header per 16 KiB pool, each a cache and TLB miss.  A
 * second cursor runs PM_PREFETCH_AHEAD carved pools ahead of the walk, across
 * arenas, and asks for their headers early so that the misses overlap
 * (measured: the cold walk of ~8,000 pools takes 15-25% less time than with
 * no prefetch, and 8 ahead did better than 16 or 32).  A prefetch never
 * faults, and the cursor names only carved pools of live arenas. */
#define PM_PREFETCH_AHEAD 8
#if defined(__GNUC__) || defined(__clang__)
#  define PM_PREFETCH(address) __builtin_prefetch((const void *)(address), 0, 0)
#else
#  define PM_PREFETCH(address) ((void)(address))
#endif

typedef struct {
    const mv_pm_globals *g;
    size_t arena;           /* the slot the cursor is in; maxarenas when done */
    uintptr_t next, end;    /* the next pool to ask for, the end of the slot's carved pools */
} pm_prefetcher;

static void
prefetcher_advance(pm_prefetcher *c)
{
    while (c->next >= c->end) {
        if (++c->arena >= c->g->maxarenas) {
            c->arena = c->g->maxarenas;
            return;
        }
        const mv_pm_arena *a = &c->g->arenas[c->arena];
        if (a->address != 0) {
            c->next = PM_FIRST_POOL(a->address);
            c->end = (uintptr_t)a->pool_address;
        }
    }
}

static inline void
prefetcher_step(pm_prefetcher *c)
{
    if (c->arena < c->g->maxarenas) {
        PM_PREFETCH(c->next);
        c->next += MV_PM_POOL_SIZE;
        prefetcher_advance(c);
    }
}

static void
prefetcher_start(pm_prefetcher *c, const mv_pm_globals *g)
{
    c->g = g;
    c->arena = (size_t)-1;
    c->next = c->end = 0;
    prefetcher_advance(c);
    for (int k = 0; k < PM_PREFETCH_AHEAD; k++) {
        prefetcher_step(c);
    }
}

/* ---- where the state is -------------------------------------------------- */

#if MV_PM_FROM_SYMTAB

/* The run-time addresses of obmalloc.c's statics, found once.  The lookup
 * runs under the GIL (all interpreters share one on 3.10/3.11). */
enum {
#define PM_SYMBOL_INDEX(name, size) PM_SYM_##name,
    MV_PM_SYMBOLS(PM_SYMBOL_INDEX)
#undef PM_SYMBOL_INDEX
    PM_NSYMBOLS
};
static int symbols_status = -1;         /* -1: not looked up yet */
static void *symbol_addresses[PM_NSYMBOLS];
static char symbols_problem[320];

static int
find_symbols(void)
{
    if (symbols_status >= 0) {
        return symbols_status;
    }
    mv_elf_wanted wanted[PM_NSYMBOLS] = {
#define PM_SYMBOL_WANTED(name, size) {#name, (uint64_t)(size), NULL},
        MV_PM_SYMBOLS(PM_SYMBOL_WANTED)
#undef PM_SYMBOL_WANTED
    };
    /* The first one names the object to read; both prove that its file on
     * disk is the loaded one and that the load bias is right. */
    mv_elf_known known[] = {
        {"_PyObject_DebugMallocStats", (const void *)&_PyObject_DebugMallocStats},
        {"_PyRuntime", (const void *)&_PyRuntime},
    };
    if (mv_elf_find_locals(known, sizeof known / sizeof known[0], "obmalloc.c", wanted,
                           PM_NSYMBOLS, symbols_problem, sizeof symbols_problem) != 0) {
        symbols_status = MV_ERR_NO_SYMBOLS;
        return symbols_status;
    }
    for (int i = 0; i < PM_NSYMBOLS; i++) {
        symbol_addresses[i] = wanted[i].address;
    }
    symbols_status = MV_OK;
    return symbols_status;
}

static int
read_globals(PyInterpreterState *interp, mv_pm_globals *g)
{
    (void)interp;       /* one state for every interpreter */
    int status = find_symbols();
    if (status != MV_OK) {
        return status;
    }
#define PM_SYM(name, type) (*(type *)symbol_addresses[PM_SYM_##name])
    g->arenas = PM_SYM(arenas, mv_pm_arena *);
    g->maxarenas = PM_SYM(maxarenas, unsigned int);
    g->narenas_currently_allocated = PM_SYM(narenas_currently_allocated, size_t);
    g->ntimes_arena_allocated = PM_SYM(ntimes_arena_allocated, size_t);
    g->narenas_highwater = PM_SYM(narenas_highwater, size_t);
    g->raw_allocated_blocks = PM_SYM(raw_allocated_blocks, Py_ssize_t);
    g->map_mid_count = PM_SYM(arena_map_mid_count, int);
    g->map_bot_count = PM_SYM(arena_map_bot_count, int);
#undef PM_SYM
    return MV_OK;
}

static const char *
direct_problem(void)
{
    return symbols_problem;
}

#else /* 3.12+ */

static int
read_globals(PyInterpreterState *interp, mv_pm_globals *g)
{
    struct _obmalloc_state *state = mv_pm_state(interp);
    if (state == NULL) {
        return MV_ERR_PYMALLOC_OFF;
    }
    mv_pm_copy_globals(state, g);
    return MV_OK;
}

static const char *
direct_problem(void)
{
    return "";
}

#endif /* MV_PM_FROM_SYMTAB */

/* ---- checks ---------------------------------------------------------------- */

/* read_globals(), refused when the figures are ones pymalloc never leaves
 * (so that no walk starts from a vector it cannot trust). */
static int
read_checked_globals(PyInterpreterState *interp, mv_pm_globals *g)
{
    init_numblocks();
    int status = read_globals(interp, g);
    if (status == MV_OK
        && ((g->maxarenas != 0 && g->arenas == NULL)
            || g->narenas_currently_allocated > g->maxarenas
            || g->narenas_highwater < g->narenas_currently_allocated
            || g->ntimes_arena_allocated < g->narenas_currently_allocated)) {
        status = MV_ERR_UNSUPPORTED;
    }
    return status;
}

/* An arena slot in use whose fields fit the layout memviz was built for. */
static int
arena_is_sane(const mv_pm_arena *a)
{
    uintptr_t first = PM_FIRST_POOL(a->address);
    uintptr_t carved_end = (uintptr_t)a->pool_address;
    size_t expected_pools = MV_PM_MAX_POOLS_IN_ARENA - (first != a->address);
    return carved_end >= first
        && carved_end - a->address <= MV_PM_ARENA_SIZE
        && (carved_end - first) % MV_PM_POOL_SIZE == 0
        && a->ntotalpools == expected_pools
        && a->nfreepools <= a->ntotalpools;
}

/* A pool in use whose header fits the layout. */
static int
pool_is_sane(const mv_pm_pool *pool, size_t arena_index)
{
    return pool->szidx < MV_PM_SIZE_CLASSES
        && pool->ref.count <= pm_numblocks[pool->szidx]
        && pool->arenaindex == arena_index;
}

/* ---- which allocator ------------------------------------------------------- */

/* When allocator hooks hide the allocator's name (tracemalloc, or a custom
 * allocator), one block is allocated through the object domain and looked
 * up in the live arenas: it lies in one exactly when pymalloc serves object
 * memory under the hooks; its offset in the block says whether debug hooks
 * sit in between.  Done once: the underlying allocator cannot change once
 * the interpreter runs.  Never during a walk. */
static int probed_pymalloc = -1;
static int probed_debug = -1;

typedef struct {
    uintptr_t arena;
    uintptr_t pool;
    uintptr_t block;
    unsigned int size_class;
} pm_place;

static int find_block(const mv_pm_globals *g, uintptr_t p, pm_place *place);

static void
probe_allocator(PyInterpreterState *interp)
{
    if (probed_pymalloc >= 0) {
        return;
    }
    void *p = PyObject_Malloc(1);
    if (p == NULL) {
        PyErr_Clear();
        return;
    }
    mv_pm_globals g;
    pm_place place;
    if (read_checked_globals(interp, &g) == MV_OK) {
        int found = find_block(&g, (uintptr_t)p, &place);
        if (found >= 0) {
            probed_pymalloc = found;
            probed_debug = found && (uintptr_t)p - place.block == MV_PM_DEBUG_PREFIX;
        }
    }
    PyObject_Free(p);
}

typedef struct {
    const char *name;       /* NULL when hooks hide it */
    int pymalloc;           /* 1, 0, or -1 unknown */
    int debug;
} pm_allocator;

static void
current_allocator(PyInterpreterState *interp, pm_allocator *a)
{
    a->name = _PyMem_GetCurrentAllocatorName();
    if (a->name != NULL) {
        a->pymalloc = strncmp(a->name, "pymalloc", 8) == 0;
        a->debug = strcmp(a->name, "pymalloc_debug") == 0;
        return;
    }
    probe_allocator(interp);
    a->pymalloc = probed_pymalloc;
    a->debug = probed_debug;
}

/* MV_OK with *g filled when the state can be read now. */
static int
ready(PyInterpreterState *interp, mv_pm_globals *g)
{
    pm_allocator a;
    current_allocator(interp, &a);
    if (a.pymalloc == 0) {
        return MV_ERR_PYMALLOC_OFF;
    }
    return read_checked_globals(interp, g);
}

/* ---- the oracle hook (tests) ---------------------------------------------- */

static int64_t
call_after_walk(uint64_t callable)
{
    if (callable == 0) {
        return 0;
    }
    PyObject *result = PyObject_CallNoArgs((PyObject *)(uintptr_t)callable);
    int64_t value = INT64_MIN;
    if (result == Py_None) {
        value = 0;
    }
    else if (result != NULL && PyLong_Check(result)) {
        value = PyLong_AsLongLong(result);
    }
    Py_XDECREF(result);
    if (PyErr_Occurred()) {
        PyErr_Clear();
        value = INT64_MIN;
    }
    return value;
}

/* ---- walks ----------------------------------------------------------------- */

/* 1 and *place filled when p lies in a block of a pool in use, 0 when it is
 * not in pymalloc's blocks, -1 when a header does not fit the layout. */
static int
find_block(const mv_pm_globals *g, uintptr_t p, pm_place *place)
{
    for (size_t i = 0; i < g->maxarenas; i++) {
        const mv_pm_arena *a = &g->arenas[i];
        if (a->address == 0 || p < a->address || p - a->address >= MV_PM_ARENA_SIZE) {
            continue;
        }
        /* p is inside this live arena: every check before reading a header. */
        if (!arena_is_sane(a)) {
            return -1;
        }
        uintptr_t pool_address = p & ~(uintptr_t)(MV_PM_POOL_SIZE - 1);
        if (pool_address < PM_FIRST_POOL(a->address)
            || pool_address >= (uintptr_t)a->pool_address) {
            return 0;   /* the alignment slack before the first pool, or never carved */
        }
        const mv_pm_pool *pool = (const mv_pm_pool *)pool_address;
        if (pool->ref.count == 0) {
            return 0;   /* an empty pool: its size class is stale */
        }
        if (!pool_is_sane(pool, i)) {
            return -1;
        }
        size_t size = PM_BLOCK_SIZE(pool->szidx);
        uintptr_t first_block = pool_address + MV_PM_POOL_OVERHEAD;
        if (p < first_block) {
            return 0;   /* the pool header */
        }
        size_t index = (p - first_block) / size;
        if (index >= pm_numblocks[pool->szidx]) {
            return 0;   /* the pool's unusable tail */
        }
        place->arena = a->address;
        place->pool = pool_address;
        place->block = first_block + index * size;
        place->size_class = pool->szidx;
        return 1;
    }
    return 0;
}

static int
walk_stats(const mv_pm_globals *g, void *result)
{
    mv_pymalloc_stats *out = result;
    uint64_t narenas = 0, unused_pools = 0, alignment = 0;
    memset(out->classes, 0, sizeof out->classes);
    pm_prefetcher ahead;
    prefetcher_start(&ahead, g);
    for (size_t i = 0; i < g->maxarenas; i++) {
        const mv_pm_arena *a = &g->arenas[i];
        if (a->address == 0) {
            continue;
        }
        if (!arena_is_sane(a)) {
            return MV_ERR_UNSUPPORTED;
        }
        narenas++;
        unused_pools += a->nfreepools;
        uintptr_t base = PM_FIRST_POOL(a->address);
        uintptr_t end = (uintptr_t)a->pool_address;
        if (base != a->address) {
            alignment += MV_PM_POOL_SIZE;
        }
        for (; base < end; base += MV_PM_POOL_SIZE) {
            prefetcher_step(&ahead);
            const mv_pm_pool *pool = (const mv_pm_pool *)base;
            if (pool->ref.count == 0) {
                continue;
            }
            if (!pool_is_sane(pool, i)) {
                return MV_ERR_UNSUPPORTED;
            }
            mv_pymalloc_class *c = &out->classes[pool->szidx];
            c->pools++;
            c->blocks_in_use += pool->ref.count;
            c->blocks_free += pm_numblocks[pool->szidx] - pool->ref.count;
        }
    }
    if (narenas != g->narenas_currently_allocated) {
        return MV_ERR_UNSUPPORTED;  /* pymalloc keeps the two equal */
    }
    out->arenas_allocated_total = g->ntimes_arena_allocated;
    out->arenas_current = narenas;
    out->arenas_highwater = g->narenas_highwater;
    out->raw_blocks = g->raw_allocated_blocks;
    out->unused_pools = unused_pools;
    out->arena_alignment_bytes = alignment;
    out->allocated_bytes = out->available_bytes = 0;
    out->pool_header_bytes = out->quantization_bytes = 0;
    for (size_t i = 0; i < MV_PM_SIZE_CLASSES; i++) {
        const mv_pymalloc_class *c = &out->classes[i];
        size_t size = PM_BLOCK_SIZE(i);
        out->allocated_bytes += c->blocks_in_use * size;
        out->available_bytes += c->blocks_free * size;
        out->pool_header_bytes += c->pools * MV_PM_POOL_OVERHEAD;
        out->quantization_bytes += c->pools * ((MV_PM_POOL_SIZE - MV_PM_POOL_OVERHEAD) % size);
    }
    out->arena_map_mid_nodes = g->map_mid_count;
    out->arena_map_bot_nodes = g->map_bot_count;
    return MV_OK;
}

static int
walk_map(const mv_pm_globals *g, void *result)
{
    mv_pymalloc_map *out = result;
    /* Size the buffers first (arena slots only), then walk: nothing between
     * the two can change the arenas, the GIL is held and malloc is libc's. */
    size_t narenas = 0, carved = 0;
    for (size_t i = 0; i < g->maxarenas; i++) {
        const mv_pm_arena *a = &g->arenas[i];
        if (a->address == 0) {
            continue;
        }
        if (!arena_is_sane(a)) {
            return MV_ERR_UNSUPPORTED;
        }
        narenas++;
        carved += ((uintptr_t)a->pool_address - PM_FIRST_POOL(a->address)) / MV_PM_POOL_SIZE;
    }
    out->arenas = malloc((narenas ? narenas : 1) * sizeof(mv_pymalloc_arena));
    out->pools = malloc((carved ? carved : 1) * sizeof(mv_pymalloc_pool));
    if (out->arenas == NULL || out->pools == NULL) {
        return MV_ERR_NO_MEMORY;
    }
    size_t na = 0, np = 0;
    pm_prefetcher ahead;
    prefetcher_start(&ahead, g);
    for (size_t i = 0; i < g->maxarenas; i++) {
        const mv_pm_arena *a = &g->arenas[i];
        if (a->address == 0) {
            continue;
        }
        mv_pymalloc_arena *arena = &out->arenas[na++];
        arena->address = a->address;
        arena->index = i;
        arena->pools_total = a->ntotalpools;
        arena->pools_free = a->nfreepools;
        arena->pools_used = 0;
        uintptr_t base = PM_FIRST_POOL(a->address);
        uintptr_t end = (uintptr_t)a->pool_address;
        for (; base < end; base += MV_PM_POOL_SIZE) {
            prefetcher_step(&ahead);
            const mv_pm_pool *pool = (const mv_pm_pool *)base;
            if (pool->ref.count == 0) {
                continue;
            }
            if (!pool_is_sane(pool, i)) {
                return MV_ERR_UNSUPPORTED;
            }
            mv_pymalloc_pool *entry = &out->pools[np++];
            entry->address = base;
            entry->size_class = pool->szidx;
            entry->block_size = PM_BLOCK_SIZE(pool->szidx);
            entry->blocks_in_use = pool->ref.count;
            entry->capacity = pm_numblocks[pool->szidx];
            arena->pools_used++;
        }
    }
    out->narenas = na;
    out->npools = np;
    return MV_OK;
}

static int
walk_to_block(const mv_pm_globals *g, void *result)
{
    mv_pymalloc_block *out = result;
    pm_place place;
    int found = find_block(g, (uintptr_t)out->address, &place);
    if (found < 0) {
        return MV_ERR_UNSUPPORTED;
    }
    if (found) {
        out->found = 1;
        out->size_class = place.size_class;
        out->block_size = (uint32_t)PM_BLOCK_SIZE(place.size_class);
        out->arena_address = place.arena;
        out->pool_address = place.pool;
        out->block_address = place.block;
    }
    return MV_OK;
}

/* What the stats, map and locate readings share: the GIL held in the caller's
 * interpreter (mv_enter), pymalloc's state found and checked (ready), the walk,
 * then the tests' after_walk oracle (when asked for) while the heap is still
 * the one the walk saw. */
typedef int (*pm_walk)(const mv_pm_globals *g, void *result);

static int
read_pymalloc(int64_t interpreter_id, pm_walk walk, void *result,
              uint64_t after_walk, int64_t *after_walk_result)
{
    mv_hold hold;
    int status = mv_enter(interpreter_id, &hold);
    if (status != MV_OK) {
        return status;
    }
    mv_pm_globals g;
    status = ready(hold.interp, &g);
    if (status == MV_OK) {
        status = walk(&g, result);
    }
    if (status == MV_OK && after_walk_result != NULL) {
        *after_walk_result = call_after_walk(after_walk);
    }
    mv_leave(&hold);
    return status;
}

#endif /* MV_PM_KNOWN */

/* ---- the cffi functions ---------------------------------------------------- */

int
mv_pymalloc_read_layout(mv_pymalloc_layout *out)
{
#if MV_PM_KNOWN
    memset(out, 0, sizeof *out);
    out->alignment = MV_PM_ALIGNMENT;
    out->small_request_threshold = MV_PM_SMALL_REQUEST_THRESHOLD;
    out->size_classes = MV_PM_SIZE_CLASSES;
    out->pool_size = (uint32_t)MV_PM_POOL_SIZE;
    out->arena_size = (uint32_t)MV_PM_ARENA_SIZE;
    out->pools_per_arena = (uint32_t)MV_PM_MAX_POOLS_IN_ARENA;
    out->pool_overhead = (uint32_t)MV_PM_POOL_OVERHEAD;
    out->debug_prefix = (uint32_t)MV_PM_DEBUG_PREFIX;
    out->arena_map_root_bytes = MV_PM_MAP_ROOT_BYTES;
    out->arena_map_mid_bytes = MV_PM_MAP_MID_BYTES;
    out->arena_map_bot_bytes = MV_PM_MAP_BOT_BYTES;
    for (size_t i = 0; i < MV_PM_SIZE_CLASSES; i++) {
        out->block_sizes[i] = (uint32_t)PM_BLOCK_SIZE(i);
        out->blocks_per_pool[i] = (uint32_t)PM_NUMBLOCKS(i);
    }
    return MV_OK;
#else
    (void)out;
    return MV_ERR_UNSUPPORTED;
#endif
}

int
mv_pymalloc_read_info(mv_pymalloc_info *out)
{
    memset(out->allocator, 0, sizeof out->allocator);
    memset(out->problem, 0, sizeof out->problem);
    out->pymalloc = out->debug_hooks = -1;
#if MV_PM_KNOWN
    mv_hold hold;
    int status = mv_enter(out->interpreter_id, &hold);
    if (status != MV_OK) {
        out->direct = status;
        return status;
    }
    pm_allocator a;
    current_allocator(hold.interp, &a);
    if (a.name != NULL) {
        snprintf(out->allocator, sizeof out->allocator, "%s", a.name);
    }
    out->pymalloc = a.pymalloc;
    out->debug_hooks = a.debug;
    mv_pm_globals g;
    out->direct = read_checked_globals(hold.interp, &g);
    if (out->direct != MV_OK) {
        const char *why = out->direct == MV_ERR_NO_SYMBOLS ? direct_problem() : "";
        snprintf(out->problem, sizeof out->problem, "%s",
                 why[0] != '\0' ? why : mv_status_message(out->direct));
    }
    mv_leave(&hold);
    return MV_OK;
#else
    out->direct = MV_ERR_UNSUPPORTED;
    return MV_ERR_UNSUPPORTED;
#endif
}

int
mv_pymalloc_read_stats(mv_pymalloc_stats *out)
{
#if MV_PM_KNOWN
    return read_pymalloc(out->interpreter_id, walk_stats, out,
                         out->after_walk, &out->after_walk_result);
#else
    (void)out;
    return MV_ERR_UNSUPPORTED;
#endif
}

void
mv_pymalloc_buffer_free(void *buffer)
{
    free(buffer);
}

void
mv_pymalloc_map_free(mv_pymalloc_map *map)
{
    free(map->arenas);
    free(map->pools);
    map->arenas = NULL;
    map->pools = NULL;
    map->narenas = map->npools = 0;
}

int
mv_pymalloc_read_map(mv_pymalloc_map *out)
{
    out->arenas = NULL;
    out->pools = NULL;
    out->narenas = out->npools = 0;
#if MV_PM_KNOWN
    int status = read_pymalloc(out->interpreter_id, walk_map, out,
                               out->after_walk, &out->after_walk_result);
    if (status != MV_OK) {
        mv_pymalloc_map_free(out);
    }
    return status;
#else
    return MV_ERR_UNSUPPORTED;
#endif
}

/* locate() is a cffi function taking id(obj), not a C-API function: it
 * never needs the object itself.  The block that holds an object is the one
 * that contains the object's first byte, because a block starts with the
 * object's pre-headers (PyGC_Head; the managed dict/weakref pointers of
 * 3.11+, _PyType_PreHeaderSize) and, under debug hooks, their 16-byte
 * prefix, all before the object and inside the same block.  So the address
 * is only compared with the live arenas (find_block) and no pointer derived
 * from it is dereferenced before it is proven to be a carved pool's header;
 * the object is never read.  The pre-header shows in the result as
 * id(obj) - block_address, which the tests compare with the expected one. */
int
mv_pymalloc_locate(mv_pymalloc_block *out)
{
    out->found = 0;
    out->size_class = out->block_size = 0;
    out->arena_address = out->pool_address = out->block_address = 0;
#if MV_PM_KNOWN
    return read_pymalloc(out->interpreter_id, walk_to_block, out, 0, NULL);
#else
    return MV_ERR_UNSUPPORTED;
#endif
}

void
mv_pymalloc_text_free(mv_pymalloc_text *text)
{
    free(text->text);   /* open_memstream's buffer: libc malloc */
    text->text = NULL;
    text->length = 0;
}

int
mv_pymalloc_debug_text(mv_pymalloc_text *out)
{
    out->text = NULL;
    out->length = 0;
    out->printed = 0;
    out->allocated_blocks = -1;
#if MV_PM_KNOWN
    mv_hold hold;
    int status = mv_enter(out->interpreter_id, &hold);
    if (status != MV_OK) {
        return status;
    }
    /* Looked up before the report: the lookup may allocate (and free). */
    PyObject *counter = PySys_GetObject("getallocatedblocks");
    Py_XINCREF(counter);
    char *buffer = NULL;
    size_t length = 0;
    FILE *stream = open_memstream(&buffer, &length);
    if (stream == NULL) {
        status = MV_ERR_NO_MEMORY;
    }
    else {
        out->printed = _PyObject_DebugMallocStats(stream);
        if (fclose(stream) != 0 || buffer == NULL) {
            status = MV_ERR_NO_MEMORY;
        }
    }
    if (status == MV_OK) {
        /* The same heap state as the report: the count is taken before the
         * int that carries it is allocated. */
        if (counter != NULL) {
            out->allocated_blocks = call_after_walk((uint64_t)(uintptr_t)counter);
        }
        out->after_walk_result = call_after_walk(out->after_walk);
        out->text = buffer;
        out->length = length;
    }
    else {
        free(buffer);
    }
    Py_XDECREF(counter);
    mv_leave(&hold);
    return status;
#else
    return MV_ERR_UNSUPPORTED;
#endif
}
