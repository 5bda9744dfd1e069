"""``python -m memviz tour``: every step run for real (in a child interpreter, as a user
runs it), and the numbers it prints held to what each lesson claims.

The tour prints two kinds of lines the tests read: the REPL session (``    >>> code``
followed by what it printed or returned) and readings (``  - label: value  (note)``).
"""
from __future__ import annotations

import gc
import io
import os
import re
import subprocess
import sys
from dataclasses import dataclass

import pytest

import memviz

from memviz import tour
from memviz.cli import main as cli_main

from support.capabilities import available, needs, needs_allocator_choice

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PYMALLOC = available("pymalloc.locate")
STEP_COUNT = len(tour.STEPS)


def run_tour(*args: str, env: dict | None = None, timeout: float = 240) -> subprocess.CompletedProcess:
    child_env = dict(os.environ)
    child_env.pop("PYTHONPATH", None)
    child_env.pop("PYTHONMALLOC", None)
    child_env.update(env or {})
    return subprocess.run([sys.executable, "-m", "memviz", "tour", *args], cwd=ROOT,
                          env=child_env, stdin=subprocess.DEVNULL, capture_output=True,
                          text=True, timeout=timeout)


@dataclass
class Transcript:
    text: str

    def step(self, number: int) -> Transcript:
        """The part of the output under 'Step N of 6'."""
        parts = re.split(r"^Step (\d+) of \d+: .*\n=+\n", self.text, flags=re.M)
        for i in range(1, len(parts), 2):
            if int(parts[i]) == number:
                return Transcript(parts[i + 1])
        raise AssertionError(f"no step {number} in the output:\n{self.text}")

    def readings(self) -> dict[str, tuple[str, str]]:
        """{label: (value, note)} of the '  - label: value  (note)' lines."""
        found = {}
        for match in re.finditer(r"^  - (.+?): (.*?)(?:  \((.*)\))?$", self.text, re.M):
            label, value, note = match.groups()
            assert label not in found, f"reading {label!r} twice"
            found[label] = (value, note or "")
        return found

    def value(self, label: str) -> str:
        readings = self.readings()
        assert label in readings, f"no reading {label!r} in:\n{self.text}"
        return readings[label][0]

    def note(self, label: str) -> str:
        self.value(label)
        return self.readings()[label][1]

    def int(self, label: str) -> int:
        return int(self.value(label).replace(",", "").replace("+", ""))

    def session(self) -> list[tuple[str, list[str]]]:
        """[(source, output lines)] of the REPL session, in order: a statement's output
        is every line indented 4 after it, up to the next statement, blank line or
        narration."""
        entries: list[tuple[str, list[str]]] = []
        current = None
        for line in self.text.splitlines():
            if line.startswith("    >>> "):
                current = (re.sub(r"    # .*$", "", line[8:]), [])
                entries.append(current)
            elif line.startswith("    ... ") and current is not None:
                continue
            elif line.startswith("    ") and line.strip() and current is not None:
                current[1].append(line[4:])
            else:
                current = None
        return entries

    def table(self, first_header: str) -> list[list[str]]:
        """The rows of the table whose header starts with ``first_header``, cells split
        at runs of two or more spaces."""
        lines = self.text.splitlines()
        for i, line in enumerate(lines):
            if line.startswith(f"    {first_header} "):
                rows = []
                for row in lines[i + 1:]:
                    if not row.startswith("    ") or not row.strip():
                        break
                    rows.append(re.split(r" {2,}", row.strip()))
                return rows
        raise AssertionError(f"no table {first_header!r} in:\n{self.text}")

    def outputs(self, source: str) -> list[list[str]]:
        """What each run of ``source`` printed (one list of lines per run)."""
        found = [out for src, out in self.session() if src == source]
        assert found, f"{source!r} was not run in:\n{self.text}"
        return found

    def result(self, source: str, index: int = 0) -> str:
        lines = self.outputs(source)[index]
        return lines[0] if lines else ""


@pytest.fixture(scope="module")
def full_run() -> Transcript:
    completed = run_tour("--no-pause")
    assert completed.returncode == 0, completed.stderr
    assert completed.stderr == ""
    for number, step in enumerate(tour.STEPS, 1):
        assert f"Step {number} of {STEP_COUNT}: {step.title}" in completed.stdout
    return Transcript(completed.stdout)


