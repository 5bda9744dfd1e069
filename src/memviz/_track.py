"""``memviz.track()``: a snapshot before and after a block or a call, and the collections
that ran in between."""
from __future__ import annotations

import dis
import functools
import gc
import os
import sys
import threading
import time
import types
from array import array
from dataclasses import dataclass
from typing import Callable, Literal

from . import _native
from .holders import grouped_with_paths
from .render import text as _text
from .values.diff import SnapshotDiff
from .values.holders import Survivors
from .values.names import type_name
from ._sites import GrowthSites, growth_sites
from .snapshot import Snapshot, snapshot

__all__ = ["GcEvent", "Survivors", "track"]

_SURVIVORS = "memviz.track(survivors=True)"

_EVENT_WIDTH = 6   # generation, collected, uncollectable, start, duration, collections so far


@dataclass(frozen=True)
class GcEvent:
    """One collection seen through ``gc.callbacks`` while tracking."""

    generation: int
    collected: int
    uncollectable: int
    start: float      #: seconds after tracking began
    duration: float   #: seconds the collection took

    def __str__(self) -> str:
        return (f"generation {self.generation} at +{self.start:.3f} s: {self.collected:,} "
                f"collected, {self.uncollectable:,} uncollectable, "
                f"{1000 * self.duration:.2f} ms")


_WITH_OPCODES = frozenset(
    dis.opmap[name] for name in ("SETUP_WITH", "BEFORE_WITH") if name in dis.opmap)


def _called_by_with_statement() -> bool:
    """Whether track.__enter__ was called by a `with` statement that made a bound method
    for it (3.10-3.13), read from the caller's current instruction."""
    if sys.version_info >= (3, 14) or not _WITH_OPCODES:
        return False
    try:
        frame = sys._getframe(2)   # this <- __enter__ <- the with statement's frame
        return frame.f_code.co_code[frame.f_lasti] in _WITH_OPCODES
    except (AttributeError, IndexError, ValueError):
        return False


def _collections(snap: Snapshot | None, unread: float) -> float:
    """Collections of all generations so far, as the snapshot read them: unbounded when
    there is no snapshot yet (tracking still running), ``unread`` when the snapshot has no
    GC readings (this interpreter's collector cannot be read: every collection the
    callback saw then counts)."""
    if snap is None:
        return float("inf")
    if snap.generations is None:
        return unread
    return sum(generation.collections for generation in snap.generations)


_PACKAGE = os.path.dirname(os.path.abspath(__file__)) + os.sep


def _is_memviz_frame(obj: object) -> bool:
    return type(obj) is types.FrameType and obj.f_code.co_filename.startswith(_PACKAGE)


def _by_type(box: list) -> tuple[Survivors, ...]:
    """The Survivors of each type among the objects found (``box[0]``: objects, sizes),
    not the frames running now (on 3.10 each call makes one) nor memviz's own (the frame
    of the call that found them). The objects stay in the box, held through nothing
    else, while the paths to them are looked for."""
    running = set()
    frame: types.FrameType | None = sys._getframe()
    while frame is not None:
        running.add(id(frame))
        frame = frame.f_back
    del frame
    objects, sizes = box.pop()
    kept = [i for i in range(len(objects)) if id(objects[i]) not in running
            and not _is_memviz_frame(objects[i])]
    box.append([objects[i] for i in kept])
    sizes = [sizes[i] for i in kept]
    del objects, kept
    return tuple(
        Survivors(type_name(kind), len(members), sum(sizes[i] for i in members), path)
        for kind, members, path in grouped_with_paths(box, sizes, type, _SURVIVORS))


