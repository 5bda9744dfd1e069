"""The command line: ``python -m memviz`` and the ``memviz`` console script."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Sequence

import pytest

import memviz
from memviz._cli import main
from memviz._sites import NOT_TRACING

GC_READABLE = memviz.capabilities()["gc"].available
PYMALLOC = any(c.name == "pymalloc.stats" and c.available for c in memviz.capabilities())


def cli(*args: str, cwd: Path | None = None, timeout: float = 120,
        python: Sequence[str] = (), env: dict[str, str] | None = None
        ) -> subprocess.CompletedProcess:
    """`python PYTHON -m memviz ARGS` in a new process, its environment this one's with
    ``env`` added, without PYTHONPATH, nor PYTHONTRACEMALLOC unless ``env`` sets it."""
    environment = dict(os.environ)
    environment.pop("PYTHONPATH", None)
    environment.pop("PYTHONTRACEMALLOC", None)
    environment.update(env or {})
    return subprocess.run([sys.executable, *python, "-m", "memviz", *args],
                          capture_output=True, text=True, cwd=cwd, env=environment,
                          timeout=timeout)


def run_main(capsys, *args: str) -> tuple[int, str, str]:
    """main(ARGS) in this process: (exit status, stdout, stderr)."""
    try:
        status = main(list(args))
    except SystemExit as stop:   # argparse's --help and --version
        status = stop.code
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def one_line_error(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert "Traceback" not in err
    return lines[0]


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
        assert any(line.startswith("  arenas by share in use: 0-25%: ") for line in lines)


@pytest.mark.skipif(not GC_READABLE, reason="no GC readings here")
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


@pytest.mark.skipif(not GC_READABLE, reason="no GC readings here")
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
    rows = lines[start + 2:start + 2 + 3]
    assert rows[0].split() == [f"{__name__}.Marker", "1,234", "+1,234", "+1,234", "0", "0"]
    assert "other types)" in lines[start + 5] or lines[start + 5] == ""
    del markers


# --------------------------------------------------------------------------------------
# Errors


def test_a_missing_file_is_one_line_and_exit_1(capsys, tmp_path):
    good = tmp_path / "good.json"
    memviz.snapshot().dump(good)
    status, out, err = run_main(capsys, "diff", str(good), str(tmp_path / "missing.json"))
    assert status == 1 and out == ""
    assert one_line_error(err) == f"memviz: cannot read {tmp_path / 'missing.json'}: no such file"


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
    for args in (["diff", str(bad), str(bad)], ["report", str(bad)]):
        status, out, err = run_main(capsys, *args)
        assert status == 1 and out == ""
        line = one_line_error(err)
        assert line.startswith(f"memviz: not a snapshot memviz can read: {bad}: ")
        assert message in line


def test_a_directory_and_an_unwritable_output(capsys, tmp_path):
    status, _, err = run_main(capsys, "report", str(tmp_path))
    assert status == 1
    assert one_line_error(err) == f"memviz: cannot read {tmp_path}: it is a directory"
    target = tmp_path / "no" / "such" / "dir" / "x.json"
    status, _, err = run_main(capsys, "snapshot", "-o", str(target))
    assert status == 1
    assert one_line_error(err) == f"memviz: cannot write {target}: No such file or directory"


@pytest.mark.parametrize("args, message, help_command", [
    (["frobnicate"], "invalid choice: 'frobnicate'", "memviz --help"),
    (["diff", "only-one.json"], "the following arguments are required: NEW.json",
     "memviz diff --help"),
    (["--top", "0"], "expected a positive integer, got 0", "memviz --help"),
    (["diff", "a.json", "b.json", "--top", "many"], "expected a positive integer, got 'many'",
     "memviz diff --help"),
    (["run"], "give a script, or -m MODULE", "memviz run --help"),
    (["run", "--top", "0", "x.py"], "expected a positive integer, got 0", "memviz run --help"),
    (["snapshot", "--bogus"], "unrecognized arguments: --bogus", "memviz --help"),
])
def test_usage_errors_exit_2(capsys, args, message, help_command):
    """Each usage error points to the help of the command it is about."""
    status, out, err = run_main(capsys, *args)
    assert status == 2 and out == ""
    assert message in err and "Traceback" not in err
    assert err.rstrip().endswith(f"Run '{help_command}' for usage.")


def test_errors_from_a_real_process(tmp_path):
    result = cli("diff", str(tmp_path / "a.json"), str(tmp_path / "b.json"))
    assert result.returncode == 1 and result.stdout == ""
    assert one_line_error(result.stderr) == f"memviz: cannot read {tmp_path / 'a.json'}: no such file"
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


@pytest.mark.skipif(not GC_READABLE, reason="no GC readings here")
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


@pytest.mark.skipif(not GC_READABLE, reason="no GC readings here")
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
    pass
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


@pytest.mark.skipif(not GC_READABLE, reason="no GC readings here")
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


@pytest.mark.skipif(not GC_READABLE, reason="no GC readings here")
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
    assert one_line_error(err) == f"memviz: cannot run {tmp_path / 'nope.py'}: no such file"
    status, out, err = run_main(capsys, "run", "-m", "no_such_module_here")
    assert status == 1
    assert one_line_error(err) == ("memviz: cannot run -m no_such_module_here: "
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
    assert one_line_error(result.stderr) == f"memviz: cannot read {tmp_path / 'x.json'}: no such file"


# --------------------------------------------------------------------------------------
# run: the report and the saved snapshots survive what the script does to its streams


@pytest.mark.parametrize("how, script", [
    ("closes stdout", "import sys\nprint('from the script')\nsys.stdout.close()\nsys.exit(3)\n"),
    ("replaces stdout", "import io, sys\nprint('from the script')\nsys.stdout = io.StringIO()\n"
                        "print('swallowed')\nsys.exit(3)\n"),
])
def test_run_reports_to_the_stdout_it_started_with(tmp_path, how, script):
    path = tmp_path / "streams.py"
    path.write_text(script)
    saved = tmp_path / "after.json"
    result = cli("run", "-o", str(saved), str(path), cwd=tmp_path)
    assert result.returncode == 3, result.stderr   # the script's status, not memviz's
    assert "Traceback" not in result.stderr and "closed file" not in result.stderr
    assert result.stdout.startswith("from the script\n")
    assert "swallowed" not in result.stdout
    assert f"memviz run: {path} (exit status 3, " in result.stdout
    assert memviz.Snapshot.load(saved).pid == json.loads(saved.read_text())["pid"]


def test_run_a_module_that_closes_stdout(tmp_path):
    """``json.tool`` closes sys.stdout when it is done writing: the report still comes."""
    (tmp_path / "small.json").write_text('{"a": 1}')
    saved = tmp_path / "after.json"
    result = cli("run", "-o", str(saved), "-m", "json.tool", "small.json", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    assert result.stdout.startswith('{\n    "a": 1\n}\n')
    assert "memviz run: json.tool small.json (exit status 0, " in result.stdout
    assert saved.stat().st_size > 0 and memviz.Snapshot.load(saved).pid > 0


@pytest.mark.parametrize("option", ["-o", "--before"])
@pytest.mark.parametrize("where, reason", [
    ("missing/x.json", "no such directory {tmp}/missing"),
    (".", "it is a directory"),
])
def test_run_checks_where_it_writes_before_starting_the_script(tmp_path, option, where, reason):
    marker = tmp_path / "started"
    script = tmp_path / "marks.py"
    script.write_text(f"open({str(marker)!r}, 'w').close()\n")
    target = str(tmp_path / where) if where != "." else str(tmp_path)
    result = cli("run", option, target, str(script), cwd=tmp_path)
    assert result.returncode == 2 and result.stdout == ""
    assert not marker.exists()   # the script never ran
    first, second = result.stderr.strip().splitlines()
    assert first == (f"memviz run: cannot write {option} {target}: "
                     f"{reason.format(tmp=tmp_path)}; the script was not started")
    assert second == "Run 'memviz run --help' for usage."


@pytest.mark.skipif(not GC_READABLE, reason="no GC readings here")
def test_run_collect_frees_cyclic_garbage_before_the_last_reading(tmp_path):
    """Without --collect a type whose instances are cyclic garbage shows as left behind;
    with it, the collection runs before the last reading and the report says how many
    unreachable objects it found: gc.collect()'s own figure, as the script measures it."""
    script = tmp_path / "cycles.py"
    script.write_text(textwrap.dedent("""
        import gc, sys
        gc.disable()              # keep the garbage until memviz (or nobody) collects it
        class Cyclic:
            def __init__(self):
                self.me = self
        for _ in range(400):
            Cyclic()
    """))
    plain = cli("run", "--top", "50", str(script), cwd=tmp_path)
    assert plain.returncode == 0, plain.stderr
    assert "not collected before the last reading" in plain.stdout
    row = next(line.split() for line in plain.stdout.splitlines() if "__main__.Cyclic" in line)
    assert row[1:3] == ["400", "+400"]

    collected = cli("run", "--collect", "--top", "50", str(script), cwd=tmp_path)
    assert collected.returncode == 0, collected.stderr
    assert "Cyclic" not in collected.stdout
    # The collector's own count of the same garbage (instances, and on 3.10 their dicts).
    oracle = subprocess.run([sys.executable, "-c", script.read_text() + "\nprint(gc.collect())"],
                            capture_output=True, text=True)
    freed = int(oracle.stdout.split()[-1])
    line = next(l for l in collected.stdout.splitlines() if l.startswith("collected before"))
    # memviz's own start-up garbage was collected before the first reading: all that is
    # left to find is the script's.
    assert int(line.split()[5].replace(",", "")) == freed


