"""memviz.gc against the gc module: generation lengths, counters, statistics, the
permanent generation, which generation holds an object, and objects per type.

Every comparison runs with automatic collections off (``gc_disabled`` / ``gc_pause``)
and accounts exactly for the objects the comparison itself creates between the two
reads. What those are, once and for all:

* ``generations()``: after its C reading it builds three ``Generation`` instances and the
  tuple that holds them. Read before ``gc.get_objects(0)``, those four objects (those of
  them that are tracked) are in ``gc.get_objects(0)`` and were not in the reading.
* ``type_counts()``: after its C walk it builds the result dict, which is tracked when it
  holds a heap type (3.10-3.13 track a dict once it holds a GC object; 3.14 tracks every
  dict). Read before ``gc.get_objects()``, that dict is the one object of the oracle's
  list that the walk did not count.
* ``gc.get_count()`` builds its result tuple after reading the counters, so it is read
  first, with the free lists primed so that no allocation is counted in between
  (``read_count_pair``).

The first call of a reading builds caches (cffi parses the C type of the reading's
buffer once), so every test module warms the readings up once (``warm_readings``).
"""
from __future__ import annotations

import copy
import gc
import pickle
import sys
from collections import Counter, deque

import pytest
from hypothesis import given, strategies as st

import memviz
from memviz.gc import PERMANENT, Generation, generation_of, generations, permanent, type_counts

from support.capabilities import needs
from support.gc import _created_by, _identity_count, assert_generations_match_get_objects

PY = sys.version_info[:2]

pytestmark = needs("gc")


@pytest.fixture(scope="module", autouse=True)
def warm_readings():
    """First calls build caches that are themselves GC objects: cffi parses the C type
    of a reading's buffer once; on 3.10 a builtin's first call with a keyword argument
    builds its argument parser's keyword tuple (gc.get_objects(generation=...))."""
    generations()
    permanent()
    generation_of([])
    type_counts()
    type_counts(0)
    for index in range(3):
        gc.get_objects(generation=index)
    gc.get_objects()
    gc.get_count()
    gc.get_stats()
    gc.get_freeze_count()


def read_count_pair():
    """(gc.get_count(), generations()) read with nothing counted in between.

    gc.get_count() is read first: it builds its result tuple after reading the counters.
    That tuple comes from the free list of 3-tuples (primed just before), and the
    reading's own Python temporaries come from their free lists (populated by a first
    reading just before: a full collection empties the free lists), so no allocation the
    collector counts happens between the two reads."""
    generations()
    _prime_tuple_free_list()
    count = gc.get_count()
    return count, generations()


def _prime_tuple_free_list(i=0):
    """Frees a 3-tuple so that the free list of 3-tuples is not empty: the next one
    (gc.get_count()'s result) is then taken from it and not allocated."""
    t = (i, i, i)
    del t


# -- generations(): lengths, counters, thresholds, statistics ------------------------
def test_generation_lengths_match_get_objects(gc_disabled):
    assert_generations_match_get_objects()


def test_generation_lengths_follow_new_objects(gc_disabled):
    first = assert_generations_match_get_objects()
    keep = [[] for _ in range(1000)]
    second = assert_generations_match_get_objects()
    # New in generation 0 since the first reading: the 1000 lists, `keep` itself and the
    # first reading's own result objects (everything else the first comparison built
    # has been freed again). Generations 1 and 2 do not change without a collection.
    assert second[0].objects - first[0].objects == len(keep) + 1 + len(_created_by(first))
    assert [g.objects for g in second[1:]] == [g.objects for g in first[1:]]


def test_count_threshold_and_stats_match_the_gc_module(gc_disabled):
    count, gens = read_count_pair()
    assert tuple(g.count for g in gens) == count
    assert tuple(g.threshold for g in gens) == gc.get_threshold()
    stats = gc.get_stats()
    for generation, stat in zip(gens, stats):
        # 3.15 adds keys (candidates, duration); these three are in every version.
        assert (generation.collections, generation.collected, generation.uncollectable) == (
            stat["collections"], stat["collected"], stat["uncollectable"])
    assert [g.index for g in gens] == [0, 1, 2]


