"""The census on the command line, in real processes: ``memviz run --census``,
``memviz snapshot --census``, the live report's types by bytes, ``report`` and ``diff`` of
files with and without a census."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import memviz
from memviz.render.view import census_heading, format_bytes

from support.capabilities import needs
from support.cli import one_line_error

pytestmark = needs("gc")

#: A snapshot file memviz wrote before format 3 (by commit fffe406, on CPython 3.12.1).
FORMAT_2 = Path(__file__).parent / "data" / "snapshot-format-2.json"

#: What the script below makes: COUNT unique bytes objects of SIZE bytes each.
COUNT, SIZE = 3000, 1000

SCRIPT = f"""
import sys
kept = [i.to_bytes(4, "little") * ({SIZE} // 4) for i in range({COUNT})]
print("made", len(kept), "of", sys.getsizeof(kept[0]), "bytes")
"""


def cli(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    """`python -m memviz ARGS` in a new process, without PYTHONPATH."""
    environment = dict(os.environ)
    environment.pop("PYTHONPATH", None)
    environment.pop("PYTHONTRACEMALLOC", None)
    return subprocess.run([sys.executable, "-m", "memviz", *args], capture_output=True,
                          text=True, cwd=cwd, env=environment, timeout=120)


def section(report: str, heading: str) -> list[str]:
    """The lines of the report's section that starts with ``heading``, up to the blank
    line after it."""
    lines = report.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(heading))
    return lines[start:lines.index("", start)]


def row(lines: list[str], name: str) -> list[str]:
    return next(line.split() for line in lines if line.split()[:1] == [name])


def test_run_census_shows_the_bytes_the_script_made(tmp_path):
    script = tmp_path / "grow.py"
    script.write_text(SCRIPT)
    ran = cli("run", "--census", "--before", str(tmp_path / "b.json"), "-o",
              str(tmp_path / "a.json"), str(script))
    assert ran.returncode == 0, ran.stderr
    each = sys.getsizeof(bytes(SIZE))
    assert ran.stdout.startswith(f"made {COUNT} of {each} bytes\n")
    before = memviz.Snapshot.load(tmp_path / "b.json")
    after = memviz.Snapshot.load(tmp_path / "a.json")
    assert before.has_census and after.has_census
    grown = next(d for d in (after - before).census_types() if d.name == "builtins.bytes")
    assert grown.bytes_delta >= COUNT * each and grown.count_delta >= COUNT
    lines = section(ran.stdout, "Types by bytes: ")
    fields = row(lines, "builtins.bytes")
    # name, bytes (2 words), change (2 words), objects, change
    assert " ".join(fields[1:3]) == format_bytes(grown.bytes)
    assert " ".join(fields[3:5]) == format_bytes(grown.bytes_delta, True)
    assert fields[5:] == [f"{grown.count:,}", f"{grown.count_delta:+,}"]
    assert lines[2].split()[0] == "builtins.bytes"   # the largest change
    # The diff of the saved files says the same.
    diffed = cli("diff", str(tmp_path / "b.json"), str(tmp_path / "a.json"))
    assert diffed.returncode == 0, diffed.stderr
    assert section(diffed.stdout, "Types by bytes: ") == lines


def test_run_without_census_takes_none(tmp_path):
    script = tmp_path / "grow.py"
    script.write_text(SCRIPT)
    ran = cli("run", "-o", str(tmp_path / "a.json"), str(script))
    assert ran.returncode == 0, ran.stderr
    assert "Types by bytes" not in ran.stdout
    assert memviz.Snapshot.load(tmp_path / "a.json").census is None


def test_snapshot_census_saves_it(tmp_path):
    path = tmp_path / "census.json"
    made = cli("snapshot", "--census", "-o", str(path))
    assert made.returncode == 0, made.stderr
    snap = memviz.Snapshot.load(path)
    census = snap.census
    assert census is not None and json.loads(path.read_text())["version"] == 3
    assert census.total_objects > sum(g.objects for g in snap.generations)
    assert census["builtins.str"].tracked == 0 and census["builtins.str"].count > 1000
    assert (f"a census of {census.total_objects:,} objects "
            f"({format_bytes(census.total_bytes)})") in made.stderr
    plain = cli("snapshot", "-o", str(tmp_path / "plain.json"))
    assert plain.returncode == 0 and "a census of" not in plain.stderr
    assert memviz.Snapshot.load(tmp_path / "plain.json").census is None
    printed = cli("snapshot", "--census")
    assert printed.returncode == 0
    assert json.loads(printed.stdout)["census"]["types"]["builtins.str"][0] > 1000
    # The report of the file shows its census, as the snapshot's own report does.
    report = cli("report", str(path), "--top", "4")
    assert report.returncode == 0, report.stderr
    assert report.stdout == snap.report(4)
    lines = section(report.stdout, "Census: ")
    assert lines[0] == f"Census: {census_heading(census)}"
    assert [line.split()[0] for line in lines[3:7]] == [s.name for s in census.top(4)]


def test_the_live_report_shows_the_types_by_bytes():
    for args in ((), ("report",)):
        live = cli(*args, "--top", "6")
        assert live.returncode == 0, live.stderr
        lines = section(live.stdout, "Census: ")
        assert lines[1].startswith("Types by bytes: top 6 of ")
        rows = [line.split() for line in lines[3:]]
        assert len(rows) == 7 and rows[-1][1:3] == ["other", "types)"]
        units = {"B": 1, "KiB": 1024, "MiB": 1024**2, "GiB": 1024**3}
        sizes = [float(r[3]) * units[r[4]] for r in rows[:-1]]
        assert sizes == sorted(sizes, reverse=True)
        # every object, tracked or not: more than the collector's
        census_objects = int(lines[0].split()[1].replace(",", ""))
        gc_line = next(line for line in live.stdout.splitlines()
                       if line.startswith("Garbage collector ("))
        tracked = int(gc_line.split(": ")[1].split()[0].replace(",", ""))
        assert census_objects > tracked


def test_report_and_diff_of_files_without_a_census(tmp_path):
    old = cli("report", str(FORMAT_2))
    assert old.returncode == 0, old.stderr
    assert "Census: " not in old.stdout and "Types by bytes" not in old.stdout
    assert old.stdout == memviz.Snapshot.load(FORMAT_2).report()
    assert cli("snapshot", "--census", "-o", str(tmp_path / "new.json")).returncode == 0
    diffed = cli("diff", str(FORMAT_2), str(tmp_path / "new.json"))
    assert diffed.returncode == 0, diffed.stderr
    assert section(diffed.stdout, "Types by bytes: ") == [
        "Types by bytes: not compared (the older snapshot has no census; "
        "memviz.snapshot(census=True) takes one)"]


def test_census_options_keep_one_line_errors(tmp_path):
    missing = cli("run", "--census", str(tmp_path / "missing.py"))
    assert missing.returncode == 1
    assert one_line_error(missing.stderr) == (
        f"memviz run: cannot run {tmp_path / 'missing.py'}: no such file")
    bad = cli("snapshot", "--census", "--indent", "wide")
    assert bad.returncode == 2
    assert one_line_error(bad.stderr).startswith("memviz snapshot: argument --indent")
    unwritable = cli("snapshot", "--census", "-o", str(tmp_path / "no" / "such.json"))
    assert unwritable.returncode == 2
    assert "no such directory" in one_line_error(unwritable.stderr)
    script = tmp_path / "fails.py"
    script.write_text(textwrap.dedent("""
        kept = [b"%d" % i for i in range(10)]
        raise SystemExit(7)
    """))
    failed = cli("run", "--census", str(script))
    assert failed.returncode == 7
    assert "Types by bytes: " in failed.stdout
