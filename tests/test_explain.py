"""memviz.explain against the standard library's and memviz's own readings.

``explain(x).references`` must be what ``memviz.refcount(x)`` says at the call site (and,
on 3.10-3.13, ``sys.getrefcount(x) - 1``), however the caller loads ``x``: a local (a
borrowed load on 3.14+), a global, an attribute, a temporary, a local inside an
``except`` block (an owned load on 3.14+). ``tracked`` is ``gc.is_tracked``; the
generation follows ``gc.collect``; the block is ``memviz.pymalloc.locate``'s, its pool and
arena those of ``memviz.pymalloc.arenas()``; sizes are ``sys.getsizeof`` and
``__sizeof__``. And whatever the object, ``explain`` returns and its text renders.
"""
from __future__ import annotations

import dataclasses
import dis
import gc
import re
import sys
import tracemalloc
import types
import weakref
import xml.etree.ElementTree as ET

import pytest
from hypothesis import given
from hypothesis import strategies as st

import memviz
from memviz import pymalloc as pm
from memviz._sites import (NOT_RECORDED, NOT_TRACING, AllocationSite, allocation_site,
                           sites_of_type, sites_of_types)
from memviz.explain import SUMMARY_WIDTH, Explanation, Reach, explain

from support.capabilities import available, needs, needs_allocator_choice
from support.sites import recorded_sites

PY = sys.version_info[:2]
GLOBAL_LIST: list = []
REFCOUNT_READABLE = available("refcount")


# -- references: the caller's view ---------------------------------------------------


@needs("refcount")
def test_a_new_local_list_has_one_reference(gc_disabled):
    x = []
    assert explain(x).references == 1
    y = x
    assert explain(x).references == 2
    assert explain(y).references == 2
    del y
    assert explain(x).references == 1


@needs("refcount")
def test_references_equal_refcount_and_getrefcount_at_the_same_site(gc_disabled):
    x = [1, 2]
    holders = [x, x, {"k": x}]
    # Each pair below loads x the same way in one statement.
    e, r = explain(x), memviz.refcount(x)
    assert e.references == r == 4
    if PY < (3, 14):
        e, g = explain(x), sys.getrefcount(x)
        assert e.references == g - 1
    del holders
    assert explain(x).references == memviz.refcount(x) == 1


@needs("refcount")
def test_references_of_a_global(gc_disabled):
    assert explain(GLOBAL_LIST).references == memviz.refcount(GLOBAL_LIST)
    assert explain(GLOBAL_LIST).references == sys.getrefcount(GLOBAL_LIST) - 1   # owned load


@needs("refcount")
def test_references_of_an_attribute_and_a_temporary(gc_disabled):
    # Read outside the asserts: pytest's assertion rewriting keeps an attribute's value
    # in a temporary of its own.
    ns = types.SimpleNamespace(item=[])
    ours, theirs = explain(ns.item).references, memviz.refcount(ns.item)
    assert ours == theirs == 1
    ours, theirs = explain([]).references, memviz.refcount([])
    assert ours == theirs == 0
    ours = explain(object()).references
    assert ours == 0


@needs("refcount")
def test_references_of_a_local_loaded_inside_except(gc_disabled):
    x = []
    try:
        raise KeyError
    except KeyError:
        # Not a borrowed load on 3.14+ (the compiler cannot prove it safe here).
        assert explain(x).references == 1 == memviz.refcount(x)


@needs("refcount")
def test_references_inside_a_nested_function_argument(gc_disabled):
    def inner(value):
        return explain(value).references, memviz.refcount(value)

    def outer():
        x = []
        return inner(x)

    # 3.14+ may pass x as a borrowed reference, which inner's parameter then holds
    borrowed = any(i.opname.startswith("LOAD_FAST_BORROW") for i in dis.get_instructions(outer))
    assert borrowed == (PY >= (3, 14))
    ours, theirs = outer()
    assert ours == theirs
    # x, inner's parameter unless borrowed, and on 3.10 outer's stack slot for the call
    assert ours == (3 if PY == (3, 10) else 1 if borrowed else 2)
    ours, theirs = inner([])
    assert ours == theirs == (2 if PY == (3, 10) else 1)


