"""Snapshots and diffs as HTML: one self-contained page, and the pieces Jupyter shows.

``render_report(snapshots)`` is a whole document -- no network, no scripts, no external
fonts or images: the CSS is inline and the arena map an inline SVG
(``memviz.render.arenamap``). A contents line at the top links to every section and arena
map. For one snapshot it shows its tables (the RSS split, the collector's generations,
the most common types, pymalloc's figures and size classes, fragmentation) and its arena
map; for two or more, first what changed from each to the next (``SnapshotDiff``: the
RSS split, pymalloc's blocks and the requests it passed on to malloc before and after,
types, generations, size classes; growth marked ``grew``, a warning colour), then each
snapshot. Renderers take no readings: they show what the snapshots hold (the cards of
arenas and blocks and the arena map's caption are the snapshot's own arena records). ``write_report(path, snapshots)`` writes it;
``python -m memviz report -o report.html [SNAPSHOT.json ...]`` is the command (no
snapshot: this interpreter, now).

``snapshot_html(snap)`` and ``diff_html(diff)`` are the same sections as fragments with
their own scoped ``<style>``: ``Snapshot._repr_html_`` and ``SnapshotDiff._repr_html_``
(Jupyter) return them.

Every figure is in a cell marked for machines as well as people: tables carry
``data-table``, rows ``data-key``, cells ``data-field``; a cell that shows a rounded size
(``1.5 MiB``) has the exact value in ``data-value``.
"""
from __future__ import annotations

import dataclasses
import html
import os
import time
from typing import Iterable, Sequence

from .._version import __version__
from .._words import signed
from .view import (ARENAS_LABEL, EMPTY_ARENAS_MEANING, FORWARDED_LABEL, OUTSIDE_LABEL,
                   OUTSIDE_MEANING, RSS_UNKNOWN, census_changes, census_heading,
                   census_missing, census_rest, census_table_heading, format_bytes,
                   generation_columns, own_objects_sentence, type_changes, type_rows,
                   types_heading)
from .view import pins_line
from .view import when as _when

__all__ = ["diff_html", "diff_section", "render_report", "snapshot_html",
           "snapshot_section", "write_report"]

CSS = """
.memviz { font-family: system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue",
  Arial, sans-serif; color: #1f2328; line-height: 1.4; font-size: 14px; }
.memviz h1 { font-size: 22px; margin: 0 0 4px; }
.memviz h2 { font-size: 18px; margin: 28px 0 6px; padding-bottom: 4px;
  border-bottom: 2px solid #d0d7de; }
.memviz h3 { font-size: 15px; margin: 20px 0 6px; }
.memviz p { margin: 4px 0; }
.memviz .meta { color: #57606a; }
.memviz .note { color: #57606a; font-size: 13px; }
.memviz .unavailable { color: #9a6700; background: #fff8c5; border: 1px solid #eac54f;
  border-radius: 6px; padding: 6px 10px; margin: 8px 0; }
.memviz .cards { display: flex; flex-wrap: wrap; gap: 10px; margin: 12px 0; }
.memviz .card { border: 1px solid #d0d7de; border-radius: 8px; padding: 8px 14px;
  min-width: 130px; background: #f6f8fa; }
.memviz .card .label { color: #57606a; font-size: 12px; text-transform: uppercase;
  letter-spacing: 0.04em; }
.memviz .card .figure { font-size: 20px; font-weight: 600;
  font-variant-numeric: tabular-nums; }
.memviz table { border-collapse: collapse; margin: 6px 0 10px; }
.memviz table.full-width { width: 100%; }
.memviz nav.contents { margin: 10px 0 4px; }
.memviz nav.contents a { color: #0969da; text-decoration: none; }
.memviz nav.contents a:hover { text-decoration: underline; }
.memviz th, .memviz td { padding: 3px 10px; border-bottom: 1px solid #eaeef2;
  text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
.memviz th { background: #f6f8fa; font-weight: 600; border-bottom: 1px solid #d0d7de; }
.memviz th:first-child, .memviz td:first-child { text-align: left; }
.memviz tbody tr:nth-child(even) { background: #fafbfc; }
.memviz td.name { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace;
  font-size: 13px; max-width: 460px; overflow: hidden; text-overflow: ellipsis; }
.memviz .grew { color: #bc4c00; font-weight: 600; }
.memviz .card.grew { border-color: #e16f24; background: #fff1e5; }
.memviz .card.grew .figure { color: #bc4c00; }
.memviz .shrank { color: #1a7f37; }
.memviz .bar { display: inline-block; width: 80px; height: 8px; background: #eaeef2;
  border-radius: 4px; vertical-align: middle; margin-right: 6px; overflow: hidden; }
.memviz .bar span { display: block; height: 100%; background: #2da44e; }
.memviz .columns { display: flex; flex-wrap: wrap; gap: 28px; align-items: flex-start; }
.memviz .arenamap svg { max-width: 100%; height: auto; display: block; }
.memviz .arenamap { overflow-x: auto; border: 1px solid #d0d7de; border-radius: 8px;
  padding: 6px; margin: 8px 0; background: white; }
.memviz section.snapshot, .memviz section.diff { margin-bottom: 36px; }
"""


