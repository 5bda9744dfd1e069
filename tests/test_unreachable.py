"""memviz.gc.unreachable() against the collector itself: what it predicts is, object for
object, what the next gc.collect() frees (kept in gc.garbage by gc.DEBUG_SAVEALL).

Every test starts on a quiet heap (``quiet``: automatic collections off, one
gc.collect()), builds its garbage, predicts, compares the ids of the prediction while it
holds the objects, drops it, and only then lets the collector find the same objects
again: while a prediction is kept, its objects are held by it and are no garbage.
"""
from __future__ import annotations

import gc
import sys
import time
import weakref

import pytest
from hypothesis import given, strategies as st

import memviz
from memviz.gc import Cycle, unreachable

from support.capabilities import needs

pytestmark = needs("gc")


@pytest.fixture
def quiet(gc_disabled):
    """Automatic collections off, and no garbage left: what a test builds is all there is."""
    gc.collect()
    assert gc.garbage == []
    yield
    gc.set_debug(0)
    gc.garbage.clear()
    gc.collect()


def collector_frees() -> set[int]:
    """The ids of what a full collection frees now (DEBUG_SAVEALL keeps them in
    gc.garbage, alive, so their ids are still theirs); then they are freed."""
    gc.set_debug(gc.DEBUG_SAVEALL)
    try:
        gc.collect()
        freed = {id(obj) for obj in gc.garbage}
    finally:
        gc.set_debug(0)
        gc.garbage.clear()
    gc.collect()
    return freed


def predicted() -> tuple[set[int], int]:
    """(ids of every object of the prediction, how many objects it listed); the prediction
    is released on return."""
    cycles = unreachable()
    ids = {id(obj) for cycle in cycles for obj in cycle.objects}
    return ids, sum(len(cycle.objects) for cycle in cycles)


def assert_prediction_is_what_the_collector_frees() -> int:
    ids, listed = predicted()
    assert listed == len(ids), "an object in two cycles"
    freed = collector_frees()
    assert ids == freed
    return len(ids)


# -- what gets built ------------------------------------------------------------------


class Node:
    __slots__ = ("next", "__weakref__")


class Finalized:
    __slots__ = ("next",)
    finalized = 0

    def __del__(self):
        type(self).finalized += 1


def ring(length: int, cls: type = Node) -> list:
    nodes = [cls() for _ in range(length)]
    for i, node in enumerate(nodes):
        node.next = nodes[(i + 1) % length]
    return nodes


def list_dict_dict() -> list:
    """list[0] -> dict['b'] -> dict['a'] -> the list, built so that the collector's list
    order (the order they become tracked) is list, first dict, second dict."""
    holder: list = []
    first: dict = {}
    second: dict = {}
    holder.append(first)
    first["b"] = second
    second["a"] = holder
    return [holder, first, second]


def test_a_quiet_heap_has_nothing_unreachable(quiet):
    found = unreachable()
    assert found == ()
    assert collector_frees() == set()


def test_cycles_of_every_shape_are_what_the_collector_frees(quiet):
    built = []
    for _ in range(5):
        self_loop: list = []
        self_loop.append(self_loop)
        built.append([self_loop])
        pair_a: dict = {}
        pair_b: dict = {"a": pair_a}
        pair_a["b"] = pair_b
        built.append([pair_a, pair_b])
        built.append(ring(100))
        built.append(ring(7, Finalized))
        built.append(list_dict_dict())
    expected = {id(obj) for group in built for obj in group}
    groups = [{id(obj) for obj in group} for group in built]
    del built, self_loop, pair_a, pair_b

    cycles = unreachable()
    found = [{id(obj) for obj in cycle.objects} for cycle in cycles]
    assert set().union(*found) == expected
    assert sorted(map(sorted, found)) == sorted(map(sorted, groups))
    assert all(type(cycle) is Cycle for cycle in cycles)
    del cycles
    assert collector_frees() == expected


def test_the_call_itself_collects_nothing_and_puts_the_collector_back(quiet):
    ring(10)
    for enabled in (False, True):
        if enabled:
            gc.enable()
        before = [stats["collections"] for stats in gc.get_stats()]
        found = unreachable()
        after = [stats["collections"] for stats in gc.get_stats()]
        gc.disable()
        assert after == before
        assert len(found) == 1 and len(found[0].objects) == 10
        del found
    assert not gc.isenabled()
    assert_prediction_is_what_the_collector_frees()