# --------------------------------------------------------------------------------------
# 1. references


@needs("gc")
def test_references(full_run):
    step = full_run.step(1)
    assert step.result("memviz.refcount(test_list)", 0) == "1"
    assert step.result("sys.getrefcount(test_list)", 0) == "2"
    # the +1 of sys.getrefcount, as the reading says
    one = step.int("references to test_list (memviz.refcount)")
    plus = step.int("sys.getrefcount(test_list)")
    assert (one, plus) == (1, 2)
    counts = [int(out[0]) for out in step.outputs("memviz.refcount(test_list)")]
    assert counts == [1, 2, 3, 1]   # a second name, a dict's value, both deleted
    assert step.value("after a second name, a dict, then del") == "1 -> 2 -> 3 -> 1"

    # Inside a function: 3.14+ may lend the local to the call (no +1).
    got, mine = eval(step.result("inside_a_function()"))
    assert mine == 1
    assert got == (2 if sys.version_info < (3, 14) else 1)
    assert step.int("sys.getrefcount - memviz.refcount inside a function") == got - mine


@needs("gc")
def test_destruction_cascade(full_run):
    step = full_run.step(1)
    assert step.result("memviz.refcount(head), memviz.refcount(head.next), "
                       "memviz.refcount(head.next.next)") == "(1, 1, 1)"
    # freed in order, by the `del` itself, with no collection
    assert step.outputs("del head") == [["freed: first", "freed: second", "freed: third"]]
    assert step.result("[watcher() for watcher in watchers]") == "[None, None, None]"
    assert step.int("collections during the cascade") == 0
    if sys.version_info >= (3, 12):
        immortal, count = eval(step.result("memviz.is_immortal(None), memviz.refcount(None)"))
        assert immortal is True and count == sys.getrefcount(None)


# --------------------------------------------------------------------------------------
# 2. cycles


@needs("gc")
def test_cycles(full_run):
    step = full_run.step(2)
    assert step.result("memviz.refcount(loop)") == "2"
    assert step.result("memviz.refcount(left), memviz.refcount(right)") == "(2, 2)"
    assert step.result("memviz.gc.generation_of(loop), memviz.gc.generation_of(left)") == "(0, 0)"
    # they survive del: still on generation 0's list ...
    assert step.int("lists in generation 0 after del") == 1
    assert step.int("dicts in generation 0 after del") == 2
    # ... until the collector finds exactly them
    assert step.result("gc.collect()") == "3"
    assert step.int("gc.collect() found") == 3
    assert step.int("lists in generation 0 after the collection") == 0
    assert step.int("dicts in generation 0 after the collection") == 0


@needs("gc")
def test_disable_and_enable(full_run):
    step = full_run.step(2)
    assert step.result("gc.isenabled()") == "False"
    counts = eval(step.result("gc.get_count()"))
    assert counts[0] >= 3       # at least the three cycles since the last collection
    ran = step.outputs("junk = [[] for i in range(gc.get_threshold()[0] + 10)]")[0]
    assert ran, "no automatic collection after gc.enable()"
    first = re.fullmatch(r"\(the collector ran by itself: generation (\d), (\d+) collected\)",
                         ran[0])
    assert first, ran
    # generation 0's first collection finds the three cycles made while disabled
    assert first.group(1) == "0" and int(first.group(2)) >= 3
    assert step.int("automatic collections after gc.enable()") == len(ran)


# --------------------------------------------------------------------------------------
# 3. generations


@needs("gc")
def test_generations(full_run):
    step = full_run.step(3)
    thresholds = eval(step.result("gc.get_threshold()"))
    table = re.findall(r"^    ([012]) +([\d,]+) +([\d,]+) +([\d,]+) +([\d,]+) +([\d,]+)$",
                       step.text, re.M)
    assert [int(row[0]) for row in table] == [0, 1, 2]
    assert tuple(int(row[3].replace(",", "")) for row in table) == thresholds
    generations = [out[0] for out in step.outputs("memviz.gc.generation_of(survivor)")]
    # new, after collect(0), collect(1), collect(), frozen, unfrozen
    assert generations == ["0", "1", "2", "2", "memviz.gc.PERMANENT", "2"]
    assert step.value("survivor's generation (new, after collect(0), collect(1), collect())") \
        == "0 -> 1 -> 2 -> 2"
    assert step.int("objects in generation 0 right after collect(0)") < 50
    assert step.value("survivor's generation (frozen, unfrozen)") == "memviz.gc.PERMANENT -> 2"
    assert step.result("memviz.gc.permanent() == gc.get_freeze_count()") == "True"


