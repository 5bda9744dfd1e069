"""memviz's snapshot file format: a JSON document, versioned, checked field by field.

Version 3::

    {
      "format": "memviz.snapshot", "version": 3,
      "taken_at": 1714550400.25,            seconds since the epoch
      "pid": 4242,
      "interpreter": {"implementation": "CPython", "version": "3.12.1",
                      "description": "CPython 3.12.1", "allocator": "pymalloc"},
      "capabilities": [{"name": "gc", "available": true, "reason": null}, ...],
      "rss": 31457280, "rss_peak": 33554432,         bytes, or null
      "gc": null | {
        "enabled": true, "permanent": 0,
        "generations": [{"objects": .., "count": .., "threshold": .., "collections": ..,
                         "collected": .., "uncollectable": ..}, x3],
        "types": {"builtins.dict": [gen0, gen1, gen2, permanent], ...},
        "own": {"memviz.snapshot.Snapshot": [gen0, gen1, gen2, permanent], ...}
      },                                   memviz's own objects, left out of "types"
      "pymalloc": null | {
        "layout": {"alignment": .., "small_request_threshold": .., "pool_size": ..,
                   "arena_size": .., "pools_per_arena": .., "pool_overhead": ..,
                   "block_sizes": [..]},
        "stats": null | {<STATS_FIELDS_V1: PymallocStats' integer fields>,
                         "size_classes": [[index, block_size, pools, blocks_in_use,
                                           blocks_free], ...]},
        "arenas": null | [{"address": .., "index": .., "pools_total": .., "pools_free": ..,
                           "pools": [[address, size_class, block_size, blocks_in_use,
                                      capacity], ...]}, ...]
      },
      "census": null | {                  memviz.census(), when the snapshot took one
        "sized_by_getsizeof": ..,
        "types": {"builtins.str": [count, bytes, tracked], ...}
      }
    }

Version 2 (memviz before snapshots kept a census) is version 3 without ``census``: such
a snapshot's ``census`` is None. Version 1 (memviz before the permanent generation was
counted by type, and before snapshots left memviz's own objects out) is read too: its
``types`` rows have three counts and there is no ``own``; such a snapshot's
``own_objects()`` is None, and it knows the permanent generation's objects by type only
when there are none.

Reading never trusts the document: every field's presence and type is checked, unknown
fields are refused, and each generation's ``objects`` (and ``permanent``) must equal the
sum of its type counts (memviz writes it so; memviz's own objects, in ``own``, are in
neither); a census type has no more tracked objects than objects, and no more objects
are sized than counted. Anything wrong raises ``SnapshotFormatError`` naming the field.
"""
from __future__ import annotations

import json
import math
from typing import Any, BinaryIO, Iterator, Mapping

from .._errors import SnapshotFormatError
from .._packed import pack as _pack
from .._packed import rows as _rows
from .._packed import unpack as _unpack

#: The fields of a snapshot value (``memviz.values.snapshot.Snapshot``), by name: what
#: ``to_document`` writes from and what reading a document returns.
SNAPSHOT_FIELDS = (
    "taken_at", "pid", "implementation", "version", "description", "allocator",
    "capabilities", "gc_enabled", "gc", "permanent", "type_names", "type_counts",
    "layout", "pymalloc_stats", "size_classes", "arenas", "pools", "rss", "rss_peak",
    "own_names", "own_counts", "census_names", "census_stats", "census_sized",
)

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
#: The figures a census keeps per type, in ``TypeStat``'s order (after its name).
CENSUS_FIELDS = ("count", "bytes", "tracked")


FORMAT = "memviz.snapshot"
VERSION = 3
#: The versions this memviz reads.
READABLE_VERSIONS = (1, 2, 3)

#: The integer fields of ``memviz.pymalloc.PymallocStats`` that version 1 keeps, in order.
STATS_FIELDS_V1 = STATS_FIELDS

_INT64 = (-(2**63), 2**63 - 1)
_UINT64 = (0, 2**64 - 1)


