"""memviz.referrers and memviz.path_to: who holds an object, against the collector's own
referents (gc.get_referrers, gc.get_referents) and a breadth-first walk in Python."""
from __future__ import annotations

import builtins
import gc
import sys
import types
import weakref
from collections import deque

import pytest

import memviz
from memviz import Path
from support.capabilities import needs
from support.census import referents

pytestmark = needs("gc")


class Payload:
    pass


class Bus:
    def __init__(self):
        self._listeners = []


class Handler:
    def __init__(self, payload):
        self.payload = payload

    def on_event(self):
        return self.payload


APP = "memviz_test_app.events"


@pytest.fixture
def app():
    """A module in sys.modules: app.bus._listeners holds bound methods of Handlers, each
    holding a Payload.  Tests reach it through sys.modules[APP] only: a local would be a
    shorter path."""
    module = types.ModuleType(APP)
    module.bus = Bus()
    for _ in range(18):
        module.bus._listeners.append(Handler(Payload()).on_event)
    sys.modules[APP] = module
    yield
    del sys.modules[APP]


def distance_from_the_modules(target) -> int | None:
    """References from sys.modules, builtins or the sys dict to target, breadth first
    through gc.get_referents and dicts' keys: the oracle of a shortest path."""
    roots = (sys.modules, vars(builtins), vars(sys))
    depth = {id(root): 0 for root in roots}
    queue = deque(roots)
    while queue:
        obj = queue.popleft()
        if obj is target:
            return depth[id(obj)]
        for referent in referents(obj):
            if id(referent) not in depth and type(referent) is not types.FrameType:
                depth[id(referent)] = depth[id(obj)] + 1
                queue.append(referent)
    return None


def test_the_path_through_a_module_reads_as_the_expression_that_reaches_it(app):
    path = memviz.path_to(sys.modules[APP].bus._listeners[17].__self__.payload)
    assert isinstance(path, Path)
    assert str(path) == f"sys.modules[{APP!r}].bus._listeners[17].__self__.payload"
    assert path.is_expression and path.start == "sys.modules" and path.root == "sys.modules"
    assert path.objects[-1] is sys.modules[APP].bus._listeners[17].__self__.payload
    assert eval(str(path)) is path.objects[-1]
    assert path.objects[0] is sys.modules and path.objects[1] is sys.modules[APP]


def test_each_step_of_a_path_holds_the_next_and_none_is_shorter(app):
    # First: labelling a path's steps by attribute name makes instances' dicts.
    shortest = distance_from_the_modules(sys.modules[APP].bus._listeners[5].__self__.payload)
    path = memviz.path_to(sys.modules[APP].bus._listeners[5].__self__.payload)
    for holder, label, held in zip(path.objects, path.labels, path.objects[1:]):
        # An attribute by name: naming it made an instance's inline values a dict.
        if label.startswith(".") and not isinstance(holder, (dict, types.ModuleType)):
            assert getattr(holder, label[1:]) is held
        else:
            assert any(referent is held for referent in gc.get_referents(holder))
    assert len(path) == len(path.objects) - 1 == shortest
    assert repr(path) == f"<memviz.Path {path} ({len(path)} steps from sys.modules)>"


def test_a_local_only_has_a_path_from_its_running_frame():
    local = {"key": [b"path: a local only %d" % id(sys)]}
    path = memviz.path_to(local["key"][0])
    assert str(path) == "local['key'][0]"
    assert path.objects[0] is sys._getframe()
    assert path.root.startswith("the local 'local' of ")
    assert eval(str(path)) is local["key"][0]


def test_cyclic_garbage_and_a_temporary_have_no_path(gc_disabled):
    node = Payload()
    node.itself = node
    ref = weakref.ref(node)
    del node
    # Not inside the asserts: pytest keeps an assert's values in locals of this frame.
    from_the_garbage = memviz.path_to(ref())
    from_a_temporary = memviz.path_to(b"path: a temporary %d" % id(sys))
    assert from_the_garbage is None and from_a_temporary is None


