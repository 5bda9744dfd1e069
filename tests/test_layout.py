"""The package's shape, where import-linter cannot see it (``lint-imports`` checks the
layers, function-local imports included, in .ci/run).

The compiled core (``memviz._core``, a cffi extension, and the C-API module
``memviz._objects`` it publishes) is not a Python file, so it is outside import-linter's
graph: these tests read the installed package's sources and hold the rule that
``memviz._native`` alone touches it.
"""
from __future__ import annotations

import ast
from pathlib import Path

import memviz
from memviz import _native, _records
from memviz.formats import snapshot_json

PACKAGE = Path(memviz.__file__).parent
SOURCES = sorted(path for path in PACKAGE.rglob("*.py") if path.name != "_build.py")


def _module(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _touches_core(tree: ast.AST) -> list[str]:
    """Where a module imports the compiled core or uses _native's handles on it."""
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            names = [node.module or ""] + [alias.name for alias in node.names]
            if any(name.split(".")[-1] in ("_core", "_objects") for name in names):
                found.append(f"line {node.lineno}: imports {', '.join(names)}")
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[-1] in ("_core", "_objects"):
                    found.append(f"line {node.lineno}: imports {alias.name}")
        elif (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name)
              and node.value.id == "_native" and node.attr in ("ffi", "lib", "objects")):
            found.append(f"line {node.lineno}: _native.{node.attr}")
    return found


def test_the_sources_are_found():
    modules = {_module(path) for path in SOURCES}
    assert {"memviz._native", "memviz.gc", "memviz.pymalloc", "memviz.values.snapshot",
            "memviz.render.html", "memviz.cli.run"} <= modules


def test_only_native_touches_the_compiled_core():
    touching = {}
    for path in SOURCES:
        found = _touches_core(ast.parse(path.read_text(encoding="utf-8")))
        if found:
            touching[_module(path)] = found
    assert list(touching) == ["memviz._native"], touching


def test_the_check_sees_a_module_that_touches_the_core():
    """The scan above finds each way of reaching the core (else it would pass vacuously)."""
    for source in ("from ._core import ffi", "import memviz._objects",
                   "from . import _native\n_native.lib.mv_read_gc(None)"):
        assert _touches_core(ast.parse(source)), source


def test_the_format_keeps_the_c_records_as_they_are():
    """A snapshot keeps the arena map as the C walk's records (bytes copied verbatim):
    the format's columns are the records' fields, in order."""
    assert snapshot_json.POOL_FIELDS == _records.POOL_RECORD.fields
    assert snapshot_json.ARENA_FIELDS + ("pools_used",) == _records.ARENA_RECORD.fields


def test_the_records_match_the_c_structs():
    """_native's load-time check: with the core loaded, no record differs from its C
    struct (a mismatch would have stopped the core from loading, and said why)."""
    if _native.lib is None:
        assert _native.interpreter_problem() is not None
        return
    assert _native._record_mismatch() is None
    assert all(_native.ffi.sizeof(record.c_type) * record.count == record.size
               for record in _records.ALL)


def test_a_record_that_differs_from_its_struct_is_refused(monkeypatch):
    """A field added on the Python side only (or moved): _native names the struct and both
    layouts instead of misreading the buffers."""
    if _native.lib is None:
        assert _native.interpreter_problem() is not None
        return
    moved = _records.Record("mv_pymalloc_pool", tuple(reversed(_records.POOL_RECORD.fields)))
    added = _records.Record("mv_pymalloc_arena", _records.ARENA_RECORD.fields + ("spare",))
    for record in (moved, added):
        monkeypatch.setattr(_records, "ALL", (record,))
        problem = _native._record_mismatch()
        assert problem is not None and record.c_type in problem and str(record.fields) in problem
