"""The census (``memviz.census()``) and its walk (csrc/census.c), against the
pure-Python reference walk (tests/support/census.py) and against deltas the test makes
itself.

What a census creates (and what a second census therefore also sees): its result
dict, one tuple per type, and the ints in them past the small ints the interpreter keeps."""
import ctypes
import gc
import pickle
import sys
import threading
import warnings
from array import array

import pytest
from hypothesis import given, settings, strategies as st

import memviz
from memviz import _native
from memviz.census import Census, TypeStat, _census_walk
from memviz.render.view import format_bytes
from memviz.snapshot import type_name
from support.capabilities import needs
from support.census import reference_walk, referents
from support.html import parse_html, table

pytestmark = needs("gc")


class Holder:
    def __init__(self, i):
        self.text = f"census-text-{i}-{id(self)}"
        self.data = b"census-bytes-%d-%d" % (i, id(self))
        self.number = 10**30 + i
        self.real = i + 0.25


class Node:
    pass


class SlotNode:
    __slots__ = ("a", "b")


def objects(census, kind):
    return census.get(kind, (0, 0, 0, 0))[0]


def sizes(census, kind):
    return census.get(kind, (0, 0, 0, 0))[2]


def result_ints(census):
    """(new, referenced): the int objects a census's result made (those not the one
    object the interpreter keeps for a small int) and all it refers to.  A small int no
    root refers to is counted once a result refers to it, like a static type."""
    ints = [count for counts in census.values() for count in counts]
    return (sum(1 for count in ints if count is not int(str(count))),
            len({id(count) for count in ints}))


def counts_of(*kinds):
    """A census's objects and bytes of each kind, kept in an array: machine ints, not int
    objects (the next census would count those)."""
    census = _census_walk()
    return array("q", [figure for kind in kinds for figure in (objects(census, kind),
                                                                sizes(census, kind))])


def test_the_census_has_every_type_the_reference_walk_finds_and_as_many():
    holders = [Holder(i) for i in range(300)]
    expected = reference_walk()
    census = _census_walk()
    assert expected[Holder] == len(holders)
    assert census[Holder] == (len(holders), len(holders),
                              sum(sys.getsizeof(holder) for holder in holders), 0)
    missing = {kind: count for kind, count in expected.items() if kind not in census}
    assert missing == {}
    fewer = {kind: (census[kind][0], count) for kind, count in expected.items()
             if census[kind][0] < count}
    assert fewer == {}
    assert all(0 <= tracked <= count and size >= 0 and 0 <= later <= count
               for count, tracked, size, later in census.values())


def test_unique_values_raise_their_types_counts_and_bytes_exactly():
    kinds = (Holder, str, bytes, int, float)
    before = counts_of(*kinds)
    holders = [Holder(i) for i in range(250)]
    after = counts_of(*kinds)
    made = {Holder: holders, str: [h.text for h in holders], bytes: [h.data for h in holders],
            int: [h.number for h in holders], float: [h.real for h in holders]}
    expected = [figure for kind in kinds
                for figure in (len(made[kind]), sum(map(sys.getsizeof, made[kind])))]
    assert [b - a for a, b in zip(before, after)] == expected


def held_by_no_object(target):
    """True when no object the collector lists refers to target (a frame's local, say).
    A plain loop: a generator expression would hold target in a cell."""
    for obj in gc.get_objects():
        for referent in gc.get_referents(obj):
            if referent is target:
                return False
    return True


def test_an_object_held_only_by_a_running_functions_local_is_counted():
    gc.collect()
    before = _census_walk()
    payload = b"held by this frame alone: %d" % id(before)
    # Outside the asserts: pytest's rewritten asserts keep their operands in locals.
    alone = not gc.is_tracked(payload) and held_by_no_object(payload)
    during = _census_walk()
    del payload
    after = _census_walk()
    assert alone
    assert objects(during, bytes) - objects(before, bytes) == 1
    assert objects(after, bytes) == objects(during, bytes) - 1
    # The reference walk finds such a local too (last: on 3.10-3.12 reading f_locals
    # leaves a dict of the locals on the frame, which keeps them alive).
    walked = reference_walk()
    payload = b"held by this frame alone, again: %d" % id(before)  # noqa: F841 - a local of this frame: what is counted
    assert reference_walk()[bytes] - walked[bytes] == 1


