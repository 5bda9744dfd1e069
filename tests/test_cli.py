"""The command line: ``python -m memviz`` and the ``memviz`` console script."""
from __future__ import annotations

import importlib.util
import json
import os
import re
import shlex
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Sequence

import pytest

import memviz
from memviz._sites import NOT_TRACING

from support.capabilities import GC_READABLE, available, needs
from support.cli import one_line_error, run_main

PYMALLOC = available("pymalloc.stats")


def cli(*args: str, cwd: Path | None = None, timeout: float = 120,
        input: str | None = None, python: Sequence[str] = (),
        env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """`python PYTHON -m memviz ARGS` in a new process (``input``: its standard input),
    its environment this one's with ``env`` added, without PYTHONPATH, nor
    PYTHONTRACEMALLOC unless ``env`` sets it."""
    environment = dict(os.environ)
    environment.pop("PYTHONPATH", None)
    environment.pop("PYTHONTRACEMALLOC", None)
    environment.update(env or {})
    return subprocess.run([sys.executable, *python, "-m", "memviz", *args],
                          capture_output=True, text=True, cwd=cwd, env=environment,
                          timeout=timeout, input=input)


def python(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    """`python ARGS` in a new process: what memviz run must behave like."""
    return subprocess.run([sys.executable, *args], capture_output=True, text=True, cwd=cwd,
                          timeout=120)


def type_row(report: str, name: str) -> list[str] | None:
    """The fields of type ``name``'s row in a report's Types table, None when absent."""
    for line in report.splitlines():
        fields = line.split()
        if fields[:1] == [name]:
            return fields
    return None


class Marker:
    pass


# --------------------------------------------------------------------------------------
# The live report


def test_the_live_report(capsys):
    status, out, err = run_main(capsys)
    assert status == 0 and err == ""
    lines = out.splitlines()
    assert lines[0] == f"memviz {memviz.__version__}: a live reading of this interpreter ({sys.executable})"
    available = [c.name for c in memviz.capabilities() if c.available]
    assert lines[1] == "readings available: " + (", ".join(available) or "none")
    assert lines[3].startswith(f"memviz snapshot: {memviz.capabilities().interpreter}, pid {os.getpid()}")
    if GC_READABLE:
        start = lines.index(next(l for l in lines if l.startswith("Types: top 15 of ")))
        rows = lines[start + 2:start + 2 + 16]
        assert rows[-1].lstrip().startswith("(") and "other types)" in rows[-1]
        counts = [int(row.split()[1].replace(",", "")) for row in rows[:-1]]
        assert counts == sorted(counts, reverse=True)
        assert any(line.startswith("Garbage collector (enabled): ") for line in lines)
    if PYMALLOC:
        assert any(line.startswith("pymalloc: ") and " arenas of " in line for line in lines)
        assert "Size classes (those with pools)" in lines
    if PYMALLOC and memviz.capabilities()["pymalloc.arenas"].available:
        assert any(line.startswith("Fragmentation: ") for line in lines)
        # the sparse arenas (under 25%) are said once: the histogram goes on from 25%
        frag = next(l for l in lines if l.startswith("Fragmentation: "))
        assert " less than 25% used: " in lines[lines.index(frag) + 1]
        assert any(line.startswith("  the other arenas by share in use: 25-50%: ")
                   for line in lines)
        assert "0-25%" not in out


@needs("gc")
def test_top_limits_the_types(capsys):
    status, out, _ = run_main(capsys, "--top", "3")
    assert status == 0
    lines = out.splitlines()
    start = lines.index(next(l for l in lines if l.startswith("Types: top 3 of ")))
    assert "other types)" in lines[start + 2 + 3]


@pytest.mark.parametrize("command", [[], ["report"], ["snapshot"], ["diff"], ["run"]])
def test_help_on_every_command(capsys, command):
    status, out, err = run_main(capsys, *command, "--help")
    assert status == 0 and err == ""
    assert out.startswith(f"usage: memviz {' '.join(command)}".rstrip())
    assert "-h, --help" in out


def test_version(capsys):
    status, out, _ = run_main(capsys, "--version")
    assert (status, out) == (0, f"memviz {memviz.__version__}\n")


# --------------------------------------------------------------------------------------
# snapshot, report FILE, diff


def test_snapshot_to_a_file_and_to_stdout(capsys, tmp_path):
    path = tmp_path / "now.json"
    status, out, err = run_main(capsys, "snapshot", "-o", str(path))
    assert status == 0 and out == ""
    assert err.startswith(f"snapshot written to {path}")
    snap = memviz.Snapshot.load(path)
    assert snap.pid == os.getpid()
    status, out, _ = run_main(capsys, "snapshot")
    assert status == 0
    assert json.loads(out)["format"] == "memviz.snapshot"
    assert memviz.Snapshot.from_json(out).pid == os.getpid()
    status, out, _ = run_main(capsys, "snapshot", "--indent", "2")
    assert out.startswith('{\n  "format": "memviz.snapshot"')


def test_report_of_a_saved_snapshot(capsys, tmp_path):
    snap = memviz.snapshot()
    path = tmp_path / "saved.json"
    snap.dump(path)
    status, out, err = run_main(capsys, "report", str(path), "--top", "4")
    assert status == 0 and err == ""
    assert out == snap.report(4)


@needs("gc")
def test_diff_of_two_files(capsys, tmp_path, gc_disabled):
    old = memviz.snapshot()
    markers = [Marker() for _ in range(1234)]
    new = memviz.snapshot()
    old.dump(tmp_path / "old.json")
    new.dump(tmp_path / "new.json")
    status, out, err = run_main(capsys, "diff", str(tmp_path / "old.json"),
                                str(tmp_path / "new.json"), "--top", "3")
    assert status == 0 and err == ""
    assert out == (new - old).report(3)
    lines = out.splitlines()
    start = lines.index(next(l for l in lines if l.startswith("Types: ")))
    # The markers and their list, nothing else: `new` leaves `old` out, as memviz's own.
    assert lines[start].startswith("Types: 2 changed, +1,235 GC-tracked objects")
    assert lines[start + 2].split() == [f"{__name__}.Marker", "1,234", "+1,234", "+1,234",
                                        "0", "0"]
    assert lines[start + 3].split()[0] == "builtins.list"
    assert lines[start + 3].split()[2:4] == ["+1", "+1"]
    assert lines[start + 4] == ""
    del markers


def test_run_and_the_diff_of_its_files_agree(tmp_path):
    """The snapshot `run -o` saves leaves the `--before` one out (memviz's own, alive in
    the run): the report run prints and `memviz diff` of its two files agree."""
    script = tmp_path / "grow.py"
    script.write_text("class Grown:\n    pass\n\nkept = [Grown() for _ in range(321)]\n")
    ran = cli("run", "--before", str(tmp_path / "b.json"), "-o", str(tmp_path / "a.json"),
              str(script))
    assert ran.returncode == 0, ran.stderr
    diffed = cli("diff", str(tmp_path / "b.json"), str(tmp_path / "a.json"))
    assert diffed.returncode == 0, diffed.stderr

    def types_section(report: str) -> list[str]:
        lines = report.splitlines()
        start = lines.index(next(l for l in lines if l.startswith("Types: ")))
        return lines[start:lines.index("", start)]

    assert types_section(ran.stdout) == types_section(diffed.stdout)
    assert not any(line.split()[0].startswith("memviz.")
                   for line in types_section(ran.stdout)[2:])
    assert type_row(ran.stdout, "__main__.Grown")[1:3] == ["321", "+321"]
    saved = memviz.Snapshot.load(tmp_path / "a.json")
    assert saved.own_objects()["memviz.snapshot.Snapshot"] >= 1


def test_run_min_change(tmp_path):
    script = tmp_path / "grow.py"
    script.write_text("kept = [[i] for i in range(150)]\nfew = {1: {2}}\n")
    ran = cli("run", "--min-change", "100", str(script))
    assert ran.returncode == 0, ran.stderr
    rows = ran.stdout.splitlines()
    header = next(line for line in rows if line.startswith("Types: "))
    assert header.endswith("by change, of at least 100)")
    assert int(type_row(ran.stdout, "builtins.list")[2].replace(",", "")) >= 150
    assert type_row(ran.stdout, "builtins.set") is None
    assert any("changed by less than 100)" in line for line in rows)


# --------------------------------------------------------------------------------------
# Errors


def test_a_missing_file_is_one_line_and_exit_1(capsys, tmp_path):
    good = tmp_path / "good.json"
    memviz.snapshot().dump(good)
    status, out, err = run_main(capsys, "diff", str(good), str(tmp_path / "missing.json"))
    assert status == 1 and out == ""
    assert one_line_error(err) == f"memviz diff: cannot read {tmp_path / 'missing.json'}: no such file"


@pytest.mark.parametrize("content, message", [
    ("garbage", "not valid JSON: Expecting value at line 1 column 1"),
    ('{"format": "memviz.snapshot", "version": 9}',
     "version: snapshot format version 9 is not supported"),
    ('{"format": "memviz.snapshot", "ver', "the text ends early"),
    ('{"hello": "world"}', "not a memviz snapshot"),
    ("", "empty, not a memviz snapshot"),
])
def test_a_file_that_is_not_a_snapshot_is_one_line_and_exit_1(capsys, tmp_path, content,
                                                                message):
    bad = tmp_path / "bad.json"
    bad.write_text(content)
    for args in (["diff", str(bad), str(tmp_path / "other.json")], ["report", str(bad)]):
        status, out, err = run_main(capsys, *args)
        assert status == 1 and out == ""
        line = one_line_error(err)
        assert line.startswith(f"memviz {args[0]}: not a snapshot memviz can read: {bad}: ")
        assert message in line


def test_a_directory_and_an_unwritable_output(capsys, tmp_path):
    status, _, err = run_main(capsys, "report", str(tmp_path))
    assert status == 1
    assert one_line_error(err) == f"memviz report: cannot read {tmp_path}: it is a directory"
    target = tmp_path / "no" / "such" / "dir" / "x.json"
    status, _, err = run_main(capsys, "snapshot", "-o", str(target))
    assert status == 2   # found before the snapshot is taken: a usage error
    assert one_line_error(err) == (f"memviz snapshot: cannot write {target}: no such directory; "
                                   "see: python -m memviz snapshot --help")
    assert not target.parent.exists()
    status, _, err = run_main(capsys, "snapshot", "-o", str(tmp_path))
    assert status == 2
    assert one_line_error(err) == (f"memviz snapshot: cannot write {tmp_path}: it is a "
                                   "directory; see: python -m memviz snapshot --help")


@pytest.mark.parametrize("args, prog, message", [
    (["frobnicate"], "memviz", "argument COMMAND: invalid choice: 'frobnicate'"),
    (["diff", "only-one.json"], "memviz diff", "the following arguments are required: NEW.json"),
    (["--top", "0"], "memviz", "argument --top: expected a positive integer, got 0"),
    (["diff", "a.json", "b.json", "--top", "many"], "memviz diff",
     "argument --top: expected a positive integer, got 'many'"),
    (["run"], "memviz run", "give a script, or -m MODULE"),
    (["run", "--top", "x", "script.py"], "memviz run",
     "argument --top: expected a positive integer, got 'x'"),
    (["snapshot", "--bogus"], "memviz snapshot", "unrecognized arguments: --bogus"),
    (["report", "a.json", "b.json"], "memviz report",
     "several snapshots need -o FILE.html (or compare two with 'memviz diff OLD.json NEW.json')"),
    (["tour", "--step", "9"], "memviz tour", "argument --step: no step 9: the steps are 1-6"),
])
def test_usage_errors_exit_2_and_point_to_their_own_help(capsys, args, prog, message):
    status, out, err = run_main(capsys, *args)
    assert status == 2 and out == ""
    line = one_line_error(err)
    assert line.startswith(f"{prog}: {message}")   # argparse may add "(choose from ...)"
    assert line.endswith(f"; see: python -m {prog} --help")


@pytest.mark.parametrize("command", ["run", "tour"])
def test_the_help_an_error_points_to_is_that_commands(command):
    result = cli(command, "--top" if command == "run" else "--step", "0")
    assert result.returncode == 2
    hint = one_line_error(result.stderr).rsplit("; see: ", 1)[1]
    assert hint == f"python -m memviz {command} --help"
    python, dash_m, module, *args = hint.split()
    shown = cli(*args)
    assert (python, dash_m, module) == ("python", "-m", "memviz")
    assert shown.returncode == 0 and shown.stdout.startswith(f"usage: memviz {command} ")


def test_errors_from_a_real_process(tmp_path):
    result = cli("diff", str(tmp_path / "a.json"), str(tmp_path / "b.json"))
    assert result.returncode == 1 and result.stdout == ""
    assert one_line_error(result.stderr) == f"memviz diff: cannot read {tmp_path / 'a.json'}: no such file"
    result = cli("diff")
    assert result.returncode == 2 and result.stdout == ""
    assert "the following arguments are required: OLD.json, NEW.json" in result.stderr


def test_a_closed_pipe_is_not_an_error():
    env = dict(os.environ)
    env.pop("PYTHONPATH", None)
    process = subprocess.Popen([sys.executable, "-m", "memviz", "--top", "200"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env,
                               bufsize=0)
    first = process.stdout.read(10)
    process.stdout.close()   # the reader goes away, as `memviz | head -c 10` would
    err = process.stderr.read().decode()
    process.wait(60)
    assert first == b"memviz " + memviz.__version__.encode()[:3]
    assert "Traceback" not in err and "BrokenPipe" not in err
    assert process.returncode == 0


def test_a_dash_reads_a_snapshot_from_standard_input(tmp_path):
    old = memviz.snapshot()
    markers = [Marker() for _ in range(50)]
    new = memviz.snapshot()
    old.dump(tmp_path / "old.json")
    new.dump(tmp_path / "new.json")
    result = cli("report", "-", "--top", "5", input=new.to_json())
    assert (result.returncode, result.stderr) == (0, "")
    assert result.stdout == memviz.Snapshot.from_json(new.to_json()).report(5)
    page = cli("report", "-o", "-", "-", input=new.to_json())
    assert page.returncode == 0 and "<h2>Snapshot: standard input</h2>" in page.stdout
    for args, stdin in ((["-", str(tmp_path / "new.json")], old),
                        ([str(tmp_path / "old.json"), "-"], new)):
        result = cli("diff", *args, "--top", "4", input=stdin.to_json())
        assert (result.returncode, result.stderr) == (0, ""), args
        assert result.stdout == (new - old).report(4)
    del markers


def test_standard_input_errors():
    result = cli("diff", "-", "-", input="{}")
    assert result.returncode == 2 and result.stdout == ""
    assert one_line_error(result.stderr) == ("memviz diff: '-' (standard input) can be read "
                                             "only once; see: python -m memviz diff --help")
    result = cli("report", "-", input="garbage")
    assert result.returncode == 1 and result.stdout == ""
    assert one_line_error(result.stderr) == (
        "memviz report: not a snapshot memviz can read: standard input: not valid JSON: "
        "Expecting value at line 1 column 1")


def test_no_such_file_is_said_one_way(tmp_path):
    missing, script = tmp_path / "missing.json", tmp_path / "missing.py"
    cases = [
        (["report", missing], f"memviz report: cannot read {missing}: no such file"),
        (["report", "-o", tmp_path / "x.html", missing],
         f"memviz report: cannot read {missing}: no such file"),
        (["diff", missing, missing], f"memviz diff: cannot read {missing}: no such file"),
        (["run", script], f"memviz run: cannot run {script}: no such file"),
        (["run", "-o", tmp_path / "no" / "x.json", "-m", "json.tool"],
         f"memviz run: cannot write {tmp_path / 'no' / 'x.json'}: no such directory; "
         "see: python -m memviz run --help"),
    ]
    for args, message in cases:
        result = cli(*map(str, args), cwd=tmp_path)
        assert result.returncode in (1, 2) and result.stdout == ""
        assert one_line_error(result.stderr) == message


# --------------------------------------------------------------------------------------
# run


SCRIPT = """
    import gc, sys
    class Leak:
        pass
    leaked = [Leak() for _ in range(321)]
    garbage = []
    garbage.append(garbage)
    del garbage
    print("ran as", __name__, "with", sys.argv, "path0", sys.path[0])
    gc.collect()
    sys.exit(int(sys.argv[1]))
"""


@needs("gc")
def test_run_a_script(tmp_path):
    script = tmp_path / "leaky.py"
    script.write_text(textwrap.dedent(SCRIPT))
    after = tmp_path / "after.json"
    before = tmp_path / "before.json"
    result = cli("run", "-o", str(after), "--before", str(before), str(script), "3", "-o",
                 "for-the-script", cwd=tmp_path)
    assert result.returncode == 3, result.stderr
    out = result.stdout
    expected_argv = [str(script), "3", "-o", "for-the-script"]
    assert out.startswith(f"ran as __main__ with {expected_argv} path0 {tmp_path}\n")
    assert f"memviz run: {' '.join(expected_argv)} (exit status 3, " in out
    leak_row = next(line for line in out.splitlines() if "__main__.Leak" in line)
    # gc.collect() moved them to generation 2
    assert leak_row.split() == ["__main__.Leak", "321", "+321", "0", "0", "+321"]
    lines = out.splitlines()
    section = next(i for i, line in enumerate(lines)
                   if line.startswith("Collections during the run: "))
    total = int(lines[section].rsplit(" ", 1)[1])
    assert lines[section + 1].split() == ["generation", "collections", "collected",
                                          "uncollectable", "total", "ms", "longest", "ms"]
    rows = {}
    for line in lines[section + 2:]:
        if not line.startswith("  "):
            break
        fields = line.split()
        rows[int(fields[0])] = [int(n.replace(",", "")) for n in fields[1:4]]
    assert sum(row[0] for row in rows.values()) == total
    # the script's gc.collect() (automatic generation-0 collections may come along)
    assert rows[2][0] == 1 and rows[2][1] >= 1
    saved = memviz.Snapshot.load(after)
    assert saved.type_counts()["__main__.Leak"] == 321
    assert "__main__.Leak" not in memviz.Snapshot.load(before).type_counts()
    assert saved.pid == memviz.Snapshot.load(before).pid != os.getpid()


@needs("gc")
def test_run_a_module(tmp_path):
    package = tmp_path / "pkg"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "tool.py").write_text(textwrap.dedent("""
        import sys
        class Made:
            pass
        made = [Made() for _ in range(55)]
        print("module", __name__, sys.argv[1:])
    """))
    result = cli("run", "-m", "pkg.tool", "x", "-o", "y", "--top", "1", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("module __main__ ['x', '-o', 'y', '--top', '1']\n")
    assert "memviz run: pkg.tool x -o y --top 1 (exit status 0, " in result.stdout
    row = next(line for line in result.stdout.splitlines() if "__main__.Made" in line)
    assert row.split()[:3] == ["__main__.Made", "55", "+55"]
    assert sum(int(n) for n in row.split()[3:]) == 55


SITES_SCRIPT = """\
import gc, sys, tracemalloc
{start}
class Made:
    __slots__ = ("value",)   # 3.11's tracemalloc misses a managed __dict__'s objects
made = [Made() for _ in range(500)]
few = [Made() for _ in range(20)]
# The oracle: tracemalloc's own record of each live Made, counted over gc.get_objects().
oracle = {{}}
for obj in gc.get_objects():
    if type(obj) is Made:
        frame = tracemalloc.get_object_traceback(obj)[-1]
        site = f"{{frame.filename}}:{{frame.lineno}}"
        oracle[site] = oracle.get(site, 0) + 1
print("oracle", sorted(oracle.items()))
{end}
"""
# Where SITES_SCRIPT makes its Made objects (``{start}`` is one line).
MADE_LINE, FEW_LINE = (SITES_SCRIPT.splitlines().index(line) + 1 for line in (
    "made = [Made() for _ in range(500)]", "few = [Made() for _ in range(20)]"))


def sites_section(out: str) -> dict[str, list[list[str]]]:
    """The report's allocation sites: {type with its change: [[site, objects], ...]}."""
    lines = out.splitlines()
    start = next(i for i, line in enumerate(lines)
                 if line.startswith("Allocation sites of the growing types"))
    assert lines[start + 1].split() == ["type,", "site", "objects"]
    sections: dict[str, list[list[str]]] = {}
    for line in lines[start + 2:]:
        if not line.startswith("  "):
            break
        if line.startswith("    "):
            sections[kind].append(line.split())
        else:
            kind = line.strip()
            sections[kind] = []
    return sections


@needs("gc")
@pytest.mark.parametrize("python, env, start, end, status", [
    (("-X", "tracemalloc"), {}, "", "", 0),
    ((), {"PYTHONTRACEMALLOC": "1"}, "", "", 0),
    ((), {}, "tracemalloc.start()", "", 0),
    # read before anything is torn down, also when the script ends by raising
    (("-X", "tracemalloc"), {}, "", "raise ValueError('x')", 1),
], ids=["X-tracemalloc", "PYTHONTRACEMALLOC", "script-starts-it", "script-raises"])
def test_run_lists_where_the_growing_types_were_allocated(tmp_path, python, env, start,
                                                          end, status):
    (tmp_path / "script.py").write_text(SITES_SCRIPT.format(start=start, end=end))
    result = cli("run", "script.py", cwd=tmp_path, python=python, env=env)
    assert result.returncode == status, result.stderr
    oracle = next(line for line in result.stdout.splitlines() if line.startswith("oracle "))
    assert oracle == (f"oracle [('script.py:{MADE_LINE}', 500), "
                      f"('script.py:{FEW_LINE}', 20)]")
    sites = sites_section(result.stdout)
    assert sites["__main__.Made (+520)"] == [[f"script.py:{MADE_LINE}", "500"],
                                             [f"script.py:{FEW_LINE}", "20"]]
    assert NOT_TRACING not in result.stdout


@needs("gc")
def test_run_without_tracemalloc_says_how_to_get_sites(tmp_path):
    (tmp_path / "script.py").write_text(
        "import tracemalloc\nprint('tracing', tracemalloc.is_tracing())\n"
        "class Made:\n    pass\nmade = [Made() for _ in range(500)]\n")
    result = cli("run", "script.py", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("tracing False\n")
    assert result.stdout.endswith(f"\n\nAllocation sites: not read -- {NOT_TRACING}\n")
    assert "python -X tracemalloc" in NOT_TRACING
    assert "script.py:" not in result.stdout


def test_run_a_script_that_raises(tmp_path):
    script = tmp_path / "boom.py"
    script.write_text("x = 1\nraise ValueError('boom')\n")
    result = cli("run", str(script), cwd=tmp_path)
    assert result.returncode == 1
    assert result.stderr.splitlines() == [
        "Traceback (most recent call last):",
        f'  File "{script}", line 2, in <module>',
        "    raise ValueError('boom')",
        "ValueError: boom",
    ]
    assert "memviz run: " in result.stdout and "(exit status 1, " in result.stdout


@pytest.mark.parametrize("code, status, stderr", [
    ("import sys; sys.exit('bye')", 1, "bye\n"),
    ("import sys; sys.exit(None)", 0, ""),
    ("import sys; sys.exit(-1)", 255, ""),
    ("pass", 0, ""),
])
def test_run_keeps_the_exit_status(tmp_path, code, status, stderr):
    script = tmp_path / "exits.py"
    script.write_text(code + "\n")
    result = cli("run", str(script), cwd=tmp_path)
    assert result.returncode == status
    assert result.stderr == stderr
    plain = subprocess.run([sys.executable, str(script)], capture_output=True, text=True)
    assert (plain.returncode, plain.stderr) == (status, stderr)   # as python itself does


def test_run_what_does_not_exist(capsys, tmp_path):
    status, out, err = run_main(capsys, "run", str(tmp_path / "nope.py"))
    assert status == 1 and out == ""
    assert one_line_error(err) == f"memviz run: cannot run {tmp_path / 'nope.py'}: no such file"
    status, out, err = run_main(capsys, "run", "-m", "no_such_module_here")
    assert status == 1
    assert one_line_error(err) == ("memviz run: cannot run -m no_such_module_here: "
                                   "no module named 'no_such_module_here'")
    status, _, err = run_main(capsys, "run", str(tmp_path))
    assert status == 1 and one_line_error(err).endswith(": not a file")


def test_the_console_script(tmp_path):
    script = Path(sys.executable).parent / "memviz"
    assert script.exists(), "pip installs the console script beside the interpreter"
    result = subprocess.run([str(script), "--version"], capture_output=True, text=True)
    assert (result.returncode, result.stdout) == (0, f"memviz {memviz.__version__}\n")
    result = subprocess.run([str(script), "report", str(tmp_path / "x.json")],
                            capture_output=True, text=True)
    assert result.returncode == 1
    assert one_line_error(result.stderr) == f"memviz report: cannot read {tmp_path / 'x.json'}: no such file"


# --------------------------------------------------------------------------------------
# run and the script's standard output, its exit status, and the output files


def test_run_json_tool_which_closes_stdout(tmp_path):
    (tmp_path / "small.json").write_text('{"b": [1, 2], "a": null}\n')
    after = tmp_path / "after.json"
    result = cli("run", "-o", str(after), "-m", "json.tool", "small.json", cwd=tmp_path)
    plain = python("-m", "json.tool", "small.json", cwd=tmp_path)
    assert (result.returncode, result.stderr) == (plain.returncode, plain.stderr) == (0, "")
    assert result.stdout.startswith(
        plain.stdout + "\nmemviz run: json.tool small.json (exit status 0, ")
    assert "\nmemviz diff: " in result.stdout
    assert memviz.Snapshot.load(after).pid != os.getpid()


@pytest.mark.parametrize("code", [
    "import sys; print('hi'); sys.stdout.close()",
    "import io, sys; print('hi'); sys.stdout = io.StringIO(); print('swallowed')",
    "import sys; print('hi'); sys.stdout.close(); sys.exit(4)",
    "import sys\nprint('hi')\nsys.stdout.close()\nraise ValueError('late')",
    "import os, sys; print('hi', flush=True); os.close(sys.stdout.fileno())",
])
def test_run_reports_whatever_the_script_did_to_stdout(tmp_path, code):
    script = tmp_path / "script.py"
    script.write_text(code + "\n")
    after = tmp_path / "after.json"
    result = cli("run", "-o", str(after), str(script), cwd=tmp_path)
    plain = python(str(script), cwd=tmp_path)
    assert plain.stdout == "hi\n"
    assert (result.returncode, result.stderr) == (plain.returncode, plain.stderr)
    assert result.stdout.startswith(
        f"hi\n\nmemviz run: {script} (exit status {plain.returncode}, ")
    assert "\nmemviz diff: " in result.stdout and "swallowed" not in result.stdout
    assert memviz.Snapshot.load(after).pid != os.getpid()


@pytest.mark.parametrize("options, message", [
    (["-o", "{tmp}/no/such/after.json"], "cannot write {tmp}/no/such/after.json: no such directory"),
    (["--before", "{tmp}/no/before.json"], "cannot write {tmp}/no/before.json: no such directory"),
    (["-o", "{tmp}"], "cannot write {tmp}: it is a directory"),
    (["--before", "{tmp}/s.json", "-o", "{tmp}/./s.json"], "-o and --before name the same file"),
])
def test_run_checks_its_output_files_before_starting_the_script(tmp_path, options, message):
    marker = tmp_path / "started"
    script = tmp_path / "script.py"
    script.write_text(f"open({str(marker)!r}, 'w').close()\n")
    result = cli("run", *(o.format(tmp=tmp_path) for o in options), str(script), cwd=tmp_path)
    assert result.returncode == 2 and result.stdout == ""
    assert one_line_error(result.stderr) == (f"memviz run: {message.format(tmp=tmp_path)}; "
                                             "see: python -m memviz run --help")
    assert not marker.exists()
    assert cli("run", "-o", str(tmp_path / "fine.json"), str(script)).returncode == 0
    assert marker.exists() and (tmp_path / "fine.json").exists()   # the same script runs


NODES = 2_500
CYCLES = f"""
    import gc, sys
    gc.collect()   # garbage from before the script is not the workload's
    gc.disable()   # no automatic collection frees part of the workload
    class Node:
        def __init__(self):
            self.me = self   # a cycle: once dropped, garbage until a collection
    for _ in range({NODES}):
        Node()
    if sys.argv[1:] == ["collect"]:
        print(gc.collect())
"""


@needs("gc")
def test_run_collect_frees_cyclic_garbage_before_the_last_reading(tmp_path):
    script = tmp_path / "cycles.py"
    script.write_text(textwrap.dedent(CYCLES))
    oracle = python(str(script), "collect")
    found = int(oracle.stdout)   # what gc.collect() finds after the workload
    assert found >= NODES

    uncollected = cli("run", "-o", str(tmp_path / "plain.json"), str(script))
    assert uncollected.returncode == 0, uncollected.stderr
    assert ("\nnot collected before the last reading (cyclic garbage may be counted; "
            "--collect to collect first)\n") in uncollected.stdout
    assert type_row(uncollected.stdout, "__main__.Node")[:3] == [
        "__main__.Node", f"{NODES:,}", f"+{NODES:,}"]
    assert memviz.Snapshot.load(tmp_path / "plain.json").type_counts()["__main__.Node"] == NODES

    collected = cli("run", "--collect", "-o", str(tmp_path / "collected.json"), str(script))
    assert collected.returncode == 0, collected.stderr
    assert (f"\ncollected before the last reading: {found:,} unreachable objects freed\n"
            in collected.stdout)
    assert type_row(collected.stdout, "__main__.Node") is None
    assert "__main__.Node" not in memviz.Snapshot.load(tmp_path / "collected.json").type_counts()


# --------------------------------------------------------------------------------------
# The README's first command: the example service's leak


ROOT = Path(__file__).resolve().parents[1]


def quick_start() -> list[str]:
    """The README's quick-start commands, without their comments."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    block = text.split("```sh\n", 1)[1].split("```", 1)[0]
    return [line.split(" #", 1)[0].strip() for line in block.splitlines()]


def test_the_readme_quick_start_order():
    first, second, third = quick_start()
    assert first == "pip install . && python -m memviz run examples/leaky_service.py"
    assert second == "python -m memviz"
    assert third.endswith("python -m pytest tests")


@needs("gc")
def test_the_readme_first_command_shows_the_example_services_leak():
    install, command = quick_start()[0].split(" && ")
    interpreter, dash_m, module, *args = shlex.split(command)
    assert (interpreter, dash_m, module) == ("python", "-m", "memviz")
    path = ROOT / args[-1]
    spec = importlib.util.spec_from_file_location("leaky_service", path)
    service = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(service)
    # The oracle for what the service leaks: its objects that outlive a run of it.
    import gc

    service.serve(service.REQUESTS)
    leaked = sum(type(o) is service.Response for o in gc.get_objects())
    assert leaked == service.REQUESTS
    assert not any(type(o) is service.Request for o in gc.get_objects())
    service._response_cache.clear()

    result = cli(*args, cwd=ROOT)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(f"served {service.REQUESTS:,} requests ")
    row = type_row(result.stdout, "__main__.Response")
    assert row[:3] == ["__main__.Response", f"{leaked:,}", f"+{leaked:,}"]
    assert sum(int(n.replace(",", "")) for n in row[3:]) == leaked   # by generation
    assert type_row(result.stdout, "__main__.Request") is None       # freed, not leaked
    elapsed = re.search(r"\(exit status 0, ([0-9.]+) s\)", result.stdout)
    assert float(elapsed.group(1)) < 2