# --------------------------------------------------------------------------------------
# Small pieces


def _e(value: object) -> str:
    return html.escape(str(value), quote=True)


def _int(n: int) -> str:
    return f"{n:,}"


class _Cell:
    """A table cell: its text, the field it shows, an exact value when the text is
    rounded, and a CSS class."""

    __slots__ = ("text", "field", "value", "css", "raw")

    def __init__(self, text: object, field: str | None = None, value: object = None,
                 css: str | None = None, raw: bool = False):
        self.text, self.field, self.value, self.css, self.raw = text, field, value, css, raw

    def html(self, tag: str = "td") -> str:
        attributes = ""
        if self.css:
            attributes += f' class="{_e(self.css)}"'
        if self.field:
            attributes += f' data-field="{_e(self.field)}"'
        if self.value is not None:
            attributes += f' data-value="{_e(self.value)}"'
        text = self.text if self.raw else _e(self.text)
        return f"<{tag}{attributes}>{text}</{tag}>"


def _count(n: int, field: str) -> _Cell:
    return _Cell(_int(n), field)


def _size(n: int, field: str) -> _Cell:
    return _Cell(format_bytes(n), field, n)


def _growth(n: int) -> str | None:
    """The CSS class of a change: growth is a warning ("grew", amber), shrinkage is
    not ("shrank", green), no change has none."""
    return "grew" if n > 0 else ("shrank" if n < 0 else None)


def _change(n: int, field: str) -> _Cell:
    return _Cell(signed(n), field, css=_growth(n))


def _size_change(n: int, field: str) -> _Cell:
    """A change in bytes, rounded (``+1.5 MiB``), the exact value in ``data-value``."""
    return _Cell(format_bytes(n, True), field, n, css=_growth(n))


def _bar(share: float, field: str) -> _Cell:
    share = min(1.0, max(0.0, share))
    return _Cell(f'<span class="bar"><span style="width: {100 * share:.0f}%"></span></span>'
                 f"{100 * share:.0f}%", field, f"{share:.4f}", raw=True)


def _table(name: str, headers: Sequence[str] | None,
           rows: Iterable[tuple[str, Sequence[_Cell]]]) -> str:
    """A table marked ``data-table=name``; each row is (key, cells), marked
    ``data-key=key``. With ``headers`` it is a table of columns, the page's full width;
    without (None) a table of label and figure, as wide as they are."""
    width = ' class="full-width"' if headers is not None else ""
    out = [f'<table{width} data-table="{_e(name)}">']
    if headers is not None:
        out.append("<thead><tr>" + "".join(f"<th>{_e(h)}</th>" for h in headers)
                   + "</tr></thead>")
    out.append("<tbody>")
    for key, cells in rows:
        out.append(f'<tr data-key="{_e(key)}">' + "".join(c.html() for c in cells) + "</tr>")
    out.append("</tbody></table>")
    return "\n".join(out)


def _pairs(name: str, pairs: Sequence[tuple[str, str, _Cell]]) -> str:
    """A two-column table of (key, label, cell)."""
    return _table(name, None, ((key, (_Cell(label), cell)) for key, label, cell in pairs))


def _cards(cards: Sequence[tuple]) -> str:
    """Key figures: (field, label, text, exact value or None[, extra CSS class])."""
    out = ['<div class="cards">']
    for field, label, text, value, *css in cards:
        exact = f' data-value="{_e(value)}"' if value is not None else ""
        classes = " ".join(["card", *(c for c in css if c)])
        out.append(f'<div class="{_e(classes)}" data-field="{_e(field)}"{exact}>'
                   f'<div class="label">{_e(label)}</div>'
                   f'<div class="figure">{_e(text)}</div></div>')
    out.append("</div>")
    return "\n".join(out)


def _unavailable(what: str, reason: str | None) -> str:
    return (f'<p class="unavailable" data-unavailable="{_e(what)}">{_e(what)}: not read '
            f"here ({_e(reason or 'not read')})</p>")


# --------------------------------------------------------------------------------------
# A snapshot


def _id(anchor: str | None) -> str:
    """The ``id`` attribute of an element the contents link to (none without an anchor)."""
    return f' id="{_e(anchor)}"' if anchor else ""


