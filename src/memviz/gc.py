"""The cyclic garbage collector's generations, read in place.

``generations()`` counts the objects in each generation's list in C, without building
the list ``gc.get_objects()`` returns; ``type_counts()`` counts them per exact type;
``generation_of(obj)`` says which list holds an object. Nothing here forces a collection.
"""
from __future__ import annotations

from . import _native
from .values.gc import PERMANENT, Generation, check_generation

__all__ = ["PERMANENT", "Generation", "generation_of", "generations", "permanent",
           "type_counts"]


def generations() -> tuple[Generation, Generation, Generation]:
    """The three generations, counted in one reading."""
    rows, _ = _native.read_gc("memviz.gc.generations()")
    young, middle, old = (Generation(index, *row) for index, row in enumerate(rows))
    return young, middle, old


def permanent() -> int:
    """Objects in the permanent generation, as ``gc.get_freeze_count()``."""
    return _native.read_gc("memviz.gc.permanent()")[1]


def generation_of(obj: object) -> int | None:
    """0, 1, 2 or ``PERMANENT``: the generation whose list holds ``obj``; None when the
    collector does not track it. Walks the list from ``obj`` to its end."""
    generation = _native.generation_of("memviz.gc.generation_of()", obj)
    if generation == PERMANENT:
        return PERMANENT
    return generation


def type_counts(generation: int | None = None) -> dict[type, int]:
    """GC-tracked objects per exact type, in one generation or (None) in all three.

    Counted by a walk of the lists in C: no list of objects, no collection, nothing
    allocated from pymalloc during the walk. ``generation=PERMANENT`` (3) counts the
    objects ``gc.freeze()`` moved to the permanent generation; None counts 0, 1 and 2
    only, as ``gc.get_objects()`` does.
    """
    check_generation(generation)
    return _native.type_counts("memviz.gc.type_counts()", -1 if generation is None else generation)


def _type_counts_apart(own_types: tuple[type, ...], part_types: tuple[type, ...]
                       ) -> tuple[dict[type, int], ...]:
    """Eight {type: count}: generations 0, 1, 2 and the permanent one, then memviz's own
    objects in each of the four: one C walk of the four lists that leaves out the instances of
    ``own_types`` and the objects of ``part_types`` reachable from them through such
    objects only, and counts those apart. The result is built after every walk, so it
    does not count itself. For ``memviz.snapshot``."""
    return _native.type_counts_apart("memviz.snapshot()", own_types, part_types)
