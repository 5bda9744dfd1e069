"""The heap census: every object reachable from the interpreter's roots, with its bytes,
per type -- ``memviz.census()``.

Unlike ``memviz.gc.type_counts()``, which counts the collector's lists, the census also
counts what the collector never tracks (str, bytes, int, float, untracked tuples and
dicts) and what only a running function's frame holds. csrc/census.c walks in C, from
the roots (the collector's four lists, ``sys.modules``, builtins, the ``sys`` dict, every
thread's running frames) through ``tp_traverse``, as ``gc.get_referents`` does; nothing
runs and nothing is allocated from pymalloc during the walk. Sizes are
``sys.getsizeof``, taken after the walk on references held since it
(``Census.sized_by_getsizeof`` says how many; today every object).
"""
from __future__ import annotations

from . import _native
from .values.census import Census, TypeStat
from .values.names import type_name

__all__ = ["Census", "TypeStat", "census"]


def census() -> Census:
    """Every object reachable from the roots, once each, per type: a :class:`Census`."""
    return _census_of(_census_walk())


def _census_walk() -> dict[type, tuple[int, int, int]]:
    """{type: (objects, tracked_objects, bytes)}: every object reachable from the
    collector's lists, sys.modules, builtins, the sys dict and every thread's running
    frames, once; bytes is the sum of their ``sys.getsizeof()``, taken after the walk."""
    return _native.census("memviz.census()")


def _census_of(walked: dict[type, tuple[int, int, int]]) -> Census:
    """The census value of a walk: types by name (distinct types of one name added up)."""
    merged: dict[str, list[int]] = {}
    for cls, (count, tracked, size) in walked.items():
        row = merged.setdefault(type_name(cls), [0, 0, 0])
        row[0] += count
        row[1] += tracked
        row[2] += size
    stats = tuple(TypeStat(name, count, size, tracked)
                  for name, (count, tracked, size) in merged.items())
    return Census(stats, sum(stat.count for stat in stats))
