"""Every allocator mode, every reading: exact against its oracle, or refused with the
documented error.

One child interpreter per mode (``PYTHONMALLOC=...``, ``-X dev``, ``-X tracemalloc`` and
combinations) runs ``child_checks()`` below and reports what it saw as JSON:

* GC readings, refcounts and the census do not depend on the allocator: exact in every mode
  (support.gc's ``assert_generations_match_get_objects``, ``type_counts`` against
  ``gc.get_objects``, ``permanent`` against ``gc.get_freeze_count``; support.refcount's
  owned-load site against ``sys.getrefcount``).
* pymalloc readings are exact wherever pymalloc serves objects -- behind debug hooks and
  under tracemalloc's hooks too -- (``sys.getallocatedblocks`` inside the reading's C
  call, CPython's own report where it prints one, the arena map against a stats reading
  of the same heap state, ``locate`` against the allocation size), and raise
  ``PymallocUnavailable`` naming the allocator where it does not (``malloc``,
  ``malloc_debug``, ``mimalloc``, ``mimalloc_debug``; and tracemalloc over ``malloc``).
* ``memviz.allocator()``, a snapshot's ``interpreter.allocator`` and its pymalloc parts,
  ``capabilities()`` and ``explain().where`` say the same.

test_pymalloc.py holds pymalloc itself to its oracles at several heap states per mode
(``test_debug_hooks_keep_readings_exact``, ``test_tracemalloc_keeps_readings_exact``,
``test_other_allocators_are_refused_by_name``); this matrix checks every reading once per
mode, including modes and combinations those tests do not start.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from support.capabilities import needs_core

HERE = Path(__file__).resolve()
PY = sys.version_info[:2]

pytestmark = needs_core


# ---- in the child -----------------------------------------------------------------------

def child_checks() -> dict:
    import gc
    import tracemalloc
    from collections import Counter

    import memviz
    from memviz import _debugstats
    from memviz import pymalloc as pm
    from support.gc import gc_paused, assert_generations_match_get_objects
    from support.pymalloc import (arenas_and_stats, check_arenas_add_up, check_located,
                                  check_matches_report, refusals, stats_at_walk,
                                  with_report)
    from support.refcount import Holder, expected_refcount, read_at, site_owns

    facts: dict = {"tracing": tracemalloc.is_tracing()}
    caps = memviz.capabilities()
    facts["capabilities"] = {c.name: [c.available, c.reason] for c in caps}

    # -- GC readings: the first calls build caches (test_gc's warm_readings)
    memviz.gc.generations(), memviz.gc.permanent(), memviz.gc.type_counts()
    for generation in range(3):
        gc.get_objects(generation=generation)
    with gc_paused():
        assert_generations_match_get_objects()
        assert memviz.gc.permanent() == gc.get_freeze_count()
        for generation in range(3):
            counts = memviz.gc.type_counts(generation)
            listed = gc.get_objects(generation=generation)
            assert counts == dict(Counter(type(o) for o in listed if o is not counts))
            del listed
        kept = [[] for _ in range(10)]
        assert memviz.gc.generation_of(kept[3]) == 0
    facts["gc"] = "exact"

    # -- refcounts
    for obj in (kept, kept[0], Holder(), "a str " + str(id(kept)), 10**40):
        holder = Holder()
        holder.value, holder.items = obj, [obj]
        got, stored = read_at("item", holder)
        assert got == expected_refcount(obj, stored, site_owns("item")), obj
    facts["refcount"] = "exact"

    # -- the census needs no pymalloc: exact in every mode, its C sizes sys.getsizeof's
    made = [Holder() for _ in range(40)]
    texts = ["census text %d %d" % (i, id(made)) for i in range(40)]
    census = memviz.census()
    assert census[Holder].count >= 40 and census[Holder].tracked >= 40
    assert census[str].count >= 40
    sizes = {kind: memviz._native.census_sizeof("child", obj)
             for kind, obj in (("holder", made[0]), ("str", texts[0]), ("list", made),
                               ("dict", {"a": 1}), ("int", 10**40))}
    assert sizes == {kind: sys.getsizeof(obj) for kind, obj in (
        ("holder", made[0]), ("str", texts[0]), ("list", made), ("dict", {"a": 1}),
        ("int", 10**40))}, sizes
    facts["census"] = "exact"

    # -- pymalloc
    if caps["pymalloc.stats"].available:
        with gc_paused():
            s, allocated = stats_at_walk(sys.getallocatedblocks)
            assert s.blocks_in_use + s.raw_blocks == allocated
            s, text = with_report(pm._stats)
            facts["report_printed"] = _debugstats.parse(text) is not None
            if facts["report_printed"]:
                check_matches_report(s, text)
            located = (bytes(100), object(), (1, 2, 3, id(s)), "x" * 300, bytes(1000))
            arenas, s = arenas_and_stats()
            check_arenas_add_up(arenas, s)
            for obj in located:
                check_located(obj, type(obj).__name__, arenas)
        facts["pymalloc"] = "exact"
        facts["debug_hooks"] = pm._info().debug_hooks == 1
    else:
        facts["pymalloc"] = refusals()
    try:
        facts["allocator"] = pm.allocator()
    except memviz.MemvizError as error:
        facts["allocator"] = f"{type(error).__name__}: {error}"

    # -- a snapshot and an explanation say the same
    snap = memviz.snapshot()
    facts["snapshot"] = {
        "allocator": snap.interpreter.allocator,
        "pymalloc": snap.pymalloc is not None,
        "arenas": snap.arenas is not None,
        "gc": snap.generations is not None,
    }
    assert memviz.Snapshot.from_json(snap.to_json()) == snap
    facts["explain"] = memviz.explain([]).where
    return facts


CHILD = """
import importlib.util, json, sys
sys.path.insert(0, {tests!r})
spec = importlib.util.spec_from_file_location("allocator_checks", {path!r})
module = importlib.util.module_from_spec(spec)
spec.loader.exec_module(module)
print(json.dumps(module.child_checks()))
"""


def run_child(env: dict, args: tuple[str, ...]) -> dict:
    child_env = {k: v for k, v in os.environ.items()
                 if k not in ("PYTHONPATH", "PYTHONMALLOC", "PYTHONMALLOCSTATS",
                              "PYTHONTRACEMALLOC", "PYTHONDEVMODE")}
    child_env.update(env)
    completed = subprocess.run(
        [sys.executable, *args, "-c", CHILD.format(tests=str(HERE.parent), path=str(HERE))],
        capture_output=True, text=True, env=child_env, cwd=tempfile.gettempdir(), timeout=300,
    )
    assert completed.returncode == 0, (
        f"child ({' '.join(args)} {env}) exited with {completed.returncode}:\n"
        f"{completed.stdout}\n{completed.stderr}")
    return json.loads(completed.stdout.strip().splitlines()[-1])


# ---- the matrix -----------------------------------------------------------------------

HOOKS = " (under allocator hooks)"

#: (id, environment, interpreter options, allocator() expected, pymalloc readable,
#:  debug hooks, the allocator name the refusal gives)
MODES = [
    ("default", {}, (), "pymalloc", True, False, None),
    ("debug", {"PYTHONMALLOC": "debug"}, (), "pymalloc_debug", True, True, None),
    ("pymalloc_debug", {"PYTHONMALLOC": "pymalloc_debug"}, (), "pymalloc_debug", True, True,
     None),
    ("X-dev", {}, ("-X", "dev"), "pymalloc_debug", True, True, None),
    ("X-tracemalloc", {}, ("-X", "tracemalloc"), "pymalloc" + HOOKS, True, False, None),
    ("X-dev-X-tracemalloc", {}, ("-X", "dev", "-X", "tracemalloc"), "pymalloc_debug" + HOOKS,
     True, True, None),
    ("malloc", {"PYTHONMALLOC": "malloc"}, (), "malloc", False, None, "'malloc'"),
    ("malloc_debug", {"PYTHONMALLOC": "malloc_debug"}, (), "malloc_debug", False, None,
     "'malloc_debug'"),
    ("malloc-X-tracemalloc", {"PYTHONMALLOC": "malloc"}, ("-X", "tracemalloc"), "custom",
     False, None, "not pymalloc"),
    ("mimalloc", {"PYTHONMALLOC": "mimalloc"}, (), "mimalloc", False, None, "'mimalloc'"),
    ("mimalloc_debug", {"PYTHONMALLOC": "mimalloc_debug"}, (), "mimalloc_debug", False, None,
     "'mimalloc_debug'"),
]


def _runnable(env: dict) -> bool:
    return not (env.get("PYTHONMALLOC", "").startswith("mimalloc") and PY < (3, 13))


@pytest.fixture(scope="module")
def children():
    """Every mode's child, started at once, two at a time (each mostly waits on its
    imports): {mode id: Future of its facts}."""
    with ThreadPoolExecutor(max_workers=2) as pool:
        futures = {mode: pool.submit(run_child, env, args)
                   for mode, env, args, *_ in MODES if _runnable(env)}
        yield futures
        for future in futures.values():
            future.cancel()


@pytest.mark.parametrize("mode, env, args, allocator, readable, debug_hooks, refused_as",
                         MODES, ids=[mode[0] for mode in MODES])
def test_every_reading_in_every_allocator_mode(children, mode, env, args, allocator, readable,
                                               debug_hooks, refused_as):
    if not _runnable(env):
        pytest.skip("PYTHONMALLOC=mimalloc exists from 3.13 on")
    facts = children[mode].result()
    assert facts["gc"] == facts["refcount"] == facts["census"] == "exact"
    assert facts["tracing"] == ("tracemalloc" in args)
    assert facts["allocator"] == allocator
    assert facts["snapshot"]["allocator"] == allocator
    assert facts["snapshot"]["gc"] is True
    caps = facts["capabilities"]
    assert caps["gc"] == [True, None] and caps["refcount"] == [True, None]
    if readable:
        assert facts["pymalloc"] == "exact"
        assert facts["debug_hooks"] is debug_hooks
        # CPython prints no pymalloc report while tracemalloc traces, except (3.13+)
        # behind -X dev's debug hooks; where it prints one, the child checked every figure.
        hidden = "tracemalloc" in args and not ("dev" in args and PY >= (3, 13))
        assert facts["report_printed"] is not hidden
        assert facts["snapshot"]["pymalloc"] and facts["snapshot"]["arenas"]
        assert facts["explain"] == "pymalloc"
        for name in ("pymalloc.stats", "pymalloc.arenas", "pymalloc.locate"):
            assert caps[name] == [True, None]
    else:
        for name in ("stats", "arenas", "locate"):
            kind, message = facts["pymalloc"][name]
            assert kind == "PymallocUnavailable", (name, message)
            assert "not the object allocator" in message and refused_as in message, message
            available, reason = caps[f"pymalloc.{name}"]
            assert available is False and refused_as in reason, reason
        assert facts["pymalloc"]["gc_readings"] == 3
        assert not facts["snapshot"]["pymalloc"] and not facts["snapshot"]["arenas"]
        assert facts["explain"] == "malloc"
