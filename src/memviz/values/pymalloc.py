"""pymalloc's values: its layout, statistics, arenas, pools and blocks, as readings
(``memviz.pymalloc``) and snapshots (``Snapshot.arenas`` ...) return them.

Public as ``memviz.pymalloc.<name>`` (their ``__module__``): that is where a reader
finds them, next to the readings that make them. Pools and size classes are built
lazily from the C walk's records (``memviz._records``), so a map of every arena stays
cheap to take.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from . import public

from .._records import POOL_RECORD
from ..render.view import pins_line

if TYPE_CHECKING:
    from .holders import Path

__all__ = ["Arena", "ArenaPins", "Block", "Layout", "Pin", "Pool", "PymallocStats", "SizeClass"]


@public("memviz.pymalloc")
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


@public("memviz.pymalloc")
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


@public("memviz.pymalloc")
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


@public("memviz.pymalloc")
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
            value = tuple(map(_make_pool, POOL_RECORD.iter_unpack(value.view)))
            arena.__dict__["_pools"] = value
        return value

    def __set__(self, arena, value):
        arena.__dict__["_pools"] = value if isinstance(value, _PoolRecords) else tuple(value)


@public("memviz.pymalloc")
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
            return len(value.view) // POOL_RECORD.size
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


@public("memviz.pymalloc")
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


@public("memviz.pymalloc")
@dataclass(frozen=True, eq=False)
class Pin:
    """The live objects of one type in one arena, as the census's walk finds them: they
    keep the arena allocated (pymalloc frees only empty arenas). ``name`` is the type's
    ``module.qualname``, ``bytes`` their sizes as the census gives them (``sys.getsizeof``'s),
    ``objects`` the objects themselves (strong references: a kept Pin keeps them alive),
    largest first, and ``path`` a ``memviz.Path`` from a root to the largest one (None
    when no root leads to it: held from C, or cyclic garbage only the collector's lists
    reach)."""

    arena_address: int
    name: str
    count: int
    bytes: int
    objects: tuple
    path: Path | None

    def __repr__(self) -> str:
        return (f"Pin(arena_address={self.arena_address:#x}, name={self.name!r}, "
                f"count={self.count}, bytes={self.bytes}, objects=<{len(self.objects)} objects>, "
                f"path={self.path!r})")

    def __str__(self) -> str:
        where = f", e.g. {self.path}" if self.path is not None else ""
        return f"{self.count:,} {self.name} ({self.bytes:,} bytes){where}"


@public("memviz.pymalloc")
@dataclass(frozen=True, eq=False)
class ArenaPins:
    """What keeps one arena allocated: its ``pins`` (:class:`Pin`, one per type, most
    bytes first), and the blocks in use that hold no object the census's walk reaches
    (``unreached_blocks``, ``unreached_bytes``: raw ``PyMem_Malloc`` buffers, objects held
    only from C). ``blocks_in_use`` and ``live_bytes`` are the arena's pools' figures
    (blocks in use, their bytes), read right after the walk."""

    arena_address: int
    index: int
    arena_size: int
    blocks_in_use: int
    live_bytes: int
    pins: tuple[Pin, ...]
    unreached_blocks: int
    unreached_bytes: int

    def __str__(self) -> str:
        return pins_line(self)


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