def _arena_map_anchor(anchor: str) -> str:
    return f"{anchor}-arena-map"


def snapshot_section(snap, limit: int = 15, *, title: str | None = None,
                     arena_map: bool = True, anchor: str | None = None,
                     pins: Sequence | None = None) -> str:
    """The ``<section>`` of one snapshot: header, key figures, the collector, the top
    ``limit`` types, pymalloc (figures, size classes, fragmentation, arena map).
    ``anchor``: the section's ``id`` (and, with ``-arena-map``, its arena map's).
    ``pins``: what keeps each sparse arena allocated (``memviz.pymalloc.ArenaPins``, read
    with a live snapshot), drawn with the arena map."""
    interp = snap.interpreter
    title = title or f"Snapshot of pid {snap.pid}"
    out = [f'<section class="snapshot"{_id(anchor)} data-pid="{snap.pid}" '
           f'data-taken-at="{snap.taken_at!r}">',
           f"<h2>{_e(title)}</h2>",
           f'<p class="meta">{_e(interp.description)}, pid {snap.pid}, '
           f"{_e(_when(snap.taken_at))}; allocator {_e(interp.allocator)}</p>"]
    # The snapshot's own arena records (arenas None, and the reason, without them), once
    # per section: the key figures and the map's caption are one reading.
    amap = snap._arena_map()
    if pins is not None:
        amap = dataclasses.replace(amap, pins=tuple(pins))
    out.append(_key_figures(snap, amap))
    out.append(_rss_part(snap))
    out.append(_gc_part(snap))
    out.append(_types_part(snap, limit))
    out.append(_census_part(snap, limit))
    out.append(_pymalloc_part(snap, amap, draw_map=arena_map,
                              map_anchor=_arena_map_anchor(anchor) if anchor else None))
    unavailable = [c for c in snap.capabilities if not c.available]
    if unavailable:
        out.append("<h3>Not read here</h3>")
        out.extend(_unavailable(c.name, c.reason) for c in unavailable)
    out.append("</section>")
    return "\n".join(part for part in out if part)


def _key_figures(snap, amap) -> str:
    """The cards. pymalloc's arenas and blocks come from the arena map when the snapshot
    has one (the figures its caption gives), else from pymalloc's statistics."""
    cards = []
    gens = snap.generations
    if gens is not None:
        total = sum(g.objects for g in gens)
        cards.append(("gc_objects", "GC-tracked objects", _int(total), total))
    stats = snap.pymalloc
    arenas: int | None
    blocks: int | None
    if amap.arenas is not None:
        arenas, blocks = len(amap.arenas), amap.blocks_in_use
    elif stats is not None:
        arenas, blocks = stats.arenas_current, stats.blocks_in_use
    else:
        arenas = blocks = None
    if arenas is not None and blocks is not None:   # found together
        cards.append(("arenas_current", "pymalloc arenas", _int(arenas), arenas))
        cards.append(("blocks_in_use", "blocks in use", _int(blocks), blocks))
    if snap.rss is not None:
        cards.append(("rss", "resident memory", format_bytes(snap.rss), snap.rss))
    if snap.rss_peak is not None:
        cards.append(("rss_peak", "peak resident", format_bytes(snap.rss_peak), snap.rss_peak))
    return _cards(cards) if cards else ""


#: Row labels of the RSS split, in the snapshot's table and the diff's.
_RSS_LABEL = "resident memory (RSS)"
_ARENAS_ROW = f"in {ARENAS_LABEL}"
_OUTSIDE_ROW = f"{OUTSIDE_LABEL} \u2014 {OUTSIDE_MEANING}"
_FORWARDED_ROW = f"among them, {FORWARDED_LABEL} (counted, not sized)"


def _rss_part(snap) -> str:
    """The RSS split into pymalloc's arenas and the rest (``Snapshot.rss_split()``)."""
    if snap.rss is None:
        return f'<p data-field="rss">{_e(RSS_UNKNOWN)}: not read here.</p>'
    split = snap.rss_split()
    if split is None:   # no pymalloc statistics: the card shows the RSS, nothing splits it
        return ""
    return ("<h3>Resident memory</h3>\n" + _pairs("rss-split", [
        ("rss", _RSS_LABEL, _size(split.rss, "rss")),
        ("arena_bytes", _ARENAS_ROW, _size(split.arena_bytes, "arena_bytes")),
        ("outside_pymalloc", _OUTSIDE_ROW, _size(split.outside_pymalloc, "outside_pymalloc")),
        ("forwarded_requests", _FORWARDED_ROW,
         _count(split.forwarded_requests, "forwarded_requests")),
    ]))


