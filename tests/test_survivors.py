"""memviz.track(survivors=True): the objects a block created and left alive, against
what the test itself leaked (counted, sized with sys.getsizeof, and reached by eval of
each path)."""
from __future__ import annotations

import sys
import types

import pytest

import memviz
from support.capabilities import needs

pytestmark = needs("gc")

MODULE = "memviz_test_survivors"
LEAK = f"{__name__}.Leak"
# 3.10 keeps an instance's attributes in a dict of its own, which it made too
PER_LEAK = {LEAK} | ({"builtins.dict"} if sys.version_info < (3, 11) else set())


class Leak:
    def __init__(self, serial):
        self.serial = serial


@pytest.fixture
def store():
    made = types.ModuleType(MODULE)
    made.STORE = []
    sys.modules[MODULE] = made
    yield made.STORE
    del sys.modules[MODULE]


def leak(store: list, count: int, start: int = 1000) -> None:
    for serial in range(start, start + count):     # a str of its own: made by the block
        store.append(Leak(f"serial {serial}"))


def by_name(tracker) -> dict:
    return {survivor.name: survivor for survivor in tracker.survivors()}


def test_a_block_that_leaks_n_objects_reports_exactly_them_with_a_path(store):
    with memviz.track(survivors=True) as tracker:
        leak(store, 23)
        temporary = [Leak(i) for i in range(500)]  # alive at the end too: a local
    del temporary
    found = by_name(tracker)
    survivor = found[LEAK]
    assert survivor.count == 23 + 500
    assert survivor.bytes == sum(map(sys.getsizeof, store)) + 500 * sys.getsizeof(store[0])
    assert survivor.path is not None
    assert type(survivor.path.objects[-1]) is Leak
    assert eval(str(survivor.path), {"sys": sys, "store": store}) is survivor.path.objects[-1]


def test_what_the_block_made_and_freed_is_no_survivor(store):
    with memviz.track(survivors=True) as tracker:
        for _ in range(3):     # of another type: before 3.13 one made where an object of
            [bytearray(40) for _ in range(1000)]     # its own type lay is taken for it
        leak(store, 17)
    found = by_name(tracker)
    assert set(found) == PER_LEAK | {"builtins.str"}
    assert found[LEAK].count == 17
    assert found["builtins.str"].count == 17      # each serial
    assert str(found[LEAK].path).startswith("store[")     # this test's own local is nearest


@pytest.mark.skipif(sys.version_info < (3, 13),
                    reason="before 3.13 nothing tells memviz an object was freed: one made "
                           "where it lay is taken for it (README, track)")
def test_an_object_made_where_a_freed_one_lay_is_found(store):
    old = [Leak(i) for i in range(2000)]
    with memviz.track(survivors=True) as tracker:
        del old[:]          # their blocks are free for what the block makes next
        leak(store, 1500)
    assert by_name(tracker)[LEAK].count == 1500


def test_a_decorated_function_reports_what_each_call_leaves(store):
    @memviz.track(survivors=True)
    def handle(count):
        leak(store, count)

    handle(5)
    assert by_name(handle.tracker)[LEAK].count == 5
    handle(8)
    assert by_name(handle.tracker)[LEAK].count == 8


def test_survivors_are_asked_of_a_tracker_that_looks_for_them():
    with memviz.track() as tracker:
        pass
    with pytest.raises(RuntimeError, match="survivors=True"):
        tracker.survivors()
    with pytest.raises(RuntimeError, match="has not run"):
        memviz.track(survivors=True).survivors()
