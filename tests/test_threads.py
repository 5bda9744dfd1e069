"""Readings while other threads allocate, free, collect and finalize.

Four threads churn objects (lists, dicts, instances, cycles, objects whose finalizer
yields the GIL in the middle of a collection) for a bounded time, with a low collection
threshold and explicit collections, while the main thread reads everything memviz reads.
The readings of different calls are taken at different instants, so the checks are the
ones that hold at every instant whatever the other threads do:

* a class of which the main thread holds exactly N instances, which no other thread
  touches, counts N in every ``type_counts()``; each of them has refcount 1 (the list);
* ``generation_of`` of such an object is 0, 1 or 2 and never goes down (the collector
  only promotes; nobody freezes);
* per generation, ``collections``, ``collected`` and ``uncollectable`` never go down,
  ``threshold`` is what was set, and every count is non-negative;
* every count in ``type_counts()`` is positive and keyed by a type;
* in the churning threads, a fresh local object's refcount is 1 and ``generation_of`` of
  a fresh tracked object is 0, 1 or 2 (a collection can promote it at any moment).

The list readings may raise ``CollectorRunning`` when they run while another thread's
collection is paused in a finalizer: that is their documented answer, counted here (and
once it has been seen often enough, the finalizers stop: a collection held open by them
is otherwise all a starved main thread gets to see). Nothing may raise anything else,
and each reading must succeed several times.
"""
from __future__ import annotations

import gc
import random
import sys
import threading
import time

import memviz
from memviz.gc import generation_of, generations, permanent, type_counts

from support.capabilities import needs


DURATION = 1.5  # seconds of churn, at least
HARD_LIMIT = 20.0  # seconds, at most
MIN_READINGS = 5  # successful readings of each kind
ENOUGH_REFUSALS = 50  # CollectorRunning answers, after which no more finalizers are made
THREADS = 4
ANCHORS = 200
THRESHOLD = (500, 5, 5)  # frequent collections of every generation


class Anchor:
    """Only the main thread makes these."""


class Churned:
    pass


class Finalized:
    def __del__(self):
        time.sleep(0)  # lets another thread run while a collection finalizes this


def churn(seed: int, stop: threading.Event, errors: list, collector: bool,
          enough_refusals: threading.Event):
    rng = random.Random(seed)
    pool: list = []
    next_collection = next_finalizer = 0.0
    try:
        while not stop.is_set():
            kind = rng.randrange(6)
            if kind == 2:
                # A finalizer that yields the GIL holds its collection open while the
                # other threads run (and allocate): a few a second, from one thread, reach
                # the refused path without making it the only one.
                # Once the main thread has been refused a few times, that path is
                # covered: no more, or on a loaded machine it is all the main thread sees.
                if not collector or enough_refusals.is_set() or time.monotonic() < next_finalizer:
                    continue
                next_finalizer = time.monotonic() + 0.1
            if kind == 0:
                pool.extend([[], {}, Churned()] * rng.randrange(1, 50))
            elif kind == 1:  # cycles for the collector
                for _ in range(rng.randrange(1, 30)):
                    a, b = Churned(), [None]
                    a.other, b[0] = b, a
            elif kind == 2:  # a finalizer inside a collection
                f = Finalized()
                f.self = f
                del f
            elif kind == 3:
                del pool[: rng.randrange(len(pool) + 1)]
            elif kind == 4:
                fresh = Churned()
                count = memviz.refcount(fresh)
                if count != 1:
                    errors.append(f"refcount of a fresh local: {count}")
                try:
                    where = generation_of(fresh)
                except memviz.CollectorRunning:
                    pass
                else:
                    if where not in (0, 1, 2):
                        errors.append(f"generation_of(fresh) = {where!r}")
            elif kind == 5 and collector and time.monotonic() >= next_collection:
                gc.collect(rng.randrange(3))
                next_collection = time.monotonic() + 0.02
            if len(pool) > 5000:
                pool.clear()
            if rng.random() < 0.01:
                # A breather: four threads that never wait starve the reader on a
                # loaded machine (CI shares its cores).
                time.sleep(0.0005)
    except BaseException as error:  # noqa: BLE001 - reported by the main thread
        errors.append(repr(error))


