"""pymalloc's oracles: CPython's ``sys.getallocatedblocks()`` and the report that
``sys._debugmallocstats()`` writes to C's stderr, and the checks that hold a reading to
them (established in test_pymalloc.py, which documents how a reading and its oracle see
the same heap: ``after_walk``).

Plain ``check`` instead of ``assert``: children run these with -O too. Imports memviz and
the standard library only: subinterpreters and ``PYTHONMALLOC=...`` children import it.
"""
from __future__ import annotations

import contextlib
import functools
import os
import struct
import sys
import tempfile
from typing import Callable, Iterator

import memviz
from memviz import _debugstats, _native
from memviz import pymalloc as pm
from memviz import MemvizError


def check(condition: bool, message: str) -> None:
    """An assertion that also holds in a child run with -O."""
    if not condition:
        raise AssertionError(message)


@contextlib.contextmanager
def fd2_captured() -> Iterator[list[str]]:
    """Points file descriptor 2 (C's stderr) at a temporary file; the list receives
    what was written there when the block ends."""
    sys.stderr.flush()
    captured: list[str] = []
    with tempfile.TemporaryFile() as tmp:
        saved = os.dup(2)
        os.dup2(tmp.fileno(), 2)
        try:
            yield captured
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            tmp.seek(0)
            captured.append(tmp.read().decode("ascii"))


def with_report(read: Callable) -> tuple[object, str]:
    """read(after_walk=sys._debugmallocstats) and the text CPython printed, at the heap
    state the reading saw."""
    with fd2_captured() as captured:
        value, after = read(after_walk=sys._debugmallocstats)
    check(after == 0, f"sys._debugmallocstats() returned {after}")
    return value, captured[0]


def report_now() -> str:
    with fd2_captured() as captured:
        sys._debugmallocstats()
    return captured[0]


def _line(label: str, value: int) -> str:
    """obmalloc.c's printone(): the label padded to 35 columns, '=', the value with
    thousands separators right-aligned in 21 columns."""
    return f"{label:<35}={value:>21,}\n"


def render_report(s: pm.PymallocStats, lay: pm.Layout) -> str:
    """The pymalloc report _PyObject_DebugMallocStats() prints for these figures,
    character for character (obmalloc.c, 3.10-3.15)."""
    text = (
        f"Small block threshold = {lay.small_request_threshold}, in "
        f"{len(lay.block_sizes)} size classes.\n\n"
        "class   size   num pools   blocks in use  avail blocks\n"
        "-----   ----   ---------   -------------  ------------\n"
    )
    for c in s.size_classes:
        if c.pools:
            text += f"{c.index:5} {c.block_size:6} {c.pools:11} {c.blocks_in_use:15} {c.blocks_free:13}\n"
    text += "\n"
    text += _line("# arenas allocated total", s.arenas_allocated_total)
    text += _line("# arenas reclaimed", s.arenas_reclaimed)
    text += _line("# arenas highwater mark", s.arenas_highwater)
    text += _line("# arenas allocated current", s.arenas_current)
    text += _line(f"{s.arenas_current} arenas * {lay.arena_size} bytes/arena", s.arena_bytes)
    text += "\n"
    text += _line("# bytes in allocated blocks", s.allocated_bytes)
    text += _line("# bytes in available blocks", s.available_bytes)
    text += _line(f"{s.unused_pools} unused pools * {lay.pool_size} bytes", s.unused_pool_bytes)
    text += _line("# bytes lost to pool headers", s.pool_header_bytes)
    text += _line("# bytes lost to quantization", s.quantization_bytes)
    text += _line("# bytes lost to arena alignment", s.arena_alignment_bytes)
    text += _line("Total", s.total_bytes)
    if s.arena_map_bytes:
        text += "\narena map counts\n"
        text += _line("# arena map mid nodes", s.arena_map_mid_nodes)
        text += _line("# arena map bot nodes", s.arena_map_bot_nodes)
        text += "\n"
        text += _line("# bytes lost to arena map root", s.arena_map_root_bytes)
        text += _line("# bytes lost to arena map mid", s.arena_map_mid_bytes)
        text += _line("# bytes lost to arena map bot", s.arena_map_bot_bytes)
        text += _line("Total", s.arena_map_bytes)
    return text


