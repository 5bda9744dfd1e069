"""pymalloc, CPython's small-object allocator, read in place.

- ``layout()``: the allocator's constants as this interpreter was compiled with them.
- ``stats()``: every figure ``sys._debugmallocstats()`` prints about pymalloc, per size
  class and in total, from one walk of the arenas in C -- plus ``raw_blocks``, the object
  requests pymalloc passed on to malloc, so that ``blocks_in_use + raw_blocks`` is
  ``sys.getallocatedblocks()``.
- ``arenas()``: every live arena and each of its pools in use, from one walk.
- ``locate(obj)``: the arena, pool and block that hold an object, or None.
- ``allocator()``: the object allocator's name (``'pymalloc'``, ``'pymalloc_debug'``,
  ``'malloc'``, ...).

Where the state comes from: 3.12+ from the interpreter (``interp->obmalloc``); 3.10/3.11
from obmalloc.c's file-static variables, found through libpython's ELF symbol table.
Where that table is stripped (Debian's own ``python3.11``), ``stats()`` falls back on
``_PyObject_DebugMallocStats()`` written into memory and parsed (``memviz._debugstats``);
``arenas()`` and ``locate()`` raise ``UnsupportedInterpreter`` saying why.

When pymalloc is not the object allocator (``PYTHONMALLOC=malloc``, mimalloc, a
free-threaded build) the readings raise ``PymallocUnavailable`` naming the allocator.
Debug hooks (``PYTHONMALLOC=debug``, ``-X dev``) and tracemalloc's hooks sit in front of
pymalloc and change nothing here: the readings never depend on the debug report then.
"""
from __future__ import annotations

import contextlib
import struct
from dataclasses import dataclass
from typing import Callable, Iterator

from . import _debugstats, _native
from ._errors import MemvizError, PymallocUnavailable, UnsupportedInterpreter

__all__ = [
    "Arena",
    "Block",
    "Layout",
    "Pool",
    "PymallocStats",
    "SizeClass",
    "allocator",
    "arenas",
    "layout",
    "locate",
    "stats",
]


# ---- values --------------------------------------------------------------------------


