"""Random interleavings of everything that moves CPython's memory machinery, with every
memviz reading held to its oracle after each step.

A hypothesis state machine (``HeapMachine``) makes and drops objects of many sizes (from
empty to well past pymalloc's 512-byte threshold), builds reference cycles (kept, or
dropped as garbage, some with finalizers that try the GC readings from inside the
collection), breaks them, collects single generations, freezes and unfreezes, starts and
stops tracemalloc -- and takes every memviz reading in between: refcount and
is_immortal, generations, permanent, generation_of, type_counts, pymalloc stats, arenas
and locate, snapshot, explain.

The oracles are those the other test files established, imported from support/, not
copied: ``sys.getrefcount`` at an owned-load site (test_refcount), ``gc.get_objects`` per
generation (test_gc), ``sys._debugmallocstats``' report parsed by memviz._debugstats and
``sys.getallocatedblocks`` taken inside the reading's own C call at the very heap state
of its walk (test_pymalloc), snapshot type counts against ``gc.get_objects`` less the
snapshot's own footprint (test_snapshot). After every step (``@invariant``) the cheap
equalities hold: generation lengths against ``gc.get_objects``, ``permanent()`` against
``gc.get_freeze_count()``, pymalloc's blocks in use plus raw blocks against
``sys.getallocatedblocks()``.

Automatic collections are off for the machine's lifetime (conftest's ``gc_pause``): the
machine's own ``collect`` rule is the only collector, so each comparison is exact.

Profiles: CI (the default ``ci`` profile) runs a few short programs; with
``--hypothesis-profile=long`` this test runs thousands of longer ones
(``MEMVIZ_STATEFUL_EXAMPLES`` / ``MEMVIZ_STATEFUL_STEPS`` override both).
"""
from __future__ import annotations

import gc
import os
import sys
import tracemalloc
from collections import Counter

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (RuleBasedStateMachine, invariant, precondition, rule,
                                 run_state_machine_as_test)

import memviz
from memviz import pymalloc as pm
from memviz.gc import PERMANENT, generation_of, generations, permanent, type_counts

from support.capabilities import GC_READABLE, PYMALLOC_DIRECT, needs
# The oracles, from the files that established them.
from support.gc import assert_generations_match_get_objects
from support.pymalloc import (Slots, arenas_and_stats, check_arenas_add_up, check_located,
                              check_matches_report, stats_at_walk, with_report)
from support.refcount import Holder, expected_refcount, oracle_is_immortal, read_at, site_owns
from support.snapshot import footprint, split_own

_LONG = settings.default.max_examples > settings.get_profile("ci").max_examples
EXAMPLES = int(os.environ.get("MEMVIZ_STATEFUL_EXAMPLES", 2000 if _LONG else 10))
STEPS = int(os.environ.get("MEMVIZ_STATEFUL_STEPS", 20 if _LONG else 10))


class Thing:
    """Instances carry a managed __dict__ (3.11+)."""


class Node:
    __slots__ = ("next", "payload", "__weakref__")


class Finalized:
    """A cycle member whose finalizer tries a GC reading. The machine records what it
    got and whether the machine was inside its own gc.collect() at the time."""

    machine = None

    def __init__(self):
        self.self = self

    def __del__(self):
        machine = Finalized.machine
        if machine is None:
            return
        try:
            generations()
            outcome = "read"
        except memviz.CollectorRunning:
            outcome = "refused"
        machine.finalizer_outcomes.append((machine.collecting, outcome))