@needs("refcount")
def test_references_through_a_c_caller_count_its_temporary(gc_disabled):
    """Documented: called from C (map), on 3.11+ the C caller's own temporary reference
    to the argument is counted too; on 3.10 the caller's slot is always subtracted."""
    x = []
    items = [x]
    (explained,) = list(map(explain, items))
    expected = memviz.refcount(x) + (1 if PY >= (3, 11) else 0)
    assert explained.references == expected


@needs("refcount")
@given(st.integers(min_value=0, max_value=40))
def test_references_count_every_holder(gc_pause, holders):
    with gc_pause():
        obj = object()
        kept = []
        for _ in range(holders):      # not a comprehension: obj would be a cell on <= 3.11
            kept.append([obj])
        assert explain(obj).references == holders + 1
        # the holders, seen by the collector (frames aside: 3.10's are GC objects)
        referrers = [r for r in gc.get_referrers(obj) if not isinstance(r, types.FrameType)]
        assert len(referrers) == holders
        del kept


@needs("refcount")
def test_references_text_names_what_getrefcount_says(gc_disabled):
    x = []
    text = " ".join(str(explain(x)).split())
    count = explain(x).references
    if PY < (3, 14):
        assert f"sys.getrefcount(obj) says {sys.getrefcount(x)}" in text
    else:
        borrowed = sys.getrefcount(x)                  # a local: borrowed on 3.14+
        owned = sys.getrefcount(GLOBAL_LIST) - memviz.refcount(GLOBAL_LIST)
        assert borrowed == count
        assert owned == 1
        assert f"says {count + 1}" in text and f"but {count}" in text
        assert "borrowed" in text


# -- immortality ------------------------------------------------------------------------


@needs("refcount")
@pytest.mark.parametrize("obj", [None, True, 1, "", int, ()])
def test_immortal_objects(obj):
    e = explain(obj)
    assert e.immortal == memviz.is_immortal(obj)
    if PY >= (3, 12):
        assert e.immortal is True
        assert e.references == sys.getrefcount(obj)        # the stored marker
        assert "not counted" in str(e)
        if hasattr(sys, "_is_immortal"):
            assert e.immortal == sys._is_immortal(obj)
    else:
        assert e.immortal is False
        assert "no immortal objects before 3.12" in str(e)


@needs("refcount")
def test_mortal_object_is_not_immortal():
    e = explain([])
    assert e.immortal is False
    assert e.immortal == memviz.is_immortal([])


# -- the collector --------------------------------------------------------------------


def test_tracking_matches_gc_is_tracked():
    for obj in ([], {}, (1, 2), ([],), 1, "text", object(), type("T", (), {}), int, sys):
        e = explain(obj)
        assert e.tracked == gc.is_tracked(obj), obj


@needs("gc")
def test_generation_follows_collections(gc_disabled):
    x = []
    assert explain(x).generation == memviz.gc.generation_of(x) == 0
    gc.collect(0)
    assert explain(x).generation == memviz.gc.generation_of(x) == 1
    gc.collect()
    assert explain(x).generation == memviz.gc.generation_of(x) == 2
    assert "generation 2" in str(explain(x))


@needs("gc")
def test_permanent_generation(gc_disabled, gc_freeze_restored):
    x = []
    gc.freeze()
    e = explain(x)
    assert e.generation == memviz.gc.PERMANENT
    assert "permanent generation" in str(e)


