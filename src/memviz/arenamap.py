"""pymalloc's arenas and pools as a picture: every arena a row, every pool a cell.

Each cell is one pool, in address order within its arena: its colour says how full it is
(blocks in use / capacity) and its mark which size class it serves; free pools (empty or
never used) are grey dots. At the end of each row: the arena's pools in use and the
share of its bytes held by live blocks. An arena is *sparse* when its live blocks fill
less than a quarter of it (as in ``Snapshot.fragmentation()``): pymalloc returns only
empty arenas to the system, so a few long-lived blocks keep a whole megabyte alive --
fragmentation, visible as rows of dots with a few red cells.

- ``render_text(arenas=None, *, color=None, width=None)``: for the terminal. With
  colour (when the output stream is a TTY and ``NO_COLOR`` is unset, or
  ``FORCE_COLOR`` is set, or ``color=True``) one line per arena: the mark is the size
  class (``0``-``9``, then ``a``-``v`` for classes 10-31), the background the fill
  (``FILL_COLORS``, eighths, red to green). Without colour two lines per arena: the
  fill as a block glyph (``FILL_GLYPHS``: ``▁`` up to 1/8 ... ``█`` over 7/8) and the
  size class marks under it.
- ``render_svg(arenas=None)``: a standalone SVG document (no external references) with
  one ``<rect class="pool">`` per pool, filled ``hsl(H, 70%, 50%)`` with
  ``H = round(120 * blocks_in_use / capacity)`` (0 red, empty ... 120 green, full),
  and a ``<title>`` each (hover text).
- ``arena_map(source=None)``: the :class:`ArenaMap` value, which renders itself in
  IPython (``_repr_pretty_``) and Jupyter (``_repr_html_``, the SVG).

A map read now also says, under each sparse arena, what keeps it allocated
(``memviz.pymalloc.arena_pins()``: the live objects in it by type, a path to the largest,
the blocks no reached object holds) -- one census walk, taken only when an arena is
sparse.

``arenas`` (and ``source``) may be None (read ``memviz.pymalloc.arenas()`` now), a tuple
of ``memviz.pymalloc.Arena`` (e.g. an earlier reading), a :class:`memviz.Snapshot` (its
stored map) or an :class:`ArenaMap`. When there is no map (pymalloc off, an interpreter
memviz cannot read, a snapshot taken without one) the renderings say so and why.
"""
from __future__ import annotations

from . import pymalloc
from ._errors import MemvizError
from .render.arenamap import (FILL_COLORS, FILL_GLYPHS, FREE_GLYPH, ansi_background, class_mark,
                              fill_eighth, fill_ratio, pool_hue, svg_hue)
from .values.arenamap import DEFAULT_ARENA_SIZE, DEFAULT_POOL_SIZE, ArenaMap, ArenaRow
from .values.fragmentation import SPARSE_THRESHOLD
from .values.snapshot import Snapshot

__all__ = [
    "FILL_COLORS",
    "FILL_GLYPHS",
    "FREE_GLYPH",
    "SPARSE_THRESHOLD",
    "ArenaMap",
    "ArenaRow",
    "ansi_background",
    "arena_map",
    "class_mark",
    "fill_eighth",
    "fill_ratio",
    "pool_hue",
    "render_svg",
    "render_text",
    "svg_hue",
]


def arena_map(source=None, *, pool_size: int | None = None,
              arena_size: int | None = None) -> ArenaMap:
    """The :class:`ArenaMap` of ``source``: None (read pymalloc now), a tuple of
    ``memviz.pymalloc.Arena``, a :class:`memviz.Snapshot` or an :class:`ArenaMap`.
    ``pool_size`` / ``arena_size`` default to the layout of ``source`` (a snapshot's)
    or of this interpreter."""
    if isinstance(source, ArenaMap):
        return source
    if isinstance(source, Snapshot):   # drawn from what it holds, never a reading
        held = ArenaMap.of_snapshot(source)
        if pool_size is None and arena_size is None:
            return held
        return ArenaMap(held.arenas, int(pool_size or held.pool_size),
                        int(arena_size or held.arena_size), held.source, held.reason)
    reason = None
    pins = None
    if source is None:
        label = "this process, now"
        try:
            arenas = pymalloc.arenas()
            pins = pymalloc.arena_pins()
        except MemvizError as error:
            arenas, reason = None, str(error)
    else:
        label = "given arenas"
        arenas = tuple(source)
        for arena in arenas:
            if not all(hasattr(arena, name) for name in ("address", "pools_total", "pools")):
                raise TypeError("arena_map() takes memviz.pymalloc.Arena values, a Snapshot, "
                                f"an ArenaMap or None, not {type(arena).__name__}")
    layout = _live_layout() if pool_size is None or arena_size is None else None
    if pool_size is None:
        pool_size = layout.pool_size if layout is not None else DEFAULT_POOL_SIZE
    if arena_size is None:
        arena_size = layout.arena_size if layout is not None else DEFAULT_ARENA_SIZE
    return ArenaMap(arenas, int(pool_size), int(arena_size), label, reason, pins=pins)


def _live_layout() -> pymalloc.Layout | None:
    try:
        return pymalloc.layout()
    except MemvizError:
        return None


def render_text(arenas=None, *, color: bool | None = None, width: int | None = None,
                stream=None) -> str:
    """The arena map of ``arenas`` (see :func:`arena_map`) for a terminal."""
    return arena_map(arenas).text(color=color, width=width, stream=stream)


def render_svg(arenas=None) -> str:
    """The arena map of ``arenas`` (see :func:`arena_map`) as a standalone SVG document."""
    return arena_map(arenas).svg()