def arena_rows(arenas: bytes, pools: bytes
               ) -> Iterator[tuple[tuple[int, ...], list[tuple[int, ...]]]]:
    """(arena columns, [pool columns]) per arena of a snapshot's packed map: each arena
    row is ARENA_FIELDS and the number of its pools, which follow in order."""
    pool_rows = _rows("Q", pools, len(POOL_FIELDS))
    for row in _rows("Q", arenas, len(ARENA_FIELDS) + 1):
        yield row[:-1], [next(pool_rows) for _ in range(row[-1])]


# --------------------------------------------------------------------------------------
# Writing


def to_document(fields: Mapping[str, Any]) -> dict:
    """The JSON document of a snapshot's fields (``SNAPSHOT_FIELDS``)."""
    caps = fields["capabilities"]
    document: dict[str, Any] = {
        "format": FORMAT,
        "version": VERSION,
        "taken_at": fields["taken_at"],
        "pid": fields["pid"],
        "interpreter": {
            "implementation": fields["implementation"],
            "version": fields["version"],
            "description": fields["description"],
            "allocator": fields["allocator"],
        },
        "capabilities": [
            {"name": caps[i], "available": caps[i + 1] is None, "reason": caps[i + 1]}
            for i in range(0, len(caps), 2)
        ],
        "rss": fields["rss"],
        "rss_peak": fields["rss_peak"],
        "gc": None,
        "pymalloc": None,
        "census": None,
    }
    if fields["census_names"] is not None:
        stats = _unpack("q", fields["census_stats"])
        width = len(CENSUS_FIELDS)
        document["census"] = {
            "sized_by_getsizeof": fields["census_sized"],
            "types": {name: list(stats[width * i:width * i + width])
                      for i, name in enumerate(fields["census_names"])},
        }
    if fields["gc"] is not None:
        names = fields["type_names"]
        counts = _unpack("q", fields["type_counts"])
        own = _unpack("q", fields["own_counts"])
        document["gc"] = {
            "enabled": fields["gc_enabled"],
            "permanent": fields["permanent"],
            "generations": [
                dict(zip(GENERATION_FIELDS, row))
                for row in _rows("q", fields["gc"], len(GENERATION_FIELDS))
            ],
            "types": {name: list(counts[4 * i:4 * i + 4]) for i, name in enumerate(names)},
            "own": {name: list(own[4 * i:4 * i + 4])
                    for i, name in enumerate(fields["own_names"])},
        }
    if fields["layout"] is not None:
        layout = list(_unpack("q", fields["layout"]))
        pymalloc: dict[str, Any] = {
            "layout": {
                **dict(zip(LAYOUT_FIELDS, layout)),
                "block_sizes": layout[len(LAYOUT_FIELDS):],
            },
            "stats": None,
            "arenas": None,
        }
        if fields["pymalloc_stats"] is not None:
            pymalloc["stats"] = {
                **dict(zip(STATS_FIELDS_V1, _unpack("q", fields["pymalloc_stats"]))),
                "size_classes": [
                    list(row)
                    for row in _rows("q", fields["size_classes"], len(SIZE_CLASS_FIELDS))
                ],
            }
        if fields["arenas"] is not None:
            pymalloc["arenas"] = [
                {**dict(zip(ARENA_FIELDS, arena)), "pools": [list(pool) for pool in pools]}
                for arena, pools in arena_rows(fields["arenas"], fields["pools"])
            ]
        document["pymalloc"] = pymalloc
    return document


# --------------------------------------------------------------------------------------
# Reading

_JSON_TYPE_NAMES = {
    dict: "an object", list: "an array", str: "a string", bool: "a boolean",
    int: "an integer", float: "a number", type(None): "null",
}


def _kind(value: object) -> str:
    return _JSON_TYPE_NAMES.get(type(value), type(value).__name__)