@needs("refcount")
def test_untracked_kinds_are_explained():
    mortal = " ".join(str(explain(12345678)).split())
    assert "no GC support" in mortal and "reference counting alone frees it" in mortal
    static = " ".join(str(explain(None)).split())
    assert "no GC support" in static and "frees it" not in static     # never freed
    assert explain(12345678).gc_capable is False
    e = explain(int)
    assert e.gc_capable is False and e.is_type and "statically allocated type" in str(e)
    Heap = type("Heap", (), {})
    assert explain(Heap).gc_capable is True and explain(Heap).tracked is True
    untracked = (1, 2, 3)
    gc.collect()          # untracks tuples of atoms on every version
    assert not gc.is_tracked(untracked)
    assert "not tracked, although its type supports the collector" in str(explain(untracked))


# -- memory -----------------------------------------------------------------------------


@needs("pymalloc.arenas")
def test_a_list_in_its_pymalloc_block(gc_disabled):
    x = []
    e = explain(x)
    block = pm.locate(x)
    assert e.where == "pymalloc"
    assert e.block == block
    header = sys.getsizeof(x) - x.__sizeof__()
    assert e.header_size == header == 16
    assert e.getsizeof == sys.getsizeof(x) and e.sizeof == x.__sizeof__()
    layout = pm.layout()
    # the object's own allocation (header + list struct) rounded up to a size class
    assert block.block_size == layout.block_sizes[layout.size_class_for(header + x.__sizeof__())]
    if pm.allocator() == "pymalloc":
        assert block.object_offset == e.header_size
    assert e.pool is not None and e.pool.address == block.pool_address
    assert e.pool.size_class == block.size_class
    assert e.pool.capacity == layout.blocks_per_pool[block.size_class]
    assert 1 <= e.pool.blocks_in_use <= e.pool.capacity
    assert e.arena is not None and e.arena.address == block.arena_address
    assert e.pool in e.arena.pools
    text = str(e)
    assert f"{block.block_size}-byte pymalloc block (size class {block.size_class}" in text
    assert f"{e.pool.blocks_in_use} of its {e.pool.capacity} blocks" in " ".join(text.split())


@needs("pymalloc.arenas")
def test_instance_header_includes_managed_pointers(gc_disabled):
    class Plain:
        pass

    obj = Plain()
    e = explain(obj)
    expected = 16 if PY < (3, 11) else 32
    assert e.header_size == expected == sys.getsizeof(obj) - obj.__sizeof__()
    if pm.allocator() == "pymalloc":
        assert e.block.object_offset == expected


@needs("pymalloc.arenas")
@pytest.mark.parametrize("obj", [None, int, type, Ellipsis, NotImplemented])
def test_static_objects(obj):
    e = explain(obj)
    assert pm.locate(obj) is None
    assert e.where == "static" and e.block is None
    assert "statically allocated" in str(e)


@needs("pymalloc.arenas")
def test_small_ints_are_static_from_311_on():
    e = explain(7)
    if PY >= (3, 11):
        assert e.where == "static" and pm.locate(7) is None
    else:
        assert e.where == "pymalloc" and e.block == pm.locate(7)


@needs("pymalloc.arenas")
def test_large_objects_come_from_malloc():
    big = b"x" * 1000
    e = explain(big)
    assert pm.locate(big) is None
    assert e.where == "large" and e.block is None
    assert e.sizeof == big.__sizeof__() > pm.layout().small_request_threshold
    assert "too large" in str(e)
    Heap = type("Heap", (), {})          # a heap type: ~1 KiB
    assert explain(Heap).where == "large"


@needs("pymalloc.arenas")
def test_modules_functions_and_ints_in_pymalloc():
    for obj in (sys, test_modules_functions_and_ints_in_pymalloc, 10**30, "some text" * 3):
        e = explain(obj)
        assert e.where == "pymalloc" and e.block == pm.locate(obj), obj


