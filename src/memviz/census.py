"""The heap census: every object reachable from the interpreter's roots, counted per type.

Unlike ``memviz.gc.type_counts()``, which counts the collector's lists, the census also
counts what the collector never tracks (str, bytes, int, float, untracked tuples and
dicts) and what only a running function's frame holds (csrc/census.c walks it in C).
Only the raw walk lives here so far; the public value comes with the rest of the census.
"""
from __future__ import annotations

from . import _native


def _census_walk() -> dict[type, tuple[int, int, int]]:
    """{type: (objects, tracked_objects, bytes)}: every object reachable from the
    collector's lists, sys.modules, builtins, the sys dict and every thread's running
    frames, once; bytes is the sum of their ``sys.getsizeof()``, taken after the walk."""
    return _native.census("census")
