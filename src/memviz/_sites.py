"""Where objects were allocated, from tracemalloc's records (when it is tracing).

memviz's own readings say how many objects of a type there are, not where they came
from; tracemalloc records, for each memory block allocated while it traces, the stack
that allocated it (``tracemalloc.get_object_traceback``). This module is the one place
that turns those records into sites:

- ``allocation_site(obj)``: the :class:`AllocationSite` (file and line) that allocated
  ``obj``'s memory, or None (tracemalloc is not tracing, or has no record of it);
  ``missing_site_reason(obj)`` says which, with the hint how to get one.
- ``sites_of_type(type_or_name, limit)`` / ``sites_of_types(types, limit)``: the sites of
  the live GC-tracked objects of one or several types, most objects first, as
  ``[(AllocationSite, count), ...]``; one walk of ``gc.get_objects()`` for all the types.
- ``growth_sites(diff)``: those sites for the top growing types of a
  ``memviz.SnapshotDiff``, as a :class:`GrowthSites` value whose ``str()`` is the text
  section ``memviz.track`` reports (or, tracemalloc not tracing, the hint).

Types are matched by ``module.qualname`` (``memviz.snapshot.type_name``), as snapshots
and diffs name them, so a name read from a snapshot file works as well as the type.
A site is the most recent frame of tracemalloc's traceback: the line that made the
object (start tracing with more frames, ``python -X tracemalloc=5``, and it is still the
innermost one). A type's objects without a record (made before tracing started, or in
memory a free list kept from before) are counted apart, as ``unrecorded``. Where
tracemalloc cannot be loaded (an isolated subinterpreter) there are no sites, and the
reasons say so (``NO_TRACEMALLOC``).
"""
from __future__ import annotations

import gc
from collections import Counter
from typing import Iterable

try:
    import tracemalloc
except ImportError:
    # An isolated subinterpreter (3.12+) cannot load _tracemalloc, a single-phase module,
    # once the main interpreter has: memviz must still import there, without sites.
    tracemalloc = None   # type: ignore[assignment]  # mypy has no "module or None" type

from .values.sites import (NO_TRACEMALLOC, NOT_RECORDED, NOT_TRACING, AllocationSite,
                           GrowthSites, TypeSites)
from .values.names import type_name

__all__ = ["AllocationSite", "GrowthSites", "TypeSites", "allocation_site", "growth_sites",
           "missing_site_reason", "sites_of_type", "sites_of_types", "NOT_TRACING",
           "NO_TRACEMALLOC"]


def _tracing() -> bool:
    return tracemalloc is not None and tracemalloc.is_tracing()


def _not_tracing_reason() -> str:
    return NOT_TRACING if tracemalloc is not None else NO_TRACEMALLOC


def _site(traceback) -> AllocationSite | None:
    if not traceback:
        return None
    frame = traceback[-1]   # tracemalloc orders a traceback oldest frame first
    return AllocationSite(frame.filename, frame.lineno)


def allocation_site(obj: object) -> AllocationSite | None:
    """Where ``obj``'s memory was allocated, or None when tracemalloc is not tracing or
    has no record of it (see :func:`missing_site_reason`)."""
    if not _tracing():
        return None
    return _site(tracemalloc.get_object_traceback(obj))


def missing_site_reason(obj: object) -> str | None:
    """Why ``allocation_site(obj)`` is None (None when it is not)."""
    if not _tracing():
        return _not_tracing_reason()
    if tracemalloc.get_object_traceback(obj) is None:
        return NOT_RECORDED
    return None


def _names(types: Iterable[type | str]) -> list[str]:
    names = []
    for kind in types:
        if isinstance(kind, type):
            names.append(type_name(kind))
        elif isinstance(kind, str):
            names.append(kind)
        else:
            raise TypeError("allocation sites are looked up by type or by its "
                            f"'module.qualname', not by {type(kind).__name__}")
    return names


def _objects() -> list:
    """``gc.get_objects()``, taken by each public function before it makes anything,
    so that its own lists and dicts are not counted (the list is not in itself)."""
    return gc.get_objects() if _tracing() else []


def _count_sites(names: list[str], objects: list) -> dict[str, Counter]:
    """{name: Counter({site or None: live objects})} over ``objects`` (None counts the
    objects tracemalloc has no record of)."""
    found: dict[str, Counter] = {name: Counter() for name in names}
    if not objects:   # not tracing (maybe no tracemalloc at all): nothing to look up
        return found
    name_of: dict[type, str | None] = {}
    get_traceback = tracemalloc.get_object_traceback
    for obj in objects:
        cls = type(obj)
        name = name_of.get(cls, "")
        if name == "":
            candidate = type_name(cls)
            name = name_of[cls] = candidate if candidate in found else None
        if name is not None:
            found[name][_site(get_traceback(obj))] += 1
    return found


def _ranked(sites: Counter, limit: int | None) -> list[tuple[AllocationSite, int]]:
    ranked = sorted(((site, n) for site, n in sites.items() if site is not None),
                    key=lambda item: (-item[1], item[0]))
    return ranked if limit is None else ranked[:limit]


def _check_limit(limit: int | None) -> None:
    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int)
                              or limit < 1):
        raise ValueError(f"limit must be a positive int or None, not {limit!r}")


def sites_of_types(types: Iterable[type | str], limit: int | None = 5
                   ) -> dict[str, list[tuple[AllocationSite, int]]]:
    """{type name: [(site, live objects), ...]} for each of ``types`` (types or
    ``module.qualname`` names), the ``limit`` sites with most objects first: one walk of
    ``gc.get_objects()``. Each list is empty when tracemalloc is not tracing."""
    objects = _objects()
    _check_limit(limit)
    return {name: _ranked(sites, limit)
            for name, sites in _count_sites(_names(types), objects).items()}


def sites_of_type(kind: type | str, limit: int | None = 5) -> list[tuple[AllocationSite, int]]:
    """[(site, live objects), ...] of one type (or its ``module.qualname``), most first."""
    return next(iter(sites_of_types([kind], limit).values()))


def growth_sites(diff, types: int = 5, per_type: int = 3) -> GrowthSites:
    """The sites of the ``types`` types that grew most in ``diff`` (a
    ``memviz.SnapshotDiff``), ``per_type`` sites each, read now: call it while the
    objects are alive (``memviz.track`` does, at exit)."""
    objects = _objects()
    _check_limit(types)
    _check_limit(per_type)
    if not _tracing():
        return GrowthSites(False, (), _not_tracing_reason())
    no_types = diff._types_not_read()
    if no_types is not None:   # tracing, but which types grew is not known
        return GrowthSites(True, (), f"the diff has no type counts: {no_types}",
                           types_read=False)
    growing = diff.top_types(types, key="growth")
    found = _count_sites([d.name for d in growing], objects)
    return GrowthSites(True, tuple(
        TypeSites(d.name, d.delta, tuple(_ranked(found[d.name], per_type)),
                  found[d.name][None])
        for d in growing))
