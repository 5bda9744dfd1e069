"""Which readings work on this interpreter, and for each that does not, why."""
from __future__ import annotations

from . import _native, pymalloc
from .values.capabilities import Capabilities, Capability

__all__ = ["Capabilities", "Capability", "capabilities"]


def _refcount() -> Capability:
    problem = _native.interpreter_problem()
    if problem is not None:
        return Capability("refcount", False, problem)
    return Capability("refcount", True)


def _gc() -> Capability:
    problem = _native.interpreter_problem()
    if problem is None:
        if not _native.gc_lists_readable():
            problem = (
                "this patch release's collector (the incremental one of 3.14.0-3.14.4) "
                "keeps lists memviz does not read"
            )
    return Capability("gc", problem is None, problem)


def _pymalloc() -> tuple[Capability, ...]:
    """pymalloc.stats, pymalloc.arenas, pymalloc.locate (see memviz.pymalloc)."""
    reasons = pymalloc._capability_reasons()
    return tuple(Capability(name, reason is None, reason) for name, reason in reasons.items())


def capabilities() -> Capabilities:
    """Which readings work on this interpreter and, for each that doesn't, why."""
    return Capabilities(_native.describe_interpreter(), (_refcount(), _gc(), *_pymalloc()))