@needs_allocator_choice
def test_pymalloc_switched_off(child_python):
    result = child_python(
        """
        import json, memviz
        e = memviz.explain([])
        print(json.dumps({"where": e.where, "text": str(e),
                          "unavailable": dict(e.unavailable), "refs": e.references}))
        """,
        env={"PYTHONMALLOC": "malloc"},
    )
    facts = result.json()
    assert facts["where"] == "malloc"
    assert "pymalloc" in facts["unavailable"]
    assert "switched off" in facts["text"] and "malloc" in facts["unavailable"]["pymalloc"]
    assert facts["refs"] == 0


def test_unsupported_interpreter_becomes_sentences(monkeypatch):
    module = sys.modules["memviz.explain"]

    def refuse(obj):
        raise memviz.UnsupportedInterpreter("memviz.refcount() is not available here: test")

    monkeypatch.setattr(module, "_refcount", refuse)
    e = explain([])
    assert e.references is None and e.immortal is None
    assert e.reason("references") == "memviz.refcount() is not available here: test"
    assert "not available: memviz.refcount() is not available here: test" in str(e)


# -- never raises --------------------------------------------------------------------


class _BadSizeof:
    def __sizeof__(self):
        raise RuntimeError("no size for you")


class _StrSizeof:
    def __sizeof__(self):
        return "big"


class _BadRepr:
    def __repr__(self):
        raise ValueError("no repr")


class _LyingClass:
    @property
    def __class__(self):
        raise AttributeError("no class")


class _Meta(type):
    def __getattribute__(cls, name):
        raise RuntimeError(f"no attribute {name}")


class _Weird(metaclass=_Meta):
    pass


class _Proxied:
    pass


def _odd_objects():
    dead = _Proxied()
    proxy = weakref.proxy(dead)
    del dead
    released = memoryview(b"abc")
    released.release()

    def generator():
        yield 1

    frame = sys._getframe()
    return [
        _BadSizeof(), _StrSizeof(), _BadRepr(), _LyingClass(), _Weird, _Weird(), proxy,
        released, generator(), frame, frame.f_code, types.SimpleNamespace(), print,
        [].append, 10**5000, "x" * 100000, bytearray(10), Ellipsis, NotImplemented, sys,
        gc, type, object, weakref.ref(_Proxied), (lambda: 0).__code__, range(5),
    ]


_NAME = type.__dict__["__name__"].__get__      # not through a metaclass's __getattribute__
_ODD_NAMES = [_NAME(type(o)) + ("-class" if issubclass(type(o), type) else "")
              for o in _odd_objects()]


@pytest.mark.parametrize("index", range(len(_ODD_NAMES)), ids=_ODD_NAMES)
def test_never_raises(index):
    obj = _odd_objects()[index]     # built here: pytest itself would trip over some
    e = explain(obj)
    assert isinstance(e, Explanation)
    assert e.address == id(obj)
    assert e.tracked == gc.is_tracked(obj)
    text = str(e)
    assert text.startswith(e.type_name)
    ET.fromstring(e._repr_html_())
    assert (e.references is not None) == REFCOUNT_READABLE


def test_broken_sizeof_is_a_sentence():
    e = explain(_BadSizeof())
    assert e.getsizeof is None and e.sizeof is None
    assert "RuntimeError: no size for you" in e.reason("size")
    assert "sys.getsizeof not available: RuntimeError: no size for you" in str(e)
    assert explain(_StrSizeof()).reason("size") is not None


def test_broken_repr_and_class_do_not_matter():
    obj = _BadRepr()
    summary = explain(obj).summary            # reprlib's stand-in for a failing repr
    assert "_BadRepr" in summary and f"{id(obj):#x}" in summary
    assert explain(_LyingClass()).type_name.endswith("_LyingClass")
    assert explain(_Weird).type_name.endswith("_Meta")


# -- the value and its renderings -------------------------------------------------------


