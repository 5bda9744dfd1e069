"""The view model: every figure and sentence that more than one renderer shows, computed
once from a value (a snapshot, a diff), so that the text report and the HTML page say the
same thing in the same words. Renderers lay these out; they compute nothing twice.
"""
from __future__ import annotations

import time
from dataclasses import dataclass

from .._errors import UnsupportedInterpreter
from .._words import counted, signed

#: What pymalloc's ``raw_blocks`` counts.
FORWARDED_LABEL = "requests passed on to malloc"
#: The parts of the RSS split (``Snapshot.rss_split()``), and what the second part holds.
ARENAS_LABEL = "pymalloc arenas"
OUTSIDE_LABEL = "outside pymalloc"
OUTSIDE_MEANING = "large objects and C allocations"
#: What an empty arena (``Fragmentation.empty_arenas``) is.
EMPTY_ARENAS_MEANING = "empty, no pool in use: pymalloc's reserve"
#: Said instead of an RSS, or a change of it, that a snapshot lacks (never "+0 B").
RSS_UNKNOWN = "RSS unknown"


def when(seconds: float) -> str:
    """A moment (seconds since the epoch) as every report writes it: in UTC, to the second."""
    return time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(seconds))


def format_bytes(size: float, sign: bool = False) -> str:
    """1536 -> '1.5 KiB'; sign=True -> '+1.5 KiB'."""
    prefix = "+" if sign and size > 0 else ("-" if size < 0 else "")
    size = abs(size)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if size < 1024 or unit == "GiB":
            text = f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
            return prefix + text
        size /= 1024
    raise AssertionError("unreachable")


#: The types a line of what keeps an arena allocated names (most bytes first).
PINS_SHOWN = 4


def pins_line(arena_pins) -> str:
    """One line of what keeps an arena allocated (``memviz.pymalloc.ArenaPins``):
    ``arena #7: 1.0 MiB kept by 31 float, 4 dict -- e.g. sys.modules['app'].CACHE[3]``;
    built-in types by their bare names, the ``PINS_SHOWN`` types of most bytes (the others
    summed), the blocks no reached object holds last."""
    shown = arena_pins.pins[:PINS_SHOWN]
    kept = [f"{pin.count:,} {pin.name.removeprefix('builtins.')}" for pin in shown]
    rest = arena_pins.pins[PINS_SHOWN:]
    if rest:
        kept.append(f"{counted(sum(pin.count for pin in rest), 'object')} of "
                    f"{counted(len(rest), 'other type')}")
    if arena_pins.unreached_blocks:
        kept.append(f"{counted(arena_pins.unreached_blocks, 'block')} "
                    f"({format_bytes(arena_pins.unreached_bytes)}) no object reached holds")
    line = (f"arena #{arena_pins.index}: {format_bytes(arena_pins.arena_size)} kept by "
            + (", ".join(kept) if kept else "nothing (no block in use)"))
    example = next((pin.path for pin in arena_pins.pins if pin.path is not None), None)
    return line if example is None else f"{line} -- e.g. {example}"


def own_objects_sentence(snap) -> str | None:
    """Which of memviz's own objects the snapshot left out of every count, in one
    sentence the text and the HTML report share; None for a format-1 file, which did
    not record them."""
    own = snap.own_objects()
    if own is None:
        return None
    if not own:
        return "memviz's own objects, left out of every count: none"
    ranked = sorted(own.items(), key=lambda item: (-item[1], item[0]))
    shown = ", ".join(f"{count:,} {name}" for name, count in ranked[:3])
    more = f", and {counted(len(ranked) - 3, 'other type')}" if len(ranked) > 3 else ""
    return (f"memviz's own objects, left out of every count: "
            f"{sum(own.values()):,} ({shown}{more})")


def type_rows(snap, limit: int) -> tuple[list[tuple[str, tuple[int, ...]]],
                                          tuple[int, int], bool]:
    """The types table of a snapshot, one view for the text and the HTML report: the
    ``limit`` types with the most GC-tracked objects as (name, counts per generation: 0,
    1, 2 and, when the snapshot has frozen objects, the permanent one), the rest as
    (how many types, their objects), and whether the permanent column is there."""
    table_ = snap.type_table()
    try:
        permanent = snap.type_counts(3) if snap.permanent else {}
    except UnsupportedInterpreter:   # a file of format version 1: not counted by type
        permanent = {}
    ranked = sorted(((name, (*c, permanent.get(name, 0))) for name, c in table_.items()),
                    key=lambda item: (-sum(item[1]), item[0]))
    with_permanent = bool(permanent)
    if not with_permanent:
        ranked = [(name, c[:3]) for name, c in ranked]
    rest = ranked[limit:]
    return ranked[:limit], (len(rest), sum(sum(c) for _, c in rest)), with_permanent


def generation_columns(with_permanent: bool) -> tuple[str, ...]:
    """The per-generation column headings of a types table (text and HTML)."""
    return ("gen 0", "gen 1", "gen 2") + (("permanent",) if with_permanent else ())


