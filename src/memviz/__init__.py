"""memviz: exact readings of CPython's memory machinery, as plain Python values.

- ``memviz.refcount(obj)``, ``memviz.is_immortal(obj)``: an object's reference count.
- ``memviz.gc``: the cyclic collector's generations, counted in place.
- ``memviz.capabilities()``: which readings work on this interpreter, and why not.
"""
from . import gc
from ._capabilities import Capabilities, Capability, capabilities
from ._errors import CollectorRunning, MemvizError, PymallocUnavailable, UnsupportedInterpreter
from ._refcount import is_immortal, refcount

__version__ = "0.1.0"

__all__ = [
    "Capabilities",
    "Capability",
    "CollectorRunning",
    "MemvizError",
    "PymallocUnavailable",
    "UnsupportedInterpreter",
    "capabilities",
    "gc",
    "is_immortal",
    "refcount",
]
