"""Shared fixtures and helpers of memviz's test suite.

Every test compares a memviz reading with the standard library's own view of the same
state (``sys.getrefcount``, ``gc.get_objects``, ``gc.get_count`` ...), exactly. Two things
can move the state between the two reads, and the fixtures here exist to pin them down:

* the cyclic collector: on 3.10/3.11 it runs inside any allocation once generation 0 is
  over its threshold; on 3.12+ it is *scheduled* and runs at the eval breaker between two
  statements. Use ``gc_disabled`` (a fixture) or ``gc_paused()`` (a context manager, for
  the body of a ``@given`` test, where function-scoped fixtures are shared by all
  examples) around every pair of reads.
* ``gc.freeze()``: use ``gc_freeze_restored`` in a test that freezes.

Child interpreters: ``run_python(code)`` (also the fixture ``child_python``) runs a snippet
in a fresh ``sys.executable`` with the same installed memviz, for anything that must not
happen in the test process (import-time patches, PYTHONMALLOC, crashes).

tracemalloc: ``tracing`` and ``not_tracing`` (fixtures) start or stop it for one test and
put it back as it was.

What a test needs from the interpreter: ``support.capabilities.needs(*names)``, the one
marker (``@needs("pymalloc.arenas")``, ``pytestmark = needs("gc")``). It skips unless every
named ``memviz.capabilities()`` entry is available, the skip reason is that capability's
own reason, and an unknown name raises at collection instead of skipping. The few
conditions that are not memviz capabilities have one definition each there too
(``needs_core``: the C core loads; ``needs_allocator_choice``: a child may be started with
another PYTHONMALLOC; ``needs_a_supported_base``).

Shared oracles and helpers live in ``support/`` (importable as ``support``: pytest puts
this directory on ``sys.path``), by subject -- ``support.pymalloc``, ``support.refcount``,
``support.gc``, ``support.snapshot``, ``support.sites``, ``support.threads``,
``support.html``, ``support.cli`` -- so that no test module imports another. Children that
run those checks put this directory on their ``sys.path`` (or ``PYTHONPATH``) first.
Their plain asserts are rewritten like the test modules' own (``register_assert_rewrite``).

Hypothesis profiles: ``ci`` (the default: few examples, so the suite stays fast on six
interpreters) and ``long`` (``pytest --hypothesis-profile=long``).
"""
from __future__ import annotations

import gc
import json
import os
import platform
import subprocess
import sys
import textwrap
import tracemalloc
from dataclasses import dataclass
from typing import Iterator, Mapping, Sequence

import pytest
from hypothesis import HealthCheck, settings

# support/'s checks are plain asserts: rewritten like the test modules' own, so that a
# failing one shows its values (registered before any test module imports them).
pytest.register_assert_rewrite("support")

from support.gc import gc_paused  # noqa: E402 - after the rewrite hook is registered

# -- hypothesis profiles -------------------------------------------------------------
# No deadline: a reading walks lists whose length depends on the whole heap, and these
# machines are shared and noisy. Registered at import, before hypothesis' pytest plugin
# loads the profile named by --hypothesis-profile (conftest files are imported first).
settings.register_profile(
    "ci",
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
    print_blob=True,
)
settings.register_profile(
    "long",
    max_examples=600,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
    print_blob=True,
)
settings.load_profile("ci")


# -- the collector -------------------------------------------------------------------
# gc_paused: one definition, in support.gc (children and subinterpreters use it too).
@pytest.fixture
def gc_disabled() -> Iterator[None]:
    """The whole test runs with automatic collections off; the previous state is restored."""
    with gc_paused():
        yield


@pytest.fixture(scope="session")
def gc_pause():
    """The ``gc_paused`` context-manager factory, for ``@given`` bodies:
    ``with gc_pause(): ...`` (one pause per example). Session-scoped, so hypothesis
    does not object to a function-scoped fixture shared by all examples."""
    return gc_paused


@pytest.fixture
def gc_freeze_restored() -> Iterator[None]:
    """For tests that call ``gc.freeze()``: afterwards everything frozen goes back to the
    oldest generation (``gc.unfreeze()``) and the collector's enabled state is restored.

    3.12 and 3.13 also move objects that became immortal into the permanent generation
    during a collection, so ``gc.get_freeze_count()`` can be non-zero before the test;
    those are moved to generation 2 as well, and the next collection puts them back.
    """
    was_enabled = gc.isenabled()
    try:
        yield
    finally:
        gc.unfreeze()
        if was_enabled:
            gc.enable()
        else:
            gc.disable()


# -- tracemalloc ---------------------------------------------------------------------
@pytest.fixture
def tracing():
    """tracemalloc tracing during the test (and as it was after it)."""
    was_tracing = tracemalloc.is_tracing()
    if not was_tracing:
        tracemalloc.start()
    yield
    if not was_tracing:
        tracemalloc.stop()


@pytest.fixture
def not_tracing():
    """tracemalloc stopped during the test (and as it was after it)."""
    was_tracing = tracemalloc.is_tracing()
    frames = tracemalloc.get_traceback_limit()
    if was_tracing:
        tracemalloc.stop()
    yield
    if was_tracing:
        tracemalloc.start(frames)


# -- child interpreters --------------------------------------------------------------
@dataclass(frozen=True)
class ChildResult:
    returncode: int
    stdout: str
    stderr: str

    def json(self):
        """The last non-empty line of stdout, parsed as JSON."""
        lines = [line for line in self.stdout.splitlines() if line.strip()]
        if not lines:
            raise AssertionError(f"the child printed nothing; stderr:\n{self.stderr}")
        return json.loads(lines[-1])


def run_python(
    code: str,
    *,
    env: Mapping[str, str] | None = None,
    python_args: Sequence[str] = (),
    timeout: float = 120,
    check: bool = True,
) -> ChildResult:
    """Runs ``code`` (dedented) in a new ``sys.executable`` and returns its output.

    The child sees the parent's environment plus ``env`` (a value of None removes a
    variable), runs in this file's directory's parent (the source tree's ``src/`` layout
    keeps the uninstalled package off ``sys.path``, so the child imports the installed
    memviz, as the test process does), and gets ``python_args`` before ``-c`` (e.g.
    ``["-X", "dev"]``). With ``check`` a non-zero exit fails the test with the child's
    stderr.
    """
    child_env = dict(os.environ)
    child_env.pop("PYTHONPATH", None)
    for key, value in (env or {}).items():
        if value is None:
            child_env.pop(key, None)
        else:
            child_env[key] = value
    completed = subprocess.run(
        [sys.executable, *python_args, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        env=child_env,
        cwd=os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
        timeout=timeout,
    )
    result = ChildResult(completed.returncode, completed.stdout, completed.stderr)
    if check and completed.returncode != 0:
        raise AssertionError(
            f"child interpreter exited with {completed.returncode}\n"
            f"--- stdout\n{completed.stdout}\n--- stderr\n{completed.stderr}"
        )
    return result


@pytest.fixture(scope="session")
def child_python():
    """``run_python`` as a fixture: ``child_python("import memviz; print(1)").stdout``."""
    return run_python


# -- report header -------------------------------------------------------------------
def pytest_report_header(config):
    try:
        import memviz

        capabilities = str(memviz.capabilities()).replace("\n", ";")
    except Exception as exc:  # the header must never break a run
        capabilities = f"memviz import failed: {exc!r}"
    return [f"interpreter: {platform.python_implementation()} {sys.version.split()[0]}",
            f"memviz: {capabilities}"]