def test_explanation_is_frozen_data():
    e = explain([])
    with pytest.raises(dataclasses.FrozenInstanceError):
        e.references = 5          # type: ignore[misc]
    fields = {f.name for f in dataclasses.fields(e)}
    assert {"references", "immortal", "tracked", "generation", "block", "pool", "arena",
            "getsizeof", "sizeof", "header_size", "where", "unavailable"} <= fields
    assert isinstance(memviz.Explanation, type) and memviz.explain is explain


def test_text_is_short_and_wrapped():
    e = explain([])
    lines = str(e).splitlines()
    assert lines[0] == e.headline()
    assert all(len(line) <= 88 for line in lines[1:])
    topics = [line.split()[0] for line in lines[1:] if not line.startswith("    ")]
    assert topics == ["references", "immortal", "collector", "memory", "size", "allocated",
                      "reached", "path", "retains"]


class _Named:
    """An object whose repr is long and made of names."""

    def __init__(self, text: str):
        self.text = text

    def __repr__(self) -> str:
        return self.text


def _assert_cut_between_tokens(summary: str, full: str) -> None:
    """``summary`` is ``full`` whole, or a beginning of it plus "..." that ends between
    two tokens: not inside a name (a dotted name too long to keep whole is cut at a dot)."""
    assert len(summary) <= SUMMARY_WIDTH == 60
    if summary == full:
        return
    assert summary.endswith("...")
    kept = summary[:-3]
    assert kept and full.startswith(kept), (summary, full)
    following = full[len(kept):]
    if kept[-1].isalnum() or kept[-1] == "_":
        assert not re.match(r"\w", following), (summary, full)


@pytest.mark.parametrize("length", range(3, 45, 2))
def test_a_long_repr_is_cut_between_names(length):
    names = [f"field_{'x' * length}_{i}" for i in range(12)]
    reprs = [
        "Registry(" + ", ".join(names) + ")",                  # words and spaces
        "Registry(" + ",".join(names) + ")",                   # no space to cut at
        "<" + ".".join(names) + " object>",                    # a dotted name
        "Registry(" + "".join(f"{n}=[{n}]," for n in names),   # names and punctuation
    ]
    for text in reprs:
        summary = explain(_Named(text)).summary
        _assert_cut_between_tokens(summary, text)
    # Builtin containers and strings: reprlib shortens them first, never mid-name.
    for obj in (names, " ".join(names), tuple(names), {n: i for i, n in enumerate(names)}):
        summary = explain(obj).summary
        if summary != repr(obj):
            kept = summary[:-3]
            words = re.findall(r"\w+", kept)
            last = re.search(r"\w+$", kept)
            whole = set(re.findall(r"\w+", repr(obj)))
            assert all(w in whole for w in (words[:-1] if last else words)), summary
            if last:
                assert last.group() in whole, summary


def test_a_short_repr_is_whole_and_a_huge_token_is_cut():
    assert explain(_Named("Point(x=1, y=2)")).summary == "Point(x=1, y=2)"
    summary = explain(_Named("y" * 500)).summary
    assert summary == "y" * 57 + "..."


# -- where the object was allocated (tracemalloc) ----------------------------------------


class _Made:
    __slots__ = ("value",)   # 3.11's tracemalloc misses objects with a managed __dict__


def _oracle_site(obj) -> tuple[str, int]:
    """tracemalloc's own record: the innermost frame of the object's traceback."""
    frame = tracemalloc.get_object_traceback(obj)[-1]
    return frame.filename, frame.lineno


def test_explain_names_the_line_that_allocated_the_object(tracing):
    line = sys._getframe().f_lineno + 1
    made = _Made()
    assert _oracle_site(made) == (__file__, line)
    e = explain(made)
    assert e.allocated_at == AllocationSite(__file__, line)
    assert str(e.allocated_at) == f"{__file__}:{line}"
    assert e.reason("allocated") is None
    assert dict(e.lines())["allocated"] == f"at {__file__}:{line}, as tracemalloc recorded it"
    assert f"{__file__}:{line}," in str(e).split()   # whole: the path is never wrapped
    html_rows = {tr.find("th").text: tr.find("td").text
                 for tr in ET.fromstring(e._repr_html_()).iter("tr")}
    assert html_rows["allocated"] == f"at {__file__}:{line}, as tracemalloc recorded it"


