"""Drawing an arena map (``memviz.values.arenamap.ArenaMap``): text for a terminal, SVG.

What the cells, marks and colours mean is in ``memviz.arenamap``'s docstring. These
functions draw what the map holds and never read the interpreter.
"""
from __future__ import annotations

import math
import os
import shutil
import sys
import textwrap
# html.escape, not xml.sax.saxutils.escape (the same text for element content): saxutils
# imports urllib.request and so hashlib, and on CPython 3.12.1 importing hashlib in an
# isolated subinterpreter makes the process abort at exit ("free(): invalid pointer").
from html import escape as _html_escape
from typing import TYPE_CHECKING, Iterable

if TYPE_CHECKING:   # the map's value module imports this one to render itself
    from ..values.arenamap import ArenaMap


def _xml_escape(text: str) -> str:
    return _html_escape(text, quote=False)


#: Fill glyphs for a pool, by eighth of its blocks in use: index ``ceil(8 * fill) - 1``.
FILL_GLYPHS = "▁▂▃▄▅▆▇█"
#: ANSI 256-colour backgrounds for the same eighths: red (nearly empty) to green (full).
FILL_COLORS = (196, 202, 208, 214, 220, 184, 112, 40)
FREE_GLYPH = "·"

_MARKS = "0123456789abcdefghijklmnopqrstuvwxyz"


def class_mark(size_class: int) -> str:
    """The one-character mark of a size class: 0-9, then a-z (classes 10-35); '+' above."""
    return _MARKS[size_class] if 0 <= size_class < len(_MARKS) else "+"


def fill_ratio(pool) -> float:
    """``blocks_in_use / capacity`` (0.0 for a pool of no capacity)."""
    return pool.blocks_in_use / pool.capacity if pool.capacity else 0.0


def fill_eighth(ratio: float) -> int:
    """0-7: the eighth a fill ratio falls in (0 for up to 1/8, 7 for over 7/8)."""
    return min(7, max(0, math.ceil(ratio * 8) - 1))


def _share(value: float) -> str:
    """A share as a whole percentage; '<1%' for a share above 0 that rounds to 0."""
    return "<1%" if 0 < value < 0.005 else f"{value:.0%}"


def svg_hue(ratio: float) -> int:
    """The SVG cell hue: 0 (red) for an empty pool to 120 (green) for a full one."""
    return round(120 * min(1.0, max(0.0, ratio)))


def pool_hue(pool) -> int:
    """svg_hue of a pool's fill, ``round(120 * blocks_in_use / capacity)`` computed from
    the integers: ``120 * (25 / 48)`` is 62.50000000000001 in floats and would round to
    63, where the fill (a 336-byte class pool with 25 of its 48 blocks in use) is 62.5."""
    if not pool.capacity:
        return 0
    return round(min(120, max(0, 120 * int(pool.blocks_in_use) / int(pool.capacity))))


# --------------------------------------------------------------------------------------
# Text


def _use_color(color: bool | None, stream) -> bool:
    if color is not None:
        return bool(color)
    if os.environ.get("NO_COLOR"):
        return False
    if os.environ.get("FORCE_COLOR"):
        return True
    stream = sys.stdout if stream is None else stream
    try:
        return bool(stream.isatty())
    except Exception:
        return False


def _width(width: int | None) -> int:
    if width is None:
        width = shutil.get_terminal_size((100, 24)).columns
    return max(40, int(width))


def ansi_background(pool) -> int:
    """The ANSI 256-colour background of a pool's cell: ``FILL_COLORS[eighth]``."""
    return FILL_COLORS[fill_eighth(fill_ratio(pool))]


_ANSI_FREE = f"\x1b[0;38;5;245m{FREE_GLYPH}"
_ANSI_RESET = "\x1b[0m"


def _ansi_cells(cells) -> str:
    """One SGR sequence per change of colour: a pool's cell sets the background (and
    black text), a free cell resets it and draws a grey dot."""
    out: list[str] = []
    current: int | str | None = None   # a cell's background, or "free"
    for pool in cells:
        state = None if pool is None else ansi_background(pool)
        if pool is None:
            if current != "free":
                out.append("\x1b[0;38;5;245m")
            out.append(FREE_GLYPH)
            current = "free"
            continue
        if state != current:
            out.append(f"\x1b[0;48;5;{state};38;5;16m")
            current = state
        out.append(class_mark(pool.size_class))
    return "".join(out)


def _chunks(cells: tuple, size: int) -> Iterable[tuple]:
    for start in range(0, len(cells), size):
        yield cells[start:start + size]


