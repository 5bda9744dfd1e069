"""The boundary to the compiled core: the only module that touches it (``memviz._core``'s
``ffi``/``lib`` and the C-API module ``memviz._objects``).

It loads the core, says what this interpreter is and whether the core can read it (the
one decision, ``interpreter_problem``), checks that the records the core writes have the
layout the Python side unpacks (``memviz._records``), and turns every status code into
memviz's exception (one table, ``status_error``). Each reading is a typed function that
fills a fresh C buffer (one per call, so that threads reading at once never share one)
and returns plain ints, strings, tuples and bytes: the reading modules (``gc``,
``pymalloc``, ``_refcount``, ``_capabilities``) build values from those, and
``import memviz`` itself never fails.
"""
from __future__ import annotations

import platform
import sys
import sysconfig
from typing import Any, Callable

from . import _records
from ._errors import CollectorRunning, MemvizError, PymallocUnavailable, UnsupportedInterpreter

#: The newest CPython minor version whose internal layout memviz knows.
NEWEST_KNOWN = (3, 15)
OLDEST_KNOWN = (3, 10)

try:
    from ._core import ffi, lib
except ImportError as exc:  # PyPy, a build without the extension, an isolated
    # subinterpreter (3.12+: it refuses single-phase extensions such as cffi's).
    # Typed as the loaded lib: every use is behind require_core(), which refuses first.
    ffi = lib = None  # type: ignore[assignment]
    _LOAD_ERROR: str | None = f"memviz's C core is not available here ({exc})"
else:
    _LOAD_ERROR = None


def _record_mismatch() -> str | None:
    """Why the core's records differ from memviz._records (a field added, moved or
    resized on one side only), or None when every one matches."""
    for record in _records.ALL:
        c_type = ffi.typeof(record.c_type)
        fields = tuple(name for name, _ in c_type.fields)
        if fields != record.fields or ffi.sizeof(c_type) * record.count != record.size:
            return (f"memviz's C core writes {record.c_type} as {fields} "
                    f"({ffi.sizeof(c_type)} bytes) but memviz reads {record.fields}")
    classes = dict(ffi.typeof("mv_pymalloc_stats").fields)["classes"].type
    if classes.length != _records.CLASS_RECORDS.count:
        return "memviz's C core counts another number of size classes than memviz reads"
    return None


if lib is not None and _LOAD_ERROR is None:
    _LOAD_ERROR = _record_mismatch()

#: The status codes of the core (csrc/memviz.h) that readings act on.
OK, NO_SYMBOLS, PYMALLOC_OFF = (
    (lib.MV_OK, lib.MV_ERR_NO_SYMBOLS, lib.MV_ERR_PYMALLOC_OFF) if lib is not None else (0, 6, 5))

objects: Any = None
_REGISTER_ERROR: str | None = None
if lib is not None and _LOAD_ERROR is None:
    _registered = lib.mv_register_objects_module(id(sys.modules))
    if _registered == 0:
        # The core published its C-API functions as the module memviz._objects.
        objects = sys.modules[__package__ + "._objects"]
    elif _registered == lib.MV_ERR_WRONG_INTERPRETER:
        _REGISTER_ERROR = (
            "memviz cannot read a subinterpreter of CPython 3.10 or 3.11 (the C core would "
            "get the main interpreter's thread state back, and read the main interpreter)"
        )


def free_threaded() -> bool:
    return bool(sysconfig.get_config_var("Py_GIL_DISABLED"))


def describe_interpreter() -> str:
    """'CPython 3.12.1', 'CPython 3.14.7 (free-threaded)', 'PyPy 7.3.17 (Python 3.10.14)'."""
    implementation = platform.python_implementation()
    python = platform.python_version()
    if implementation != "CPython":
        version = ".".join(str(part) for part in sys.implementation.version[:3])
        return f"{implementation} {version} (Python {python})"
    return f"CPython {python}" + (" (free-threaded)" if free_threaded() else "")


