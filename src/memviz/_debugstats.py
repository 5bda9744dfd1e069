"""A parser for the pymalloc report of ``sys._debugmallocstats()``.

The report is what ``_PyObject_DebugMallocStats()`` prints (the same code in CPython
3.10 to 3.15): a size-class table, then summary lines written by obmalloc.c's
``printone()`` -- a label padded to column 35, ``=``, and the value right-aligned in 21
columns with ``,`` thousands separators. ``sys._debugmallocstats()`` follows it with the
free-list lines of ``_PyDebugAllocatorStats()`` (``N free PyDictObjects * 48 bytes each``),
which are not part of the report and end the parse.

memviz uses this parser twice: as its fallback where pymalloc's state cannot be read
directly (a stripped 3.10/3.11, see ``memviz.pymalloc``), and in its tests as the
oracle, on text that CPython itself printed.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = ["ClassLine", "DebugMallocStats", "parse"]


@dataclass(frozen=True)
class ClassLine:
    """One row of the size-class table (printed only for classes with pools in use)."""

    index: int
    size: int
    pools: int
    blocks_in_use: int
    blocks_free: int


@dataclass(frozen=True)
class DebugMallocStats:
    """Every figure of the pymalloc report. The arena-map figures are None when the
    report has no arena-map part (a build without pymalloc's radix tree)."""

    small_request_threshold: int
    size_class_count: int
    classes: tuple[ClassLine, ...]
    arenas_allocated_total: int
    arenas_reclaimed: int
    arenas_highwater: int
    arenas_current: int
    arena_size: int
    arena_bytes: int
    allocated_bytes: int
    available_bytes: int
    unused_pools: int
    pool_size: int
    unused_pool_bytes: int
    pool_header_bytes: int
    quantization_bytes: int
    arena_alignment_bytes: int
    total_bytes: int
    arena_map_mid_nodes: int | None = None
    arena_map_bot_nodes: int | None = None
    arena_map_root_bytes: int | None = None
    arena_map_mid_bytes: int | None = None
    arena_map_bot_bytes: int | None = None
    arena_map_total_bytes: int | None = None
    object_malloc_calls: int | None = None


_HEADER = re.compile(r"Small block threshold = (\d+), in (\d+) size classes\.$")
_CLASS_ROW = re.compile(r"\s*(\d+)\s+(\d+)\s+(\d+)\s+(\d+)\s+(\d+)$")
_VALUE = re.compile(r"(?P<label>.*?)\s*=\s*(?P<value>\d[\d,]*)$")
_ARENAS = re.compile(r"(\d+) arenas \* (\d+) bytes/arena$")
_UNUSED = re.compile(r"(\d+) unused pools \* (\d+) bytes$")

# printone() labels -> DebugMallocStats fields. The two "Total" lines are told apart by
# position: the first closes the arena accounting, the second the arena map's.
_LABELS = {
    "# times object malloc called": "object_malloc_calls",   # PYMEM_DEBUG_SERIALNO builds
    "# arenas allocated total": "arenas_allocated_total",
    "# arenas reclaimed": "arenas_reclaimed",
    "# arenas highwater mark": "arenas_highwater",
    "# arenas allocated current": "arenas_current",
    "# bytes in allocated blocks": "allocated_bytes",
    "# bytes in available blocks": "available_bytes",
    "# bytes lost to pool headers": "pool_header_bytes",
    "# bytes lost to quantization": "quantization_bytes",
    "# bytes lost to arena alignment": "arena_alignment_bytes",
    "# arena map mid nodes": "arena_map_mid_nodes",
    "# arena map bot nodes": "arena_map_bot_nodes",
    "# bytes lost to arena map root": "arena_map_root_bytes",
    "# bytes lost to arena map mid": "arena_map_mid_bytes",
    "# bytes lost to arena map bot": "arena_map_bot_bytes",
}
_REQUIRED = (
    "arenas_allocated_total", "arenas_reclaimed", "arenas_highwater", "arenas_current",
    "arena_size", "arena_bytes", "allocated_bytes", "available_bytes", "unused_pools",
    "pool_size", "unused_pool_bytes", "pool_header_bytes", "quantization_bytes",
    "arena_alignment_bytes", "total_bytes",
)


def parse(text: str) -> DebugMallocStats | None:
    """The pymalloc report at the start of ``text`` (the output of
    ``sys._debugmallocstats()`` or of ``_PyObject_DebugMallocStats()``), or None when
    the text holds none: pymalloc is not the allocator (``PYTHONMALLOC=malloc``,
    mimalloc's report, tracemalloc's hooks). Raises ValueError on a report that does not
    have the known format."""
    lines = text.splitlines()
    start = next((i for i, line in enumerate(lines) if _HEADER.match(line)), None)
    if start is None:
        return None
    following = [line for line in lines[start + 1:start + 4] if line.strip()]
    if following and not following[0].startswith("class"):
        return None     # mimalloc's report starts with the same line
    header = _HEADER.match(lines[start])
    assert header is not None   # the line found above
    threshold, count = map(int, header.groups())
    fields: dict[str, int] = {}
    classes: list[ClassLine] = []
    totals = 0
    for line in lines[start + 1:]:
        if not line.strip() or line.startswith(("class ", "-----", "arena map counts")):
            continue
        row = _CLASS_ROW.match(line)
        if row and not fields:
            classes.append(ClassLine(*map(int, row.groups())))
            continue
        value = _VALUE.match(line)
        if value is None:
            break
        label, number = value["label"], int(value["value"].replace(",", ""))
        if label in _LABELS:
            fields[_LABELS[label]] = number
        elif arenas := _ARENAS.match(label):
            fields["arena_size"] = int(arenas[2])
            fields["arena_bytes"] = number
        elif unused := _UNUSED.match(label):
            fields["unused_pools"] = int(unused[1])
            fields["pool_size"] = int(unused[2])
            fields["unused_pool_bytes"] = number
        elif label == "Total":
            totals += 1
            fields["total_bytes" if totals == 1 else "arena_map_total_bytes"] = number
            if totals == 2:
                break
        else:
            break       # the free-list lines of sys._debugmallocstats() begin here
    missing = [name for name in _REQUIRED if name not in fields]
    if missing:
        raise ValueError(f"not a pymalloc report memviz can read: no {', '.join(missing)}")
    return DebugMallocStats(
        small_request_threshold=threshold, size_class_count=count, classes=tuple(classes),
        **fields,
    )
