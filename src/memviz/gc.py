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


def _read(reading: str):
    """One reading of the collector into a fresh C buffer (one per call, so that threads
    reading at once never share one)."""
    lib = _native.require_core(reading)
    buffer = _native.ffi.new("mv_gc_reading *")
    buffer.interpreter_id = _native.interpreter_id()
    _native.check(reading, lib.mv_read_gc(buffer))
    return buffer


def generations() -> tuple[Generation, Generation, Generation]:
    """The three generations, counted in one reading."""
    raw = _read("memviz.gc.generations()")
    return tuple(
        Generation(
            index=i,
            objects=gen.objects,
            count=gen.count,
            threshold=gen.threshold,
            collections=gen.collections,
            collected=gen.collected,
            uncollectable=gen.uncollectable,
        )
        for i, gen in enumerate(raw.generations)
    )


def permanent() -> int:
    """Objects in the permanent generation, as ``gc.get_freeze_count()``."""
    return _read("memviz.gc.permanent()").permanent


def generation_of(obj: object) -> int | None:
    """0, 1, 2 or ``PERMANENT``: the generation whose list holds ``obj``; None when the
    collector does not track it. Walks the list from ``obj`` to its end."""
    objects = _native.require_objects("memviz.gc.generation_of()")
    try:
        generation = objects.generation_of(obj)
    except objects.ReadingError as error:
        raise _native.from_reading_error("memviz.gc.generation_of()", error) from None
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
    objects = _native.require_objects("memviz.gc.type_counts()")
    check_generation(generation)
    try:
        return objects.type_counts(-1 if generation is None else generation)
    except objects.ReadingError as error:
        raise _native.from_reading_error("memviz.gc.type_counts()", error) from None


def _type_counts_apart(own_types: tuple[type, ...], part_types: tuple[type, ...]
                       ) -> tuple[dict[type, int], ...]:
    """Eight {type: count}: generations 0, 1, 2 and the permanent one, then memviz's own
    objects in each of the four: one C walk of the four lists that leaves out the instances of
    ``own_types`` and the objects of ``part_types`` reachable from them through such
    objects only, and counts those apart. The result is built after every walk, so it
    does not count itself. For ``memviz.snapshot``."""
    objects = _native.require_objects("memviz.snapshot()")
    try:
        return objects.type_counts_apart(own_types, part_types)
    except objects.ReadingError as error:
        raise _native.from_reading_error("memviz.snapshot()", error) from None
