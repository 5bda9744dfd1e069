"""Snapshots: one consistent reading of the interpreter's memory machinery, kept as a value.

``memviz.snapshot()`` reads, in one pass: the collector's generations and per-generation
type counts, pymalloc's statistics and its arena/pool map (where pymalloc is the allocator),
the process's resident set size, and which readings this interpreter supports. The result
is an immutable :class:`Snapshot` that outlives the process: types are kept by qualified
name (``module.qualname``), it pickles, and it saves to a versioned JSON format
(:meth:`Snapshot.dump` / :meth:`Snapshot.load`). ``newer - older`` is a
:class:`~memviz.SnapshotDiff`.

What a snapshot costs, and what it does not change:

- no list of all objects and no collection: the type counts come from memviz's C walk of
  the generation lists; the generation figures from ``gc.get_count()``,
  ``gc.get_threshold()`` and ``gc.get_stats()``;
- the collector is paused (``gc.disable()``) while the readings are taken, so that no
  collection moves objects between the readings, and put back as it was in a ``finally``
  (threads that snapshot at once share one pause);
- every reading is taken before the snapshot builds anything that it keeps, so a snapshot
  does not count itself. Internally it keeps its figures packed in ``bytes`` and flat
  tuples and builds the value objects (``Generation``, ``Arena``, ``Pool`` ...) when they
  are asked for: its own cost is O(types + pools) and nearly all of it outside pymalloc.
- memviz's own objects alive during the reading -- the instances of memviz's classes
  (earlier snapshots, diffs, trackers, explanations the program keeps) and the tuples,
  lists, dicts, sets, arrays and locks reachable from them through such objects -- are
  marked by the C walk and counted apart (:meth:`Snapshot.own_objects`), never among the
  program's types or generations. :meth:`Snapshot.gc_footprint` lists what one snapshot
  itself adds to them; two snapshots taken back to back differ by nothing.
- The objects a snapshot makes while it reads are O(types + size classes): the eight
  {type: count} dicts of the walks, the type names, pymalloc's statistics; the arena map
  arrives as two ``bytes`` copies of the C walk's records, whatever the number of pools.
"""
from __future__ import annotations

import gc as _gc
import os
import platform
import sys
import threading
import time
from array import array

try:
    import resource
except ImportError:   # not on every platform
    resource = None   # type: ignore[assignment]
from dataclasses import dataclass
from typing import BinaryIO, Iterator, Mapping

from . import _native
from . import gc as _memviz_gc
from .gc import _check_generation
from ._capabilities import Capabilities, Capability, capabilities
from ._errors import CollectorRunning, SnapshotFormatError, UnsupportedInterpreter

__all__ = [
    "Fragmentation",
    "Interpreter",
    "Snapshot",
    "TypeCount",
    "TypeCounts",
    "snapshot",
]

# --------------------------------------------------------------------------------------
# Small value classes


@dataclass(frozen=True)
class Interpreter:
    """The interpreter a snapshot was taken in."""

    implementation: str   #: ``platform.python_implementation()``: 'CPython'
    version: str          #: ``platform.python_version()``: '3.12.1'
    description: str      #: memviz's description: 'CPython 3.12.1 (free-threaded)'
    allocator: str        #: 'pymalloc', 'pymalloc_debug', 'malloc', 'mimalloc', 'debug' ...

    def __str__(self) -> str:
        return f"{self.description}, allocator {self.allocator}"


@dataclass(frozen=True, order=True)
class TypeCount:
    """GC-tracked objects of one type (by qualified name) in a snapshot."""

    name: str
    count: int

    def __str__(self) -> str:
        return f"{self.name}: {self.count:,}"


#: An arena is sparse when its live blocks fill less than this share of it.
SPARSE_THRESHOLD = 0.25


def is_sparse(pools_in_use: int, live_bytes: int, arena_size: int,
              threshold: float = SPARSE_THRESHOLD) -> bool:
    """THE rule of a sparse arena, the one ``Snapshot.fragmentation()`` and
    ``memviz.arenamap`` both apply: it has a pool in use, and the bytes of its live blocks
    are less than ``threshold`` of its size. An arena with no pool in use is empty, not
    sparse: pymalloc keeps it in reserve (it frees empty arenas but the last)."""
    return pools_in_use > 0 and live_bytes < threshold * arena_size


