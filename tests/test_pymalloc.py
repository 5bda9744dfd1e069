"""memviz.pymalloc against CPython's own views of pymalloc, exactly.

The oracles are CPython's: ``sys.getallocatedblocks()`` and the report that
``sys._debugmallocstats()`` writes to C's stderr (captured by pointing file descriptor 2
at a temporary file). A reading and its oracle must see the same heap: every comparison
passes the oracle to the reading as its ``after_walk`` callable, which the C core calls
with the GIL held right after its walk, before anything is allocated. Two readings are
compared the same way (the inner one is a cffi call through ``functools.partial``, which
allocates nothing either). The collector is paused around every comparison.

The oracles and the checks built on them are in support/pymalloc.py (other modules hold
their readings to them too). Children (``PYTHONMALLOC=...``, ``-X dev``, tracemalloc,
Debian's stripped ``/usr/bin/python3.11``) run the checks of this very file
(``child_checks``) and report what they saw as JSON.
"""
from __future__ import annotations

import fcntl
import functools
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
from pathlib import Path
from typing import Callable

import memviz
from memviz import _debugstats, _native
from memviz import pymalloc as pm
from memviz import MemvizError

import pytest
from hypothesis import given
from hypothesis import strategies as st

from support.capabilities import PYMALLOC_READINGS, needs, needs_allocator_choice
from support.pymalloc import (Slots, allocation, arenas_and_stats, check, check_arenas_add_up,
                              check_arenas_match_report, check_located, check_matches_report,
                              debug_hooks_active, fd2_captured, preheader, refusals,
                              report_now, stats_at_walk, with_report)
from support.gc import gc_paused

HERE = Path(__file__).resolve()
TESTS = HERE.parent
ROOT = HERE.parents[1]
SYSTEM_PYTHON311 = Path("/usr/bin/python3.11")


# ---- helpers (also used by the children) ----------------------------------------------


class Plain:
    """Instances have a __dict__ (managed by the interpreter on 3.11+)."""


