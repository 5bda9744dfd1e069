"""memviz.capabilities() and the unsupported-interpreter path.

On the interpreters CI runs, every reading works; the paths for the others (PyPy, a
free-threaded build, an unknown CPython version, a build without the C core, the
incremental collector of 3.14.0-3.14.4) are simulated: in a child interpreter where the
facts memviz decides from are patched before ``import memviz``, and in-process by
patching ``memviz._native``. In each, every reading must raise ``UnsupportedInterpreter``
with a message that names the interpreter and the reason, ``import memviz`` must not
fail, and ``capabilities()`` must say the same as the readings do.
"""
from __future__ import annotations

import json
import os
import platform
import re

import pytest

import memviz
from memviz import _native

from support.capabilities import (SUPPORTED_HERE, _renderings, needs_a_supported_base,
                                  needs_allocator_choice, simulate_incremental_collector)

# -- the running interpreter --------------------------------------------------------
READINGS = {
    "refcount": {
        "refcount": lambda: memviz.refcount([]),
        "is_immortal": lambda: memviz.is_immortal(None),
    },
    "gc": {
        "generations": memviz.gc.generations,
        "permanent": memviz.gc.permanent,
        "generation_of": lambda: memviz.gc.generation_of([]),
        "type_counts": memviz.gc.type_counts,
    },
}


def test_capabilities_describe_this_interpreter():
    caps = memviz.capabilities()
    assert caps.interpreter == _native.describe_interpreter()
    assert caps.interpreter.startswith(f"{platform.python_implementation()} ")
    assert platform.python_version() in caps.interpreter
    names = [c.name for c in caps]
    assert len(names) == len(set(names))
    assert {"refcount", "gc"} <= set(names)
    for capability in caps:
        assert isinstance(capability, memviz.Capability)
        assert caps[capability.name] is capability
        if capability.available:
            assert capability.reason is None and str(capability) == f"{capability.name}: yes"
        else:
            assert isinstance(capability.reason, str) and capability.reason
            assert str(capability) == f"{capability.name}: no -- {capability.reason}"
    lines = str(caps).splitlines()
    assert lines[0] == caps.interpreter and len(lines) == 1 + len(names)
    with pytest.raises(KeyError):
        caps["no such reading"]


def _deepest_parentheses(text: str) -> int:
    depth = deepest = 0
    for char in text:
        if char == "(":
            depth += 1
            deepest = max(deepest, depth)
        elif char == ")":
            depth -= 1
    return deepest


def test_renderings_are_readable_without_nested_parentheses():
    caps = memviz.capabilities()
    said = _renderings(caps)
    for name, text in said.items():
        assert _deepest_parentheses(text) <= 1, (name, text)
    assert said["pretty"] == str(caps)
    assert said["repr"].startswith(f"<memviz.Capabilities {caps.interpreter}; ")
    available = [c.name for c in caps if c.available]
    if available:
        assert f"available: {', '.join(available)}" in said["repr"]
    for capability in caps:
        assert said[f"repr {capability.name}"] == f"<memviz.Capability {capability}>"


@needs_allocator_choice
def test_renderings_of_unavailable_readings(child_python):
    """PYTHONMALLOC=malloc: the pymalloc readings' reason has parentheses of its own, and
    the renderings do not wrap it in another pair."""
    result = child_python("""
        import json, memviz
        from support.capabilities import _renderings
        caps = memviz.capabilities()
        print(json.dumps({"said": _renderings(caps),
                          "missing": {c.name: c.reason for c in caps if not c.available}}))
    """, env={"PYTHONMALLOC": "malloc", "PYTHONPATH": os.path.dirname(__file__)})
    facts = json.loads(result.stdout)
    missing = facts["missing"]
    assert set(missing) == {"pymalloc.stats", "pymalloc.arenas", "pymalloc.locate"}
    reason = missing["pymalloc.stats"]
    assert "(" in reason and set(missing.values()) == {reason}
    for name, text in facts["said"].items():
        assert _deepest_parentheses(text) <= 1, (name, text)
    assert f"unavailable: pymalloc.stats, pymalloc.arenas, pymalloc.locate -- {reason}>" \
        in facts["said"]["repr"]
    assert f"  pymalloc.stats: no -- {reason}" in facts["said"]["pretty"].splitlines()