@dataclass(frozen=True)
class Fragmentation:
    """How much of pymalloc's arena memory is held by few live blocks.

    An arena is *sparse* (:func:`is_sparse`) when it has a pool in use and the bytes of
    its live blocks are less than ``threshold`` of its size: it stays allocated (pymalloc
    frees only empty arenas) for little data. ``empty_arenas`` have no pool in use
    (pymalloc's reserve); ``histogram`` counts the others by the share of their bytes in
    live blocks, in four quarters: [0, 25%), [25%, 50%), [50%, 75%), [75%, 100%] -- with
    the threshold at 25% its first quarter is the sparse arenas.
    """

    threshold: float
    arenas: int
    arena_bytes: int
    live_bytes: int            #: bytes of live blocks in all arenas
    sparse_arenas: int
    sparse_arena_bytes: int    #: bytes the sparse arenas hold
    sparse_live_bytes: int     #: bytes of live blocks in them
    sparse_blocks: int         #: live blocks in them
    histogram: tuple[int, int, int, int]
    empty_arenas: int = 0      #: arenas with no pool in use

    @property
    def sparse_is_first_quarter(self) -> bool:
        """Whether the sparse arenas are the histogram's first quarter (the threshold is
        25%): a report then says that figure once."""
        return self.threshold == 0.25

    @property
    def utilization(self) -> float:
        """Live block bytes over arena bytes (0.0 when there are no arenas)."""
        return self.live_bytes / self.arena_bytes if self.arena_bytes else 0.0


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


# --------------------------------------------------------------------------------------
# Packing: a snapshot keeps its figures as bytes of int64 (signed 'q') or uint64 ('Q').


def _pack(code: str, values) -> bytes:
    return array(code, values).tobytes()


def _unpack(code: str, data: bytes) -> array:
    values = array(code)
    values.frombytes(data)
    return values


def _rows(code: str, data: bytes, width: int) -> Iterator[tuple[int, ...]]:
    values = _unpack(code, data)
    for i in range(0, len(values), width):
        yield tuple(values[i:i + width])


#: The generation figures a snapshot keeps, in order, for each of generations 0, 1, 2.
GENERATION_FIELDS = ("objects", "count", "threshold", "collections", "collected", "uncollectable")

#: pymalloc tables: the columns kept for each size class, arena and pool.
LAYOUT_FIELDS = (
    "alignment", "small_request_threshold", "pool_size", "arena_size", "pools_per_arena",
    "pool_overhead",
)
#: The integer fields of ``memviz.pymalloc.PymallocStats`` a snapshot keeps, in order
#: (all but ``size_classes``): the snapshot format's version 1 fixes this list.
STATS_FIELDS = (
    "arenas_allocated_total", "arenas_reclaimed", "arenas_highwater", "arenas_current",
    "arena_bytes", "blocks_in_use", "blocks_free", "raw_blocks", "allocated_bytes",
    "available_bytes", "unused_pools", "unused_pool_bytes", "pool_header_bytes",
    "quantization_bytes", "arena_alignment_bytes", "total_bytes", "arena_map_mid_nodes",
    "arena_map_bot_nodes", "arena_map_root_bytes", "arena_map_mid_bytes",
    "arena_map_bot_bytes", "arena_map_bytes",
)
SIZE_CLASS_FIELDS = ("index", "block_size", "pools", "blocks_in_use", "blocks_free")
ARENA_FIELDS = ("address", "index", "pools_total", "pools_free")
POOL_FIELDS = ("address", "size_class", "block_size", "blocks_in_use", "capacity")


# --------------------------------------------------------------------------------------
# Pausing the collector: shared by threads that snapshot at once.

_pause_lock = threading.Lock()
_pause_depth = 0
_pause_restore = False


