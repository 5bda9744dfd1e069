"""memviz.track(): the snapshots around a block or a call, and the collections between."""
from __future__ import annotations

import gc
import io
import sys
import threading
import tracemalloc
from collections import Counter

import pytest

import memviz
from memviz.snapshot import type_name

from memviz._sites import NOT_TRACING, GrowthSites, TypeSites

from support.capabilities import needs, simulate_incremental_collector
from support.sites import recorded_sites

pytestmark = needs("gc")


class Kept:
    # Slots, not a __dict__: 3.11's tracemalloc has no record of objects with a managed
    # __dict__ (see the README), and the sites tests use Kept.
    __slots__ = ("value",)


def _cycles(n: int) -> None:
    """n unreachable self-referencing lists: garbage only a collection frees."""
    for _ in range(n):
        cycle = []
        cycle.append(cycle)


def test_an_empty_block_leaves_nothing_behind(gc_disabled):
    with memviz.track() as tracked:
        pass
    # The objects of the entry snapshot itself are memviz's and are left out.
    assert tracked.diff.type_deltas() == {}
    assert [g.objects_delta for g in tracked.diff.generations] == [0, 0, 0]
    assert tracked.gc_events == ()
    # The exit snapshot found exactly the entry snapshot's objects, and left them out.
    own = {}
    for obj in tracked.before.gc_footprint():
        own[type_name(type(obj))] = own.get(type_name(type(obj)), 0) + 1
    found = Counter(tracked.after.own_objects())
    found.subtract(tracked.before.own_objects())
    assert +found == own


def test_what_a_block_leaves_behind_is_counted_exactly(gc_disabled):
    with memviz.track() as tracked:
        kept = [Kept() for _ in range(500)]
        table = {i: [i] for i in range(300)}
    assert tracked.diff.type_deltas() == {
        type_name(Kept): 500,
        "builtins.list": 1 + 300,   # `kept` and the values of `table`
        "builtins.dict": 1,
    }
    top = tracked.diff.top_types(1)
    assert (top[0].name, top[0].delta) == (type_name(Kept), 500)
    assert top[0].count == tracked.after.type_counts()[type_name(Kept)]
    assert tracked.diff.generations[0].objects_delta == 802
    del kept, table


def test_objects_freed_in_the_block_count_negative(gc_disabled):
    doomed = [Kept() for _ in range(200)]
    with memviz.track() as tracked:
        del doomed[:150]
    assert tracked.diff.type_deltas() == {type_name(Kept): -150}
    assert tracked.diff.top_types(5, key="shrink")[0].delta == -150
    assert tracked.diff.top_types(5, key="growth") == []


def test_collections_in_between_are_events(gc_disabled):
    gc.collect()   # earlier tests' garbage is not this test's
    with memviz.track() as tracked:
        _cycles(10)
        first = gc.collect(0)
        _cycles(7)
        second = gc.collect(2)
    events = tracked.gc_events
    assert [e.generation for e in events] == [0, 2]
    assert [e.collected for e in events] == [first, second] == [10, 7]
    assert [e.uncollectable for e in events] == [0, 0]
    assert all(e.duration > 0 for e in events)
    assert 0 <= events[0].start <= events[1].start <= tracked.elapsed
    gens = tracked.diff.generations
    assert [g.collections_delta for g in gens] == [1, 0, 1]
    assert gens[0].collected_delta == 10 and gens[2].collected_delta == 7
    assert sum(g.collected_delta for g in gens) == sum(e.collected for e in events)


def test_the_callback_is_removed_even_when_the_block_raises():
    callbacks = list(gc.callbacks)
    tracker = memviz.track()
    with pytest.raises(KeyError):
        with tracker:
            assert len(gc.callbacks) == len(callbacks) + 1
            raise KeyError("boom")
    assert gc.callbacks == callbacks
    assert tracker.after is not None   # the exit snapshot was still taken
    assert gc.isenabled()


def test_results_before_the_block_ends_and_reentry():
    tracker = memviz.track()
    with pytest.raises(RuntimeError, match="has not run"):
        tracker.diff
    with tracker:
        with pytest.raises(RuntimeError, match="is still running"):
            tracker.report()
        with pytest.raises(RuntimeError, match="already tracking"):
            tracker.__enter__()
        assert repr(tracker) == "<memviz.track running>"
    assert repr(tracker).startswith("<memviz.track finished: <memviz.SnapshotDiff")
    first_after = tracker.after
    with tracker:   # a tracker can be used again: the newest run replaces the last
        pass
    assert tracker.after is not first_after