def interpreter_problem() -> str | None:
    """Why the C core cannot read this interpreter's internals, or None when it can."""
    if platform.python_implementation() != "CPython":
        return "memviz reads CPython's internal structures; this is not CPython"
    if free_threaded():
        return (
            "free-threaded builds keep no generation lists, allocate with mimalloc instead of "
            "pymalloc, and split reference counts between threads (biased for deferred ones)"
        )
    if not OLDEST_KNOWN <= sys.version_info[:2] <= NEWEST_KNOWN:
        known = "{}.{}".format(*OLDEST_KNOWN), "{}.{}".format(*NEWEST_KNOWN)
        return f"memviz knows the internal layout of CPython {known[0]} to {known[1]} only"
    return _LOAD_ERROR or _REGISTER_ERROR


def pymalloc_problem() -> str | None:
    """Why no pymalloc reading can work here whatever the allocator (the one decision for
    memviz.pymalloc's readings and capabilities), or None."""
    if free_threaded():
        return "free-threaded builds allocate objects with mimalloc, not pymalloc"
    problem = interpreter_problem()
    if problem is None and objects is None:
        problem = "memviz's C-API functions could not be registered"
    return problem


def unsupported(reading: str, reason: str) -> UnsupportedInterpreter:
    return UnsupportedInterpreter(f"{reading} is not available on {describe_interpreter()}: {reason}")


def require_core(reading: str) -> None:
    """UnsupportedInterpreter naming the interpreter and the reason, unless the core can
    read it."""
    problem = interpreter_problem()
    if problem is not None:
        raise unsupported(reading, problem)


def require_objects(reading: str) -> Any:
    """The C-API module memviz._objects, or UnsupportedInterpreter."""
    require_core(reading)
    if objects is None:
        raise unsupported(reading, "memviz's C-API functions could not be registered")
    return objects


def status_error(reading: str, status: int) -> Exception:
    """The exception for a status code the C core returned: the one table of what each
    status means to a caller."""
    message = ffi.string(lib.mv_status_message(status)).decode()
    if status in (lib.MV_ERR_UNSUPPORTED, lib.MV_ERR_WRONG_INTERPRETER, lib.MV_ERR_NO_SYMBOLS):
        return unsupported(reading, message)
    error = {
        lib.MV_ERR_COLLECTING: CollectorRunning,
        lib.MV_ERR_PYMALLOC_OFF: PymallocUnavailable,
        lib.MV_ERR_NO_MEMORY: MemoryError,
    }.get(status)
    if error is None:
        return MemvizError(f"{reading}: {message} (status {status})")
    return error(f"{reading}: {message}")


def check(reading: str, status: int) -> None:
    if status != OK:
        raise status_error(reading, status)


def _fill(reading: str, c_type: str, read: str,
          after_walk: Callable[[], object] | None = None, address: int = 0
          ) -> tuple[int, Any]:
    """(status, buffer): a fresh ``c_type`` for this interpreter, filled by the core's
    function ``read``; UnsupportedInterpreter where the core cannot read this
    interpreter. One buffer per call, so that threads reading at once never share one.
    Inputs are plain parameters: a ``**kwargs`` dict would be a tracked object (3.14+
    tracks every new dict) alive during the walk that counts them."""
    require_core(reading)
    raw = ffi.new(f"{c_type} *")
    raw.interpreter_id = interpreter_id()
    if after_walk is not None:
        raw.after_walk = id(after_walk)   # the caller holds it for the whole call
    if address:
        raw.address = address
    return getattr(lib, read)(raw), raw


def _after_walk_result(value: int) -> int:
    if value == -(2**63):
        raise MemvizError("the after_walk callable raised or returned a non-int")
    return value


def _text(chars) -> str:
    return ffi.string(chars).decode(errors="replace")


# -- the interpreter and the collector --------------------------------------------------


def interpreter_id() -> int:
    return objects.interpreter_id()


def gc_lists_readable() -> bool:
    """Whether the collector's lists have a layout memviz reads (not 3.14.0-3.14.4's)."""
    info = ffi.new("mv_interpreter_info *")
    lib.mv_interpreter(info)
    return bool(info.gc_lists_readable)


def read_gc(reading: str) -> tuple[tuple[tuple[int, int, int, int, int, int], ...], int]:
    """((objects, count, threshold, collections, collected, uncollectable) for each of
    generations 0, 1, 2; the permanent generation's objects), in one reading."""
    status, raw = _fill(reading, "mv_gc_reading", "mv_read_gc")
    check(reading, status)
    rows = tuple((g.objects, g.count, g.threshold, g.collections, g.collected,
                  g.uncollectable) for g in raw.generations)
    return rows, raw.permanent


