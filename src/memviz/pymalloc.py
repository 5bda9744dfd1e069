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
from ._records import ARENA_RECORD, POOL_RECORD
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


def _require(reading: str) -> None:
    """PymallocUnavailable on a free-threaded build (objects come from mimalloc), or
    UnsupportedInterpreter where the core cannot read this interpreter."""
    if _native.free_threaded():
        raise PymallocUnavailable(f"{reading}: {_native.pymalloc_problem()}")
    _native.require_core(reading)


def layout() -> Layout:
    """pymalloc's constants, as compiled into memviz's C core from this interpreter's
    headers (3.12+) or its version's obmalloc.c (3.10/3.11, checked against the
    interpreter when its state is read)."""
    global _layout_cache
    if _layout_cache is None:
        reading = "memviz.pymalloc.layout()"
        _require(reading)
        compiled = _native.pymalloc_layout(reading)
        blocks_per_pool = compiled.pop("blocks_per_pool")
        for name in ("debug_prefix", "map_root", "map_mid", "map_bot"):
            _compiled[name] = compiled.pop(name)
        lay = Layout(**compiled)
        if lay.blocks_per_pool != blocks_per_pool:
            raise MemvizError(f"{reading}: NUMBLOCKS disagrees with the layout")
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
    return _Info(*_native.pymalloc_info())


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


def _error(reading: str, status: int) -> Exception:
    """The exception for a status of a pymalloc reading: ``_native.status_error``'s, with
    what pymalloc knows added (which allocator it is; why the state cannot be read)."""
    if status == _native.PYMALLOC_OFF:
        info = _info()
        if info.pymalloc == 0:
            return _unavailable(reading, info)
    if status == _native.NO_SYMBOLS:
        return _no_direct_reading(reading, _info())
    return _native.status_error(reading, status)


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
    _require(reading)
    status, figures, counts, after = _native.pymalloc_stats(reading, after_walk)
    if status == _native.NO_SYMBOLS:
        return _fallback_stats(after_walk)
    if figures is None or counts is None:
        raise _error(reading, status)
    return _stats_from_walk(figures, counts, layout()), after


def _stats_from_walk(raw: dict[str, int], counts: tuple[int, ...], lay: Layout
                     ) -> PymallocStats:
    end = 3 * len(lay.block_sizes)
    unused_pool_bytes = raw["unused_pools"] * lay.pool_size
    allocated, available = raw["allocated_bytes"], raw["available_bytes"]
    headers, quantization = raw["pool_header_bytes"], raw["quantization_bytes"]
    alignment, current, total = raw["arena_alignment_bytes"], raw["arenas_current"], \
        raw["arenas_allocated_total"]
    mid_nodes = max(raw["arena_map_mid_nodes"], 0)     # -1: no radix tree
    bot_nodes = max(raw["arena_map_bot_nodes"], 0)
    root = _compiled["map_root"]
    mid, bot = mid_nodes * _compiled["map_mid"], bot_nodes * _compiled["map_bot"]
    return _make_stats({
        "arenas_allocated_total": total,
        "arenas_reclaimed": total - current,
        "arenas_highwater": raw["arenas_highwater"],
        "arenas_current": current,
        "arena_bytes": current * lay.arena_size,
        "blocks_in_use": sum(counts[1:end:3]),
        "blocks_free": sum(counts[2:end:3]),
        "raw_blocks": raw["raw_blocks"],
        "allocated_bytes": allocated,
        "available_bytes": available,
        "unused_pools": raw["unused_pools"],
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
    status, text, allocated_blocks, after = _native.pymalloc_debug_text(reading, after_walk)
    if status != _native.OK:
        raise _error(reading, status)
    return text, allocated_blocks, after


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
    _require(reading)
    status, arena_records, pools, after = _native.pymalloc_map(reading, after_walk)
    if pools is None:
        raise _error(reading, status)
    return arena_records, pools, after


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
    _require(reading)
    address = id(obj)       # obj stays referenced by this frame during the call
    status, found = _native.pymalloc_locate(reading, address)
    if status != _native.OK:
        raise _error(reading, status)
    if found is None:
        return None
    arena_address, pool_address, block_address, size_class, block_size = found
    return Block(
        arena_address=arena_address,
        pool_address=pool_address,
        block_address=block_address,
        size_class=size_class,
        block_size=block_size,
        object_offset=address - block_address,
    )


# ---- capabilities --------------------------------------------------------------------


def _capability_reasons() -> dict[str, str | None]:
    """Why each pymalloc reading does not work here (None when it does)."""
    names = ("pymalloc.stats", "pymalloc.arenas", "pymalloc.locate")
    problem = _native.pymalloc_problem()
    if problem is not None:
        return dict.fromkeys(names, problem)
    info = _info()
    if info.pymalloc == 0:
        return dict.fromkeys(names, f"the object allocator is {_allocator_name(info)}")
    if info.direct == _native.OK:
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
