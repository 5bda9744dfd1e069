"""What changed between two snapshots: ``newer - older`` is a :class:`SnapshotDiff`."""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable, Literal, Mapping, overload

from ..render import html as _html
from ..render import text as _text
from ..render.view import RSS_UNKNOWN, format_bytes, when
from .gc import check_generation

if TYPE_CHECKING:   # memviz.values.snapshot imports this module: Snapshot.diff() makes diffs
    from .census import Census
    from .snapshot import Snapshot

__all__ = ["ArenaDiff", "GenerationDiff", "SizeClassDiff", "SnapshotDiff", "TypeBytesDiff",
           "TypeDiff"]

#: What ``SnapshotDiff.top_types(by=...)`` ranks the changes of: objects the collector
#: tracks (the snapshots' type counts), or bytes (their censuses).
TOP_TYPES_BY = ("count", "bytes")


@dataclass(frozen=True)
class TypeDiff:
    """One type's objects in the newer snapshot (``count``) and the change (``delta``)."""

    name: str
    count: int
    delta: int

    def __str__(self) -> str:
        return f"{self.name}: {self.count:,} ({self.delta:+,})"


@dataclass(frozen=True)
class TypeBytesDiff:
    """One type in the newer snapshot's census: its bytes (the sum of
    ``sys.getsizeof``) and objects, every object counted (tracked by the collector or
    not), and the changes since the older snapshot's census."""

    name: str
    bytes: int
    bytes_delta: int
    count: int
    count_delta: int

    def __str__(self) -> str:
        return (f"{self.name}: {format_bytes(self.bytes)} "
                f"({format_bytes(self.bytes_delta, True)}), {self.count:,} objects "
                f"({self.count_delta:+,})")


@dataclass(frozen=True)
class GenerationDiff:
    """One generation in the newer snapshot and what changed since the older one."""

    index: int
    objects: int
    objects_delta: int
    collections_delta: int
    collected_delta: int
    uncollectable_delta: int

    def __str__(self) -> str:
        return (
            f"generation {self.index}: {self.objects:,} objects ({self.objects_delta:+,}), "
            f"{self.collections_delta:+,} collections, {self.collected_delta:+,} collected, "
            f"{self.uncollectable_delta:+,} uncollectable"
        )


@dataclass(frozen=True)
class SizeClassDiff:
    """One pymalloc size class in the newer snapshot and what changed."""

    index: int
    block_size: int
    pools: int
    pools_delta: int
    blocks_in_use: int
    blocks_delta: int

    @property
    def bytes_delta(self) -> int:
        """The change in bytes of blocks in use."""
        return self.blocks_delta * self.block_size

    def __str__(self) -> str:
        return (
            f"size class {self.index} ({self.block_size} B): {self.blocks_in_use:,} blocks "
            f"({self.blocks_delta:+,}), {self.pools:,} pools ({self.pools_delta:+,})"
        )


@dataclass(frozen=True)
class ArenaDiff:
    """pymalloc's arenas in the newer snapshot and what changed.

    ``allocated_delta`` and ``reclaimed_delta`` come from pymalloc's running totals;
    ``added`` and ``released`` from the two arena maps (arenas at addresses only one of
    them has), None when either snapshot has no map.
    """

    current: int
    current_delta: int
    allocated_delta: int
    reclaimed_delta: int
    highwater: int
    added: int | None
    released: int | None

    def __str__(self) -> str:
        text = (f"{self.current:,} arenas ({self.current_delta:+,}): "
                f"{self.allocated_delta:,} allocated, {self.reclaimed_delta:,} reclaimed")
        if self.added is not None:
            text += f"; map: {self.added:,} new, {self.released:,} released"
        return text


def _check_min_change(min_change) -> None:
    if isinstance(min_change, bool) or not isinstance(min_change, int) or min_change < 1:
        raise ValueError(f"min_change must be a positive int, not {min_change!r}")


def _ranked(diffs: list, key: str, delta: Callable) -> list:
    """``diffs`` (largest change first) as ``top_types`` ranks them by ``key``: all of
    them ("abs"), the growing ones largest first ("growth"), the shrinking ones
    ("shrink")."""
    if key == "growth":
        return sorted((d for d in diffs if delta(d) > 0), key=lambda d: (-delta(d), d.name))
    if key == "shrink":
        return sorted((d for d in diffs if delta(d) < 0), key=lambda d: (delta(d), d.name))
    return diffs


