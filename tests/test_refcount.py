"""memviz.refcount and memviz.is_immortal against sys.getrefcount.

What ``refcount(obj)`` promises (src/memviz/_refcount.py): the references to ``obj`` held
by everything except the call itself. ``sys.getrefcount(obj)`` returns the stored count,
which includes the call's own reference *when the call holds one*:

* 3.10-3.13: a call's argument is always a strong (owned) reference on the caller's
  stack, so ``refcount(x) == sys.getrefcount(x) - 1`` wherever both are called the same
  way.
* 3.14+: the compiler loads some locals with ``LOAD_FAST_BORROW``: the stack slot then
  borrows the local's reference and ``sys.getrefcount`` reports one less. Globals,
  attributes, subscripts, cells and locals the compiler cannot prove safe (e.g. inside
  an ``except`` block) are still owned loads. And a parameter passed from a borrowed
  load holds no counted reference of its own: a plain ``LOAD_FAST`` of it pushes a
  borrowed reference too (``test_borrowed_parameter``). ``refcount`` looks at the
  caller's stack slot itself, so it counts the references that exist either way.

The tests below therefore read ``refcount`` and ``sys.getrefcount`` at *sites*: small
functions that load the same object in one way twice (they and the oracle built on them
are in support/refcount.py: other modules hold refcount to it too). Which way each site
loads it is read from its bytecode with ``dis`` (``argument_loads``), and
``test_sites_*`` check that the bytecode is what support/refcount.py assumes on this version and that ``sys.getrefcount`` itself
really reports one less at a borrowed load, so the expected relation is established on
the running interpreter, not assumed. Every site gets its parameter from an owned load,
so that the opname alone says who owns the slot.

Immortal objects (3.12+) report the stored value, as ``sys.getrefcount`` does.
"""
from __future__ import annotations

import builtins
import functools
import gc
import operator
import sys
import threading
import types
import weakref

import pytest
from hypothesis import given, strategies as st

import memviz
from memviz import is_immortal, refcount

from support.capabilities import needs
from support.refcount import (BORROWED_LOADS, SITES, Holder, _SiteError, argument_loads,
                              expected_refcount, hold_everywhere, oracle_is_immortal, read_at,
                              release_everywhere, site_load, site_owns)

PY = sys.version_info[:2]

pytestmark = needs("refcount")


# -- the sites themselves ------------------------------------------------------------
def test_sites_load_as_this_file_assumes():
    loads = {name: site_load(name) for name in SITES}
    assert loads["global"] == "LOAD_GLOBAL"
    assert loads["attribute"] == "LOAD_ATTR"
    assert loads["cell"] == "LOAD_DEREF"
    assert loads["item"] in {"BINARY_SUBSCR", "BINARY_OP"}
    if PY >= (3, 14):
        # Both sides of 3.14's rule are exercised: a borrowed local and an owned one.
        assert loads["local"] in BORROWED_LOADS
        assert loads["local_in_except"] == "LOAD_FAST"
    else:
        assert loads["local"] == loads["local_in_except"] == "LOAD_FAST"
    assert not BORROWED_LOADS & {load for name, load in loads.items() if name != "local"}


def test_sites_getrefcount_sees_borrowing(gc_disabled):
    """sys.getrefcount is one lower at a borrowed load than at an owned one, for the same
    object in the same state: what BORROWED_LOADS claims, measured."""
    holder = hold_everywhere(Holder())
    try:
        seen = {name: read_at(name, holder)[1] for name in SITES}
    finally:
        release_everywhere()
    owned = seen["global"]
    for name, value in seen.items():
        assert value == owned - (0 if site_owns(name) else 1), (name, seen)


def _parameter_site(p):
    try:
        raise _SiteError
    except _SiteError:
        return float(refcount(p)), sys.getrefcount(p)  # a plain LOAD_FAST (owned opname)