def _pause_gc() -> bool:
    """Disables the collector (once for all concurrent snapshots); returns whether it was
    enabled before the first of them paused it."""
    global _pause_depth, _pause_restore
    with _pause_lock:
        if _pause_depth == 0:
            _pause_restore = _gc.isenabled()
            _gc.disable()
        _pause_depth += 1
        return _pause_restore


def _resume_gc() -> None:
    global _pause_depth
    with _pause_lock:
        _pause_depth -= 1
        if _pause_depth == 0 and _pause_restore:
            _gc.enable()


# --------------------------------------------------------------------------------------
# Reading the process and the interpreter


try:
    _PAGE_SIZE = os.sysconf("SC_PAGE_SIZE")
except (AttributeError, ValueError, OSError):
    _PAGE_SIZE = 4096


def _read_proc(path: str) -> bytes | None:
    """A small /proc file, read with os.read (no file objects: nothing for the collector)."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return None
    try:
        return os.read(fd, 8192)
    except OSError:
        return None
    finally:
        os.close(fd)


def _rss() -> tuple[int | None, int | None]:
    """(resident set size, its peak) in bytes: /proc/self/statm's resident pages, and
    getrusage's ru_maxrss (the kernel's hiwater_rss, as VmHWM in /proc/self/status);
    None where they cannot be read."""
    rss = peak = None
    statm = _read_proc("/proc/self/statm")
    if statm:
        fields = statm.split()
        if len(fields) >= 2 and fields[1].isdigit():
            rss = int(fields[1]) * _PAGE_SIZE
    if resource is not None:
        try:
            peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024   # KiB on Linux
        except (OSError, ValueError):
            peak = None
        if not peak:
            peak = None
    if peak is not None and rss is not None:
        peak = max(peak, rss)   # the kernel updates its high-water mark lazily
    return rss, peak


def _allocator() -> str:
    """The object allocator: what PYTHONMALLOC chose at start-up, or the build's default."""
    pymalloc = sys.modules.get("memviz.pymalloc")
    if pymalloc is not None and hasattr(pymalloc, "allocator"):
        try:
            return str(pymalloc.allocator())
        except Exception:   # noqa: BLE001 - informational: fall back on the environment
            pass
    if platform.python_implementation() != "CPython":
        return "unknown"
    chosen = os.environ.get("PYTHONMALLOC") if not sys.flags.ignore_environment else None
    if chosen:
        return chosen
    if _native.free_threaded():
        return "mimalloc"
    return "pymalloc_debug" if hasattr(sys, "gettotalrefcount") else "pymalloc"


_TYPE_MODULE = type.__dict__["__module__"]
_TYPE_QUALNAME = type.__dict__["__qualname__"]
_module_of = _TYPE_MODULE.__get__
_qualname_of = _TYPE_QUALNAME.__get__


def type_name(cls: type) -> str:
    """``module.qualname`` of a type, read with type's own descriptors (a metaclass cannot
    intervene). Types whose module is unknown are named ``?.qualname``."""
    try:
        module = _TYPE_MODULE.__get__(cls, type)
    except AttributeError:
        module = "?"
    try:
        qualname = _TYPE_QUALNAME.__get__(cls, type)
    except AttributeError:
        qualname = cls.__name__
    if not isinstance(module, str):
        module = repr(module)
    return f"{module}.{qualname}"


def _capabilities_flat(caps: Capabilities) -> tuple:
    """(name, reason-or-None, name, reason-or-None, ...): None means available."""
    flat: list = []
    for cap in caps:
        flat.append(cap.name)
        flat.append(None if cap.available else (cap.reason or "unavailable"))
    return tuple(flat)


_PYMALLOC_MISSING = False


def _pymalloc_module():
    """memviz.pymalloc, or None when this memviz has none (looked for once)."""
    global _PYMALLOC_MISSING
    module = sys.modules.get(__package__ + ".pymalloc")
    if module is None and not _PYMALLOC_MISSING:
        try:
            from . import pymalloc as module  # type: ignore[attr-defined]
        except ImportError:
            _PYMALLOC_MISSING = True
    return module


def _capability(caps: Capabilities, name: str) -> bool:
    for cap in caps:
        if cap.name == name:
            return cap.available
    return False