@dataclass(frozen=True)
class Layout:
    """pymalloc's constants in this interpreter.

    A request of 1 to ``small_request_threshold`` bytes is served from size class
    ``(n - 1) // alignment``, whose blocks are ``block_sizes[class]`` bytes; a pool is
    ``pool_size`` bytes with a ``pool_overhead``-byte header and holds
    ``blocks_per_pool[class]`` blocks; an arena is ``arena_size`` bytes and holds
    ``pools_per_arena`` pools (one fewer when the arena is not pool-aligned).
    """

    alignment: int
    small_request_threshold: int
    pool_size: int
    arena_size: int
    pools_per_arena: int
    pool_overhead: int
    block_sizes: tuple[int, ...]

    @property
    def blocks_per_pool(self) -> tuple[int, ...]:
        """Blocks a pool of each size class holds."""
        usable = self.pool_size - self.pool_overhead
        return tuple(usable // size for size in self.block_sizes)

    def size_class_for(self, nbytes: int) -> int | None:
        """The size class that serves a request of ``nbytes``; None for requests pymalloc
        passes on to malloc (0 bytes, or more than ``small_request_threshold``)."""
        if 0 < nbytes <= self.small_request_threshold:
            return (nbytes - 1) // self.alignment
        return None

    def __str__(self) -> str:
        return (
            f"pymalloc: {len(self.block_sizes)} size classes of {self.block_sizes[0]}.."
            f"{self.block_sizes[-1]} bytes (alignment {self.alignment}, requests up to "
            f"{self.small_request_threshold} bytes); pools of {self.pool_size:,} bytes "
            f"({self.pool_overhead}-byte header), arenas of {self.arena_size:,} bytes "
            f"({self.pools_per_arena} pools)"
        )


@dataclass(frozen=True, slots=True)
class SizeClass:
    """One size class: its pools in use and their blocks."""

    index: int
    block_size: int
    pools: int
    blocks_in_use: int
    blocks_free: int

    def __str__(self) -> str:
        return (
            f"class {self.index} ({self.block_size} B): {self.pools:,} pools, "
            f"{self.blocks_in_use:,} blocks in use, {self.blocks_free:,} free"
        )


class _ClassCounts:
    """The per-class counts of one walk (pools, in use, free for each class), as the C
    core wrote them, with the block sizes of the layout."""

    __slots__ = ("counts", "block_sizes")

    def __init__(self, counts: tuple[int, ...], block_sizes: tuple[int, ...]):
        self.counts = counts
        self.block_sizes = block_sizes


class _SizeClasses:
    """The ``size_classes`` field of PymallocStats: a tuple of SizeClass. A walk stores
    its per-class counts; they become SizeClass values when ``size_classes`` is first
    read (the summary figures are computed from them at once)."""

    def __get__(self, reading, owner=None):
        if reading is None:
            return ()       # the field's default
        value = reading.__dict__["_size_classes"]
        if isinstance(value, _ClassCounts):
            counts, sizes = value.counts, value.block_sizes
            value = tuple(map(_make_size_class, zip(
                range(len(sizes)), sizes, counts[0::3], counts[1::3], counts[2::3])))
            reading.__dict__["_size_classes"] = value
        return value

    def __set__(self, reading, value):
        reading.__dict__["_size_classes"] = (
            value if isinstance(value, _ClassCounts) else tuple(value))


@dataclass(frozen=True)
class PymallocStats:
    """pymalloc at the moment of one reading: every figure of ``sys._debugmallocstats()``.

    ``size_classes`` has one entry per size class (``size_classes[i].index == i``),
    including those without pools, which the report leaves out. ``raw_blocks`` counts
    object requests pymalloc passed on to malloc (0 bytes or over the threshold):
    ``blocks_in_use + raw_blocks == sys.getallocatedblocks()``. The byte figures add up:
    ``allocated_bytes + available_bytes + unused_pool_bytes + pool_header_bytes +
    quantization_bytes + arena_alignment_bytes == total_bytes == arena_bytes``. The
    arena-map figures describe pymalloc's radix tree (0 in a build without one).
    ``source`` (not a field) says where a reading came from: ``"walk"`` (read in place)
    or ``"debug report"`` (the fallback).
    """

    arenas_allocated_total: int
    arenas_reclaimed: int
    arenas_highwater: int
    arenas_current: int
    arena_bytes: int
    blocks_in_use: int
    blocks_free: int
    raw_blocks: int
    allocated_bytes: int
    available_bytes: int
    unused_pools: int
    unused_pool_bytes: int
    pool_header_bytes: int
    quantization_bytes: int
    arena_alignment_bytes: int
    total_bytes: int
    arena_map_mid_nodes: int
    arena_map_bot_nodes: int
    arena_map_root_bytes: int
    arena_map_mid_bytes: int
    arena_map_bot_bytes: int
    arena_map_bytes: int
    size_classes: tuple[SizeClass, ...] = _SizeClasses()   # type: ignore[assignment]

    @property
    def source(self) -> str:
        return self.__dict__.get("_source", "walk")

    def __reduce__(self):
        values = {name: getattr(self, name) for name in self.__dataclass_fields__}
        return (_rebuild_stats, (values, self.source))

    def __str__(self) -> str:
        lines = [
            "class   size   num pools   blocks in use  avail blocks",
            "-----   ----   ---------   -------------  ------------",
        ]
        lines += [
            f"{c.index:5} {c.block_size:6} {c.pools:11} {c.blocks_in_use:15} {c.blocks_free:13}"
            for c in self.size_classes
            if c.pools
        ]
        summary = [
            ("arenas allocated total", self.arenas_allocated_total),
            ("arenas reclaimed", self.arenas_reclaimed),
            ("arenas highwater mark", self.arenas_highwater),
            ("arenas allocated current", self.arenas_current),
            ("bytes in arenas", self.arena_bytes),
            ("bytes in allocated blocks", self.allocated_bytes),
            ("bytes in available blocks", self.available_bytes),
            (f"bytes in {self.unused_pools:,} unused pools", self.unused_pool_bytes),
            ("bytes lost to pool headers", self.pool_header_bytes),
            ("bytes lost to quantization", self.quantization_bytes),
            ("bytes lost to arena alignment", self.arena_alignment_bytes),
            ("blocks in use", self.blocks_in_use),
            ("blocks passed on to malloc", self.raw_blocks),
        ]
        if self.arena_map_bytes:
            summary.append(("bytes in the arena map", self.arena_map_bytes))
        lines.append("")
        lines += [f"{label:35}= {value:>20,}" for label, value in summary]
        return "\n".join(lines)


@dataclass(frozen=True, slots=True)
class Pool:
    """A pool in use: ``blocks_in_use`` of its ``capacity`` blocks of ``block_size``."""

    address: int
    size_class: int
    block_size: int
    blocks_in_use: int
    capacity: int

    @property
    def blocks_free(self) -> int:
        return self.capacity - self.blocks_in_use

    def __repr__(self) -> str:
        return (
            f"Pool(address={self.address:#x}, size_class={self.size_class}, "
            f"block_size={self.block_size}, blocks_in_use={self.blocks_in_use}, "
            f"capacity={self.capacity})"
        )

    def __str__(self) -> str:
        return (
            f"pool {self.address:#x}: {self.blocks_in_use}/{self.capacity} blocks of "
            f"{self.block_size} B"
        )


_ARENA_RECORD = struct.Struct("=5Q")       # mv_pymalloc_arena
_POOL_RECORD = struct.Struct("=5Q")        # mv_pymalloc_pool: Pool's fields, in order
_CLASS_RECORDS = struct.Struct("=192Q")    # mv_pymalloc_stats.classes: 64 x (pools, in use, free)


def _fast_constructor(cls):
    """A constructor of a frozen, slotted dataclass of five fields that sets the slots
    directly instead of going through the generated __init__ (one object.__setattr__
    call per field): the same object, twice as fast -- for the readings, which make
    thousands of them (Pool, SizeClass)."""
    new = object.__new__
    s0, s1, s2, s3, s4 = (getattr(cls, name).__set__ for name in cls.__dataclass_fields__)

    def make(values):
        obj = new(cls)
        s0(obj, values[0])
        s1(obj, values[1])
        s2(obj, values[2])
        s3(obj, values[3])
        s4(obj, values[4])
        return obj

    return make


_make_pool = _fast_constructor(Pool)
_make_size_class = _fast_constructor(SizeClass)


class _PoolRecords:
    """An arena's pools as the reading wrote them (mv_pymalloc_pool records): a view of
    the C buffer, which stays allocated while a view of it exists."""

    __slots__ = ("view",)

    def __init__(self, view: memoryview):
        self.view = view


class _Pools:
    """The ``pools`` field of Arena: a tuple of Pool. A reading stores the pools'
    records, written in the same walk as the arena; they become Pool values when
    ``pools`` is first read, so that a map of every arena stays cheap to take."""

    def __get__(self, arena, owner=None):
        if arena is None:
            return ()       # the field's default
        value = arena.__dict__["_pools"]
        if isinstance(value, _PoolRecords):
            value = tuple(map(_make_pool, _POOL_RECORD.iter_unpack(value.view)))
            arena.__dict__["_pools"] = value
        return value

    def __set__(self, arena, value):
        arena.__dict__["_pools"] = value if isinstance(value, _PoolRecords) else tuple(value)


@dataclass(frozen=True)
class Arena:
    """A live arena: ``pools_total`` pools of which ``pools_free`` are empty or never
    used; ``pools`` are the others (in use), in address order. ``index`` is the arena's
    slot in pymalloc's arenas vector."""

    address: int
    index: int
    pools_total: int
    pools_free: int
    pools: tuple[Pool, ...] = _Pools()   # type: ignore[assignment]

    @property
    def pools_used(self) -> int:
        value = self.__dict__["_pools"]
        if isinstance(value, _PoolRecords):
            return len(value.view) // _POOL_RECORD.size
        return len(value)

    def __reduce__(self):
        return (Arena, (self.address, self.index, self.pools_total, self.pools_free, self.pools))

    def __repr__(self) -> str:
        return (
            f"Arena(address={self.address:#x}, index={self.index}, "
            f"pools_total={self.pools_total}, pools_free={self.pools_free}, "
            f"pools=<{self.pools_used} Pool>)"
        )

    def __str__(self) -> str:
        return (
            f"arena {self.index} at {self.address:#x}: {self.pools_used} of "
            f"{self.pools_total} pools in use, {self.pools_free} free"
        )


@dataclass(frozen=True)
class Block:
    """The pymalloc block that holds an object. ``object_offset`` is how far into the
    block the object starts: its pre-headers (``PyGC_Head``; on 3.11+ the managed
    dict/weakref pointers) and, under debug hooks, their 16-byte prefix."""

    arena_address: int
    pool_address: int
    block_address: int
    size_class: int
    block_size: int
    object_offset: int

    def __repr__(self) -> str:
        return (
            f"Block(arena_address={self.arena_address:#x}, pool_address={self.pool_address:#x}, "
            f"block_address={self.block_address:#x}, size_class={self.size_class}, "
            f"block_size={self.block_size}, object_offset={self.object_offset})"
        )

    def __str__(self) -> str:
        return (
            f"{self.block_size}-byte block {self.block_address:#x} (class {self.size_class}) "
            f"in pool {self.pool_address:#x} of arena {self.arena_address:#x}"
        )


# ---- the C core ----------------------------------------------------------------------

_force_fallback = False
_layout_cache: Layout | None = None


@contextlib.contextmanager
def _forced_fallback() -> Iterator[None]:
    """Test hook: within it, memviz behaves as if pymalloc's state could not be read
    directly (a stripped 3.10/3.11): stats() parses the debug report, arenas() and
    locate() refuse."""
    global _force_fallback
    previous, _force_fallback = _force_fallback, True
    try:
        yield
    finally:
        _force_fallback = previous


def _require(reading: str):
    if _native.free_threaded():
        raise PymallocUnavailable(
            f"{reading}: pymalloc is not the object allocator in a free-threaded build "
            "(objects come from mimalloc)"
        )
    return _native.require_core(reading)


def layout() -> Layout:
    """pymalloc's constants, as compiled into memviz's C core from this interpreter's
    headers (3.12+) or its version's obmalloc.c (3.10/3.11, checked against the
    interpreter when its state is read)."""
    global _layout_cache
    if _layout_cache is None:
        lib = _require("memviz.pymalloc.layout()")
        raw = _native.ffi.new("mv_pymalloc_layout *")
        _native.check("memviz.pymalloc.layout()", lib.mv_pymalloc_read_layout(raw))
        count = raw.size_classes
        lay = Layout(
            alignment=raw.alignment,
            small_request_threshold=raw.small_request_threshold,
            pool_size=raw.pool_size,
            arena_size=raw.arena_size,
            pools_per_arena=raw.pools_per_arena,
            pool_overhead=raw.pool_overhead,
            block_sizes=tuple(raw.block_sizes[0:count]),
        )
        if lay.blocks_per_pool != tuple(raw.blocks_per_pool[0:count]):
            raise MemvizError("memviz.pymalloc.layout(): NUMBLOCKS disagrees with the layout")
        _compiled.update(
            debug_prefix=raw.debug_prefix, map_root=raw.arena_map_root_bytes,
            map_mid=raw.arena_map_mid_bytes, map_bot=raw.arena_map_bot_bytes,
        )
        _layout_cache = lay
    return _layout_cache


#: Other compiled constants: the debug hooks' prefix and the radix tree's node sizes.
_compiled: dict[str, int] = {}


def _debug_prefix() -> int:
    """Bytes that debug hooks put in front of the memory they hand out."""
    layout()
    return _compiled["debug_prefix"]


def allocator() -> str:
    """The object allocator: ``'pymalloc'``, ``'pymalloc_debug'`` (behind debug hooks),
    ``'malloc'``, ``'malloc_debug'``, ``'mimalloc'``, ``'mimalloc_debug'``; when other
    hooks (tracemalloc) hide the name, what serves memory under them, followed by
    ``' (under allocator hooks)'``, or ``'custom'``."""
    _require("memviz.pymalloc.allocator()")
    info = _info()
    if info.allocator:
        return info.allocator
    if info.pymalloc == 1:
        return ("pymalloc_debug" if info.debug_hooks == 1 else "pymalloc") + \
            " (under allocator hooks)"
    if info.pymalloc == 0:
        return "custom"
    return "unknown (under allocator hooks)"


@dataclass(frozen=True)
class _Info:
    allocator: str          # "" when hooks hide it
    pymalloc: int           # 1, 0, -1 unknown
    debug_hooks: int
    direct: int             # MV_OK, or the status that says why not
    problem: str


def _info() -> _Info:
    raw = _native.ffi.new("mv_pymalloc_info *")
    raw.interpreter_id = _native.interpreter_id()
    _native.lib.mv_pymalloc_read_info(raw)
    ffi, lib = _native.ffi, _native.lib
    direct, problem = raw.direct, ffi.string(raw.problem).decode(errors="replace")
    if _force_fallback and direct == lib.MV_OK:
        direct, problem = lib.MV_ERR_NO_SYMBOLS, "the fallback is forced (a memviz test hook)"
    return _Info(
        ffi.string(raw.allocator).decode(errors="replace"), raw.pymalloc, raw.debug_hooks,
        direct, problem,
    )


_ALLOCATORS = {
    "malloc": "'malloc' (PYTHONMALLOC=malloc: objects come from the C library's malloc)",
    "malloc_debug": "'malloc_debug' (PYTHONMALLOC=malloc_debug: the C library's malloc "
                    "behind debug hooks)",
    "mimalloc": "'mimalloc' (PYTHONMALLOC=mimalloc)",
    "mimalloc_debug": "'mimalloc_debug' (PYTHONMALLOC=mimalloc_debug)",
}


def _allocator_name(info: _Info) -> str:
    if info.allocator:
        return _ALLOCATORS.get(info.allocator, repr(info.allocator))
    return "a custom allocator installed with PyMem_SetAllocator(), not pymalloc"


def _unavailable(reading: str, info: _Info) -> PymallocUnavailable:
    return PymallocUnavailable(
        f"{reading}: pymalloc is not the object allocator here; the active allocator is "
        f"{_allocator_name(info)}"
    )


def _no_direct_reading(reading: str, info: _Info) -> UnsupportedInterpreter:
    return _native.unsupported(
        reading,
        f"pymalloc's arenas cannot be read directly: {info.problem} (only the per-class "
        "totals of memviz.pymalloc.stats() are available, from CPython's debug report)",
    )


def _error(reading: str, status: int) -> MemvizError:
    lib = _native.lib
    if status == lib.MV_ERR_PYMALLOC_OFF:
        info = _info()
        if info.pymalloc == 0:
            return _unavailable(reading, info)
    if status == lib.MV_ERR_NO_SYMBOLS:
        return _no_direct_reading(reading, _info())
    return _native.status_error(reading, status)


def _callable_id(after_walk: Callable[[], object] | None) -> int:
    return 0 if after_walk is None else id(after_walk)


def _after_walk_result(value: int) -> int:
    if value == -(2**63):
        raise MemvizError("the after_walk callable raised or returned a non-int")
    return value


# ---- stats ---------------------------------------------------------------------------


def stats() -> PymallocStats:
    """pymalloc's figures, from one walk of the arenas in C (or, where the arenas cannot
    be read directly, from CPython's own report). Raises ``PymallocUnavailable`` when
    pymalloc is not the object allocator."""
    return _stats()[0]


def _stats(after_walk: Callable[[], object] | None = None) -> tuple[PymallocStats, int]:
    """stats() and the result of ``after_walk()``, called in C right after the walk,
    at the same heap state (tests)."""
    reading = "memviz.pymalloc.stats()"
    lib = _require(reading)
    if _force_fallback:
        return _fallback_stats(after_walk)
    raw = _native.ffi.new("mv_pymalloc_stats *")
    raw.interpreter_id = _native.interpreter_id()
    raw.after_walk = _callable_id(after_walk)
    status = lib.mv_pymalloc_read_stats(raw)
    if status == lib.MV_ERR_NO_SYMBOLS:
        return _fallback_stats(after_walk)
    if status != lib.MV_OK:
        raise _error(reading, status)
    return _stats_from_walk(raw, layout()), _after_walk_result(raw.after_walk_result)


def _stats_from_walk(raw, lay: Layout) -> PymallocStats:
    counts = _CLASS_RECORDS.unpack(_native.ffi.buffer(raw.classes))
    end = 3 * len(lay.block_sizes)
    unused_pool_bytes = raw.unused_pools * lay.pool_size
    allocated, available = raw.allocated_bytes, raw.available_bytes
    headers, quantization = raw.pool_header_bytes, raw.quantization_bytes
    alignment, current, total = raw.arena_alignment_bytes, raw.arenas_current, \
        raw.arenas_allocated_total
    mid_nodes = max(raw.arena_map_mid_nodes, 0)     # -1: no radix tree
    bot_nodes = max(raw.arena_map_bot_nodes, 0)
    root = _compiled["map_root"]
    mid, bot = mid_nodes * _compiled["map_mid"], bot_nodes * _compiled["map_bot"]
    return _make_stats({
        "arenas_allocated_total": total,
        "arenas_reclaimed": total - current,
        "arenas_highwater": raw.arenas_highwater,
        "arenas_current": current,
        "arena_bytes": current * lay.arena_size,
        "blocks_in_use": sum(counts[1:end:3]),
        "blocks_free": sum(counts[2:end:3]),
        "raw_blocks": raw.raw_blocks,
        "allocated_bytes": allocated,
        "available_bytes": available,
        "unused_pools": raw.unused_pools,
        "unused_pool_bytes": unused_pool_bytes,
        "pool_header_bytes": headers,
        "quantization_bytes": quantization,
        "arena_alignment_bytes": alignment,
        "total_bytes": allocated + available + unused_pool_bytes + headers + quantization
                       + alignment,
        "arena_map_mid_nodes": mid_nodes,
        "arena_map_bot_nodes": bot_nodes,
        "arena_map_root_bytes": root,
        "arena_map_mid_bytes": mid,
        "arena_map_bot_bytes": bot,
        "arena_map_bytes": root + mid + bot,
        "_size_classes": _ClassCounts(counts, lay.block_sizes),
        "_source": "walk",
    })


def _make_stats(fields: dict) -> PymallocStats:
    """A PymallocStats with these fields (and ``_size_classes``, ``_source``) in its
    dict, without its generated __init__ (23 object.__setattr__ calls)."""
    reading = object.__new__(PymallocStats)
    object.__setattr__(reading, "__dict__", fields)
    return reading


def _rebuild_stats(values: dict, source: str) -> PymallocStats:
    return _with_source(PymallocStats(**values), source)


def _with_source(reading: PymallocStats, source: str) -> PymallocStats:
    object.__setattr__(reading, "_source", source)
    return reading


def _debug_report(reading: str, after_walk: Callable[[], object] | None = None
                  ) -> tuple[str, int, int]:
    """(text, sys.getallocatedblocks(), after_walk()) from _PyObject_DebugMallocStats()
    written into memory, all at one heap state; text is "" when nothing was printed."""
    lib, ffi = _native.lib, _native.ffi
    raw = ffi.new("mv_pymalloc_text *")
    raw.interpreter_id = _native.interpreter_id()
    raw.after_walk = _callable_id(after_walk)
    status = lib.mv_pymalloc_debug_text(raw)
    if status != lib.MV_OK:
        raise _error(reading, status)
    try:
        text = ffi.unpack(raw.text, raw.length).decode("ascii") if raw.printed else ""
        return text, raw.allocated_blocks, _after_walk_result(raw.after_walk_result)
    finally:
        lib.mv_pymalloc_text_free(raw)


def _fallback_stats(after_walk: Callable[[], object] | None = None
                    ) -> tuple[PymallocStats, int]:
    """stats() from CPython's debug report: the fallback where pymalloc's state cannot
    be read directly. Per-class totals and summary figures only (no arena map)."""
    reading = "memviz.pymalloc.stats()"
    text, allocated_blocks, after = _debug_report(reading, after_walk)
    report = _debugstats.parse(text)
    if report is None:
        info = _info()
        if info.pymalloc == 0:
            raise _unavailable(reading, info)
        raise _native.unsupported(
            reading,
            f"pymalloc's state cannot be read directly ({info.problem}), and CPython printed "
            "no pymalloc report: allocator hooks (tracemalloc while it traces) hide it",
        )
    return _stats_from_report(report, allocated_blocks, layout(), reading), after


def _stats_from_report(report: _debugstats.DebugMallocStats, allocated_blocks: int,
                       lay: Layout, reading: str = "memviz.pymalloc.stats()"
                       ) -> PymallocStats:
    """PymallocStats from a parsed report and sys.getallocatedblocks() taken at the same
    heap state (raw_blocks is their difference)."""
    mismatch = (
        report.small_request_threshold != lay.small_request_threshold
        or report.size_class_count != len(lay.block_sizes)
        or report.arena_size != lay.arena_size
        or report.pool_size != lay.pool_size
        or any(line.size != lay.block_sizes[line.index] for line in report.classes
               if line.index < len(lay.block_sizes))
        or any(line.index >= len(lay.block_sizes) for line in report.classes)
    )
    if mismatch:
        raise _native.unsupported(
            reading, "this interpreter's pymalloc constants differ from those memviz was "
            "built with (" + str(lay) + ")",
        )
    rows = {line.index: line for line in report.classes}
    classes = tuple(
        SizeClass(i, size, rows[i].pools, rows[i].blocks_in_use, rows[i].blocks_free)
        if i in rows else SizeClass(i, size, 0, 0, 0)
        for i, size in enumerate(lay.block_sizes)
    )
    in_use = sum(c.blocks_in_use for c in classes)
    return _with_source(PymallocStats(
        arenas_allocated_total=report.arenas_allocated_total,
        arenas_reclaimed=report.arenas_reclaimed,
        arenas_highwater=report.arenas_highwater,
        arenas_current=report.arenas_current,
        arena_bytes=report.arena_bytes,
        blocks_in_use=in_use,
        blocks_free=sum(c.blocks_free for c in classes),
        raw_blocks=allocated_blocks - in_use,
        allocated_bytes=report.allocated_bytes,
        available_bytes=report.available_bytes,
        unused_pools=report.unused_pools,
        unused_pool_bytes=report.unused_pool_bytes,
        pool_header_bytes=report.pool_header_bytes,
        quantization_bytes=report.quantization_bytes,
        arena_alignment_bytes=report.arena_alignment_bytes,
        total_bytes=report.total_bytes,
        arena_map_mid_nodes=report.arena_map_mid_nodes or 0,
        arena_map_bot_nodes=report.arena_map_bot_nodes or 0,
        arena_map_root_bytes=report.arena_map_root_bytes or 0,
        arena_map_mid_bytes=report.arena_map_mid_bytes or 0,
        arena_map_bot_bytes=report.arena_map_bot_bytes or 0,
        arena_map_bytes=report.arena_map_total_bytes or 0,
        size_classes=classes,
    ), "debug report")


# ---- the arena map -------------------------------------------------------------------


def arenas() -> tuple[Arena, ...]:
    """Every live arena, in slot order, with its pools in use, from one walk in C (one
    consistent reading: nothing is allocated from pymalloc while it runs)."""
    return _arenas()[0]


def _arenas(after_walk: Callable[[], object] | None = None) -> tuple[tuple[Arena, ...], int]:
    arena_records, pools, after = _map_records("memviz.pymalloc.arenas()", after_walk)
    result = []
    start = 0
    new = object.__new__
    for address, index, total, free, used in _ARENA_RECORD.iter_unpack(arena_records):
        end = start + used * _POOL_RECORD.size
        arena = new(Arena)      # Arena's fields, without its generated __init__
        arena.__dict__.update(address=address, index=index, pools_total=total,
                              pools_free=free, _pools=_PoolRecords(pools[start:end]))
        result.append(arena)
        start = end
    return tuple(result), after


def _map_records(reading: str, after_walk: Callable[[], object] | None = None
                 ) -> tuple[bytes, memoryview, int]:
    """The arena records of one walk (copied) and a view of its pool records (the C
    buffer itself, freed when the last view of it goes): mv_pymalloc_arena /
    mv_pymalloc_pool, five native uint64 each."""
    lib, ffi = _require(reading), _native.ffi
    if _force_fallback:
        raise _no_direct_reading(reading, _info())
    raw = ffi.new("mv_pymalloc_map *")
    raw.interpreter_id = _native.interpreter_id()
    raw.after_walk = _callable_id(after_walk)
    status = lib.mv_pymalloc_read_map(raw)
    if status != lib.MV_OK:
        raise _error(reading, status)
    try:
        arena_records = ffi.buffer(raw.arenas, raw.narenas * _ARENA_RECORD.size)[:]
        pools = ffi.gc(raw.pools, lib.mv_pymalloc_buffer_free)
        raw.pools = ffi.NULL
        view = memoryview(ffi.buffer(pools, raw.npools * _POOL_RECORD.size))
        after = raw.after_walk_result
    finally:
        lib.mv_pymalloc_map_free(raw)
    return arena_records, view, _after_walk_result(after)


def _arena_columns() -> tuple[bytes, bytes]:
    """The arena map as memviz.snapshot keeps it: arena rows (address, index,
    pools_total, pools_free, pools used) and pool rows (Pool's fields), each value a
    native uint64 (array('Q')) -- the C records themselves, with no Python objects per
    pool."""
    arena_records, pools, _ = _map_records("memviz.pymalloc.arenas()")
    return arena_records, pools.tobytes()


# ---- locate --------------------------------------------------------------------------


def locate(obj: object) -> Block | None:
    """The pymalloc block that holds ``obj``; None when ``obj`` is not in one (static
    objects such as None, built-in types and, on 3.12+, small ints; objects larger than
    pymalloc's threshold, which come from malloc)."""
    reading = "memviz.pymalloc.locate()"
    lib = _require(reading)
    if _force_fallback:
        raise _no_direct_reading(reading, _info())
    raw = _native.ffi.new("mv_pymalloc_block *")
    raw.interpreter_id = _native.interpreter_id()
    address = id(obj)       # obj stays referenced by this frame during the call
    raw.address = address
    status = lib.mv_pymalloc_locate(raw)
    if status != lib.MV_OK:
        raise _error(reading, status)
    if not raw.found:
        return None
    return Block(
        arena_address=raw.arena_address,
        pool_address=raw.pool_address,
        block_address=raw.block_address,
        size_class=raw.size_class,
        block_size=raw.block_size,
        object_offset=address - raw.block_address,
    )


# ---- capabilities --------------------------------------------------------------------


def _capability_reasons() -> dict[str, str | None]:
    """Why each pymalloc reading does not work here (None when it does)."""
    names = ("pymalloc.stats", "pymalloc.arenas", "pymalloc.locate")
    problem = _native.interpreter_problem()
    if _native.free_threaded():
        problem = "free-threaded builds allocate objects with mimalloc, not pymalloc"
    if problem is None and _native.objects is None:
        problem = "memviz's C-API functions could not be registered"
    if problem is not None:
        return dict.fromkeys(names, problem)
    info = _info()
    if info.pymalloc == 0:
        return dict.fromkeys(names, f"the object allocator is {_allocator_name(info)}")
    if info.direct == _native.lib.MV_OK:
        return dict.fromkeys(names, None)
    direct = f"pymalloc's arenas cannot be read directly: {info.problem}"
    stats_reason = None
    if not info.allocator:
        stats_reason = (
            f"{direct}, and allocator hooks (tracemalloc while it traces) hide CPython's "
            "pymalloc report"
        )
    return {"pymalloc.stats": stats_reason, "pymalloc.arenas": direct,
            "pymalloc.locate": direct}