class track:
    """Tracks a block (``with memviz.track() as t:``) or each call of a function
    (``@memviz.track`` or ``@memviz.track(report=True)``): a snapshot at entry and at
    exit, and every collection in between, from ``gc.callbacks``.

    Between the two snapshots it costs nothing but that callback. ``t.diff`` is
    ``t.after - t.before``, in which neither counts memviz's own objects (``t.before``
    among them: ``Snapshot.own_objects``);
    ``t.gc_events`` the collections; ``t.sites`` where the types that grew most were
    allocated, when tracemalloc is tracing (``memviz._sites.growth_sites``);
    ``t.report()`` all three as text. With ``report=True``
    the report is written to ``file`` (standard error by default) at each exit. With
    ``census=True`` both snapshots take a census (``memviz.snapshot(census=True)``), and
    the diff and the report have the changes of bytes by type too. With
    ``survivors=True`` a census walk at entry remembers where every object is, and one at
    exit finds the objects the block created that are still alive: ``t.survivors()``.

    As a decorator the same tracker serves every call and holds the latest finished one
    (``wrapper.tracker``); a call made while it is already tracking (recursion, another
    thread) runs untracked inside the outer one.
    """

    __slots__ = ("_report", "_file", "_limit", "_census", "_lock", "_events", "_start_time",
                 "_started", "_callback", "_before", "_after", "_sites", "_balance",
                 "_want_survivors", "_seen", "_survivors", "__weakref__")

    # None until the tracker has run (the callback: while it runs only)
    _callback: Callable[[Literal["start", "stop"], dict[str, int]], object] | None
    _before: Snapshot | None
    _after: Snapshot | None
    _sites: GrowthSites | None
    _survivors: tuple[Survivors, ...] | None

    def __new__(cls, func=None, /, **options):
        # ``@memviz.track`` without parentheses: Python calls track(func). The function
        # gets what ``@memviz.track()`` would give it, so the two spellings are one.
        if func is None:
            return super().__new__(cls)
        if not callable(func):
            raise TypeError(f"track() takes keyword options only (report=, file=, limit=, "
                            f"census=, survivors=), or a function to decorate; got "
                            f"{type(func).__name__}")
        return cls(**options)(func)

    def __init__(self, *, report: bool = False, file=None, limit: int = 10,
                 census: bool = False, survivors: bool = False):
        self._report = report
        self._file = file
        self._limit = limit
        self._census = census
        self._lock = threading.Lock()
        self._events = array("d")
        self._start_time = 0.0
        # When the collection under way started: kept in an array, so that a collection
        # during the block makes no float of memviz's that would survive it.
        self._started = array("d", [0.0])
        self._callback = self._before = self._after = self._sites = None
        self._balance = False
        self._want_survivors = survivors
        self._seen: object = None
        self._survivors = None

    # -- the context manager --------------------------------------------------------------

    def __enter__(self) -> track:
        # Before the reading: whether the `with` statement made a bound method of
        # __enter__ for this call (3.10-3.13 do; 3.14's LOAD_SPECIAL does not). It is
        # alive during the entry reading and gone at exit; __exit__ balances it.
        with_statement = _called_by_with_statement()
        self._start()
        self._balance = with_statement
        return self

    def __exit__(self, exc_type, exc, tb) -> Literal[False]:
        self._find_survivors()      # first: before this method makes anything
        # A bound method alive during the exit reading, for the entry's bound __enter__.
        balance = self._noop if self._balance else None
        self._stop()
        del balance
        if self._report:
            print(self.report(self._limit), file=self._file or sys.stderr, end="")
        return False

    def _noop(self) -> None:
        pass

    def _start(self) -> None:
        if not self._lock.acquire(blocking=False):
            raise RuntimeError("this memviz.track() is already tracking")
        try:
            # Everything this tracker keeps exists before the first reading, except the
            # snapshot itself (memviz's own: the exit reading leaves it out) and the callback
            # (gone by then).
            del self._events[:]
            self._before = self._after = self._sites = self._survivors = None
            # The callback listens from before the entry reading to after the exit one, so
            # no collection between the two readings can slip past it; gc_events keeps the
            # collections the two readings' gc.get_stats() figures count between them.
            self._start_time = time.perf_counter()
            self._callback = self._on_gc
            gc.callbacks.append(self._callback)
            self._before = snapshot(census=self._census)
            if self._want_survivors:    # last: the block's objects are what comes after
                self._seen = _native.census_seen(_SURVIVORS)
        except BaseException:
            self._lock.release()
            raise

    def _stop(self) -> None:
        try:
            self._after = snapshot(census=self._census)
            # After the exit reading, which it does not disturb, and while the objects
            # the block left are alive: one walk of gc.get_objects() when tracemalloc
            # is tracing, nothing otherwise.
            self._sites = growth_sites(self.diff)
        finally:
            try:
                if self._callback is not None:   # set by _start
                    gc.callbacks.remove(self._callback)
            except ValueError:
                pass   # taken out by someone else
            self._callback = None
            self._lock.release()

    def _find_survivors(self) -> None:
        """What the census's walk meets now where the entry walk met no object, grouped
        by type, with a path to the biggest of each (``_by_type``). Makes nothing before
        its walk: a cell or a list made here would be a survivor of its own."""
        if self._seen is None:
            return
        try:
            box = [_native.census_new_objects(_SURVIVORS, self._seen)]
        finally:
            self._seen = None
        self._survivors = _by_type(box)

    def _on_gc(self, phase: str, info: dict) -> None:
        now = time.perf_counter()
        if phase == "start":
            self._started[0] = now
        else:
            # gc.get_stats() already counts this collection when "stop" is reported.
            total = sum(generation["collections"] for generation in gc.get_stats())
            self._events.extend((info.get("generation", -1), info.get("collected", 0),
                                 info.get("uncollectable", 0),
                                 self._started[0] - self._start_time,
                                 now - self._started[0], total))

    # -- the decorator --------------------------------------------------------------------

    def __call__(self, func):
        @functools.wraps(func)
        def tracked(*args, **kwargs):
            if self._lock.locked():
                return func(*args, **kwargs)
            try:
                self._start()
            except RuntimeError:   # another thread started tracking just now
                return func(*args, **kwargs)
            try:
                return func(*args, **kwargs)
            finally:
                self._find_survivors()
                self._stop()
                if self._report:
                    print(self.report(self._limit), file=self._file or sys.stderr, end="")

        tracked.tracker = self
        return tracked

    # -- results --------------------------------------------------------------------------

    def _finished(self) -> tuple[Snapshot, Snapshot]:
        """(the entry snapshot, the exit snapshot); RuntimeError until the block has run
        (an exit reading always follows an entry one)."""
        if self._after is None or self._before is None:
            state = "is still running" if self._lock.locked() else "has not run"
            raise RuntimeError(f"the tracked block {state}: no results yet")
        return self._before, self._after

    @property
    def before(self) -> Snapshot:
        """The snapshot taken at entry."""
        if self._before is not None:   # while the block runs, too
            return self._before
        return self._finished()[0]

    @property
    def after(self) -> Snapshot:
        """The snapshot taken at exit."""
        return self._finished()[1]

    @property
    def diff(self) -> SnapshotDiff:
        """``after - before``."""
        before, after = self._finished()
        return SnapshotDiff(after, before)

    @property
    def gc_events(self) -> tuple[GcEvent, ...]:
        """The collections that finished while tracking, in order."""
        values = self._events
        first = _collections(self._before, unread=float("-inf"))
        last = _collections(self._after, unread=float("inf"))
        events = []
        for i in range(0, len(values) - len(values) % _EVENT_WIDTH, _EVENT_WIDTH):
            generation, collected, uncollectable, start, duration, total = \
                values[i:i + _EVENT_WIDTH]
            if first < total <= last:
                events.append(GcEvent(int(generation), int(collected), int(uncollectable),
                                      start, duration))
        return tuple(events)

    @property
    def sites(self) -> GrowthSites:
        """Where the types that grew most were allocated, read at exit from
        tracemalloc's records (``GrowthSites.tracing`` is False when it was not
        tracing; then ``str()`` says how to get them)."""
        self._finished()
        if self._sites is None:   # the exit reading's growth_sites() raised
            raise RuntimeError("the tracked block's allocation sites were not read")
        return self._sites

    def survivors(self) -> tuple[Survivors, ...]:
        """The objects the block created that were still alive at its end, by type, most
        bytes first (``track(survivors=True)``): what a census walk met at exit where the
        one at entry met no object. Every version works so; its limit is the allocator's
        reuse of addresses -- an object made in the block where one freed in the block
        lay is taken for the old one. Objects other threads made meanwhile count too."""
        self._finished()
        if self._survivors is None:
            raise RuntimeError("survivors are found only by a memviz.track(survivors=True)")
        return self._survivors

    @property
    def elapsed(self) -> float:
        before, after = self._finished()
        return after.taken_at - before.taken_at

    def report(self, limit: int = 10, *, min_change: int = 1) -> str:
        """The diff, the collections and the allocation sites as plain-text tables;
        ``min_change`` as in ``SnapshotDiff.report``."""
        self._finished()
        return _text.track_report(self, limit, min_change=min_change)

    def __repr__(self) -> str:
        if self._after is not None:
            return f"<memviz.track finished: {self.diff!r}, {len(self.gc_events)} collections>"
        if self._lock.locked():
            return "<memviz.track running>"
        return "<memviz.track not started>"