def test_without_a_record_explain_says_why(tracing):
    e = explain(None)          # static: never allocated, so never recorded
    assert tracemalloc.get_object_traceback(None) is None
    assert e.allocated_at is None and e.reason("allocated") == NOT_RECORDED
    assert dict(e.lines())["allocated"] == f"not known: {NOT_RECORDED}"


def test_without_tracemalloc_no_site_and_a_hint(not_tracing):
    made = _Made()
    e = explain(made)
    assert e.allocated_at is None and allocation_site(made) is None
    assert e.reason("allocated") == NOT_TRACING
    said = dict(e.lines())["allocated"]
    assert said == f"not known: {NOT_TRACING}"
    assert "python -X tracemalloc" in said and "tracemalloc.start()" in said
    assert not re.search(r"\.py:\d+", said)


def test_sites_of_a_type_count_tracemallocs_records(tracing):
    first = sys._getframe().f_lineno + 1
    many = [_Made() for _ in range(30)]
    second = sys._getframe().f_lineno + 1
    few = [_Made() for _ in range(7)]
    expected = {AllocationSite(*key): n for key, n in recorded_sites(_Made).items()
                if key is not None}
    assert expected[AllocationSite(__file__, first)] == 30
    assert expected[AllocationSite(__file__, second)] == 7
    ranked = sorted(expected.items(), key=lambda item: (-item[1], item[0]))
    assert sites_of_type(_Made, limit=None) == ranked
    assert sites_of_type(f"{__name__}._Made", limit=1) == ranked[:1]
    both = sites_of_types([_Made, "builtins.no_such_type"], limit=2)
    assert both == {f"{__name__}._Made": ranked[:2], "builtins.no_such_type": []}
    with pytest.raises(TypeError, match="not by int"):
        sites_of_type(3)
    with pytest.raises(ValueError, match="limit must be a positive int"):
        sites_of_type(_Made, limit=0)
    del many, few


def test_sites_of_a_type_without_tracemalloc_are_empty(not_tracing):
    made = [_Made() for _ in range(3)]
    assert sites_of_type(_Made) == [] and sites_of_types([_Made, list]) == {
        f"{__name__}._Made": [], "builtins.list": []}
    del made


def test_pretty_printer_prints_the_text():
    class Printer:
        def __init__(self):
            self.parts = []

        def text(self, value):
            self.parts.append(value)

    e = explain([])
    printer = Printer()
    e._repr_pretty_(printer, False)
    assert printer.parts == [str(e)]


def test_html_is_escaped_and_self_contained():
    class Sneaky:
        def __repr__(self):
            return "<script>alert('x')</script> & <b>"

    e = explain(Sneaky())
    page = e._repr_html_()
    root = ET.fromstring(page)
    assert "<script>" not in page and "&lt;script&gt;" in page
    assert "http" not in page and "src=" not in page and "href" not in page
    rendered = " ".join("".join(root.itertext()).split())
    assert e.summary in rendered
    for _, sentence in e.lines():
        assert " ".join(sentence.split()) in rendered


@needs_allocator_choice
def test_debug_hooks_prefix_is_explained(child_python):
    result = child_python(
        """
        import json, sys, memviz
        x = []
        e = memviz.explain(x)
        print(json.dumps({"allocator": memviz.pymalloc.allocator(),
                          "offset": e.block.object_offset, "header": e.header_size,
                          "block": e.block.block_size, "located": memviz.pymalloc.locate(x).block_size,
                          "sizeof": x.__sizeof__(), "text": " ".join(str(e).split())}))
        """,
        env={"PYTHONMALLOC": "debug"},
    )
    facts = result.json()
    assert facts["allocator"] == "pymalloc_debug"
    assert facts["block"] == facts["located"]
    guard = facts["offset"] - facts["header"]
    assert guard > 0 and facts["header"] == 16
    assert f"after the debug hooks' {guard}-byte prefix and its 16-byte header" in facts["text"]
    assert "allocates more than __sizeof__" not in facts["text"]
    assert facts["block"] >= facts["offset"] + facts["sizeof"]


