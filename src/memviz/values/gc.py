"""The collector's values: a generation's figures, and the name of the permanent one.

Public as ``memviz.gc.Generation`` and ``memviz.gc.PERMANENT``; the one rule of what
names a generation (``check_generation``) is here because readings, snapshots and diffs
all apply it.
"""
from __future__ import annotations

from dataclasses import dataclass

from . import public


class _Permanent(int):
    """The permanent generation (``gc.freeze()``), after generations 0, 1 and 2."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "memviz.gc.PERMANENT"

    def __reduce__(self):
        return (_permanent, ())


def _permanent() -> _Permanent:
    return PERMANENT


#: What ``generation_of`` returns for an object in the permanent generation.
#: It compares equal to 3, the generation's index after 0, 1 and 2.
PERMANENT = _Permanent(3)


@public("memviz.gc")
@dataclass(frozen=True)
class Generation:
    """One generation of the collector at the moment of a reading.

    ``objects`` is the length of its list (``len(gc.get_objects(generation=index))``);
    ``count`` and ``threshold`` are ``gc.get_count()[index]`` and
    ``gc.get_threshold()[index]``; ``collections``, ``collected`` and ``uncollectable``
    are the figures of ``gc.get_stats()[index]``.
    """

    index: int
    objects: int
    count: int
    threshold: int
    collections: int
    collected: int
    uncollectable: int

    def __str__(self) -> str:
        return (
            f"generation {self.index}: {self.objects:,} objects, count {self.count:,}/"
            f"{self.threshold:,}, {self.collections:,} collections "
            f"({self.collected:,} collected, {self.uncollectable:,} uncollectable)"
        )


def check_generation(generation) -> None:
    """The one rule of what names a generation: 0, 1, 2, PERMANENT (3), or None for 0-2
    together (memviz.gc.type_counts, Snapshot.type_counts, SnapshotDiff.types)."""
    if generation is not None and (
        isinstance(generation, bool) or not isinstance(generation, int)
        or not 0 <= generation <= PERMANENT
    ):
        raise ValueError(
            f"generation must be 0, 1, 2, PERMANENT (3) or None, not {generation!r}")
