"""``memviz.explain(obj)``: everything memviz can read about one object, in words.

The result is an :class:`Explanation`, a frozen dataclass of plain data (the readings)
whose ``str()`` is a short, friendly text: the object's references (and why
``sys.getrefcount`` says otherwise), whether it is immortal, whether the cyclic
collector tracks it and in which generation, and where its memory comes from -- which
pymalloc block, pool and arena, or why it lives outside pymalloc -- and, when
tracemalloc is tracing, the file and line that allocated it. It also renders in
IPython (``_repr_pretty_``) and Jupyter (``_repr_html_``).

``explain`` never raises for an odd object: a reading that is unavailable here (an
interpreter memviz cannot read, pymalloc switched off, a ``__sizeof__`` that raises, the
collector running) becomes a sentence saying so and why, and is listed in
``Explanation.unavailable``.

How ``references`` is counted: it is what ``memviz.refcount(obj)`` would say at the call
site -- the references to ``obj`` not counting the call's own. ``explain``'s own frame
would add one (its parameter), and on 3.10 the caller's value stack keeps the argument
during the call; ``explain`` therefore first moves ``obj`` into a one-item list, drops
its parameter (which, on 3.14+, may hold a borrowed reference or a strong one, depending
on how the caller loaded the argument), counts, and subtracts exactly what is left of its
own: the list's reference and, on 3.10, the caller's argument slot. Called through a C
function (``map(memviz.explain, ...)``, ``functools.partial``) instead of directly from
Python code, on 3.11+ that function's own temporary reference is counted too.
"""
from __future__ import annotations

import gc as _gc
import html
import os
import re
import reprlib
import sys
import textwrap
from dataclasses import dataclass, field

from . import gc as _memviz_gc
from . import pymalloc
from ._errors import MemvizError, PymallocUnavailable
from ._refcount import is_immortal as _is_immortal
from ._refcount import refcount as _refcount
from ._sites import AllocationSite, allocation_site, missing_site_reason
from .values.snapshot import type_name

__all__ = ["Explanation", "explain"]

_VERSION = sys.version_info[:2]

#: References the caller's side of an ``explain(x)`` call holds beyond the caller's own
#: view: on 3.10 the evaluation stack keeps the argument until the call returns (the
#: callee's parameter is a new reference); from 3.11 on, a call from Python code moves
#: the stack's reference into the callee's parameter (or, 3.14+, lends a borrowed one).
_CALLER_SLOT = 1 if _VERSION < (3, 11) else 0

# Type flags (Include/object.h).
_HAVE_GC = 1 << 14
_HEAPTYPE = 1 << 9
_MANAGED_DICT = 1 << 4       # 3.11+
_MANAGED_WEAKREF = 1 << 3    # 3.12+
#: sizeof(PyGC_Head) on 64-bit builds; two pointers on 32-bit ones.
_GC_HEAD = 2 * (8 if sys.maxsize > 2**32 else 4)

# Where an object's memory comes from (Explanation.where).
PYMALLOC = "pymalloc"
STATIC = "static"
LARGE = "large"
MALLOC = "malloc"
UNKNOWN = "unknown"


def _alignment(block) -> int:
    """pymalloc's alignment, from one of its blocks: size class ``i`` serves blocks of
    ``(i + 1) * ALIGNMENT`` bytes (obmalloc.c's ``INDEX2SIZE``), 16 on 64-bit builds, 8
    on some 32-bit ones -- never written down here."""
    return block.block_size // (block.size_class + 1)


def _type_name(cls: type) -> str:
    """``memviz.snapshot.type_name`` (the one reading of a type's name), without the
    ``builtins.`` of the built-in types: an explanation says ``int``, not
    ``builtins.int``."""
    return type_name(cls).removeprefix("builtins.")


#: The longest summary of an object's repr, "..." included.
SUMMARY_WIDTH = 60

# reprlib bounds the cost (a few items of a container, a slice of a long string); its
# strings and other reprs are left longer than the summary, since reprlib cuts those in
# the middle of a word, and _shorten below cuts them between tokens instead.
_SHORT_REPR = reprlib.Repr()
_SHORT_REPR.maxstring = 4 * SUMMARY_WIDTH
_SHORT_REPR.maxother = 4 * SUMMARY_WIDTH
_SHORT_REPR.maxlevel = 2

#: A token of a repr: a (dotted) name or number, or any one other character.
_TOKEN = re.compile(r"\w+(?:\.\w+)*|.", re.DOTALL)