def test_a_local_of_a_function_further_up_the_stack_is_counted():
    def inner():
        return _census_walk()

    def outer(before):
        payload = b"held by the caller's frame: %d" % id(before)
        census = inner()
        assert held_by_no_object(payload)
        return census

    before = _census_walk()
    assert objects(outer(before), bytes) - objects(before, bytes) == 1


def test_a_local_of_another_threads_running_function_is_counted():
    ready, release = threading.Event(), threading.Event()

    def hold():
        payload = b"held by another thread's frame: %d" % id(ready)
        ready.set()
        release.wait()
        assert payload

    before = counts_of(bytes)
    thread = threading.Thread(target=hold)
    thread.start()
    try:
        ready.wait()
        during = counts_of(bytes)
    finally:
        release.set()
        thread.join()
    after = counts_of(bytes)
    assert during[0] - before[0] == 1
    assert during[0] - after[0] == 1


def test_an_untracked_tuple_and_the_floats_in_it_are_counted():
    gc.collect()    # first: a collection may free floats of earlier tests' cycles
    before = _census_walk()
    pair = (len(before) + 0.5, len(before) + 1.5)
    gc.collect()    # untracks the pair: it holds no object the collector could track
    assert not gc.is_tracked(pair) and held_by_no_object(pair)
    after = _census_walk()
    assert objects(after, float) - objects(before, float) == 2
    assert sizes(after, float) - sizes(before, float) == sum(map(sys.getsizeof, pair))
    # The pair is new; so are `before`'s own tuples, one per type, which `after` sees too.
    assert objects(after, tuple) - objects(before, tuple) == 1 + len(before)
    assert after[tuple][0] - after[tuple][1] >= 1    # an untracked one among them


def test_the_permanent_generation_is_a_root(gc_freeze_restored):
    gc.collect()
    before = _census_walk()
    node = Node()
    node.itself = node
    node.payload = b"only a frozen cycle holds this: %d" % id(before)
    size = sys.getsizeof(node)
    gc.freeze()
    del node     # a cycle nothing refers to, kept by the permanent generation
    census = _census_walk()
    assert census[Node] == (1, 1, size, 0)
    assert objects(census, bytes) - objects(before, bytes) == 1
    gc.unfreeze()
    gc.collect()
    assert Node not in _census_walk()


def blocks_grown_and_left(call):
    """pymalloc blocks in use more than before, with call's result, then without it."""
    blocks = sys.getallocatedblocks()
    result = call()
    grown = sys.getallocatedblocks() - blocks
    del result
    return grown, sys.getallocatedblocks() - blocks


def test_the_walk_allocates_nothing_and_collects_nothing():
    """With the threshold out of reach, any collection is one the census caused (and a
    collection would reset generation 0's count)."""
    thresholds = gc.get_threshold()
    events = []
    gc.callbacks.append(lambda phase, info: events.append(phase))
    try:
        gc.collect()
        gc.set_threshold(10**6)
        for _ in range(2):    # fills the free lists the result's objects come from
            blocks_grown_and_left(_census_walk)
            blocks_grown_and_left(dict)
        grown, left = blocks_grown_and_left(_census_walk)
        _, left_by_an_empty_dict = blocks_grown_and_left(dict)
        counts = gc.get_count()
        census = _census_walk()
        counted = gc.get_count()[0] - counts[0]
    finally:
        gc.set_threshold(*thresholds)
        gc.callbacks.pop()
    assert events == ["start", "stop"]    # gc.collect()'s own
    # What the census added is its result (the dict, a tuple per type, the ints past the
    # small ones; some from free lists, so at most one block each), and with the result
    # gone it left no more behind than making and dropping an empty dict does.
    assert 0 <= grown <= 1 + len(census) + result_ints(census)[0]
    assert left <= left_by_an_empty_dict
    assert 0 <= counted <= 1 + len(census)    # a tuple from the free list is not counted


