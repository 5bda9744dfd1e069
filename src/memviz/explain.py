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
import os
import re
import reprlib
import sys
import types

from . import _native
from . import gc as _memviz_gc
from .holders import path_in, retained_in
from . import pymalloc
from ._errors import MemvizError, PymallocUnavailable
from ._refcount import is_immortal as _is_immortal
from ._refcount import refcount as _refcount
from ._sites import allocation_site, missing_site_reason
from .values.explanation import (GC_HEADER_BYTES, LARGE, MALLOC, PYMALLOC, STATIC, UNKNOWN,
                                 Explanation, Reach)
from .values.names import type_name

__all__ = ["LARGE", "MALLOC", "PYMALLOC", "STATIC", "SUMMARY_WIDTH", "UNKNOWN", "Explanation",
           "Reach", "explain"]

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


def _error_text(error: BaseException) -> str:
    text = str(error) or type(error).__name__
    return f"{type(error).__name__}: {text}" if not isinstance(error, MemvizError) else text


# --------------------------------------------------------------------------------------
# The value


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
    references: int | None
    immortal: bool | None
    try:
        references = _refcount(box[0])
        immortal = bool(_is_immortal(box[0]))
        if not immortal:      # an immortal's stored value does not move: kept as read
            references -= 1 + _CALLER_SLOT
    except Exception as error:
        references = immortal = None
        unavailable.append(("references", _error_text(error)))
        unavailable.append(("immortal", _error_text(error)))
    reached = _reached(box, unavailable)
    held_by, retains = _holding(box, unavailable)
    return _explain(box, references, immortal, reached, held_by, retains, unavailable)


def _holding(box: list, unavailable: list) -> tuple[str | None, int | None]:
    """(the path from a root to ``box[0]`` as ``str(path)``, "" when none; the bytes it
    retains), each None when it could not be read."""
    try:
        path = path_in(box, reading="memviz.explain()")
        held_by = "" if path is None else f"{path} ({len(path)} steps from {path.root})"
    except MemvizError as error:
        unavailable.append(("held by", _error_text(error)))
        held_by = None
    try:
        retains = retained_in(box, reading="memviz.explain()")
    except Exception as error:      # a __sizeof__ of any object of the heap may raise
        unavailable.append(("retains", _error_text(error)))
        retains = None
    return held_by, retains


def _reached(box: list, unavailable: list) -> Reach | None:
    """How the census meets ``box[0]``; this frame holds it only through ``box``, which
    the walk does not follow."""
    try:
        root, referrer = _native.census_reach("memviz.explain()", box)
    except MemvizError as error:
        unavailable.append(("reached", _error_text(error)))
        return None
    if referrer is None:
        return Reach(root)
    if root == "a running frame" and isinstance(referrer, (types.CodeType, types.FrameType)):
        # 3.11+ meets a frame's locals through its code; 3.10 through the frame object.
        code = referrer.f_code if isinstance(referrer, types.FrameType) else referrer
        name = getattr(code, "co_qualname", code.co_name)   # co_qualname: 3.11+
        return Reach(root, "function", f"{name} ({code.co_filename}:{code.co_firstlineno})")
    module = _module_of_globals(referrer)
    if module is not None:
        return Reach(root, "module's globals", module)
    return Reach(root, _type_name(type(referrer)), _short_repr(referrer))


def _module_of_globals(referrer: object) -> str | None:
    """The name of the module whose ``__dict__`` ``referrer`` is, or None."""
    if type(referrer) is not dict:
        return None
    name = referrer.get("__name__")
    module = sys.modules.get(name) if isinstance(name, str) else None
    return name if module is not None and getattr(module, "__dict__", None) is referrer else None


def _explain(box: list, references, immortal, reached: Reach | None, held_by: str | None,
             retains: int | None, unavailable: list) -> Explanation:
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
        sizeof = cls.__sizeof__(obj)   # type: ignore[call-arg]  # the type's, unbound
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
        reached=reached,
        held_by=held_by,
        retains=retains,
    )


def _type_flags(cls: type) -> int:
    try:
        return int(type.__dict__["__flags__"].__get__(cls, type))
    except Exception:
        return 0


def _header_size(flags: int, gc_capable: bool) -> int:
    """Bytes in front of the object (``_PyType_PreHeaderSize``)."""
    size = GC_HEADER_BYTES if gc_capable else 0
    managed = 0
    if _VERSION >= (3, 11):
        managed |= flags & _MANAGED_DICT
    if _VERSION >= (3, 12):
        managed |= flags & _MANAGED_WEAKREF
    if managed:
        size += GC_HEADER_BYTES   # two pointers: dict and values (3.11) / dict and weakrefs
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
        pool: pymalloc.Pool | None = None
        arena: pymalloc.Arena | None = None
        try:
            for each_arena in pymalloc.arenas():
                if each_arena.address == block.arena_address:
                    arena = each_arena
                    break
            if arena is not None:
                for each_pool in arena.pools:
                    if each_pool.address == block.pool_address:
                        pool = each_pool
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