def _short_repr(obj: object) -> str:
    try:
        text = _SHORT_REPR.repr(obj)
    except Exception:
        text = object.__repr__(obj)
    if not isinstance(text, str):
        text = object.__repr__(obj)
    return _shorten(" ".join(text.split()), SUMMARY_WIDTH)


def _shorten(text: str, width: int) -> str:
    """``text``, or its beginning with "..." in ``width`` characters: cut at a space
    (the end of a word) when that keeps at least half the width, else between two
    tokens, a dotted name at one of its dots: never inside a name. Only a name longer
    than the whole width is cut."""
    if len(text) <= width:
        return text
    room = width - 3
    at_space = text.rfind(" ", 0, room + 1)
    if at_space >= room // 2:
        return text[:at_space].rstrip() + "..."
    end = 0
    for token in _TOKEN.finditer(text):
        if token.end() <= room:
            end = token.end()
            continue
        at_dot = text.rfind(".", token.start(), room)
        if at_dot > token.start():
            end = at_dot
        elif token.end() - token.start() > room:   # too long to show whole anyway
            end = room
        break
    return text[:end].rstrip() + "..."


def _a(number: int) -> str:
    """The article before a number read out: 'an 80-byte block', 'a 64-byte block'."""
    digits = str(number)
    return "an" if digits.startswith("8") or digits in ("11", "18") else "a"


def _error_text(error: BaseException) -> str:
    text = str(error) or type(error).__name__
    return f"{type(error).__name__}: {text}" if not isinstance(error, MemvizError) else text