def test_a_second_census_equals_the_first_apart_from_the_first_ones_result():
    gc.collect()
    first = _census_walk()
    second = _census_walk()
    differences = {kind: (second.get(kind), first.get(kind))
                   for kind in first.keys() | second.keys()
                   if second.get(kind) != first.get(kind)}
    own = {tuple: len(first), dict: 1}
    unexplained = {kind: pair for kind, pair in differences.items()
                   if kind not in own and kind not in (int, type)}
    assert unexplained == {}
    for kind, extra in own.items():
        assert objects(second, kind) - objects(first, kind) == extra
    # The first result's keys are types: a static type no root reaches (its instances do
    # not refer to it) becomes reachable through them.  Static types are never tracked.
    static_keys = sum(1 for kind in first if not kind.__flags__ & (1 << 9))  # HEAPTYPE
    assert second[type][1] == first[type][1]
    assert 0 <= second[type][0] - first[type][0] <= static_keys
    new_ints, referenced_ints = result_ints(first)
    assert new_ints <= objects(second, int) - objects(first, int) <= referenced_ints


def _graph(draw, node_types, leaf_type):
    """Random nodes (with __dict__ or __slots__) in lists, tuples, dicts and sets, with
    cycles, closures and leaves; returns the nodes and the leaves."""
    size = draw(st.integers(1, 25))
    nodes = [draw(st.sampled_from(node_types))() for _ in range(size)]
    leaves = [leaf_type(b"leaf-%d" % i) for i in range(draw(st.integers(0, 10)))]
    everything = nodes + leaves
    for node in nodes:
        targets = draw(st.lists(st.sampled_from(everything), max_size=4))
        shape = draw(st.sampled_from(["list", "tuple", "dict", "set", "closure", "direct"]))
        if shape == "list":
            value = list(targets)
        elif shape == "tuple":
            value = tuple(targets)
        elif shape == "dict":
            value = {i: target for i, target in enumerate(targets)}
        elif shape == "set":
            value = set(targets)
        elif shape == "closure":
            value = (lambda held: (lambda: held))(targets)
        else:
            value = targets[0] if targets else None
        node.a = value
        node.b = draw(st.sampled_from(everything))   # cycles, self-loops included
    return nodes, leaves


@settings(max_examples=25, deadline=None)
@given(st.data())
def test_random_graphs_are_counted_exactly(data):
    # Types of this example's own: hypothesis may keep earlier examples' objects.
    node_types = (type("Node", (), {}), type("SlotNode", (), {"__slots__": ("a", "b")}))
    leaf_type = type("Leaf", (bytes,), {"__slots__": ()})
    nodes, leaves = data.draw(st.composite(_graph)(node_types, leaf_type))
    # Only what the two lists (locals) reach stays alive, cycles among them.
    expected = reference_walk()
    census = _census_walk()
    for kind in (*node_types, leaf_type):
        made = [obj for obj in nodes + leaves if type(obj) is kind]
        assert expected[kind] == len(made)
        assert census.get(kind, (0, 0, 0, 0)) == (len(made), len(made),
                                                  sum(map(sys.getsizeof, made)), 0)
    missing = [kind for kind in expected if kind not in census]
    assert missing == []


# ---- the value: memviz.census() ----------------------------------------------------------

def test_the_census_is_its_walk_by_type_name():
    """memviz.census() is the walk's figures by module.qualname, with totals that add
    up, largest bytes first; its own figures leave the test's objects as they were."""
    kept = [Holder(i) for i in range(40)]
    walked = _census_walk()
    value = memviz.census()
    assert value[Holder] == value[type_name(Holder)] == TypeStat(
        type_name(Holder), 40, sizes(walked, Holder), 40)
    assert value[Holder].bytes == sum(sys.getsizeof(h) for h in kept)
    assert value.total_objects == sum(stat.count for stat in value.types)
    assert value.total_bytes == sum(stat.bytes for stat in value.types)
    assert value.tracked_objects == sum(stat.tracked for stat in value.types)
    assert all(0 <= stat.tracked <= stat.count for stat in value.types)
    assert [stat.bytes for stat in value.types] == sorted(
        (stat.bytes for stat in value.types), reverse=True)
    assert 0 < value.sized_by_getsizeof < value.total_objects
    assert len({stat.name for stat in value.types}) == len(value) == len(value.types)


