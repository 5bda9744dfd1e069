"""Which readings an interpreter supports: the values ``memviz.capabilities()`` returns
and every snapshot keeps (``Snapshot.capabilities``)."""
from __future__ import annotations

from dataclasses import dataclass


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