@pytest.mark.parametrize("capability", sorted(READINGS))
def test_capabilities_agree_with_the_readings(capability):
    entry = memviz.capabilities()[capability]
    for name, reading in READINGS[capability].items():
        if entry.available:
            reading()  # must not raise
        else:
            with pytest.raises(memviz.UnsupportedInterpreter, match=re.escape(entry.reason)):
                reading()


@pytest.mark.skipif(not SUPPORTED_HERE, reason=f"memviz does not read "
                    f"{_native.describe_interpreter()}: the refusal tests cover it")
def test_refcount_and_gc_work_on_every_supported_interpreter():
    """On a supported interpreter (all six of CI's), a capability reported missing is a
    regression, not a skip."""
    if _native.interpreter_problem() is not None:
        pytest.fail(f"memviz cannot read {_native.describe_interpreter()}: "
                    f"{_native.interpreter_problem()}")
    caps = memviz.capabilities()
    assert caps["refcount"].available and caps["gc"].available


# -- simulated interpreters, in-process ---------------------------------------------
def _assert_refused(reading, reason_fragment):
    with pytest.raises(memviz.UnsupportedInterpreter) as raised:
        reading()
    message = str(raised.value)
    assert _native.describe_interpreter() in message
    assert reason_fragment in message
    return message


def test_gc_readings_refuse_when_the_interpreter_is_unknown(monkeypatch):
    reason = "simulated: memviz does not know this interpreter"
    monkeypatch.setattr(_native, "interpreter_problem", lambda: reason)
    for name, reading in READINGS["gc"].items():
        message = _assert_refused(reading, reason)
        assert f"memviz.gc.{name}()" in message
    caps = memviz.capabilities()
    assert (caps["refcount"].available, caps["refcount"].reason) == (False, reason)
    assert (caps["gc"].available, caps["gc"].reason) == (False, reason)


@needs_a_supported_base
def test_gc_capability_of_the_incremental_collector(monkeypatch):
    """3.14.0-3.14.4: capabilities() must say why the GC readings are refused."""
    simulate_incremental_collector(monkeypatch)
    gc_capability = memviz.capabilities()["gc"]
    assert not gc_capability.available
    assert "3.14.0-3.14.4" in gc_capability.reason
    assert memviz.capabilities()["refcount"].available


@pytest.mark.parametrize("status, error", [
    ("MV_ERR_UNSUPPORTED", memviz.UnsupportedInterpreter),
    ("MV_ERR_WRONG_INTERPRETER", memviz.UnsupportedInterpreter),
    ("MV_ERR_NO_SYMBOLS", memviz.UnsupportedInterpreter),
    ("MV_ERR_COLLECTING", memviz.CollectorRunning),
    ("MV_ERR_PYMALLOC_OFF", memviz.PymallocUnavailable),
    ("MV_ERR_NO_MEMORY", MemoryError),
    ("MV_ERR_BUFFER_TOO_SMALL", memviz.MemvizError),
])
def test_status_codes_become_the_documented_exceptions(status, error):
    code = getattr(_native.lib, status)
    raised = _native.status_error("memviz.some_reading()", code)
    assert isinstance(raised, error)
    message = str(raised)
    assert "memviz.some_reading()" in message
    assert _native.ffi.string(_native.lib.mv_status_message(code)).decode() in message
    if error is memviz.UnsupportedInterpreter:
        assert _native.describe_interpreter() in message


