"""memviz.pymalloc against capturing and parsing ``sys._debugmallocstats()``.

On a heap of about a million objects (about 150 arenas), interleaved in one process:

- ``stats()``: one walk of the arenas in C, and the figures as Python values (its
  ``size_classes`` become SizeClass values on first access), and ``stats() +
  size_classes``: the same with the size classes made;
- ``arenas()``: the arena/pool map from one walk (its pools become Pool values on first
  access), and ``arenas() + every Pool``: the same with every pool turned into a value;
- ``_debugmallocstats capture+parse``: what a tool without memviz does in process --
  point file descriptor 2 at a temporary file, call ``sys._debugmallocstats()``, read
  the text back and parse the pymalloc report (memviz's own parser);
- ``fallback stats()``: memviz's fallback for stripped 3.10/3.11 builds (the report
  written into memory by the C core, then parsed).

Targets: stats() at least 5x faster than the capture and parse; arenas() under 1 ms for
~150 arenas.

    python benchmarks/bench_pymalloc.py [--objects N] [--rounds R]
"""
from __future__ import annotations

import argparse
import gc
import os
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import harness  # noqa: E402

from memviz import _debugstats  # noqa: E402
from memviz import pymalloc as pm  # noqa: E402


def build_heap(objects: int) -> list:
    """About ``objects`` small objects of many sizes: bytes of 0-299 bytes, tuples,
    floats and instances, so that most size classes have full and partial pools."""
    class Record:
        __slots__ = ("a", "b")

    heap: list = []
    for i in range(objects // 3):
        heap.append(bytes(i % 300))
        heap.append((i, i + 1.5))
        heap.append(Record())
    return heap


def capture_and_parse(tmp) -> _debugstats.DebugMallocStats:
    """sys._debugmallocstats() captured through file descriptor 2, then parsed."""
    sys.stderr.flush()
    tmp.seek(0)
    tmp.truncate()
    saved = os.dup(2)
    os.dup2(tmp.fileno(), 2)
    try:
        sys._debugmallocstats()
    finally:
        os.dup2(saved, 2)
        os.close(saved)
    tmp.seek(0)
    return _debugstats.parse(tmp.read().decode("ascii"))


def all_pools() -> int:
    return sum(len(arena.pools) for arena in pm.arenas())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--objects", type=int, default=1_000_000)
    parser.add_argument("--rounds", type=int, default=31)
    args = parser.parse_args()

    heap = build_heap(args.objects)
    gc.collect()
    gc.disable()        # the readings never collect; keep the collector out of the timings
    stats = pm.stats()
    arenas = pm.arenas()
    pools = sum(len(a.pools) for a in arenas)
    with tempfile.TemporaryFile() as tmp:
        parsed = capture_and_parse(tmp)
        if parsed is None:
            raise SystemExit("sys._debugmallocstats() printed no pymalloc report here "
                             "(PYTHONMALLOC=malloc? tracemalloc?): nothing to compare with")
        contenders = {
            "stats()": pm.stats,
            "stats() + size_classes": lambda: pm.stats().size_classes,
            "arenas()": pm.arenas,
            "arenas() + every Pool": all_pools,
            "fallback stats()": lambda: pm._fallback_stats()[0],
            "_debugmallocstats capture+parse": lambda: capture_and_parse(tmp),
        }
        timings = harness.interleaved(contenders, rounds=args.rounds)
    gc.enable()

    baseline = "_debugmallocstats capture+parse"
    speedup = harness.ratio(timings, baseline, "stats()")
    speedup_classes = harness.ratio(timings, baseline, "stats() + size_classes")
    # On a shared 2-core machine the medians carry the other processes' load; the
    # fastest rounds are the ones least disturbed, so their ratio is printed as well.
    speedup_min = timings[baseline].min_s / timings["stats()"].min_s
    arenas_min_ms = timings["arenas()"].min_s * 1e3
    load = os.getloadavg()[0]
    arenas_ms = timings["arenas()"].median_s * 1e3
    print(f"{sys.implementation.name} {sys.version.split()[0]} (load average {load:.1f}): "
          f"{len(heap):,} objects, "
          f"{stats.arenas_current} arenas, {pools:,} pools in use, "
          f"{stats.blocks_in_use:,} blocks in use")
    print(harness.table(timings, baseline))
    print(f"stats() is {speedup:.1f}x faster than capturing and parsing the report "
          f"(target: 5x) -- {'met' if speedup >= 5 else 'NOT met'}; "
          f"{speedup_classes:.1f}x with its size classes made; fastest rounds: {speedup_min:.1f}x")
    print(f"arenas() takes {arenas_ms:.3f} ms for {stats.arenas_current} arenas "
          f"(target: under 1 ms) -- {'met' if arenas_ms < 1 else 'NOT met'}; "
          f"fastest round {arenas_min_ms:.3f} ms")
    path = harness.save("pymalloc", {
        "objects": len(heap),
        "arenas": stats.arenas_current,
        "pools": pools,
        "blocks_in_use": stats.blocks_in_use,
        "timings": timings,
        "stats_speedup_vs_capture_parse": speedup,
        "stats_with_size_classes_speedup_vs_capture_parse": speedup_classes,
        "stats_speedup_fastest_rounds": speedup_min,
        "arenas_ms": arenas_ms,
        "arenas_fastest_ms": arenas_min_ms,
        "load_average": load,
        "targets": {"stats_speedup_min": 5, "arenas_ms_max": 1},
    })
    print(f"saved {path}")


if __name__ == "__main__":
    main()