class _Reader:
    """Checks a document field by field; each failure names its path."""

    def __init__(self, source: str):
        self.source = source

    def fail(self, path: str, problem: str):
        where = f"{self.source}: {path}: " if path else f"{self.source}: "
        raise SnapshotFormatError(where + problem)

    def object(self, value, path: str, keys: tuple[str, ...]) -> dict:
        if not isinstance(value, dict):
            self.fail(path, f"expected an object, got {_kind(value)}")
        missing = [key for key in keys if key not in value]
        if missing:
            self.fail(path, "missing field" + ("s " if len(missing) > 1 else " ")
                      + ", ".join(repr(key) for key in missing))
        unknown = sorted(str(key) for key in value if key not in keys)
        if unknown:
            self.fail(path, "unknown field" + ("s " if len(unknown) > 1 else " ")
                      + ", ".join(repr(key) for key in unknown))
        return value

    def array(self, value, path: str, length: int | None = None) -> list:
        if not isinstance(value, list):
            self.fail(path, f"expected an array, got {_kind(value)}")
        if length is not None and len(value) != length:
            self.fail(path, f"expected {length} items, got {len(value)}")
        return value

    def integer(self, value, path: str, minimum: int | None = 0,
                bounds: tuple[int, int] = _INT64) -> int:
        if type(value) is not int:   # bool is an int to Python, not to this format
            self.fail(path, f"expected an integer, got {_kind(value)}")
        if minimum is not None and value < minimum:
            self.fail(path, f"expected an integer >= {minimum}, got {value}")
        if not bounds[0] <= value <= bounds[1]:
            self.fail(path, f"integer {value} is out of range")
        return value

    def optional_integer(self, value, path: str) -> int | None:
        return None if value is None else self.integer(value, path)

    def number(self, value, path: str) -> float:
        if type(value) is int and value.bit_length() > 64:   # float() would overflow
            self.fail(path, f"integer {value} is out of range")
        if type(value) not in (int, float) or not math.isfinite(value) or value < 0:
            self.fail(path, f"expected a non-negative number, got {_kind(value)}"
                      + (f" {value!r}" if type(value) in (int, float) else ""))
        return float(value)

    def string(self, value, path: str) -> str:
        if not isinstance(value, str):
            self.fail(path, f"expected a string, got {_kind(value)}")
        return value

    def boolean(self, value, path: str) -> bool:
        if type(value) is not bool:
            self.fail(path, f"expected true or false, got {_kind(value)}")
        return value

    def integers(self, value, path: str, length: int | None, minimum: int | None = 0,
                 bounds: tuple[int, int] = _INT64) -> list[int]:
        items = self.array(value, path, length)
        return [self.integer(item, f"{path}[{i}]", minimum, bounds)
                for i, item in enumerate(items)]


_TOP = ("format", "version", "taken_at", "pid", "interpreter", "capabilities", "rss",
        "rss_peak", "gc", "pymalloc")
#: What version 3 adds at the top.
_TOP_V3 = ("census",)
_INTERPRETER = ("implementation", "version", "description", "allocator")


def parse(text: str | bytes, source: str = "snapshot JSON") -> dict[str, Any]:
    """A snapshot's fields from JSON text, or SnapshotFormatError naming what is wrong."""
    reader = _Reader(source)
    if isinstance(text, (bytes, bytearray)):
        try:
            text = bytes(text).decode("utf-8")
        except UnicodeDecodeError as error:
            reader.fail("", f"not UTF-8 text (byte {error.start}), so not a memviz snapshot")
    if not isinstance(text, str):
        raise TypeError(f"expected str or bytes, not {type(text).__name__}")
    if not text.strip():
        reader.fail("", "empty, not a memviz snapshot")

    def refuse_constant(name):
        raise ValueError(f"{name} is not a number this format allows")

    try:
        document = json.loads(text, parse_constant=refuse_constant)
    except json.JSONDecodeError as error:
        if error.pos >= len(text.rstrip()) or error.msg.startswith("Unterminated string"):
            reader.fail("", f"not valid JSON: the text ends early at line {error.lineno} "
                            f"column {error.colno} (truncated?)")
        reader.fail("", f"not valid JSON: {error.msg} at line {error.lineno} "
                        f"column {error.colno}")
    except RecursionError:
        reader.fail("", "not valid JSON for a snapshot: nested too deeply")
    except ValueError as error:   # NaN/Infinity, or an integer with too many digits
        reader.fail("", f"not valid JSON for a snapshot: {error}")
    return from_document(document, source)


