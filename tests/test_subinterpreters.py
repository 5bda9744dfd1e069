"""Readings inside subinterpreters: correct for that interpreter, or refused with a clear
error -- never another interpreter's numbers presented as its own, never a crash.

Each test runs in a child process (conftest's ``run_python``) that makes a subinterpreter
through the module each version has (``_xxsubinterpreters`` on 3.10-3.12,
``_interpreters`` on 3.13+, and ``concurrent.interpreters`` on 3.14+ for the public
path), runs code there and reads back the JSON that code wrote. What happens:

* **legacy** subinterpreters (shared GIL, the main interpreter's obmalloc, any
  extension): on 3.12+ memviz loads and reads *that* interpreter -- its own collector's
  lists, and the pymalloc state it allocates from (the main interpreter's, shared) --
  checked there against the same oracles as in the main interpreter (test_gc's and
  test_pymalloc's, in support/, imported inside the subinterpreter), while the main
  interpreter holds 400,000 objects the subinterpreter must not count. On 3.10/3.11 cffi's
  ``PyGILState_Ensure`` hands the C core the *main* interpreter's thread state, so memviz
  refuses: ``import memviz`` works and every reading raises ``UnsupportedInterpreter``
  saying why (it used to fail the import, and to put its module into the main
  interpreter's ``sys.modules``).
* **isolated** subinterpreters (3.12+: own GIL, own obmalloc, only multi-phase
  extensions): memviz's cffi extension is single-phase, so CPython refuses to load it
  (``ImportError``); ``import memviz`` still works and every reading says why.
* The main interpreter is unharmed afterwards: a reading refused inside a collection
  still raises ``CollectorRunning`` (a subinterpreter's import used to replace the class
  the C core raises with the subinterpreter's own, which then escaped as a bare
  ``memviz._objects.ReadingError``).
"""
from __future__ import annotations

import sys
import textwrap
from pathlib import Path

import pytest

from memviz import _native

from support.capabilities import needs_core

TESTS = str(Path(__file__).resolve().parent)
PY = sys.version_info[:2]

pytestmark = needs_core

# In the child's main interpreter: run `code` in a new subinterpreter of `kind` and print
# the JSON it wrote to RESULT_PATH.
DRIVER = """
import json, os, sys, tempfile

def run_in_subinterpreter(kind, code, public=False):
    fd, path = tempfile.mkstemp()
    os.close(fd)
    code = f"RESULT_PATH = {path!r}\\nTESTS = {TESTS!r}\\n" + code
    if public:      # 3.14+: concurrent.interpreters (isolated)
        from concurrent import interpreters
        interp = interpreters.create()
        try:
            interp.exec(code)
        finally:
            interp.close()
    elif sys.version_info >= (3, 13):
        import _interpreters
        interp = _interpreters.create(_interpreters.new_config(kind))
        try:
            failure = _interpreters.exec(interp, code)
        finally:
            _interpreters.destroy(interp)
        if failure is not None:
            raise RuntimeError("the subinterpreter raised: "
                               + getattr(failure, "errdisplay", str(failure)))
    else:
        import _xxsubinterpreters
        if sys.version_info >= (3, 12):
            interp = _xxsubinterpreters.create(isolated=(kind == "isolated"))
        else:
            interp = _xxsubinterpreters.create()
        try:
            _xxsubinterpreters.run_string(interp, code)
        finally:
            _xxsubinterpreters.destroy(interp)
    with open(path) as f:
        text = f.read()
    os.unlink(path)
    return json.loads(text)
"""

# In the subinterpreter: what memviz says about itself, and what each reading does.
REPORT = """
import json, sys
def report_readings(extra=None):
    facts = {}
    try:
        import memviz
    except BaseException as error:
        facts["import"] = f"{type(error).__name__}: {error}"
        facts.update(extra or {})
        with open(RESULT_PATH, "w") as f:
            json.dump(facts, f)
        return
    facts["import"] = "ok"
    facts["problem"] = memviz._native.interpreter_problem()
    facts["capabilities"] = {c.name: [c.available, c.reason] for c in memviz.capabilities()}
    readings = {
        "refcount": lambda: memviz.refcount(facts),
        "generations": memviz.gc.generations,
        "type_counts": memviz.gc.type_counts,
        "stats": memviz.pymalloc.stats,
        "arenas": memviz.pymalloc.arenas,
        "locate": lambda: memviz.pymalloc.locate(facts),
        "snapshot": memviz.snapshot,
    }
    for name, reading in readings.items():
        try:
            reading()
            facts[name] = None
        except memviz.MemvizError as error:
            facts[name] = [type(error).__name__, str(error)]
        except BaseException as error:
            facts[name] = ["unexpected " + type(error).__name__, str(error)]
    explanation = memviz.explain([])
    facts["explain"] = str(explanation)
    try:
        import memviz._core
        facts["core"] = "loaded"
    except ImportError as error:
        facts["core"] = f"ImportError: {error}"
    facts.update(extra or {})
    with open(RESULT_PATH, "w") as f:
        json.dump(facts, f)
report_readings()
"""


