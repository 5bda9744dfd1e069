"""Step 3. Generations: the lesson (see ``memviz.tour``)."""
from __future__ import annotations

import gc

import memviz

from ._stage import Tour, collector_restored


def lesson_generations(t: Tour) -> None:
    t.say("""
        The collector sorts tracked objects by age into three generations. New objects
        start in generation 0; a collection of a generation moves the survivors one
        generation up. Young objects die young, so generation 0 is collected often and
        generation 2 rarely: generation 0 when its count (tracked objects made, less
        those freed, since its last collection) passes threshold 0, generation 1 after
        threshold 1 collections of generation 0, generation 2 after threshold 2
        collections of generation 1 -- and only once the objects that survived into it
        since its last collection are a quarter of those it holds.
    """)
    if t.cannot_read("gc"):
        return
    s = t.session()
    with collector_restored():
        s.run("gc.get_threshold()")
        s.run("gc.get_count()")
        generations = memviz.gc.generations()
        t.table(("generation", "objects", "count", "threshold", "collections", "collected"),
                [(g.index, f"{g.objects:,}", f"{g.count:,}", f"{g.threshold:,}",
                  f"{g.collections:,}", f"{g.collected:,}") for g in generations])
        t.say("""
            (memviz.gc.generations(): 'objects' is the length of each generation's list,
            counted in C; the others are gc.get_count(), gc.get_threshold() and
            gc.get_stats().) Now a survivor, followed up the generations with the
            collector disabled, so only our collections run:
        """)
        gc.disable()
        s.run("survivor = ['still here']")
        path = [s.run("memviz.gc.generation_of(survivor)")]
        s.run("gc.collect(0)", "collects generation 0: survivors move to 1")
        path.append(s.run("memviz.gc.generation_of(survivor)"))
        young = memviz.gc.generations()[0].objects
        s.run("gc.collect(1)", "collects 0 and 1: survivors move to 2")
        path.append(s.run("memviz.gc.generation_of(survivor)"))
        s.run("gc.collect()", "a full collection: generation 2 stays 2")
        path.append(s.run("memviz.gc.generation_of(survivor)"))
        t.reading("survivor's generation (new, after collect(0), collect(1), collect())",
                  " -> ".join(str(p) for p in path))
        t.reading("objects in generation 0 right after collect(0)", f"{young:,}",
                  "only what was made since")
        t.say("""
            gc.freeze() moves every tracked object into a permanent generation that
            collections ignore (for servers that fork: children then do not touch those
            objects' memory); gc.unfreeze() puts them back into the oldest generation.
        """)
        try:
            s.run("gc.freeze()")
            frozen = s.run("memviz.gc.generation_of(survivor)")
            s.run("memviz.gc.permanent() == gc.get_freeze_count()")
        finally:
            gc.unfreeze()
        s.run("gc.unfreeze()")
        thawed = s.run("memviz.gc.generation_of(survivor)")
        t.reading("survivor's generation (frozen, unfrozen)", f"{frozen!r} -> {thawed!r}")