# The C-API functions are called directly, each in its own try: a reading must not make
# a tracked object (an argument tuple, a bound method) while the walk it calls counts.


def generation_of(reading: str, obj: object) -> int | None:
    module = require_objects(reading)
    try:
        return module.generation_of(obj)
    except module.ReadingError as error:
        raise status_error(reading, error.args[0]) from None


def type_counts(reading: str, generation: int) -> dict[type, int]:
    """{type: objects} of one generation (0-3), or of 0-2 (-1)."""
    module = require_objects(reading)
    try:
        return module.type_counts(generation)
    except module.ReadingError as error:
        raise status_error(reading, error.args[0]) from None


def census(reading: str) -> dict[type, tuple[int, int, int, int]]:
    """{type: (objects, tracked objects, bytes, objects sized by sys.getsizeof)} of every
    object reachable from the roots."""
    module = require_objects(reading)
    try:
        return module.census()
    except module.ReadingError as error:
        raise status_error(reading, error.args[0]) from None


#: The census's roots in the order it walks them (csrc/census.h, MV_ROOT_*).
CENSUS_ROOTS = ("sys.modules", "builtins", "the sys dict", "the interned strings",
                "a running frame", "the collector's generation 0",
                "the collector's generation 1", "the collector's generation 2",
                "the collector's permanent generation")


def census_reach(reading: str, box: list) -> tuple[str | None, object]:
    """(root, referrer): how the census's walk first meets ``box[0]``, not following the
    one-item list ``box`` (the caller's own holder of it). root is one of CENSUS_ROOTS,
    None when no root leads to it; referrer is the object it is met through (for a
    running frame, the frame's code), None at a root."""
    module = require_objects(reading)
    try:
        root, referrer = module.census_reach(box)
    except module.ReadingError as error:
        raise status_error(reading, error.args[0]) from None
    return (None if root < 0 else CENSUS_ROOTS[root]), referrer


def census_holders(reading: str, box: list) -> list:
    """Every object the census's walk finds holding ``box[0]``, then the frame objects of
    the running frames that hold it; not the one-item list ``box`` itself."""
    module = require_objects(reading)
    try:
        return module.census_holders(box)
    except module.ReadingError as error:
        raise status_error(reading, error.args[0]) from None


def census_retained(reading: str, box: list) -> tuple[int, int]:
    """(objects, bytes) the program's roots reach only through ``box[0]``, itself
    included; not through ``box``."""
    module = require_objects(reading)
    try:
        return module.census_retained(box)
    except module.ReadingError as error:
        raise status_error(reading, error.args[0]) from None


def path_to(reading: str, box: list, max_depth: int) -> tuple[int, Any, int, list] | None:
    """None, or (root, frame, slot, [root ... box[0]]): the shortest chain of at most
    ``max_depth`` references from sys.modules (0), builtins (1), the sys dict (2) or a
    running frame (4, with its frame object and the own slot that holds the chain's first
    object, -1 for its locals dict) to ``box[0]``, not through ``box``."""
    module = require_objects(reading)
    try:
        return module.path_to(box, max_depth)
    except module.ReadingError as error:
        raise status_error(reading, error.args[0]) from None


def census_seen(reading: str) -> object:
    """A capsule of every object the census's walk meets now (malloc'd addresses only)."""
    module = require_objects(reading)
    try:
        return module.census_seen()
    except module.ReadingError as error:
        raise status_error(reading, error.args[0]) from None


def census_new_objects(reading: str, seen: object) -> tuple[list, list[int]]:
    """(objects, sizes): what the census's walk meets now at an address where the walk of
    ``seen`` (census_seen's capsule) met no object, and the size the census gives each."""
    module = require_objects(reading)
    try:
        return module.census_new_objects(seen)
    except module.ReadingError as error:
        raise status_error(reading, error.args[0]) from None