def test_counters_after_collections(gc_disabled):
    for generation in (0, 1, 2, 0, 0, 1):
        gc.collect(generation)
        count, gens = read_count_pair()
        stats = gc.get_stats()
        assert tuple(g.count for g in gens) == count
        assert [g.collections for g in gens] == [s["collections"] for s in stats]
        assert [g.collected for g in gens] == [s["collected"] for s in stats]
        assert_generations_match_get_objects()


def test_stats_after_a_collection_that_found_garbage(gc_disabled):
    """A full collection that finds a cycle (kept in gc.garbage by DEBUG_SAVEALL): the
    oldest generation's ``collected`` grows, and memviz reads the same three figures as
    gc.get_stats(). (``uncollectable`` counts only objects with a legacy tp_del, which
    Python code cannot make; it is compared all the same.)"""
    before = generations()[2].collected
    flags = gc.get_debug()
    gc.set_debug(gc.DEBUG_SAVEALL)
    try:
        cycle = []
        cycle.append(cycle)
        del cycle
        gc.collect()
        stats = gc.get_stats()
        gens = generations()
        assert gens[2].collected >= before + 1
        assert [g.collections for g in gens] == [s["collections"] for s in stats]
        assert [g.collected for g in gens] == [s["collected"] for s in stats]
        assert [g.uncollectable for g in gens] == [s["uncollectable"] for s in stats]
    finally:
        gc.set_debug(flags)
        gc.garbage.clear()


def test_thresholds_follow_set_threshold(gc_disabled):
    saved = gc.get_threshold()
    try:
        gc.set_threshold(1234, 56, 78)
        assert tuple(g.threshold for g in generations()) == gc.get_threshold() == (1234, 56, 78)
    finally:
        gc.set_threshold(*saved)
    assert tuple(g.threshold for g in generations()) == saved


def test_enabled_state_is_not_changed_by_readings():
    was = gc.isenabled()
    try:
        for state in (False, True):
            (gc.enable if state else gc.disable)()
            generations()
            permanent()
            type_counts()
            generation_of([])
            assert gc.isenabled() is state
    finally:
        (gc.enable if was else gc.disable)()


# -- the permanent generation ------------------------------------------------------
def test_permanent_follows_freeze_and_unfreeze(gc_disabled, gc_freeze_restored):
    before = permanent()
    assert before == gc.get_freeze_count()
    gens = generations()
    gc.freeze()  # moves every object of generations 0-2 into the permanent generation
    frozen = permanent()
    assert frozen == gc.get_freeze_count()
    assert frozen == before + sum(g.objects for g in gens) + len(_created_by(gens))
    after = assert_generations_match_get_objects()
    assert [g.objects for g in after[1:]] == [0, 0]
    gc.unfreeze()  # ... and back into the oldest generation
    assert permanent() == gc.get_freeze_count() == 0
    unfrozen = assert_generations_match_get_objects()
    assert unfrozen[2].objects >= frozen


# -- generation_of -----------------------------------------------------------------
def _sample(objects, k, rng):
    if len(objects) <= k:
        return list(objects)
    # Both ends of the list and a random middle: the walk's cost depends on the position.
    return [objects[0], objects[-1], *rng.sample(objects, k - 2)]


def test_generation_of_matches_get_objects(gc_disabled):
    import random

    rng = random.Random(1234)
    listed = [gc.get_objects(generation=i) for i in range(3)]
    for index, objects in enumerate(listed):
        # Each walk follows the list from the object to its end: fewer from the long ones.
        for obj in _sample(objects, (400, 150, 60)[index], rng):
            assert generation_of(obj) == index
            assert gc.is_tracked(obj)


def oracle_generation(obj):
    """Which generation's gc.get_objects() list holds obj (by identity); PERMANENT when a
    tracked object is in none of them; None when the collector does not track it."""
    if not gc.is_tracked(obj):
        return None
    for index in range(3):
        if any(member is obj for member in gc.get_objects(generation=index)):
            return index
    return PERMANENT


def test_generation_of_follows_promotion(gc_disabled, gc_freeze_restored):
    x = [[]]
    steps = [
        ("new", lambda: None, 0),
        ("collect(0)", lambda: gc.collect(0), 1),
        ("collect(1)", lambda: gc.collect(1), 2),
        ("collect()", gc.collect, 2),
        ("freeze()", gc.freeze, PERMANENT),
        ("unfreeze()", gc.unfreeze, 2),
    ]
    for name, step, expected in steps:
        step()
        got = generation_of(x)
        assert got == oracle_generation(x) == expected, name
        if expected == PERMANENT:
            assert got is PERMANENT
    y = [[]]
    gc.collect(1)  # a young object skips generation 1 when 0 and 1 are collected together
    assert generation_of(y) == oracle_generation(y) == 2