# -- simulated interpreters, in a child ---------------------------------------------
_CHILD = r"""
{patch}
import json
import memviz
from memviz import _native

calls = {{
    "refcount": lambda: memviz.refcount([]),
    "is_immortal": lambda: memviz.is_immortal(None),
    "generations": memviz.gc.generations,
    "permanent": memviz.gc.permanent,
    "generation_of": lambda: memviz.gc.generation_of([]),
    "type_counts": memviz.gc.type_counts,
}}
results = {{}}
for name, call in calls.items():
    try:
        call()
    except Exception as error:
        results[name] = [type(error).__name__, str(error),
                         isinstance(error, memviz.UnsupportedInterpreter)]
    else:
        results[name] = ["ok"]
caps = memviz.capabilities()
print(json.dumps({{
    "results": results,
    "capabilities": {{c.name: [c.available, c.reason] for c in caps}},
    "text": str(caps),
    "interpreter": caps.interpreter,
    "describe": _native.describe_interpreter(),
}}))
"""

_BLOCK_CORE = """
import sys
class _BlockCore:
    def find_spec(self, name, path=None, target=None):
        if name == "memviz._core":
            raise ImportError("simulated: no compiled core")
        return None
sys.meta_path.insert(0, _BlockCore())
"""

SCENARIOS = {
    # name: (patch run before `import memviz`, what the interpreter is called, reason)
    "pypy": ("import platform; platform.python_implementation = lambda: 'PyPy'",
             "PyPy ", "this is not CPython"),
    "free_threaded": (
        "import sysconfig\n"
        "_get = sysconfig.get_config_var\n"
        "sysconfig.get_config_var = lambda name: 1 if name == 'Py_GIL_DISABLED' else _get(name)",
        "(free-threaded)", "free-threaded builds"),
    "no_core": (_BLOCK_CORE, "CPython ", "C core is not available"),
}


@pytest.mark.parametrize("scenario", [
    pytest.param(name, marks=needs_a_supported_base) if name == "no_core" else name
    for name in sorted(SCENARIOS)])
def test_unsupported_interpreters_in_a_child(child_python, scenario):
    patch, named, reason = SCENARIOS[scenario]
    report = child_python(_CHILD.format(patch=patch)).json()
    describe = report["describe"]
    assert report["interpreter"] == describe
    assert named in describe and platform.python_version() in describe
    for name, outcome in report["results"].items():
        assert outcome[0] == "UnsupportedInterpreter" and outcome[2], (name, outcome)
        assert describe in outcome[1], (name, outcome)
        assert reason in outcome[1], (name, outcome)
    for name in ("refcount", "gc"):
        available, why = report["capabilities"][name]
        assert available is False and reason in why, (name, why)
    assert report["text"].splitlines()[0] == describe


@needs_a_supported_base
def test_unknown_cpython_version_in_a_child(child_python):
    """A CPython newer than memviz knows. Faking sys.version_info for a whole import
    would mislead the standard library too; the child moves memviz's known range below
    the running version instead (_UNKNOWN_VERSION), before anything reads it."""
    report = child_python(_CHILD.format(patch=_UNKNOWN_VERSION)).json()
    describe = report["describe"]
    assert describe == f"CPython {platform.python_version()}"
    for name, outcome in report["results"].items():
        assert outcome[0] == "UnsupportedInterpreter", (name, outcome)
        assert describe in outcome[1] and "CPython 3.10 to 3.9 only" in outcome[1], (name, outcome)
    for name in ("refcount", "gc"):
        available, why = report["capabilities"][name]
        assert available is False and "3.10 to 3.9" in why, (name, why)


# memviz._native is executed with NEWEST_KNOWN moved below the running version, by a
# loader that edits the constant right after the module's code defines it.
_UNKNOWN_VERSION = """
import importlib.abc, importlib.machinery, sys

class _Older(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name != "memviz._native":
            return None
        spec = importlib.machinery.PathFinder.find_spec(name, path)
        loader = spec.loader
        source = loader.get_source(name).replace(
            "NEWEST_KNOWN = (3, 15)", "NEWEST_KNOWN = (3, 9)")
        assert "NEWEST_KNOWN = (3, 9)" in source
        class Loader(importlib.abc.Loader):
            def create_module(self, spec):
                return None
            def exec_module(self, module):
                exec(compile(source, spec.origin, "exec"), module.__dict__)
        spec.loader = Loader()
        return spec

sys.meta_path.insert(0, _Older())
"""