def largest_retainers(reading: str, n: int) -> list[tuple[object, int, int, bool]]:
    """[(object, bytes, objects, interned), ...]: at most ``n`` owners the program's roots
    reach, largest first, none retaining another (csrc/dominators.c), each with the bytes
    and the objects it retains, itself included, and whether it is the interned strings'
    dict (a root no path starts from)."""
    module = require_objects(reading)
    try:
        return module.largest_retainers(n)
    except module.ReadingError as error:
        raise status_error(reading, error.args[0]) from None


def paths_in(reading: str, box: list, indices: tuple[int, ...], max_depth: int
             ) -> list[tuple[int, Any, int, list] | None]:
    """``path_to``'s result for ``box[0][i]``, each ``i`` of ``indices``: ``box`` holds the
    caller's list of objects (held only through it), which no path goes through."""
    module = require_objects(reading)
    try:
        return module.paths_in(box, indices, max_depth)
    except module.ReadingError as error:
        raise status_error(reading, error.args[0]) from None


def census_in_ranges(reading: str, bounds: bytes) -> tuple[list, list[int]]:
    """(objects, sizes): every object the census's walk meets at an address in one of the
    ``(start, end)`` ranges of ``bounds`` (native uint64 pairs, sorted, disjoint), in the
    order met, and the size the census gives each."""
    module = require_objects(reading)
    try:
        return module.census_in_ranges(bounds)
    except module.ReadingError as error:
        raise status_error(reading, error.args[0]) from None


def census_sizeof(reading: str, obj: object) -> int | None:
    """sys.getsizeof(obj) as the census computes it in C; None when it leaves obj's type
    to sys.getsizeof."""
    module = require_objects(reading)
    try:
        return module.census_sizeof(obj)
    except module.ReadingError as error:
        raise status_error(reading, error.args[0]) from None


def inline_attribute(reading: str, holder: object, held: object) -> str | None:
    """The name of holder's attribute kept inline (3.11+, without a __dict__) whose value
    is held, read without making the __dict__; None when there is none."""
    return require_objects(reading).inline_attribute(holder, held)


def unreachable(reading: str) -> tuple[tuple[tuple, tuple, int, tuple], ...]:
    """((objects, loop, bytes, finalizers), ...): what a collection of generations 0, 1
    and 2 would find unreachable, one entry per cycle with the objects only it holds;
    loop is a shortest cycle of references through its first object on the cycle,
    finalizers the objects whose finalizer the collector would run."""
    module = require_objects(reading)
    try:
        return module.unreachable()
    except module.ReadingError as error:
        raise status_error(reading, error.args[0]) from None


def type_counts_apart(reading: str, own_types: tuple[type, ...], part_types: tuple[type, ...]
                      ) -> tuple[dict[type, int], ...]:
    module = require_objects(reading)
    try:
        return module.type_counts_apart(own_types, part_types)
    except module.ReadingError as error:
        raise status_error(reading, error.args[0]) from None


def refcount_functions() -> tuple[Callable[[object], int], Callable[[object], bool]] | None:
    """The core's METH_O refcount and is_immortal themselves, or None where they cannot
    read this interpreter."""
    if interpreter_problem() is not None or objects is None:
        return None
    return objects.refcount, objects.is_immortal


# -- pymalloc ----------------------------------------------------------------------------


def pymalloc_layout(reading: str) -> dict[str, Any]:
    """pymalloc's constants as compiled into the core (mv_pymalloc_layout)."""
    require_core(reading)
    raw = ffi.new("mv_pymalloc_layout *")
    check(reading, lib.mv_pymalloc_read_layout(raw))
    count = raw.size_classes
    return {
        "alignment": raw.alignment, "small_request_threshold": raw.small_request_threshold,
        "pool_size": raw.pool_size, "arena_size": raw.arena_size,
        "pools_per_arena": raw.pools_per_arena, "pool_overhead": raw.pool_overhead,
        "block_sizes": tuple(raw.block_sizes[0:count]),
        "blocks_per_pool": tuple(raw.blocks_per_pool[0:count]),
        "debug_prefix": raw.debug_prefix, "map_root": raw.arena_map_root_bytes,
        "map_mid": raw.arena_map_mid_bytes, "map_bot": raw.arena_map_bot_bytes,
    }