def _gc_part(snap) -> str:
    gens = snap.generations
    if gens is None:
        return ""
    state = "enabled" if snap.gc_enabled else "disabled"
    rows: list[tuple[str, tuple[_Cell, ...]]] = [(str(g.index), (
        _Cell(g.index, "index"), _count(g.objects, "objects"), _count(g.count, "count"),
        _count(g.threshold, "threshold"), _count(g.collections, "collections"),
        _count(g.collected, "collected"), _count(g.uncollectable, "uncollectable")))
        for g in gens]
    rows.append(("permanent", (_Cell("permanent", "index"), _count(snap.permanent, "objects"),
                               *(_Cell("") for _ in range(5)))))
    own = own_objects_sentence(snap)
    return (f"<h3>Garbage collector ({state})</h3>\n"
            + _table("generations", ("generation", "objects", "count", "threshold",
                                     "collections", "collected", "uncollectable"), rows)
            + ("" if own is None else f'\n<p class="note" data-field="own_objects">{_e(own)}</p>'))


def _types_part(snap, limit: int) -> str:
    if not snap.has_types:
        return ""
    shown, (others, other_objects), with_permanent = type_rows(snap, limit)
    fields = ("gen0", "gen1", "gen2", "permanent")
    rows = [(name, (_Cell(name, "name", css="name"), _count(sum(c), "objects"),
                    *(_count(n, field) for n, field in zip(c, fields))))
            for name, c in shown]
    columns = generation_columns(with_permanent)
    if others:
        rows.append(("(other types)", (
            _Cell(f"({others:,} other types)", "name", css="name"),
            _count(other_objects, "objects"), *(_Cell("") for _ in columns))))
    return (f"<h3>{types_heading(len(shown), len(shown) + others, with_permanent)}</h3>\n"
            + _table("types", ("type", "objects", *columns), rows))


def _census_part(snap, limit: int) -> str:
    """The snapshot's census (``Snapshot.census``): its totals, the ``limit`` types with
    the most bytes and the others summed."""
    census = snap.census
    if census is None:
        return ""
    rows = _census_rows(census, limit)
    heading = census_table_heading(census, len(rows))
    rest = census_rest(census, len(rows))
    if rest is not None:
        types, objects, tracked, size = rest
        rows.append(("(other types)", (_Cell(f"({types:,} other types)", "name", css="name"),
                                       _count(objects, "objects"), _count(tracked, "tracked"),
                                       _size(size, "bytes"))))
    return (f"<h3>{_e(heading)}, every object counted</h3>\n"
            f'<p class="note" data-field="census">Census: {_e(census_heading(census))}</p>\n'
            + _census_table(rows))


def _census_rows(census, limit: int) -> list[tuple[str, tuple[_Cell, ...]]]:
    """The rows of the ``limit`` types with the most bytes in a census."""
    return [(stat.name, (_Cell(stat.name, "name", css="name"), _count(stat.count, "objects"),
                         _count(stat.tracked, "tracked"), _size(stat.bytes, "bytes")))
            for stat in census.top(limit)]


def _census_table(rows: Iterable[tuple[str, Sequence[_Cell]]]) -> str:
    return _table("census-types", ("type", "objects", "tracked", "bytes"), rows)


def _shows_pymalloc(snap) -> bool:
    """Whether a snapshot's section has its pymalloc part (and so its arena map)."""
    return snap.pymalloc is not None and snap.layout is not None