def test_the_census_counts_what_the_collector_does_not():
    value = memviz.census()
    untracked = {"builtins.str", "builtins.int", "builtins.float", "builtins.bytes"}
    assert untracked <= {stat.name for stat in value.types}
    assert value.tracked_objects < value.total_objects
    assert all(value[name].tracked == 0 for name in untracked)


def test_new_instances_raise_their_type_by_their_count_and_bytes():
    before = memviz.census()
    made = [Holder(i) for i in range(25)]
    after = memviz.census()
    grew = after[Holder].count - (before[Holder].count if Holder in before else 0)
    assert grew == 25
    assert after[Holder].bytes - (before[Holder].bytes if Holder in before else 0) == \
        sum(sys.getsizeof(h) for h in made)


def test_top_ranks_by_bytes_or_count():
    value = memviz.census()
    assert value.top(5) == value.types[:5]
    by_count = value.top(5, by="count")
    assert [stat.count for stat in by_count] == sorted(
        (stat.count for stat in value.types), reverse=True)[:5]
    assert value.top(0) == ()
    for bad in ({"by": "size"}, {"n": -1}, {"n": True}, {"n": 2.5}):
        with pytest.raises(ValueError):
            value.top(**bad)


def test_the_census_is_an_immutable_mapping_of_type_names():
    value = memviz.census()
    with pytest.raises(KeyError):
        value["no.such.Type"]
    assert "no.such.Type" not in value and 42 not in value
    assert "builtins.str" in value and str in value
    with pytest.raises(AttributeError):
        value._types = ()
    copy = pickle.loads(pickle.dumps(value))
    assert copy == value and copy.types == value.types
    with pytest.raises(ValueError, match="each type once"):
        Census((TypeStat("a.A", 1, 8, 0), TypeStat("a.A", 2, 16, 0)), 3)


def test_the_report_and_the_html_show_the_census():
    value = memviz.census()
    top = value.types[0]
    text = value.report(5)
    lines = text.splitlines()
    assert lines[0].startswith(f"memviz census: {value.total_objects:,} objects "
                               f"({value.tracked_objects:,} tracked by the collector) in "
                               f"{len(value.types):,} types, {format_bytes(value.total_bytes)}")
    assert lines[1] == f"Types by bytes: top 5 of {len(value.types):,}"
    row = next(line.split() for line in lines if line.split()[:1] == [top.name])
    assert row[1:3] == [f"{top.count:,}", f"{top.tracked:,}"]
    assert lines[-1].split()[:3] == ["(" + f"{len(value.types) - 5:,}", "other", "types)"]
    assert repr(value) == (f"<memviz.Census {value.total_objects:,} objects "
                           f"({value.tracked_objects:,} tracked), {value.total_bytes:,} "
                           f"bytes in {len(value.types):,} types>")
    page = parse_html(value._repr_html_())
    rows = table(page, "census-types")
    assert list(rows) == [stat.name for stat in value.top(15)]
    assert rows[top.name]["bytes"][1] == str(top.bytes)


# -- sizes computed in C -------------------------------------------------------------------


def census_sizeof(obj):
    return _native.census_sizeof("test", obj)


def utf8_cached(text):
    """text, with its UTF-8 copy made and kept (as PyUnicode_AsUTF8 leaves it)."""
    as_utf8 = ctypes.pythonapi.PyUnicode_AsUTF8
    as_utf8.restype, as_utf8.argtypes = ctypes.c_char_p, [ctypes.py_object]
    as_utf8(text)
    return text


def code_with_extras():
    """A code object with three co_extra slots set, as a profiler or JIT sets them."""
    api = ctypes.pythonapi
    request = (getattr(api, "PyUnstable_Eval_RequestCodeExtraIndex", None)
               or api._PyEval_RequestCodeExtraIndex)
    set_extra = getattr(api, "PyUnstable_Code_SetExtra", None) or api._PyCode_SetExtra
    request.restype, request.argtypes = ctypes.c_ssize_t, [ctypes.c_void_p]
    set_extra.restype = ctypes.c_int
    set_extra.argtypes = [ctypes.py_object, ctypes.c_ssize_t, ctypes.c_void_p]
    code = compile("x = 1", "<census>", "exec")
    for _ in range(3):
        assert set_extra(code, request(None), 1) == 0
    return code


