"""memviz.snapshot() against the other ways to take the same picture of a large heap.

    python benchmarks/bench_snapshot.py               # ~1M GC-tracked objects
    python benchmarks/bench_snapshot.py --objects 200000 --quick

On a heap of about a million GC-tracked objects (lists, dicts, instances of a slotted
class), timed side by side in one process, interleaved round by round (harness.py):

  floor     memviz.gc.type_counts(): the bare C walk of the generation lists
  snapshot  memviz.snapshot(): the walk per generation, the collector's figures,
            pymalloc's statistics and arena map, RSS
  (a)       Counter(type(o) for o in gc.get_objects())
  (b)       the standard library's way to the same information: per-generation
            gc.get_objects() + Counter by qualified name, gc.get_stats/get_count/
            get_threshold/get_freeze_count, sys._debugmallocstats() captured through a
            file-descriptor redirect and parsed, /proc/self/statm (no arena map exists)
  (c)       pympler: summary.summarize(muppy.get_objects())
  (d)       guppy3: hpy().heap()
  (e)       objgraph.typestats()
  (f)       tracemalloc.take_snapshot(), tracemalloc started before the heap was built
            (in a child process: tracing slows every allocation of the others; its
            setup cost, building the heap while tracing, is reported)

and, for each, in a fresh child process holding the same heap: the extra memory the call
needs (peak RSS above the RSS before the call, with the kernel's high-water mark reset,
and tracemalloc's peak of the Python allocations made by the call) and the GC-tracked
objects the heap holds more afterwards while the result is kept.

The peers are optional (``pip install '.[bench]'``); one that is not installed is
skipped with a note. Results: a table on stdout and
benchmarks/results/snapshot-pythonX.Y.json.
"""
from __future__ import annotations

import argparse
import collections
import gc
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import harness  # noqa: E402

import memviz  # noqa: E402
from memviz.snapshot import type_name  # noqa: E402

HERE = Path(__file__).resolve()

TARGETS = {   # contender: (the snapshot must be at least this many times faster, label)
    "(a) Counter(gc.get_objects())": 8,
    "(b) stdlib equivalent": 30,
    "(c) pympler muppy+summary": 300,
}


# --------------------------------------------------------------------------------------
# The heap


class HeapNode:
    __slots__ = ("value", "next")

    def __init__(self, value, next):
        self.value = value
        self.next = next


def build_heap(objects: int) -> list:
    """About ``objects`` GC-tracked objects: 40% one-item lists, 40% slotted instances,
    20% dicts of a list (each counting twice)."""
    lists = objects * 4 // 10
    nodes = objects * 4 // 10
    dicts = (objects - lists - nodes) // 2
    heap: list = [[i] for i in range(lists)]
    heap += [HeapNode(i, None) for i in range(nodes)]
    heap += [{"i": [i]} for i in range(dicts)]
    gc.collect()
    return heap


def tracked_objects() -> int:
    return sum(g.objects for g in memviz.gc.generations())


# --------------------------------------------------------------------------------------
# The contenders


def floor():
    return memviz.gc.type_counts()


def snapshot():
    return memviz.snapshot()


def counter_of_get_objects():
    return collections.Counter(type(o) for o in gc.get_objects())


_CLASS_LINE = re.compile(rb"^\s*(\d+)\s+(\d+)\s+(\d+)\s+(\d+)\s+(\d+)\s*$")
_TOTAL_LINE = re.compile(rb"^# (arenas allocated total|arenas reclaimed|arenas highwater mark|"
                         rb"arenas allocated current)\s*=\s*([\d,]+)")


def _debugmallocstats() -> dict:
    """sys._debugmallocstats() (written to C's stderr) captured through fd 2, parsed."""
    sys.stderr.flush()
    with tempfile.TemporaryFile() as capture:
        saved = os.dup(2)
        os.dup2(capture.fileno(), 2)
        try:
            sys._debugmallocstats()
        finally:
            os.dup2(saved, 2)
            os.close(saved)
        capture.seek(0)
        text = capture.read()
    classes = []
    totals = {}
    for line in text.splitlines():
        match = _CLASS_LINE.match(line)
        if match:
            classes.append(tuple(int(v) for v in match.groups()))
            continue
        match = _TOTAL_LINE.match(line)
        if match:
            totals[match.group(1).decode()] = int(match.group(2).replace(b",", b""))
    return {"classes": classes, "totals": totals}


def stdlib_equivalent():
    """What the standard library offers for the same picture (no arena map: it has none)."""
    per_generation = []
    for generation in range(3):
        by_type = collections.Counter(type(o) for o in gc.get_objects(generation))
        per_generation.append({type_name(t): n for t, n in by_type.items()})
    with open("/proc/self/statm", "rb") as statm:
        rss = int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    return {
        "types": per_generation,
        "stats": gc.get_stats(), "count": gc.get_count(), "threshold": gc.get_threshold(),
        "permanent": gc.get_freeze_count(), "enabled": gc.isenabled(),
        "pymalloc": _debugmallocstats(), "rss": rss,
    }