def _wrap(text: str, width: int) -> list[str]:
    return textwrap.wrap(text, width=width, subsequent_indent="  ", break_on_hyphens=False)


def text(amap: ArenaMap, color: bool | None = None, width: int | None = None,
         stream=None) -> str:
    """The map for a terminal; ``color=None`` decides by ``stream`` (default
    ``sys.stdout``), ``NO_COLOR`` and ``FORCE_COLOR``."""
    return _text(amap, _use_color(color, stream), _width(width))


def _text(amap: ArenaMap, color: bool, width: int) -> str:
    lines = _wrap(amap._headline(), width)
    if not amap.arenas:
        return "\n".join(lines)
    rows = amap.rows
    label_width = max(len(f"#{row.arena.index}") for row in rows) + 2
    summaries = [
        f"{len(tuple(row.arena.pools)):>2}/{row.arena.pools_total:<2} {_share(row.live_share):>4}"
        + (" ◀ sparse" if row.sparse else "")
        for row in rows
    ]
    summary_width = max(len(s) for s in summaries)
    cells_per_line = max(8, min(max(len(row.cells) for row in rows),
                                width - label_width - summary_width - 2))
    lines.extend(_wrap("one row per arena, one cell per pool in address order; "
                       + ("mark: size class, colour: blocks in use / capacity" if color else
                          "upper line: blocks in use / capacity, lower line: size class"),
                       width))
    for row, summary in zip(rows, summaries):
        label = f"#{row.arena.index}".ljust(label_width)
        for n, chunk in enumerate(_chunks(row.cells, cells_per_line)):
            lead = label if n == 0 else " " * label_width
            tail = f"  {summary}" if n == 0 else ""
            pad = " " * (cells_per_line - len(chunk))
            if color:
                lines.append(f"{lead}{_ansi_cells(chunk)}{_ANSI_RESET}{pad}{tail}".rstrip())
            else:
                fills = "".join(FREE_GLYPH if p is None
                                else FILL_GLYPHS[fill_eighth(fill_ratio(p))] for p in chunk)
                marks = "".join(FREE_GLYPH if p is None else class_mark(p.size_class)
                                for p in chunk)
                lines.append(f"{lead}{fills}{pad}{tail}".rstrip())
                lines.append(f"{' ' * label_width}{marks}".rstrip())
        pins = amap.pins_of(row.arena)
        if pins is not None:
            lines.extend(textwrap.wrap(str(pins), width=width, initial_indent=" " * label_width,
                                       subsequent_indent=" " * (label_width + 2),
                                       break_on_hyphens=False))
    lines.append("")
    for line in _text_legend(color):
        lines.extend([line] if "\x1b" in line else _wrap(line, width))
    lines.extend(_wrap(amap._sparse_line(), width))
    return "\n".join(lines)


def _text_legend(color: bool) -> list[str]:
    if color:
        swatches = "".join(f"\x1b[0;48;5;{c};38;5;16m{i + 1}/8" for i, c in enumerate(FILL_COLORS))
        fill = [f"fill: {swatches}{_ANSI_RESET} of the blocks in use",
                f"{_ANSI_FREE}{_ANSI_RESET} free pool (empty or never used)"]
    else:
        fill = [f"fill: {FILL_GLYPHS[0]} up to 1/8 of the blocks in use ... {FILL_GLYPHS[-1]} "
                f"over 7/8; {FREE_GLYPH} free pool (empty or never used)"]
    return [
        *fill,
        "size class: 0-9, then a-v for classes 10-31 (a class-k pool holds blocks of "
        "(k+1)*16 bytes); after each row: pools in use / pools, share of the arena in live "
        "blocks",
    ]


# --------------------------------------------------------------------------------------
# SVG

_CELL_W, _CELL_H, _GAP = 12, 14, 1
_LABEL_W = 150
_TOP = 44


def _pins_in_row_order(amap: ArenaMap) -> list:
    """The map's ArenaPins, in the order of its rows."""
    return [pins for row in amap.rows if (pins := amap.pins_of(row.arena)) is not None]


def _hsl(ratio: float) -> str:
    return f"hsl({svg_hue(ratio)}, 70%, 50%)"


