"""Benchmark: the heap census (``memviz.census()``) against the peers that count every
object, and against the floor of a tracked-only walk.

On a heap of about a million GC-tracked objects plus about a million untracked ones (a
seeded mix: instances holding a unique str, int and bytes each, lists, tuples of floats):

- ``memviz.census()`` (C walk from the roots through ``tp_traverse``, sizes computed in
  C; ``sys.getsizeof`` after the walk only for types whose ``__sizeof__`` C does not know);
- guppy3's ``hpy().heap()`` (where it builds: not on 3.15);
- pympler's ``summary.summarize(muppy.get_objects())`` (slow: its own group, fewer rounds);
- the pure-Python reference walk the tests use (tests/support/census.py: breadth-first
  through ``gc.get_referents``);
- ``memviz.gc.type_counts()``: the floor, a C walk of the collector's lists only.

Issue 10's targets: at least 10x faster than guppy3, at least 100x faster than pympler,
within 4x of ``type_counts``, peak extra memory at most 24 bytes per visited object (measured
from outside: the process's high-water mark; what is still malloc'd after: mallinfo2).
The totals (objects, bytes) each tool reports are printed
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
PEAK_BYTES_PER_OBJECT = 24  # the walk's peak extra memory per object it visits


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


def _status_bytes(field: str) -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    raise LookupError(field)


def _malloc_in_use():
    """glibc's bytes malloc'd and not freed (mallinfo2), or None without it."""
    import ctypes

    class Mallinfo2(ctypes.Structure):
        _fields_ = [(name, ctypes.c_size_t) for name in (
            "arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks",
            "uordblks", "fordblks", "keepcost")]
    try:
        mallinfo2 = ctypes.CDLL(None).mallinfo2
    except AttributeError:
        return None
    mallinfo2.restype = Mallinfo2
    return lambda: mallinfo2().uordblks + mallinfo2().hblkhd


def walk_memory() -> dict | None:
    """The census walk's memory, measured from outside: its peak (the process's
    high-water mark, reset just before, over the resident size before) per object it
    visits, and what is still malloc'd after it (its bitmap, tables and stacks are
    malloc'd, not pymalloc'd).  Measured on the process's first census: after one, the C
    allocator keeps what the walk freed and the next one reuses it unseen.  None where
    Linux's /proc cannot say."""
    try:
        before = _status_bytes("VmRSS")
        with open("/proc/self/clear_refs", "w") as clear:
            clear.write("5")        # resets VmHWM to the resident size now
    except OSError as error:
        print(f"walk memory: not measurable here ({error})")
        return None
    in_use = _malloc_in_use()
    malloc_before = in_use() if in_use else None
    census = memviz.census()
    malloc_after = in_use() if in_use else None
    peak = _status_bytes("VmHWM") - before
    return {"objects": census.total_objects, "peak_extra_bytes": peak,
            "peak_bytes_per_object": peak / census.total_objects,
            "malloc_still_in_use_bytes": (None if malloc_before is None
                                          else malloc_after - malloc_before)}


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
        memory = walk_memory()
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
    if memory is not None:
        still = memory["malloc_still_in_use_bytes"]
        print(f"\nwalk memory: peak {memory['peak_extra_bytes']:,} bytes over the resident "
              f"size, {memory['peak_bytes_per_object']:.2f} bytes per object visited; "
              f"malloc'd and not freed after it: "
              f"{'unknown (no mallinfo2)' if still is None else f'{still:,} bytes'} "
              f"(the result's own)")
        targets[f"peak extra memory at most {PEAK_BYTES_PER_OBJECT} bytes per object"] = \
            memory["peak_bytes_per_object"] <= PEAK_BYTES_PER_OBJECT
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
            "walk_memory": memory,
            "targets_met": targets,
        })
        print(f"\nsaved {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
