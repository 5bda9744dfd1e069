"""Allocation sites, as values: where tracemalloc says objects were made (``memviz._sites``
reads them) and the sites of a diff's growing types, whose ``str()`` is the section
``memviz.track`` reports. The reasons there are none are said here, once."""
from __future__ import annotations

from dataclasses import dataclass

from .._words import plural, signed
from ..render.text import table

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