def check_matches_report(s: pm.PymallocStats, text: str) -> None:
    """Every size class and figure of ``s`` is what CPython printed in ``text``: the
    report rebuilt from ``s`` is CPython's, character for character, and CPython's text
    parsed field by field gives the same values."""
    rendered = render_report(s, pm.layout())
    if not text.startswith(rendered):
        mismatch = next(
            (f"memviz: {a!r}\ncpython: {b!r}" for a, b in
             zip(rendered.splitlines(), text.splitlines()) if a != b),
            "lengths differ",
        )
        raise AssertionError(f"memviz's figures are not CPython's report:\n{mismatch}")
    parsed = _debugstats.parse(text)
    check(parsed is not None, "CPython printed no pymalloc report")
    rows = {line.index: line for line in parsed.classes}
    for c in s.size_classes:
        row = rows.get(c.index)
        got = (c.block_size, c.pools, c.blocks_in_use, c.blocks_free)
        want = (row.size, row.pools, row.blocks_in_use, row.blocks_free) if row else \
            (c.block_size, 0, 0, 0)
        check(got == want, f"size class {c.index}: memviz {got}, CPython {want}")
    for name in ("arenas_allocated_total", "arenas_reclaimed", "arenas_highwater",
                 "arenas_current", "arena_bytes", "allocated_bytes", "available_bytes",
                 "unused_pools", "unused_pool_bytes", "pool_header_bytes", "quantization_bytes",
                 "arena_alignment_bytes", "total_bytes", "arena_map_mid_nodes",
                 "arena_map_bot_nodes", "arena_map_root_bytes", "arena_map_mid_bytes",
                 "arena_map_bot_bytes"):
        check(getattr(s, name) == getattr(parsed, name),
              f"{name}: memviz {getattr(s, name)}, CPython {getattr(parsed, name)}")
    check(s.arena_map_bytes == parsed.arena_map_total_bytes, "arena map total")


def stats_at_walk(after_walk) -> tuple[pm.PymallocStats, int]:
    return pm._stats(after_walk=after_walk)


def arenas_and_stats() -> tuple[tuple[pm.Arena, ...], pm.PymallocStats]:
    """arenas() and a stats() reading taken inside it, at the same heap state."""
    ffi, lib = _native.ffi, _native.lib
    inner = ffi.new("mv_pymalloc_stats *")
    inner.interpreter_id = _native.interpreter_id()
    arenas, status = pm._arenas(after_walk=functools.partial(lib.mv_pymalloc_read_stats, inner))
    check(status == lib.MV_OK, f"the inner stats reading failed with status {status}")
    return arenas, pm._stats_from_walk(*_native.stats_figures(inner), pm.layout())


def check_arenas_add_up(arenas: tuple[pm.Arena, ...], s: pm.PymallocStats) -> None:
    """The arena map and a stats reading of the same heap state agree, and every arena
    and pool fits the layout."""
    lay = pm.layout()
    check(len(arenas) == s.arenas_current, f"{len(arenas)} arenas, stats {s.arenas_current}")
    check(sorted({a.index for a in arenas}) == [a.index for a in arenas], "arena slots")
    per_class = [[0, 0, 0] for _ in lay.block_sizes]
    unaligned = 0
    for arena in arenas:
        aligned = arena.address % lay.pool_size == 0
        unaligned += not aligned
        check(arena.pools_total == lay.pools_per_arena - (not aligned),
              f"arena {arena.index}: {arena.pools_total} pools")
        check(len(arena.pools) + arena.pools_free == arena.pools_total,
              f"arena {arena.index}: {len(arena.pools)} used + {arena.pools_free} free")
        check(arena.pools_used == len(arena.pools), "pools_used")
        previous = arena.address - 1
        for pool in arena.pools:
            check(pool.address % lay.pool_size == 0, f"pool {pool.address:#x} is not aligned")
            check(arena.address <= pool.address
                  and pool.address + lay.pool_size <= arena.address + lay.arena_size,
                  f"pool {pool.address:#x} outside arena {arena.address:#x}")
            check(pool.address > previous, "pools out of order")
            previous = pool.address
            check(pool.block_size == lay.block_sizes[pool.size_class], "block size")
            check(pool.capacity == lay.blocks_per_pool[pool.size_class], "capacity")
            check(0 < pool.blocks_in_use <= pool.capacity, f"{pool}")
            counts = per_class[pool.size_class]
            counts[0] += 1
            counts[1] += pool.blocks_in_use
            counts[2] += pool.blocks_free
    for c in s.size_classes:
        check(per_class[c.index] == [c.pools, c.blocks_in_use, c.blocks_free],
              f"class {c.index}: arenas {per_class[c.index]}, stats {c}")
    check(sum(a.pools_free for a in arenas) == s.unused_pools, "unused pools")
    check(unaligned * lay.pool_size == s.arena_alignment_bytes, "arena alignment")


