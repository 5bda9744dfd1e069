"""The allocation-sites oracle: tracemalloc's own record of every live object of a class
(``recorded_sites``), for the tests of explain, track and run."""
from __future__ import annotations

import gc
import tracemalloc


def recorded_sites(cls: type) -> dict:
    """The oracle for sites: {(filename, lineno) or None: live objects} of exactly
    ``cls``, over gc.get_objects(), from tracemalloc's own record of each (None: no
    record). Shared by the tests of explain, track and run."""
    counts: dict = {}
    for obj in gc.get_objects():
        if type(obj) is cls:
            traceback = tracemalloc.get_object_traceback(obj)
            key = None if traceback is None else (traceback[-1].filename, traceback[-1].lineno)
            counts[key] = counts.get(key, 0) + 1
    return counts
