"""memviz: exact readings of CPython's memory machinery, as plain Python values.

- ``memviz.refcount(obj)``, ``memviz.is_immortal(obj)``: an object's reference count.
- ``memviz.gc``: the cyclic collector's generations, counted in place.
- ``memviz.pymalloc``: pymalloc's arenas, pools and blocks, read in place.
- ``memviz.capabilities()``: which readings work on this interpreter, and why not.
- ``memviz.snapshot()``: all of it in one reading, kept as a value (diff, save, load);
  ``memviz.track()``: a snapshot before and after a block, and the collections between.
- ``memviz.census()``: every object reachable from the roots, tracked by the collector or
  not, with its bytes, per type (which types hold the bytes);
- ``memviz.explain(obj)``: all of that about one object, in words;
  ``memviz.arenamap``: pymalloc's arenas and pools as a picture (terminal, SVG).
- ``memviz.htmlreport``: snapshots and their diffs as one self-contained HTML page
  (``python -m memviz report -o page.html``); snapshots and diffs also render in
  IPython and Jupyter.
- ``python -m memviz tour``: a guided, live walk through all of it (``memviz.tour``).

The package is laid out one way down (README, "Development"): the commands (``cli/``,
``tour``) use the readings (``snapshot``, ``gc``, ``pymalloc``, ``explain``, ``arenamap``
...), which alone call the C boundary (``_native``, over the compiled ``_core``) and
return values (``values/``: immutable, never reading the interpreter); values render
through ``render/`` (text, HTML, the arena map, fed by one view model) and save through
``formats/`` (the versioned snapshot JSON). No module imports one above it.
"""
from . import gc, pymalloc
from ._capabilities import Capabilities, Capability, capabilities
from ._errors import (
    CollectorRunning,
    MemvizError,
    PymallocUnavailable,
    SnapshotFormatError,
    UnsupportedInterpreter,
)
from ._refcount import is_immortal, refcount
from .snapshot import Snapshot, snapshot
from .values.diff import SnapshotDiff, TypeBytesDiff, TypeDiff
from ._track import GcEvent, Survivors, track
from . import arenamap
from .explain import Explanation, explain
from .census import Census, TypeStat, census
from .holders import Path, Retainer, largest, path_to, referrers, retained

from ._version import __version__

__all__ = [
    "Capabilities",
    "Capability",
    "Census",
    "CollectorRunning",
    "Explanation",
    "MemvizError",
    "Path",
    "PymallocUnavailable",
    "GcEvent",
    "Retainer",
    "Snapshot",
    "Survivors",
    "SnapshotDiff",
    "SnapshotFormatError",
    "TypeBytesDiff",
    "TypeDiff",
    "TypeStat",
    "UnsupportedInterpreter",
    "__version__",
    "arenamap",
    "capabilities",
    "census",
    "explain",
    "gc",
    "pymalloc",
    "is_immortal",
    "largest",
    "path_to",
    "referrers",
    "retained",
    "refcount",
    "snapshot",
    "track",
]
