"""Who holds an object: ``memviz.referrers(obj)``, ``memviz.path_to(obj)`` and
``memviz.retained(obj)``; who holds the bytes: ``memviz.largest(n)``.

Both are walks in C over the census's graph (csrc/census.c, csrc/paths.c), through
``tp_traverse`` -- tracked objects or not, and the locals, cells and value stacks of every
thread's running frames. ``referrers`` lists every holder; ``path_to`` finds a shortest
chain of references from a root (``sys.modules``, builtins, the ``sys`` dict, a running
frame) to the object, breadth first, and labels each step with how it holds the next.
The collector's lists are no roots for a path: an object only they lead to (cyclic garbage,
or held from C) has none. Neither counts the reference of its own argument.
"""
from __future__ import annotations

import gc
import types
from typing import Callable, Hashable, TypeVar, cast

from . import _native
from .values.holders import Path, Retainer
from .values.names import type_name

__all__ = ["Path", "Retainer", "largest", "path_to", "referrers", "retained"]

#: How deep ``path_to`` looks by default: references followed from a root.
MAX_DEPTH = 64

#: A path's roots as Python code names them (csrc/census.h's MV_ROOT_* order).
_STARTS = {0: ("sys.modules", "sys.modules"), 1: ("builtins", "builtins"),
           2: ("sys", "the sys module")}
_FRAME_ROOT = 4


def referrers(obj: object, /) -> tuple:
    """Every object that holds a reference to ``obj`` -- tracked by the collector or not
    -- and the frame of every running function whose locals, cells or value stack hold
    it, found by one walk in C. This call's own argument is not among them."""
    box = [obj]
    del obj
    return tuple(_native.census_holders("memviz.referrers()", box))


def retained(obj: object, /) -> int:
    """The bytes that would be freed if ``obj`` were released: the sizes (as the census
    sizes them, ``sys.getsizeof``'s) of ``obj`` and of every object that the program's
    roots (``sys.modules``, builtins, the ``sys`` dict, the interned strings, the running
    frames -- not the collector's lists) reach only through it. Two census walks in C: as
    the heap is, and as if ``obj`` were gone. 0 when no root leads to ``obj`` (cyclic
    garbage, or held only from C or by this call)."""
    box = [obj]
    del obj
    return retained_in(box)


def retained_in(box: list, reading: str = "memviz.retained()") -> int:
    """``retained(box[0])`` for a caller that holds the object only through ``box``."""
    return _native.census_retained(reading, box)[1]


def largest(n: int = 10) -> tuple[Retainer, ...]:
    """The ``n`` owners that retain the most bytes, largest first, from one dominator
    computation in C over the census's graph (the program's roots only: what retains
    cyclic garbage is not asked here). Each :class:`Retainer` says the bytes and objects
    it retains -- as ``retained(obj)`` would -- and the path to it.

    Nested owners are shown once, at the level that accumulates the bytes: from the roots
    down the dominator tree, ``sys.modules``, modules and their dicts are passed through
    (their globals are the owners), and so is an owner whose largest dominated object
    retains at least 80 % of its bytes (an instance whose ``__dict__`` holds a cache is
    shown as the cache); a class is shown rather than its dict. No owner listed retains
    another, so their bytes add up."""
    if isinstance(n, bool) or not isinstance(n, int) or n < 0:
        raise ValueError(f"n must be an int >= 0, not {n!r}")
    # The owners and their paths stay in the box, out of the walks' way: a path from
    # this frame's own locals would lead through them.
    box: list = [None, _native.largest_retainers("memviz.largest()", n), []]
    for index in range(len(box[1])):
        box[0] = box[1][index][0]
        # the interned strings are a root no path starts from: none to look for
        path = None if box[1][index][3] else path_in(box, reading="memviz.largest()")
        box[2].append(path)
        del path
    rows, paths = box[1], box[2]
    return tuple(Retainer(owner, type_name(type(owner)), size, count, path)
                 for (owner, size, count, _), path in zip(rows, paths))


