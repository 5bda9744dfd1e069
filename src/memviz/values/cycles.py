"""Cyclic garbage: one group of the objects the next full collection would free -- what
``memviz.gc.unreachable()`` returns.

Public as ``memviz.gc.Cycle``.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import Callable

from . import public

_TYPE_QUALNAME = type.__dict__["__qualname__"]


def _short_name(obj: object) -> str:
    """The qualified name of obj's class, read with type's own descriptor."""
    return _TYPE_QUALNAME.__get__(type(obj), type)


@public("memviz.gc")
@dataclass(frozen=True, eq=False)
class Cycle:
    """A strongly connected group of unreachable objects, and the unreachable objects
    that only it holds.

    ``objects`` are all of them, in the order of the collector's lists (strong references:
    they stay alive, and are no garbage, while the cycle is kept). ``loop`` is a shortest
    chain of references through the first of them on the cycle, each holding the next and
    the last holding the first; ``labels[i]`` says how ``loop[i]`` holds the next
    (``"[0]"``, ``"['key']"``, ``".attribute"``; ``""`` where the next is the holder's own
    ``__dict__``), as ``memviz.path_to`` labels its steps, when first asked for.
    ``str(cycle)`` draws the loop: ``list[0] → dict['b'] → dict['a'] → list``.

    ``bytes`` is the sum of their sizes as the census sizes them (``sys.getsizeof``'s).
    ``has_finalizers``: one of them has a finalizer the collector would run (a
    ``__del__`` / ``tp_finalize`` not yet run, or a legacy ``tp_del``; the collector
    keeps an object with a ``tp_del``, and all it holds, in ``gc.garbage`` instead of
    freeing it). ``resurrects`` is a guess on the safe side: one of those finalizers is a
    ``__del__`` written in Python, which may store a reference to its object or to
    anything it holds, and then the collection frees none of them. Whether it does can
    only be known by running it; a finalizer written in C (a generator's, a file's) is
    taken not to.
    """

    objects: tuple
    loop: tuple
    bytes: int
    has_finalizers: bool
    resurrects: bool
    #: How the reading labels a chain of references (``memviz.holders.step_labels``):
    #: asked the first time ``labels`` is, so that finding the garbage costs no labels.
    label_steps: Callable[[list], tuple[str, ...]] = field(repr=False)

    @cached_property
    def labels(self) -> tuple[str, ...]:
        # Labelled with the last object first, so that the first step knows what holds
        # its holder (an instance's own __dict__ is labelled by attribute).
        loop = self.loop
        return self.label_steps([*loop[-1:], *loop, *loop[:1]])[1:]

    @property
    def types(self) -> tuple[type, ...]:
        """The exact types of its objects, each once, in the order of ``objects``."""
        return tuple(dict.fromkeys(type(obj) for obj in self.objects))

    def __len__(self) -> int:
        return len(self.objects)

    def __str__(self) -> str:
        if not self.loop:
            return f"<{len(self.objects)} objects in no cycle>"
        # Start at an object that is not its predecessor's own __dict__, so that every
        # own __dict__ is drawn as its owner's attributes: ``Node.next → Node``.
        count = len(self.loop)
        start = next((i for i in range(count) if self.labels[i - 1] != ""), 0)
        text = _short_name(self.loop[start])
        for step in range(count):
            i = (start + step) % count
            text += self.labels[i]
            if self.labels[i] != "" or step == count - 1:
                text += " → " + _short_name(self.loop[(i + 1) % count])
        return text

    def __repr__(self) -> str:
        count = len(self.objects)
        flags = "".join((", finalizers" if self.has_finalizers else "",
                         ", may resurrect" if self.resurrects else ""))
        return (f"<memviz.gc.Cycle {self}: {count} object{'s' if count != 1 else ''}, "
                f"{self.bytes:,} bytes{flags}>")