def pymalloc_info() -> tuple[str, int, int, int, str]:
    """(allocator name or "" when hooks hide it, pymalloc serves objects 1/0/-1, debug
    hooks 1/0/-1, OK or the status that says why the state cannot be read directly, the
    details)."""
    _, raw = _fill("memviz.pymalloc", "mv_pymalloc_info", "mv_pymalloc_read_info")
    return (_text(raw.allocator), raw.pymalloc, raw.debug_hooks, raw.direct,
            _text(raw.problem))


#: mv_pymalloc_stats' figures, by name, as pymalloc_stats returns them.
_STATS_FIGURES = (
    "arenas_allocated_total", "arenas_current", "arenas_highwater", "raw_blocks",
    "unused_pools", "allocated_bytes", "available_bytes", "pool_header_bytes",
    "quantization_bytes", "arena_alignment_bytes", "arena_map_mid_nodes",
    "arena_map_bot_nodes",
)


def pymalloc_stats(reading: str, after_walk: Callable[[], object] | None = None
                   ) -> tuple[int, dict[str, int] | None, tuple[int, ...] | None, int]:
    """(status, figures by name, per-class counts (pools, in use, free) x 64, the result
    of ``after_walk()`` called in C right after the walk); figures and counts are None
    unless the status is OK."""
    status, raw = _fill(reading, "mv_pymalloc_stats", "mv_pymalloc_read_stats",
                        after_walk)
    if status != OK:
        return status, None, None, 0
    figures, counts = stats_figures(raw)
    return status, figures, counts, _after_walk_result(raw.after_walk_result)


def stats_figures(raw: Any) -> tuple[dict[str, int], tuple[int, ...]]:
    """(figures by name, per-class counts) of a filled mv_pymalloc_stats (also one that
    a test filled inside another reading's walk)."""
    figures = {name: getattr(raw, name) for name in _STATS_FIGURES}
    return figures, _records.CLASS_RECORDS.unpack(ffi.buffer(raw.classes))


def pymalloc_debug_text(reading: str, after_walk: Callable[[], object] | None = None
                        ) -> tuple[int, str, int, int]:
    """(status, CPython's pymalloc report or "" when none was printed,
    sys.getallocatedblocks(), after_walk()), all at one heap state."""
    status, raw = _fill(reading, "mv_pymalloc_text", "mv_pymalloc_debug_text",
                        after_walk)
    if status != OK:
        return status, "", 0, 0
    try:
        text = ffi.unpack(raw.text, raw.length).decode("ascii") if raw.printed else ""
        return status, text, raw.allocated_blocks, _after_walk_result(raw.after_walk_result)
    finally:
        lib.mv_pymalloc_text_free(raw)


def pymalloc_map(reading: str, after_walk: Callable[[], object] | None = None
                 ) -> tuple[int, bytes, memoryview | None, int]:
    """(status, the arena records of one walk (copied), a view of its pool records (the
    C buffer itself, freed when the last view of it goes), after_walk())."""
    status, raw = _fill(reading, "mv_pymalloc_map", "mv_pymalloc_read_map",
                        after_walk)
    if status != OK:
        return status, b"", None, 0
    try:
        arena_records = ffi.buffer(raw.arenas, raw.narenas * _records.ARENA_RECORD.size)[:]
        pools = ffi.gc(raw.pools, lib.mv_pymalloc_buffer_free)
        raw.pools = ffi.NULL
        view = memoryview(ffi.buffer(pools, raw.npools * _records.POOL_RECORD.size))
        after = raw.after_walk_result
    finally:
        lib.mv_pymalloc_map_free(raw)
    return status, arena_records, view, _after_walk_result(after)


def pymalloc_locate(reading: str, address: int
                    ) -> tuple[int, tuple[int, int, int, int, int] | None]:
    """(status, (arena, pool, block address, size class, block size) or None when the
    address is not in a pymalloc block). ``address`` is id() of an object the caller
    holds for the whole call."""
    status, raw = _fill(reading, "mv_pymalloc_block", "mv_pymalloc_locate", address=address)
    if status != OK or not raw.found:
        return status, None
    return status, (raw.arena_address, raw.pool_address, raw.block_address, raw.size_class,
                    raw.block_size)
