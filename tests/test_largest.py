"""memviz.largest: the owners that retain the most bytes, from the dominator tree of the
census's graph, against memviz.retained (two walks, with and without the owner) and a
dominator oracle in Python over graphs the tests build."""
from __future__ import annotations

import sys
import types
import weakref

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

import memviz
from memviz import Retainer
from support.capabilities import needs

pytestmark = needs("gc")

MODULE = "memviz_test_largest"


@pytest.fixture
def module():
    """A module in sys.modules, the only holder of what the tests build: a local would
    be a root of its own."""
    made = types.ModuleType(MODULE)
    sys.modules[MODULE] = made
    yield made
    del sys.modules[MODULE]


def listed(retainers: tuple[Retainer, ...], obj) -> list[Retainer]:
    return [retainer for retainer in retainers if retainer.object is obj]


def test_a_module_cache_is_shown_as_the_cache_with_exactly_its_bytes(module):
    module.CACHE = {f"largest key {i}": [b"largest value %d" % i * 40, float(i)]
                    for i in range(20_000)}
    cache = module.CACHE
    parts = [cache, *cache.keys()]
    for value in cache.values():
        parts += [value, *value]
    expected_bytes = sum(map(sys.getsizeof, parts))
    expected_objects = len(parts)
    del parts, value, cache

    found = memviz.largest(10)

    entries = listed(found, module.CACHE)
    assert len(entries) == 1
    entry = entries[0]
    assert (entry.bytes, entry.objects) == (expected_bytes, expected_objects)
    assert entry.name == "builtins.dict"
    # the shortest path: from this test's own argument, which holds the module
    assert str(entry.path) == "module.CACHE" and entry.path.objects[-1] is module.CACHE
    assert not listed(found, module) and not listed(found, vars(module))


class Service:
    def __init__(self, items):
        self.items = items


def test_an_owner_that_passes_its_bytes_on_is_shown_as_what_holds_them(module):
    module.service = Service([bytearray(2000) for _ in range(3000)])

    found = memviz.largest(10)

    assert not listed(found, module.service)
    entries = listed(found, module.service.items)
    assert len(entries) == 1
    items = module.service.items
    expected = sys.getsizeof(items) + sum(map(sys.getsizeof, items))
    del items
    assert entries[0].bytes == expected
    assert str(entries[0].path) == "module.service.items"


def test_each_owner_retains_what_retained_says_and_none_retains_another(module):
    module.first = [bytes(50_000 + i) for i in range(40)]
    module.second = {i: bytes(30_000 + i) for i in range(40)}
    module.shared = [module.first[0]]     # no longer retained by first alone

    found = memviz.largest(8)

    assert [r.bytes for r in found] == sorted((r.bytes for r in found), reverse=True)
    assert listed(found, module.first) and listed(found, module.second)
    for retainer in found:
        if retainer.object is module.first or retainer.object is module.second:
            # compared while found holds every owner: a holder from a root changes
            # nothing an owner dominates
            assert retainer.bytes == memviz.retained(retainer.object)
    first = listed(found, module.first)[0]
    assert first.bytes == sys.getsizeof(module.first) + sum(
        sys.getsizeof(item) for item in module.first[1:])
    census_bytes = memviz.census().total_bytes
    assert sum(r.bytes for r in found) <= census_bytes


def test_largest_refuses_a_bad_count():
    for bad in (-1, 1.5, "3", True):
        with pytest.raises(ValueError, match="n must be an int"):
            memviz.largest(bad)
    assert memviz.largest(0) == ()


class Node:
    __slots__ = ("edges", "payload", "more_payload", "__weakref__")


def dominated_by_oracle(entries: list, graph: dict[int, list[int]]) -> dict[int, set[int]]:
    """What each node dominates, itself included, in a graph only the module's entries
    lead into: the nodes no entry reaches once the node is gone, by a walk per node."""
    def reached(without: int | None) -> set[int]:
        seen: set[int] = set()
        pending = [entry for entry in entries if entry != without]
        while pending:
            node = pending.pop()
            if node in seen:
                continue
            seen.add(node)
            pending += [child for child in graph[node] if child != without]
        return seen

    everything = reached(None)
    return {node: everything - reached(node) for node in everything}


@settings(max_examples=15, deadline=None)
@given(st.integers(2, 12).flatmap(lambda count: st.tuples(
    st.just(count),
    st.lists(st.tuples(st.integers(0, count - 1), st.integers(0, count - 1)), max_size=30),
    st.sets(st.integers(0, count - 1), min_size=1))))
@example((5, [(0, 3), (0, 4), (1, 0), (1, 2)], {1}))    # node 1 is shown as its edges
def test_the_owners_shown_among_random_graphs_retain_what_the_oracle_says(case):
    count, edges, entries = case
    made = types.ModuleType(MODULE)
    nodes = [Node() for _ in range(count)]
    graph: dict[int, list[int]] = {i: [] for i in range(count)}
    for source, target in edges:
        graph[source].append(target)
    for i, node in enumerate(nodes):
        # big enough to be shown, in two halves: neither retains 80 % of the node
        node.payload, node.more_payload = bytes(100_000 + i), bytes(100_000 + i)
        node.edges = [nodes[j] for j in graph[i]]
    for i in entries:
        setattr(made, f"entry{i}", nodes[i])
    sizes = {i: sum(map(sys.getsizeof, (node, node.payload, node.more_payload, node.edges)))
             for i, node in enumerate(nodes)}
    # a node that passes its bytes on to its list of edges is shown as the list
    edge_lists = {id(node.edges): i for i, node in enumerate(nodes)}
    edge_list_sizes = {i: sys.getsizeof(node.edges) for i, node in enumerate(nodes)}
    refs = [weakref.ref(node) for node in nodes]
    del nodes, node
    sys.modules[MODULE] = made
    try:
        found = memviz.largest(40)
        dominated = dominated_by_oracle(sorted(entries), graph)
        number = {id(ref()): i for i, ref in enumerate(refs) if ref() is not None}
        shown = []      # (bytes, the graph's nodes among them, their expected bytes)
        for r in found:
            if type(r.object) is Node:
                node = number[id(r.object)]
                covered = dominated[node]
                expected = sum(sizes[other] for other in covered)
            elif type(r.object) is list and id(r.object) in edge_lists:
                node = edge_lists[id(r.object)]
                covered = dominated[node] - {node}
                expected = edge_list_sizes[node] + sum(sizes[other] for other in covered)
            else:
                continue
            shown.append((r.bytes, covered, expected))
        del found
    finally:
        del sys.modules[MODULE]
    assert shown, "some node of the graph (or its list of edges) is among the largest owners"
    for size, _, expected in shown:
        assert size == expected
    # none retains another: what each shown owner covers is apart from the others
    covered_in_all = [node for _, covered, _ in shown for node in covered]
    assert len(covered_in_all) == len(set(covered_in_all))