def run(child_python, kind: str, code: str, *, public: bool = False, main: str = "") -> dict:
    """Runs ``code`` in a ``kind`` subinterpreter of a child process (after ``main`` in
    the child's main interpreter) and returns the JSON the subinterpreter wrote."""
    program = (f"TESTS = {TESTS!r}\n" + DRIVER + textwrap.dedent(main)
               + f"\nprint(json.dumps(run_in_subinterpreter({kind!r}, {textwrap.dedent(code)!r}, "
               f"{public!r})))\n")
    return child_python(program).json()


def assert_every_reading_refused(facts: dict, reason: str) -> None:
    assert facts["import"] == "ok"
    assert reason in facts["problem"]
    for name in ("refcount", "generations", "type_counts", "stats", "arenas", "locate"):
        kind, message = facts[name]
        assert kind == "UnsupportedInterpreter", (name, facts[name])
        assert reason in message and "is not available on CPython" in message, message
    for name, (available, why) in facts["capabilities"].items():
        assert available is False and reason in why, (name, why)
    assert facts["snapshot"] is None     # a snapshot of what is available: nothing, said so
    assert "not available" in facts["explain"]


# -- legacy subinterpreters ------------------------------------------------------------

LEGACY_EXACT = """
import gc, json, sys
from collections import Counter
sys.path.insert(0, TESTS)
gc.disable()
import memviz
from memviz import pymalloc as pm
from support.gc import assert_generations_match_get_objects
from support.pymalloc import (arenas_and_stats, check_arenas_add_up, check_located,
                              check_matches_report, stats_at_walk, with_report)
from support.refcount import Holder, expected_refcount, read_at, site_owns

class Here:
    pass

here = [Here() for _ in range(1234)]
# First calls build caches (test_gc's warm_readings).
memviz.gc.generations(), memviz.gc.permanent(), memviz.gc.type_counts()
for g in range(3):
    gc.get_objects(generation=g)
facts = {"interpreter": memviz._native.interpreter_id()}
gens = assert_generations_match_get_objects()
facts["objects"] = sum(g.objects for g in gens)
assert memviz.gc.permanent() == gc.get_freeze_count()
counts = memviz.gc.type_counts(0)
listed = gc.get_objects(generation=0)     # before the genexpr's function exists
assert counts == dict(Counter(type(o) for o in listed if o is not counts))
del listed
assert memviz.gc.type_counts()[Here] == 1234
assert memviz.gc.generation_of(here[0]) == 0
gc.collect()
assert memviz.gc.generation_of(here[0]) == 2

holder = Holder()
holder.value, holder.items = here, [here]
got, stored = read_at("item", holder)
assert got == expected_refcount(here, stored, site_owns("item"))

s, allocated = stats_at_walk(sys.getallocatedblocks)
assert s.blocks_in_use + s.raw_blocks == allocated
s, text = with_report(pm._stats)
check_matches_report(s, text)
arenas, s = arenas_and_stats()
check_arenas_add_up(arenas, s)
check_located(bytes(300), "bytes(300)", arenas)
facts["blocks"] = s.blocks_in_use

snap = memviz.snapshot()
assert snap.type_counts()[f"{Here.__module__}.Here"] == 1234
assert memviz.Snapshot.from_json(snap.to_json()) == snap
e = memviz.explain(here[0])
assert e.generation == 2 and e.block == pm.locate(here[0])

# A thread started inside this subinterpreter reads this subinterpreter too.
import threading
seen = {}
def in_thread():
    seen["interpreter"] = memviz._native.interpreter_id()
    seen["here"] = memviz.gc.type_counts()[Here]
thread = threading.Thread(target=in_thread)
thread.start(); thread.join()
facts["thread"] = seen

# A C thread naming this subinterpreter is refused (its GIL state is the main one's).
from support.threads import c_thread, join
buffer = memviz._native.ffi.new("mv_gc_reading *")
buffer.interpreter_id = memviz._native.interpreter_id()
facts["c_thread"] = join(c_thread("mv_read_gc", buffer))
with open(RESULT_PATH, "w") as f:
    json.dump(facts, f)
"""

MAIN_HOLDS_MANY = """
import gc, memviz
class Main:
    pass
held = [Main() for _ in range(400_000)]
assert sum(g.objects for g in memviz.gc.generations()) > 400_000
"""