def _pymalloc_part(snap, amap, draw_map: bool, map_anchor: str | None) -> str:
    """pymalloc's figures, size classes and fragmentation; ``amap`` drawn when
    ``draw_map``, its heading's ``id`` ``map_anchor``."""
    if not _shows_pymalloc(snap):
        return ""
    stats, layout = snap.pymalloc, snap.layout
    out = ["<h3>pymalloc</h3>",
           f'<p class="note">{len(layout.block_sizes)} size classes of {layout.alignment}-byte '
           f"steps up to {layout.small_request_threshold} bytes; pools of "
           f"{format_bytes(layout.pool_size)}, arenas of {format_bytes(layout.arena_size)} "
           f"({layout.pools_per_arena} pools).</p>",
           '<div class="columns">']
    used = sum(sc.blocks_in_use * sc.block_size for sc in stats.size_classes)
    out.append('<div><h3 style="margin-top: 6px">Arenas and blocks</h3>')
    out.append(_pairs("pymalloc", [
        ("arenas_current", "arenas now", _count(stats.arenas_current, "arenas_current")),
        ("arenas_highwater", "arenas at most", _count(stats.arenas_highwater,
                                                      "arenas_highwater")),
        ("arenas_allocated_total", "arenas allocated in all",
         _count(stats.arenas_allocated_total, "arenas_allocated_total")),
        ("arenas_reclaimed", "arenas given back", _count(stats.arenas_reclaimed,
                                                          "arenas_reclaimed")),
        ("arena_bytes", "bytes in arenas", _size(stats.arena_bytes, "arena_bytes")),
        ("blocks_in_use", "blocks in use", _count(stats.blocks_in_use, "blocks_in_use")),
        ("bytes_in_use", "bytes in blocks in use", _size(used, "bytes_in_use")),
        ("blocks_free", "free blocks in used pools", _count(stats.blocks_free, "blocks_free")),
        ("raw_blocks", FORWARDED_LABEL, _count(stats.raw_blocks, "raw_blocks")),
    ]))
    if amap.arenas is not None and amap.blocks_in_use != stats.blocks_in_use:
        out.append(f'<p class="note" data-field="two_readings">pymalloc\'s statistics '
                   f"(this table) and its arena map are two readings, taken one just after "
                   f"the other: the statistics count {_int(stats.blocks_in_use)} blocks in "
                   f"use, the arena map {_int(amap.blocks_in_use)} (the figure at the top, "
                   f"and the map's caption).</p>")
    out.append("</div>")
    fragmentation = snap.fragmentation()
    if fragmentation is not None:
        out.append(_fragmentation(fragmentation))
    out.append("</div>")
    rows = []
    for sc in stats.size_classes:
        if not sc.pools and not sc.blocks_in_use:
            continue
        capacity = sc.blocks_in_use + sc.blocks_free
        rows.append((str(sc.index), (
            _Cell(sc.index, "index"), _Cell(_int(sc.block_size), "block_size"),
            _count(sc.pools, "pools"), _count(sc.blocks_in_use, "blocks_in_use"),
            _count(sc.blocks_free, "blocks_free"),
            _size(sc.blocks_in_use * sc.block_size, "bytes_in_use"),
            _bar(sc.blocks_in_use / capacity if capacity else 0.0, "used"))))
    if rows:
        out.append("<h3>Size classes (those with pools)</h3>")
        out.append(_table("size-classes", ("class", "block bytes", "pools", "in use", "free",
                                           "bytes in use", "used"), rows))
    if draw_map:
        out.append(_arena_map(amap, map_anchor))
    return "\n".join(out)


#: The quarters of ``Fragmentation.histogram``: arenas by share of their bytes in live
#: blocks, [0, 25%), [25%, 50%), [50%, 75%), [75%, 100%].
_QUARTERS = ("under 25%", "25\u201350%", "50\u201375%", "75\u2013100%")


def _fragmentation(frag) -> str:
    """``Snapshot.fragmentation()``, each figure once under one label. The sparse arenas
    (under ``frag.threshold`` in live blocks) are the first quarter of the histogram when
    the threshold is 25%: then one row says both."""
    pairs = [
        ("arenas", "arenas", _count(frag.arenas, "arenas")),
        ("arena_bytes", "bytes the arenas hold", _size(frag.arena_bytes, "arena_bytes")),
        ("live_bytes", "of them, in live blocks", _size(frag.live_bytes, "live_bytes")),
        ("utilization", "share in live blocks", _bar(frag.utilization, "utilization")),
    ]
    sparse = (f"sparse arenas: under {100 * frag.threshold:.0f}% in live blocks",
              _count(frag.sparse_arenas, "sparse_arenas"))
    for i, (quarter, n) in enumerate(zip(_QUARTERS, frag.histogram)):
        if i == 0 and frag.sparse_is_first_quarter:
            pairs.append(("sparse_arenas", *sparse))
            continue
        pairs.append((f"histogram_{i}", f"arenas {quarter} in live blocks",
                      _count(n, f"histogram_{i}")))
    if not frag.sparse_is_first_quarter:
        pairs.append(("sparse_arenas", *sparse))
    pairs.append(("empty_arenas", f"arenas {EMPTY_ARENAS_MEANING}",
                  _count(frag.empty_arenas, "empty_arenas")))
    pairs += [
        ("sparse_arena_bytes", "bytes the sparse arenas hold",
         _size(frag.sparse_arena_bytes, "sparse_arena_bytes")),
        ("sparse_blocks", "live blocks in the sparse arenas",
         _count(frag.sparse_blocks, "sparse_blocks")),
        ("sparse_live_bytes", "bytes of those blocks",
         _size(frag.sparse_live_bytes, "sparse_live_bytes")),
    ]
    return ('<div><h3 style="margin-top: 6px">Fragmentation</h3>\n'
            + _pairs("fragmentation", pairs) + "</div>")


