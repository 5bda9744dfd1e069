"""The census's oracle: a pure-Python reference walk of the heap through
``gc.get_referents`` (and a dict's keys), from the roots the census starts from.

Imports the standard library only.
"""
from __future__ import annotations

import builtins
import gc
import sys
from collections import Counter


def _frame_roots(frame) -> list:
    """What a running frame holds, as Python sees it: the frame, its code, globals,
    builtins and locals (the values: 3.13+ hands out a proxy, not the dict), callers too."""
    roots = []
    while frame is not None:
        roots += [frame, frame.f_code, frame.f_globals, frame.f_builtins]
        roots += list(frame.f_locals.values())
        frame = frame.f_back
    return roots


def referents(obj) -> list:
    """What the census follows from ``obj``: ``gc.get_referents(obj)``, and a dict's keys
    (a dict whose keys are all str leaves them out of its traverse, yet holds them)."""
    found = gc.get_referents(obj)
    if issubclass(type(obj), dict):
        found += dict.keys(obj)
    return found


def reference_walk() -> Counter:
    """Counter({type: objects}) of every object reachable from the collector's lists,
    sys.modules, builtins, the sys dict and every thread's frames (the caller's and its
    callers', not this function's own), each counted once by id.

    ``gc.get_objects()`` does not list the permanent generation, so the walk first moves
    it into generation 2 (``gc.unfreeze()``). On 3.12/3.13 the collector puts objects
    that became immortal there by itself, and puts them back at its next collection;
    a test that freezes on purpose must not call this walk while it wants them frozen."""
    gc.unfreeze()
    roots = gc.get_objects()   # first: the walk's own containers are not in it
    roots += [sys.modules, builtins.__dict__, sys.__dict__]
    own_frame = sys._getframe()
    for thread_id, frame in sys._current_frames().items():
        roots += _frame_roots(own_frame.f_back if frame is own_frame else frame)
    del frame, own_frame
    seen = set()
    counts = Counter()
    pending = roots
    while pending:
        obj = pending.pop()
        if id(obj) in seen:
            continue
        seen.add(id(obj))
        counts[type(obj)] += 1
        pending += referents(obj)
    return counts