def test_the_prediction_keeps_its_objects_alive_until_it_is_dropped(quiet):
    nodes = ring(3)
    refs = [weakref.ref(node) for node in nodes]
    del nodes
    cycles = unreachable()
    gc.collect()        # held by the prediction: no garbage now
    alive = [ref() is not None for ref in refs]
    assert alive == [True, True, True]
    assert {id(ref()) for ref in refs} == {id(obj) for obj in cycles[0].objects}
    del cycles
    gc.collect()
    alive = [ref() is not None for ref in refs]
    assert alive == [False, False, False]


def test_what_a_local_holds_is_reachable(quiet):
    local = ring(4)
    found = unreachable()
    assert found == ()
    held_by_a_cycle: list = []
    held_by_a_cycle.append(held_by_a_cycle)
    held_by_a_cycle.append(local)
    del held_by_a_cycle
    cycles = unreachable()
    objects = [obj for cycle in cycles for obj in cycle.objects]
    assert len(objects) == 1 and type(objects[0]) is list and objects[0][1] is local
    del cycles, objects
    assert_prediction_is_what_the_collector_frees()
    assert type(local[0]) is Node


def test_the_loop_reads_as_the_references_that_make_it(quiet):
    list_dict_dict()
    self_loop: list = [1]
    self_loop.append(self_loop)
    del self_loop
    ring(3)
    cycles = unreachable()
    drawn = [str(cycle) for cycle in cycles]
    assert drawn == ["list[0] → dict['b'] → dict['a'] → list", "list[1] → list",
                     "Node.next → Node.next → Node.next → Node"]
    for cycle in cycles:
        for holder, held in zip(cycle.loop, cycle.loop[1:] + cycle.loop[:1]):
            assert any(referent is held for referent in gc.get_referents(holder))
    size = sys.getsizeof(cycles[1].loop[0])
    assert repr(cycles[1]) == f"<memviz.gc.Cycle list[1] → list: 1 object, {size:,} bytes>"
    del cycles


class Plain:
    pass


def test_an_instance_dict_is_drawn_as_attributes(quiet):
    """Also without making the __dict__ that 3.11+ have not made yet: drawing the loop
    adds nothing to the garbage."""
    first, second = Plain(), Plain()
    first.partner, second.partner = second, first
    del first, second
    before, _ = predicted()
    cycles = unreachable()
    drawn = [str(cycle) for cycle in cycles]
    del cycles
    after, _ = predicted()
    assert drawn == ["Plain.partner → Plain.partner → Plain"]
    assert after == before
    assert_prediction_is_what_the_collector_frees()


def test_garbage_a_cycle_holds_goes_with_it_and_a_held_cycle_stands_alone(quiet):
    outer: list = []
    outer.append(outer)
    inner: list = []
    inner.append(inner)
    only_held = [inner, "payload"]
    outer.append(only_held)
    ids = {"outer": id(outer), "inner": id(inner), "held": id(only_held)}
    del outer, inner, only_held
    cycles = unreachable()
    groups = sorted(sorted(id(obj) for obj in cycle.objects) for cycle in cycles)
    loops = sorted(len(cycle.loop) for cycle in cycles)
    del cycles
    assert groups == sorted([sorted([ids["outer"], ids["held"]]), [ids["inner"]]])
    assert loops == [1, 1]
    assert_prediction_is_what_the_collector_frees()


def test_sizes_types_and_finalizers(quiet):
    ring(5, Finalized)
    list_dict_dict()
    cycles = unreachable()
    for cycle in cycles:
        assert cycle.bytes == sum(sys.getsizeof(obj) for obj in cycle.objects)
        assert set(cycle.types) == {type(obj) for obj in cycle.objects}
        assert len(cycle.types) == len(set(cycle.types))
    flags = [(cycle.has_finalizers, cycle.resurrects) for cycle in cycles]
    assert flags == [(True, True), (False, False)]
    del cycles
    before = Finalized.finalized
    assert_prediction_is_what_the_collector_frees()
    assert Finalized.finalized == before + 5


class Resurrecting:
    kept: list = []

    def __del__(self):
        Resurrecting.kept.append(self)


def test_a_finalizer_already_run_is_not_pending(quiet):
    first, second = Resurrecting(), Resurrecting()
    first.other, second.other = second, first
    del first, second
    cycles = unreachable()
    assert [(cycle.has_finalizers, cycle.resurrects) for cycle in cycles] == [(True, True)]
    del cycles
    gc.collect()        # runs both __del__, which resurrect the pair
    assert len(Resurrecting.kept) == 2
    Resurrecting.kept.clear()
    cycles = unreachable()      # garbage again; CPython runs a finalizer once
    assert [(cycle.has_finalizers, cycle.resurrects) for cycle in cycles] == [(False, False)]
    del cycles
    assert_prediction_is_what_the_collector_frees()