def _arena_map(amap, anchor: str | None) -> str:
    return (f"<h3{_id(anchor)}>Arena map</h3>\n"
            '<p class="note">One row per arena, one cell per pool (address order); colour: '
            "share of its blocks in use, red (few) to green (full); mark: size class; grey: "
            "free pool. Hover a cell for its pool.</p>\n"
            f'<div class="arenamap">{amap._repr_html_()}</div>'
            + _pins_list(amap))


def _pins_list(amap) -> str:
    """What keeps each sparse arena allocated, one item each ("" when not read)."""
    if not amap.pins:
        return ""
    items = "".join(f'<li data-arena="{pins.index}">{_e(pins_line(pins))}</li>'
                    for pins in amap.pins)
    return ("\n<h3>What keeps the sparse arenas allocated</h3>\n"
            f'<ul class="pins">{items}</ul>')


# --------------------------------------------------------------------------------------
# A diff


def diff_section(diff, limit: int = 15, *, title: str | None = None,
                 anchor: str | None = None, min_change: int = 1) -> str:
    """The ``<section>`` of what changed from ``diff.old`` to ``diff.new``; ``anchor``:
    its ``id``; types that changed by fewer than ``min_change`` objects are summed in one
    row."""
    new, old = diff.new, diff.old
    title = title or "What changed"
    out = [f'<section class="diff"{_id(anchor)} data-old-pid="{old.pid}" '
           f'data-new-pid="{new.pid}">',
           f"<h2>{_e(title)}</h2>",
           f'<p class="meta">{_e(_when(old.taken_at))} &rarr; {_e(_when(new.taken_at))} '
           f"({diff.elapsed:+.3f} s)</p>"]
    if new.pid != old.pid:
        out.append(f'<p class="note">Different processes: pid {old.pid} &rarr; {new.pid}.</p>')
    if new.interpreter != old.interpreter:
        out.append(f'<p class="note">Different interpreters: {_e(old.interpreter)} &rarr; '
                   f"{_e(new.interpreter)}.</p>")
    cards = []
    if diff.has_types:
        net = sum(diff.type_deltas().values())
        cards.append(_change_card("gc_objects_delta", "GC-tracked objects", net))
    if diff.blocks_delta is not None:
        cards.append(_change_card("blocks_delta", "pymalloc blocks", diff.blocks_delta))
    arenas = diff.arenas
    if arenas is not None:
        cards.append(_change_card("arenas_delta", "pymalloc arenas", arenas.current_delta))
    if diff.rss_delta is not None:
        cards.append(_change_card("rss_delta", "resident memory", diff.rss_delta,
                                  in_bytes=True))
    if cards:
        out.append(_cards(cards))
    out.append(_memory_changes(diff))
    out.append(_type_changes(diff, limit, min_change))
    out.append(_census_changes(diff, limit))
    gens = diff.generations
    if gens is not None:
        rows: list[tuple[str, tuple[_Cell, ...]]] = [(str(g.index), (
            _Cell(g.index, "index"), _count(g.objects, "objects"),
            _change(g.objects_delta, "objects_delta"),
            _change(g.collections_delta, "collections_delta"),
            _change(g.collected_delta, "collected_delta"),
            _change(g.uncollectable_delta, "uncollectable_delta"))) for g in gens]
        out.append("<h3>Garbage collector</h3>")
        out.append(_table("generation-changes", ("generation", "objects", "change",
                                                 "collections", "collected",
                                                 "uncollectable"), rows))
    if arenas is not None:
        text = (f"pymalloc arenas: {arenas.current:,} ({signed(arenas.current_delta)}); "
                f"{arenas.allocated_delta:,} allocated and {arenas.reclaimed_delta:,} "
                "reclaimed in between")
        if arenas.added is not None:
            text += f"; {arenas.added:,} at new addresses, {arenas.released:,} gone"
        out.append(f'<p data-field="arenas">{_e(text)}.</p>')
    classes = diff.size_classes
    if classes is not None:
        changed = sorted((c for c in classes if c.blocks_delta or c.pools_delta),
                         key=lambda c: (-abs(c.bytes_delta), c.index))
        if changed:
            rows = [(str(c.index), (
                _Cell(c.index, "index"), _Cell(_int(c.block_size), "block_size"),
                _count(c.blocks_in_use, "blocks_in_use"), _change(c.blocks_delta, "blocks_delta"),
                _size_change(c.bytes_delta, "bytes_delta"),
                _count(c.pools, "pools"), _change(c.pools_delta, "pools_delta")))
                for c in changed[:limit]]
            out.append(f"<h3>Size classes: {len(changed)} changed</h3>")
            out.append(_table("size-class-changes", ("class", "block bytes", "in use", "change",
                                                     "bytes", "pools", "change"), rows))
        else:
            out.append('<p data-field="size-classes">Size classes: no change.</p>')
    out.append("</section>")
    return "\n".join(out)