#: The largest file Snapshot.load reads. A snapshot keeps a few numbers per type and per
#: pymalloc pool: a 100 GiB pymalloc heap (6.4 million pools) makes about 400 MB of JSON.
LOAD_LIMIT = 1 << 30


def read(file: BinaryIO, source: str) -> dict[str, Any]:
    """The fields of the snapshot in the binary stream ``file`` (a file, or ``memviz report
    -``'s standard input), named ``source`` in errors."""
    # At most LOAD_LIMIT bytes: `memviz report /dev/zero` read until memory ran out.
    data = file.read(LOAD_LIMIT + 1)
    if len(data) > LOAD_LIMIT:
        raise SnapshotFormatError(
            f"{source}: more than {LOAD_LIMIT:,} bytes, so not a memviz snapshot")
    return parse(data, source=source)


def from_document(document: Mapping, source: str = "snapshot") -> dict[str, Any]:
    """A snapshot's fields from a :func:`to_document` document, checked field by field."""
    reader = _Reader(source)
    try:
        return _read(reader, document)
    except SnapshotFormatError:
        raise
    except (KeyError, TypeError, ValueError, IndexError, AttributeError, OverflowError,
            RecursionError) as error:
        # The checks above are meant to leave nothing for this; it keeps the promise
        # that loading raises only SnapshotFormatError.
        raise SnapshotFormatError(
            f"{source}: malformed snapshot (unexpected {type(error).__name__}: {error})"
        ) from None


def _read(r: _Reader, document) -> dict[str, Any]:
    if not isinstance(document, dict):
        r.fail("", f"expected a JSON object (a memviz snapshot), got {_kind(document)}")
    if document.get("format") != FORMAT:
        r.fail("", f"not a memviz snapshot (no \"format\": \"{FORMAT}\" field)")
    version = document.get("version")
    if type(version) is not int:
        r.fail("version", f"expected an integer, got {_kind(version)}")
    if version not in READABLE_VERSIONS:
        newer = " (written by a newer memviz?)" if version > VERSION else ""
        r.fail("version", f"snapshot format version {version} is not supported{newer}; "
                          f"this memviz reads versions "
                          f"{', '.join(map(str, READABLE_VERSIONS))}")
    r.object(document, "", _TOP + (_TOP_V3 if version >= 3 else ()))

    interpreter = r.object(document["interpreter"], "interpreter", _INTERPRETER)
    strings = {key: r.string(interpreter[key], f"interpreter.{key}") for key in _INTERPRETER}
    if strings["version"] not in strings["description"]:
        # The version is the file's claim about the interpreter; a description naming
        # another one (a file edited by hand, or by a tool) must not relabel it.
        strings["description"] = f"{strings['implementation']} {strings['version']}"

    flat: list = []
    for i, item in enumerate(r.array(document["capabilities"], "capabilities")):
        path = f"capabilities[{i}]"
        cap = r.object(item, path, ("name", "available", "reason"))
        name = r.string(cap["name"], f"{path}.name")
        available = r.boolean(cap["available"], f"{path}.available")
        reason = cap["reason"]
        if available:
            if reason is not None:
                r.fail(f"{path}.reason", "expected null for an available reading")
        else:
            reason = r.string(reason, f"{path}.reason")
        flat += [name, reason]

    fields = {
        "taken_at": _timestamp(r, document["taken_at"]),
        "pid": r.integer(document["pid"], "pid"),
        **strings,
        "capabilities": tuple(flat),
        "rss": r.optional_integer(document["rss"], "rss"),
        "rss_peak": r.optional_integer(document["rss_peak"], "rss_peak"),
        "gc_enabled": None, "gc": None, "permanent": None, "type_names": None,
        "type_counts": None, "layout": None, "pymalloc_stats": None, "size_classes": None,
        "arenas": None, "pools": None, "own_names": None, "own_counts": None,
        "census_names": None, "census_stats": None, "census_sized": None,
    }
    if document["gc"] is not None:
        fields.update(_read_gc(r, document["gc"], version))
    if document["pymalloc"] is not None:
        fields.update(_read_pymalloc(r, document["pymalloc"]))
    if version >= 3 and document["census"] is not None:
        fields.update(_read_census(r, document["census"]))
    return fields