def _is_snapshot(value: object) -> bool:
    """Whether ``value`` is a memviz.Snapshot (the class is named, not imported: the
    snapshot module is the one that imports this one)."""
    cls = type(value)
    return any(base.__module__ == "memviz.snapshot" and base.__qualname__ == "Snapshot"
               for base in cls.__mro__)


class SnapshotDiff:
    """The change from ``old`` to ``new`` (``new - old``).

    Every ``*_delta`` is new minus old. Readings that either snapshot lacks are None.
    ``exclude`` is a per-generation count of objects by type name (generations 0-2) to
    leave out of the newer snapshot's type and generation figures. memviz no longer
    needs it for its own objects, which snapshots leave out themselves
    (``Snapshot.own_objects``); it stays for callers that subtract objects of their own.
    """

    __slots__ = ("_new", "_old", "_exclude")

    _new: Snapshot
    _old: Snapshot
    _exclude: tuple[Mapping[str, int], Mapping[str, int], Mapping[str, int]] | None

    def __init__(self, new: Snapshot, old: Snapshot,
                 exclude: tuple[Mapping[str, int], Mapping[str, int], Mapping[str, int]]
                 | None = None):
        if not (_is_snapshot(new) and _is_snapshot(old)):
            raise TypeError("SnapshotDiff compares two memviz.Snapshot values")
        object.__setattr__(self, "_new", new)
        object.__setattr__(self, "_old", old)
        object.__setattr__(self, "_exclude", exclude)

    def __setattr__(self, name, value):
        raise AttributeError(f"a SnapshotDiff is immutable (cannot set {name!r})")

    def __reduce__(self):
        return (SnapshotDiff, (self._new, self._old, self._exclude))

    @property
    def new(self) -> Snapshot:
        return self._new

    @property
    def old(self) -> Snapshot:
        return self._old

    @property
    def exclude(self) -> tuple[Mapping[str, int], Mapping[str, int], Mapping[str, int]] | None:
        return self._exclude

    @property
    def elapsed(self) -> float:
        """Seconds between the two snapshots."""
        return self._new.taken_at - self._old.taken_at

    # -- types ----------------------------------------------------------------------------

    @property
    def has_types(self) -> bool:
        return self._new.has_types and self._old.has_types

    def _types_not_read(self) -> str | None:
        """Why the diff has no type counts (the snapshot that lacks them says), or None."""
        for snap in (self._new, self._old):
            if not snap.has_types:
                return snap._reason("gc")
        return None

    def _counts(self, snap: Snapshot, generation: int | None, own: bool) -> dict[str, int]:
        counts = snap.type_counts(generation)
        if own and self._exclude is not None:
            # exclude has generations 0-2 only: nothing of the permanent one
            generations = range(3) if generation is None else range(generation, min(generation + 1, 3))
            for g in generations:
                for name, n in self._exclude[g].items():
                    left = counts.get(name, 0) - n
                    if left:
                        counts[name] = left
                    else:
                        counts.pop(name, None)
        return counts

    def type_deltas(self, generation: int | None = None) -> dict[str, int]:
        """{type name: change in objects}, for the types whose count changed."""
        check_generation(generation)
        new = self._counts(self._new, generation, own=True)
        old = self._counts(self._old, generation, own=False)
        deltas = {}
        for name in new.keys() | old.keys():
            delta = new.get(name, 0) - old.get(name, 0)
            if delta:
                deltas[name] = delta
        return deltas

    def types(self, generation: int | None = None, *, min_change: int = 1) -> list[TypeDiff]:
        """Every type whose count changed by at least ``min_change`` objects (either way),
        the largest change first (then the larger count, then by name), as
        ``tracemalloc.Snapshot.compare_to`` sorts. ``min_change`` hides the noise of
        types that changed by a few objects."""
        check_generation(generation)
        _check_min_change(min_change)
        new = self._counts(self._new, generation, own=True)
        old = self._counts(self._old, generation, own=False)
        diffs = []
        for name in new.keys() | old.keys():
            count = new.get(name, 0)
            delta = count - old.get(name, 0)
            if delta and abs(delta) >= min_change:
                diffs.append(TypeDiff(name, count, delta))
        diffs.sort(key=lambda d: (-abs(d.delta), -d.count, d.name))
        return diffs

    @overload
    def top_types(self, limit: int = 10, generation: int | None = None, *,
                  key: str = "abs", min_change: int = 1,
                  by: Literal["count"] = "count") -> list[TypeDiff]: ...

    @overload
    def top_types(self, limit: int = 10, generation: int | None = None, *,
                  key: str = "abs", min_change: int = 1,
                  by: Literal["bytes"]) -> list[TypeBytesDiff]: ...

    def top_types(self, limit: int = 10, generation: int | None = None, *,
                  key: str = "abs", min_change: int = 1,
                  by: str = "count") -> list[TypeDiff] | list[TypeBytesDiff]:
        """The ``limit`` largest changes: by size of change (``key="abs"``), the largest
        growth (``"growth"``) or the largest shrinkage (``"shrink"``); of at least
        ``min_change`` objects the collector tracks (``by="count"``: :class:`TypeDiff`,
        from :meth:`types`), or of at least ``min_change`` bytes between the two
        snapshots' censuses (``by="bytes"``: :class:`TypeBytesDiff`, from
        :meth:`census_types`; a census has no generations, so ``generation`` stays
        None)."""
        if by not in TOP_TYPES_BY:
            raise ValueError(f"by must be 'count' or 'bytes', not {by!r}")
        if key not in ("abs", "growth", "shrink"):
            raise ValueError(f"key must be 'abs', 'growth' or 'shrink', not {key!r}")
        if by == "bytes":
            if generation is not None:
                raise ValueError("by='bytes' ranks the censuses' changes, and a census "
                                 f"has no generations: generation must be None, not "
                                 f"{generation!r}")
            return _ranked(self.census_types(min_change=min_change), key,
                           lambda d: d.bytes_delta)[:limit]
        return _ranked(self.types(generation, min_change=min_change), key,
                       lambda d: d.delta)[:limit]

    # -- the censuses ---------------------------------------------------------------------

    @property
    def has_census(self) -> bool:
        """Whether both snapshots have a census (``memviz.snapshot(census=True)``)."""
        return self._new.has_census and self._old.has_census

    def census_types(self, *, min_change: int = 1) -> list[TypeBytesDiff]:
        """Every type whose bytes changed by at least ``min_change`` between the two
        snapshots' censuses (either way), the largest change first (then the larger
        bytes, then by name), as :meth:`types` sorts the type counts. ``ValueError``
        names the snapshot that has no census.

        A census counts every object alive, memviz's own among them (the older snapshot
        itself, when the program keeps it: its figures are ``bytes`` objects), and
        cannot tell them apart: unlike :meth:`types`, these changes include them, and
        ``exclude`` (counts of objects without their sizes) does not apply."""
        _check_min_change(min_change)
        new, old = ({stat.name: (stat.bytes, stat.count) for stat in census}
                    for census in self._census_pair())
        diffs = []
        for name in new.keys() | old.keys():
            size, count = new.get(name, (0, 0))
            old_size, old_count = old.get(name, (0, 0))
            if size != old_size and abs(size - old_size) >= min_change:
                diffs.append(TypeBytesDiff(name, size, size - old_size, count,
                                           count - old_count))
        diffs.sort(key=lambda d: (-abs(d.bytes_delta), -d.bytes, d.name))
        return diffs

    def _census_pair(self) -> tuple[Census, Census]:
        """(the newer snapshot's census, the older one's), or ValueError naming the
        snapshot without one."""
        new, old = self._new.census, self._old.census
        for census, which, snap in ((new, "newer", self._new), (old, "older", self._old)):
            if census is None:
                raise ValueError(
                    f"the {which} snapshot (pid {snap.pid}, {when(snap.taken_at)}) has no "
                    "census to compare: take both with memviz.snapshot(census=True)")
        assert new is not None and old is not None   # checked above
        return new, old

    # -- the collector --------------------------------------------------------------------

    @property
    def generations(self) -> tuple[GenerationDiff, ...] | None:
        new, old = self._new.generations, self._old.generations
        if new is None or old is None:
            return None
        result = []
        for n, o in zip(new, old):
            own = sum(self._exclude[n.index].values()) if self._exclude is not None else 0
            result.append(GenerationDiff(
                n.index, n.objects - own, n.objects - own - o.objects,
                n.collections - o.collections, n.collected - o.collected,
                n.uncollectable - o.uncollectable,
            ))
        return tuple(result)

    @property
    def permanent_delta(self) -> int | None:
        if self._new.permanent is None or self._old.permanent is None:
            return None
        return self._new.permanent - self._old.permanent

    # -- pymalloc -------------------------------------------------------------------------

    @property
    def size_classes(self) -> tuple[SizeClassDiff, ...] | None:
        """Per size class, by index; None unless both snapshots have pymalloc statistics."""
        new, old = self._new.pymalloc, self._old.pymalloc
        if new is None or old is None:
            return None
        before = {sc.index: sc for sc in old.size_classes}
        result = []
        for sc in new.size_classes:
            prior = before.get(sc.index)
            pools = prior.pools if prior is not None else 0
            blocks = prior.blocks_in_use if prior is not None else 0
            result.append(SizeClassDiff(sc.index, sc.block_size, sc.pools, sc.pools - pools,
                                        sc.blocks_in_use, sc.blocks_in_use - blocks))
        return tuple(result)

    @property
    def blocks_delta(self) -> int | None:
        """The change in pymalloc blocks in use."""
        return self._stats_delta("blocks_in_use")

    @property
    def raw_blocks_delta(self) -> int | None:
        """The change in object requests pymalloc passed on to malloc (``raw_blocks``:
        requests larger than its biggest size class, counted but not sized)."""
        return self._stats_delta("raw_blocks")

    @property
    def arena_bytes_delta(self) -> int | None:
        """The change in bytes of pymalloc's arenas (``RssSplit.arena_bytes``)."""
        return self._stats_delta("arena_bytes")

    def _stats_delta(self, field: str) -> int | None:
        """new - old of one of pymalloc's statistics; None when a side lacks them."""
        new, old = self._new.pymalloc, self._old.pymalloc
        if new is None or old is None:
            return None
        return getattr(new, field) - getattr(old, field)

    @property
    def arenas(self) -> ArenaDiff | None:
        new, old = self._new.pymalloc, self._old.pymalloc
        if new is None or old is None:
            return None
        added = released = None
        if self._new._arenas is not None and self._old._arenas is not None:
            now = {arena[0] for arena, _ in self._new._arena_rows()}
            then = {arena[0] for arena, _ in self._old._arena_rows()}
            added, released = len(now - then), len(then - now)
        return ArenaDiff(
            new.arenas_current, new.arenas_current - old.arenas_current,
            new.arenas_allocated_total - old.arenas_allocated_total,
            new.arenas_reclaimed - old.arenas_reclaimed, new.arenas_highwater, added, released,
        )

    # -- the process ----------------------------------------------------------------------

    @property
    def rss_delta(self) -> int | None:
        if self._new.rss is None or self._old.rss is None:
            return None
        return self._new.rss - self._old.rss

    @property
    def outside_pymalloc_delta(self) -> int | None:
        """The change in RSS outside pymalloc's arenas (``RssSplit.outside_pymalloc``);
        None unless both snapshots have the RSS split."""
        new, old = self._new.rss_split(), self._old.rss_split()
        if new is None or old is None:
            return None
        return new.outside_pymalloc - old.outside_pymalloc

    # -- text -----------------------------------------------------------------------------

    def report(self, limit: int = 10, *, min_change: int = 1) -> str:
        """The diff as plain-text tables; types that changed by fewer than ``min_change``
        objects are left out of the types table (one line says how many, and their net
        change)."""
        return _text.diff_report(self, limit, min_change=min_change)

    def __repr__(self) -> str:
        parts = [f"{self.elapsed:+.3f} s"]
        if self.has_types:
            deltas = self.type_deltas()
            parts.append(f"{sum(deltas.values()):+,} GC objects in {len(deltas):,} types")
        if self.blocks_delta is not None:
            parts.append(f"{self.blocks_delta:+,} blocks")
        parts.append(RSS_UNKNOWN if self.rss_delta is None
                     else f"RSS {self.rss_delta / 2**20:+.1f} MiB")
        return f"<memviz.SnapshotDiff {', '.join(parts)}>"

    def _repr_pretty_(self, printer, cycle: bool) -> None:
        """IPython: the text report (the repr inside a reference cycle)."""
        printer.text(repr(self) if cycle else self.report())

    def _repr_html_(self) -> str:
        """Jupyter: the diff's section of the HTML report (memviz.htmlreport)."""
        return _html.diff_html(self)