def test_a_dash_is_standard_input_for_report_and_diff(tmp_path):
    env = dict(os.environ)
    env.pop("PYTHONPATH", None)
    saved = tmp_path / "snap.json"
    assert cli("snapshot", "-o", str(saved)).returncode == 0
    text = saved.read_text()

    def piped(*args):
        return subprocess.run([sys.executable, "-m", "memviz", *args], input=text,
                              capture_output=True, text=True, env=env, timeout=120)

    from_stdin, from_file = piped("report", "-"), cli("report", str(saved))
    assert from_stdin.returncode == 0 and from_stdin.stderr == ""
    assert from_stdin.stdout == from_file.stdout
    diff = piped("diff", "-", str(saved))
    assert diff.returncode == 0
    assert diff.stdout == cli("diff", str(saved), str(saved)).stdout
    both = piped("diff", "-", "-")
    assert both.returncode == 2
    assert both.stderr.splitlines()[0] == ("memviz diff: standard input (-) can be only one "
                                           "of OLD.json and NEW.json")
    bad = subprocess.run([sys.executable, "-m", "memviz", "report", "-"], input="{}",
                         capture_output=True, text=True, env=env, timeout=120)
    assert bad.returncode == 1
    assert one_line_error(bad.stderr).startswith("memviz: not a snapshot memviz can read: /dev/stdin")