#: 9999-12-31 23:59:59 UTC: the reports print taken_at with time.gmtime, which fails
#: (OverflowError, OSError) on times far beyond it.
_LAST_TIMESTAMP = 253402300799


def _timestamp(r: _Reader, value) -> float:
    seconds = r.number(value, "taken_at")
    if seconds > _LAST_TIMESTAMP:
        r.fail("taken_at", f"{value!r} seconds since the epoch is after the year 9999")
    return seconds


def _read_gc(r: _Reader, value, version: int) -> dict:
    keys = ("enabled", "permanent", "generations", "types") + (("own",) if version >= 2 else ())
    gc = r.object(value, "gc", keys)
    enabled = r.boolean(gc["enabled"], "gc.enabled")
    permanent = r.integer(gc["permanent"], "gc.permanent")
    generations = []
    for i, item in enumerate(r.array(gc["generations"], "gc.generations", 3)):
        path = f"gc.generations[{i}]"
        gen = r.object(item, path, GENERATION_FIELDS)
        generations.append([
            # gc.get_count()'s counters are the only figures that may be negative
            r.integer(gen[key], f"{path}.{key}", None if key == "count" else 0)
            for key in GENERATION_FIELDS
        ])
    types = gc["types"]
    if not isinstance(types, dict):
        r.fail("gc.types", f"expected an object, got {_kind(types)}")
    columns = 4 if version >= 2 else 3   # version 1: no permanent generation by type
    sums = [0, 0, 0, 0]
    names, counts = _type_rows(r, types, "gc.types", columns, sums)
    for generation in range(3):
        if sums[generation] != generations[generation][0]:
            r.fail(f"gc.generations[{generation}].objects",
                   f"{generations[generation][0]} does not match the {sums[generation]} "
                   f"objects that gc.types counts in generation {generation}")
    read = {
        "gc_enabled": enabled,
        "permanent": permanent,
        "gc": _pack("q", [value for row in generations for value in row]),
        "type_names": names,
        "type_counts": _pack("q", counts),
    }
    if version >= 2:
        if sums[3] != permanent:
            r.fail("gc.permanent", f"{permanent} does not match the {sums[3]} objects that "
                                   "gc.types counts in the permanent generation")
        own = gc["own"]
        if not isinstance(own, dict):
            r.fail("gc.own", f"expected an object, got {_kind(own)}")
        read["own_names"], own_counts = _type_rows(r, own, "gc.own", 4, [0, 0, 0, 0])
        read["own_counts"] = _pack("q", own_counts)
    return read


def _type_rows(r: _Reader, rows: dict, path: str, columns: int, sums: list[int]
               ) -> tuple[tuple[str, ...], list[int]]:
    """(sorted names, four counts per name) of a {name: [counts]} object; each column
    added to ``sums``. A row of three (version 1) gets a permanent count of 0."""
    names = tuple(sorted(rows))
    counts: list[int] = []
    for name in names:
        if not name:
            r.fail(path, "a type name is empty")
        row = r.integers(rows[name], f"{path}[{name!r}]", columns)
        counts += row if columns == 4 else row + [0]
        for generation in range(columns):
            sums[generation] += row[generation]
    return names, counts


def _read_census(r: _Reader, value) -> dict:
    census = r.object(value, "census", ("sized_by_getsizeof", "types"))
    types = census["types"]
    if not isinstance(types, dict):
        r.fail("census.types", f"expected an object, got {_kind(types)}")
    names = tuple(sorted(types))   # as a census reading is kept: by name
    stats: list[int] = []
    for name in names:
        path = f"census.types[{name!r}]"
        if not name:
            r.fail("census.types", "a type name is empty")
        count, size, tracked = r.integers(types[name], path, len(CENSUS_FIELDS))
        if tracked > count:
            r.fail(path, f"{tracked} tracked of {count} objects")
        stats += (count, size, tracked)
    objects = sum(stats[0::len(CENSUS_FIELDS)])
    sized = r.integer(census["sized_by_getsizeof"], "census.sized_by_getsizeof")
    if sized > objects:
        r.fail("census.sized_by_getsizeof", f"{sized} objects sized of the {objects} that "
                                             "census.types counts")
    return {"census_names": names, "census_stats": _pack("q", stats), "census_sized": sized}


