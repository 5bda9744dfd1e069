"""The tour's stage: where a lesson writes (prose, readings, tables, a REPL-like
session run in a fresh namespace), and the few readings several lessons share."""
from __future__ import annotations

import ast
import contextlib
import gc
import io
import queue
import shutil
import sys
import textwrap
import threading
import time
import weakref
from typing import Sequence, TextIO

import memviz

from ..render.text import table

WIDTH = 88


class Tour:
    """Where a lesson writes: prose (wrapped, indented 2), readings (one per line,
    ``  - label: value``), tables, and sessions (indented 4, ``>>>``)."""

    def __init__(self, out: TextIO):
        self.out = out
        self.width = min(WIDTH, max(60, shutil.get_terminal_size((WIDTH, 24)).columns))

    def write(self, text: str = "") -> None:
        self.out.write(text + "\n")
        self.out.flush()

    def say(self, text: str) -> None:
        """A paragraph of prose, wrapped."""
        self.write()
        for paragraph in textwrap.dedent(text).strip().split("\n\n"):
            self.write(textwrap.fill(" ".join(paragraph.split()), self.width,
                                     initial_indent="  ", subsequent_indent="  "))

    def reading(self, label: str, value: object, note: str = "") -> None:
        """One reading on its own line (the tests parse these)."""
        self.write(f"  - {label}: {value}" + (f"  ({note})" if note else ""))

    def unavailable(self, what: str, error: BaseException | str) -> None:
        self.reading(what, "not available here", str(error))

    def cannot_read(self, capability: str) -> bool:
        """Says why, and is True, when memviz cannot take the reading ``capability``
        (``"gc"``, ``"refcount"`` ...) here: the lesson that needs it then ends."""
        problem = available(capability)
        if problem:
            self.unavailable(f"memviz.{capability}", problem)
        return problem is not None

    def table(self, headers: Sequence[str], rows: Sequence[Sequence[object]]) -> None:
        self.write()
        self.write(table(headers, rows, indent="    "))

    def session(self) -> Session:
        return Session(self)


class Session:
    """A fresh namespace in which lesson code runs as if typed at ``>>>``: each
    statement is echoed, run, and an expression's value printed with ``repr``; an
    exception is printed as the REPL's last traceback line. Output the code prints
    (weakref callbacks included) is indented with the session."""

    def __init__(self, tour: Tour):
        self.tour = tour
        self.namespace: dict = {
            "__name__": "__tour__",
            "gc": gc,
            "memviz": memviz,
            "queue": queue,
            "sys": sys,
            "threading": threading,
            "time": time,
            "weakref": weakref,
        }

    def run(self, source: str, comment: str = ""):
        """Runs ``source`` (one or more statements); returns the value of a lone
        expression (None otherwise, or when it raised)."""
        source = textwrap.dedent(source).strip("\n")
        tree = ast.parse(source, "<tour>", "exec")
        starts = {node.lineno for node in tree.body}
        for number, line in enumerate(source.splitlines(), 1):
            prompt = ">>> " if number in starts else "... "
            if number == 1 and comment:
                line = f"{line}    # {comment}"
            self.tour.write(f"    {prompt}{line}".rstrip())
        captured = io.StringIO()
        value = None
        try:
            with contextlib.redirect_stdout(captured):
                if len(tree.body) == 1 and isinstance(tree.body[0], ast.Expr):
                    code = compile(ast.Expression(tree.body[0].value), "<tour>", "eval")
                    value = eval(code, self.namespace)
                else:
                    exec(compile(tree, "<tour>", "exec"), self.namespace)
        except Exception as error:   # noqa: BLE001 - shown as the REPL shows it
            self._emit(captured.getvalue())
            self.tour.write(f"    {exception_line(error)}")
            return None
        self._emit(captured.getvalue())
        if value is not None:
            for line in repr(value).splitlines():
                self.tour.write(f"    {line}")
        return value

    def _emit(self, text: str) -> None:
        for line in text.splitlines():
            self.tour.write(f"    {line}".rstrip())

    def __getitem__(self, name: str):
        return self.namespace[name]


def exception_line(error: BaseException) -> str:
    cls = type(error)
    name = cls.__qualname__
    if cls.__module__ not in ("builtins", "__main__"):
        name = f"{cls.__module__}.{name}"
    text = str(error)
    return f"{name}: {text}" if text else name


@contextlib.contextmanager
def collector_restored():
    """The lesson may disable, enable, freeze: afterwards the collector is enabled or
    not as before, and the lesson's callbacks are gone."""
    enabled = gc.isenabled()
    callbacks = list(gc.callbacks)
    try:
        yield
    finally:
        gc.callbacks[:] = callbacks
        if enabled:
            gc.enable()
        else:
            gc.disable()


def available(name: str) -> str | None:
    """None when the reading ``name`` works here, else why not."""
    capability = memviz.capabilities()[name]
    return None if capability.available else (capability.reason or "not available")


def gen0_count(cls: type) -> int:
    """GC-tracked objects of exactly ``cls`` in generation 0 (the dict that
    type_counts returns is dropped before this returns)."""
    return memviz.gc.type_counts(0).get(cls, 0)


def collection_count() -> int:
    return sum(g.collections for g in memviz.gc.generations())