def test_borrowed_parameter():
    """3.14+: a parameter passed from a borrowed load holds no counted reference, and a
    LOAD_FAST of it pushes a borrowed one. refcount follows the stack slot, not the
    opname: it counts the references that exist in both cases."""
    assert set(argument_loads(_parameter_site.__code__)) == {"LOAD_FAST"}
    x = Plain()
    holder = Holder()
    holder.value = x
    base = refcount(x)  # this frame's x and holder.value
    on_310_stack = 1 if PY == (3, 10) else 0  # 3.10's caller stack keeps the argument
    owned_param = _parameter_site(holder.value)  # LOAD_ATTR: the parameter owns a reference
    maybe_borrowed_param = _parameter_site(x)  # LOAD_FAST_BORROW on 3.14+
    assert owned_param == (base + 1 + on_310_stack, base + 2 + on_310_stack)
    if PY >= (3, 14):
        assert maybe_borrowed_param == (base, base)
    else:
        assert maybe_borrowed_param == owned_param


# -- refcount vs sys.getrefcount on generated objects --------------------------------
class Plain:
    def __init__(self, payload=None):
        self.payload = payload


class Slotted:
    __slots__ = ("payload",)

    def __init__(self, payload=None):
        self.payload = payload


scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.integers(min_value=-5, max_value=300)  # the small-int cache and just past it
    | st.floats(allow_nan=True)
    | st.text(max_size=20)
    | st.sampled_from(["", "a", "__init__", "memviz"])  # cached, identifier-like, interned
    | st.binary(max_size=20)
)
hashables = st.recursive(scalars, lambda inner: st.tuples(inner, inner) | st.frozensets(inner, max_size=3), max_leaves=6)
objects = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.tuples(inner)
        | st.tuples(inner, inner, inner)
        | st.dictionaries(hashables, inner, max_size=3)
        | st.sets(hashables, max_size=3)
        | st.frozensets(hashables, max_size=3)
        | st.builds(Plain, inner)
        | st.builds(Slotted, inner)
    ),
    max_leaves=12,
)


@given(objects)
def test_refcount_matches_getrefcount_at_every_site(gc_pause, x):
    holder = hold_everywhere(x)
    try:
        with gc_pause():
            for name in SITES:
                got, stored = read_at(name, holder)
                assert got == expected_refcount(x, stored, site_owns(name)), (name, got, stored)
    finally:
        release_everywhere()


@given(objects)
def test_refcount_is_the_same_whichever_way_the_object_is_loaded(gc_pause, x):
    """The point of 3.14's stack-slot check: one object, one state, one answer."""
    holder = hold_everywhere(x)
    try:
        with gc_pause():
            answers = {name: read_at(name, holder)[0] for name in SITES}
    finally:
        release_everywhere()
    assert len(set(answers.values())) == 1, answers


def test_refcount_counts_the_references_there_are():
    """The documented example, and a count derived from how the object is held."""
    x = []
    assert refcount(x) == 1  # the local x
    y = x
    holders = [x] * 5
    assert refcount(x) == 1 + 1 + len(holders)  # x, y, and the five list slots
    del y, holders
    assert refcount(x) == 1
    # Temporaries: only the call's own reference. (Computed outside the assert statement:
    # pytest's assertion rewriting keeps subexpressions in hidden locals.)
    temporaries = float(refcount([])), float(refcount(object())), float(refcount([x]))
    assert temporaries == (0, 0, 0)


def _call_paths():
    """Ways of calling a one-argument function on X_CELL other than a direct call from
    Python code: from C (map, partial, operator.call), through a lambda, through a
    method-wrapper, from another thread."""
    def via_thread(f):
        got = []
        thread = threading.Thread(target=lambda: got.append(f(X_CELL[0])))
        thread.start()
        thread.join()
        return got[0]

    paths = {
        "map": lambda f: list(map(f, X_CELL))[0],
        "partial_with_argument": lambda f: functools.partial(f, X_CELL[0])(),
        "partial": lambda f: functools.partial(f)(X_CELL[0]),
        "python_frame": lambda f: _via_python_frame(f, X_CELL[0]),
        "method_wrapper": lambda f: f.__call__(X_CELL[0]),
        "thread": via_thread,
    }
    if hasattr(operator, "call"):
        paths["operator_call"] = lambda f: operator.call(f, X_CELL[0])
    return paths


X_CELL: list = []


def _via_python_frame(f, v):
    return f(v)


