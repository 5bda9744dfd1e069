/* memviz.h -- the C core's interface to Python.
 *
 * This file is the single source of truth for the functions and structs that
 * cffi exposes: src/memviz/_build.py feeds it to ffi.cdef() (after dropping the
 * preprocessor lines), and the C files include it.  Keep it to plain
 * declarations: no macros, no conditionals, fixed-width integer types only.
 *
 * Two kinds of entry point live in the extension (see csrc/README.md):
 *   - the readings below: cffi functions that fill plain C structs.  cffi
 *     releases the GIL around every call; each of them takes it back
 *     (mv_enter) before it touches interpreter state.
 *   - functions that take or return Python objects (refcount, generation_of,
 *     type_counts): plain C-API functions in csrc/objects.c, published as the
 *     module memviz._objects by mv_register_objects_module().
 */
#ifndef MEMVIZ_H
#define MEMVIZ_H

#include <stdint.h>

/* Every reading returns one of these. */
enum mv_status {
    MV_OK = 0,
    MV_ERR_UNSUPPORTED = 1,        /* this interpreter's layout is not one memviz knows */
    MV_ERR_COLLECTING = 2,         /* the cyclic collector is running: lists are half-built */
    MV_ERR_WRONG_INTERPRETER = 3,  /* called from a subinterpreter memviz cannot read from here */
    MV_ERR_NO_MEMORY = 4,          /* malloc failed for a result buffer */
    MV_ERR_PYMALLOC_OFF = 5,       /* pymalloc is not the object allocator */
    MV_ERR_NO_SYMBOLS = 6,         /* 3.10/3.11: obmalloc's private state could not be found */
    MV_ERR_BUFFER_TOO_SMALL = 7    /* the caller's buffer is smaller than the reading */
};

/* The running interpreter, as the C core sees it. */
typedef struct {
    uint32_t compiled_hex;      /* PY_VERSION_HEX of the headers memviz was built against */
    uint32_t runtime_hex;       /* Py_Version of the running interpreter */
    int free_threaded;          /* built with Py_GIL_DISABLED */
    int gc_lists_readable;      /* the generation lists have a layout memviz knows */
    int64_t interpreter_id;     /* the interpreter the call was made from */
} mv_interpreter_info;

/* One generation of the cyclic collector. */
typedef struct {
    int64_t objects;            /* length of its list */
    int64_t count;              /* the collector's counter, as gc.get_count() */
    int64_t threshold;
    int64_t collections;        /* as gc.get_stats() */
    int64_t collected;
    int64_t uncollectable;
} mv_generation;

typedef struct {
    int64_t interpreter_id;     /* in: the caller's interpreter (memviz._objects.interpreter_id()) */
    mv_generation generations[3];
    int64_t permanent;          /* length of the permanent generation's list */
    int enabled;                /* gc.isenabled() */
} mv_gc_reading;

const char *mv_status_message(int status);
int mv_interpreter(mv_interpreter_info *out);
int mv_read_gc(mv_gc_reading *out);
/* modules: id(sys.modules) of the caller; MV_ERR_WRONG_INTERPRETER when the thread
 * state the call gets back belongs to another interpreter (3.10/3.11 subinterpreters). */
int mv_register_objects_module(uint64_t modules);

/* ---- pymalloc (csrc/pymalloc.c) ----------------------------------------
 * Arrays indexed by size class have 64 entries: NB_SMALL_SIZE_CLASSES is 32
 * on 64-bit builds and at most 64 anywhere (obmalloc.c refuses more).
 * `after_walk` (tests only): 0, or id() of a callable the reading calls with
 * the GIL held right after its walk, before it allocates anything, so that an
 * oracle (sys.getallocatedblocks, sys._debugmallocstats) sees the very heap
 * state the walk saw; its int result (0 for None) lands in after_walk_result,
 * INT64_MIN when it raised. */

/* pymalloc's constants, compiled from this interpreter's headers (3.12+) or
 * its version's obmalloc.c (3.10/3.11). */
typedef struct {
    uint32_t alignment;
    uint32_t small_request_threshold;
    uint32_t size_classes;
    uint32_t pool_size;
    uint32_t arena_size;
    uint32_t pools_per_arena;
    uint32_t pool_overhead;
    uint32_t debug_prefix;          /* bytes debug hooks put before the pointer they hand out */
    uint64_t arena_map_root_bytes;  /* the radix tree's root and node sizes; 0 without one */
    uint64_t arena_map_mid_bytes;
    uint64_t arena_map_bot_bytes;
    uint32_t block_sizes[64];
    uint32_t blocks_per_pool[64];
} mv_pymalloc_layout;

