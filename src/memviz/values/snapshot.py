"""The snapshot value: one consistent reading of the interpreter's memory machinery.

Immutable, and independent of the process it describes: types are kept by qualified name
(``module.qualname``), the figures packed in ``bytes`` (``memviz._packed``) and flat
tuples, and the value objects (``Generation``, ``Arena``, ``Pool`` ...) built when they
are asked for. Taking one is ``memviz.snapshot()`` (``memviz/snapshot.py``, a reading);
its file format is ``memviz.formats.snapshot_json``; its reports are in
``memviz.render``. Public as ``memviz.snapshot.<name>`` (their ``__module__``).
"""
from __future__ import annotations

import gc as _gc
import json
import os
from dataclasses import dataclass

from . import public
from typing import BinaryIO, Iterator, Mapping, cast

from .._errors import UnsupportedInterpreter
from .._packed import rows as _rows
from .._packed import unpack as _unpack
from ..formats import snapshot_json
from ..formats.snapshot_json import (CENSUS_FIELDS, GENERATION_FIELDS, LAYOUT_FIELDS,
                                     POOL_FIELDS, SIZE_CLASS_FIELDS, SNAPSHOT_FIELDS,
                                     STATS_FIELDS)
from ..render import html as _html
from ..render import text as _text
from ..render.view import when
from .arenamap import ArenaMap
from .capabilities import Capabilities, Capability
from .census import Census, TypeStat
from .diff import SnapshotDiff
from .fragmentation import SPARSE_THRESHOLD, Fragmentation, is_sparse
from .gc import Generation, check_generation
from .names import type_name
from .pymalloc import Arena, Layout, Pool, PymallocStats, SizeClass

__all__ = ["Interpreter", "RssSplit", "Snapshot", "TypeCount", "TypeCounts"]


@public("memviz.snapshot")
@dataclass(frozen=True)
class Interpreter:
    """The interpreter a snapshot was taken in."""

    implementation: str   #: ``platform.python_implementation()``: 'CPython'
    version: str          #: ``platform.python_version()``: '3.12.1'
    description: str      #: memviz's description: 'CPython 3.12.1 (free-threaded)'
    allocator: str        #: 'pymalloc', 'pymalloc_debug', 'malloc', 'mimalloc', 'debug' ...

    def __str__(self) -> str:
        return f"{self.description}, allocator {self.allocator}"


@public("memviz.snapshot")
@dataclass(frozen=True, order=True)
class TypeCount:
    """GC-tracked objects of one type (by qualified name) in a snapshot."""

    name: str
    count: int

    def __str__(self) -> str:
        return f"{self.name}: {self.count:,}"


@public("memviz.snapshot")
@dataclass(frozen=True)
class RssSplit:
    """Where a snapshot's resident memory (RSS) is: pymalloc's arenas, and the rest.

    ``arena_bytes`` is the size of the arenas pymalloc holds (mapped whole; pages never
    touched may not be resident, so ``outside_pymalloc`` is, if anything, an
    underestimate). Outside pymalloc are large objects (requests over its biggest size
    class, ``forwarded_requests`` of them: counted by pymalloc, not sized), buffers C code
    allocates with malloc, the interpreter's own code and data, and shared libraries.
    """

    rss: int
    arena_bytes: int
    forwarded_requests: int

    @property
    def outside_pymalloc(self) -> int:
        return self.rss - self.arena_bytes


#: A snapshot's slots: the format's fields, each a private attribute.
_SLOTS = tuple(f"_{name}" for name in SNAPSHOT_FIELDS)


def _column(names: tuple[str, ...], packed: bytes, generation: int | None) -> TypeCounts:
    """{name: count} of one generation's column of ``packed`` (four counts per name:
    generations 0, 1, 2, permanent), or of 0-2 added up; zeros left out."""
    values = _unpack("q", packed)
    result = TypeCounts()
    for i, name in enumerate(names):
        if generation is None:
            count = values[4 * i] + values[4 * i + 1] + values[4 * i + 2]
        else:
            count = values[4 * i + generation]
        if count:
            result[name] = count
    return result


@public("memviz.snapshot")
class TypeCounts(dict):
    """{type name: objects}, as snapshots count them: keys are ``module.qualname``
    strings (types outlive the process in a snapshot only by name), and a type itself
    looks up its name (``counts[MyClass]``, ``MyClass in counts``, ``counts.get(...)``)."""

    __slots__ = ()

    def __getitem__(self, key):
        return super().__getitem__(_name_of(key))

    def __contains__(self, key):
        return super().__contains__(_name_of(key))

    def get(self, key, default=None):
        return super().get(_name_of(key), default)


