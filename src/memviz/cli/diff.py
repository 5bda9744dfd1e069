"""``memviz diff OLD.json NEW.json``: what changed between two saved snapshots."""
from __future__ import annotations

import argparse

from ._common import MIN_CHANGE_HELP, check_stdin_once, load, out, positive


def add_to(commands) -> None:
    """Adds the command to the parser's subcommands."""
    diff = commands.add_parser(
        "diff", help="compare two saved snapshots",
        description="Prints what changed from OLD to NEW: objects per type, the collector's "
                    "generations and collections, pymalloc's size classes and arenas, RSS; "
                    "bytes per type too when both were saved with a census "
                    "('memviz snapshot --census', 'memviz run --census').")
    diff.add_argument("old", metavar="OLD.json", help="the earlier snapshot ('-': standard input)")
    diff.add_argument("new", metavar="NEW.json", help="the later snapshot ('-': standard input)")
    diff.add_argument("--min-change", type=positive, default=1, metavar="N",
                      help=MIN_CHANGE_HELP)
    diff.add_argument("--top", type=positive, default=10, metavar="N",
                      help="changes to list per table (default 10)")
    diff.set_defaults(func=cmd_diff, prog=diff.prog)


def cmd_diff(args: argparse.Namespace) -> int:
    check_stdin_once(args.prog, [args.old, args.new])
    old = load(args.old)
    new = load(args.new)
    out((new - old).report(args.top, min_change=args.min_change))
    return 0