# --------------------------------------------------------------------------------------
# The value


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
    allocated (``memviz._sites.AllocationSite``, file and line) when tracemalloc was
    tracing and recorded it; otherwise ``reason("allocated")`` says why not.
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
    block: object | None = None           # memviz.pymalloc.Block
    pool: object | None = None            # memviz.pymalloc.Pool
    arena: object | None = None           # memviz.pymalloc.Arena
    small_request_threshold: int | None = None
    unavailable: tuple[tuple[str, str], ...] = ()
    python: tuple[int, int] = field(default=_VERSION)
    allocated_at: AllocationSite | None = None   # tracemalloc's record (memviz._sites)

    # -- words ------------------------------------------------------------------------

    def reason(self, reading: str) -> str | None:
        """Why ``reading`` ("references", "immortal", "generation", "size", "pymalloc",
        "pool", "allocated") is unavailable, or None when it was read."""
        for name, why in self.unavailable:
            if name == reading:
                return why
        return None

    def lines(self) -> list[tuple[str, str]]:
        """The text as (topic, sentence) pairs: what ``str()`` and the HTML show."""
        return [
            ("references", self._references_text()),
            ("immortal", self._immortal_text()),
            ("collector", self._collector_text()),
            ("memory", self._memory_text()),
            ("size", self._size_text()),
            ("allocated", self._allocated_text()),
        ]

    def headline(self) -> str:
        return f"{self.type_name} object at {self.address:#x}: {self.summary}"

    def text(self, width: int = 88) -> str:
        """The text of ``str()``, wrapped at ``width`` columns."""
        lines = self.lines()
        label = max(len(topic) for topic, _ in lines) + 4
        out = [self.headline()]
        for topic, sentence in lines:
            out.append(textwrap.fill(
                sentence, width=max(width, label + 20), initial_indent=f"  {topic:<{label - 2}}",
                subsequent_indent=" " * label, break_on_hyphens=False,
                break_long_words=False,   # a file name in one piece, however long
            ))
        return "\n".join(out)

    def __str__(self) -> str:
        return self.text()

    def _references_text(self) -> str:
        if self.references is None:
            return f"not available: {self.reason('references')}"
        if self.immortal:
            return (f"not counted: the object is immortal, and {self.references:,} is the "
                    "value its reference count field holds for good (see below)")
        count = self.references
        noun = "reference" if count == 1 else "references"
        text = f"{count:,} {noun} to it, not counting this call's own"
        if count >= 999_999_999 and self.python == (3, 11):
            text += (" (statically allocated objects start at 999,999,999 on 3.11, so that "
                     "the count never reaches zero)")
        if self.python < (3, 14):
            text += (f". sys.getrefcount(obj) says {count + 1:,}: it also counts the "
                     "reference its own argument holds while it runs")
        else:
            text += (f". sys.getrefcount(obj) says {count + 1:,} when its argument is a "
                     f"strong reference (a global, an attribute, a temporary) but {count:,} "
                     "for a local variable: since 3.14 the interpreter may pass a local to a "
                     "call as a borrowed reference (LOAD_FAST_BORROW), without counting it")
        return text

    def _immortal_text(self) -> str:
        if self.immortal is None:
            return f"not available: {self.reason('immortal')}"
        if self.python < (3, 12):
            if self.where == STATIC:
                return ("no (there are no immortal objects before 3.12), but being statically "
                        "allocated it is never freed, whatever its count")
            return ("no (there are no immortal objects before 3.12): the object is freed as "
                    "soon as its count drops to zero")
        if self.immortal:
            return ("yes (PEP 683): its count is pinned, increments and decrements leave it "
                    "alone, and it is never freed -- None, True, small ints, interned strings "
                    "and built-in types are immortal")
        return ("no: the object is freed as soon as its count drops to zero (or by the "
                "collector, when only a cycle of garbage keeps it alive)")

    def _collector_text(self) -> str:
        if not self.gc_capable and self.is_type:
            return ("not tracked: a statically allocated type has no GC header, so the cyclic "
                    "collector never looks at it (classes made at run time do have one)")
        if not self.gc_capable:
            text = ("not tracked: its type has no GC support (no GC header), so the cyclic "
                    "collector never looks at it")
            if self.immortal or self.where == STATIC:
                return text
            return text + "; reference counting alone frees it"
        if self.tracked is None:
            return f"not available: {self.reason('tracked')}"
        if not self.tracked:
            return ("not tracked, although its type supports the collector: CPython leaves "
                    "out containers that cannot be part of a cycle (a tuple or dict that "
                    "holds only ints, strings and the like)")
        if self.generation is None:
            why = self.reason("generation")
            return "tracked; generation " + (f"not available: {why}" if why else "unknown")
        names = {
            0: "generation 0, the youngest: it has not survived a collection yet",
            1: "generation 1: it survived one collection of generation 0",
            2: "generation 2, the oldest: it survived collections of the younger ones",
            3: ("the permanent generation: frozen by gc.freeze() (3.12/3.13 also move objects "
                "there that became immortal), never collected"),
        }
        return "tracked, in " + names.get(int(self.generation), f"generation {self.generation}")

    def _memory_text(self) -> str:
        threshold = self.small_request_threshold or 512
        if self.where == PYMALLOC and self.block is not None:
            block = self.block
            smallest = block.block_size - _alignment(block) + 1
            text = (f"{_a(block.block_size)} {block.block_size}-byte pymalloc block (size class {block.size_class}: "
                    f"requests of {smallest}-{block.block_size} bytes) at "
                    f"{block.block_address:#x}")
            offset = self.address - block.block_address
            guard = offset - self.header_size
            if guard > 0:
                text += (f", the object {offset} bytes into it (after the debug hooks' "
                         f"{guard}-byte prefix and its {self.header_size}-byte header)")
            elif offset:
                text += f", the object {offset} bytes into it (after its header)"
            pool = self.pool
            if pool is not None:
                share = pool.blocks_in_use / pool.capacity if pool.capacity else 0.0
                text += (f"; pool {pool.address:#x} holds {pool.blocks_in_use} of its "
                         f"{pool.capacity} blocks of {pool.block_size} bytes ({share:.0%} full)")
            else:
                text += f"; pool {block.pool_address:#x} (its fill: {self.reason('pool')})"
            arena = self.arena
            if arena is not None:
                used = arena.pools_total - arena.pools_free
                text += (f"; arena {arena.index} at {arena.address:#x} has {used} of its "
                         f"{arena.pools_total} pools in use")
            else:
                text += f"; arena {block.arena_address:#x}"
            return text
        if self.where == STATIC:
            return ("outside pymalloc: statically allocated, part of "
                    f"{self.where_detail} since the program was loaded; never freed")
        if self.where == LARGE:
            return (f"outside pymalloc: too large for it ({self.where_detail}; pymalloc serves "
                    f"requests of up to {threshold} bytes), so it came from the C library's "
                    "malloc")
        if self.where == MALLOC:
            return f"outside pymalloc: {self.where_detail}"
        return f"unknown: {self.where_detail}"

    def _allocated_text(self) -> str:
        if self.allocated_at is None:
            return f"not known: {self.reason('allocated')}"
        return f"at {self.allocated_at}, as tracemalloc recorded it"

    def _size_text(self) -> str:
        parts = []
        if self.getsizeof is not None and self.sizeof is not None:
            added = self.getsizeof - self.sizeof
            text = f"sys.getsizeof says {self.getsizeof:,} bytes: {self.sizeof:,} from __sizeof__"
            if added:
                if added == self.header_size:
                    text += f" + {added} for the header in front of the object"
                elif self.header_size == 0:
                    text += (f" + {added} for a GC header this object does not have "
                             "(statically allocated types have none)")
                else:
                    text += f" + {added} of its {self.header_size}-byte header"
            elif self.header_size:
                text += f", without the {self.header_size}-byte header in front of the object"
            else:
                text = (f"sys.getsizeof says {self.getsizeof:,} bytes, all of them from "
                        "__sizeof__ (no header in front of the object)")
            parts.append(text)
        else:
            parts.append(f"sys.getsizeof not available: {self.reason('size')}")
        if self.header_size:
            what = f"{_GC_HEAD} bytes of GC header (PyGC_Head)" if self.gc_capable else ""
            extra = self.header_size - (_GC_HEAD if self.gc_capable else 0)
            if extra:
                what += (" + " if what else "") + f"{extra} bytes of __dict__/weakref pointers"
            parts.append(f"header: {what}")
        if self.block is not None and self.sizeof is not None:
            guard = self.address - self.block.block_address - self.header_size
            used = self.header_size + self.sizeof
            if guard > 0:
                parts.append(f"the block also holds the debug hooks' {guard}-byte prefix "
                             "and their guard bytes after the object")
            elif used > self.block.block_size:
                parts.append(f"__sizeof__ counts {used - self.block.block_size:,} bytes that "
                             "live elsewhere (separately allocated storage, e.g. a list's "
                             "items or a dict's table)")
            elif self.block.block_size - used >= _alignment(self.block):
                parts.append(f"the block has {self.block.block_size - used:,} bytes more than "
                             "header + __sizeof__: the type allocates more than __sizeof__ "
                             "reports")
        return "; ".join(parts)

    # -- IPython / Jupyter ------------------------------------------------------------

    def _repr_pretty_(self, printer, cycle: bool) -> None:
        printer.text(str(self) if not cycle else "Explanation(...)")

    def _repr_html_(self) -> str:
        rows = "".join(
            "<tr><th style=\"text-align:left;vertical-align:top;padding-right:1em\">"
            f"{html.escape(topic)}</th><td style=\"text-align:left\">{html.escape(text)}</td></tr>"
            for topic, text in self.lines()
        )
        return (
            "<div class=\"memviz-explanation\">"
            f"<p><code>{html.escape(self.headline())}</code></p>"
            f"<table>{rows}</table></div>"
        )