@pytest.mark.parametrize("path", sorted(_call_paths()))
def test_refcount_on_call_paths_that_are_not_python_code(gc_disabled, path):
    """Called from C or through another frame, refcount is sys.getrefcount minus the
    call's own reference, read the same way. The argument starts as X_CELL[0] (an owned
    load); only _via_python_frame's own load of its parameter can be borrowed (3.14+)."""
    call = _call_paths()[path]
    owns = True
    if path == "python_frame":
        (load,) = set(argument_loads(_via_python_frame.__code__))
        owns = load not in BORROWED_LOADS
    X_CELL[:] = [Plain()]
    try:
        got, stored = float(call(refcount)), call(sys.getrefcount)
        assert got == stored - (1 if owns else 0)
    finally:
        X_CELL.clear()


def test_refcount_through_operator_call_of_a_local():
    """operator.call passes its arguments on as they are: with a local loaded borrowed
    (3.14+), neither the call nor sys.getrefcount holds a reference of its own."""
    if not hasattr(operator, "call"):
        pytest.skip("operator.call is new in 3.11")
    x = Plain()
    holder = Holder()
    holder.value = x
    base = refcount(x)  # this frame's x and holder.value
    (load,) = set(argument_loads(_operator_call_site.__code__))
    assert (load in BORROWED_LOADS) is (PY >= (3, 14))
    got, stored = _operator_call_site(holder.value)  # an owned parameter
    assert got == stored - (0 if load in BORROWED_LOADS else 1)
    assert got == base + 1  # and the site's parameter


def _operator_call_site(x):
    return float(operator.call(refcount, x)), operator.call(sys.getrefcount, x)


# -- deltas: references added and removed --------------------------------------------
def _gen(value):
    yield value


def _closure(value):
    def inner():
        return value

    return inner


def _hold(kind: str, x):
    """Something that holds exactly one new reference to x."""
    if kind == "list":
        return [x]
    if kind == "tuple":
        return (x,)
    if kind == "dict_value":
        return {"k": x}
    if kind == "dict_key":
        return {x: None}
    if kind == "set":
        return {x}
    if kind == "attribute":
        holder = Plain()
        holder.payload = x
        return holder
    if kind == "slot":
        return Slotted(x)
    if kind == "cell":
        return _closure(x)
    if kind == "suspended_generator":
        generator = _gen(x)
        next(generator)  # suspended at the yield; its frame's local holds x
        return generator
    if kind == "unstarted_generator":
        return _gen(x)  # the frame already holds the argument
    raise AssertionError(kind)


HOLD_KINDS = ["list", "tuple", "dict_value", "dict_key", "set", "attribute", "slot", "cell",
              "suspended_generator", "unstarted_generator"]


@pytest.mark.parametrize("kind", HOLD_KINDS)
def test_delta_of_one_reference(gc_disabled, kind):
    x = Plain()
    before, stored_before = refcount(x), sys.getrefcount(x)
    held = _hold(kind, x)
    during, stored_during = refcount(x), sys.getrefcount(x)
    del held
    after, stored_after = refcount(x), sys.getrefcount(x)
    assert during - before == stored_during - stored_before == 1
    assert after == before and stored_after == stored_before


@given(st.lists(st.sampled_from(HOLD_KINDS), max_size=12), st.randoms(use_true_random=False))
def test_deltas_of_many_references(gc_pause, kinds, random):
    x = Plain()
    with gc_pause():
        base = refcount(x)
        held = []
        for kind in kinds:
            held.append(_hold(kind, x))
            assert refcount(x) == base + len(held)
        random.shuffle(held)
        while held:
            held.pop()
            assert refcount(x) == base + len(held)
        assert refcount(x) == base


def test_delta_of_a_running_frames_local():
    x = Plain()
    box = [x]
    base = refcount(x)
    seen = []

    def running(probe):
        local = box[0]  # a strong reference in this frame while it runs
        probe()
        return local

    running(lambda: seen.append((refcount(x), refcount(box[0]))))
    # Inside the probe: the frame's local is one more; x is also the lambda's cell
    # (an owned load) and box[0] a subscript: both loads discount the call's reference.
    assert seen == [(base + 1, base + 1)]
    assert refcount(x) == base


def test_delta_through_rebinding_a_cell():
    x, y = Plain(), Plain()
    base_x, base_y = refcount(x), refcount(y)
    value = x

    def inner():
        return value

    assert (refcount(x), refcount(y)) == (base_x + 1, base_y)
    value = y
    assert (refcount(x), refcount(y)) == (base_x, base_y + 1)
    del inner
    assert refcount(y) == base_y + 1  # the cell lives on as this frame's variable