def _read_pymalloc(want_stats: bool, want_arenas: bool):
    """pymalloc's layout, statistics and arena map, packed; each None when unavailable."""
    module = _pymalloc_module()
    layout = stats = size_classes = arenas = pools = None
    if module is None or not (want_stats or want_arenas):
        return layout, stats, size_classes, arenas, pools
    lay = module.layout()
    layout = _pack("q", [getattr(lay, f) for f in LAYOUT_FIELDS] + list(lay.block_sizes))
    if want_stats:
        reading = module.stats()
        stats = _pack("q", [getattr(reading, f) for f in STATS_FIELDS])
        size_classes = _pack(
            "q", [getattr(sc, f) for sc in reading.size_classes for f in SIZE_CLASS_FIELDS])
        del reading
    if want_arenas:
        # The C walk's records, copied as bytes: (address, index, pools_total,
        # pools_free, pools used) per arena, Pool's five fields per pool, as uint64.
        arenas, pools = module._arena_columns()
    return layout, stats, size_classes, arenas, pools


# --------------------------------------------------------------------------------------
# The snapshot


def snapshot() -> Snapshot:
    """One consistent reading of this interpreter's memory machinery, as a :class:`Snapshot`.

    Works on any interpreter: readings this one does not support are left out (``None``)
    and ``capabilities`` says why. Never collects, never lists all objects; the collector
    is paused during the readings and restored afterwards.
    """
    return _take()


def _attempt(want_gc: bool, want_stats: bool, want_arenas: bool):
    """Every reading, with the collector paused; None when the collector is running.
    (Caught here, in a frame that ends before the next attempt, so that the traceback's
    frame objects are not alive, and counted, during it.)"""
    enabled = _pause_gc()
    try:
        # pymalloc first, packed into bytes (the collector does not track bytes), so the
        # walk below does not count it; then the collector's own figures, as ints.
        layout, stats, size_classes, arenas, pools = _read_pymalloc(want_stats, want_arenas)
        figures = walked = None
        if want_gc:
            c0, c1, c2 = _gc.get_count()
            t0, t1, t2 = _gc.get_threshold()
            s0, s1, s2 = _gc.get_stats()
            # Packed at once: a tuple would be a tracked object that the walk counts.
            figures = _pack("q", (
                c0, t0, s0["collections"], s0["collected"], s0["uncollectable"],
                c1, t1, s1["collections"], s1["collected"], s1["uncollectable"],
                c2, t2, s2["collections"], s2["collected"], s2["uncollectable"],
            ))
            del s0, s1, s2
            walked = _memviz_gc._type_counts_apart(_memviz_types(), _PART_TYPES)
        rss, rss_peak = _rss()
    except CollectorRunning:
        return None
    finally:
        _resume_gc()
    return (enabled, layout, stats, size_classes, arenas, pools, figures, walked,
            rss, rss_peak)


#: How long a snapshot waits for a collection that another thread is running.
COLLECTOR_WAIT = 5.0

#: The largest file Snapshot.load reads. A snapshot keeps a few numbers per type and per
#: pymalloc pool: a 100 GiB pymalloc heap (6.4 million pools) makes about 400 MB of JSON.
LOAD_LIMIT = 1 << 30


def _read(file: BinaryIO, source: str) -> Snapshot:
    """The snapshot in the binary stream ``file`` (a file, or ``memviz report -``'s standard
    input), named ``source`` in errors."""
    from ._snapformat import parse

    # At most LOAD_LIMIT bytes: `memviz report /dev/zero` read until memory ran out.
    data = file.read(LOAD_LIMIT + 1)
    if len(data) > LOAD_LIMIT:
        raise SnapshotFormatError(
            f"{source}: more than {LOAD_LIMIT:,} bytes, so not a memviz snapshot")
    return parse(data, source=source)


