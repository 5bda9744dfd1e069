"""Who holds an object: a chain of references from a root to it -- what
``memviz.path_to(obj)`` returns.

Public as ``memviz.holders.Path`` (also ``memviz.Path``).
"""
from __future__ import annotations

from dataclasses import dataclass

from . import public


@public("memviz.holders")
@dataclass(frozen=True, eq=False)
class Path:
    """The shortest chain of references from a root to an object.

    ``objects`` is the chain, root first, the object last (strong references: the path
    keeps them alive while it is kept); ``labels[i]`` says how ``objects[i]`` holds
    ``objects[i + 1]`` (``"['key']"``, ``"[3]"``, ``".attribute"``, ``".__self__"``; ``""``
    where the step is a module's, class's or instance's own ``__dict__``). ``start`` is the
    root as Python code names it (``sys.modules``, ``builtins``, ``sys``, or a running
    function's local) and ``root`` describes it in words. ``str(path)`` reads as a
    Python expression (``sys.modules['app'].cache['k'][3]``); ``is_expression`` says whether
    every step could be written so (a step that only the object graph knows, such as a dict
    key or an internal reference, is shown as ``<...>``).
    """

    objects: tuple
    labels: tuple[str, ...]
    start: str
    root: str

    def __post_init__(self):
        if len(self.labels) != len(self.objects) - 1:
            raise ValueError("a path has one label per step: len(objects) - 1")

    @property
    def is_expression(self) -> bool:
        return "<" not in self.start and not any(label.startswith(" <") for label in self.labels)

    def __len__(self) -> int:
        """The references followed: the steps from the root to the object."""
        return len(self.labels)

    def __str__(self) -> str:
        return self.start + "".join(self.labels)

    def __repr__(self) -> str:
        return f"<memviz.Path {self} ({len(self)} steps from {self.root})>"


@public("memviz.holders")
@dataclass(frozen=True, eq=False)
class Retainer:
    """One of the owners ``memviz.largest()`` lists: ``object`` (a strong reference),
    ``name`` its type's ``module.qualname``, the ``bytes`` and the number of ``objects``
    it retains (itself and every object that every path from a root reaches only through
    it, sized as the census sizes them), and ``path``, the shortest chain of references
    from a root to it (None when it has none within ``path_to``'s depth)."""

    object: object
    name: str
    bytes: int
    objects: int
    path: Path | None

    def __repr__(self) -> str:
        where = f" at {self.path}" if self.path is not None else ""
        return (f"<memviz.Retainer {self.name}{where}: {self.bytes:,} bytes in "
                f"{self.objects:,} objects>")


@public("memviz")
@dataclass(frozen=True)
class Survivors:
    """The objects of one type that a tracked block created and left alive
    (``memviz.track(survivors=True)`` then ``t.survivors()``): ``name`` the type's
    ``module.qualname``, how many (``count``), their ``bytes`` as the census sizes them, and
    ``path``, the shortest chain of references from a root to the biggest of them (None
    when it has none: cyclic garbage, or held only from C)."""

    name: str
    count: int
    bytes: int
    path: Path | None

    def __str__(self) -> str:
        where = f" -- e.g. {self.path}" if self.path is not None else ""
        return f"{self.count:,} {self.name} ({self.bytes:,} bytes){where}"