# --------------------------------------------------------------------------------------
# Reading


def explain(obj: object, /) -> Explanation:
    """Everything memviz can read about ``obj``, as an :class:`Explanation` (print it).

    Never raises for an odd object: readings that are unavailable become sentences.
    """
    # See the module docstring: after this, this frame holds obj only through `box`.
    box = [obj]
    del obj
    unavailable: list[tuple[str, str]] = []
    try:
        references = _refcount(box[0])
        immortal = bool(_is_immortal(box[0]))
        if not immortal:      # an immortal's stored value does not move: kept as read
            references -= 1 + _CALLER_SLOT
    except Exception as error:
        references = immortal = None
        unavailable.append(("references", _error_text(error)))
        unavailable.append(("immortal", _error_text(error)))
    return _explain(box, references, immortal, unavailable)


def _explain(box: list, references, immortal, unavailable: list) -> Explanation:
    obj = box[0]
    cls = type(obj)
    flags = _type_flags(cls)
    gc_capable = bool(flags & _HAVE_GC)
    if issubclass(cls, type):
        gc_capable = gc_capable and bool(_type_flags(obj) & _HEAPTYPE)   # type's tp_is_gc
    header = _header_size(flags, gc_capable)

    tracked = generation = None
    try:
        tracked = _gc.is_tracked(obj)
    except Exception as error:
        unavailable.append(("tracked", _error_text(error)))
    if tracked:
        try:
            generation = _memviz_gc.generation_of(obj)
        except Exception as error:
            unavailable.append(("generation", _error_text(error)))

    getsizeof = sizeof = None
    try:
        getsizeof = sys.getsizeof(obj)
        sizeof = cls.__sizeof__(obj)
        if not isinstance(sizeof, int):
            raise TypeError("__sizeof__ returned a non-int")
        sizeof = int(sizeof)
    except Exception as error:
        getsizeof = sizeof = None
        unavailable.append(("size", _error_text(error)))

    where, detail, block, pool, arena, threshold = _locate(obj, header, sizeof, unavailable)
    allocated_at = allocation_site(obj)
    if allocated_at is None:
        unavailable.append(("allocated", missing_site_reason(obj)))
    return Explanation(
        type_name=_type_name(cls),
        address=id(obj),
        summary=_short_repr(obj),
        references=references,
        immortal=immortal,
        gc_capable=gc_capable,
        is_type=issubclass(cls, type),
        tracked=tracked,
        generation=generation,
        getsizeof=getsizeof,
        sizeof=sizeof,
        header_size=header,
        where=where,
        where_detail=detail,
        block=block,
        pool=pool,
        arena=arena,
        small_request_threshold=threshold,
        unavailable=tuple(unavailable),
        allocated_at=allocated_at,
    )


