"""What this interpreter lets the tests read: one marker, ``needs``.

``@needs("pymalloc.arenas")`` (or ``pytestmark = needs("gc")``) skips the test unless
every named capability of ``memviz.capabilities()`` is available, and the skip says why
memviz cannot read it, in the capability's own words ("memviz cannot read
pymalloc.arenas here: the object allocator is 'malloc' (...)"). ``memviz.capabilities()``
is read once per test process, when the first marker is made, as the modules' own
constants used to be. A name memviz does not know is a ``ValueError`` at once, when the
module is collected: a typo must not turn a test into a skip.

``available(*names)`` is the same test as a bool, for a test that checks more where more
is readable; ``GC_READABLE`` and ``PYMALLOC_DIRECT`` (all of ``PYMALLOC_READINGS``) are
the two every other module asks.

Below ``needs``: the conditions that are not memviz capabilities (``needs_core``,
``needs_allocator_choice``, ``needs_a_supported_base``), one definition each, and a
capability taken away in-process (``simulate_incremental_collector``).
"""
from __future__ import annotations

import functools
import platform
import sys
import sysconfig

import pytest

import memviz
from memviz import _native

#: The three pymalloc readings; all of them available = pymalloc is read directly.
PYMALLOC_READINGS = ("pymalloc.stats", "pymalloc.arenas", "pymalloc.locate")


@functools.lru_cache(maxsize=None)
def _capabilities() -> memviz.Capabilities:
    """memviz.capabilities(), read once: every marker of the run sees the same reading."""
    return memviz.capabilities()


def _capability(name: str) -> memviz.Capability:
    capabilities = _capabilities()
    try:
        return capabilities[name]
    except KeyError:
        known = ", ".join(c.name for c in capabilities)
        raise ValueError(f"no memviz capability is called {name!r} (there are: {known})") \
            from None


def _missing(names: tuple[str, ...]) -> list[memviz.Capability]:
    if not names:
        raise TypeError("name at least one memviz capability")
    return [c for c in map(_capability, names) if not c.available]


def available(*names: str) -> bool:
    """Whether every named capability is available here."""
    return not _missing(names)


def skip_reason(*names: str) -> str | None:
    """Why a test that needs these capabilities cannot run here, in the capabilities' own
    words (one clause per reason, naming the capabilities it stops), or None."""
    by_reason: dict[str, list[str]] = {}
    for capability in _missing(names):
        by_reason.setdefault(capability.reason, []).append(capability.name)
    if not by_reason:
        return None
    return "; ".join(f"memviz cannot read {', '.join(stopped)} here: {reason}"
                     for reason, stopped in by_reason.items())


def needs(*names: str) -> pytest.MarkDecorator:
    """A ``skipif`` marker: skip unless every named capability is available."""
    reason = skip_reason(*names)
    return pytest.mark.skipif(reason is not None,
                              reason=reason or f"{', '.join(names)}: available here")


GC_READABLE = available("gc")
PYMALLOC_DIRECT = available(*PYMALLOC_READINGS)


# -- conditions that are not memviz capabilities -------------------------------------

#: memviz's C core loads and knows this interpreter (``_native.interpreter_problem()``):
#: for tests of the C core's own functions (C threads, children that read everything).
needs_core = pytest.mark.skipif(_native.interpreter_problem() is not None,
                                reason=f"no C core here: {_native.interpreter_problem()}")

#: For the tests that start a child with PYTHONMALLOC=malloc (or another allocator).
needs_allocator_choice = pytest.mark.skipif(
    _native.free_threaded(), reason="free-threaded builds accept only mimalloc allocators")

#: What memviz reads (README, "Where memviz cannot read"): CPython 3.10-3.15 with the GIL.
SUPPORTED_HERE = (platform.python_implementation() == "CPython"
                  and (3, 10) <= sys.version_info[:2] <= (3, 15)
                  and not sysconfig.get_config_var("Py_GIL_DISABLED"))
#: For the tests that take away one fact from an interpreter memviz reads: elsewhere the
#: interpreter's own reason comes first.
needs_a_supported_base = pytest.mark.skipif(
    not SUPPORTED_HERE, reason=f"simulates one missing fact on an interpreter memviz reads; "
                               f"{_native.describe_interpreter()} is not one")


# -- a capability taken away, and the renderings of capabilities ----------------------

def simulate_incremental_collector(monkeypatch) -> None:
    """Makes this interpreter look like 3.14.0-3.14.4 to memviz: the C core says the
    collector's lists are not readable (mv_interpreter's gc_lists_readable)."""
    real = _native.lib

    class Incremental:
        def __getattr__(self, name):
            return getattr(real, name)

        def mv_interpreter(self, info):
            status = real.mv_interpreter(info)
            info.gc_lists_readable = 0
            return status

    monkeypatch.setattr(_native, "lib", Incremental())


class _Printer:
    """What IPython's pretty printer hands ``_repr_pretty_``: ``text()`` collects."""

    def __init__(self):
        self.parts: list[str] = []

    def text(self, value: str) -> None:
        self.parts.append(value)


def _renderings(caps) -> dict[str, str]:
    printer = _Printer()
    caps._repr_pretty_(printer, False)
    return {"repr": repr(caps), "str": str(caps), "pretty": "".join(printer.parts),
            **{f"repr {c.name}": repr(c) for c in caps}}