def _take() -> Snapshot:
    """The reading (see :func:`snapshot`)."""
    taken_at = time.time()
    caps = capabilities()
    want_gc = _capability(caps, "gc")
    want_stats = _capability(caps, "pymalloc.stats")
    want_arenas = _capability(caps, "pymalloc.arenas")
    del caps   # nothing of memviz's may be alive while the lists are walked
    deadline = None
    while True:
        readings = _attempt(want_gc, want_stats, want_arenas)
        if readings is not None:
            break
        # The collector is running. With one thread it is this one's (a finalizer, a
        # weakref callback, a gc.callbacks hook): it cannot finish while we wait.
        # Otherwise another thread may be in a collection that is running Python code.
        now = time.monotonic()
        if deadline is None:
            deadline = now + COLLECTOR_WAIT
        if threading.active_count() == 1 or now > deadline:
            where = ("in this thread: not from a finalizer, a weakref callback or a "
                     "gc.callbacks hook" if threading.active_count() == 1 else
                     f"still, after {COLLECTOR_WAIT:g} s")
            raise CollectorRunning(
                f"memviz.snapshot(): the cyclic garbage collector is running ({where})")
        time.sleep(0.001)
    (enabled, layout, stats, size_classes, arenas, pools, figures, walked,
     rss, rss_peak) = readings
    del readings
    # Everything below builds what the snapshot keeps; every reading is done.
    caps_flat = _capabilities_flat(capabilities())
    names = counts = gc_packed = own_names = own_counts = permanent = None
    if walked is not None:
        names, counts, objects = _pack_types(walked[:4])
        own_names, own_counts, _ = _pack_types(walked[4:])
        del walked
        # No comprehension over locals here: on 3.10/3.11 that would make them cell
        # variables, and the cells would be alive (and counted) during the walk.
        # A generation's objects leave memviz's own out, as its type counts do: the
        # list's length (len(gc.get_objects(g))) less own_objects(g).
        gc_values = _unpack("q", figures)
        gc_values.insert(10, objects[2])
        gc_values.insert(5, objects[1])
        gc_values.insert(0, objects[0])
        permanent = objects[3]
        gc_packed = gc_values.tobytes()
    snap = Snapshot._make(
        taken_at=taken_at,
        pid=os.getpid(),
        implementation=platform.python_implementation(),
        version=platform.python_version(),
        description=_native.describe_interpreter(),
        allocator=_allocator(),
        capabilities=caps_flat,
        gc_enabled=enabled if want_gc else None,
        gc=gc_packed,
        permanent=permanent,
        type_names=names,
        type_counts=counts,
        layout=layout,
        pymalloc_stats=stats,
        size_classes=size_classes,
        arenas=arenas,
        pools=pools,
        rss=rss,
        rss_peak=rss_peak,
        own_names=own_names,
        own_counts=own_counts,
    )
    return snap


def _pack_types(walked) -> tuple[tuple[str, ...], bytes, tuple[int, ...]]:
    """{type: count} dicts, one per column (the generations 0, 1, 2 and permanent; or
    memviz's own objects) -> (sorted names, packed counts per name, one per column,
    objects per column). Types with the same qualified name are merged."""
    width = len(walked)
    types = set().union(*walked)
    try:
        names = {cls: f"{_module_of(cls)}.{_qualname_of(cls)}" for cls in types}
    except Exception:   # a heap type without __module__: name each one with care
        names = {cls: type_name(cls) for cls in types}
    order = sorted(types, key=names.__getitem__)
    getters = [column.get for column in walked]
    values = [get(cls, 0) for cls in order for get in getters]
    ordered = [names[cls] for cls in order]
    if len(set(ordered)) != len(ordered):   # distinct types, one name: add them up
        merged: dict[str, list[int]] = {}
        for i, name in enumerate(ordered):
            row = merged.setdefault(name, [0] * width)
            for g in range(width):
                row[g] += values[width * i + g]
        ordered = list(merged)
        values = [n for row in merged.values() for n in row]
    return (tuple(ordered), _pack("q", values),
            tuple(sum(column.values()) for column in walked))


_SLOTS = (
    "_taken_at", "_pid", "_implementation", "_version", "_description", "_allocator",
    "_capabilities", "_gc_enabled", "_gc", "_permanent", "_type_names", "_type_counts",
    "_layout", "_pymalloc_stats", "_size_classes", "_arenas", "_pools", "_rss", "_rss_peak",
    "_own_names", "_own_counts",
)


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