def _type_flags(cls: type) -> int:
    try:
        return int(type.__dict__["__flags__"].__get__(cls, type))
    except Exception:
        return 0


def _header_size(flags: int, gc_capable: bool) -> int:
    """Bytes in front of the object (``_PyType_PreHeaderSize``)."""
    size = _GC_HEAD if gc_capable else 0
    managed = 0
    if _VERSION >= (3, 11):
        managed |= flags & _MANAGED_DICT
    if _VERSION >= (3, 12):
        managed |= flags & _MANAGED_WEAKREF
    if managed:
        size += _GC_HEAD   # two pointers: dict and values (3.11) / dict and weakrefs
    return size


def _locate(obj, header: int, sizeof: int | None, unavailable: list):
    """(where, detail, block, pool, arena, small_request_threshold)."""
    threshold = None
    try:
        threshold = pymalloc.layout().small_request_threshold
    except Exception:
        pass
    try:
        block = pymalloc.locate(obj)
    except PymallocUnavailable as error:
        unavailable.append(("pymalloc", str(error)))
        return MALLOC, f"pymalloc is switched off ({error})", None, None, None, threshold
    except Exception as error:
        unavailable.append(("pymalloc", _error_text(error)))
        return UNKNOWN, f"memviz cannot tell here: {_error_text(error)}", None, None, None, \
            threshold
    if block is not None:
        pool = arena = None
        try:
            for candidate in pymalloc.arenas():
                if candidate.address == block.arena_address:
                    arena = candidate
                    break
            if arena is not None:
                for candidate in arena.pools:
                    if candidate.address == block.pool_address:
                        pool = candidate
                        break
            if pool is None:
                unavailable.append(("pool", "the pool was not in the arena map read just after"))
        except Exception as error:
            unavailable.append(("pool", _error_text(error)))
        return PYMALLOC, "", block, pool, arena, threshold

    address = id(obj)
    image = _image_of(address)
    if image is not None:
        return STATIC, image, None, None, None, threshold
    limit = threshold or 512
    if sizeof is not None and sizeof + header > limit:
        detail = f"__sizeof__ {sizeof:,} + header {header} = {sizeof + header:,} bytes"
        return LARGE, detail, None, None, None, threshold
    return (MALLOC, "allocated by something other than pymalloc (the C library's malloc, "
            "or an extension's own allocator)", None, None, None, threshold)


def _image_of(address: int) -> str | None:
    """The file whose loaded image (its data or its zero-filled .bss right after it)
    contains ``address``, from /proc/self/maps; None for heap and anonymous memory or
    where /proc cannot be read."""
    try:
        fd = os.open("/proc/self/maps", os.O_RDONLY)
    except OSError:
        return None
    try:
        chunks = []
        while True:
            chunk = os.read(fd, 65536)
            if not chunk:
                break
            chunks.append(chunk)
    except OSError:
        return None
    finally:
        os.close(fd)
    previous_file = None
    previous_end = None
    for line in b"".join(chunks).decode(errors="replace").splitlines():
        fields = line.split(None, 5)
        if len(fields) < 5:
            continue
        start, _, end = fields[0].partition("-")
        try:
            start_address, end_address = int(start, 16), int(end, 16)
        except ValueError:
            continue
        path = fields[5].strip() if len(fields) > 5 else ""
        if path.startswith("/"):
            if start_address <= address < end_address:
                return os.path.basename(path)
            previous_file, previous_end = path, end_address
            continue
        if (not path and previous_file is not None and start_address == previous_end
                and start_address <= address < end_address):
            return os.path.basename(previous_file) + " (its zero-initialised data)"
        previous_file = previous_end = None
    return None
