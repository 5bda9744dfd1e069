"""pymalloc, CPython's small-object allocator, read in place.

- ``layout()``: the allocator's constants as this interpreter was compiled with them.
- ``stats()``: every figure ``sys._debugmallocstats()`` prints about pymalloc, per size
  class and in total, from one walk of the arenas in C -- plus ``raw_blocks``, the object
  requests pymalloc passed on to malloc, so that ``blocks_in_use + raw_blocks`` is
  ``sys.getallocatedblocks()``.
- ``arenas()``: every live arena and each of its pools in use, from one walk.
- ``locate(obj)``: the arena, pool and block that hold an object, or None.
- ``pinning(arena_or_index=None)``: what keeps each sparse arena allocated -- the live
  objects in it, by type (``Pin``), from one census walk in C; ``arena_pins()`` adds each
  arena's blocks that no reached object holds (``ArenaPins``).
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

import bisect
import struct
from dataclasses import dataclass
from typing import Callable

from . import _debugstats, _native
from ._errors import MemvizError, PymallocUnavailable, UnsupportedInterpreter
from ._records import ARENA_RECORD, POOL_RECORD
from .holders import grouped_with_paths
from .values.fragmentation import is_sparse
from .values.names import type_name
from .values.pymalloc import (Arena, ArenaPins, Block, Layout, Pin, Pool, PymallocStats,
                              SizeClass, _ClassCounts, _make_stats, _PoolRecords, _with_source)

__all__ = [
    "Arena",
    "ArenaPins",
    "Block",
    "Layout",
    "Pin",
    "Pool",
    "PymallocStats",
    "SizeClass",
    "allocator",
    "arena_pins",
    "arenas",
    "layout",
    "locate",
    "pinning",
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


# ---- what pins the sparse arenas -------------------------------------------------------

_PINNING = "memviz.pymalloc.pinning()"


def pinning(arena_or_index: Arena | int | None = None) -> tuple[Pin, ...]:
    """What keeps each sparse arena allocated (``memviz.snapshot.is_sparse``, the rule the
    arena map and ``Snapshot.fragmentation()`` apply): the live objects in its blocks, one
    :class:`Pin` per arena and type, arena by arena in index order, most bytes first. ``arena_or_index`` asks about one
    arena instead, sparse or not: an ``Arena`` of a reading (still live) or its index as
    ``arenas()`` numbers them. One census walk in C (an object lies in the arena whose
    address range holds it), then one path search per pin."""
    return tuple(pin for arena in arena_pins(arena_or_index) for pin in arena.pins)


def arena_pins(arena_or_index: Arena | int | None = None) -> tuple[ArenaPins, ...]:
    """``pinning()`` arena by arena, in index order: an :class:`ArenaPins` for each, with
    the blocks in use that hold no object the walk reaches counted apart (raw
    ``PyMem_Malloc`` buffers, objects held only from C, objects waiting on CPython's free
    lists). No walk at all when no arena is sparse."""
    records, pools, _ = _map_records(_PINNING)
    lay = layout()
    chosen = _chosen_arenas(records, pools, arena_or_index, lay.arena_size)
    if not chosen:
        return ()
    # The walk meets what this frame holds (a running frame is a root): during it, only
    # these two bytes objects, which are left out of what it finds. An address or an index
    # as an int object would be a small block of its own, likely in a sparse arena.
    bounds = struct.pack(f"={2 * len(chosen)}Q", *(edge for address, _ in chosen
                                                   for edge in (address, address + lay.arena_size)))
    indexes = struct.pack(f"={len(chosen)}q", *(index for _, index in chosen))
    del records, pools, chosen
    objects, sizes = _native.census_in_ranges(_PINNING, bounds)
    # The pools right after the walk, before this function makes any object: every object
    # the walk found is still held, so in a block in use.
    records, pools, _ = _map_records(_PINNING)
    for i in reversed(range(len(objects))):
        if objects[i] is bounds or objects[i] is indexes:
            del objects[i], sizes[i]
    starts = struct.unpack(f"={len(bounds) // 8}Q", bounds)[0::2]
    # No local may hold a found object while the paths are searched (a running frame is a
    # root): the list is held only through the box, which the search does not follow.
    box = [objects]
    del objects
    pins = _pins(box, sizes, starts)
    rows = {address: pool_records for address, _, pool_records in _arena_rows(records, pools)}
    every = (_arena_pins(address, index, tuple(arena), rows.get(address), lay)
             for address, index, arena in zip(starts, struct.unpack(f"={len(starts)}q", indexes),
                                              pins))
    return tuple(sorted(every, key=lambda arena: arena.index))


def _pins(box: list, sizes: list[int], starts: tuple[int, ...]) -> list[list[Pin]]:
    """The Pins of each arena (``starts``: their addresses, sorted) from the objects the
    walk found (``box[0]``, held only through ``box``) and their sizes: one per type, most
    bytes first, with a path to the largest."""
    def arena_and_type(obj: object) -> tuple[int, type]:
        return bisect.bisect_right(starts, id(obj)) - 1, type(obj)

    groups = grouped_with_paths(box, sizes, arena_and_type, _PINNING)
    objects = box[0]    # only now: a local holding them would be a root of every path
    pins: list[list[Pin]] = [[] for _ in starts]
    for (arena, kind), members, path in groups:
        pins[arena].append(Pin(starts[arena], type_name(kind), len(members),
                               sum(sizes[i] for i in members),
                               tuple(objects[i] for i in members), path))
    return pins


def _arena_rows(records: bytes, pools: memoryview):
    """(address, index, pool records) of each arena of one map reading."""
    start = 0
    for address, index, _total, _free, used in ARENA_RECORD.iter_unpack(records):
        end = start + used * POOL_RECORD.size
        yield address, index, pools[start:end]
        start = end


def _live(pool_records: memoryview) -> tuple[int, int, dict[int, int]]:
    """(blocks in use, their bytes, {pool address: block size}) of an arena's pools."""
    blocks = live = 0
    block_sizes = {}
    for address, _class, block_size, in_use, _capacity in POOL_RECORD.iter_unpack(pool_records):
        blocks += in_use
        live += in_use * block_size
        block_sizes[address] = block_size
    return blocks, live, block_sizes