def test_as_a_decorator(gc_disabled):
    @memviz.track()
    def build(n, *, kind=Kept):
        return [kind() for _ in range(n)]

    assert build.__name__ == "build"
    made = build(123)
    assert len(made) == 123
    assert build.tracker.diff.type_deltas() == {type_name(Kept): 123, "builtins.list": 1}
    build(7)   # each call replaces the last one's results
    assert build.tracker.diff.type_deltas()[type_name(Kept)] == 7

    @memviz.track()
    def fails():
        raise ValueError("inside")

    with pytest.raises(ValueError, match="inside"):
        fails()
    assert fails.tracker.after is not None


def test_as_a_decorator_without_parentheses(gc_disabled):
    @memviz.track
    def build(n):
        return [Kept() for _ in range(n)]

    assert build.__name__ == "build"
    assert len(build(41)) == 41
    assert isinstance(build.tracker, memviz.track)
    assert build.tracker.diff.type_deltas() == {type_name(Kept): 41, "builtins.list": 1}
    with pytest.raises(TypeError, match="keyword options only .* got int"):
        memviz.track(3)


def test_the_growing_types_allocation_sites(gc_disabled, tracing):
    with memviz.track() as tracked:
        line = sys._getframe().f_lineno + 1
        kept = [Kept() for _ in range(250)]
    sites = tracked.sites
    assert sites.tracing and sites.types[0].name == type_name(Kept)
    assert sites.types[0].delta == 250
    assert recorded_sites(Kept)[(__file__, line)] == 250   # the oracle: tracemalloc itself
    site, count = sites.types[0].sites[0]
    assert ((site.filename, site.lineno), count) == ((__file__, line), 250)
    assert sites.types[0].unrecorded == 0
    growing = tracked.diff.top_types(5, key="growth")
    assert [(t.name, t.delta) for t in sites.types] == [(d.name, d.delta) for d in growing]
    count = len(sites.types)
    assert repr(sites) == (f"<GrowthSites: {count} growing type{'s' * (count > 1)}, first "
                           f"{type_name(Kept)} (+250), top site {__file__}:{line} "
                           "(250 objects)>")
    report = tracked.report()
    assert report.endswith(str(sites) + "\n")
    row = next(r for r in report.splitlines() if f"{__file__}:{line}" in r)
    assert row.split() == [f"{__file__}:{line}", "250"]
    del kept


def test_without_tracemalloc_the_report_says_how_to_get_sites(gc_disabled, not_tracing):
    with memviz.track() as tracked:
        kept = [Kept() for _ in range(10)]
    assert not tracked.sites.tracing and tracked.sites.types == ()
    assert repr(tracked.sites) == "<GrowthSites: not read, tracemalloc is not tracing>"
    report = tracked.report()
    assert report.endswith(f"\nAllocation sites: not read -- {NOT_TRACING}\n")
    assert f"{__file__}:" not in report
    del kept


def test_sites_of_a_diff_without_type_counts_are_not_read(tracing):
    """Tracing, but the diff has no GC readings (snapshots from a file that had none):
    which types grew is unknown, so the sites say why they are not read, never "no type
    grew"."""
    from memviz._sites import growth_sites

    document = memviz.snapshot().to_dict()
    document["gc"] = None
    for capability in document["capabilities"]:
        if capability["name"] == "gc":
            capability.update(available=False, reason="the collector was not read there")
    old, new = memviz.Snapshot.from_dict(document), memviz.Snapshot.from_dict(document)
    sites = growth_sites(new - old)
    assert (sites.tracing, sites.types_read, sites.types) == (True, False, ())
    said = "the diff has no type counts: the collector was not read there"
    assert repr(sites) == f"<GrowthSites: not read, {said}>"
    assert str(sites) == f"Allocation sites: not read -- {said}"


def test_a_decorated_call_reports_its_sites(gc_disabled, tracing):
    line = sys._getframe().f_lineno + 3
    @memviz.track
    def build(n):
        return [Kept() for _ in range(n)]

    made = build(40)
    top = build.tracker.sites.types[0]
    assert (top.name, top.delta) == (type_name(Kept), 40)
    assert (str(top.sites[0][0]), top.sites[0][1]) == (f"{__file__}:{line}", 40)
    del made


def _make_kept(n: int) -> list:
    return [Kept() for _ in range(n)]


_MAKE_KEPT_LINE = _make_kept.__code__.co_firstlineno + 1


def test_the_site_is_the_innermost_frame_and_older_objects_are_counted_apart(
        gc_disabled, not_tracing):
    older = [Kept() for _ in range(30)]   # before tracing: tracemalloc has no record
    tracemalloc.start(5)                  # not_tracing stops it again after the test
    with memviz.track() as tracked:
        newer = _make_kept(70)
    recorded = recorded_sites(Kept)
    frames = tracemalloc.get_object_traceback(newer[0])
    tracemalloc.stop()
    assert len(frames) > 1   # so that the innermost frame is not the only one
    assert recorded == {None: 30, (__file__, _MAKE_KEPT_LINE): 70}
    top = tracked.sites.types[0]
    assert (top.name, top.delta) == (type_name(Kept), 70)
    assert [((site.filename, site.lineno), n) for site, n in top.sites] == [
        ((__file__, _MAKE_KEPT_LINE), 70)]
    assert top.unrecorded == recorded[None] == 30
    row = next(line for line in tracked.report().splitlines() if "no record" in line)
    assert row.split()[-1] == "30"
    del older, newer


