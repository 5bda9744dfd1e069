"""Which readings work on this interpreter, and for each that does not, why."""
from __future__ import annotations

from dataclasses import dataclass

from . import _native, pymalloc


@dataclass(frozen=True)
class Capability:
    """One reading: whether it works here, and the reason when it does not."""

    name: str
    available: bool
    reason: str | None = None

    def __str__(self) -> str:
        # The reason after a dash, not in parentheses: reasons carry their own
        # ("the object allocator is 'malloc' (PYTHONMALLOC=malloc: ...)").
        return f"{self.name}: " + ("yes" if self.available else f"no -- {self.reason}")

    def __repr__(self) -> str:
        return f"<memviz.Capability {self}>"


@dataclass(frozen=True)
class Capabilities:
    """The readings of this interpreter; index by name: ``capabilities()["gc"]``."""

    interpreter: str
    readings: tuple[Capability, ...]

    def __getitem__(self, name: str) -> Capability:
        for capability in self.readings:
            if capability.name == name:
                return capability
        raise KeyError(name)

    def __iter__(self):
        return iter(self.readings)

    def __str__(self) -> str:
        return "\n".join([self.interpreter, *(f"  {c}" for c in self.readings)])

    def __repr__(self) -> str:
        """One line: the readings that work, then those that do not, grouped by reason."""
        available = [c.name for c in self.readings if c.available]
        missing: dict[str | None, list[str]] = {}
        for capability in self.readings:
            if not capability.available:
                missing.setdefault(capability.reason, []).append(capability.name)
        parts = [f"available: {', '.join(available) or 'none'}"]
        parts += [f"unavailable: {', '.join(names)} -- {reason}"
                  for reason, names in missing.items()]
        return f"<memviz.Capabilities {self.interpreter}; {'; '.join(parts)}>"

    def _repr_pretty_(self, printer, cycle: bool) -> None:
        """IPython: the text, one reading a line."""
        printer.text(str(self) if not cycle else repr(self))


def _refcount() -> Capability:
    problem = _native.interpreter_problem()
    if problem is not None:
        return Capability("refcount", False, problem)
    return Capability("refcount", True)


def _gc() -> Capability:
    problem = _native.interpreter_problem()
    if problem is None:
        info = _native.ffi.new("mv_interpreter_info *")
        _native.lib.mv_interpreter(info)
        if not info.gc_lists_readable:
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