def path_to(obj: object, /, *, max_depth: int = MAX_DEPTH) -> Path | None:
    """The shortest chain of references from a root to ``obj`` (a :class:`Path`), or None
    when none of at most ``max_depth`` references leads to it: cyclic garbage, an object
    held only from C or only by this call."""
    if isinstance(max_depth, bool) or not isinstance(max_depth, int) or max_depth < 1:
        raise ValueError(f"max_depth must be an int >= 1, not {max_depth!r}")
    box = [obj]
    del obj
    return path_in(box, max_depth)


def path_in(box: list, max_depth: int = MAX_DEPTH,
            reading: str = "memviz.path_to()") -> Path | None:
    """``path_to(box[0])`` for a caller that holds the object only through ``box``."""
    return path_value(_native.path_to(reading, box, max_depth))


_Key = TypeVar("_Key", bound=Hashable)


def grouped_with_paths(box: list, sizes: list[int], key: Callable[[object], _Key],
                       reading: str) -> list[tuple[_Key, list[int], Path | None]]:
    """The objects of ``box[0]`` (held only through ``box``; ``sizes[i]`` the size of the
    i-th) grouped by ``key``: (key, the indices of its objects, biggest first, the path to
    the biggest) of each group, the groups with the most bytes first. No local holds one
    of the objects while the paths are looked for (one search in C for each group)."""
    groups: dict[_Key, list[int]] = {}
    for i in range(len(box[0])):
        groups.setdefault(key(box[0][i]), []).append(i)
    for members in groups.values():
        members.sort(key=sizes.__getitem__, reverse=True)
    keys = sorted(groups, key=lambda k: -sum(sizes[i] for i in groups[k]))
    found = _native.paths_in(reading, box, tuple(groups[k][0] for k in keys), MAX_DEPTH)
    return [(k, groups[k], path_value(path)) for k, path in zip(keys, found)]


def path_value(found) -> Path | None:
    """The :class:`Path` of one result of the C path search (``_native.path_to``'s)."""
    if found is None:
        return None
    root, frame, slot, objects = found
    if root == _FRAME_ROOT:
        objects = [frame, *objects]     # the frame is met through, not a referent of it
        start, described = _frame_start(frame, slot)
    else:
        start, described = _STARTS[root]
    return Path(tuple(objects), step_labels(objects), start, described)


def step_labels(objects: list) -> tuple[str, ...]:
    """How each of ``objects`` holds the next, as Python code would reach it: the labels
    of a path's steps (also ``memviz.gc.unreachable``'s, for a cycle's loop)."""
    return tuple(_label(objects, i) for i in range(len(objects) - 1))


def _frame_start(frame, slot: int) -> tuple[str, str]:
    """(start, root) for a path from a running frame: the local in its own ``slot``
    (csrc/compat.h's mv_frame_own_slot: locals, cells, free variables, then the value
    stack), or its locals dict (-1). Read from the code's names: reading the frame's
    ``f_locals`` would, before 3.13, copy every local into a dict the frame keeps."""
    code = frame.f_code
    where = f"{getattr(code, 'co_qualname', code.co_name)} ({code.co_filename}:{frame.f_lineno})"
    if slot < 0:
        return f"<the locals of {where}>", f"the locals dict of {where}"
    name = _slot_name(code, slot)
    if name is None:
        return f"<a value on the stack of {where}>", f"the value stack of {where}"
    return name, f"the local {name!r} of {where}"


def _slot_name(code: types.CodeType, slot: int) -> str | None:
    if hasattr(code, "_varname_from_oparg"):     # 3.11+: the frame's own numbering
        try:
            return code._varname_from_oparg(slot)
        except IndexError:
            return None
    names = code.co_varnames + code.co_cellvars + code.co_freevars
    return names[slot] if slot < len(names) else None


