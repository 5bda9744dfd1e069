"""Step 1. References: the lesson (see ``memviz.tour``)."""
from __future__ import annotations

import gc
import sys


from .._words import signed
from ._stage import Tour, collection_count, collector_restored


def lesson_references(t: Tour) -> None:
    t.say("""
        Every CPython object carries a reference count (ob_refcnt): how many references
        to it exist. memviz.refcount(obj) reads it, not counting the reference of the call
        itself. The classic example:
    """)
    if t.cannot_read("refcount"):
        return
    s = t.session()
    s.run("test_list = [1, 2, 3]")
    one = s.run("memviz.refcount(test_list)", "the name test_list")
    plus = s.run("sys.getrefcount(test_list)", "one more: its own argument")
    t.reading("references to test_list (memviz.refcount)", one)
    t.reading("sys.getrefcount(test_list)", plus, f"{signed(plus - one)}: the reference "
              "its argument holds while it runs")
    s.run("second_name = test_list")
    two = s.run("memviz.refcount(test_list)")
    s.run("holder = {'key': test_list}", "a container's reference counts too")
    three = s.run("memviz.refcount(test_list)")
    s.run("del second_name, holder")
    back = s.run("memviz.refcount(test_list)")
    t.reading("after a second name, a dict, then del", f"{one} -> {two} -> {three} -> {back}")
    t.say("""
        Inside a function the argument of a call may be passed differently. From 3.14 on,
        CPython can lend a local variable to a call without a new reference (a borrowed
        stack reference, LOAD_FAST_BORROW), and then sys.getrefcount's famous +1 is
        gone. memviz.refcount looks at how the call received its argument, so it says 1
        either way:
    """)
    s.run("""
        def inside_a_function():
            local = [1, 2, 3]
            return sys.getrefcount(local), memviz.refcount(local)
    """)
    in_function = s.run("inside_a_function()")
    if isinstance(in_function, tuple):
        extra = in_function[0] - in_function[1]
        t.reading("sys.getrefcount - memviz.refcount inside a function", extra,
                  "the call held its own reference" if extra == 1 else
                  "the call borrowed the local's reference: no +1")
    t.say("""
        When a count reaches zero the object is freed at once -- no collector involved --
        and so are the objects only it referred to: a destruction cascade. Three nodes in
        a chain, each watched by a weakref whose callback prints when its node goes
        (the collector is disabled here, to show that nothing but reference counting is
        at work):
    """)
    with collector_restored():
        s.run("""
            class Node:
                def __init__(self, name, next=None):
                    self.name, self.next = name, next
        """)
        s.run("head = Node('first', Node('second', Node('third')))")
        s.run("memviz.refcount(head), memviz.refcount(head.next), memviz.refcount(head.next.next)",
              "one each")
        s.run("""
            def farewell(name):
                return lambda ref: print(f"freed: {name}")
        """)
        s.run("watchers = [weakref.ref(node, farewell(node.name)) "
              "for node in (head, head.next, head.next.next)]")
        gc.disable()
        collections = collection_count()
        s.run("del head", "the head's count drops to 0 ...")
        ran = collection_count() - collections
        s.run("[watcher() for watcher in watchers]", "... and the chain is gone")
    t.reading("collections during the cascade", ran, "reference counting alone freed it")
    if sys.version_info >= (3, 12):
        t.say("""
            Some objects never die: since 3.12 (PEP 683) None, True, small ints and many
            more are immortal -- their stored count is a huge constant that increments and
            decrements leave alone.
        """)
        s.run("memviz.is_immortal(None), memviz.refcount(None)")