/* Which allocator serves objects, and whether the state can be read directly. */
typedef struct {
    int64_t interpreter_id;         /* in */
    char allocator[32];             /* _PyMem_GetCurrentAllocatorName(); "" when hooks hide it */
    int32_t pymalloc;               /* 1: pymalloc serves object memory, 0: it does not, -1: unknown */
    int32_t debug_hooks;            /* 1: debug hooks sit in front of pymalloc (-1: unknown) */
    int32_t direct;                 /* MV_OK when the state can be read directly, else why not */
    char problem[320];              /* with direct != MV_OK: the details */
} mv_pymalloc_info;

typedef struct {
    uint64_t pools;                 /* pools with at least one block in use */
    uint64_t blocks_in_use;
    uint64_t blocks_free;
} mv_pymalloc_class;

/* sys._debugmallocstats()'s figures, from one walk of the arenas. */
typedef struct {
    int64_t interpreter_id;         /* in */
    uint64_t after_walk;            /* in (tests) */
    int64_t after_walk_result;
    uint64_t arenas_allocated_total;
    uint64_t arenas_current;
    uint64_t arenas_highwater;
    int64_t raw_blocks;             /* object requests pymalloc passed on to malloc */
    uint64_t unused_pools;
    uint64_t allocated_bytes;
    uint64_t available_bytes;
    uint64_t pool_header_bytes;
    uint64_t quantization_bytes;
    uint64_t arena_alignment_bytes;
    int64_t arena_map_mid_nodes;    /* -1 without the radix tree */
    int64_t arena_map_bot_nodes;
    mv_pymalloc_class classes[64];
} mv_pymalloc_stats;

/* Arena and pool records are uint64_t columns only, in the order of
 * memviz.snapshot's ARENA_FIELDS (+ pools_used) and POOL_FIELDS: the arrays
 * are then also the packed rows (array('Q')) a snapshot keeps. */
typedef struct {
    uint64_t address;
    uint64_t index;                 /* slot in pymalloc's arenas vector */
    uint64_t pools_total;
    uint64_t pools_free;            /* empty and never-used pools */
    uint64_t pools_used;            /* its entries in the pools array, after the previous arena's */
} mv_pymalloc_arena;

typedef struct {
    uint64_t address;
    uint64_t size_class;
    uint64_t block_size;
    uint64_t blocks_in_use;
    uint64_t capacity;              /* blocks a pool of this class holds */
} mv_pymalloc_pool;

/* Every live arena and its pools in use, from one walk. */
typedef struct {
    int64_t interpreter_id;         /* in */
    uint64_t after_walk;            /* in (tests) */
    int64_t after_walk_result;
    uint64_t narenas;
    uint64_t npools;
    mv_pymalloc_arena *arenas;      /* malloc'd by the reading: release with mv_pymalloc_map_free */
    mv_pymalloc_pool *pools;
} mv_pymalloc_map;

/* The block that holds the object at `address`. */
typedef struct {
    int64_t interpreter_id;         /* in */
    uint64_t address;               /* in: id() of an object the caller holds */
    int32_t found;                  /* 0: not in a pymalloc block */
    uint32_t size_class;
    uint32_t block_size;
    uint64_t arena_address;
    uint64_t pool_address;
    uint64_t block_address;
} mv_pymalloc_block;

/* _PyObject_DebugMallocStats()'s report, written into memory: the fallback
 * when the state cannot be read directly. */
typedef struct {
    int64_t interpreter_id;         /* in */
    uint64_t after_walk;            /* in (tests): called right after the report is written */
    int64_t after_walk_result;
    int32_t printed;                /* 0 when no pymalloc report was written */
    int64_t allocated_blocks;       /* sys.getallocatedblocks() at the same heap state */
    char *text;                     /* malloc'd: release with mv_pymalloc_text_free */
    uint64_t length;
} mv_pymalloc_text;

int mv_pymalloc_read_layout(mv_pymalloc_layout *out);
int mv_pymalloc_read_info(mv_pymalloc_info *out);
int mv_pymalloc_read_stats(mv_pymalloc_stats *out);
int mv_pymalloc_read_map(mv_pymalloc_map *out);
void mv_pymalloc_map_free(mv_pymalloc_map *map);
void mv_pymalloc_buffer_free(void *buffer);   /* one of a map's arrays, taken over by the caller */
int mv_pymalloc_locate(mv_pymalloc_block *out);
int mv_pymalloc_debug_text(mv_pymalloc_text *out);
void mv_pymalloc_text_free(mv_pymalloc_text *text);

#endif