def svg(amap: ArenaMap, standalone: bool = True) -> str:
    rows = amap.rows
    slots = max((len(row.cells) for row in rows), default=64)
    grid_w = slots * (_CELL_W + _GAP)
    width = _LABEL_W + grid_w + 230
    legend_y = _TOP + len(rows) * (_CELL_H + 3) + 16
    height = legend_y + 70 + 16 * len(_pins_in_row_order(amap))
    out = []
    if standalone:
        out.append('<?xml version="1.0" encoding="UTF-8"?>')
    out.append(
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" font-family="monospace" font-size="11">'
    )
    out.append(f"<title>{_xml_escape(amap._headline())}</title>")
    out.append('<rect x="0" y="0" width="100%" height="100%" fill="white"/>')
    out.append(f'<text x="8" y="18" font-size="13">{_xml_escape(amap._headline())}</text>')
    if not amap.arenas:
        out.append("</svg>")
        return "\n".join(out)
    out.append('<text x="8" y="34" fill="#444">one row per arena, one cell per pool in '
               'address order; mark: size class; colour: blocks in use / capacity</text>')
    for r, row in enumerate(rows):
        y = _TOP + r * (_CELL_H + 3)
        arena = row.arena
        out.append(f'<g class="arena" data-index="{arena.index}">')
        out.append(
            f'<text x="8" y="{y + _CELL_H - 3}"><title>arena {arena.index} at '
            f'{arena.address:#x}</title>#{arena.index} {arena.address:#x}</text>'
        )
        for c, pool in enumerate(row.cells):
            x = _LABEL_W + c * (_CELL_W + _GAP)
            if pool is None:
                out.append(
                    f'<rect class="free" x="{x}" y="{y}" width="{_CELL_W}" height="{_CELL_H}" '
                    'fill="#e6e6e6"><title>free pool (empty or never used)</title></rect>'
                )
                continue
            ratio = fill_ratio(pool)
            title = (f"pool {pool.address:#x}: size class {pool.size_class} "
                     f"({pool.block_size}-byte blocks), {pool.blocks_in_use} of "
                     f"{pool.capacity} blocks in use ({ratio:.0%})")
            out.append(
                f'<rect class="pool" x="{x}" y="{y}" width="{_CELL_W}" height="{_CELL_H}" '
                f'fill="hsl({pool_hue(pool)}, 70%, 50%)" data-size-class="{pool.size_class}" '
                f'data-blocks-in-use="{pool.blocks_in_use}" data-capacity="{pool.capacity}">'
                f"<title>{_xml_escape(title)}</title></rect>"
            )
            out.append(
                f'<text class="mark" x="{x + _CELL_W / 2}" y="{y + _CELL_H - 3}" '
                f'text-anchor="middle" font-size="9" pointer-events="none">'
                f"{class_mark(pool.size_class)}</text>"
            )
        summary = (f"{len(tuple(arena.pools))}/{arena.pools_total} pools, "
                   f"{_share(row.live_share)} live")
        colour = ' fill="#c00000"' if row.sparse else ""
        pins = amap.pins_of(arena)
        title = "" if pins is None else f"<title>{_xml_escape(str(pins))}</title>"
        out.append(
            f'<text x="{_LABEL_W + grid_w + 8}" y="{y + _CELL_H - 3}"{colour}>{title}'
            f"{_xml_escape(summary + (' sparse' if row.sparse else ''))}</text>"
        )
        out.append("</g>")
    out.append(f'<g class="legend" transform="translate(8,{legend_y})">')
    out.append('<text x="0" y="10">fill:</text>')
    for i, share in enumerate((0.0, 0.25, 0.5, 0.75, 1.0)):
        x = 44 + i * 58
        out.append(f'<rect x="{x}" y="0" width="{_CELL_W}" height="{_CELL_H}" '
                   f'fill="{_hsl(share)}"/>')
        out.append(f'<text x="{x + _CELL_W + 4}" y="11">{share:.0%}</text>')
    out.append(f'<rect x="{44 + 5 * 58}" y="0" width="{_CELL_W}" height="{_CELL_H}" '
               'fill="#e6e6e6"/>')
    out.append(f'<text x="{44 + 5 * 58 + _CELL_W + 4}" y="11">free pool</text>')
    out.append('<text x="0" y="32">mark: size class 0-9, then a-v for 10-31 (blocks of '
               '(class+1)*16 bytes); hover a cell for its pool</text>')
    out.append(f'<text x="0" y="50">{_xml_escape(amap._sparse_line())}</text>')
    for n, pins in enumerate(_pins_in_row_order(amap)):
        out.append(f'<text class="pins" x="0" y="{68 + 16 * n}">{_xml_escape(str(pins))}</text>')
    out.append("</g>")
    out.append("</svg>")
    return "\n".join(out)
