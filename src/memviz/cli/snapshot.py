"""``memviz snapshot [-o FILE.json]``: a snapshot of this interpreter, as JSON."""
from __future__ import annotations

import argparse
import sys

from .. import snapshot
from ..render.view import format_bytes
from ._common import check_outputs, out, save


def add_to(commands) -> None:
    """Adds the command to the parser's subcommands."""
    snap = commands.add_parser(
        "snapshot", help="save a snapshot of this interpreter as JSON",
        description="Takes a snapshot of this interpreter and writes it as JSON to FILE "
                    "(standard output without -o). Of interest mostly as a format example: "
                    "to snapshot your own program, call memviz.snapshot().dump(path) in it, "
                    "or use 'memviz run -o'.")
    snap.add_argument("-o", "--output", metavar="FILE.json",
                      help="where to write the snapshot (default: standard output)")
    snap.add_argument("--indent", type=int, default=None, metavar="N",
                      help="indent the JSON by N spaces")
    snap.add_argument("--census", action="store_true",
                      help="also take a census (every object, tracked by the collector or "
                           "not, with its bytes, per type) and save it in the snapshot")
    snap.set_defaults(func=cmd_snapshot, prog=snap.prog)


def cmd_snapshot(args: argparse.Namespace) -> int:
    if args.output in (None, "-"):
        out(snapshot(census=args.census).to_json(indent=args.indent) + "\n")
        return 0
    check_outputs(args.prog, {"-o": args.output})
    snap = snapshot(census=args.census)
    save(snap, args.output)
    summary = [f"snapshot written to {args.output}"]
    if snap.generations is not None:
        summary.append(f"{sum(g.objects for g in snap.generations):,} GC objects")
    census = snap.census
    if census is not None:
        summary.append(f"a census of {census.total_objects:,} objects "
                       f"({format_bytes(census.total_bytes)})")
    if snap.pymalloc is not None:
        summary.append(f"{snap.pymalloc.arenas_current:,} arenas")
    if snap.rss is not None:
        summary.append(f"RSS {format_bytes(snap.rss)}")
    print(", ".join(summary), file=sys.stderr)
    return 0
