"""``memviz report [FILE.json ...] [-o FILE.html]`` (and ``memviz`` alone): the report of a
snapshot, taken now or saved; with ``-o``, one HTML page."""
from __future__ import annotations

import argparse
import os
import sys

from .. import capabilities, pymalloc, snapshot
from .._errors import MemvizError
from .._version import __version__
from ..htmlreport import render_report
from ..render.text import pinning_section
from ._common import (MIN_CHANGE_HELP, STDIN, CommandError, UsageError, check_outputs,
                      check_stdin_once, load, os_reason, out, positive)


def add_to(commands) -> None:
    """Adds the command to the parser's subcommands."""
    report = commands.add_parser(
        "report", help="a report of this interpreter, or of saved snapshots (text or HTML)",
        description="Prints the report of a snapshot: a new one of this interpreter "
                    "(with a census: every object's bytes, by type), or "
                    "the one saved in FILE. With -o, writes one self-contained HTML page "
                    "instead (tables, the arena map; for several snapshots also what "
                    "changed from each to the next).")
    report.add_argument("file", nargs="*", metavar="FILE.json",
                        help="snapshots saved by 'memviz snapshot -o', '-' for one on "
                             "standard input (default: take one now)")
    report.add_argument("-o", "--output", metavar="FILE.html",
                        help="write the report as an HTML page to FILE.html ('-': standard "
                             "output)")
    report.add_argument("--min-change", type=positive, default=1, metavar="N",
                        help=MIN_CHANGE_HELP)
    report.add_argument("--top", type=positive, default=15, metavar="N",
                        help="types to list (default 15)")
    report.set_defaults(func=cmd_report, prog=report.prog)


def _live_header() -> str:
    caps = capabilities()
    available = ", ".join(c.name for c in caps if c.available) or "none"
    return (f"memviz {__version__}: a live reading of this interpreter "
            f"({sys.executable})\nreadings available: {available}")


def cmd_report(args: argparse.Namespace) -> int:
    files = args.file if isinstance(args.file, list) else [args.file] if args.file else []
    check_stdin_once(args.prog, files)
    if getattr(args, "output", None):
        return _html_report(args, files)
    if len(files) > 1:
        raise UsageError(args.prog, "several snapshots need -o FILE.html (or compare two "
                                     "with 'memviz diff OLD.json NEW.json')")
    if not files:
        snap = snapshot(census=True)
        out(_live_header() + "\n\n" + snap.report(args.top) + _live_pinning())
    else:
        out(load(files[0]).report(args.top))
    return 0


def _pins_now() -> tuple | None:
    """What keeps each sparse arena allocated, read now (no walk when no arena is sparse);
    None where pymalloc cannot be read (the report's "Not read here" says why)."""
    try:
        return pymalloc.arena_pins()
    except MemvizError:
        return None


def _live_pinning() -> str:
    """The text section of :func:`_pins_now` ("" without sparse arenas)."""
    section = pinning_section(_pins_now())
    return f"\n{section}\n" if section else ""


def _html_report(args: argparse.Namespace, files: list[str]) -> int:
    """report -o FILE.html: one self-contained page (memviz.htmlreport)."""
    if args.output != "-":
        check_outputs(args.prog, {"-o": args.output})
    snaps = [load(path) for path in files] or [snapshot(census=True)]
    names = ([STDIN if path == "-" else os.path.basename(path) for path in files]
             or ["this interpreter, now"])
    page = render_report(snaps, args.top, names=names, min_change=args.min_change,
                         pins=None if files else _pins_now())
    if args.output == "-":
        out(page)
        return 0
    try:
        with open(args.output, "w", encoding="utf-8") as file:
            file.write(page)
    except OSError as error:
        raise CommandError(f"cannot write {args.output}: {os_reason(error)}") from None
    what = "1 snapshot" if len(snaps) == 1 else f"{len(snaps)} snapshots and what changed"
    print(f"report written to {args.output} ({what})", file=sys.stderr)
    return 0