def test_growth_sites_without_growth_or_without_records():
    nothing = GrowthSites(True, ())
    assert (repr(nothing), str(nothing)) == ("<GrowthSites: no type grew>",
                                             "Allocation sites: no type grew")
    old = GrowthSites(True, (TypeSites("builtins.list", 3, (), 12),))
    assert repr(old) == ("<GrowthSites: 1 growing type, first builtins.list (+3), "
                         "no site recorded>")
    assert str(old).splitlines()[2:] == [
        "  builtins.list (+3)",
        "    no record: older than tracing, or reusing free-list memory       12"]


def test_a_recursive_decorated_call_is_tracked_once(gc_disabled):
    @memviz.track()
    def depth(n):
        return [Kept()] + (depth(n - 1) if n else [])

    result = depth(5)
    assert len(result) == 6
    assert depth.tracker.diff.type_deltas()[type_name(Kept)] == 6


def test_concurrent_decorated_calls_run_untracked_inside_the_outer_one():
    started = threading.Event()
    release = threading.Event()

    @memviz.track()
    def call(wait):
        if wait:
            started.set()
            release.wait(30)
        return "done"

    results = []
    thread = threading.Thread(target=lambda: results.append(call(True)))
    thread.start()
    assert started.wait(30)
    try:
        with pytest.raises(RuntimeError, match="is still running"):
            call.tracker.after   # the other thread's call has not finished
        assert call(False) == "done"   # runs, untracked, while the other call is tracked
        with pytest.raises(RuntimeError, match="is still running"):
            call.tracker.after
    finally:
        release.set()
        thread.join(30)
    assert results == ["done"]
    assert call.tracker.after is not None


def test_report_and_report_to_a_file(gc_disabled):
    gc.collect()
    out = io.StringIO()
    with memviz.track(report=True, file=out) as tracked:
        kept = [Kept() for _ in range(4321)]
        _cycles(3)
        gc.collect(1)
    text = out.getvalue()
    assert text == tracked.report()
    assert text.startswith("memviz diff: ")
    row = next(line for line in text.splitlines() if type_name(Kept) in line)
    assert row.split()[1:] == ["4,321", "+4,321", "0", "0", "+4,321"]   # collect(1): to gen 2
    assert "Collections during the run: 1" in text
    gen_row = next(line for line in text.splitlines()[::-1] if line.strip().startswith("1 "))
    assert gen_row.split()[:4] == ["1", "1", "3", "0"]   # generation, collections, collected
    del kept


def test_report_goes_to_stderr_by_default(capsys):
    with memviz.track(report=True):
        pass
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.startswith("memviz diff: ")
    assert "Collections during the run: none" in captured.err


def test_tracking_leaves_the_collector_as_it_was():
    for enabled in (True, False):
        (gc.enable if enabled else gc.disable)()
        with memviz.track() as tracked:
            assert gc.isenabled() is enabled
        assert gc.isenabled() is enabled
        assert tracked.before.gc_enabled is enabled
    gc.enable()


def test_automatic_collections_are_seen(gc_disabled):
    threshold = gc.get_threshold()
    gc.set_threshold(50)
    gc.enable()
    try:
        with memviz.track() as tracked:
            junk = [[] for _ in range(2000)]
            del junk
    finally:
        gc.disable()
        gc.set_threshold(*threshold)
    events = tracked.gc_events
    assert events, "2000 container allocations over a threshold of 50 ran no collection"
    gens = tracked.diff.generations
    assert sum(g.collections_delta for g in gens) == len(events)
    for g in range(3):
        assert gens[g].collections_delta == sum(1 for e in events if e.generation == g)


def test_without_gc_readings_the_callbacks_collections_count(monkeypatch, gc_disabled):
    """Where the collector cannot be read (3.14.0-3.14.4, free-threaded builds) the
    snapshots have no generations to bound the events by: every collection the callback
    saw is listed, and the report says so instead of failing (it raised TypeError, and
    `memviz run` printed a traceback, on a free-threaded 3.14)."""
    simulate_incremental_collector(monkeypatch)
    with memviz.track() as tracked:
        gc.collect(0)
        gc.collect(2)
    assert tracked.before.generations is None and tracked.after.generations is None
    assert [event.generation for event in tracked.gc_events] == [0, 2]
    assert "Collections during the run: 2" in tracked.report()