def running_frame():
    return sys._getframe()


def generator():
    yield 1


async def _coroutine():
    pass


def coroutine():
    """A coroutine, closed: never awaited, it would warn."""
    made = _coroutine()
    made.close()
    return made


class TextOfMine(str):
    pass


class NumberOfMine(int):
    pass


class ListOfMine(list):
    pass


class DictOfMine(dict):
    pass


def split_dict_instance():
    instances = [Holder(i) for i in range(3)]
    return instances[1]


def grown_bytearray():
    data = bytearray(b"x" * 100)
    data.extend(b"y" * 1000)
    del data[10:]
    return data


def cell():
    x = 1

    def inner():
        return x
    return inner.__closure__[0]


#: Objects of every built-in type the census sizes in C, each kind its __sizeof__
#: tells apart (small and big, compact and not, with and without separate tables).
SIZED_IN_C = {
    "int zero": lambda: int("0"),
    "int small": lambda: int("7"),
    "int negative big": lambda: -(10 ** 100),
    "bool": lambda: True,
    "int subclass": lambda: NumberOfMine(10 ** 40),
    "float": lambda: float("2.5"),
    "complex": lambda: complex(1, 2),
    "str ascii": lambda: "".join(["ascii-", "text"]),
    "str latin-1": lambda: "".join(["caf", "\u00e9"]),
    "str ucs-2": lambda: "".join(["\u1234", "x"]),
    "str ucs-4": lambda: "".join(["\U0001f600", "x"]),
    "str with its utf-8 kept": lambda: utf8_cached("".join(["h\u00e9llo", "\u1234"])),
    "str empty": lambda: "",
    "str subclass (not compact)": lambda: TextOfMine("caf\u00e9 of mine"),
    "bytes": lambda: b"x" * 37,
    "bytearray": lambda: bytearray(b"x" * 37),
    "bytearray with room to spare": grown_bytearray,
    "tuple empty": lambda: (),
    "tuple": lambda: tuple(range(9)),
    "list with room to spare": lambda: [i for i in range(17)],
    "list empty": lambda: [],
    "list subclass": lambda: ListOfMine(range(5)),
    "dict empty": lambda: {},
    "dict small": lambda: {"a": 1},
    "dict big, not str keys": lambda: {i: i for i in range(1000)},
    "dict subclass": lambda: DictOfMine(a=1),
    "dict of an instance": lambda: split_dict_instance().__dict__,
    "set small": lambda: {1, 2},
    "set big": lambda: set(range(1000)),
    "frozenset": lambda: frozenset(range(50)),
    "function": lambda: (lambda: None),
    "cell": cell,
    "bound method": lambda: Holder(1).__init__,
    "builtin method": lambda: [].append,
    "range": lambda: range(3, 70, 2),
    "slice": lambda: slice(1, 9),
    "memoryview": lambda: memoryview(b"abc"),
    "module": lambda: sys.modules["json"],
    "instance with a dict": lambda: Holder(3),
    "instance without attributes": Node,
    "instance with slots": SlotNode,
    "property": lambda: property(lambda self: 1),
    "None": lambda: None,
}

#: Built-in types whose __sizeof__ is their own and not one the census computes: it
#: sizes their objects with sys.getsizeof after the walk.
SIZED_LATER = {
    "type": lambda: Holder,
    "frame": running_frame,
}
#: A generator's __sizeof__ is its own from 3.11 on (it counts the frame inside); on 3.10
#: it is object's.
(SIZED_LATER if sys.version_info >= (3, 11) else SIZED_IN_C).update(
    {"generator": generator, "coroutine": coroutine})
#: code.__sizeof__ is computed in C from 3.11 on; 3.10's counts caches no header describes.
(SIZED_IN_C if sys.version_info >= (3, 11) else SIZED_LATER).update(
    {"code": lambda: census_sizeof.__code__, "code with co_extra": code_with_extras})


