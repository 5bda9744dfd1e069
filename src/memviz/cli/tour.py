"""``memviz tour``: the guided, live walk (``memviz.tour``)."""
from __future__ import annotations

import argparse

from ..tour import configure_parser as tour_options
from ..tour import main as tour_main


def add_to(commands) -> None:
    """Adds the command to the parser's subcommands."""
    tour = commands.add_parser(
        "tour", help="a guided, live walk through refcounts, the collector, pymalloc, "
                     "threads and processes",
        description="Six short lessons run live in this interpreter, each with memviz's "
                    "readings of what just happened. Pauses for Enter between steps when "
                    "standard input is a terminal.")
    tour_options(tour)
    tour.set_defaults(func=cmd_tour, prog=tour.prog)


def cmd_tour(args: argparse.Namespace) -> int:
    return tour_main(args)
