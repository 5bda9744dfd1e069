"""What every command shares: its errors, how it names files and reads and writes them."""
from __future__ import annotations

import argparse
import os
import sys

from .._errors import SnapshotFormatError
from ..values.snapshot import Snapshot

PROG = "memviz"

#: How the messages name standard input ("-") as a snapshot's source.
STDIN = "standard input"


class CommandError(Exception):
    """A failure to report in one line on stderr, exit status 1."""


class UsageError(Exception):
    """A bad command line: one line on stderr that points to the command's --help, exit
    status 2."""

    def __init__(self, prog: str, message: str):
        super().__init__(message)
        self.prog = prog   # "memviz" or "memviz COMMAND": whose usage was wrong

    def __str__(self) -> str:
        return f"{self.prog}: {self.args[0]}; see: python -m {self.prog} --help"


def os_reason(error: OSError) -> str:
    """Why a file could not be read or written, in the same words for the same problem
    in every command."""
    if isinstance(error, FileNotFoundError):
        return "no such file"
    if isinstance(error, IsADirectoryError):
        return "it is a directory"
    reason = error.strerror or str(error)
    return reason[:1].lower() + reason[1:]   # "permission denied", as "no such file"


def output_problem(path: str) -> str | None:
    """Why ``path`` cannot be written as an output file, or None when it can."""
    if os.path.isdir(path):
        return "it is a directory"
    directory = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(directory):
        return "no such directory"
    if os.path.exists(path):
        writable = os.access(path, os.W_OK)
    else:
        writable = os.access(directory, os.W_OK | os.X_OK)
    return None if writable else "permission denied"


def check_outputs(prog: str, outputs: dict[str, str | None]) -> None:
    """A usage error unless every output file given (option: path) can be written: found
    before the work that would have filled them."""
    given = {option: path for option, path in outputs.items() if path}
    for path in given.values():
        problem = output_problem(path)
        if problem:
            raise UsageError(prog, f"cannot write {path}: {problem}")
    if len({os.path.abspath(path) for path in given.values()}) < len(given):
        raise UsageError(prog, f"{' and '.join(given)} name the same file")


def check_stdin_once(prog: str, paths: list[str]) -> None:
    """Standard input ("-") holds one snapshot: a usage error when it is named twice."""
    if paths.count("-") > 1:
        raise UsageError(prog, f"'-' ({STDIN}) can be read only once")


def load(path: str) -> Snapshot:
    """The snapshot saved in ``path`` (``-``: standard input), or a CommandError that says
    why not."""
    try:
        if path == "-":
            return Snapshot._read(sys.stdin.buffer, STDIN)
        return Snapshot.load(path)
    except OSError as error:
        raise CommandError(f"cannot read {STDIN if path == '-' else path}: "
                           f"{os_reason(error)}") from None
    except SnapshotFormatError as error:
        # The message starts with the path already.
        raise CommandError(f"not a snapshot memviz can read: {error}") from None


def save(snap, path: str) -> None:
    try:
        snap.dump(path)
    except OSError as error:
        raise CommandError(f"cannot write {path}: {os_reason(error)}") from None


def out(text: str, stream=None) -> None:
    stream = sys.stdout if stream is None else stream
    stream.write(text)
    stream.flush()


MIN_CHANGE_HELP = ("list only the types whose count changed by at least N objects; the "
                   "others are summed in one row (default 1: every change)")


def positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {value}")
    return value