def _peers() -> tuple[dict, list[str]]:
    """The optional peers that import here, and a note for each that does not."""
    found, notes = {}, []
    try:
        from pympler import muppy, summary

        found["(c) pympler muppy+summary"] = lambda: summary.summarize(muppy.get_objects())
    except Exception as error:   # noqa: BLE001 - any failure to import means: skip it
        notes.append(f"(c) pympler skipped: {error!r} (pip install '.[bench]')")
    try:
        from guppy import hpy

        heapy = hpy()
        found["(d) guppy3 hpy().heap()"] = heapy.heap
    except Exception as error:   # noqa: BLE001
        notes.append(f"(d) guppy3 skipped: {error!r} (it does not build on CPython 3.15; "
                     "elsewhere pip install '.[bench]')")
    try:
        import objgraph

        found["(e) objgraph typestats()"] = objgraph.typestats
    except Exception as error:   # noqa: BLE001
        notes.append(f"(e) objgraph skipped: {error!r} (pip install '.[bench]')")
    return found, notes


FLOOR = "floor: memviz.gc.type_counts()"
SNAPSHOT = "memviz.snapshot()"


def fast_contenders() -> dict:
    return {
        FLOOR: floor,
        SNAPSHOT: snapshot,
        "(a) Counter(gc.get_objects())": counter_of_get_objects,
        "(b) stdlib equivalent": stdlib_equivalent,
    }


# --------------------------------------------------------------------------------------
# Memory and objects, one contender per child process


def _vm(field: str) -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    raise RuntimeError(f"no {field} in /proc/self/status")


def _reset_peak_rss() -> bool:
    """Resets the kernel's high-water mark of this process's RSS (VmHWM), Linux 4.0+."""
    try:
        with open("/proc/self/clear_refs", "w") as clear:
            clear.write("5")
        return True
    except OSError:
        return False


def measure_memory(name: str, objects: int) -> dict:
    """In this (child) process: build the heap, then call contender ``name`` three times:
    the first call's peak RSS above the RSS before it (the kernel's high-water mark reset
    first; a later call could reuse memory the first one freed), tracemalloc's peak for
    the second, and the GC-tracked objects the heap holds more while the third's result
    is kept."""
    import tracemalloc

    contenders = {**fast_contenders(), **_peers()[0]}   # imports done before the heap
    call = contenders[name]
    heap = build_heap(objects)
    gc.disable()
    rss_before = _vm("VmRSS")
    peak_reset = _reset_peak_rss()
    result = call()
    rss_peak = _vm("VmHWM") - rss_before if peak_reset else None
    del result
    gc.collect()
    tracemalloc.start()
    result = call()
    traced_peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    del result
    gc.collect()
    before = tracked_objects()
    result = call()
    kept = tracked_objects() - before
    del result, heap
    return {"objects_kept": kept, "rss_peak_delta": rss_peak, "traced_peak": traced_peak}


def measure_tracemalloc(objects: int, rounds: int) -> dict:
    """In this (child) process: tracemalloc started before the heap is built."""
    import tracemalloc

    start = time.perf_counter()
    plain_heap = build_heap(objects)
    plain_build = time.perf_counter() - start
    del plain_heap
    gc.collect()
    tracemalloc.start()
    start = time.perf_counter()
    heap = build_heap(objects)
    traced_build = time.perf_counter() - start
    timings = harness.interleaved({
        FLOOR: floor,
        SNAPSHOT: snapshot,
        "(f) tracemalloc.take_snapshot()": tracemalloc.take_snapshot,
    }, rounds=rounds)
    gc.collect()
    # tracemalloc does not trace its own allocations: the kernel's count of them.
    gc.disable()
    before = tracked_objects()
    rss_before = _vm("VmRSS")
    peak_reset = _reset_peak_rss()
    taken = tracemalloc.take_snapshot()
    rss_peak = _vm("VmHWM") - rss_before if peak_reset else None
    kept = tracked_objects() - before
    overhead = tracemalloc.get_tracemalloc_memory()
    del taken, heap
    return {
        "timings": {name: vars(t) for name, t in timings.items()},
        "build_seconds_plain": plain_build,
        "build_seconds_traced": traced_build,
        "tracemalloc_own_memory": overhead,
        "take_snapshot_rss_peak_delta": rss_peak,
        "take_snapshot_objects_kept": kept,
    }


def _child(*args: str) -> dict:
    result = subprocess.run([sys.executable, str(HERE), *args], capture_output=True,
                            text=True, timeout=3600)
    if result.returncode != 0:
        raise RuntimeError(f"child {args} failed:\n{result.stderr}")
    return json.loads(result.stdout.strip().splitlines()[-1])


# --------------------------------------------------------------------------------------
# The run