class Frozen:
    pass


def test_type_counts_of_the_permanent_generation(gc_disabled, gc_freeze_restored):
    """Fork servers freeze after preloading: what gc.freeze() moved is counted by type,
    as gc.get_freeze_count() counts it, and no longer in generations 0-2."""
    kept = [Frozen() for _ in range(77)]
    before = type_counts(PERMANENT).get(Frozen, 0)
    gc.freeze()
    counts = type_counts(PERMANENT)
    assert sum(counts.values()) == gc.get_freeze_count()
    assert counts[Frozen] == before + 77
    assert Frozen not in type_counts()
    gc.unfreeze()
    assert type_counts(PERMANENT) == {}
    assert type_counts()[Frozen] == 77
    del kept


def test_generation_of_permanent_objects(gc_disabled, gc_freeze_restored):
    # A few: each walk follows the permanent list, the whole heap, to its end.
    objects = gc.get_objects(generation=0)[:10] + gc.get_objects(generation=2)[:10]
    gc.freeze()
    for obj in objects:
        assert generation_of(obj) is PERMANENT
    gc.unfreeze()
    for obj in objects:
        assert generation_of(obj) == 2


scalars = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8) | st.binary(max_size=8)
hashables = st.recursive(scalars, lambda inner: st.tuples(inner, inner) | st.frozensets(inner, max_size=3), max_leaves=5)
objects = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.tuples(inner, inner)
        | st.dictionaries(hashables, inner, max_size=3)
        | st.sets(hashables, max_size=3)
        | st.frozensets(hashables, max_size=3)
    ),
    max_leaves=10,
)


@given(objects)
def test_generation_of_is_none_exactly_when_untracked(gc_pause, x):
    with gc_pause():
        got = generation_of(x)
        assert (got is None) is (not gc.is_tracked(x))
        assert got == oracle_generation(x)


def _odd_objects():
    class Local:
        pass

    return [type, object, int, Local, Local(), sys, gc, memviz, memviz.gc, generation_of,
            memviz.refcount, print, sys._getframe(), (lambda: 0).__code__, None, 1, "s",
            (), (1, 2), ([],), {}, {"k": []}, frozenset(), range(2), iter([])]


def test_generation_of_odd_objects(gc_disabled):
    for obj in _odd_objects():
        assert generation_of(obj) == oracle_generation(obj), obj


def test_readings_reject_wrong_arguments():
    with pytest.raises(TypeError):
        generation_of()
    with pytest.raises(TypeError):
        generation_of(1, 2)
    for bad in (4, -1, 2**64, True, False, 1.0, "0", [0]):
        with pytest.raises(ValueError):
            type_counts(bad)
    with pytest.raises(TypeError):
        generations(0)
    with pytest.raises(TypeError):
        permanent(0)


# -- type_counts ---------------------------------------------------------------------
@pytest.mark.parametrize("generation", [None, 0, 1, 2])
def test_type_counts_match_counter_of_get_objects(gc_disabled, generation):
    counts = type_counts(generation)
    if generation is None:
        listed = gc.get_objects()
    else:
        listed = gc.get_objects(generation=generation)
    # The one object created between the walk and gc.get_objects: the result dict, in
    # generation 0 when tracked.
    expected_extra = 1 if generation in (None, 0) and gc.is_tracked(counts) else 0
    assert _identity_count(listed, [counts]) == expected_extra
    oracle = Counter(type(obj) for obj in listed if obj is not counts)
    assert counts == dict(oracle)
    assert all(isinstance(t, type) and n > 0 for t, n in counts.items())


def test_type_counts_all_generations_is_the_sum(gc_disabled):
    c0 = type_counts(0)
    c1 = type_counts(1)
    c2 = type_counts(2)
    total = type_counts()
    summed = Counter(c0) + Counter(c1) + Counter(c2)
    # Generation 0 gained the three result dicts (those tracked) between the walks.
    summed[dict] += sum(1 for counts in (c0, c1, c2) if gc.is_tracked(counts))
    assert total == dict(summed)


