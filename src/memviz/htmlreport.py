"""Snapshots and their diffs as one self-contained HTML page (``memviz.render.html``).

``render_report(snapshots)`` is the whole page, ``write_report(path, snapshots)`` writes
it, ``snapshot_html(snap)`` / ``diff_html(diff)`` are the fragments Jupyter shows (see
``memviz.render.html`` for what the page holds and how its cells are marked).
"""
from .render.html import (CSS, diff_html, diff_section, render_report, snapshot_html,
                          snapshot_section, write_report)

__all__ = ["CSS", "diff_html", "diff_section", "render_report", "snapshot_html",
           "snapshot_section", "write_report"]