def _mib(value: int | None) -> str:
    return "n/a" if value is None else f"{value / 2**20:,.1f} MiB"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--objects", type=int, default=1_000_000)
    parser.add_argument("--rounds", type=int, default=15, help="rounds of the fast group")
    parser.add_argument("--slow-rounds", type=int, default=3,
                        help="rounds of the slow group (pympler, guppy3, objgraph)")
    parser.add_argument("--quick", action="store_true", help="fewer rounds, for a smoke run")
    parser.add_argument("--child-memory", metavar="NAME", help=argparse.SUPPRESS)
    parser.add_argument("--child-tracemalloc", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.quick:
        args.rounds, args.slow_rounds = 5, 1
    if args.child_memory:
        print(json.dumps(measure_memory(args.child_memory, args.objects)))
        return 0
    if args.child_tracemalloc:
        print(json.dumps(measure_tracemalloc(args.objects, max(3, args.slow_rounds))))
        return 0

    peers, notes = _peers()
    heap = build_heap(args.objects)
    objects = tracked_objects()
    print(f"memviz.snapshot() on {objects:,} GC-tracked objects, "
          f"{memviz.capabilities().interpreter}\n")

    fast = harness.interleaved(fast_contenders(), rounds=args.rounds)
    slow = {}
    if peers:
        slow = harness.interleaved({FLOOR: floor, SNAPSHOT: snapshot, **peers},
                                   rounds=args.slow_rounds)
    traced = _child("--child-tracemalloc", "--objects", str(args.objects),
                    "--slow-rounds", str(args.slow_rounds))
    traced_timings = {name: harness.Timing(**t) for name, t in traced["timings"].items()}
    del heap
    gc.collect()

    names = [*fast, *(n for n in slow if n not in fast), "(f) tracemalloc.take_snapshot()"]
    memory = {}
    for name in names:
        if name.startswith("(f)"):
            continue
        memory[name] = _child("--child-memory", name, "--objects", str(args.objects))

    # One table: each row's ratios against the floor and the snapshot of its own group.
    def row_of(name):
        for group in (fast, slow, traced_timings):
            if name in group:
                timing = group[name]
                return (timing, timing.median_s / group[FLOOR].median_s,
                        timing.median_s / group[SNAPSHOT].median_s)
        raise KeyError(name)

    width = max(len(n) for n in names)
    lines = [f"{'':{width}}  {'median':>9}  {'min':>9}  {'max':>9}  {'x floor':>8}  "
             f"{'x snapshot':>10}  {'peak RSS +':>11}  {'traced peak':>11}  {'objects kept':>12}"]
    for name in names:
        timing, vs_floor, vs_snapshot = row_of(name)
        if name.startswith("(f)"):
            extra = (_mib(traced["take_snapshot_rss_peak_delta"]), "untraced",
                     f"{traced['take_snapshot_objects_kept']:,}")
        else:
            m = memory[name]
            extra = (_mib(m["rss_peak_delta"]), _mib(m["traced_peak"]),
                     f"{m['objects_kept']:,}")
        lines.append(
            f"{name:{width}}  {harness.format_seconds(timing.median_s):>9}  "
            f"{harness.format_seconds(timing.min_s):>9}  {harness.format_seconds(timing.max_s):>9}  "
            f"{vs_floor:>7.2f}x  {vs_snapshot:>9.1f}x  {extra[0]:>11}  {extra[1]:>11}  {extra[2]:>12}")
    table = "\n".join(lines)
    print(table)
    print(f"\n(f) tracemalloc: building the heap took {traced['build_seconds_traced']:.2f} s "
          f"while tracing against {traced['build_seconds_plain']:.2f} s without "
          f"({traced['build_seconds_traced'] / traced['build_seconds_plain']:.1f}x); "
          f"tracemalloc itself holds {_mib(traced['tracemalloc_own_memory'])} for its traces.")
    print("Ratios are medians within one interleaved group: the fast group "
          f"({args.rounds} rounds), the peers' ({args.slow_rounds} rounds), tracemalloc's "
          "(its own process).")
    for note in notes:
        print(note)

    verdicts = []
    ratio = fast[SNAPSHOT].median_s / fast[FLOOR].median_s
    verdicts.append(("snapshot within 1.3x of the floor", ratio, ratio <= 1.3))
    for name, factor in TARGETS.items():
        group = fast if name in fast else slow
        if name in group:
            speedup = group[name].median_s / group[SNAPSHOT].median_s
            verdicts.append((f"at least {factor}x faster than {name}", speedup,
                             speedup >= factor))
    print("\nTargets:")
    for label, value, met in verdicts:
        print(f"  {'met    ' if met else 'MISSED '} {label}: {value:.2f}x")

    path = harness.save("snapshot", {
        "objects": objects,
        "fast": fast, "peers": slow, "tracemalloc": traced,
        "memory": memory, "notes": notes, "table": table,
        "targets": [{"target": label, "value": value, "met": met}
                    for label, value, met in verdicts],
    })
    print(f"\nsaved {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
