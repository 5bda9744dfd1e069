"""The heap census: every object reachable from the interpreter's roots, with its bytes,
per type -- ``memviz.census()``.

Unlike ``memviz.gc.type_counts()``, which counts the collector's lists, the census also
counts what the collector never tracks (str, bytes, int, float, untracked tuples and
dicts) and what only a running function's frame holds. csrc/census.c walks in C, from
the roots (the collector's four lists, ``sys.modules``, builtins, the ``sys`` dict, every
thread's running frames) through ``tp_traverse``, as ``gc.get_referents`` does; nothing
runs and nothing is allocated from pymalloc during the walk. Sizes are ``sys.getsizeof``'s:
computed in C during the walk for every type whose ``__sizeof__`` is a built-in one the
core knows (object's, int's, str's, list's, bytearray's, set's, frozenset's, dict's: tuple,
bytes, float, functions, instances and their subclasses included); objects of any other
type (a ``__sizeof__`` in Python, code, type, frame, generator objects...) are held during
the walk and sized by ``sys.getsizeof`` after it (``Census.sized_by_getsizeof`` says how
many).
"""
from __future__ import annotations

from . import _native
from .values.census import Census, TypeStat
from .values.names import type_name

__all__ = ["Census", "TypeStat", "census"]


def census() -> Census:
    """Every object reachable from the roots, once each, per type: a :class:`Census`."""
    return _census_of(_census_walk())


def _census_walk() -> dict[type, tuple[int, int, int, int]]:
    """{type: (objects, tracked_objects, bytes, sized_by_getsizeof)}: every object
    reachable from the collector's lists, sys.modules, builtins, the sys dict and every
    thread's running frames, once; bytes is the sum of their ``sys.getsizeof()``."""
    return _native.census("memviz.census()")


def _census_of(walked: dict[type, tuple[int, int, int, int]]) -> Census:
    """The census value of a walk: types by name (distinct types of one name added up)."""
    merged: dict[str, list[int]] = {}
    sized_by_getsizeof = 0
    for cls, (count, tracked, size, sized_later) in walked.items():
        row = merged.setdefault(type_name(cls), [0, 0, 0])
        row[0] += count
        row[1] += tracked
        row[2] += size
        sized_by_getsizeof += sized_later
    stats = tuple(TypeStat(name, count, size, tracked)
                  for name, (count, tracked, size) in merged.items())
    return Census(stats, sized_by_getsizeof)