@pytest.mark.parametrize("kind", list(SIZED_IN_C))
def test_the_census_sizes_each_built_in_type_in_c_as_sys_getsizeof_does(kind):
    obj = SIZED_IN_C[kind]()
    assert census_sizeof(obj) == sys.getsizeof(obj)


@pytest.mark.parametrize("kind", list(SIZED_LATER))
def test_types_of_other_sizes_are_left_to_sys_getsizeof(kind):
    assert census_sizeof(SIZED_LATER[kind]()) is None


def test_every_object_of_the_heap_sized_in_c_is_sized_as_sys_getsizeof_sizes_it():
    """Object by object over the whole heap (the collector's objects and everything
    they refer to): each one the census sizes in C has sys.getsizeof's size; those it
    leaves are the types of SIZED_LATER, types with a __sizeof__ of their own and types
    whose classes' dicts it does not read."""
    everything = {id(obj): obj for obj in gc.get_objects()}
    pending = list(everything.values())
    while pending:
        for referent in referents(pending.pop()):
            if id(referent) not in everything:
                everything[id(referent)] = referent
                pending.append(referent)
    wrong = {}
    left = set()
    for obj in everything.values():
        size = census_sizeof(obj)
        if size is None:
            left.add(type(obj))
        elif size != sys.getsizeof(obj):
            wrong[type_name(type(obj))] = (size, sys.getsizeof(obj))
    assert wrong == {}
    assert len(everything) > 20_000
    assert {str, int, float, tuple, list, dict, bytes}.isdisjoint(left)
    assert [cls for cls in left if cls.__sizeof__ is object.__sizeof__
            and not any(unreadable_dict(base) for base in cls.__mro__)] == []


def unreadable_dict(cls):
    """A class dict the census does not search for __sizeof__: not exactly a dict (ctypes
    keeps its own kind), or with a key that is not exactly a str.  (The dict itself, as
    the class's traverse reaches it: its mappingproxy would copy it into a plain dict.)"""
    return any(isinstance(own, dict) and (type(own) is not dict
                                          or any(type(key) is not str for key in own))
               for own in gc.get_referents(cls))


class SizedInPython:
    def __sizeof__(self):
        return 1000 + len(self.__dict__)


def test_a_sizeof_written_in_python_is_called_after_the_walk_and_counted():
    before = _census_walk()
    made = [SizedInPython() for _ in range(30)]
    after = _census_walk()
    assert census_sizeof(made[0]) is None
    assert objects(after, SizedInPython) - objects(before, SizedInPython) == 30
    assert sizes(after, SizedInPython) == sum(sys.getsizeof(obj) for obj in made)
    assert after[SizedInPython][3] == 30        # all sized by sys.getsizeof
    assert after[str][3] == 0                   # none of the strs


def test_a_class_whose_dict_has_a_key_that_is_not_a_str_is_left_to_sys_getsizeof():
    """Finding __sizeof__ in such a dict could run the key's __eq__: the census does
    not look, and sys.getsizeof sizes the instances after the walk."""
    with warnings.catch_warnings():     # 3.15 warns of the key; the test means it
        warnings.simplefilter("ignore", RuntimeWarning)
        odd = type("OddKeyed", (), {1: "one"})
    made = [odd() for _ in range(5)]
    walked = _census_walk()
    assert census_sizeof(made[0]) is None
    assert walked[odd] == (5, 5, sum(sys.getsizeof(obj) for obj in made), 5)


@pytest.mark.skipif(sys.version_info[:2] != (3, 12),
                    reason="only 3.12 keeps (immortal) an interned str nothing else holds; "
                           "3.10/3.11 keep them where no header reaches, 3.13+ free them")
def test_an_interned_str_held_by_nothing_else_is_counted():
    before = counts_of(str)
    sys.intern("".join(["census-interned-", str(len(before) + 10**12)]))
    after = counts_of(str)
    assert after[0] - before[0] == 1
    assert after[1] - before[1] == sys.getsizeof("census-interned-1000000000001")