def test_frozen_objects_are_no_candidates(quiet, gc_freeze_restored):
    frozen = ring(3)
    gc.freeze()
    del frozen              # garbage in the permanent generation: gc.collect() keeps it
    held_by_frozen = ring(2)
    holder = [held_by_frozen]
    gc.freeze()
    del holder, held_by_frozen
    found = unreachable()
    assert found == ()
    assert collector_frees() == set()


def test_refused_while_the_collector_runs(quiet):
    seen = []

    def callback(phase, info):
        try:
            unreachable()
        except memviz.CollectorRunning as error:
            seen.append(str(error))

    gc.callbacks.append(callback)
    try:
        gc.collect()
    finally:
        gc.callbacks.remove(callback)
    assert len(seen) == 2 and all("memviz.gc.unreachable()" in text for text in seen)


def test_refused_on_pypy_in_a_child(child_python):
    report = child_python("""
        import platform
        platform.python_implementation = lambda: "PyPy"
        import memviz
        try:
            memviz.gc.unreachable()
        except memviz.UnsupportedInterpreter as error:
            print(error)
    """).stdout
    assert "memviz.gc.unreachable() is not available on PyPy" in report
    assert "this is not CPython" in report


# -- random graphs ----------------------------------------------------------------------

NODES = 24


@st.composite
def graphs(draw):
    """(edges as (from, to) node numbers, the numbers of the nodes held from outside)."""
    edges = draw(st.lists(st.tuples(st.integers(0, NODES - 1), st.integers(0, NODES - 1)),
                          max_size=3 * NODES))
    held = draw(st.sets(st.integers(0, NODES - 1), max_size=NODES // 3))
    return edges, held


def reaches(edges, start: set[int]) -> set[int]:
    """The nodes the edges lead to from start, start included."""
    seen, todo = set(start), list(start)
    while todo:
        node = todo.pop()
        for source, target in edges:
            if source == node and target not in seen:
                seen.add(target)
                todo.append(target)
    return seen


@given(graphs())
def test_random_graphs_prediction_is_the_collector(gc_pause, graph):
    edges, held = graph
    with gc_pause():
        gc.collect()
        nodes = [[number] for number in range(NODES)]     # node[0]: its number
        for source, target in edges:
            nodes[source].append(nodes[target])
        outside = [nodes[number] for number in held]
        del nodes
        cycles = unreachable()
        groups = [[obj[0] for obj in cycle.objects] for cycle in cycles]
        loops = [[obj[0] for obj in cycle.loop] for cycle in cycles]
        del cycles
        try:
            count = assert_prediction_is_what_the_collector_frees()
        finally:
            del outside
            gc.collect()

    # What no held node leads to is unreachable; of that, what is on a cycle or held by
    # one outlives `del nodes` (the rest is freed by reference counting there and then).
    unreachable_nodes = set(range(NODES)) - reaches(edges, held)
    on_cycles = {node for node in unreachable_nodes
                 if node in reaches(edges, {target for source, target in edges if source == node})}
    garbage = reaches(edges, on_cycles) & unreachable_nodes
    assert count == len(garbage) == sum(map(len, groups))
    assert set().union(*map(set, groups)) == garbage
    for group, loop in zip(groups, loops):
        assert loop and loop[0] in group and set(loop) <= on_cycles
        for holder, held_next in zip(loop, loop[1:] + loop[:1]):
            assert (holder, held_next) in edges
        looped = set(group) & on_cycles
        strongly = {node for node in on_cycles
                    if node in reaches(edges, {loop[0]}) and loop[0] in reaches(edges, {node})}
        assert looped == strongly
        assert set(group) <= reaches(edges, looped)


# -- the measure the README gives ---------------------------------------------------------


def test_speed_against_the_collector(quiet, capsys):
    """Not a benchmark: prints unreachable() and gc.collect() on the same 100,000 objects in
    cycles (2,000 rings of 50), and checks that they agree."""
    for _ in range(2000):
        ring(50)
    start = time.perf_counter()
    cycles = unreachable()
    predicting = time.perf_counter() - start
    assert len(cycles) == 2000 and sum(len(cycle) for cycle in cycles) == 100_000
    del cycles
    start = time.perf_counter()
    freed = gc.collect()
    collecting = time.perf_counter() - start
    assert freed == 100_000
    with capsys.disabled():
        print(f"\nunreachable(): {predicting * 1000:.1f} ms, gc.collect(): "
              f"{collecting * 1000:.1f} ms for 100,000 objects in 2,000 cycles")