# --------------------------------------------------------------------------------------
# 4. pymalloc


@needs("refcount")
def test_pymalloc_layout_against_the_classic_numbers(full_run):
    step = full_run.step(4)
    layout = memviz.pymalloc.layout()
    assert step.int("alignment") == layout.alignment
    assert step.int("size classes") == len(layout.block_sizes)
    assert step.int("pool size") == layout.pool_size
    assert step.int("arena size") == layout.arena_size
    rows = {row[0]: tuple(row[1:]) for row in step.table("pymalloc")}
    assert rows["alignment"] == ("8 B", f"{layout.alignment} B", "3.8 [1]")
    assert rows["pool size"][0] == "4 KiB" and rows["pool size"][2] == "3.10 [2]"
    assert rows["arena size"][0] == "256 KiB" and rows["arena size"][2] == "3.10 [2]"
    if sys.maxsize > 2**32:
        # what the lesson says changed did change here
        assert layout.alignment != 8 and layout.pool_size != 4096
        assert layout.arena_size != 256 * 1024
        assert rows["pool size"][1] == f"{layout.pool_size // 1024} KiB"
    assert "bpo-27987" in step.text and "bpo-37448" in step.text


@needs("pymalloc.locate")
def test_pymalloc_objects_in_their_pools(full_run):
    step = full_run.step(4)
    alignment = memviz.pymalloc.layout().alignment
    rows = step.table("object")
    assert [row[0] for row in rows] == ["float('1.5')", "'memviz' * 5", "tuple([1, 2, 3])",
                                        "[]", "bytes(200)", "bytes(500)"]
    header = sys.getsizeof([]) - [].__sizeof__()   # the collector's header, from the referee
    for label, size, size_class, block, pool, offset, *_ in rows:
        size = int(size)
        if size > memviz.pymalloc.layout().small_request_threshold:
            assert (size_class, block, pool, offset) == ("-", "-", "-", "-"), label
            continue
        assert int(size_class) == (size - 1) // alignment, label
        assert int(block) == (int(size_class) + 1) * alignment, label
        assert int(pool, 16) % memviz.pymalloc.layout().pool_size == 0, label
        tracked = label in ("tuple([1, 2, 3])", "[]")
        assert int(offset) == (header if tracked else 0), label


@needs("pymalloc.locate")
def test_pymalloc_large_requests_and_reuse(full_run):
    step = full_run.step(4)
    assert step.result("raw_requests(1000)") == "(1, None)"
    raw, block = step.result("raw_requests(300)").split(", ", 1)
    assert raw == "(0"
    assert "size_class=20, block_size=336, object_offset=0" in block   # 333 bytes
    assert step.int("raw_blocks for a 1,033-byte object") == 1
    assert step.int("raw_blocks for a 333-byte object") == 0
    first, second = eval(step.result("hex(before.block_address), hex(after.block_address)"))
    assert first == second
    assert step.result("after.block_address == before.block_address") == "True"
    assert step.value("freed block reused") == "True"


# --------------------------------------------------------------------------------------
# 5. threads


def test_threads_lost_update_and_its_lock(full_run):
    step = full_run.step(5)
    unlocked, locked = (int(out[0]) for out in step.outputs("counter"))
    assert 1 <= unlocked < 8            # the sleep between read and write loses updates
    assert locked == 8                  # none with the lock
    assert step.int("counter after 8 unlocked increments") == unlocked
    assert step.note("counter after 8 unlocked increments") == \
        f"{8 - unlocked} updates lost"
    assert step.int("counter after 8 locked increments") == 8