@needs("gc")
def test_explain_from_a_collector_callback_says_the_collector_runs(gc_disabled):
    seen = []
    x = []

    def callback(phase, info):
        if phase == "start" and not seen:
            seen.append(explain(x))

    gc.callbacks.append(callback)
    try:
        gc.collect()
    finally:
        gc.callbacks.remove(callback)
    (e,) = seen
    assert e.tracked is True and e.generation is None
    assert "collector" in e.reason("generation").lower()
    assert "tracked; generation not available" in " ".join(str(e).split())
    assert e.references == memviz.refcount(x) == 1    # the cell that test and callback share


# -- how the census reaches it ---------------------------------------------------------

#: Held by this module's globals: sys.modules leads to it.
MODULE_HELD = b"explain: held by a module global %d" % id(sys)
MODULE_LIST = [1, b"explain: in a module's list %d" % id(sys)]


@needs("gc")
def test_a_module_global_is_reached_from_sys_modules_through_the_modules_dict():
    reached = explain(MODULE_HELD).reached
    assert reached == Reach("sys.modules", "module's globals", __name__)
    assert not reached.only_from_the_collector
    assert (f"the census meets it from sys.modules, through the globals of module {__name__}"
            in " ".join(str(explain(MODULE_HELD)).split()))


@needs("gc")
def test_an_item_of_a_module_level_list_is_reached_through_the_list():
    reached = explain(MODULE_LIST[1]).reached
    assert reached == Reach("sys.modules", "list", repr(MODULE_LIST))


@needs("gc")
def test_a_local_only_is_held_by_its_running_frame():
    local = b"explain: a local only %d" % id(sys)
    reached = explain(local).reached
    name = test_a_local_only_is_held_by_its_running_frame.__code__
    assert reached.root == "a running frame" and reached.through_type == "function"
    assert reached.through.endswith(f"({name.co_filename}:{name.co_firstlineno})")
    assert reached.through.split(" (")[0].endswith(name.co_name)


class Ringed:
    pass


@needs("gc")
def test_cyclic_garbage_is_reached_only_from_the_collectors_list(gc_disabled):
    """A cycle nothing else holds: the census meets it only on the collector's list (the
    one it was made in: the collector is off).  (On 3.10 the caller's value stack keeps
    the argument during the call, where no traverse sees it.)"""
    node = Ringed()
    node.itself = node
    node.payload = b"explain: in a cycle %d" % id(sys)
    ref = weakref.ref(node)
    del node
    reached_node = explain(ref()).reached
    reached_payload = explain(ref().payload).reached
    assert reached_node == Reach("the collector's generation 0")
    assert reached_node.only_from_the_collector
    assert reached_payload.root == "the collector's generation 0"
    assert reached_payload.through_type is not None
    text = dict(explain(ref()).lines())["reached"]
    assert "a root only as a tracked object of generation 0" in text
    assert "cyclic garbage, or held from C" in text


@needs("gc")
def test_an_object_only_the_call_holds_is_reached_from_no_root():
    reached = explain(b"explain: a temporary %d" % id(sys)).reached
    assert reached == Reach(None)
    assert dict(explain(b"explain: another %d" % id(sys)).lines())["reached"].startswith(
        "no root leads to it")


@needs("gc")
def test_a_root_is_reached_as_itself():
    assert explain(sys.modules).reached == Reach("sys.modules")
