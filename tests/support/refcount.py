"""The refcount oracle: ``sys.getrefcount`` read at *sites*, small functions that load
the object one way each (test_refcount.py says why and checks on the running interpreter
that the bytecode of each site is what ``site_owns`` assumes).

Imports memviz and the standard library only: subinterpreters and children import it.
"""
from __future__ import annotations

import dis
import sys

import memviz
from memviz import refcount

PY = sys.version_info[:2]

# -- oracles -------------------------------------------------------------------------
#: Loads that push a borrowed stack reference (3.14+). test_sites_getrefcount_sees_borrowing
#: checks on the running interpreter that sys.getrefcount agrees with this set.
BORROWED_LOADS = frozenset({"LOAD_FAST_BORROW", "LOAD_FAST_BORROW_LOAD_FAST_BORROW"})
_CALLS = frozenset({"CALL", "CALL_FUNCTION", "CALL_METHOD"})
_NOT_THE_ARGUMENT = frozenset({"PRECALL", "CACHE", "NOP", "EXTENDED_ARG"})


def argument_loads(code) -> list[str]:
    """For each call in ``code`` with at least one positional argument, the opname of the
    instruction that pushed its last argument; calls whose last argument is itself a
    call (the outer call of ``float(refcount(x))``) are left out."""
    instructions = [i for i in dis.get_instructions(code) if i.opname not in _NOT_THE_ARGUMENT]
    loads = []
    for index, instruction in enumerate(instructions):
        if instruction.opname in _CALLS and instruction.arg and index > 0:
            previous = instructions[index - 1].opname
            if previous not in _CALLS:
                loads.append(previous)
    return loads


def oracle_is_immortal(obj) -> bool:
    """The interpreter's own answer: sys._is_immortal on 3.14+; on 3.12/3.13 the PEP 683
    test ``(int32_t)ob_refcnt < 0``, i.e. bit 31 of the stored count; nothing before."""
    if PY < (3, 12):
        return False
    if hasattr(sys, "_is_immortal"):
        return sys._is_immortal(obj)
    return bool(sys.getrefcount(obj) & (1 << 31))


# -- sites: one way of loading the object each, refcount then sys.getrefcount ---------
# Each returns (float(refcount(obj)), sys.getrefcount(obj)). The float() drops the int
# that refcount returned before sys.getrefcount runs: on 3.10/3.11 small ints are mortal,
# and that int could be the very object being counted.
class Holder:
    pass


class _SiteError(Exception):
    pass


SITE_GLOBAL = None


def site_local(x, holder):
    return float(refcount(x)), sys.getrefcount(x)


def site_local_in_except(x, holder):
    try:
        raise _SiteError
    except _SiteError:
        return float(refcount(x)), sys.getrefcount(x)


def site_global(x, holder):
    return float(refcount(SITE_GLOBAL)), sys.getrefcount(SITE_GLOBAL)


def site_attribute(x, holder):
    return float(refcount(holder.value)), sys.getrefcount(holder.value)


def site_item(x, holder):
    return float(refcount(holder.items[0])), sys.getrefcount(holder.items[0])


def _cell_site():
    # A closure made once: a site that built one per call would itself create new
    # references (on 3.10/3.11 a function object refers to None, its __doc__).
    value = None

    def put_in_cell(obj):
        nonlocal value
        value = obj

    def site_cell(x, holder):
        return float(refcount(value)), sys.getrefcount(value)

    return put_in_cell, site_cell


put_in_cell, site_cell = _cell_site()


SITES = {
    "local": (site_local, site_local.__code__),
    "local_in_except": (site_local_in_except, site_local_in_except.__code__),
    "global": (site_global, site_global.__code__),
    "attribute": (site_attribute, site_attribute.__code__),
    "item": (site_item, site_item.__code__),
    "cell": (site_cell, site_cell.__code__),
}


def site_load(name: str) -> str:
    """The one kind of load a site uses for both of its calls."""
    loads = argument_loads(SITES[name][1])
    assert len(loads) == 2 and loads[0] == loads[1], (name, loads)
    return loads[0]


def site_owns(name: str) -> bool:
    return site_load(name) not in BORROWED_LOADS


def read_at(name: str, holder):
    """(refcount, sys.getrefcount) of holder.value read at a site; the caller also puts
    it in holder.items[0], SITE_GLOBAL and the cell (``hold_everywhere``).

    The site's parameter is passed as ``holder.value``, an owned load. On 3.14+ a
    parameter passed from a borrowed load is itself a borrowed slot of the callee's frame,
    and a plain LOAD_FAST of it pushes a borrowed reference too: the opname alone then no
    longer says who owns what (test_borrowed_parameter shows it)."""
    function = SITES[name][0]
    return function(holder.value, holder)


def expected_refcount(x, getrefcount_value: int, owns: bool) -> int:
    if memviz.is_immortal(x):
        return getrefcount_value
    return getrefcount_value - (1 if owns else 0)


def hold_everywhere(x):
    """Puts x where every site can load it; undo with ``release_everywhere``."""
    global SITE_GLOBAL
    holder = Holder()
    holder.value, holder.items, SITE_GLOBAL = x, [x], x
    put_in_cell(x)
    return holder


def release_everywhere():
    global SITE_GLOBAL
    SITE_GLOBAL = None
    put_in_cell(None)