@needs("refcount")
def test_threads_semaphore_and_queue(full_run):
    step = full_run.step(5)
    most = int(step.result("most_inside"))
    assert most == 2                    # the semaphore's limit, reached by 6 sleepers
    assert step.result("slots.release()") == "ValueError: Semaphore released too many times"
    assert step.result("memviz.refcount(shared)") == "201"   # the name + 200 in kept
    low, high = (int(n) for n in step.value("refcount(shared) while they ran").split(" .. "))
    assert 1 <= low <= high <= 1 + 200 + 4
    if PYMALLOC:
        taken = step.int("pymalloc readings while the workers ran")
        assert taken >= 1
        assert step.int("of them equal to sys.getallocatedblocks() at that instant") == taken


# --------------------------------------------------------------------------------------
# 6. processes


@needs("gc")
def test_processes_have_their_own_heaps(full_run):
    step = full_run.step(6)
    readings = step.readings()
    children = {label: value for label, (value, _) in readings.items()
                if re.fullmatch(r".+ pid \d+, lists made and seen by track\(\)", label)}
    assert len(children) == 3
    made = sorted(tuple(int(n) for n in value.split()) for value in children.values())
    assert made == [(1000, 1001), (2000, 2001), (3000, 3001)]   # + the list holding them
    assert step.int("distinct pids") == 4
    assert abs(step.int("lists made in this process meanwhile")) < 1000
    table = step.table("process")
    assert [row[0] for row in table] == ["this process", "child (Pipe)", "Pool worker (Queue)",
                                         "Pool worker (Queue)"]
    assert len({row[1] for row in table}) == 4
    method = re.search(r"start method '(\w+)'", step.text).group(1)
    if PYMALLOC and method == "fork":
        # a forked child starts with the parent's arenas, at the parent's addresses
        assert all(int(row[6]) >= 1 for row in table[1:])


# --------------------------------------------------------------------------------------
# The command line


def test_list(capsys):
    assert cli_main(["tour", "--list"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == STEP_COUNT == 6
    for number, (line, step) in enumerate(zip(lines, tour.STEPS), 1):
        assert line.startswith(f"{number}. {step.name} ")
        assert line.endswith(step.summary)


@pytest.mark.parametrize("step", ["0", "7", "-1", "nope", ""])
def test_a_bad_step_exits_2(capsys, step):
    assert cli_main(["tour", "--step", step]) == 2
    err = capsys.readouterr().err
    assert "--step" in err and "1-6" in err


def test_one_step_by_number_and_by_name():
    completed = run_tour("--step", "2", "--step", "generations", "--no-pause")
    assert completed.returncode == 0, completed.stderr
    headings = re.findall(r"^Step (\d) of 6", completed.stdout, re.M)
    assert headings == ["2", "3"]
    assert "memviz tour:" not in completed.stdout   # the introduction is for the whole tour


def test_pausing_between_steps(monkeypatch):
    answers = iter(["", "q"])
    prompts = []
    monkeypatch.setattr("builtins.input", lambda prompt="": (prompts.append(prompt),
                                                             next(answers))[1])
    out = io.StringIO()
    was_enabled = gc.isenabled()
    assert tour.run([1, 2, 3], pause=True, out=out) == 0     # quit after step 2
    assert gc.isenabled() == was_enabled
    text = out.getvalue()
    assert re.findall(r"^Step (\d) of 6", text, re.M) == ["1", "2"]
    assert len(prompts) == 2 and "Enter" in prompts[0]


@needs_allocator_choice
def test_under_pythonmalloc_malloc():
    # no --no-pause: standard input is not a terminal, so it must not wait either
    completed = run_tour("--step", "pymalloc", "--step", "processes",
                         env={"PYTHONMALLOC": "malloc"})
    assert completed.returncode == 0, completed.stderr
    text = Transcript(completed.stdout)
    pymalloc = text.step(4)
    readings = pymalloc.readings()
    assert readings["pymalloc readings"][0] == "not available here"
    assert "'malloc'" in readings["pymalloc readings"][1]
    assert pymalloc.int("alignment") == memviz.pymalloc.layout().alignment   # compiled in
    processes = text.step(6)
    assert processes.value("pymalloc arenas") == "not available here"
    assert processes.int("distinct pids") == 4
    for row in processes.table("process"):
        assert row[5:] == ["-", "-", "-"]      # arenas, shared arenas, blocks: not read