def test_a_path_is_looked_for_only_as_deep_as_asked(app):
    shortest = distance_from_the_modules(sys.modules[APP].bus._listeners[2].__self__.payload)
    too_shallow = memviz.path_to(sys.modules[APP].bus._listeners[2].__self__.payload,
                                 max_depth=4)
    deep_enough = memviz.path_to(sys.modules[APP].bus._listeners[2].__self__.payload,
                                 max_depth=12)
    assert too_shallow is None and len(deep_enough) == shortest > 4
    for bad in (0, -1, 2.5, True, "3"):
        with pytest.raises(ValueError, match="max_depth must be an int >= 1"):
            memviz.path_to(sys, max_depth=bad)


def test_referrers_has_every_holder_the_collector_knows_and_the_untracked_ones():
    target = b"referrers: held by several %d" % id(sys)
    holder_list = [target, target]
    holder_dict = {"k": target}
    untracked = (target, 1)
    gc.collect()
    assert not gc.is_tracked(untracked)     # the collector untracks a tuple of atoms
    found = memviz.referrers(target)
    ids = {id(obj) for obj in found}
    assert {id(holder_list), id(holder_dict), id(untracked)} <= ids
    this_frame = sys._getframe()
    expected = {id(obj) for obj in gc.get_referrers(target) if obj is not this_frame}
    assert expected <= ids
    assert len(found) == len(ids)           # each holder once, the list holding it twice too
    assert this_frame in found              # `target` is this function's local


def test_a_frame_is_a_referrer_when_only_its_local_holds_the_object():
    def holds(value):
        return memviz.referrers(value)

    found = holds(b"referrers: a local only %d" % id(sys))
    frames = [obj for obj in found if isinstance(obj, types.FrameType)]
    assert [frame.f_code for frame in frames] == [holds.__code__]
    assert len(found) == 1


class Branch:
    __slots__ = ("left", "right", "leaf")

    def __init__(self, depth: int, serial: list):
        serial[0] += 1
        self.leaf = b"retained: leaf %d" % serial[0]
        self.left = Branch(depth - 1, serial) if depth else None
        self.right = Branch(depth - 1, serial) if depth else None


def tree_objects(root: Branch) -> list:
    """Every object of a Branch tree: its branches and their leaves."""
    found, pending = [], [root]
    while pending:
        branch = pending.pop()
        found += [branch, branch.leaf]
        pending += [child for child in (branch.left, branch.right) if child is not None]
    return found


def test_a_tree_owned_only_by_its_root_retains_exactly_its_objects():
    tree = Branch(5, [0])
    expected = sum(sys.getsizeof(obj) for obj in tree_objects(tree))
    assert memviz.retained(tree) == expected


def test_a_leaf_held_elsewhere_is_not_retained_by_the_tree():
    tree = Branch(4, [0])
    shared = tree.left.right.leaf       # this frame holds it too
    expected = sum(sys.getsizeof(obj) for obj in tree_objects(tree)) - sys.getsizeof(shared)
    assert memviz.retained(tree) == expected


def test_a_cycle_owned_by_its_root_counts_once():
    ring = [b"retained: ring %d" % id(sys)]
    node = {"ring": ring, "blob": b"x" * 1000}
    ring.append(node)               # ring -> node -> ring
    expected = sum(map(sys.getsizeof, (ring, ring[0], node, node["blob"])))
    held_by_this_frame_too = memviz.retained(ring)
    del node                        # now only the ring holds it
    assert memviz.retained(ring) == expected
    assert held_by_this_frame_too == sys.getsizeof(ring) + sys.getsizeof(ring[0])


def test_what_no_root_leads_to_retains_nothing(gc_disabled):
    node = Payload()
    node.itself = node
    ref = weakref.ref(node)
    del node
    retained_by_garbage = memviz.retained(ref())
    assert retained_by_garbage == 0