def test_delta_of_a_frame_object_and_its_locals():
    x = Plain()
    base = refcount(x)

    def make_frame():
        local = x  # noqa: F841  (kept alive by the frame object)
        return sys._getframe()

    frame = make_frame()
    assert refcount(x) == base + 1
    frame.clear()
    assert refcount(x) == base
    del frame


# -- immortals -----------------------------------------------------------------------
def _fresh_interned():
    return sys.intern("memviz_interned_" + str(id(object())))


def test_is_immortal_before_3_12_is_always_false():
    if PY >= (3, 12):
        pytest.skip("3.12+ has immortal objects; see test_is_immortal_from_3_12")
    for obj in (None, True, False, 0, 1, -5, 256, "", "a", "__init__", (), Ellipsis,
                NotImplemented, _fresh_interned(), int, type, sys, [], object()):
        assert is_immortal(obj) is False


def test_is_immortal_from_3_12():
    if PY < (3, 12):
        pytest.skip("immortal objects exist from 3.12 on (PEP 683)")
    always = [None, True, False, Ellipsis, NotImplemented, (), "", "a", "__init__",
              *range(-5, 257)]
    for obj in always:
        assert is_immortal(obj) is True, obj
        assert oracle_is_immortal(obj), obj
    never = [[], {}, object(), Plain(), 10**30, "".join(["not ", "interned"]), -6]
    for obj in never:
        assert is_immortal(obj) is False, obj
        assert not oracle_is_immortal(obj), obj
    interned = _fresh_interned()
    assert is_immortal(interned) is oracle_is_immortal(interned)
    if PY == (3, 12):
        assert is_immortal(interned)  # 3.12 made every interned string immortal


@given(objects)
def test_is_immortal_matches_the_interpreter(x):
    assert is_immortal(x) is oracle_is_immortal(x)


def test_immortal_refcount_is_the_stored_value_and_does_not_move():
    keep = []
    for obj in (None, True, 0, 256, "", ()):
        before = refcount(obj)
        stored = sys.getrefcount(obj)
        keep.extend([obj] * 1000)
        after = refcount(obj)
        if PY >= (3, 12):
            assert before == after == stored == sys.getrefcount(obj)
        else:
            # 3.10/3.11: counted like any object (3.11's static objects start at
            # 999_999_999 but are not immortal).
            assert after == before + 1000
        keep.clear()


# -- bad input -----------------------------------------------------------------------
class _Meta(type):
    def __eq__(cls, other):
        raise RuntimeError("no comparisons")

    __hash__ = type.__hash__


class _Weird(metaclass=_Meta):
    @property
    def __class__(self):
        raise RuntimeError("no __class__")

    def __del__(self):
        pass


def _odd_objects():
    target = Plain()
    frame = sys._getframe()
    return [
        type, object, int, type(None), _Meta, _Weird, _Weird(), sys, gc, builtins, memviz,
        memviz.refcount, refcount, is_immortal, memviz.gc.type_counts, print,
        refcount.__call__, frame, frame.f_code, types.CellType(target),
        weakref.ref(target), weakref.proxy(target), target, iter([]), range(3),
        memoryview(b"x"), slice(None), property(), staticmethod(print),
        threading.current_thread(), NotImplemented, Ellipsis, 2**100, float("nan"),
    ]


def test_refcount_of_odd_objects_never_crashes(gc_disabled):
    odd = _odd_objects()
    for i in range(len(odd)):
        got, stored = float(refcount(odd[i])), sys.getrefcount(odd[i])
        # refcount(refcount): the callable on the caller's stack is one more reference.
        callable_itself = 1 if odd[i] is refcount else 0
        assert got == expected_refcount(odd[i], stored, owns=True) + callable_itself, odd[i]
        assert is_immortal(odd[i]) is oracle_is_immortal(odd[i])


def test_refcount_rejects_wrong_arity():
    with pytest.raises(TypeError):
        refcount()
    with pytest.raises(TypeError):
        refcount(1, 2)
    with pytest.raises(TypeError):
        refcount(obj=1)
    with pytest.raises(TypeError):
        is_immortal()