def _name_of(key):
    """A TypeCounts key: a type's ``module.qualname``, anything else as it is."""
    return type_name(key) if isinstance(key, type) else key


@public("memviz.snapshot")
class Snapshot:
    """One reading of an interpreter's memory machinery (see :func:`memviz.snapshot`).

    Immutable. Readings the interpreter did not support are ``None``. Compare two with
    ``newer - older`` or ``newer.diff(older)``; save with :meth:`dump` / :meth:`to_json`.
    """

    __slots__ = _SLOTS

    # The slots' types (``_SLOTS``: the format's fields; ``_make`` sets them): the
    # packed ``bytes`` are ``memviz._packed`` figures, None where that reading is missing.
    _taken_at: float
    _pid: int
    _implementation: str
    _version: str
    _description: str
    _allocator: str
    _capabilities: tuple[str | None, ...]   # name, reason (None: available), name, ...
    _gc_enabled: bool | None
    _gc: bytes | None
    _permanent: int | None
    _type_names: tuple[str, ...] | None
    _type_counts: bytes | None
    _layout: bytes | None
    _pymalloc_stats: bytes | None
    _size_classes: bytes | None
    _arenas: bytes | None
    _pools: bytes | None
    _rss: int | None
    _rss_peak: int | None
    _own_names: tuple[str, ...] | None
    _own_counts: bytes | None
    _census_names: tuple[str, ...] | None   # sorted; CENSUS_FIELDS per name in _census_stats
    _census_stats: bytes | None
    _census_sized: int | None

    def __init__(self) -> None:
        raise TypeError(
            "take a snapshot with memviz.snapshot(), or read one with "
            "Snapshot.load() / Snapshot.from_json()"
        )

    @classmethod
    def _make(cls, **fields) -> Snapshot:
        """The snapshot of these fields (``snapshot_json.SNAPSHOT_FIELDS``): what a reading
        or a file gives."""
        self = object.__new__(cls)
        for name in _SLOTS:
            object.__setattr__(self, name, fields[name[1:]])
        return self

    def _fields(self) -> dict:
        """The fields it was made of, by name (as :meth:`_make` takes them)."""
        return {name[1:]: object.__getattribute__(self, name) for name in _SLOTS}

    def __setattr__(self, name, value):
        raise AttributeError(f"a Snapshot is immutable (cannot set {name!r})")

    def __delattr__(self, name):
        raise AttributeError(f"a Snapshot is immutable (cannot delete {name!r})")

    # -- when, where --------------------------------------------------------------------

    @property
    def taken_at(self) -> float:
        """When the reading was taken: seconds since the epoch (``time.time()``)."""
        return self._taken_at

    @property
    def pid(self) -> int:
        """The process the snapshot was taken in."""
        return self._pid

    @property
    def interpreter(self) -> Interpreter:
        return Interpreter(self._implementation, self._version, self._description,
                           self._allocator)

    @property
    def capabilities(self) -> Capabilities:
        """Which readings the interpreter supported when the snapshot was taken."""
        flat = self._capabilities
        return Capabilities(self._description, tuple(
            # a name at each even place (a str), its reason after it
            Capability(cast(str, flat[i]), flat[i + 1] is None, flat[i + 1])
            for i in range(0, len(flat), 2)
        ))

    def _reason(self, name: str) -> str:
        flat = self._capabilities
        for i in range(0, len(flat), 2):
            if flat[i] == name:
                return flat[i + 1] or "not read"
        return "not read"

    # -- the collector ------------------------------------------------------------------

    @property
    def gc_enabled(self) -> bool | None:
        """Whether automatic collection was enabled (``gc.isenabled()``) when the snapshot
        was taken (before memviz paused it); None without GC readings."""
        return self._gc_enabled

    @property
    def generations(self) -> tuple[Generation, ...] | None:
        """The three ``memviz.gc.Generation`` values, or None without GC readings."""
        if self._gc is None:
            return None
        return tuple(
            Generation(index, *row)
            for index, row in enumerate(_rows("q", self._gc, len(GENERATION_FIELDS)))
        )

    @property
    def permanent(self) -> int | None:
        """Objects in the permanent generation (``gc.freeze()``), or None."""
        return self._permanent

    @property
    def has_types(self) -> bool:
        return self._type_names is not None

    def type_counts(self, generation: int | None = None) -> TypeCounts:
        """GC-tracked objects per type name in one generation (0, 1, 2, or
        ``memviz.gc.PERMANENT``, 3: what ``gc.freeze()`` moved out of the collector's
        reach) or in 0, 1 and 2 together (None, as ``gc.get_objects()`` lists them), as
        memviz's C walk counted them, memviz's own objects left out (see
        :meth:`own_objects`); types with no objects there are left out. The mapping is
        also indexed by the type itself: ``counts[MyClass]``. Raises
        ``UnsupportedInterpreter`` when the snapshot has no GC readings."""
        names, counts = self._require_types()
        check_generation(generation)
        if generation == 3 and self._permanent and self._own_names is None:
            raise UnsupportedInterpreter(
                "this snapshot was read from a file of format version 1, which does not "
                "count the permanent generation's objects by type")
        return _column(names, counts, generation)

    def type_table(self) -> dict[str, tuple[int, int, int]]:
        """{type name: (generation 0, 1, 2)} for every type in the snapshot (the
        permanent generation: ``type_counts(PERMANENT)``)."""
        names, counts = self._require_types()
        values = _unpack("q", counts)
        return {name: tuple(values[4 * i:4 * i + 3]) for i, name in enumerate(names)}

    def own_objects(self, generation: int | None = None) -> TypeCounts | None:
        """memviz's own objects that this snapshot found alive and left out of its type
        counts, by type name, in one generation (as :meth:`type_counts`) or in 0, 1 and
        2: the instances of memviz's classes (snapshots, diffs, trackers, explanations,
        arenas, pools ... that the program keeps) and the tuples, lists, dicts, sets,
        arrays and locks reachable from them through such objects only. The generations'
        ``objects`` and ``permanent`` leave them out too. None for a
        snapshot read from a file of format version 1, which did not record them."""
        check_generation(generation)
        if self._own_names is None:
            return None
        assert self._own_counts is not None   # read (or left out) with the names
        return _column(self._own_names, self._own_counts, generation)

    def top_types(self, limit: int | None = 10, generation: int | None = None) -> list[TypeCount]:
        """The types with the most objects, largest first (ties by name)."""
        counts = self.type_counts(generation)
        ranked = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
        if limit is not None:
            ranked = ranked[:limit]
        return [TypeCount(name, count) for name, count in ranked]

    def _require_types(self) -> tuple[tuple[str, ...], bytes]:
        """The type names and their packed counts (read together), or
        UnsupportedInterpreter."""
        if self._type_names is None or self._type_counts is None:
            raise UnsupportedInterpreter(
                f"this snapshot ({self._description}) has no GC readings: {self._reason('gc')}"
            )
        return self._type_names, self._type_counts

    # -- the census -----------------------------------------------------------------------

    @property
    def has_census(self) -> bool:
        return self._census_names is not None

    @property
    def census(self) -> Census | None:
        """The ``memviz.census.Census`` taken with the snapshot
        (``memviz.snapshot(census=True)``): every object reachable from the roots, per
        type, with its bytes; None when none was taken (and for files of format
        version 1 and 2). Built from the snapshot's packed figures at each access."""
        if self._census_names is None:
            return None
        assert self._census_stats is not None and self._census_sized is not None   # together
        stats = _rows("q", self._census_stats, len(CENSUS_FIELDS))
        return Census(tuple(TypeStat(name, *row) for name, row in zip(self._census_names, stats)),
                      self._census_sized)

    # -- pymalloc -----------------------------------------------------------------------

    @property
    def layout(self) -> Layout | None:
        """``memviz.pymalloc.Layout`` of the interpreter, or None without pymalloc readings."""
        if self._layout is None:
            return None
        values = list(_unpack("q", self._layout))
        fixed = dict(zip(LAYOUT_FIELDS, values))
        return Layout(**fixed, block_sizes=tuple(values[len(LAYOUT_FIELDS):]))

    @property
    def pymalloc(self) -> PymallocStats | None:
        """``memviz.pymalloc.PymallocStats``, or None without pymalloc statistics."""
        if self._pymalloc_stats is None:
            return None
        assert self._size_classes is not None   # read with the statistics
        scalars = dict(zip(STATS_FIELDS, _unpack("q", self._pymalloc_stats)))
        size_classes = tuple(
            SizeClass(*row)
            for row in _rows("q", self._size_classes, len(SIZE_CLASS_FIELDS))
        )
        return PymallocStats(**scalars, size_classes=size_classes)

    def _arena_rows(self) -> Iterator[tuple[tuple[int, ...], list[tuple[int, ...]]]]:
        """(arena columns, [pool columns]) per arena, without building value objects
        (for a snapshot with the arena map: callers check ``_arenas`` first)."""
        assert self._arenas is not None and self._pools is not None   # read together
        return snapshot_json.arena_rows(self._arenas, self._pools)

    def _arena_map(self) -> ArenaMap:
        """The arena map of what this snapshot holds (for memviz.arenamap and the HTML
        report): never a reading."""
        return ArenaMap.of_snapshot(self)

    @property
    def arenas(self) -> tuple[Arena, ...] | None:
        """pymalloc's arenas (``memviz.pymalloc.Arena``, each with its pools), or None
        without the arena map. Built from the snapshot's packed map at each access."""
        if self._arenas is None:
            return None
        return tuple(
            Arena(address, index, pools_total, pools_free,
                  pools=tuple(Pool(*pool) for pool in pools))
            for (address, index, pools_total, pools_free), pools in self._arena_rows()
        )

    def fragmentation(self, threshold: float = SPARSE_THRESHOLD) -> Fragmentation | None:
        """How many arenas are held by few live blocks (see :class:`Fragmentation`);
        None without the arena map."""
        if self._arenas is None or self._layout is None:
            return None
        if not 0 < threshold <= 1:
            raise ValueError(f"threshold must be in (0, 1], not {threshold!r}")
        arena_size = _unpack("q", self._layout)[LAYOUT_FIELDS.index("arena_size")]
        live_at = POOL_FIELDS.index("blocks_in_use")
        size_at = POOL_FIELDS.index("block_size")
        arenas = arena_bytes = live_bytes = 0
        sparse = sparse_bytes = sparse_live = sparse_blocks = empty = 0
        histogram = [0, 0, 0, 0]
        for _arena, pools in self._arena_rows():
            live = sum(pool[live_at] * pool[size_at] for pool in pools)
            blocks = sum(pool[live_at] for pool in pools)
            arenas += 1
            arena_bytes += arena_size
            live_bytes += live
            if not pools:
                empty += 1
                continue
            share = live / arena_size if arena_size else 0.0
            histogram[min(3, int(share * 4))] += 1
            if is_sparse(len(pools), live, arena_size, threshold):
                sparse += 1
                sparse_bytes += arena_size
                sparse_live += live
                sparse_blocks += blocks
        return Fragmentation(threshold, arenas, arena_bytes, live_bytes, sparse, sparse_bytes,
                             sparse_live, sparse_blocks,
                             (histogram[0], histogram[1], histogram[2], histogram[3]), empty)

    # -- the process --------------------------------------------------------------------

    @property
    def rss(self) -> int | None:
        """Resident set size in bytes (/proc/self/statm), or None where unreadable."""
        return self._rss

    def rss_split(self) -> RssSplit | None:
        """The RSS split into pymalloc's arenas and the rest; None when the RSS or
        pymalloc's statistics were not read."""
        stats = self.pymalloc
        if self._rss is None or stats is None:
            return None
        return RssSplit(self._rss, stats.arena_bytes, stats.raw_blocks)

    @property
    def rss_peak(self) -> int | None:
        """Peak resident set size in bytes (``getrusage``'s ``ru_maxrss``, the figure
        /proc/self/status calls VmHWM), or None."""
        return self._rss_peak

    # -- what the snapshot keeps ----------------------------------------------------------

    def gc_footprint(self) -> tuple[object, ...]:
        """The objects this snapshot keeps alive that the collector tracks: the snapshot
        itself and those of its internal containers the interpreter tracks (a tuple of
        type names and a tuple of capabilities on 3.10-3.13, which track every new tuple;
        none on 3.14+). A later snapshot finds exactly these among memviz's own objects."""
        kept = [self]
        for name in _SLOTS:
            value = object.__getattribute__(self, name)
            if _gc.is_tracked(value):
                kept.append(value)
        return tuple(kept)

    # -- comparing ----------------------------------------------------------------------

    def diff(self, older: Snapshot) -> SnapshotDiff:
        """What changed from ``older`` to this snapshot: a :class:`memviz.SnapshotDiff`."""
        if not isinstance(older, Snapshot):
            raise TypeError("SnapshotDiff compares two memviz.Snapshot values")
        return SnapshotDiff(self, older)

    def __sub__(self, older):
        if not isinstance(older, Snapshot):
            return NotImplemented
        return self.diff(older)

    def compare_to(self, older: Snapshot, generation: int | None = None):
        """Per-type changes from ``older``, largest change first: a list of
        ``memviz.TypeDiff`` (as ``tracemalloc.Snapshot.compare_to``)."""
        return self.diff(older).types(generation)

    # -- text ---------------------------------------------------------------------------

    def report(self, limit: int = 15) -> str:
        """Plain-text tables: the collector, the top ``limit`` types (and, with a census,
        the top ``limit`` by bytes), pymalloc's arenas, size classes and fragmentation."""
        return _text.snapshot_report(self, limit)

    def __repr__(self) -> str:
        parts = [f"{self._description}", f"pid {self._pid}", when(self._taken_at)]
        if self._gc is not None and self._type_names is not None:   # read together
            objects = sum(row[0] for row in _rows("q", self._gc, len(GENERATION_FIELDS)))
            parts.append(f"{objects:,} GC objects in {len(self._type_names):,} types")
        if self._pymalloc_stats is not None:
            stats = dict(zip(STATS_FIELDS, _unpack("q", self._pymalloc_stats)))
            if "arenas_current" in stats:
                parts.append(f"{stats['arenas_current']:,} arenas")
            if "blocks_in_use" in stats:
                parts.append(f"{stats['blocks_in_use']:,} blocks")
        if self._rss is not None:
            parts.append(f"RSS {self._rss / 2**20:.1f} MiB")
        return f"<memviz.Snapshot {', '.join(parts)}>"

    def _repr_pretty_(self, printer, cycle: bool) -> None:
        """IPython: the text report (the repr inside a reference cycle)."""
        printer.text(repr(self) if cycle else self.report())

    def _repr_html_(self) -> str:
        """Jupyter: the snapshot's section of the HTML report (memviz.htmlreport)."""
        return _html.snapshot_html(self)

    # -- saving -------------------------------------------------------------------------

    def to_dict(self) -> dict:
        """The snapshot as the JSON document :meth:`to_json` writes (plain dicts, lists,
        str, int, float, bool, None)."""
        return snapshot_json.to_document(self._fields())

    @classmethod
    def from_dict(cls, document: Mapping) -> Snapshot:
        """The snapshot a :meth:`to_dict` document describes; every field is checked and
        anything wrong raises :class:`memviz.SnapshotFormatError`."""
        return cls._make(**snapshot_json.from_document(document))

    def to_json(self, indent: int | None = None) -> str:
        """The snapshot as JSON text in memviz's versioned snapshot format."""
        return json.dumps(self.to_dict(), indent=indent, allow_nan=False)

    @classmethod
    def from_json(cls, text: str | bytes) -> Snapshot:
        """The snapshot in ``text``; :class:`memviz.SnapshotFormatError` names what is
        wrong when it is not JSON, not a memviz snapshot, of another format version, or
        has a field of the wrong type."""
        return cls._make(**snapshot_json.parse(text))

    def dump(self, path: str | os.PathLike) -> None:
        """Writes the snapshot to ``path`` as JSON (see :meth:`to_json`)."""
        text = self.to_json()
        with open(path, "w", encoding="utf-8") as file:
            file.write(text)
            file.write("\n")

    @classmethod
    def load(cls, path: str | os.PathLike) -> Snapshot:
        """Reads a snapshot written by :meth:`dump`. Never unpickles. ``OSError`` when the
        file cannot be read; :class:`memviz.SnapshotFormatError` when it is not a snapshot."""
        with open(path, "rb") as file:
            return cls._read(file, os.fspath(path))

    @classmethod
    def _read(cls, file: BinaryIO, source: str) -> Snapshot:
        """The snapshot in the binary stream ``file`` (a file, or ``memviz report -``'s
        standard input), named ``source`` in errors."""
        return cls._make(**snapshot_json.read(file, source))

    def __reduce__(self):
        return (_from_document, (self.to_dict(),))

    def __eq__(self, other):
        if not isinstance(other, Snapshot):
            return NotImplemented
        return all(
            object.__getattribute__(self, name) == object.__getattribute__(other, name)
            for name in _SLOTS
        )

    def __hash__(self):
        return hash((self._taken_at, self._pid, self._rss, self._gc))


def _from_document(document) -> Snapshot:
    """Unpickling: the pickled state is the JSON document, checked like a loaded file."""
    return Snapshot._make(**snapshot_json.from_document(document))
