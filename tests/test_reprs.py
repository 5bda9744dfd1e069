"""Snapshot and SnapshotDiff in IPython (``_repr_pretty_``) and Jupyter (``_repr_html_``).

The pretty form is the text report; the HTML form is the HTML report's section (the same
function, memviz.htmlreport), parsed here with html.parser and held to the values.
"""
from __future__ import annotations

import pytest

import memviz
from memviz import htmlreport

from support.html import check_diff_section, check_snapshot_section, parse_html

try:
    from IPython.lib.pretty import pretty as ipython_pretty
except ImportError:   # IPython is optional
    ipython_pretty = None


class FakePrinter:
    """What _repr_pretty_ may use of IPython's printer: ``text``."""

    def __init__(self):
        self.parts: list[str] = []

    def text(self, text: str) -> None:
        self.parts.append(text)


def pretty(obj, cycle: bool = False) -> str:
    if ipython_pretty is not None and not cycle:
        return ipython_pretty(obj)
    printer = FakePrinter()
    obj._repr_pretty_(printer, cycle)
    return "".join(printer.parts)


class Made:
    pass


@pytest.fixture(scope="module")
def snapshots():
    old = memviz.snapshot()
    made = [Made() for _ in range(123)]
    new = memviz.snapshot()
    del made
    return old, new


def test_snapshot_pretty(snapshots):
    _, snap = snapshots
    assert pretty(snap) == snap.report()
    assert pretty(snap, cycle=True) == repr(snap)


def test_diff_pretty(snapshots):
    old, new = snapshots
    diff = new - old
    assert pretty(diff) == diff.report()
    assert pretty(diff, cycle=True) == repr(diff)


@pytest.mark.skipif(ipython_pretty is None, reason="IPython is not installed: the fake "
                    "printer above stands in for it in the other tests")
def test_through_ipython(snapshots):
    # IPython finds _repr_pretty_ itself (the tests above call it when IPython is absent)
    old, new = snapshots
    assert ipython_pretty(new) == new.report()
    assert ipython_pretty(new - old) == (new - old).report()


def test_snapshot_html(snapshots):
    _, snap = snapshots
    fragment = snap._repr_html_()
    assert fragment == htmlreport.snapshot_html(snap)    # the report's own section
    assert fragment.startswith('<div class="memviz"><style>')
    assert "<html" not in fragment and "<script" not in fragment
    dom = parse_html(fragment)
    check_snapshot_section(dom.find("section", **{"class": "snapshot"}), snap)


def test_diff_html(snapshots):
    old, new = snapshots
    diff = new - old
    fragment = diff._repr_html_()
    assert fragment == htmlreport.diff_html(diff)
    dom = parse_html(fragment)
    section = dom.find("section", **{"class": "diff"})
    check_diff_section(section, diff)
    if diff.has_types:
        rows = {row.attrs["data-key"]: row for row in section.find_all("tr")
                if "data-key" in row.attrs}
        made = rows[f"{__name__}.Made"]
        cells = {c.attrs["data-field"]: c.text() for c in made.find_all("td")}
        assert (cells["objects"], cells["delta"]) == ("123", "+123")
