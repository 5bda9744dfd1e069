"""Step 2. Cycles: the lesson (see ``memviz.tour``)."""
from __future__ import annotations

import gc


from .._words import signed
from ._stage import Tour, collector_restored, gen0_count


def lesson_cycles(t: Tour) -> None:
    t.say("""
        Reference counting cannot free a cycle: each object in it is referred to by
        another, so no count reaches zero even when nothing outside refers to them. The
        cyclic garbage collector (the gc module) finds such groups. First a collection, so
        that what the next one finds is ours alone; then, with the collector disabled, a
        list that contains itself and two dicts that refer to each other:
    """)
    if t.cannot_read("gc"):
        return
    s = t.session()
    with collector_restored():
        gc.collect()
        gc.disable()
        lists, dicts = gen0_count(list), gen0_count(dict)
        s.run("loop = []")
        s.run("loop.append(loop)", "a list that contains itself")
        s.run("memviz.refcount(loop)", "the name, and its own item")
        s.run("left, right = {}, {}")
        s.run("left['other'] = right; right['other'] = left")
        s.run("memviz.refcount(left), memviz.refcount(right)")
        s.run("memviz.gc.generation_of(loop), memviz.gc.generation_of(left)",
              "new: generation 0")
        s.run("del loop, left, right", "no name refers to them any more ...")
        lists_kept, dicts_kept = gen0_count(list) - lists, gen0_count(dict) - dicts
        t.say("""
            ... yet each still has a count of 1, from inside its cycle, and they are still
            on generation 0's list (memviz.gc.type_counts(0), before and after):
        """)
        t.reading("lists in generation 0 after del", signed(lists_kept))
        t.reading("dicts in generation 0 after del", signed(dicts_kept))
        found = s.run("gc.collect()", "the collector finds the unreachable cycles")
        t.reading("gc.collect() found", found, "unreachable objects")
        t.reading("lists in generation 0 after the collection",
                  signed(gen0_count(list) - lists))
        t.reading("dicts in generation 0 after the collection",
                  signed(gen0_count(dict) - dicts))

        t.say("""
            Automatic collection is what gc.disable() turns off: cycles then pile up
            until gc.collect() or gc.enable(). Generation 0 is collected by itself once
            its count of new tracked objects passes its threshold. A gc.callbacks hook
            prints each collection as it happens:
        """)
        s.run("gc.isenabled()")
        s.run("for i in range(3): cell = []; cell.append(cell)", "three more cycles")
        s.run("del cell")
        s.run("gc.get_count()", "generation 0's count: tracked objects made (less those freed) "
              "since its last collection")
        seen: list[tuple[int, int]] = []

        def announce(phase, info):
            if phase == "stop":
                seen.append((info["generation"], info["collected"]))
                print(f"(the collector ran by itself: generation {info['generation']}, "
                      f"{info['collected']} collected)")

        gc.callbacks.append(announce)
        s.run("gc.enable()")
        s.run("junk = [[] for i in range(gc.get_threshold()[0] + 10)]",
              "more new containers than the threshold")
        gc.callbacks.remove(announce)
        s.run("del junk")
    t.reading("automatic collections after gc.enable()", len(seen),
              ", ".join(f"generation {g}: {n} collected" for g, n in seen) or "none")