def _change_card(field: str, label: str, change: int, in_bytes: bool = False) -> tuple:
    """A card of a change, marked as growth or shrinkage (``_growth``)."""
    text = format_bytes(change, True) if in_bytes else signed(change)
    return field, label, text, change, _growth(change)


def _memory_changes(diff) -> str:
    """Before, after and the change: the RSS split into pymalloc's arenas and the rest,
    pymalloc's blocks in use and the requests it passed on to malloc (the text diff's
    figures); "RSS unknown" when a snapshot has no RSS."""
    rows = []
    old, new = diff.old.rss_split(), diff.new.rss_split()
    unknown = ""
    if diff.rss_delta is None:
        unknown = f'<p data-field="rss">{_e(RSS_UNKNOWN)}: no change to claim.</p>'
    elif old is None or new is None:
        rows.append(_before_after("rss", _RSS_LABEL, diff.old.rss, diff.new.rss,
                                  diff.rss_delta, in_bytes=True))
    else:
        rows += [
            _before_after("rss", _RSS_LABEL, old.rss, new.rss, diff.rss_delta, in_bytes=True),
            _before_after("arena_bytes", _ARENAS_ROW, old.arena_bytes, new.arena_bytes,
                          diff.arena_bytes_delta, in_bytes=True),
            _before_after("outside_pymalloc", _OUTSIDE_ROW, old.outside_pymalloc,
                          new.outside_pymalloc, diff.outside_pymalloc_delta, in_bytes=True),
        ]
    before, after = diff.old.pymalloc, diff.new.pymalloc
    if before is not None and after is not None:
        rows += [
            _before_after("blocks_in_use", "pymalloc blocks in use", before.blocks_in_use,
                          after.blocks_in_use, diff.blocks_delta),
            _before_after("raw_blocks", FORWARDED_LABEL, before.raw_blocks, after.raw_blocks,
                          diff.raw_blocks_delta),
        ]
    if not rows and not unknown:
        return ""
    out = ["<h3>Memory</h3>", unknown]
    if rows:
        out.append(_table("memory-changes", ("", "before", "after", "change"), rows))
    return "\n".join(part for part in out if part)


def _before_after(key: str, label: str, before: int, after: int, change: int,
                  in_bytes: bool = False) -> tuple[str, Sequence[_Cell]]:
    """A row: label, before, after, change; counts, or sizes when ``in_bytes``."""
    if in_bytes:
        return key, (_Cell(label), _size(before, "before"), _size(after, "after"),
                     _size_change(change, "change"))
    return key, (_Cell(label), _count(before, "before"), _count(after, "after"),
                 _change(change, "change"))


def _type_changes(diff, limit: int, min_change: int) -> str:
    reason = diff._types_not_read()
    if reason is not None:
        return _unavailable("types", reason)
    changes = type_changes(diff, limit, min_change)
    if not changes.rows and not changes.summed:
        return '<p data-field="types">Types: no change in GC-tracked objects.</p>'
    fields = ("gen0", "gen1", "gen2", "permanent")
    columns = generation_columns(changes.with_permanent)
    rows = [(name, (_Cell(name, "name", css="name"), _count(count, "objects"),
                    _change(delta, "delta"),
                    *(_change(n, field) for n, field in zip(per_generation, fields))))
            for name, count, delta, per_generation in changes.rows]
    rows += [(key, (_Cell(label, "name", css="name"), _Cell(""), _change(delta, "delta"),
                    *(_Cell("") for _ in columns)))
             for key, label, delta in changes.summed]
    return (f"<h3>{changes.heading}</h3>\n"
            + _table("type-changes", ("type", "objects", "change", *columns), rows))


def _census_changes(diff, limit: int) -> str:
    """The changes of bytes by type between the two censuses (``census_types()``)."""
    if not diff.has_census:
        missing = census_missing(diff)
        return "" if missing is None else f'<p data-field="census">{_e(missing)}.</p>'
    changes = census_changes(diff, limit)
    if not changes.rows:
        return '<p data-field="census">Types by bytes: no change in the censuses.</p>'
    rows = [(d.name, (_Cell(d.name, "name", css="name"), _size(d.bytes, "bytes"),
                      _size_change(d.bytes_delta, "bytes_delta"), _count(d.count, "objects"),
                      _change(d.count_delta, "count_delta")))
            for d in changes.rows]
    if changes.rest is not None:
        types, bytes_delta, count_delta = changes.rest
        rows.append(("(other types)", (_Cell(f"({types:,} other types)", "name", css="name"),
                                       _Cell(""), _size_change(bytes_delta, "bytes_delta"),
                                       _Cell(""), _change(count_delta, "count_delta"))))
    return (f"<h3>{_e(changes.heading)}</h3>\n"
            + _table("census-changes", ("type", "bytes", "change", "objects", "change"),
                     rows))