def _label(objects: list, i: int) -> str:
    """How ``objects[i]`` holds ``objects[i + 1]``, as Python code would reach it.  Types
    are compared exactly: ``isinstance`` could ask an odd object's own ``__class__``."""
    holder, held = objects[i], objects[i + 1]
    if type(holder) is types.FrameType:
        return ""       # the frame's local is the path's start
    if type(holder) is dict:
        attribute_style = i > 0 and _own_dict(objects[i - 1]) is holder
        for key, value in holder.items():
            if value is held:
                if attribute_style and type(key) is str and key.isidentifier():
                    return f".{key}"
                return f"[{_short(key)}]"
            if key is held:
                return f" <a key of the dict: {_short(key)}>"
        return " <held by the dict>"
    if type(holder) in (list, tuple):
        for index, value in enumerate(holder):
            if value is held:
                return f"[{index}]"
    if _own_dict(holder) is held:
        return ""       # its __dict__: the next step names the attribute
    if type(holder) is types.MethodType:
        return ".__self__" if holder.__self__ is held else ".__func__"
    if type(holder) is types.CellType:
        return ".cell_contents"
    if type(holder) is types.FunctionType:
        return _function_label(holder, held)
    attribute = _attribute_of(holder, held)
    if attribute is not None:
        return f".{attribute}"
    return f" <{type_name(type(holder))} holds a {type_name(type(held))}>"


def _function_label(function: types.FunctionType, held: object) -> str:
    for index, cell in enumerate(function.__closure__ or ()):
        if cell is held:
            return f".__closure__[{index}]"
    for name in ("__globals__", "__defaults__", "__kwdefaults__", "__code__", "__dict__",
                 "__annotations__", "__module__", "__name__", "__qualname__", "__doc__"):
        if getattr(function, name, None) is held:
            return f".{name}"
    return f" <the function holds a {type_name(type(held))}>"


def _own_dict(obj: object):
    """``obj.__dict__`` as the object keeps it (a module's, a class's, an instance's),
    read without running the object's own code and without making one; None without
    one."""
    if issubclass(type(obj), type):
        return _class_dict(cast(type, obj))
    if not any(type(referent) is dict for referent in gc.get_referents(obj)):
        # None made yet (3.11+ keep an instance's attributes inline until asked, a function
        # has none until asked): asking would make one, which the object would then hold.
        return None
    try:
        own = object.__getattribute__(obj, "__dict__")
    except Exception:
        return None
    return own if type(own) is dict else None


def _class_dict(cls: type):
    """The dict behind a class's mappingproxy, as the class's traverse reaches it (the
    proxy read through type's own descriptor: a metaclass's code does not run)."""
    names = _TYPE_DICT.__get__(cls).keys()
    for referent in gc.get_referents(cls):
        if type(referent) is dict and referent.keys() == names:
            return referent
    return None


_TYPE_DICT = type.__dict__["__dict__"]


def _attribute_of(holder: object, held: object) -> str | None:
    """The name of ``holder``'s attribute (in its __dict__, kept inline without one, or in a
    slot) that is ``held``."""
    own = _own_dict(holder)
    if own is not None:
        for key, value in own.items():
            if value is held and type(key) is str:
                return key
    else:
        inline = _native.inline_attribute("memviz.holders", holder, held)
        if inline is not None:
            return inline
    for cls in type(holder).__mro__:
        for name, descriptor in vars(cls).items():
            if type(descriptor) is types.MemberDescriptorType:
                try:
                    if descriptor.__get__(holder) is held:
                        return name
                except AttributeError:
                    continue
    return None


def _short(key: object) -> str:
    text = repr(key) if type(key) in (str, bytes, int, float, bool, type(None)) else None
    if text is None:
        return f"<{type_name(type(key))}>"
    return text if len(text) <= 60 else text[:57] + "..."
