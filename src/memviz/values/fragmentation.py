"""Fragmentation: the ONE owner of what a *sparse* arena is.

``Snapshot.fragmentation()`` counts sparse arenas and ``memviz.arenamap`` marks them;
both ask :func:`is_sparse`, with :data:`SPARSE_THRESHOLD` unless told otherwise.
Public as ``memviz.snapshot.is_sparse``, ``memviz.snapshot.SPARSE_THRESHOLD`` and
``memviz.snapshot.Fragmentation``.
"""
from __future__ import annotations

from dataclasses import dataclass

from . import public


#: An arena is sparse when its live blocks fill less than this share of it.
SPARSE_THRESHOLD = 0.25


def is_sparse(pools_in_use: int, live_bytes: int, arena_size: int,
              threshold: float = SPARSE_THRESHOLD) -> bool:
    """THE rule of a sparse arena, the one ``Snapshot.fragmentation()`` and
    ``memviz.arenamap`` both apply: it has a pool in use, and the bytes of its live blocks
    are less than ``threshold`` of its size. An arena with no pool in use is empty, not
    sparse: pymalloc keeps it in reserve (it frees empty arenas but the last)."""
    return pools_in_use > 0 and live_bytes < threshold * arena_size


@public("memviz.snapshot")
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