@pytest.mark.skipif(PY < (3, 12), reason="3.10/3.11: see test_legacy_subinterpreter_before_312")
def test_legacy_subinterpreter_reads_itself(child_python):
    """Every reading in a legacy subinterpreter, exact against that interpreter's own
    oracles; the main interpreter's 100,000 objects are not among its numbers."""
    facts = run(child_python, "legacy", LEGACY_EXACT, main=MAIN_HOLDS_MANY)
    assert facts["interpreter"] >= 1
    assert facts["objects"] < 300_000       # the main interpreter holds 400,000 more
    assert facts["thread"] == {"interpreter": facts["interpreter"], "here": 1234}
    assert facts["c_thread"] == _native.lib.MV_ERR_WRONG_INTERPRETER
    assert facts["blocks"] > 400_000        # but pymalloc is shared: it holds main's too


@pytest.mark.skipif(PY >= (3, 12), reason="3.12+ read legacy subinterpreters")
def test_legacy_subinterpreter_before_312(child_python):
    facts = run(child_python, "legacy", REPORT)
    assert_every_reading_refused(facts, "cannot read a subinterpreter of CPython 3.10 or 3.11")
    assert facts["core"] == "loaded"


# -- isolated subinterpreters ----------------------------------------------------------

@pytest.mark.skipif(PY < (3, 12), reason="isolated subinterpreters exist from 3.12 on")
@pytest.mark.parametrize("public", [False, True], ids=["_interpreters", "concurrent.interpreters"])
def test_isolated_subinterpreter_refuses_cleanly(child_python, public):
    if public and PY < (3, 14):
        pytest.skip("concurrent.interpreters exists from 3.14 on")
    facts = run(child_python, "isolated", REPORT, public=public)
    reason = "does not support loading in subinterpreters"
    assert_every_reading_refused(facts, reason)
    assert facts["core"].startswith("ImportError: ") and reason in facts["core"]


SITES = """
import json, memviz
from memviz import _sites
explained = memviz.explain([])
with memviz.track() as tracked:
    made = [[] for _ in range(10)]
with open(RESULT_PATH, "w") as f:
    json.dump({"module": _sites.tracemalloc is None, "allocated": explained.reason("allocated"),
               "growth": str(tracked.sites), "expected": _sites.NO_TRACEMALLOC}, f)
"""


@pytest.mark.skipif(PY < (3, 12), reason="isolated subinterpreters exist from 3.12 on")
def test_isolated_subinterpreter_without_tracemalloc_imports_and_says_why(child_python):
    """The main interpreter loaded tracemalloc first: an isolated subinterpreter cannot
    load it, yet memviz imports there and says why it has no allocation sites."""
    facts = run(child_python, "isolated", SITES, main="import tracemalloc\n")
    assert facts["module"] is True
    assert facts["allocated"] == facts["expected"]
    assert facts["growth"] == f"Allocation sites: not read -- {facts['expected']}"
    assert "cannot be loaded in this interpreter" in facts["expected"]


# -- the main interpreter afterwards ---------------------------------------------------

MAIN_AFTER = """
import gc, memviz
assert memviz.gc.type_counts() and memviz.pymalloc.stats() is not None
SUB = "import memviz\\nmemviz.gc.generations() if memviz.capabilities()['gc'].available else None\\n" \\
      "open(RESULT_PATH, 'w').write('{}')"
"""

MAIN_CHECKS = """
seen = []
class Finalized:
    def __del__(self):
        try:
            memviz.gc.generation_of(self)
            seen.append("read")
        except memviz.CollectorRunning:
            seen.append("CollectorRunning")
        except BaseException as error:
            seen.append(f"{type(error).__module__}.{type(error).__name__}")
gc.disable()
f = Finalized(); f.self = f; del f
gc.collect()
print(json.dumps({"seen": seen, "gens": len(memviz.gc.generations()),
                  "objects_module": memviz._native.objects is sys.modules["memviz._objects"]}))
"""


@pytest.mark.parametrize("kind", ["legacy", "isolated"])
def test_the_main_interpreter_is_unharmed(child_python, kind):
    if kind == "isolated" and PY < (3, 12):
        pytest.skip("isolated subinterpreters exist from 3.12 on")
    program = (f"TESTS = {TESTS!r}\n" + DRIVER + textwrap.dedent(MAIN_AFTER)
               + f"run_in_subinterpreter({kind!r}, SUB)\nrun_in_subinterpreter({kind!r}, SUB)\n"
               + textwrap.dedent(MAIN_CHECKS))
    facts = child_python(program).json()
    assert facts == {"seen": ["CollectorRunning"], "gens": 3, "objects_module": True}


def test_import_memviz_does_not_import_hashlib(child_python):
    """On CPython 3.12.1, importing hashlib in an isolated subinterpreter makes the whole
    process abort at exit ("free(): invalid pointer"); memviz imported it through
    xml.sax.saxutils (arenamap's escaping), so a subinterpreter's mere `import memviz`
    crashed its process. memviz's import stays clear of it on every version."""
    facts = child_python("""
        import json, sys
        import memviz
        print(json.dumps(sorted(m for m in ("hashlib", "_hashlib", "ssl", "urllib.request")
                                if m in sys.modules)))
    """).json()
    assert facts == []