def check_arenas_match_report(arenas: tuple[pm.Arena, ...], text: str) -> None:
    """The arena map adds up to CPython's report of the same heap state."""
    lay = pm.layout()
    parsed = _debugstats.parse(text)
    check(parsed is not None, "CPython printed no pymalloc report")
    per_class: dict[int, list[int]] = {}
    for arena in arenas:
        for pool in arena.pools:
            counts = per_class.setdefault(pool.size_class, [0, 0, 0])
            counts[0] += 1
            counts[1] += pool.blocks_in_use
            counts[2] += pool.blocks_free
    rows = {line.index: [line.pools, line.blocks_in_use, line.blocks_free]
            for line in parsed.classes}
    check(per_class == rows, f"arenas {per_class}, CPython {rows}")
    check(len(arenas) == parsed.arenas_current, "arenas")
    check(sum(a.pools_free for a in arenas) == parsed.unused_pools, "unused pools")
    unaligned = sum(a.address % lay.pool_size != 0 for a in arenas)
    check(unaligned * lay.pool_size == parsed.arena_alignment_bytes, "arena alignment")


def debug_hooks_active() -> bool:
    return pm._info().debug_hooks == 1


def allocation(request: int) -> int | None:
    """The block size that serves an object allocation of ``request`` bytes, or None when
    pymalloc passes it on to malloc. Debug hooks add two size_t before the memory and one
    after it."""
    lay = pm.layout()
    if debug_hooks_active():
        request += pm._debug_prefix() + struct.calcsize("N")
    size_class = lay.size_class_for(request)
    return None if size_class is None else lay.block_sizes[size_class]


def preheader(obj: object) -> int:
    """The bytes before the object in its block: what sys.getsizeof adds to __sizeof__
    (the GC head and, on 3.11+, the managed dict/weakref pointers), plus the debug
    hooks' prefix."""
    extra = sys.getsizeof(obj) - obj.__sizeof__()
    return extra + (pm._debug_prefix() if debug_hooks_active() else 0)


class Slots:
    __slots__ = ("a", "b")


def check_located(obj: object, name: str, arenas: tuple[pm.Arena, ...] | None = None) -> None:
    """locate(obj) is the block that pymalloc serves obj's allocation from, or None when
    pymalloc passes the allocation on to malloc."""
    block = pm.locate(obj)
    expected = allocation(sys.getsizeof(obj))
    if expected is None:
        check(block is None, f"{name}: {sys.getsizeof(obj)} bytes, located in {block}")
        return
    check(block is not None, f"{name}: {sys.getsizeof(obj)} bytes, not located")
    lay = pm.layout()
    if isinstance(obj, tuple):
        # A tuple may come from its length's free list, where a tuple that
        # _PyTuple_Resize shrank in place also ends up: pymalloc's realloc keeps a
        # block when the new size is over 3/4 of it, so the block may be larger.
        check(expected <= block.block_size and 3 * block.block_size < 4 * expected,
              f"{name}: {block}, expected {expected}-byte blocks or a block it was shrunk in")
    else:
        check(block.block_size == expected, f"{name}: {block}, expected {expected}-byte blocks")
    check(block.block_size == lay.block_sizes[block.size_class], f"{name}: class/size")
    check(block.object_offset == preheader(obj),
          f"{name}: object {block.object_offset} bytes into its block, expected {preheader(obj)}")
    check(block.pool_address % lay.pool_size == 0, "pool alignment")
    first = block.pool_address + lay.pool_overhead
    check((block.block_address - first) % block.block_size == 0, f"{name}: block boundary")
    check(block.arena_address <= block.pool_address < block.arena_address + lay.arena_size,
          f"{name}: pool outside its arena")
    if arenas is not None:
        pools = {p.address: p for a in arenas if a.address == block.arena_address
                 for p in a.pools}
        check(block.pool_address in pools, f"{name}: pool not in arenas()")
        check(pools[block.pool_address].size_class == block.size_class, f"{name}: pool class")


def refusals() -> dict:
    """What each pymalloc reading raises here (None when it works), capabilities, and
    whether the other readings still work."""
    facts: dict = {}
    for name, call in (("stats", pm.stats), ("arenas", pm.arenas),
                       ("locate", lambda: pm.locate(object()))):
        try:
            call()
            facts[name] = None
        except MemvizError as error:
            facts[name] = [type(error).__name__, str(error)]
    facts["capabilities"] = {c.name: [c.available, c.reason] for c in memviz.capabilities()}
    facts["allocator"] = pm.allocator()
    facts["layout"] = pm.layout().arena_size
    facts["gc_readings"] = len(memviz.gc.generations())
    facts["refcount"] = memviz.refcount(facts)
    return facts
