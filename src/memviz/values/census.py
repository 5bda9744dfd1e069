"""The census value: every object reachable from the interpreter's roots, per type, with
its bytes -- what ``memviz.census()`` returns.

O(types) memory: one :class:`TypeStat` per type name, largest ``bytes`` first. Types are
kept by ``module.qualname``, as snapshots keep them, so a census outlives the process it
describes. Public as ``memviz.census.Census`` and ``memviz.census.TypeStat`` (also
``memviz.Census``, ``memviz.TypeStat``).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator

from ..render import html as _html
from ..render import text as _text
from . import public
from .names import type_name

#: What ``Census.top(by=...)`` ranks by.
RANKINGS = ("bytes", "count")


@public("memviz.census")
@dataclass(frozen=True, order=True)
class TypeStat:
    """The objects of one type (by ``module.qualname``) that a census found: how many,
    their bytes (the sum of ``sys.getsizeof``), and how many of them the cyclic collector
    tracks."""

    name: str
    count: int
    bytes: int
    tracked: int

    def __str__(self) -> str:
        return f"{self.name}: {self.count:,} objects, {self.bytes:,} bytes"


@public("memviz.census")
class Census:
    """Every object reachable from the roots (the collector's lists, ``sys.modules``,
    builtins, the ``sys`` dict, every thread's running frames), each counted once, per
    type. ``types`` is largest ``bytes`` first (ties by name); ``census[name]`` is a
    type's :class:`TypeStat` (a type itself works too), ``KeyError`` when the census
    found none. ``sized_by_getsizeof`` objects were sized by ``sys.getsizeof`` after the
    walk (those of a type whose ``__sizeof__`` the C core does not compute: code, type,
    frame objects, a ``__sizeof__`` written in Python...); the others' sizes were computed
    in C during it, equal to ``sys.getsizeof``'s."""

    __slots__ = ("_types", "_by_name", "_sized_by_getsizeof")

    _types: tuple[TypeStat, ...]
    _by_name: dict[str, TypeStat]
    _sized_by_getsizeof: int

    def __init__(self, types: tuple[TypeStat, ...], sized_by_getsizeof: int):
        ranked = tuple(sorted(types, key=lambda stat: (-stat.bytes, stat.name)))
        object.__setattr__(self, "_types", ranked)
        object.__setattr__(self, "_by_name", {stat.name: stat for stat in ranked})
        object.__setattr__(self, "_sized_by_getsizeof", sized_by_getsizeof)
        if len(self._by_name) != len(ranked):
            raise ValueError("a census names each type once")

    def __setattr__(self, name, value):
        raise AttributeError(f"a Census is immutable (cannot set {name!r})")

    def __delattr__(self, name):
        raise AttributeError(f"a Census is immutable (cannot delete {name!r})")

    # -- figures ------------------------------------------------------------------------

    @property
    def types(self) -> tuple[TypeStat, ...]:
        return self._types

    @property
    def total_objects(self) -> int:
        return sum(stat.count for stat in self._types)

    @property
    def total_bytes(self) -> int:
        return sum(stat.bytes for stat in self._types)

    @property
    def tracked_objects(self) -> int:
        """How many of the objects the cyclic collector tracks."""
        return sum(stat.tracked for stat in self._types)

    @property
    def sized_by_getsizeof(self) -> int:
        return self._sized_by_getsizeof

    def top(self, n: int = 10, by: str = "bytes") -> tuple[TypeStat, ...]:
        """The ``n`` types with the most bytes (``by="bytes"``) or objects
        (``by="count"``), largest first, ties by name."""
        if isinstance(n, bool) or not isinstance(n, int) or n < 0:
            raise ValueError(f"n must be an int >= 0, not {n!r}")
        if by not in RANKINGS:
            raise ValueError(f"by must be one of {', '.join(map(repr, RANKINGS))}, not {by!r}")
        if by == "bytes":
            return self._types[:n]
        return tuple(sorted(self._types, key=lambda stat: (-stat.count, stat.name))[:n])

    # -- a mapping of type names --------------------------------------------------------

    def __getitem__(self, key: str | type) -> TypeStat:
        return self._by_name[_name_of(key)]

    def __contains__(self, key: object) -> bool:
        return isinstance(key, (str, type)) and _name_of(key) in self._by_name

    def __iter__(self) -> Iterator[TypeStat]:
        return iter(self._types)

    def __len__(self) -> int:
        return len(self._types)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Census):
            return NotImplemented
        return (self._types, self._sized_by_getsizeof) == (other._types,
                                                           other._sized_by_getsizeof)

    def __hash__(self) -> int:
        return hash(self._types)

    def __reduce__(self):
        return (Census, (self._types, self._sized_by_getsizeof))

    # -- words --------------------------------------------------------------------------

    def __repr__(self) -> str:
        return (f"<memviz.Census {self.total_objects:,} objects ({self.tracked_objects:,} "
                f"tracked), {self.total_bytes:,} bytes in {len(self._types):,} types>")

    def report(self, limit: int = 15) -> str:
        """A text table: the ``limit`` types with the most bytes, and the totals."""
        return _text.census_report(self, limit)

    def _repr_pretty_(self, printer, cycle: bool) -> None:
        printer.text(repr(self) if cycle else self.report())

    def _repr_html_(self) -> str:
        return _html.census_html(self)


def _name_of(key: str | type) -> str:
    """A census key: a type's ``module.qualname``, a name as it is."""
    return type_name(key) if isinstance(key, type) else key
