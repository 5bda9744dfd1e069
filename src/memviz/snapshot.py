"""Snapshots: one consistent reading of the interpreter's memory machinery, kept as a value.

``memviz.snapshot()`` reads, in one pass: the collector's generations and per-generation
type counts, pymalloc's statistics and its arena/pool map (where pymalloc is the allocator),
the process's resident set size, and which readings this interpreter supports; with
``census=True`` also a census (``memviz.census()``: every object, per type, with its
bytes), which costs a walk of the whole heap and so is not taken by default. The result
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
- a census is taken first, before the collector is paused, and packed at once into
  objects the collector does not track (one str of the type names, bytes of figures), so
  the GC readings after it count nothing of it. It counts every object alive then, memviz's
  own among them (earlier snapshots the program keeps): a census cannot tell them apart.
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

from . import _native
from . import gc as _memviz_gc
from ._capabilities import Capabilities, capabilities
from ._errors import CollectorRunning
from ._packed import pack as _pack
from ._packed import unpack as _unpack
from .census import census as _census_reading
from .formats.snapshot_json import CENSUS_FIELDS, LAYOUT_FIELDS, SIZE_CLASS_FIELDS, STATS_FIELDS
from .values.fragmentation import SPARSE_THRESHOLD, Fragmentation, is_sparse
from .values.names import type_name
from .values.snapshot import Interpreter, RssSplit, Snapshot, TypeCount, TypeCounts

__all__ = [
    "SPARSE_THRESHOLD",
    "Fragmentation",
    "Interpreter",
    "RssSplit",
    "Snapshot",
    "TypeCount",
    "TypeCounts",
    "is_sparse",
    "snapshot",
    "type_name",
]

#: A type's module and qualname, read with type's own descriptors (as ``type_name``),
#: for the fast path of naming every type a walk counted.
_module_of = type.__dict__["__module__"].__get__
_qualname_of = type.__dict__["__qualname__"].__get__


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
            from . import pymalloc as module
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


def _read_census() -> tuple[str, bytes, bytes, int]:
    """The census (``memviz.census.census()``), by type name, packed into objects the
    collector does not track (a tuple of names would be one, on 3.10-3.13, that the GC
    walk after it counts): (the names, sorted, in one str; their lengths, and the
    CENSUS_FIELDS of each, as packed int64; how many objects were sized by getsizeof)."""
    census = _census_reading()
    by_name = sorted(census.types)   # a TypeStat orders by its fields, its name first
    return ("".join(stat.name for stat in by_name),
            _pack("q", [len(stat.name) for stat in by_name]),
            _pack("q", [getattr(stat, field) for stat in by_name for field in CENSUS_FIELDS]),
            census.sized_by_getsizeof)


def _census_names(text: str, lengths: bytes) -> tuple[str, ...]:
    """The names _read_census packed into one str, in order."""
    names = []
    start = 0
    for length in _unpack("q", lengths):
        names.append(text[start:start + length])
        start += length
    return tuple(names)


# --------------------------------------------------------------------------------------
# The snapshot


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


def snapshot(census: bool = False) -> Snapshot:
    """One consistent reading of this interpreter's memory machinery, as a :class:`Snapshot`.

    Works on any interpreter: readings this one does not support are left out (``None``)
    and ``capabilities`` says why. Never collects, never lists all objects; the collector
    is paused during the readings and restored afterwards. With ``census=True`` the
    snapshot also keeps a census (``Snapshot.census``, see ``memviz.census()``), a walk
    of every object that costs far more than the rest; taken where the collector's lists
    can be read (the ``gc`` capability), None elsewhere.
    """
    taken_at = time.time()
    caps = capabilities()
    want_gc = _capability(caps, "gc")
    want_stats = _capability(caps, "pymalloc.stats")
    want_arenas = _capability(caps, "pymalloc.arenas")
    del caps   # nothing of memviz's may be alive while the lists are walked
    census_text = census_lengths = census_stats = census_sized = None
    if census and want_gc:   # the census's roots are the collector's lists, among others
        census_text, census_lengths, census_stats, census_sized = _read_census()
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
    census_names = None
    if census_text is not None and census_lengths is not None:   # read together
        census_names = _census_names(census_text, census_lengths)
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
        census_names=census_names,
        census_stats=census_stats,
        census_sized=census_sized,
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


