"""memviz's command line: ``python -m memviz`` (or ``memviz``) and its commands.

Every error is one line on standard error that starts with the command (``memviz diff:
...``). Usage errors -- bad arguments, and output files that cannot be written, found
before any work starts -- exit 2 and point to the command's ``--help``; a file that is
missing, unreadable or not a snapshot exits 1; ``run`` exits with the script's own exit
status. ``-`` names standard input for the snapshots ``report`` and ``diff`` read, and
standard output for what ``snapshot -o`` and ``report -o`` write.

One module per command (``report``, ``snapshot``, ``diff``, ``run``, ``tour``), each with
``add_to(commands)`` (its arguments) and its ``cmd_*`` function; ``_common`` holds what
they share. Commands use memviz's public API and its renderers, never the C core.
"""
from __future__ import annotations

import argparse
import os
import sys
from typing import Sequence

from .._errors import MemvizError
from .._version import __version__
from . import diff, report, run, snapshot, tour
from ._common import PROG, CommandError, UsageError, positive

__all__ = ["build_parser", "main"]


class _Parser(argparse.ArgumentParser):
    def error(self, message):
        raise UsageError(self.prog, message)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog=PROG,
        description=(
            "Exact readings of CPython's reference counts, garbage collector and pymalloc. "
            "Without a command: a live report of this interpreter (the collector's "
            "generations, the most common types, the types that hold the most bytes "
            "from a census of every object, pymalloc's arenas, size classes and "
            "fragmentation)."
        ),
        epilog=f"Run '{PROG} COMMAND --help' for a command's options.",
    )
    parser.add_argument("--version", action="version", version=f"memviz {__version__}")
    parser.add_argument("--top", type=positive, default=15, metavar="N",
                        help="types and size classes to list (default 15)")
    parser.set_defaults(func=report.cmd_report, file=None, prog=parser.prog, min_change=1)
    commands = parser.add_subparsers(title="commands", metavar="COMMAND", parser_class=_Parser)
    for command in (report, snapshot, diff, run, tour):
        command.add_to(commands)
    return parser


def _split_run(argv: list[str]) -> tuple[list[str], list[str] | None]:
    """memviz's own arguments, and (for `run -m MODULE args...`) the module's arguments,
    which argparse would otherwise read as memviz's own options."""
    i = 0
    while i < len(argv) and argv[i].startswith("-"):   # options before the command
        i += 2 if argv[i] == "--top" else 1
    if i >= len(argv) or argv[i] != "run":
        return argv, None
    i += 1
    takes_value = {"-o", "--output", "--before", "--top", "--min-change"}
    while i < len(argv):
        arg = argv[i]
        if arg == "-m":
            if i + 1 >= len(argv):
                return argv, None
            return argv[:i + 2], argv[i + 2:]
        if arg.startswith("-m") and not arg.startswith("--"):   # -mMODULE
            return argv[:i + 1], argv[i + 1:]
        if arg in takes_value:
            i += 2
        elif arg.startswith("-") and arg != "-":
            i += 1
        else:
            return argv, None   # a script: argparse's REMAINDER takes what follows it
    return argv, None


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    own, module_args = _split_run(argv)
    prog = PROG   # whose error it is: "memviz COMMAND" once the command is known
    try:
        args, unknown = parser.parse_known_args(own)
        prog = args.prog
        if unknown:   # parse_args would say so as the main parser's, not the command's
            raise UsageError(prog, f"unrecognized arguments: {' '.join(unknown)}")
        if module_args is not None:
            args.args = module_args
        if args.func is run.cmd_run and args.module and args.script:
            # `run -m MODULE` with a name argparse took for SCRIPT: it is the module's
            args.args = [args.script, *args.args]
            args.script = None
        return args.func(args)
    except UsageError as error:
        print(error, file=sys.stderr)
        return 2
    except (CommandError, MemvizError) as error:
        print(f"{prog}: {error}", file=sys.stderr)
        return 1
    except BrokenPipeError:
        # The reader went away (`memviz | head`): nothing more to say.
        try:
            sys.stdout = open(os.devnull, "w")
        except OSError:
            pass
        return 0
    except KeyboardInterrupt:
        print(f"{prog}: interrupted", file=sys.stderr)
        return 130
