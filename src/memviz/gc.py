"""The cyclic garbage collector's generations, read in place.

``generations()`` counts the objects in each generation's list in C, without building
the list ``gc.get_objects()`` returns; ``type_counts()`` counts them per exact type;
``generation_of(obj)`` says which list holds an object; ``unreachable()`` says what the
next full collection would free. Nothing here forces a collection.
"""
from __future__ import annotations

import gc as _gc
import types as _types

from . import _native
from .holders import step_labels
from .values.cycles import Cycle
from .values.gc import PERMANENT, Generation, check_generation

__all__ = ["PERMANENT", "Cycle", "Generation", "generation_of", "generations", "permanent",
           "type_counts", "unreachable"]


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


def unreachable() -> tuple[Cycle, ...]:
    """What the next full collection (``gc.collect()``) would find unreachable, as
    :class:`Cycle` values, computed now without collecting.

    The collector's own reckoning, run in C over side tables (no GC header is written):
    every object of generations 0, 1 and 2 -- not the permanent one, which ``gc.freeze()``
    filled and a collection leaves alone; what it holds counts as held from outside --
    starts with its reference count; the references the others hold to it are taken
    away; those left with some are held from outside (a running function, a C global, an
    untracked object) and, with everything they lead to, reachable. The rest is garbage.
    On 3.12+ immortal objects are held from outside, as the collector takes them.

    Each :class:`Cycle` is a strongly connected group of that garbage (Tarjan's algorithm,
    in C) with the garbage in no cycle that it holds (a list only a cycle refers to goes
    with the cycle nearest to it, breadth first), so every object the collection would
    free is in exactly one of them. The result holds the objects: while it is kept they
    are no garbage; once it is released they are again. The collector is paused during
    the call and put back as it was, so the call itself causes no collection.
    """
    enabled = _gc.isenabled()
    _gc.disable()
    try:
        found = _native.unreachable("memviz.gc.unreachable()")
        return tuple(_cycle(*component) for component in found)
    finally:
        if enabled:
            _gc.enable()


def _cycle(objects: tuple, loop: tuple, size: int, finalizers: tuple) -> Cycle:
    resurrects = any(_python_del(type(obj)) for obj in finalizers)
    return Cycle(objects, loop, size, bool(finalizers), resurrects, step_labels)


_TYPE_DICT = type.__dict__["__dict__"]
_TYPE_MRO = type.__dict__["__mro__"]


def _python_del(cls: type) -> bool:
    """Whether the ``__del__`` cls's instances run is a function written in Python, found
    in the classes' own dicts (read through type's descriptor: no metaclass code runs)."""
    for klass in _TYPE_MRO.__get__(cls):
        own = _TYPE_DICT.__get__(klass)
        if "__del__" in own:
            return type(own["__del__"]) is _types.FunctionType
    return False


def _type_counts_apart(own_types: tuple[type, ...], part_types: tuple[type, ...]
                       ) -> tuple[dict[type, int], ...]:
    """Eight {type: count}: generations 0, 1, 2 and the permanent one, then memviz's own
    objects in each of the four: one C walk of the four lists that leaves out the instances of
    ``own_types`` and the objects of ``part_types`` reachable from them through such
    objects only, and counts those apart. The result is built after every walk, so it
    does not count itself. For ``memviz.snapshot``."""
    return _native.type_counts_apart("memviz.snapshot()", own_types, part_types)
