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
from dataclasses import dataclass
from typing import Iterable

try:
    import tracemalloc
except ImportError:
    # An isolated subinterpreter (3.12+) cannot load _tracemalloc, a single-phase module,
    # once the main interpreter has: memviz must still import there, without sites.
    tracemalloc = None   # type: ignore[assignment]  # mypy has no "module or None" type

from .render.text import table
from ._words import plural, signed
from .values.snapshot import type_name

__all__ = ["AllocationSite", "GrowthSites", "TypeSites", "allocation_site", "growth_sites",
           "missing_site_reason", "sites_of_type", "sites_of_types", "NOT_TRACING",
           "NO_TRACEMALLOC"]

#: Why there are no allocation sites when tracemalloc is off, and how to get them.
NOT_TRACING = ("tracemalloc is not tracing; to see where objects are allocated, start it "
               "before they are made: python -X tracemalloc, PYTHONTRACEMALLOC=1, or "
               "tracemalloc.start()")

#: Why there are no allocation sites in an interpreter that cannot load tracemalloc.
NO_TRACEMALLOC = ("tracemalloc cannot be loaded in this interpreter (an isolated "
                  "subinterpreter, after the main interpreter loaded it); its records are "
                  "read only where it loads")

#: Why an object has no site although tracemalloc is tracing.
NOT_RECORDED = ("tracemalloc has no record of its memory: allocated before tracing started "
                "(lists, dicts, tuples and floats may reuse memory a free list kept from "
                "then), or not allocated at run time")


@dataclass(frozen=True, order=True)
class AllocationSite:
    """A source line that allocated objects: ``filename:lineno``."""

    filename: str
    lineno: int

    def __str__(self) -> str:
        return f"{self.filename}:{self.lineno}"


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


@dataclass(frozen=True)
class TypeSites:
    """One growing type: its change in objects and where its live objects were made."""

    name: str
    delta: int
    sites: tuple[tuple[AllocationSite, int], ...]   #: (site, live objects), most first
    unrecorded: int                                 #: live objects without a record


@dataclass(frozen=True)
class GrowthSites:
    """Where the top growing types of a diff were allocated; ``tracing`` is False (and
    ``types`` empty) when tracemalloc was not tracing, ``types_read`` False when the diff
    had no type counts; ``not_read`` then says why (and how to get them). ``str()`` is
    the text section."""

    tracing: bool
    types: tuple[TypeSites, ...]
    not_read: str = NOT_TRACING
    #: False when the diff had no type counts to find the growing types in (no GC
    #: readings): ``not_read`` says why, and no type is said to have grown or not.
    types_read: bool = True

    def __repr__(self) -> str:
        # One line, the top type and its top site: the dataclass default would spell out
        # every TypeSites and AllocationSite, a screenful for five types.
        if not (self.tracing and self.types_read):   # the reason's first clause, no how-to
            return f"<GrowthSites: not read, {self.not_read.split(';')[0]}>"
        if not self.types:
            return "<GrowthSites: no type grew>"
        top, count = self.types[0], len(self.types)
        if top.sites:
            site, objects = top.sites[0]
            where = f"top site {site} ({objects:,} {plural(objects, 'object')})"
        else:
            where = "no site recorded"
        return (f"<GrowthSites: {count} growing {plural(count, 'type')}, first {top.name} "
                f"({signed(top.delta)}), {where}>")

    def __str__(self) -> str:
        if not (self.tracing and self.types_read):
            return f"Allocation sites: not read -- {self.not_read}"
        if not self.types:
            return "Allocation sites: no type grew"
        rows: list[tuple[str, str]] = []
        for kind in self.types:
            rows.append((f"{kind.name} ({signed(kind.delta)})", ""))
            rows.extend((f"  {site}", f"{count:,}") for site, count in kind.sites)
            if kind.unrecorded:
                rows.append(("  no record: older than tracing, or reusing free-list memory",
                             f"{kind.unrecorded:,}"))
        return ("Allocation sites of the growing types (tracemalloc; live objects of each "
                "type, not only the new ones)\n" + table(("type, site", "objects"), rows))


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