def _chosen_arenas(records: bytes, pools: memoryview, arena_or_index, arena_size: int
                   ) -> list[tuple[int, int]]:
    """(address, index) of the arenas to ask about, in address order: the sparse ones, or
    the one named (ValueError when it is not live, TypeError for anything but an Arena or
    an index)."""
    rows = sorted(_arena_rows(records, pools))
    if arena_or_index is None:
        return [(address, index) for address, index, pool_records in rows
                if is_sparse(len(pool_records) // POOL_RECORD.size, _live(pool_records)[1],
                             arena_size)]
    if isinstance(arena_or_index, Arena):
        wanted = (int(arena_or_index.address), int(arena_or_index.index))
        if wanted not in {(address, index) for address, index, _ in rows}:
            raise ValueError(f"{_PINNING}: arena {wanted[1]} at {wanted[0]:#x} is not a live "
                             "arena any more (pymalloc freed it, or it is another process's)")
        return [wanted]
    if isinstance(arena_or_index, bool) or not isinstance(arena_or_index, int):
        raise TypeError(f"{_PINNING} takes a memviz.pymalloc.Arena, an arena's index or None, "
                        f"not {type(arena_or_index).__name__}")
    for address, index, _ in rows:
        if index == arena_or_index:
            return [(address, index)]
    live = ", ".join(str(index) for index in sorted(index for _, index, _ in rows))
    raise ValueError(f"{_PINNING}: no live arena has index {arena_or_index} "
                     f"(the live arenas' indexes: {live or 'none'})")


def _arena_pins(address: int, index: int, pins: tuple[Pin, ...],
                pool_records: memoryview | None, lay: Layout) -> ArenaPins:
    """One arena's ArenaPins: its pins, and its blocks in use (``pool_records``, from the
    map read after the walk; None when the arena is gone) less those that hold a pinning
    object (each in the pool its address falls in)."""
    blocks, live, block_sizes = _live(pool_records) if pool_records is not None else (0, 0, {})
    reached_bytes = sum(block_sizes.get(id(obj) & -lay.pool_size, 0)
                        for pin in pins for obj in pin.objects)
    return ArenaPins(address, index, lay.arena_size, blocks, live, pins,
                     blocks - sum(pin.count for pin in pins), live - reached_bytes)


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