def types_heading(shown: int, every: int, with_permanent: bool) -> str:
    """The heading of a snapshot's types table (shared with the HTML report)."""
    included = ", the permanent generation's included" if with_permanent else ""
    return f"Types: top {shown} of {every:,} by GC-tracked objects{included}"


@dataclass(frozen=True)
class TypeChanges:
    """The types table of a diff, one view for the text and the HTML report.

    ``rows``: (name, objects now, change in generations 0-2, changes per generation: 0,
    1, 2 and, when ``with_permanent``, the permanent one) for the ``limit`` largest
    changes of at least ``min_change``; ``summed``: the rows summed instead, as (key,
    label, change): the types past ``limit`` ("(other types)"), those that changed by
    less than ``min_change`` ("(small changes)");
    ``moved``: whether objects moved between generations with no type's count changed."""
    heading: str
    rows: tuple[tuple[str, int, int, tuple[int, ...]], ...]
    summed: tuple[tuple[str, str, int], ...]
    with_permanent: bool
    moved: bool


def type_changes(diff, limit: int, min_change: int) -> TypeChanges:
    every = diff.types()
    changed = diff.types(min_change=min_change)
    per_generation = [diff.type_deltas(g) for g in range(4)]
    with_permanent = bool(per_generation[3])
    width = 4 if with_permanent else 3
    rows = tuple((d.name, d.count, d.delta,
                  tuple(per_generation[g].get(d.name, 0) for g in range(width)))
                 for d in changed[:limit])
    summed = []
    rest = changed[limit:]
    if rest:
        summed.append(("(other types)", f"({len(rest):,} other types)",
                       sum(d.delta for d in rest)))
    small = len(every) - len(changed)   # hidden by min_change
    if small:
        summed.append(("(small changes)",
                       f"({counted(small, 'type')} changed by less than {min_change:,})",
                       sum(d.delta for d in every) - sum(d.delta for d in changed)))
    at_least = f", of at least {min_change:,}" if min_change > 1 else ""
    permanent = ("; permanent: the change in the permanent generation"
                 if with_permanent else "")
    heading = (f"Types: {len(every):,} changed, {signed(sum(d.delta for d in every))} "
               f"GC-tracked objects in generations 0-2 (top {min(limit, len(changed))} by "
               f"change{at_least}{permanent})")
    return TypeChanges(heading, rows, tuple(summed), with_permanent,
                       any(per_generation[g] for g in range(4)))


def census_heading(census) -> str:
    """A census's totals in one line (the text report's and the HTML page's)."""
    sized = ("every one sized by sys.getsizeof after the walk"
             if census.sized_by_getsizeof == census.total_objects else
             f"{census.sized_by_getsizeof:,} of them sized by sys.getsizeof after the walk")
    return (f"{census.total_objects:,} objects ({census.tracked_objects:,} tracked by the "
            f"collector) in {len(census.types):,} types, {format_bytes(census.total_bytes)}; "
            f"{sized}")


def census_rest(census, shown: int) -> tuple[int, int, int, int] | None:
    """The types a census table leaves out after its first ``shown`` (by bytes), summed
    as (types, objects, tracked, bytes); None when it leaves none out."""
    rest = census.types[shown:]
    if not rest:
        return None
    return (len(rest), sum(s.count for s in rest), sum(s.tracked for s in rest),
            sum(s.bytes for s in rest))


def census_table_heading(census, shown: int) -> str:
    """The heading of a census's types table (the text report's and the HTML page's)."""
    return f"Types by bytes: top {shown} of {len(census.types):,}"


#: Why a census's figures hold memviz's own objects too, said where a diff shows them.
CENSUS_OWN_NOTE = "every object the censuses found, memviz's own included"


@dataclass(frozen=True)
class CensusChanges:
    """The types-by-bytes table of a diff (``SnapshotDiff.census_types()``), one view
    for the text and the HTML report: the ``limit`` largest changes, and the rest summed
    as (types, bytes change, objects change), None when there is no rest."""
    heading: str
    rows: tuple
    rest: tuple[int, int, int] | None


def census_changes(diff, limit: int) -> CensusChanges:
    every = diff.census_types()
    shown = every[:limit]
    rest = every[limit:]
    net = sum(d.bytes_delta for d in every)
    heading = (f"Types by bytes: {len(every):,} changed, {format_bytes(net, True)} "
               f"({CENSUS_OWN_NOTE}; top {len(shown)} by change)")
    summed = ((len(rest), sum(d.bytes_delta for d in rest), sum(d.count_delta for d in rest))
              if rest else None)
    return CensusChanges(heading, tuple(shown), summed)


def census_missing(diff) -> str | None:
    """Why a diff of which one snapshot has a census shows no bytes by type; None when
    both have one, or neither (then there is nothing to say)."""
    if diff.new.has_census == diff.old.has_census:
        return None
    which = "older" if diff.new.has_census else "newer"
    return (f"Types by bytes: not compared (the {which} snapshot has no census; "
            "memviz.snapshot(census=True) takes one)")