#: What memviz builds its values from: an object of one of these types is memviz's own
#: when a memviz value refers to it (directly, or through others of them): a value's
#: __dict__, a snapshot's tuple of names, an arena's tuple of pools, a tracker's lock and
#: array. Nothing else a value refers to (a type, a function, the user's objects) is.
_PART_TYPES = (tuple, list, dict, set, frozenset, array, type(threading.Lock()))

#: The memviz modules whose classes _memviz_types() last listed, and those classes.
_MEMVIZ_TYPES: tuple[frozenset, tuple[type, ...]] = (frozenset(), ())


def _memviz_types() -> tuple[type, ...]:
    """The classes memviz defines (in the memviz modules imported so far): their
    instances, and what the C walk reaches from them, are memviz's own objects, which a
    snapshot leaves out. Listed again only when another memviz module was imported."""
    global _MEMVIZ_TYPES
    modules = frozenset(name for name in sys.modules
                        if name == __package__ or name.startswith(__package__ + "."))
    if modules != _MEMVIZ_TYPES[0]:
        found = []
        for name in sorted(modules):
            for value in vars(sys.modules[name]).values():
                if isinstance(value, type) and value.__module__ == name:
                    found.append(value)
        _MEMVIZ_TYPES = (modules, tuple(found))
    return _MEMVIZ_TYPES[1]