#: The most pools an arena of a layout in a file may hold: pymalloc's arenas hold 64
#: (3.10: 256 KiB of 4 KiB pools; 3.11+: 1 MiB of 16 KiB).
MAX_POOLS_PER_ARENA = 1 << 12


def _pools_per_arena(r: _Reader, layout: dict[str, int]) -> int:
    """The layout's pools per arena, checked against its arena and pool sizes
    (pymalloc's MAX_POOLS_IN_ARENA = ARENA_SIZE / POOL_SIZE) and MAX_POOLS_PER_ARENA."""
    pool_size, arena_size = layout["pool_size"], layout["arena_size"]
    if pool_size == 0 or arena_size < pool_size:
        r.fail("pymalloc.layout.arena_size", f"an arena of {arena_size} bytes cannot hold "
                                             f"a pool of {pool_size} bytes")
    pools = layout["pools_per_arena"]
    if pools != arena_size // pool_size or pools > MAX_POOLS_PER_ARENA:
        r.fail("pymalloc.layout.pools_per_arena",
               f"{pools} pools in an arena of {arena_size} bytes of {pool_size}-byte pools "
               f"(at most {MAX_POOLS_PER_ARENA:,} here)")
    return pools


def _read_pymalloc(r: _Reader, value) -> dict:
    pymalloc = r.object(value, "pymalloc", ("layout", "stats", "arenas"))
    layout = r.object(pymalloc["layout"], "pymalloc.layout", (*LAYOUT_FIELDS, "block_sizes"))
    values = [r.integer(layout[key], f"pymalloc.layout.{key}") for key in LAYOUT_FIELDS]
    pools_per_arena = _pools_per_arena(r, dict(zip(LAYOUT_FIELDS, values)))
    block_sizes = r.integers(layout["block_sizes"], "pymalloc.layout.block_sizes", None)
    fields: dict[str, Any] = {"layout": _pack("q", values + block_sizes)}
    if pymalloc["stats"] is not None:
        scalars = STATS_FIELDS_V1
        stats = r.object(pymalloc["stats"], "pymalloc.stats", (*scalars, "size_classes"))
        fields["pymalloc_stats"] = _pack(
            "q", [r.integer(stats[key], f"pymalloc.stats.{key}") for key in scalars])
        rows: list[int] = []
        for i, row in enumerate(r.array(stats["size_classes"], "pymalloc.stats.size_classes")):
            rows += r.integers(row, f"pymalloc.stats.size_classes[{i}]", len(SIZE_CLASS_FIELDS))
        fields["size_classes"] = _pack("q", rows)
    if pymalloc["arenas"] is not None:
        arena_values: list[int] = []
        pool_values: list[int] = []
        for i, item in enumerate(r.array(pymalloc["arenas"], "pymalloc.arenas")):
            path = f"pymalloc.arenas[{i}]"
            arena = r.object(item, path, (*ARENA_FIELDS, "pools"))
            read = {key: r.integer(arena[key], f"{path}.{key}", 0, _UINT64)
                    for key in ARENA_FIELDS}
            pools = r.array(arena["pools"], f"{path}.pools")
            # An arena map draws one cell per pool slot: a count past the layout's would
            # be a list of that many cells.
            if read["pools_total"] > pools_per_arena:
                r.fail(f"{path}.pools_total", f"{read['pools_total']} pools, more than the "
                                              f"{pools_per_arena} of an arena of this layout")
            if read["pools_free"] + len(pools) > read["pools_total"]:
                r.fail(f"{path}.pools_free", f"{read['pools_free']} free and {len(pools)} in "
                                             f"use of {read['pools_total']} pools")
            arena_values += read.values()
            arena_values.append(len(pools))
            for j, pool in enumerate(pools):
                pool_values += r.integers(pool, f"{path}.pools[{j}]", len(POOL_FIELDS),
                                          0, _UINT64)
        fields["arenas"] = _pack("Q", arena_values)
        fields["pools"] = _pack("Q", pool_values)
    return fields
