"""The explanation value: what ``memviz.explain(obj)`` read about one object, as plain data.

Its words (``str()``, ``lines()``, the HTML) are ``memviz.render.explanation``'s. Public as
``memviz.explain.Explanation``.
"""
from __future__ import annotations

import sys
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from ..render import explanation as _words
from . import public

if TYPE_CHECKING:   # sibling values, for the fields' types only
    from .pymalloc import Arena, Block, Pool
    from .sites import AllocationSite

_VERSION = sys.version_info[:2]

#: sizeof(PyGC_Head) on 64-bit builds; two pointers on 32-bit ones.
GC_HEADER_BYTES = 2 * (8 if sys.maxsize > 2**32 else 4)

# Where an object's memory comes from (Explanation.where).
PYMALLOC = "pymalloc"
STATIC = "static"
LARGE = "large"
MALLOC = "malloc"
UNKNOWN = "unknown"


@public("memviz.explain")
@dataclass(frozen=True)
class Reach:
    """How the heap census's walk (``memviz.census()``) first meets an object: ``root``
    is the root it comes from (``"sys.modules"``, ``"builtins"``, ``"the sys dict"``,
    ``"the interned strings"``, ``"a running frame"``, or one of the collector's lists,
    walked last), None when no root leads to it; ``through_type`` and ``through`` name
    and show the object it is met through (for a running frame, the function), both None
    when it is the root itself."""

    root: str | None
    through_type: str | None = None
    through: str | None = None

    @property
    def only_from_the_collector(self) -> bool:
        """True when only the collector's lists lead to it: no module, builtin, interned
        string or running frame does (cyclic garbage, or an object held from C)."""
        return self.root is not None and self.root.startswith("the collector's")


@public("memviz.explain")
@dataclass(frozen=True)
class Explanation:
    """What memviz read about one object; ``str()`` says it in words.

    ``references`` is ``memviz.refcount(obj)`` as seen by the caller of ``explain``
    (for an immortal object, the stored value, as ``memviz.refcount`` reports it).
    ``gc_capable`` says whether the object has a GC header (its type supports the
    collector; a class made at run time does, a statically allocated type does not);
    ``is_type`` whether it is a class. ``tracked`` is ``gc.is_tracked(obj)``; ``generation`` is 0, 1, 2,
    ``memviz.gc.PERMANENT`` or None. ``getsizeof`` is ``sys.getsizeof(obj)`` and
    ``sizeof`` the type's ``__sizeof__`` for it; ``header_size`` is the number of bytes
    in front of the object in its allocation (the collector's ``PyGC_Head``; on 3.11+
    also the managed ``__dict__``/weakref pointers). ``where`` is ``"pymalloc"``
    (``block``, ``pool`` and ``arena`` then say which), ``"static"`` (statically
    allocated, ``where_detail`` names the file), ``"large"`` or ``"malloc"`` (from the C
    allocator) or ``"unknown"``. ``unavailable`` lists ``(reading, reason)`` for every
    reading that could not be taken. ``allocated_at`` is where the object's memory was
    allocated (``memviz.values.sites.AllocationSite``, file and line) when tracemalloc was
    tracing and recorded it; otherwise ``reason("allocated")`` says why not.
    ``reached`` is how the heap census's walk meets it (a :class:`Reach`), None when
    ``reason("reached")`` says why it could not walk. ``held_by`` is the shortest path
    from a root to it (``memviz.path_to``: the expression and its root), ``""`` when no
    root leads to it; ``retains`` is ``memviz.retained(obj)``, the bytes releasing it would
    free; each None when unavailable (``reason("held by")``, ``reason("retains")``).
    """

    type_name: str
    address: int
    summary: str
    references: int | None
    immortal: bool | None
    gc_capable: bool
    is_type: bool
    tracked: bool | None
    generation: int | None
    getsizeof: int | None
    sizeof: int | None
    header_size: int
    where: str
    where_detail: str
    block: Block | None = None
    pool: Pool | None = None
    arena: Arena | None = None
    small_request_threshold: int | None = None
    unavailable: tuple[tuple[str, str], ...] = ()
    python: tuple[int, int] = field(default=_VERSION)
    allocated_at: AllocationSite | None = None   # tracemalloc's record (memviz._sites)
    reached: Reach | None = None    # how the census meets it; None: unavailable
    held_by: str | None = None      # str(memviz.path_to(obj)) and its root; "": no path
    retains: int | None = None      # memviz.retained(obj)

    # -- words ------------------------------------------------------------------------

    def reason(self, reading: str) -> str | None:
        """Why ``reading`` ("references", "immortal", "generation", "size", "pymalloc",
        "pool", "allocated", "reached", "held by", "retains") is unavailable, or None when it was read."""
        for name, why in self.unavailable:
            if name == reading:
                return why
        return None

    @property
    def gc_header_bytes(self) -> int:
        """sizeof(PyGC_Head) here: the GC header in front of a GC-capable object."""
        return GC_HEADER_BYTES

    def lines(self) -> list[tuple[str, str]]:
        """The text as (topic, sentence) pairs: what ``str()`` and the HTML show."""
        return _words.lines(self)

    def headline(self) -> str:
        return f"{self.type_name} object at {self.address:#x}: {self.summary}"

    def text(self, width: int = 88) -> str:
        """The text of ``str()``, wrapped at ``width`` columns."""
        return _words.text(self, width)

    def __str__(self) -> str:
        return self.text()

    # -- IPython / Jupyter ------------------------------------------------------------

    def _repr_pretty_(self, printer, cycle: bool) -> None:
        printer.text(str(self) if not cycle else "Explanation(...)")

    def _repr_html_(self) -> str:
        return _words.html(self)
