"""The arena map value: pymalloc's arenas laid out pool slot by pool slot, ready to draw.

Made by ``memviz.arenamap.arena_map()`` (from a reading, a snapshot or given arenas) and
by ``Snapshot``'s HTML section (:meth:`ArenaMap.of_snapshot`: from what the snapshot
holds, never a reading). Drawn by ``memviz.render.arenamap``. Public as
``memviz.arenamap.ArenaMap``.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from . import public

from .._errors import MemvizError
from ..render import arenamap as _draw
from ..render.view import when
from .fragmentation import SPARSE_THRESHOLD, is_sparse

if TYPE_CHECKING:
    from .pymalloc import Arena, ArenaPins, Pool

# The 64-bit layout, for arena tuples given without one where none can be read.
DEFAULT_POOL_SIZE = 16 * 1024
DEFAULT_ARENA_SIZE = 1024 * 1024


@public("memviz.arenamap")
@dataclass(frozen=True)
class ArenaRow:
    """One arena laid out: ``cells`` has one entry per pool slot (``pools_total`` of
    them), a ``Pool`` or None for a free slot."""

    arena: Arena
    cells: tuple[Pool | None, ...]
    live_bytes: int
    arena_size: int

    @property
    def live_share(self) -> float:
        return self.live_bytes / self.arena_size if self.arena_size else 0.0

    @property
    def sparse(self) -> bool:
        """The arena is sparse (``memviz.snapshot.is_sparse``, the rule
        ``Snapshot.fragmentation()`` applies too)."""
        return is_sparse(sum(1 for cell in self.cells if cell is not None),
                         self.live_bytes, self.arena_size)


@public("memviz.arenamap")
@dataclass(frozen=True)
class ArenaMap:
    """An arena map ready to draw. ``arenas`` is the tuple of ``memviz.pymalloc.Arena``
    (None when there is no map, and ``reason`` says why); ``pool_size`` and
    ``arena_size`` place the pools in their arena; ``source`` says where the map comes
    from."""

    arenas: tuple[Arena, ...] | None
    pool_size: int = DEFAULT_POOL_SIZE
    arena_size: int = DEFAULT_ARENA_SIZE
    source: str = "this process, now"
    reason: str | None = None
    _rows: tuple[ArenaRow, ...] | None = field(default=None, repr=False, compare=False)
    #: What keeps each sparse arena allocated (``memviz.pymalloc.arena_pins()``), drawn
    #: under its row; None when not read (a snapshot's map, given arenas).
    pins: tuple[ArenaPins, ...] | None = field(default=None, repr=False)

    # -- figures ----------------------------------------------------------------------

    @property
    def rows(self) -> tuple[ArenaRow, ...]:
        cached = self._rows
        if cached is None:
            cached = tuple(self._row(arena) for arena in (self.arenas or ()))
            object.__setattr__(self, "_rows", cached)
        return cached

    def _row(self, arena) -> ArenaRow:
        pools = tuple(arena.pools)
        slots = max(int(arena.pools_total), len(pools))
        cells: list = [None] * slots
        first = -(-int(arena.address) // self.pool_size) * self.pool_size
        placed = True
        for pool in pools:
            slot, rest = divmod(int(pool.address) - first, self.pool_size)
            if rest or not 0 <= slot < slots or cells[slot] is not None:
                placed = False
                break
            cells[slot] = pool
        if not placed:   # not where this layout puts pools: in address order instead
            cells = list(sorted(pools, key=lambda p: p.address)) + [None] * (slots - len(pools))
        live = sum(int(p.blocks_in_use) * int(p.block_size) for p in pools)
        return ArenaRow(arena, tuple(cells), live, self.arena_size)

    def pins_of(self, arena: Arena) -> ArenaPins | None:
        """The ``ArenaPins`` of one of the map's arenas, or None."""
        return next((p for p in self.pins or () if p.arena_address == arena.address), None)

    @property
    def pools_read(self) -> int:
        """Pools in use, over all arenas (one cell each)."""
        return sum(len(tuple(a.pools)) for a in (self.arenas or ()))

    @property
    def blocks_in_use(self) -> int:
        return sum(int(p.blocks_in_use) for a in (self.arenas or ()) for p in a.pools)

    @property
    def sparse_arenas(self) -> int:
        return sum(1 for row in self.rows if row.sparse)

    def _headline(self) -> str:
        if self.arenas is None:
            return f"no pymalloc arena map ({self.source}): {self.reason}"
        if not self.arenas:
            return (f"pymalloc has no arenas ({self.source}): nothing has been allocated "
                    "from it, or every arena was empty and returned to the system")
        pools_total = sum(int(a.pools_total) for a in self.arenas)
        return (f"pymalloc arena map ({self.source}): {len(self.arenas):,} arenas, "
                f"{self.pools_read:,} of {pools_total:,} pools in use, "
                f"{self.blocks_in_use:,} blocks in use")

    def _sparse_line(self) -> str:
        sparse = [row for row in self.rows if row.sparse]
        if not sparse:
            return (f"sparse arenas: none (every arena's live blocks fill at least "
                    f"{SPARSE_THRESHOLD:.0%} of it)")
        live = sum(row.live_bytes for row in sparse)
        return (f"sparse arenas: {len(sparse)} of {len(self.rows)} hold {live:,} bytes of "
                f"live blocks in {len(sparse) * self.arena_size:,} bytes: pymalloc frees "
                "only empty arenas, so these few blocks keep them allocated")

    # -- renderings -------------------------------------------------------------------

    def text(self, *, color: bool | None = None, width: int | None = None,
             stream=None) -> str:
        """The map for a terminal (see ``memviz.arenamap``); ``color=None`` decides by
        ``stream`` (default ``sys.stdout``), ``NO_COLOR`` and ``FORCE_COLOR``."""
        return _draw.text(self, color, width, stream)

    def svg(self) -> str:
        """The map as a standalone SVG document."""
        return _draw.svg(self)

    def __str__(self) -> str:
        return self.text(color=False)

    def _repr_pretty_(self, printer, cycle: bool) -> None:
        printer.text(self.text() if not cycle else "ArenaMap(...)")

    def _repr_html_(self) -> str:
        return f'<div class="memviz-arenamap">{_draw.svg(self, standalone=False)}</div>'

    @classmethod
    def of_snapshot(cls, snapshot) -> ArenaMap:
        """The map a snapshot holds, laid out with the snapshot's own layout (never this
        interpreter's: a snapshot may come from another process)."""
        label = f"snapshot of pid {snapshot.pid}, {when(snapshot.taken_at)}"
        arenas, layout, reason = snapshot.arenas, snapshot.layout, None
        if arenas is None:
            reason = _snapshot_reason(snapshot)
        pool_size = layout.pool_size if layout is not None else DEFAULT_POOL_SIZE
        arena_size = layout.arena_size if layout is not None else DEFAULT_ARENA_SIZE
        return cls(arenas, int(pool_size), int(arena_size), label, reason)


def _snapshot_reason(snapshot) -> str:
    try:
        reason = snapshot.capabilities["pymalloc.arenas"].reason
    except (KeyError, MemvizError):
        reason = None
    return f"the snapshot has no arena map ({reason or 'not read'})"