@given(st.integers(min_value=0, max_value=300))
def test_type_counts_exact_for_a_class_with_n_instances(gc_pause, n):
    class Fresh:
        pass

    with gc_pause():
        instances = [Fresh() for _ in range(n)]
        assert type_counts().get(Fresh, 0) == n
        assert type_counts(0).get(Fresh, 0) == n
        assert type_counts(1).get(Fresh, 0) == type_counts(2).get(Fresh, 0) == 0
        assert sum(1 for o in gc.get_objects(generation=0) if type(o) is Fresh) == n
        gc.collect(0)
        assert type_counts(1).get(Fresh, 0) == n
        assert type_counts(0).get(Fresh, 0) == 0
        del instances[: n // 2]
        assert type_counts().get(Fresh, 0) == n - n // 2


# -- random object graphs ----------------------------------------------------------
KINDS = ("instance", "list", "dict", "plain_dict")


def _node_types() -> dict:
    """Fresh classes for one example: an instance, a list or a dict (subclasses, which
    take weak references, so the test finds a collection's survivors without holding
    them), and the plain dict, which 3.10-3.13 leave untracked while it holds no GC
    object. Fresh per example, so that an earlier example's garbage (cycles through
    plain dicts the test cannot reach, freed by a later collection) never counts."""
    return {
        "instance": type("GraphNode", (), {}),
        "list": type("GraphList", (list,), {}),
        "dict": type("GraphDict", (dict,), {}),
        "plain_dict": dict,
    }


@st.composite
def object_graphs(draw):
    """(kinds, edges, kept): n nodes; directed edges (self-loops and cycles included);
    the nodes that stay referenced from outside when the rest is dropped."""
    n = draw(st.integers(min_value=1, max_value=25))
    kinds = draw(st.lists(st.sampled_from(KINDS), min_size=n, max_size=n))
    edges = draw(st.lists(st.tuples(st.integers(0, n - 1), st.integers(0, n - 1)), max_size=3 * n))
    kept = draw(st.sets(st.integers(0, n - 1), max_size=n))
    return kinds, edges, kept


def _build(types, kinds, edges):
    nodes = [types[kind]() for kind in kinds]
    for k, (source, target) in enumerate(edges):
        node = nodes[source]
        if kinds[source] == "instance":
            setattr(node, f"e{k}", nodes[target])
        elif kinds[source] == "list":
            node.append(nodes[target])
        else:
            node[f"e{k}"] = nodes[target]
    return nodes


def _reachable(n, edges, roots):
    adjacency = [[] for _ in range(n)]
    for source, target in edges:
        adjacency[source].append(target)
    seen, queue = set(roots), deque(roots)
    while queue:
        for target in adjacency[queue.popleft()]:
            if target not in seen:
                seen.add(target)
                queue.append(target)
    return seen


def _expected_type_counts(types, kinds, alive):
    return {types[kind]: sum(1 for i in alive if kinds[i] == kind)
            for kind in ("instance", "list", "dict")}


def _check_graph(types, get, kinds, edges, alive, held, generation):
    """Type counts, refcounts and generations of the live nodes; ``get(i)`` returns node
    i or None when the test cannot reach it without a reference of its own; ``held`` are
    the nodes a list of the test references."""
    # All the live nodes are in `generation`: count it (and, in generation 2, where the
    # rest of the heap is anyway, all three).
    for counts in (type_counts(generation), *([type_counts()] if generation == 2 else [])):
        for node_type, expected in _expected_type_counts(types, kinds, alive).items():
            assert counts.get(node_type, 0) == expected, node_type
    in_degree = Counter(target for source, target in edges if source in alive)
    # The oracle's list of generation 2 is the whole heap: test_generation_of_* compare
    # with it; here the young generations, which are small, are enough.
    members = {id(obj) for obj in gc.get_objects(generation=generation)} if generation < 2 else None
    for i in sorted(alive):
        node = get(i)
        if node is None:
            continue
        # The references: the test's list (if held), one per edge from a live node, and
        # the local `node`.
        assert memviz.refcount(node) == (i in held) + in_degree[i] + 1
        got = generation_of(node)
        if gc.is_tracked(node):
            assert got == generation and (members is None or id(node) in members)
        else:
            assert got is None and kinds[i] == "plain_dict"


@given(object_graphs())
def test_random_object_graphs(gc_pause, graph):
    import weakref

    kinds, edges, kept = graph
    n = len(kinds)
    everything = set(range(n))
    types = _node_types()
    with gc_pause():
        nodes = _build(types, kinds, edges)
        refs = [weakref.ref(node) if kinds[i] != "plain_dict" else None for i, node in enumerate(nodes)]
        try:
            _check_graph(types, nodes.__getitem__, kinds, edges, everything, everything, 0)
            counts = type_counts(0)
            listed = gc.get_objects(generation=0)
            assert counts == dict(Counter(type(o) for o in listed if o is not counts))
            del listed
            gc.collect(0)  # everything survives (held by `nodes`) into generation 1
            _check_graph(types, nodes.__getitem__, kinds, edges, everything, everything, 1)
            # Keep only `kept`: whatever is not reachable from it is garbage, cycles
            # included, and a collection of generations 0 and 1 frees it; the survivors
            # move to generation 2.
            nodes = [node if i in kept else None for i, node in enumerate(nodes)]
            gc.collect(1)
            alive = _reachable(n, edges, kept)
            for i in range(n):
                if refs[i] is not None:
                    assert (refs[i]() is not None) is (i in alive), i
            _check_graph(types, lambda i: refs[i]() if refs[i] is not None else None,
                         kinds, edges, alive, kept, 2)
        finally:
            for i, ref in enumerate(refs):
                node = ref() if ref is not None else None
                if node is not None:  # break the cycles the test can reach
                    (node.__dict__ if kinds[i] == "instance" else node).clear()
            node = nodes = None


# -- the result types --------------------------------------------------------------
def test_generation_pickle_copy_repr():
    gens = generations()
    for generation in gens:
        assert isinstance(generation, Generation)
        assert pickle.loads(pickle.dumps(generation)) == generation
        assert copy.deepcopy(generation) == generation
        assert hash(generation) == hash(copy.copy(generation))
        text = repr(generation)
        assert text.startswith("Generation(index=") and f"objects={generation.objects}" in text
        assert str(generation).startswith(f"generation {generation.index}: ")
        with pytest.raises(AttributeError):
            generation.objects = 0  # frozen


def test_permanent_constant():
    assert PERMANENT == 3 and isinstance(PERMANENT, int)
    assert repr(PERMANENT) == "memviz.gc.PERMANENT"
    for protocol in range(pickle.HIGHEST_PROTOCOL + 1):
        assert pickle.loads(pickle.dumps(PERMANENT, protocol)) is PERMANENT
    assert copy.copy(PERMANENT) is PERMANENT and copy.deepcopy(PERMANENT) is PERMANENT
    assert hash(PERMANENT) == hash(3)
    assert PERMANENT not in (0, 1, 2)


# -- readings from inside a collection ---------------------------------------------
def test_readings_refuse_while_the_collector_runs(gc_disabled):
    """From a gc.callbacks hook (both phases) and from a finalizer the collector runs,
    the lists are half-built: the list readings raise CollectorRunning; refcount, which
    reads no list, still works."""
    seen = []
    target = []

    def readings():
        for name, reading in (("generations", generations), ("permanent", permanent),
                              ("generation_of", lambda: generation_of(target)),
                              ("type_counts", type_counts)):
            try:
                reading()
            except memviz.CollectorRunning as error:
                seen.append((name, "refused", str(error)))
            else:
                seen.append((name, "read", ""))
        seen.append(("refcount", memviz.refcount(target) >= 1, ""))

    def callback(phase, info):
        readings()

    class Finalized:
        def __del__(self):
            readings()

    gc.callbacks.append(callback)
    try:
        gc.collect()
    finally:
        gc.callbacks.remove(callback)
    cycle = Finalized()
    cycle.self = cycle
    del cycle
    gc.collect()
    assert len(seen) == 3 * 5  # start, stop, the finalizer
    for name, outcome, message in seen:
        if name == "refcount":
            assert outcome is True
        else:
            assert outcome == "refused" and name in message and "running" in message
    # Outside a collection the same readings work again.
    assert_generations_match_get_objects()
