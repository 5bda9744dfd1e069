"""The collector's oracle: ``gc.get_objects(generation=i)`` against ``generations()``,
with the reading's own result objects accounted for (test_gc.py's docstring says which
objects a reading creates, once and for all).

Imports memviz and the standard library only: subinterpreters and children import it.
"""
from __future__ import annotations

import contextlib
import gc
from typing import Iterator

from memviz.gc import generations


@contextlib.contextmanager
def gc_paused() -> Iterator[None]:
    """Disables automatic collections for the block and restores the previous state
    (enabled or not) after it, exceptions included. Manual ``gc.collect()`` still works.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _created_by(result) -> list:
    """The objects a ``generations()`` result added to generation 0 after its reading."""
    return [obj for obj in (result, *result) if gc.is_tracked(obj)]


def _identity_count(haystack, needles) -> int:
    ids = {id(n) for n in needles}
    return sum(1 for obj in haystack if id(obj) in ids)


def assert_generations_match_get_objects():
    """generations()[i].objects == len(gc.get_objects(generation=i)), exactly, with the
    reading's own result objects accounted for by identity."""
    gens = generations()
    listed0 = gc.get_objects(generation=0)
    listed1 = gc.get_objects(generation=1)
    listed2 = gc.get_objects(generation=2)
    created = _created_by(gens)
    # Each object the reading created is in generation 0's list once; nothing else is new.
    assert _identity_count(listed0, created) == len(created)
    assert [g.objects for g in gens] == [len(listed0) - len(created), len(listed1), len(listed2)]
    return gens