@needs("refcount", "gc")  # the readings these tests check
def test_readings_while_threads_churn():
    anchors = [Anchor() for _ in range(ANCHORS)]
    # Also referenced from here; the others only from `anchors`. Few: generation_of walks
    # from the object to the end of its generation's list.
    probes = anchors[::100]
    threshold = gc.get_threshold()
    interval = sys.getswitchinterval()
    was_enabled = gc.isenabled()
    stop = threading.Event()
    errors: list = []
    enough_refusals = threading.Event()
    threads = [threading.Thread(target=churn, args=(seed, stop, errors, seed == 0, enough_refusals),
                                daemon=True)
               for seed in range(THREADS)]
    readings = dict.fromkeys(["generations", "type_counts", "generation_of", "refcount",
                              "permanent", "census"], 0)
    refused = dict.fromkeys(readings, 0)
    last_stats = None
    last_where = [0] * len(probes)
    last_permanent = None
    try:
        gc.enable()
        gc.set_threshold(*THRESHOLD)
        sys.setswitchinterval(5e-4)
        for thread in threads:
            thread.start()
        start = time.monotonic()
        # At least DURATION seconds, and until every reading has succeeded a few times
        # (a starved main thread on a loaded machine), but never more than HARD_LIMIT.
        while time.monotonic() - start < HARD_LIMIT and (
                time.monotonic() - start < DURATION or min(readings.values()) < MIN_READINGS):
            if sum(refused.values()) >= ENOUGH_REFUSALS:
                enough_refusals.set()
            try:
                gens = generations()
            except memviz.CollectorRunning:
                refused["generations"] += 1
            else:
                readings["generations"] += 1
                assert [g.index for g in gens] == [0, 1, 2]
                assert tuple(g.threshold for g in gens) == THRESHOLD
                assert all(g.objects >= 0 and g.count >= 0 for g in gens)
                stats = [(g.collections, g.collected, g.uncollectable) for g in gens]
                if last_stats is not None:
                    for now, before in zip(stats, last_stats):
                        assert all(n >= b for n, b in zip(now, before)), (stats, last_stats)
                last_stats = stats

            try:
                counts = type_counts()
            except memviz.CollectorRunning:
                refused["type_counts"] += 1
            else:
                readings["type_counts"] += 1
                assert counts[Anchor] == ANCHORS
                assert all(isinstance(t, type) and n > 0 for t, n in counts.items())

            try:
                census = memviz.census()
            except memviz.CollectorRunning:
                refused["census"] += 1
            else:
                readings["census"] += 1
                assert census[Anchor].count == ANCHORS == census[Anchor].tracked
                assert census.total_objects >= census.tracked_objects > ANCHORS

            for i, probe in enumerate(probes):
                try:
                    where = generation_of(probe)
                except memviz.CollectorRunning:
                    refused["generation_of"] += 1
                    continue
                readings["generation_of"] += 1
                assert where in (0, 1, 2)
                assert where >= last_where[i]  # promotion only
                last_where[i] = where

            for i in range(1, ANCHORS, 37):  # not probes: only `anchors` refers to them
                # (outside the assert: pytest's rewriting would keep anchors[i] in a local)
                count = memviz.refcount(anchors[i])
                assert count == 1
                readings["refcount"] += 1

            try:
                frozen = permanent()
            except memviz.CollectorRunning:
                refused["permanent"] += 1
            else:
                readings["permanent"] += 1
                assert frozen >= 0
                # Nobody freezes or unfreezes: the permanent generation only gains the
                # objects 3.12/3.13's collector moves there once they are immortal.
                assert last_permanent is None or frozen >= last_permanent
                last_permanent = frozen
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=30)
        sys.setswitchinterval(interval)
        gc.set_threshold(*threshold)
        (gc.enable if was_enabled else gc.disable)()
    assert not any(thread.is_alive() for thread in threads)
    assert errors == []
    print(f"readings {readings}, refused while collecting {refused}")
    # MIN_READINGS is what the loop aims for; on a loaded machine most attempts can land
    # inside a collection whose finalizers let other threads run (CollectorRunning, as
    # documented), so the hard requirement is that every kind was read and checked.
    for name, count in readings.items():
        assert count >= 1, (name, readings, refused)
    # After the churn, a quiet reading is exact again.
    with_gc = gc.isenabled()
    gc.disable()
    try:
        gc.collect()
        assert type_counts()[Anchor] == ANCHORS
        assert all(generation_of(a) == 2 for a in probes)
    finally:
        (gc.enable if with_gc else gc.disable)()
