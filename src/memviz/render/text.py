"""Plain-text reports of snapshots, diffs and tracked runs: aligned tables to scan."""
from __future__ import annotations

from typing import Sequence

from .._words import counted, plural, signed
from .view import (ARENAS_LABEL, EMPTY_ARENAS_MEANING, FORWARDED_LABEL, OUTSIDE_LABEL,
                   OUTSIDE_MEANING, RSS_UNKNOWN, census_changes, census_heading,
                   census_missing, census_rest, census_table_heading, format_bytes,
                   generation_columns, own_objects_sentence, type_changes, type_rows,
                   types_heading)
from .view import when as _when
from .view import pins_line


def table(headers: Sequence[str], rows: Sequence[Sequence[object]], indent: str = "  ") -> str:
    """Columns padded to their widest cell: the first left-aligned, the others right."""
    cells = [[str(h) for h in headers]] + [[str(c) for c in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    lines = []
    for row in cells:
        parts = [row[0].ljust(widths[0])] + [c.rjust(w) for c, w in zip(row[1:], widths[1:])]
        lines.append((indent + "  ".join(parts)).rstrip())
    return "\n".join(lines)


# --------------------------------------------------------------------------------------
# A snapshot


def snapshot_report(snap, limit: int = 15) -> str:
    sections = [_header(snap), _gc_section(snap), _types_section(snap, limit),
                _census_section(snap, limit), _pymalloc_section(snap),
                _fragmentation_section(snap)]
    unavailable = [c for c in snap.capabilities if not c.available]
    if unavailable:
        sections.append("Not read here\n" + "\n".join(
            f"  {c.name}: {c.reason}" for c in unavailable))
    return "\n\n".join(s for s in sections if s) + "\n"


def _header(snap) -> str:
    interp = snap.interpreter
    line = f"memviz snapshot: {interp.description}, pid {snap.pid}, {_when(snap.taken_at)}"
    process = [f"allocator {interp.allocator}"]
    if snap.rss is not None:
        process.append(f"RSS {format_bytes(snap.rss)}")
    if snap.rss_peak is not None:
        process.append(f"peak RSS {format_bytes(snap.rss_peak)}")
    lines = [line, ", ".join(process)]
    split = snap.rss_split()
    if split is not None:
        lines.append(f"RSS split: {ARENAS_LABEL} {format_bytes(split.arena_bytes)}; "
                     f"{OUTSIDE_LABEL} {format_bytes(split.outside_pymalloc)} "
                     f"({OUTSIDE_MEANING}, among them "
                     f"{counted(split.forwarded_requests, 'request')} pymalloc passed on to "
                     "malloc)")
    return "\n".join(lines)


def _gc_section(snap) -> str:
    gens = snap.generations
    if gens is None:
        return ""
    state = "enabled" if snap.gc_enabled else "disabled"
    rows = [(g.index, f"{g.objects:,}", f"{g.count:,}/{g.threshold:,}", f"{g.collections:,}",
             f"{g.collected:,}", f"{g.uncollectable:,}") for g in gens]
    rows.append(("permanent", f"{snap.permanent:,}", "", "", "", ""))
    total = sum(g.objects for g in gens)
    return (f"Garbage collector ({state}): {total:,} tracked objects in generations 0-2\n"
            + table(("generation", "objects", "count/threshold", "collections", "collected",
                     "uncollectable"), rows) + _own_line(snap))


def _own_line(snap) -> str:
    sentence = own_objects_sentence(snap)
    return "" if sentence is None else "\n" + sentence


def _types_section(snap, limit: int) -> str:
    if not snap.has_types:
        return ""
    shown, (others, other_objects), with_permanent = type_rows(snap, limit)
    rows = [(name, f"{sum(c):,}", *(f"{n:,}" for n in c)) for name, c in shown]
    columns = generation_columns(with_permanent)
    if others:
        rows.append((f"({others:,} other types)", f"{other_objects:,}", *("" for _ in columns)))
    return (types_heading(len(shown), len(shown) + others, with_permanent) + "\n"
            + table(("type", "objects", *columns), rows))


def _census_section(snap, limit: int) -> str:
    census = snap.census
    if census is None:
        return ""
    return f"Census: {census_heading(census)}\n" + _census_table(census, limit)


def _pymalloc_section(snap) -> str:
    stats, layout = snap.pymalloc, snap.layout
    if stats is None or layout is None:
        return ""
    used = sum(sc.blocks_in_use * sc.block_size for sc in stats.size_classes)
    free = sum(sc.blocks_free * sc.block_size for sc in stats.size_classes)
    head = (
        f"pymalloc: {stats.arenas_current:,} arenas of {format_bytes(layout.arena_size)} "
        f"(highwater {stats.arenas_highwater:,}; {stats.arenas_allocated_total:,} allocated, "
        f"{stats.arenas_reclaimed:,} reclaimed), pools of {format_bytes(layout.pool_size)}\n"
        f"  {stats.blocks_in_use:,} blocks in use ({format_bytes(used)}), "
        f"{format_bytes(free)} free in used pools"
    )
    rows = []
    for sc in stats.size_classes:
        if not sc.pools and not sc.blocks_in_use:
            continue
        capacity = sc.blocks_in_use + sc.blocks_free
        rows.append((sc.index, sc.block_size, f"{sc.pools:,}", f"{sc.blocks_in_use:,}",
                     f"{sc.blocks_free:,}", format_bytes(sc.blocks_in_use * sc.block_size),
                     f"{100 * sc.blocks_in_use / capacity:.0f}%" if capacity else "-"))
    if not rows:
        return head
    return (head + "\n\nSize classes (those with pools)\n"
            + table(("class", "block", "pools", "in use", "free", "bytes in use", "used"),
                    rows))


def _fragmentation_section(snap) -> str:
    frag = snap.fragmentation()
    if frag is None:
        return ""
    if not frag.arenas:
        return "Fragmentation: no arenas"
    quarters = ("0-25%", "25-50%", "50-75%", "75-100%")
    lines = [
        f"Fragmentation: {counted(frag.arenas, 'arena')} {plural(frag.arenas, 'holds', 'hold')} "
        f"{format_bytes(frag.arena_bytes)} for {format_bytes(frag.live_bytes)} of live blocks "
        f"({100 * frag.utilization:.0f}% used)",
        f"  {counted(frag.sparse_arenas, 'arena')} {plural(frag.sparse_arenas, 'is', 'are')} "
        f"less than {100 * frag.threshold:.0f}% used: {plural(frag.sparse_arenas, 'it holds', 'they hold')} "
        f"{format_bytes(frag.sparse_arena_bytes)} for {counted(frag.sparse_blocks, 'live block')} "
        f"({format_bytes(frag.sparse_live_bytes)})",
    ]
    if frag.empty_arenas:
        lines.append(f"  {counted(frag.empty_arenas, 'arena')} {plural(frag.empty_arenas, 'is', 'are')} "
                     f"{EMPTY_ARENAS_MEANING}")
    # With the threshold at 25% the sparse arenas are the histogram's first quarter:
    # the line above says that figure, the histogram goes on from 25%. Empty arenas
    # (pymalloc's reserve) are in neither.
    first = 1 if frag.sparse_is_first_quarter else 0
    lines.append(("  the other arenas by share in use: " if first else
                  "  arenas by share in use: ") + ", ".join(
        f"{q}: {n:,}" for q, n in list(zip(quarters, frag.histogram))[first:]))
    return "\n".join(lines)


def pinning_section(arena_pins) -> str:
    """What keeps each sparse arena allocated (``memviz.pymalloc.ArenaPins`` values, one
    line each); "" when there are none."""
    if not arena_pins:
        return ""
    return ("What keeps the sparse arenas allocated (live objects by type, from a census "
            "walk)\n" + "\n".join(f"  {pins_line(pins)}" for pins in arena_pins))


# --------------------------------------------------------------------------------------
# A diff


def diff_report(diff, limit: int = 10, *, min_change: int = 1) -> str:
    new, old = diff.new, diff.old
    lines = [f"memviz diff: {_when(old.taken_at)} -> {_when(new.taken_at)} "
             f"({diff.elapsed:+.3f} s)"]
    if new.pid != old.pid:
        lines.append(f"  (different processes: pid {old.pid} -> {new.pid})")
    if new.interpreter != old.interpreter:
        lines.append(f"  (different interpreters: {old.interpreter} -> {new.interpreter})")
    summary = []
    if diff.rss_delta is not None:
        summary.append(f"RSS {format_bytes(new.rss)} ({format_bytes(diff.rss_delta, True)})")
        if diff.outside_pymalloc_delta is not None:
            summary.append(f"of which {OUTSIDE_LABEL} "
                           f"{format_bytes(new.rss_split().outside_pymalloc)} "
                           f"({format_bytes(diff.outside_pymalloc_delta, True)})")
    else:
        summary.append(RSS_UNKNOWN)   # a side without /proc: no change to claim
    if diff.blocks_delta is not None:
        summary.append(f"pymalloc blocks {new.pymalloc.blocks_in_use:,} "
                       f"({signed(diff.blocks_delta)})")
        summary.append(f"{FORWARDED_LABEL} {new.pymalloc.raw_blocks:,} "
                       f"({signed(diff.raw_blocks_delta)})")
    if summary:
        lines.append(", ".join(summary))
    sections = ["\n".join(lines)]
    if diff.has_types:
        changes = type_changes(diff, limit, min_change)
        columns = generation_columns(changes.with_permanent)
        rows = [(name, f"{count:,}", signed(delta),
                 *(signed(n) for n in per_generation))
                for name, count, delta, per_generation in changes.rows]
        rows += [(label, "", signed(delta), *("" for _ in columns))
                 for _, label, delta in changes.summed]
        if rows:
            sections.append(f"{changes.heading}\n"
                            + table(("type", "objects", "change", *columns), rows))
        elif changes.moved:
            sections.append("Types: no change in GC-tracked objects (some moved between "
                            "generations)")
        else:
            sections.append("Types: no change in GC-tracked objects")
    if diff.has_census:
        sections.append(_census_changes_section(diff, limit))
    elif (missing := census_missing(diff)) is not None:
        sections.append(missing)
    gens = diff.generations
    if gens is not None:
        rows = [(g.index, f"{g.objects:,}", signed(g.objects_delta), signed(g.collections_delta),
                 signed(g.collected_delta), signed(g.uncollectable_delta)) for g in gens]
        sections.append("Garbage collector\n" + table(
            ("generation", "objects", "change", "collections", "collected", "uncollectable"),
            rows))
    arenas = diff.arenas
    if arenas is not None:
        text = (f"pymalloc arenas: {arenas.current:,} ({signed(arenas.current_delta)}); "
                f"{arenas.allocated_delta:,} allocated and {arenas.reclaimed_delta:,} "
                f"reclaimed in between")
        if arenas.added is not None:
            text += f"; {arenas.added:,} at new addresses, {arenas.released:,} gone"
        sections.append(text)
    classes = diff.size_classes
    if classes is not None:
        changed = sorted((c for c in classes if c.blocks_delta or c.pools_delta),
                         key=lambda c: (-abs(c.bytes_delta), c.index))
        if changed:
            rows = [(c.index, c.block_size, f"{c.blocks_in_use:,}", signed(c.blocks_delta),
                     format_bytes(c.bytes_delta, True), f"{c.pools:,}", signed(c.pools_delta))
                    for c in changed[:limit]]
            sections.append(
                f"Size classes: {len(changed)} changed (top {len(rows)} by bytes)\n"
                + table(("class", "block", "in use", "change", "bytes", "pools", "change"),
                        rows))
        else:
            sections.append("Size classes: no change")
    return "\n\n".join(sections) + "\n"


def _census_changes_section(diff, limit: int) -> str:
    changes = census_changes(diff, limit)
    if not changes.rows:
        return "Types by bytes: no change in the censuses"
    rows = [(d.name, format_bytes(d.bytes), format_bytes(d.bytes_delta, True), f"{d.count:,}",
             signed(d.count_delta)) for d in changes.rows]
    if changes.rest is not None:
        types, bytes_delta, count_delta = changes.rest
        rows.append((f"({types:,} other types)", "", format_bytes(bytes_delta, True), "",
                     signed(count_delta)))
    return (f"{changes.heading}\n"
            + table(("type", "bytes", "change", "objects", "change"), rows))


# --------------------------------------------------------------------------------------
# A tracked run


def track_report(tracker, limit: int = 10, *, min_change: int = 1) -> str:
    sections = [diff_report(tracker.diff, limit, min_change=min_change).rstrip("\n")]
    events = tracker.gc_events
    if not events:
        sections.append("Collections during the run: none")
    else:
        rows = []
        for generation in range(3):
            mine = [e for e in events if e.generation == generation]
            if not mine:
                continue
            durations = [e.duration for e in mine]
            rows.append((generation, f"{len(mine):,}", f"{sum(e.collected for e in mine):,}",
                         f"{sum(e.uncollectable for e in mine):,}",
                         f"{1000 * sum(durations):.2f}", f"{1000 * max(durations):.2f}"))
        sections.append(
            f"Collections during the run: {len(events):,}\n"
            + table(("generation", "collections", "collected", "uncollectable", "total ms",
                     "longest ms"), rows))
    sections.append(str(tracker.sites))   # or, tracemalloc not tracing, how to get them
    return "\n\n".join(sections) + "\n"


# --------------------------------------------------------------------------------------
# A census


def census_report(census, limit: int = 15) -> str:
    """The types with the most bytes, every object counted (tracked by the collector or
    not), and the totals."""
    return f"memviz census: {census_heading(census)}\n" + _census_table(census, limit) + "\n"


def _census_table(census, limit: int) -> str:
    """The ``limit`` types with the most bytes and the others summed, under the heading
    (a census's report, and a snapshot's census section)."""
    shown = census.top(limit)
    total = census.total_bytes or 1
    rows = [(stat.name, f"{stat.count:,}", f"{stat.tracked:,}", format_bytes(stat.bytes),
             f"{stat.bytes / total:.1%}") for stat in shown]
    rest = census_rest(census, len(shown))
    if rest is not None:
        types, objects, tracked, size = rest
        rows.append((f"({types:,} other types)", f"{objects:,}", f"{tracked:,}",
                     format_bytes(size), f"{size / total:.1%}"))
    return (census_table_heading(census, len(shown)) + "\n"
            + table(("type", "objects", "tracked", "bytes", "share"), rows))
