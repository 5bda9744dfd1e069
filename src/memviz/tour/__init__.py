"""``python -m memviz tour``: a guided, live walk through CPython's memory machinery.

Six lessons, each run in this interpreter with memviz's readings of what just happened:

1. references   -- a list, a second name, ``sys.getrefcount``'s +1; a chain of objects
                   freed in order when its head's count reaches zero (weakref callbacks).
2. cycles       -- a list that contains itself and two dicts that refer to each other
                   outlive ``del`` until the cyclic collector finds them;
                   ``gc.disable()`` / ``gc.enable()``.
3. generations  -- thresholds and counts; a survivor promoted from generation 0 to 1 to 2.
4. pymalloc     -- this interpreter's alignment, size classes, pools and arenas next to
                   the classic numbers; objects located in their pools; a large request
                   going to malloc; a freed block reused by the next object of its size.
5. threads      -- a lost update without a lock and none with one; a BoundedSemaphore; a
                   Queue of workers; readings taken while threads run.
6. processes    -- each process has its own heap: snapshots sent back through a Pipe
                   and a Queue from a Pool's workers.

The code of each lesson is shown as a REPL session (``>>>``) and run in a fresh namespace;
what it prints is what this interpreter did. ``run(steps, pause=...)`` runs the tour from
Python; ``python -m memviz tour [--step N] [--list] [--no-pause]`` from the shell.
A reading this interpreter cannot take (pymalloc switched off with ``PYTHONMALLOC=malloc``,
an interpreter memviz cannot read) is named, with the reason, and the lesson goes on.
"""
from __future__ import annotations

import argparse
import contextlib
import os
import sys
from dataclasses import dataclass
from typing import Callable, Sequence, TextIO

import memviz

from . import cycles, generations, processes, pymalloc, references, threads
from ._stage import Tour

__all__ = ["STEPS", "Step", "run"]

# One module per lesson (references, cycles, generations, pymalloc, threads, processes):
# each writes on the stage (_stage.Tour) and reads through memviz's public API only.


# --------------------------------------------------------------------------------------
# The steps


@dataclass(frozen=True)
class Step:
    name: str
    title: str
    summary: str
    run: Callable[[Tour], None]


STEPS: tuple[Step, ...] = (
    Step("references", "References",
         "refcounts of a list and its names; sys.getrefcount's +1; a destruction cascade",
         references.lesson_references),
    Step("cycles", "Cycles",
         "a self-referencing list and two dicts outlive del until gc.collect()",
         cycles.lesson_cycles),
    Step("generations", "Generations",
         "thresholds and counts; a survivor promoted from generation 0 to 1 to 2",
         generations.lesson_generations),
    Step("pymalloc", "pymalloc",
         "alignment, size classes, pools, arenas then and now; blocks located and reused",
         pymalloc.lesson_pymalloc),
    Step("threads", "Threads and the GIL",
         "a lost update and its lock, a BoundedSemaphore, a Queue of workers",
         threads.lesson_threads),
    Step("processes", "Processes",
         "each process has its own heap: snapshots through a Pipe and a Queue",
         processes.lesson_processes),
)


def _heading(t: Tour, number: int, step: Step) -> None:
    title = f"Step {number} of {len(STEPS)}: {step.title}"
    t.write()
    t.write(title)
    t.write("=" * len(title))


def run(steps: Sequence[int] | None = None, *, pause: bool = False,
        out: TextIO | None = None) -> int:
    """Runs the tour's steps (1-based numbers; all by default), pausing for Enter
    between steps when ``pause`` (``q`` or end of input there ends the tour). Returns
    the exit status: 0."""
    out = sys.stdout if out is None else out
    t = Tour(out)
    numbers = list(range(1, len(STEPS) + 1)) if steps is None else list(steps)
    if steps is None:
        t.write(f"memviz tour: {memviz.capabilities().interpreter}, pid {os.getpid()}")
        t.say("""
            Six short lessons on how CPython manages memory, each run live in this
            interpreter. Code is shown as typed at >>> and run as shown; every number is
            what this interpreter just did.
        """)
    for position, number in enumerate(numbers):
        step = STEPS[number - 1]
        _heading(t, number, step)
        with contextlib.redirect_stdout(out) if out is not sys.stdout else \
                contextlib.nullcontext():
            step.run(t)
        if pause and position < len(numbers) - 1:
            try:
                answer = input("\n  [Enter] next step, [q] quit: ")
            except EOFError:
                answer = "q"
            if answer.strip().lower().startswith("q"):
                break
    t.write()
    return 0


# --------------------------------------------------------------------------------------
# The command line (memviz.cli.tour registers it)


def _step_number(text: str) -> int:
    try:
        number = int(text)
    except ValueError:
        number = None
    if number is None:
        names = [step.name for step in STEPS]
        if text in names:
            return names.index(text) + 1
        raise argparse.ArgumentTypeError(
            f"expected a step number 1-{len(STEPS)} or a name ({', '.join(names)}), "
            f"got {text!r}")
    if not 1 <= number <= len(STEPS):
        raise argparse.ArgumentTypeError(f"no step {number}: the steps are 1-{len(STEPS)}")
    return number


def configure_parser(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--step", type=_step_number, action="append", metavar="N",
                        help=f"run only step N (1-{len(STEPS)} or its name; repeatable)")
    parser.add_argument("--list", action="store_true", help="list the steps and exit")
    parser.add_argument("--no-pause", action="store_true",
                        help="do not wait for Enter between steps (the default waits "
                             "when standard input is a terminal)")


def main(args: argparse.Namespace) -> int:
    if args.list:
        width = max(len(step.name) for step in STEPS)
        for number, step in enumerate(STEPS, 1):
            print(f"{number}. {step.name.ljust(width)}  {step.summary}")
        return 0
    pause = not args.no_pause and _interactive()
    return run(args.step, pause=pause)


def _interactive() -> bool:
    try:
        return sys.stdin is not None and sys.stdin.isatty()
    except (AttributeError, ValueError):
        return False
