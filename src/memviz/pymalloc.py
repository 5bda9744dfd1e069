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

from dataclasses import dataclass
from typing import Callable

from . import _debugstats, _native
from ._errors import MemvizError, PymallocUnavailable, UnsupportedInterpreter
from ._records import ARENA_RECORD, CLASS_RECORDS, POOL_RECORD
from .values.pymalloc import (Arena, Block, Layout, Pool, PymallocStats, SizeClass, _ClassCounts,
                              _make_stats, _PoolRecords, _with_source)

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


# ---- the C core ----------------------------------------------------------------------

_layout_cache: Layout | None = None


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
    counts = CLASS_RECORDS.unpack(_native.ffi.buffer(raw.classes))
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
    for address, index, total, free, used in ARENA_RECORD.iter_unpack(arena_records):
        end = start + used * POOL_RECORD.size
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
    raw = ffi.new("mv_pymalloc_map *")
    raw.interpreter_id = _native.interpreter_id()
    raw.after_walk = _callable_id(after_walk)
    status = lib.mv_pymalloc_read_map(raw)
    if status != lib.MV_OK:
        raise _error(reading, status)
    try:
        arena_records = ffi.buffer(raw.arenas, raw.narenas * ARENA_RECORD.size)[:]
        pools = ffi.gc(raw.pools, lib.mv_pymalloc_buffer_free)
        raw.pools = ffi.NULL
        view = memoryview(ffi.buffer(pools, raw.npools * POOL_RECORD.size))
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