def _make(kind: str, size: int):
    if kind == "bytes":
        return bytes(size)
    if kind == "str":
        return "s" * size
    if kind == "tuple":
        return tuple([size]) * (size // 8)
    if kind == "list":
        return [None] * (size // 8)
    if kind == "dict":
        return {i: i for i in range(size // 16)}
    if kind == "set":
        return set(range(size // 32))
    if kind == "int":
        return 1 << (size * 2)
    if kind == "float":
        return float(size) + 0.5
    if kind == "thing":
        thing = Thing()
        thing.payload = bytes(size)
        return thing
    if kind == "slots":
        return Slots()
    if kind == "object":
        return object()
    raise ValueError(kind)


KINDS = ("bytes", "str", "tuple", "list", "dict", "set", "int", "float", "thing", "slots",
         "object")
#: Kinds whose allocation is exactly sys.getsizeof(obj) bytes (support.pymalloc's
#: check_located relies on that), given a length that makes them non-singletons.
EXACT_SIZE = {"bytes": 2, "str": 2, "tuple": 8, "slots": 0, "object": 0}


class HeapMachine(RuleBasedStateMachine):
    def __init__(self):
        super().__init__()
        self.kept: list[tuple[str, int, object]] = []   # (kind, size, object)
        self.cycles: list[Node] = []
        self.finalizer_outcomes: list[tuple[bool, str]] = []
        self.collecting = False
        self.froze = False
        self.started_tracing = False
        Finalized.machine = self

    def teardown(self):
        Finalized.machine = None
        if self.started_tracing:
            tracemalloc.stop()
        if self.froze:
            gc.unfreeze()
        for head in self.cycles:
            head.next = None
        self.kept.clear()
        self.cycles.clear()
        gc.collect()

    # -- moving the heap ---------------------------------------------------------------
    @rule(kind=st.sampled_from(KINDS), size=st.integers(0, 2000) | st.sampled_from(
        [0, 1, 15, 16, 17, 496, 511, 512, 513, 4096]), count=st.integers(1, 400))
    def make(self, kind, size, count):
        self.kept.extend((kind, size, _make(kind, size)) for _ in range(count))

    @precondition(lambda self: self.kept)
    @rule(start=st.integers(0, 50), step=st.integers(1, 7))
    def drop(self, start, step):
        del self.kept[start::step]

    @rule(length=st.integers(1, 8), keep=st.booleans(), finalizer=st.booleans(),
          payload=st.integers(0, 1000))
    def cycle(self, length, keep, finalizer, payload):
        nodes = [Node() for _ in range(length)]
        for node, following in zip(nodes, nodes[1:] + nodes[:1]):
            node.next = following
            node.payload = Finalized() if finalizer else bytes(payload)
        if keep:
            self.cycles.append(nodes[0])
        # else: garbage, for the next collection of its generation

    @precondition(lambda self: self.cycles)
    @rule(index=st.integers(0, 100), unlink=st.booleans())
    def break_cycle(self, index, unlink):
        head = self.cycles.pop(index % len(self.cycles))
        if unlink:      # freed by reference counting, here and now
            head.next = None
        # else: an unreachable cycle, left for the collector

    @rule(generation=st.integers(0, 2))
    def collect(self, generation):
        self.collecting = True
        try:
            gc.collect(generation)
        finally:
            self.collecting = False

    @rule()
    def freeze(self):
        gc.freeze()
        self.froze = True

    @rule()
    def unfreeze(self):
        gc.unfreeze()

    @precondition(lambda self: not tracemalloc.is_tracing())
    @rule()
    def start_tracemalloc(self):
        tracemalloc.start()
        self.started_tracing = True

    @precondition(lambda self: self.started_tracing)
    @rule()
    def stop_tracemalloc(self):
        tracemalloc.stop()
        self.started_tracing = False

    # -- readings, each against its oracle -------------------------------------------------
    def _pick(self, index: int):
        return self.kept[index % len(self.kept)] if self.kept else ("list", 0, [])

    @rule(index=st.integers(0, 10**6))
    def read_refcount(self, index):
        kind, size, obj = self._pick(index)
        holder = Holder()
        holder.value = obj
        holder.items = [obj]
        got, stored = read_at("item", holder)
        assert got == expected_refcount(obj, stored, site_owns("item")), (kind, size)
        assert memviz.is_immortal(obj) == oracle_is_immortal(obj)

    @precondition(lambda self: GC_READABLE)
    @rule(index=st.integers(0, 10**6))
    def read_generation_of(self, index):
        kind, size, obj = self._pick(index)
        candidates = [obj, *self.cycles[:1]]
        for candidate in candidates:
            where = generation_of(candidate)
            if not gc.is_tracked(candidate):
                assert where is None
                continue
            holders = [g for g in range(3)
                       if any(o is candidate for o in gc.get_objects(generation=g))]
            if holders:
                assert [where] == holders, (kind, size)
            else:
                assert where is PERMANENT, (kind, size)

    @precondition(lambda self: GC_READABLE)
    @rule(generation=st.sampled_from([None, 0, 1, 2]))
    def read_type_counts(self, generation):
        counts = type_counts(generation)
        listed = gc.get_objects() if generation is None else gc.get_objects(generation=generation)
        assert counts == dict(Counter(type(o) for o in listed if o is not counts))

    @precondition(lambda self: PYMALLOC_DIRECT)
    @rule()
    def read_pymalloc_stats(self):
        if tracemalloc.is_tracing():    # tracemalloc's hooks hide CPython's report
            s, allocated = stats_at_walk(sys.getallocatedblocks)
            assert s.blocks_in_use + s.raw_blocks == allocated
            assert s.total_bytes == s.arena_bytes
        else:
            s, text = with_report(pm._stats)
            check_matches_report(s, text)

    @precondition(lambda self: PYMALLOC_DIRECT)
    @rule()
    def read_arenas(self):
        arenas, s = arenas_and_stats()
        check_arenas_add_up(arenas, s)

    @precondition(lambda self: PYMALLOC_DIRECT)
    @rule(index=st.integers(0, 10**6))
    def read_locate(self, index):
        exact = [(kind, size, obj) for kind, size, obj in self.kept[index % 7::7]
                 if kind in EXACT_SIZE and size >= EXACT_SIZE[kind]][:20]
        arenas = pm.arenas()
        for kind, size, obj in exact:
            check_located(obj, f"{kind}({size})", arenas)

    @precondition(lambda self: GC_READABLE)
    @rule()
    def read_snapshot(self):
        snap = memviz.snapshot()
        # Read right away, into a tuple built after the three calls (as test_snapshot).
        referees = (gc.get_objects(generation=0), gc.get_objects(generation=1),
                    gc.get_objects(generation=2))
        listed, own = split_own(referees)
        del referees
        own[0].subtract(footprint(snap))   # the snapshot did not see itself
        for g in range(3):
            assert snap.type_counts(g) == +listed[g], g
            assert snap.own_objects(g) == +own[g], g
            assert sum(snap.type_counts(g).values()) == snap.generations[g].objects
        assert snap.permanent + sum(snap.own_objects(3).values()) == gc.get_freeze_count()
        assert snap.gc_enabled is False
        if snap.pymalloc is not None:
            assert snap.pymalloc.total_bytes == snap.pymalloc.arena_bytes
            assert snap.pymalloc.blocks_in_use == sum(
                c.blocks_in_use for c in snap.pymalloc.size_classes)
        if snap.arenas is not None:
            for arena in snap.arenas:
                assert len(arena.pools) + arena.pools_free == arena.pools_total
        assert memviz.Snapshot.from_json(snap.to_json()) == snap

    @rule(index=st.integers(0, 10**6))
    def read_explain(self, index):
        kind, size, obj = self._pick(index)
        e = memviz.explain(obj)
        assert e.tracked == gc.is_tracked(obj)
        if GC_READABLE:
            assert e.generation == generation_of(obj)
        if PYMALLOC_DIRECT:
            assert e.block == pm.locate(obj)
        str(e)

    # -- after every step ----------------------------------------------------------------
    @invariant()
    def gc_lists_match_the_gc_module(self):
        if GC_READABLE:
            assert_generations_match_get_objects()
            assert permanent() == gc.get_freeze_count()

    @invariant()
    def blocks_match_getallocatedblocks(self):
        if PYMALLOC_DIRECT:
            s, allocated = stats_at_walk(sys.getallocatedblocks)
            assert s.blocks_in_use + s.raw_blocks == allocated

    @invariant()
    def finalizers_were_refused_only_inside_collections(self):
        for inside, outcome in self.finalizer_outcomes:
            assert outcome == ("refused" if inside else "read"), self.finalizer_outcomes
        self.finalizer_outcomes.clear()


@needs("gc")
def test_random_interleavings_keep_every_oracle(gc_pause):
    """The machine above, EXAMPLES programs of up to STEPS steps each."""
    if tracemalloc.is_tracing():
        pytest.skip("tracemalloc already traces in this process: the machine starts and "
                    "stops it itself")
    # First calls build caches (cffi's buffer types; on 3.10 the keyword tuple of a
    # builtin's first call with a keyword), as test_gc's warm_readings says.
    generations(), permanent(), type_counts(), generation_of([])
    for generation in range(3):
        gc.get_objects(generation=generation)
    with gc_pause():
        run_state_machine_as_test(HeapMachine, settings=settings(
            settings.default, max_examples=EXAMPLES, stateful_step_count=STEPS,
            deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                   HealthCheck.data_too_large],
        ))
