"""Reference counts: ``refcount(obj)`` and ``is_immortal(obj)``.

Both are the C core's METH_O functions themselves (as fast as ``sys.getrefcount``)
where the core can read this interpreter, and stand-ins that raise
``UnsupportedInterpreter`` elsewhere.

What ``refcount(obj)`` counts: the references to ``obj`` held by everything except the
call itself. On 3.10-3.13 that is ``sys.getrefcount(obj) - 1``. From 3.14 on, the
interpreter may pass a local variable to a call as a *borrowed* stack reference
(``LOAD_FAST_BORROW``), and ``sys.getrefcount`` then reports one less than its docs say;
memviz looks at the caller's stack slot and subtracts the call's reference only when the
call really holds one, so ``x = []; memviz.refcount(x)`` is 1 on every version. Immortal
objects (3.12+) report the stored value, as ``sys.getrefcount`` does.
"""
from __future__ import annotations

from . import _native


def _unsupported(name: str):
    def reading(obj: object):
        _native.require_objects(f"memviz.{name}()")
        raise AssertionError("unreachable: require_objects raises here")

    reading.__name__ = reading.__qualname__ = name
    return reading


_functions = _native.refcount_functions()
if _functions is not None:
    refcount, is_immortal = _functions
else:
    refcount = _unsupported("refcount")
    is_immortal = _unsupported("is_immortal")
del _functions