# --------------------------------------------------------------------------------------
# Fragments (Jupyter) and the page


def _fragment(body: str) -> str:
    return f'<div class="memviz"><style>{CSS}</style>\n{body}\n</div>'


def snapshot_html(snap, limit: int = 15) -> str:
    """One snapshot as an HTML fragment with its own style (``Snapshot._repr_html_``)."""
    return _fragment(snapshot_section(snap, limit))


def diff_html(diff, limit: int = 15) -> str:
    """A diff as an HTML fragment with its own style (``SnapshotDiff._repr_html_``)."""
    return _fragment(diff_section(diff, limit))


def census_html(census, limit: int = 15) -> str:
    """A census as an HTML fragment with its own style (``Census._repr_html_``): the
    totals, and the ``limit`` types with the most bytes."""
    return _fragment(f'<section class="census">\n<h2>memviz census</h2>\n'
                     f'<p class="meta" data-field="totals">{_e(census_heading(census))}</p>\n'
                     + _census_table(_census_rows(census, limit)) + "\n</section>")


def render_report(snapshots: Sequence, limit: int = 15, *,
                  names: Sequence[str] | None = None, min_change: int = 1,
                  pins: Sequence | None = None) -> str:
    """The whole page for one or more snapshots (in the order given: each diff is
    ``snapshots[i + 1] - snapshots[i]``); ``names`` label them (file names); in the
    diffs, types that changed by fewer than ``min_change`` objects share one row.
    ``pins``: what keeps the last snapshot's sparse arenas allocated, when it was taken
    now (``memviz.pymalloc.arena_pins()``)."""
    snapshots = list(snapshots)
    if not snapshots:
        raise ValueError("render_report needs at least one snapshot")
    file_names: list[str | None] = list(names) if names is not None else [None] * len(snapshots)
    labels = [name or f"pid {snap.pid}, {_when(snap.taken_at)}"
              for name, snap in zip(file_names, snapshots)]
    if len(snapshots) == 1:
        heading = f"memviz report: {labels[0]}"
    else:
        heading = f"memviz report: {len(snapshots)} snapshots"
    body = [f"<h1>{_e(heading)}</h1>",
            f'<p class="meta">memviz {_e(__version__)}; generated {_e(_when(time.time()))}. '
            "Every figure is a reading of CPython's own structures (reference counts, the "
            "collector's generation lists, pymalloc's arenas), taken when the snapshot "
            "was.</p>"]
    diffs = [(f"diff-{i + 1}", f"What changed: {labels[i]} \u2192 {labels[i + 1]}",
              snapshots[i + 1] - snapshots[i]) for i in range(len(snapshots) - 1)]
    sections = [(f"snapshot-{i + 1}", f"Snapshot: {label}", snap)
                for i, (label, snap) in enumerate(zip(labels, snapshots))]
    body.append(_contents(diffs, sections))
    for anchor, title, diff in diffs:
        body.append(diff_section(diff, limit, title=title, anchor=anchor,
                                 min_change=min_change))
    for n, (anchor, title, snap) in enumerate(sections, 1):
        body.append(snapshot_section(snap, limit, title=title, anchor=anchor,
                                     pins=pins if n == len(sections) else None))
    return ("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
            f"<title>{_e(heading)}</title>\n"
            "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
            f"<style>{CSS}\nbody {{ margin: 24px 32px; background: white; }}</style>\n"
            "</head>\n<body class=\"memviz\">\n" + "\n".join(body) + "\n</body>\n</html>\n")


def _contents(diffs: Sequence[tuple], sections: Sequence[tuple]) -> str:
    """The contents line: a link to each (anchor, title, diff or snapshot) section, and
    to each snapshot's arena map."""
    links = [f'<a href="#{_e(anchor)}">{_e(title)}</a>' for anchor, title, _ in diffs]
    for anchor, title, snap in sections:
        link = f'<a href="#{_e(anchor)}">{_e(title)}</a>'
        if _shows_pymalloc(snap):
            link += f' (<a href="#{_e(_arena_map_anchor(anchor))}">arena map</a>)'
        links.append(link)
    return '<nav class="contents">Contents: ' + " &middot; ".join(links) + "</nav>"


def write_report(path: str | os.PathLike, snapshots: Sequence, limit: int = 15, *,
                 names: Sequence[str] | None = None, min_change: int = 1) -> None:
    """Writes :func:`render_report` to ``path`` (UTF-8)."""
    text = render_report(snapshots, limit, names=names, min_change=min_change)
    with open(path, "w", encoding="utf-8") as file:
        file.write(text)
