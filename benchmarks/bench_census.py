"""Benchmark: the heap census (``memviz.census()``) against the peers that count every
object, and against the floor of a tracked-only walk.

On a heap of about a million GC-tracked objects plus about a million untracked ones (a
seeded mix: instances holding a unique str, int and bytes each, lists, tuples of floats):

- ``memviz.census()`` (C walk from the roots through ``tp_traverse``, then
  ``sys.getsizeof`` of every object);
- guppy3's ``hpy().heap()`` (where it builds: not on 3.15);
- pympler's ``summary.summarize(muppy.get_objects())`` (slow: its own group, fewer rounds);
- the pure-Python reference walk the tests use (tests/support/census.py: breadth-first
  through ``gc.get_referents``);
- ``memviz.gc.type_counts()``: the floor, a C walk of the collector's lists only.

Issue 10's targets: at least 10x faster than guppy3, at least 100x faster than pympler,
within 4x of ``type_counts``. The totals (objects, bytes) each tool reports are printed
side by side: they differ in what each counts (README, "The heap census").
Every contender of a group is timed in one process, interleaved round by round
(benchmarks/harness.py); the ratios are what matter.

    python benchmarks/bench_census.py [--objects 1000000] [--rounds 5] [--no-save]
"""
from __future__ import annotations

import argparse
import gc
import random
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent / "tests"))   # the tests' reference walk (support/)

import harness  # noqa: E402

import memviz  # noqa: E402
from support.census import reference_walk  # noqa: E402

CENSUS_VS_GUPPY = 10.0      # census at least this many times faster than guppy3
CENSUS_VS_PYMPLER = 100.0   # ... than pympler
CENSUS_VS_FLOOR = 4.0       # census at most this many times memviz.gc.type_counts()


class Record:
    __slots__ = ("name", "number", "data")

    def __init__(self, i: int):
        self.name = f"record-{i}"
        self.number = 10**20 + i
        self.data = b"%d" % i


def build_heap(tracked: int, seed: int = 20261207) -> list:
    """About ``tracked`` GC-tracked objects (Record instances, lists) and as many
    untracked ones (their str, int, bytes; tuples of floats)."""
    rng = random.Random(seed)
    heap: list = []
    for i in range(tracked):
        if rng.random() < 0.8:
            heap.append(Record(i))
        else:
            heap.append([(rng.random(), rng.random())])
    return heap


def peers() -> dict:
    """The peers that import here: {name: callable returning (objects, bytes)}."""
    found = {}
    try:
        import guppy

        hpy = guppy.hpy()

        def guppy_heap():
            heap = hpy.heap()
            return heap.count, heap.size

        found["guppy3 hpy().heap()"] = guppy_heap
    except ImportError as error:
        print(f"guppy3: not available ({error})")
    try:
        from pympler import muppy, summary

        def pympler_summary():
            rows = summary.summarize(muppy.get_objects())
            return sum(row[1] for row in rows), sum(row[2] for row in rows)

        found["pympler summarize(get_objects())"] = pympler_summary
    except ImportError as error:
        print(f"pympler: not available ({error})")
    return found


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--objects", type=int, default=1_000_000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--slow-rounds", type=int, default=1)
    parser.add_argument("--no-save", action="store_true")
    args = parser.parse_args(argv)

    print(memviz.capabilities())
    heap = build_heap(args.objects)
    gc.collect()
    gc.disable()
    found = peers()
    guppy_name = next((name for name in found if name.startswith("guppy3")), None)
    pympler_name = next((name for name in found if name.startswith("pympler")), None)
    try:
        census = memviz.census()
        print(f"\nheap: {census.total_objects:,} objects ({census.tracked_objects:,} "
              f"tracked), {census.total_bytes:,} bytes, {len(census.types):,} types\n")
        totals = {"memviz.census()": (census.total_objects, census.total_bytes)}
        walked = reference_walk()
        totals["reference walk (gc.get_referents)"] = (sum(walked.values()), None)
        for name, fn in found.items():
            totals[name] = fn()
        del census, walked

        fast = {
            "memviz.census()": memviz.census,
            "floor: memviz.gc.type_counts()": memviz.gc.type_counts,
            "reference walk (gc.get_referents)": reference_walk,
        }
        if guppy_name:
            fast[guppy_name] = found[guppy_name]
        timings = harness.interleaved(fast, rounds=args.rounds)
        print("every object, per type")
        print(harness.table(timings, "memviz.census()"))
        slow = {}
        if pympler_name:
            slow = harness.interleaved({"memviz.census()": memviz.census,
                                        pympler_name: found[pympler_name]},
                                       rounds=args.slow_rounds)
            print("\nagainst pympler")
            print(harness.table(slow, "memviz.census()"))
    finally:
        gc.enable()
        del heap

    print("\ntotals each tool reports (objects, bytes)")
    for name, (objects, size) in totals.items():
        print(f"  {name:38} {objects:>12,}  {'-' if size is None else f'{size:,}':>16}")

    ratios = {"census_over_floor": harness.ratio(timings, "memviz.census()",
                                                 "floor: memviz.gc.type_counts()"),
              "reference_walk_over_census": harness.ratio(
                  timings, "reference walk (gc.get_referents)", "memviz.census()")}
    targets = {f"census within {CENSUS_VS_FLOOR:g}x of type_counts":
               ratios["census_over_floor"] <= CENSUS_VS_FLOOR}
    if guppy_name:
        ratios["guppy3_over_census"] = harness.ratio(timings, guppy_name, "memviz.census()")
        targets[f"census at least {CENSUS_VS_GUPPY:g}x faster than guppy3"] = \
            ratios["guppy3_over_census"] >= CENSUS_VS_GUPPY
    if pympler_name:
        ratios["pympler_over_census"] = harness.ratio(slow, pympler_name, "memviz.census()")
        targets[f"census at least {CENSUS_VS_PYMPLER:g}x faster than pympler"] = \
            ratios["pympler_over_census"] >= CENSUS_VS_PYMPLER
    print("\nratios: " + ", ".join(f"{k} {v:.2f}" for k, v in ratios.items()))
    for target, met in targets.items():
        print(f"  {'met   ' if met else 'MISSED'} {target}")

    if not args.no_save:
        path = harness.save("bench_census", {
            "objects": args.objects,
            "totals": {name: {"objects": objects, "bytes": size}
                       for name, (objects, size) in totals.items()},
            "every_object": timings,
            "against_pympler": slow,
            "ratios": ratios,
            "targets_met": targets,
        })
        print(f"\nsaved {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