class Snapshot:
    """One reading of an interpreter's memory machinery (see :func:`memviz.snapshot`).

    Immutable. Readings the interpreter did not support are ``None``. Compare two with
    ``newer - older`` or ``newer.diff(older)``; save with :meth:`dump` / :meth:`to_json`.
    """

    __slots__ = _SLOTS

    def __init__(self) -> None:
        raise TypeError(
            "take a snapshot with memviz.snapshot(), or read one with "
            "Snapshot.load() / Snapshot.from_json()"
        )

    @classmethod
    def _make(cls, **fields) -> Snapshot:
        self = object.__new__(cls)
        for name in _SLOTS:
            object.__setattr__(self, name, fields[name[1:]])
        return self

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
            Capability(flat[i], flat[i + 1] is None, flat[i + 1])
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
    def generations(self):
        """The three ``memviz.gc.Generation`` values, or None without GC readings."""
        if self._gc is None:
            return None
        from .gc import Generation

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
        names = self._require_types()
        _check_generation(generation)
        if generation == 3 and self._permanent and self._own_names is None:
            raise UnsupportedInterpreter(
                "this snapshot was read from a file of format version 1, which does not "
                "count the permanent generation's objects by type")
        return _column(names, self._type_counts, generation)

    def type_table(self) -> dict[str, tuple[int, int, int]]:
        """{type name: (generation 0, 1, 2)} for every type in the snapshot (the
        permanent generation: ``type_counts(PERMANENT)``)."""
        names = self._require_types()
        values = _unpack("q", self._type_counts)
        return {name: tuple(values[4 * i:4 * i + 3]) for i, name in enumerate(names)}

    def own_objects(self, generation: int | None = None) -> TypeCounts | None:
        """memviz's own objects that this snapshot found alive and left out of its type
        counts, by type name, in one generation (as :meth:`type_counts`) or in 0, 1 and
        2: the instances of memviz's classes (snapshots, diffs, trackers, explanations,
        arenas, pools ... that the program keeps) and the tuples, lists, dicts, sets,
        arrays and locks reachable from them through such objects only. The generations'
        ``objects`` and ``permanent`` leave them out too. None for a
        snapshot read from a file of format version 1, which did not record them."""
        _check_generation(generation)
        if self._own_names is None:
            return None
        return _column(self._own_names, self._own_counts, generation)

    def top_types(self, limit: int | None = 10, generation: int | None = None) -> list[TypeCount]:
        """The types with the most objects, largest first (ties by name)."""
        counts = self.type_counts(generation)
        ranked = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
        if limit is not None:
            ranked = ranked[:limit]
        return [TypeCount(name, count) for name, count in ranked]

    def _require_types(self) -> tuple[str, ...]:
        if self._type_names is None:
            raise UnsupportedInterpreter(
                f"this snapshot ({self._description}) has no GC readings: {self._reason('gc')}"
            )
        return self._type_names

    # -- pymalloc -----------------------------------------------------------------------

    @property
    def layout(self):
        """``memviz.pymalloc.Layout`` of the interpreter, or None without pymalloc readings."""
        if self._layout is None:
            return None
        from . import pymalloc

        values = list(_unpack("q", self._layout))
        fixed = dict(zip(LAYOUT_FIELDS, values))
        return pymalloc.Layout(**fixed, block_sizes=tuple(values[len(LAYOUT_FIELDS):]))

    @property
    def pymalloc(self):
        """``memviz.pymalloc.PymallocStats``, or None without pymalloc statistics."""
        if self._pymalloc_stats is None:
            return None
        from . import pymalloc

        scalars = dict(zip(STATS_FIELDS, _unpack("q", self._pymalloc_stats)))
        size_classes = tuple(
            pymalloc.SizeClass(*row)
            for row in _rows("q", self._size_classes, len(SIZE_CLASS_FIELDS))
        )
        return pymalloc.PymallocStats(**scalars, size_classes=size_classes)

    def _arena_rows(self) -> Iterator[tuple[tuple[int, ...], list[tuple[int, ...]]]]:
        """(arena columns, [pool columns]) per arena, without building value objects."""
        pools = _rows("Q", self._pools, len(POOL_FIELDS))
        for row in _rows("Q", self._arenas, len(ARENA_FIELDS) + 1):
            yield row[:-1], [next(pools) for _ in range(row[-1])]

    @property
    def arenas(self):
        """pymalloc's arenas (``memviz.pymalloc.Arena``, each with its pools), or None
        without the arena map. Built from the snapshot's packed map at each access."""
        if self._arenas is None:
            return None
        from . import pymalloc

        return tuple(
            pymalloc.Arena(*arena, pools=tuple(pymalloc.Pool(*pool) for pool in pools))
            for arena, pools in self._arena_rows()
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
                             sparse_live, sparse_blocks, tuple(histogram), empty)

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

    def diff(self, older: Snapshot):
        """What changed from ``older`` to this snapshot: a :class:`memviz.SnapshotDiff`."""
        from ._diff import SnapshotDiff

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
        """Plain-text tables: the collector, the top ``limit`` types, pymalloc's arenas,
        size classes and fragmentation."""
        from ._report import snapshot_report

        return snapshot_report(self, limit)

    def __repr__(self) -> str:
        when = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(self._taken_at))
        parts = [f"{self._description}", f"pid {self._pid}", f"{when} UTC"]
        if self._gc is not None:
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
        from .htmlreport import snapshot_html

        return snapshot_html(self)

    # -- saving -------------------------------------------------------------------------

    def to_dict(self) -> dict:
        """The snapshot as the JSON document :meth:`to_json` writes (plain dicts, lists,
        str, int, float, bool, None)."""
        from ._snapformat import to_document

        return to_document(self)

    @classmethod
    def from_dict(cls, document: Mapping) -> Snapshot:
        """The snapshot a :meth:`to_dict` document describes; every field is checked and
        anything wrong raises :class:`memviz.SnapshotFormatError`."""
        from ._snapformat import from_document

        return from_document(document)

    def to_json(self, indent: int | None = None) -> str:
        """The snapshot as JSON text in memviz's versioned snapshot format."""
        import json

        return json.dumps(self.to_dict(), indent=indent, allow_nan=False)

    @classmethod
    def from_json(cls, text: str | bytes) -> Snapshot:
        """The snapshot in ``text``; :class:`memviz.SnapshotFormatError` names what is
        wrong when it is not JSON, not a memviz snapshot, of another format version, or
        has a field of the wrong type."""
        from ._snapformat import parse

        return parse(text)

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
            return _read(file, os.fspath(path))

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
    from ._snapformat import from_document

    return from_document(document)