def exact_size_objects() -> list[tuple[str, object]]:
    """Objects whose allocation is exactly sys.getsizeof(obj) bytes."""
    objects: list[tuple[str, object]] = [("object()", object()), ("[]", []),
                                         ("Slots()", Slots())]
    for n in (2, 20, 47, 100, 200, 300, 400, 455, 456, 478, 479, 480, 600):
        objects.append((f"bytes({n})", bytes(n)))
    for n in (1, 3, 10, 40, 58, 59, 60, 61, 70):
        objects.append((f"tuple of {n}", tuple([None]) * n))
    for n in (2, 30, 400, 500):
        objects.append((f"str of {n}", "ab" * (n // 2)))
    return objects


def class_growth(make: Callable[[], object], count: int, use_report: bool) -> dict[int, int]:
    """Blocks in use gained per size class while ``count`` objects were made (the
    objects are returned as the dict's 'objects' entry)."""
    def blocks() -> dict[int, int]:
        if use_report:
            parsed = _debugstats.parse(report_now())
            return {line.index: line.blocks_in_use for line in parsed.classes}
        return {c.index: c.blocks_in_use for c in pm.stats().size_classes}

    holder = [None] * count        # allocated before the first count
    before = blocks()
    for i in range(count):
        holder[i] = make()
    after = blocks()
    growth = {i: after.get(i, 0) - before.get(i, 0) for i in after}
    growth["objects"] = holder     # type: ignore[assignment]
    return growth


def check_managed_dict_instances(use_report: bool) -> None:
    """Instances with a __dict__ (managed on 3.11+, with inline values on 3.13+) land in
    the size class whose blocks grew by one per instance."""
    count = 2000

    class Managed:
        pass

    def make() -> Managed:
        obj = Managed()
        obj.x = 1
        return obj

    # 3.13+ sizes the first instances' inline values for many attributes and shrinks
    # the class's shared keys as instances show how many they get: let that settle.
    warm_up = [make() for _ in range(300)]
    growth = class_growth(make, count, use_report)
    del warm_up
    objects = growth.pop("objects")
    classes = {pm.locate(obj).size_class for obj in objects}
    check(len(classes) == 1, f"instances in several classes: {classes}")
    (size_class,) = classes
    check(growth[size_class] >= count,
          f"class {size_class} grew by {growth[size_class]} for {count} instances")
    for obj in objects[:50]:
        check(pm.locate(obj).object_offset == preheader(obj), "instance pre-header")


def check_static_objects() -> None:
    for obj in (None, True, int, type, memviz.MemvizError.__mro__[-1]):
        check(pm.locate(obj) is None, f"{obj!r} is static, located in {pm.locate(obj)}")
    if sys.version_info >= (3, 11):      # small ints are static from 3.11 on
        for n in (0, 5, 256):
            check(pm.locate(n) is None, f"small int {n} located in {pm.locate(n)}")


def exactness_checks(report: bool) -> dict:
    """The readings against CPython's oracles at several heap states. ``report``: whether
    CPython prints its pymalloc report here (not while tracemalloc traces)."""
    facts: dict = {"states": 0}
    keep: list = []
    with gc_paused():
        for step in range(4):
            if step == 1:
                keep.append([bytes(n % 500) for n in range(20000)])
            elif step == 2:
                keep.append([bytes(600 + n) for n in range(300)])   # malloc'd: raw blocks
            elif step == 3:
                del keep[0][::3]
            s, allocated = stats_at_walk(sys.getallocatedblocks)
            check(s.blocks_in_use + s.raw_blocks == allocated,
                  f"{s.blocks_in_use} + {s.raw_blocks} != sys.getallocatedblocks() {allocated}")
            if report:
                s, text = with_report(pm._stats)
                check_matches_report(s, text)
                arenas, text = with_report(pm._arenas)
                check_arenas_match_report(arenas, text)
            arenas, s = arenas_and_stats()
            check_arenas_add_up(arenas, s)
            facts["states"] += 1
        arenas = pm.arenas()
        for name, obj in exact_size_objects():
            check_located(obj, name, arenas)
        check_managed_dict_instances(report)
        check_static_objects()
    facts["debug_hooks"] = debug_hooks_active()
    facts["allocator"] = pm.allocator()
    facts["report_printed"] = _debugstats.parse(report_now()) is not None
    facts["source"] = pm.stats().source
    return facts


def child_checks(mode: str) -> dict:
    """What a child interpreter runs: ``exact``, ``tracemalloc``, ``refusals``,
    ``stripped`` (the fallback on a build without .symtab)."""
    if mode == "exact":
        return exactness_checks(report=True)
    if mode == "tracemalloc":
        import tracemalloc

        tracemalloc.start()
        facts = exactness_checks(report=False)
        facts["tracing"] = tracemalloc.is_tracing()
        return facts
    if mode == "refusals":
        return refusals()
    if mode == "stripped":
        facts = refusals()
        with gc_paused():
            s, text = with_report(pm._stats)
            check_matches_report(s, text)
            s, allocated = stats_at_walk(sys.getallocatedblocks)
            check(s.blocks_in_use + s.raw_blocks == allocated, "fallback blocks")
            facts["source"] = s.source
            keep = [bytes(n % 500) for n in range(50000)]
            s, text = with_report(pm._stats)
            check_matches_report(s, text)
            del keep
        import tracemalloc

        tracemalloc.start()
        try:
            pm.stats()
            facts["stats_while_tracing"] = None
        except MemvizError as error:
            facts["stats_while_tracing"] = [type(error).__name__, str(error)]
        facts["capabilities_while_tracing"] = {
            c.name: [c.available, c.reason] for c in memviz.capabilities()}
        tracemalloc.stop()
        return facts
    raise ValueError(mode)


CHILD = """
import importlib.util, json, sys
sys.path.insert(0, {tests!r})
spec = importlib.util.spec_from_file_location("pymalloc_checks", {path!r})
module = importlib.util.module_from_spec(spec)
spec.loader.exec_module(module)
print(json.dumps(module.child_checks({mode!r})))
"""


def run_child(mode: str, *, python: str = sys.executable, env: dict | None = None,
              args: tuple[str, ...] = ()) -> dict:
    child_env = {k: v for k, v in os.environ.items()
                 if k not in ("PYTHONPATH", "PYTHONMALLOC", "PYTHONMALLOCSTATS",
                              "PYTHONTRACEMALLOC", "PYTHONDEVMODE")}
    child_env.update(env or {})
    completed = subprocess.run(
        [python, *args, "-c", CHILD.format(tests=str(TESTS), path=str(HERE), mode=mode)],
        capture_output=True, text=True, env=child_env, cwd=tempfile.gettempdir(), timeout=300,
    )
    if completed.returncode != 0:
        raise AssertionError(
            f"child ({' '.join(args)} {env or ''}) exited with {completed.returncode}:\n"
            f"{completed.stdout}\n{completed.stderr}"
        )
    return json.loads(completed.stdout.strip().splitlines()[-1])


# ---- fixtures -----------------------------------------------------------------------

# Most tests read pymalloc directly: ``needs(*PYMALLOC_READINGS)`` (every CI interpreter;
# a run under PYTHONMALLOC=malloc or on a stripped build skips, saying why).


@pytest.fixture
def no_gc():
    with gc_paused():
        yield


# ---- layout --------------------------------------------------------------------------


@needs(*PYMALLOC_READINGS)
def test_layout_is_the_interpreters(no_gc):
    lay = pm.layout()
    s, text = with_report(pm._stats)
    parsed = _debugstats.parse(text)
    assert parsed.small_request_threshold == lay.small_request_threshold
    assert parsed.size_class_count == len(lay.block_sizes)
    assert parsed.arena_size == lay.arena_size
    assert parsed.pool_size == lay.pool_size
    assert lay.block_sizes == tuple(lay.alignment * (i + 1) for i in range(len(lay.block_sizes)))
    assert lay.block_sizes[-1] == lay.small_request_threshold
    assert lay.pools_per_arena == lay.arena_size // lay.pool_size
    # Each pool in use costs one header: CPython's own figure gives the overhead back.
    pools = sum(c.pools for c in s.size_classes)
    assert parsed.pool_header_bytes == pools * lay.pool_overhead
    for row in parsed.classes:      # and the blocks per pool (in use + available)
        assert (row.blocks_in_use + row.blocks_free) == row.pools * lay.blocks_per_pool[row.index]
    assert lay.size_class_for(1) == 0 and lay.size_class_for(0) is None
    assert lay.size_class_for(lay.small_request_threshold) == len(lay.block_sizes) - 1
    assert lay.size_class_for(lay.small_request_threshold + 1) is None
    assert "size classes" in str(lay) and "Layout(" in repr(lay)


# ---- stats ---------------------------------------------------------------------------


@needs(*PYMALLOC_READINGS)
def test_blocks_add_up_to_getallocatedblocks(no_gc):
    keep = []
    seen_raw = set()
    for step in range(5):
        if step == 1:
            keep.append([object() for _ in range(50000)])
        elif step == 2:
            keep.append([bytes(700) for _ in range(2000)])        # over the threshold
        elif step == 3:
            keep.pop(0)
        elif step == 4:
            keep.clear()
        s, allocated = stats_at_walk(sys.getallocatedblocks)
        assert s.blocks_in_use + s.raw_blocks == allocated
        assert s.blocks_in_use == sum(c.blocks_in_use for c in s.size_classes)
        seen_raw.add(s.raw_blocks)
    assert len(seen_raw) > 1        # the raw count moved with the large objects


@needs(*PYMALLOC_READINGS)
def test_raw_blocks_count_large_object_requests(no_gc):
    before, _ = stats_at_walk(sys.getallocatedblocks)
    big = [bytes(1000 + i) for i in range(500)]
    after, allocated = stats_at_walk(sys.getallocatedblocks)
    assert after.blocks_in_use + after.raw_blocks == allocated
    assert after.raw_blocks - before.raw_blocks >= len(big)
    del big


@needs(*PYMALLOC_READINGS)
def test_stats_are_debugmallocstats(no_gc):
    keep = []
    for step in range(3):
        keep.append([str(i) * (i % 40) for i in range(10000 * step)])
        s, text = with_report(pm._stats)
        check_matches_report(s, text)
        assert s.source == "walk"
        assert (s.allocated_bytes + s.available_bytes + s.unused_pool_bytes
                + s.pool_header_bytes + s.quantization_bytes + s.arena_alignment_bytes
                == s.total_bytes == s.arena_bytes)


@needs(*PYMALLOC_READINGS)
def test_stats_values_are_readable():
    s = pm.stats()
    assert [c.index for c in s.size_classes] == list(range(len(pm.layout().block_sizes)))
    assert "blocks in use" in str(s) and "PymallocStats(" in repr(s)
    assert "class 0" in str(s.size_classes[0])
    with pytest.raises(AttributeError):
        s.blocks_in_use = 0          # frozen


@needs(*PYMALLOC_READINGS)
def test_arenas_are_reclaimed_as_the_report_says(no_gc):
    lay = pm.layout()
    before, text = with_report(pm._stats)
    check_matches_report(before, text)
    size_class = lay.size_class_for(sys.getsizeof(bytes(40)))
    # Enough for 30 new arenas beyond every free pool the earlier tests left (3.10 in CI
    # once had 24 arenas' worth free, and grew by 6 for a fixed 30 arenas' worth).
    count = ((before.unused_pools + 30 * (lay.pools_per_arena - 1))
             * lay.blocks_per_pool[size_class] + before.size_classes[size_class].blocks_free)
    blob = [bytes(40) for _ in range(count)]
    grown, text = with_report(pm._stats)
    check_matches_report(grown, text)
    # The pools the objects need come from free pools or from new arenas.
    pools_needed = -(-(count - before.size_classes[size_class].blocks_free)
                     // lay.blocks_per_pool[size_class])
    new_arenas = grown.arenas_current - before.arenas_current
    assert new_arenas * lay.pools_per_arena + before.unused_pools >= pools_needed
    assert new_arenas >= 10 and grown.arenas_highwater >= grown.arenas_current
    del blob
    shrunk, text = with_report(pm._stats)
    check_matches_report(shrunk, text)
    # The new arenas held little else (the readings' own results land in the last
    # ones): pymalloc gives most of them back.
    assert grown.arenas_current - shrunk.arenas_current >= new_arenas // 2
    assert shrunk.arenas_reclaimed - grown.arenas_reclaimed >= new_arenas // 2
    # The high-water mark never falls; the reading after `del blob` may itself need one
    # fresh arena (seen once in CI on 3.12: 76 -> 77), never more.
    assert grown.arenas_highwater <= shrunk.arenas_highwater <= grown.arenas_highwater + 1


# ---- arenas --------------------------------------------------------------------------


@needs(*PYMALLOC_READINGS)
def test_arenas_add_up_to_stats(no_gc):
    keep = []
    for step in range(3):
        keep.append([(i, str(i)) for i in range(20000 * step)])
        arenas, s = arenas_and_stats()
        check_arenas_add_up(arenas, s)
        arenas, text = with_report(pm._arenas)
        check_arenas_match_report(arenas, text)


@needs(*PYMALLOC_READINGS)
def test_arena_values():
    arenas = pm.arenas()
    arena = arenas[0]
    assert isinstance(arena.pools, tuple) and all(isinstance(p, pm.Pool) for p in arena.pools)
    assert arena.pools is arena.pools           # made once
    assert repr(arena).startswith("Arena(address=0x") and "pools" in str(arena)
    pool = arena.pools[0]
    assert pool.blocks_free == pool.capacity - pool.blocks_in_use
    assert repr(pool).startswith("Pool(address=0x") and "blocks of" in str(pool)
    # Built from values, as memviz.snapshot does, an arena is equal to the one read.
    rebuilt = pm.Arena(arena.address, arena.index, arena.pools_total, arena.pools_free,
                       pools=tuple(pm.Pool(*(getattr(p, f) for f in
                                              ("address", "size_class", "block_size",
                                               "blocks_in_use", "capacity")))
                                   for p in arena.pools))
    assert rebuilt == arena and hash(rebuilt) == hash(arena)
    with pytest.raises(AttributeError):
        arena.pools = ()


@needs(*PYMALLOC_READINGS)
def test_arena_columns_are_the_arenas(no_gc):
    """The packed rows memviz.snapshot keeps (array('Q'): arena fields + pool count, then
    Pool's fields) hold the arenas() of the same heap state."""
    from array import array

    ffi, lib = _native.ffi, _native.lib
    inner = ffi.new("mv_pymalloc_map *")
    inner.interpreter_id = _native.interpreter_id()
    arenas, status = pm._arenas(after_walk=functools.partial(lib.mv_pymalloc_read_map, inner))
    assert status == lib.MV_OK
    try:
        arena_values = array("Q", ffi.buffer(inner.arenas, inner.narenas * 40)[:])
        pool_values = array("Q", ffi.buffer(inner.pools, inner.npools * 40)[:])
    finally:
        lib.mv_pymalloc_map_free(inner)
    assert arena_values == array("Q", [
        v for a in arenas for v in (a.address, a.index, a.pools_total, a.pools_free, len(a.pools))])
    assert pool_values == array("Q", [
        v for a in arenas for p in a.pools
        for v in (p.address, p.size_class, p.block_size, p.blocks_in_use, p.capacity)])
    rows, pools = pm._arena_columns()
    assert len(rows) % 40 == 0 and len(pools) % 40 == 0


# ---- locate --------------------------------------------------------------------------


@needs(*PYMALLOC_READINGS)
def test_locate_known_sizes(no_gc):
    objects = exact_size_objects()
    arenas = pm.arenas()
    for name, obj in objects:
        check_located(obj, name, arenas)


@needs(*PYMALLOC_READINGS)
def test_locate_finds_every_block_of_a_batch(no_gc):
    """Thousands of objects fill whole pools: every block position of a pool is hit."""
    lay = pm.layout()
    batch = [bytes(30) for _ in range(5000)]
    blocks = [pm.locate(obj) for obj in batch]
    expected = allocation(sys.getsizeof(batch[0]))
    assert all(b.block_size == expected for b in blocks)
    assert all(b.block_address + b.object_offset == id(o) for b, o in zip(blocks, batch))
    assert {b.object_offset for b in blocks} == {preheader(batch[0])}
    positions = {(b.block_address - b.pool_address - lay.pool_overhead) // expected
                 for b in blocks}
    assert positions == set(range(lay.blocks_per_pool[blocks[0].size_class]))
    assert len({b.block_address for b in blocks}) == len(batch)


@needs(*PYMALLOC_READINGS)
def test_locate_managed_dict_instances(no_gc):
    check_managed_dict_instances(use_report=True)


@needs(*PYMALLOC_READINGS)
def test_locate_static_and_large_objects():
    check_static_objects()
    threshold = pm.layout().small_request_threshold
    for obj in (bytes(threshold), bytes(10**6), tuple(range(100)), "x" * 1000):
        assert pm.locate(obj) is None
    if sys.version_info < (3, 11):       # small ints are heap objects in 3.10
        assert pm.locate(5).block_size == allocation(sys.getsizeof(5))


@needs(*PYMALLOC_READINGS)
def test_block_values():
    obj = []
    block = pm.locate(obj)
    assert block.block_address + block.object_offset == id(obj)
    assert repr(block).startswith("Block(arena_address=0x") and "block" in str(block)


# ---- random heaps ------------------------------------------------------------------

KINDS = {
    "bytes": lambda n: bytes(n),
    "str": lambda n: "y" * n,
    "tuple": lambda n: (None,) * (n // 8 + 1),
    "list": lambda n: [None] * (n // 8),
    "dict": lambda n: {i: i for i in range(n // 32)},
    "instance": lambda n: Plain(),
    "set": lambda n: set(range(n // 64)),
}

OPERATIONS = st.lists(
    st.one_of(
        st.tuples(st.just("make"), st.sampled_from(sorted(KINDS)), st.integers(0, 900),
                  st.integers(1, 400)),
        st.tuples(st.just("drop"), st.integers(0, 6), st.integers(1, 5), st.integers(0, 0)),
    ),
    min_size=1,
    max_size=8,
)


@needs(*PYMALLOC_READINGS)
@given(operations=OPERATIONS)
def test_random_heaps_keep_every_equality(operations):
    with gc_paused():
        keep: list = []
        for op, a, b, c in operations:
            if op == "make":
                keep.extend(KINDS[a](b) for _ in range(c))
            else:
                del keep[a::b + 1]
        s, allocated = stats_at_walk(sys.getallocatedblocks)
        assert s.blocks_in_use + s.raw_blocks == allocated
        s, text = with_report(pm._stats)
        check_matches_report(s, text)
        arenas, s = arenas_and_stats()
        check_arenas_add_up(arenas, s)
        for obj in keep[:: max(1, len(keep) // 25)]:
            if type(obj) in (bytes, str, tuple):
                if len(obj) >= 2:       # shorter ones may be static singletons
                    check_located(obj, type(obj).__name__, arenas)
            else:                       # list, dict, set, instance: always small heap objects
                block = pm.locate(obj)
                assert block is not None and block.object_offset == preheader(obj)


# ---- the fallback ------------------------------------------------------------------


@needs(*PYMALLOC_READINGS)
def test_fallback_equals_the_walk(no_gc):
    """The fallback (CPython's report written into memory by the C core, parsed) gives
    every figure of the direct walk, taken at the same heap state."""
    ffi, lib = _native.ffi, _native.lib
    keep = []
    for step in range(3):
        keep.append([bytes(i % 300) for i in range(15000 * step)])
        text_buffer = ffi.new("mv_pymalloc_text *")
        text_buffer.interpreter_id = _native.interpreter_id()
        walked, status = pm._stats(
            after_walk=functools.partial(lib.mv_pymalloc_debug_text, text_buffer))
        assert status == lib.MV_OK
        try:
            assert text_buffer.printed == 1
            text = ffi.unpack(text_buffer.text, text_buffer.length).decode("ascii")
            allocated = text_buffer.allocated_blocks
        finally:
            lib.mv_pymalloc_text_free(text_buffer)
        fallback = pm._stats_from_report(_debugstats.parse(text), allocated, pm.layout())
        assert fallback == walked
        assert (fallback.source, walked.source) == ("debug report", "walk")


@needs(*PYMALLOC_READINGS)
def test_the_fallback_runs_end_to_end(no_gc):
    """The fallback's whole path (the debug report captured in C, parsed, checked against
    the layout) on an interpreter that can also be read directly: its figures are
    CPython's report and sys.getallocatedblocks() at the walk's heap state. Where the
    fallback is what stats() returns (a stripped build), arenas() and locate() refuse:
    test_system_python311_uses_the_fallback."""
    s, _ = pm._fallback_stats()
    assert s.source == "debug report"
    s, text = with_report(pm._fallback_stats)      # the report it parsed vs CPython's own
    check_matches_report(s, text)
    s, allocated = pm._fallback_stats(after_walk=sys.getallocatedblocks)
    assert s.blocks_in_use + s.raw_blocks == allocated
    assert pm.stats().source == "walk"


@needs(*PYMALLOC_READINGS)
def test_the_memory_report_is_cpythons(no_gc):
    """The C core's capture (open_memstream) holds what sys._debugmallocstats() prints."""
    with fd2_captured() as captured:
        text, allocated, after = pm._debug_report("test", after_walk=sys._debugmallocstats)
    assert after == 0 and allocated > 0
    assert captured[0].startswith(text) and text.startswith("Small block threshold")


def test_system_python311_uses_the_fallback(system_python311):
    """Debian's own python3.11 is stripped: stats() comes from the report, exactly;
    arenas() and locate() say why they cannot work; capabilities() says so too."""
    facts = run_child("stripped", python=system_python311)
    assert facts["source"] == "debug report"
    assert facts["stats"] is None
    for name in ("arenas", "locate"):
        kind, message = facts[name]
        assert kind == "UnsupportedInterpreter"
        assert ".symtab" in message and "python3.11" in message
    caps = facts["capabilities"]
    assert caps["pymalloc.stats"] == [True, None]
    assert caps["pymalloc.arenas"][0] is False and ".symtab" in caps["pymalloc.arenas"][1]
    assert caps["pymalloc.locate"][0] is False
    # tracemalloc hides the report: the fallback has nothing to read, and says so.
    kind, message = facts["stats_while_tracing"]
    assert kind == "UnsupportedInterpreter" and "tracemalloc" in message
    assert facts["capabilities_while_tracing"]["pymalloc.stats"][0] is False


# ---- allocators ----------------------------------------------------------------------


@needs(*PYMALLOC_READINGS)
@pytest.mark.parametrize("env, args", [
    ({"PYTHONMALLOC": "pymalloc_debug"}, ()),
    ({"PYTHONMALLOC": "debug"}, ()),
    ({}, ("-X", "dev")),
    ({"PYTHONMALLOC": "pymalloc"}, ()),
], ids=["pymalloc_debug", "debug", "X-dev", "pymalloc"])
def test_debug_hooks_keep_readings_exact(env, args):
    facts = run_child("exact", env=env, args=args)
    assert facts["states"] == 4 and facts["report_printed"] and facts["source"] == "walk"
    debug = "PYTHONMALLOC" not in env or env["PYTHONMALLOC"] != "pymalloc"
    assert facts["debug_hooks"] is debug
    assert facts["allocator"] == ("pymalloc_debug" if debug else "pymalloc")


@needs(*PYMALLOC_READINGS)
def test_tracemalloc_keeps_readings_exact():
    """While tracemalloc traces, CPython prints no pymalloc report and names no
    allocator; memviz reads pymalloc underneath, without the report."""
    facts = run_child("tracemalloc")
    assert facts["tracing"] and not facts["report_printed"]
    assert facts["states"] == 4 and facts["source"] == "walk"
    assert facts["allocator"] == "pymalloc (under allocator hooks)"
    facts = run_child("tracemalloc", args=("-X", "dev"))
    assert facts["allocator"] == "pymalloc_debug (under allocator hooks)"
    assert facts["debug_hooks"] is True


@needs_allocator_choice
@pytest.mark.parametrize("allocator", ["malloc", "malloc_debug", "mimalloc"])
def test_other_allocators_are_refused_by_name(allocator):
    if allocator == "mimalloc" and sys.version_info < (3, 13):
        pytest.skip("PYTHONMALLOC=mimalloc exists from 3.13 on")
    facts = run_child("refusals", env={"PYTHONMALLOC": allocator})
    assert facts["allocator"] == allocator
    for name in ("stats", "arenas", "locate"):
        kind, message = facts[name]
        assert kind == "PymallocUnavailable"
        assert f"'{allocator}'" in message and "not the object allocator" in message
        available, reason = facts["capabilities"][f"pymalloc.{name}"]
        assert not available and f"'{allocator}'" in reason
    assert facts["gc_readings"] == 3 and facts["refcount"] >= 1   # the rest still works
    assert facts["capabilities"]["gc"][0] is True


# ---- robustness ----------------------------------------------------------------------


@needs(*PYMALLOC_READINGS)
def test_after_walk_errors_are_reported():
    def boom():
        raise RuntimeError("boom")

    with pytest.raises(MemvizError, match="after_walk"):
        pm._stats(after_walk=boom)


@needs(*PYMALLOC_READINGS)
def test_readings_while_another_thread_allocates():
    stop = threading.Event()

    def churn():
        keep = []
        while not stop.is_set():
            keep.append([bytes(i % 700) for i in range(2000)])
            if len(keep) > 20:
                del keep[:10]

    worker = threading.Thread(target=churn)
    worker.start()
    try:
        for _ in range(60):
            s = pm.stats()
            assert s.total_bytes == s.arena_bytes
            for arena in pm.arenas():
                assert len(arena.pools) + arena.pools_free == arena.pools_total
            obj = bytes(100)
            assert pm.locate(obj).block_size == allocation(sys.getsizeof(obj))
    finally:
        stop.set()
        worker.join()


@needs(*PYMALLOC_READINGS)
def test_capabilities_list_the_pymalloc_readings():
    caps = memviz.capabilities()
    for name in ("pymalloc.stats", "pymalloc.arenas", "pymalloc.locate"):
        assert caps[name].available and caps[name].reason is None


# ---- the parser ----------------------------------------------------------------------

SAMPLE_310 = textwrap.dedent("""\
    Small block threshold = 512, in 32 size classes.

    class   size   num pools   blocks in use  avail blocks
    -----   ----   ---------   -------------  ------------
        0     16           1              29           992
        3     64          24            5940           180
       31    512           1              27             4

    # arenas allocated total           =                    2
    # arenas reclaimed                 =                    0
    # arenas highwater mark            =                    2
    # arenas allocated current         =                    2
    2 arenas * 1048576 bytes/arena     =            2,097,152

    # bytes in allocated blocks        =            1,354,944
    # bytes in available blocks        =              287,360
    25 unused pools * 16384 bytes      =              409,600
    # bytes lost to pool headers       =                4,848
    # bytes lost to quantization       =                7,632
    # bytes lost to arena alignment    =               32,768
    Total                              =            2,097,152

    arena map counts
    # arena map mid nodes              =                    1
    # arena map bot nodes              =                    1

    # bytes lost to arena map root     =                8,192
    # bytes lost to arena map mid      =                8,192
    # bytes lost to arena map bot      =                2,048
    Total                              =               18,432

                9 free PyDictObjects * 48 bytes each =                  432
               4 free PyFloatObjects * 24 bytes each =                   96
    """)


def test_parser_reads_every_field():
    parsed = _debugstats.parse(SAMPLE_310)
    assert [tuple(vars(row).values()) for row in parsed.classes] == [
        (0, 16, 1, 29, 992), (3, 64, 24, 5940, 180), (31, 512, 1, 27, 4)]
    assert (parsed.small_request_threshold, parsed.size_class_count) == (512, 32)
    assert (parsed.arenas_allocated_total, parsed.arenas_reclaimed, parsed.arenas_highwater,
            parsed.arenas_current, parsed.arena_size, parsed.arena_bytes) == \
        (2, 0, 2, 2, 1048576, 2097152)
    assert (parsed.allocated_bytes, parsed.available_bytes, parsed.unused_pools,
            parsed.pool_size, parsed.unused_pool_bytes, parsed.pool_header_bytes,
            parsed.quantization_bytes, parsed.arena_alignment_bytes, parsed.total_bytes) == \
        (1354944, 287360, 25, 16384, 409600, 4848, 7632, 32768, 2097152)
    assert (parsed.arena_map_mid_nodes, parsed.arena_map_bot_nodes,
            parsed.arena_map_root_bytes, parsed.arena_map_mid_bytes,
            parsed.arena_map_bot_bytes, parsed.arena_map_total_bytes) == \
        (1, 1, 8192, 8192, 2048, 18432)
    assert parsed.object_malloc_calls is None


def test_parser_without_a_pymalloc_report():
    assert _debugstats.parse("") is None
    free_lists_only = SAMPLE_310[SAMPLE_310.index("            9 free"):]
    assert _debugstats.parse(free_lists_only) is None          # PYTHONMALLOC=malloc
    mimalloc = ("Small block threshold = 16384, in 73 size classes.\n"
                "Medium block threshold = 131072\nLarge object max size = 16777216\n"
                "    Allocated Blocks: 15837\n")
    assert _debugstats.parse(mimalloc) is None


def test_parser_rejects_a_damaged_report():
    damaged = SAMPLE_310.replace("# bytes lost to quantization", "# bytes lost to ???")
    with pytest.raises(ValueError, match="quantization"):
        _debugstats.parse(damaged)


def test_parser_reads_the_serial_number_line():
    text = SAMPLE_310.replace("# arenas allocated total",
                              "# times object malloc called       =                1,234\n"
                              "# arenas allocated total", 1)
    assert _debugstats.parse(text).object_malloc_calls == 1234


# ---- Debian's stripped python3.11 ----------------------------------------------------

def _source_digest() -> str:
    digest = hashlib.sha256()
    files = sorted([*ROOT.glob("csrc/*.[ch]"), *ROOT.glob("src/memviz/*.py"),
                    *ROOT.glob("src/memviz/*.pyi"), ROOT / "setup.py", ROOT / "pyproject.toml"])
    for path in files:
        digest.update(path.relative_to(ROOT).as_posix().encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:16]


@pytest.fixture(scope="session")
def system_python311() -> str:
    """A virtualenv of Debian's own /usr/bin/python3.11 with this memviz installed,
    cached by a digest of the sources (one build per source change, shared by the six
    CI legs)."""
    if not SYSTEM_PYTHON311.exists():
        pytest.skip(f"{SYSTEM_PYTHON311} does not exist here: the fallback runs only through "
                    "the forced-fallback tests on this machine")
    cache = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "memviz-tests"
    cache.mkdir(parents=True, exist_ok=True)
    venv = cache / f"system-python3.11-{_source_digest()}"
    python = venv / "bin" / "python"
    with open(cache / "system-python3.11.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (venv / "ready").exists():
            shutil.rmtree(venv, ignore_errors=True)
            for old in cache.glob("system-python3.11-*"):   # builds of older sources
                if time.time() - old.stat().st_mtime > 86400:  # (a day: not in use)
                    shutil.rmtree(old, ignore_errors=True)
            with tempfile.TemporaryDirectory() as tmp:
                source = Path(tmp) / "memviz"
                shutil.copytree(ROOT, source, ignore=shutil.ignore_patterns(
                    ".git", "build", "*.so", "__pycache__", "results", "*.egg-info"))
                subprocess.run([str(SYSTEM_PYTHON311), "-m", "venv", str(venv)], check=True)
                built = subprocess.run(
                    [str(python), "-m", "pip", "install", "-q", "--disable-pip-version-check",
                     f"{source}[test]"], capture_output=True, text=True)
                if built.returncode != 0:
                    raise AssertionError(f"cannot install memviz for {SYSTEM_PYTHON311}:\n"
                                         f"{built.stdout}\n{built.stderr}")
            (venv / "ready").write_text("ok\n")
    return str(python)
