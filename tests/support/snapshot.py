"""A snapshot's own objects, as the standard library sees them: what the snapshot keeps
(``footprint``) and the C walk's rule for memviz's own objects written again in Python
over ``gc.get_referents`` (``split_own``); established in test_snapshot.py."""
from __future__ import annotations

import array
import gc
import sys
import threading
from collections import Counter

from memviz.snapshot import type_name


def names(objects) -> Counter:
    return Counter(type_name(type(o)) for o in objects)


def footprint(snap) -> Counter:
    return names(snap.gc_footprint())


def memviz_types() -> set[type]:
    """The classes memviz defines at module level: the snapshot's rule for whose instances
    are memviz's own."""
    return {value for name, module in list(sys.modules.items())
            if name == "memviz" or name.startswith("memviz.")
            for value in vars(module).values()
            if isinstance(value, type) and value.__module__ == name}


#: What memviz builds its values from (the snapshot's part types, written again here).
PART_TYPES = (tuple, list, dict, set, frozenset, array.array, type(threading.Lock()))


def split_own(referees) -> tuple[list[Counter], list[Counter]]:
    """The referee of the C walk's rule, in Python: from every listed instance of
    memviz's classes, a walk of gc.get_referents through objects of PART_TYPES and
    memviz's classes only; (per generation, by type name: the others, those)."""
    own_types = memviz_types()
    stack = [obj for referee in referees for obj in referee if type(obj) in own_types]
    own: dict[int, object] = {}
    while stack:
        obj = stack.pop()
        if id(obj) in own:
            continue
        own[id(obj)] = obj
        stack.extend(r for r in gc.get_referents(obj) if gc.is_tracked(r)
                     and (type(r) in PART_TYPES or type(r) in own_types))
    others = [names(o for o in referee if id(o) not in own) for referee in referees]
    mine = [names(o for o in referee if id(o) in own) for referee in referees]
    return others, mine


#: A value that ``with_field`` deletes instead of setting.
DELETE = object()


def with_field(document: dict, path: tuple, value) -> dict:
    """``document`` with the field at ``path`` set to ``value`` (or deleted: DELETE), in
    place; returned for chaining."""
    target = document
    for key in path[:-1]:
        target = target[key]
    if value is DELETE:
        del target[path[-1]]
    else:
        target[path[-1]] = value
    return document
