"""Benchmark: memviz.gc and memviz.refcount against what the standard library offers.

On a heap of about one million GC-tracked objects (a seeded mix of instances of 40
classes, lists and sets, allocated interleaved as a real program's are):

1. objects per type: ``memviz.gc.type_counts()`` vs
   ``Counter(type(o) for o in gc.get_objects())`` vs the floor, a C walk of the same
   three lists that only counts: ``memviz.gc.generations()`` (its C reading follows every
   ``_gc_next`` of generations 0-2, and of the permanent generation, empty or nearly so
   here, and does nothing else per object; its Python part costs microseconds).
   Targets: type_counts at least 6x faster than the Counter, within 1.3x of the floor
   (that ratio from a close-up of the two walks alone, with more rounds).
2. list lengths: ``memviz.gc.generations()`` vs ``len(gc.get_objects(generation=i))`` for
   i in 0..2.
3. per call: ``memviz.refcount(x)`` vs ``sys.getrefcount(x)``, ten calls per loop
   iteration; the loop's own cost is measured (the same loop calling nothing) and
   subtracted for the per-call figures. Target: at most 1.5x sys.getrefcount.

Every contender of a group is timed in the same process, interleaved round by round
(benchmarks/harness.py); the figures that matter are the ratios. Automatic collections
are off while timing (after one full collection, so the heap sits in generation 2).

    python benchmarks/bench_gc.py [--objects 1000000] [--rounds 15] [--no-save]
"""
from __future__ import annotations

import argparse
import gc
import random
import sys
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import harness  # noqa: E402

import memviz  # noqa: E402
from memviz.gc import generations, type_counts  # noqa: E402

TYPE_COUNTS_VS_COUNTER = 6.0    # type_counts at least this many times faster than Counter
TYPE_COUNTS_VS_FLOOR = 1.3      # type_counts at most this many times the floor
REFCOUNT_VS_GETREFCOUNT = 1.5   # refcount per call at most this many times getrefcount
CALLS_PER_ITERATION = 10


def tracked_objects() -> int:
    return sum(g.objects for g in generations())


def build_heap(target: int, seed: int = 20251126) -> list:
    """GC-tracked objects until generations 0-2 hold about ``target`` in all."""
    classes = [type(f"Kind{i}", (), {}) for i in range(40)]
    rng = random.Random(seed)
    heap: list = []
    missing = target - tracked_objects() - 1  # `heap` itself
    for _ in range(max(missing, 0)):
        kind = rng.random()
        if kind < 0.6:
            heap.append(rng.choice(classes)())
        elif kind < 0.9:
            heap.append([])
        else:
            heap.append(set())
    return heap


def refcount_loops(n: int) -> dict:
    """One loop per contender, identical but for the function called; x and f are
    locals (on 3.14+ loaded as borrowed references, the case memviz checks for)."""
    def make(f):
        def loop(f=f, x=[], iterations=range(n)):
            for _ in iterations:
                f(x); f(x); f(x); f(x); f(x); f(x); f(x); f(x); f(x); f(x)  # noqa: E702
        return loop

    def loop_only(x=[], iterations=range(n)):
        for _ in iterations:
            x; x; x; x; x; x; x; x; x; x  # noqa: B018,E702  (the loads, without the calls)

    return {
        "memviz.refcount(x)": make(memviz.refcount),
        "sys.getrefcount(x)": make(sys.getrefcount),
        "loop, no call": loop_only,
    }


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--objects", type=int, default=1_000_000)
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--call-rounds", type=int, default=41,
                        help="rounds of the per-call group (cheap samples, noisy machines)")
    parser.add_argument("--floor-rounds", type=int, default=61,
                        help="rounds of the type_counts-vs-floor close-up (cheap samples)")
    parser.add_argument("--refcount-iterations", type=int, default=20_000)
    parser.add_argument("--no-save", action="store_true")
    args = parser.parse_args(argv)

    print(memviz.capabilities())
    heap = build_heap(args.objects)
    gc.collect()
    gc.disable()
    try:
        objects = tracked_objects()
        print(f"\nheap: {objects:,} GC-tracked objects in generations 0-2 "
              f"({', '.join(f'{g.objects:,}' for g in generations())}), "
              f"{len(type_counts()):,} types\n")

        per_type = harness.interleaved({
            "memviz.gc.type_counts()": type_counts,
            "Counter(type(o) for o in gc.get_objects())":
                lambda: Counter(type(o) for o in gc.get_objects()),
            "floor: memviz.gc.generations()": generations,
        }, rounds=args.rounds)
        print("objects per type")
        print(harness.table(per_type, "memviz.gc.type_counts()"))

        # The 1.3x target compares two walks of ~10-20 ms: more rounds than the group
        # above affords (its Counter costs ~10x), without the Counter's garbage between.
        close_up = harness.interleaved({
            "memviz.gc.type_counts()": type_counts,
            "floor: memviz.gc.generations()": generations,
        }, rounds=args.floor_rounds)
        print("\ntype_counts against the floor, close-up")
        print(harness.table(close_up, "floor: memviz.gc.generations()"))

        lengths = harness.interleaved({
            "memviz.gc.generations()": generations,
            "len(gc.get_objects(generation=i)), i in 0..2":
                lambda: [len(gc.get_objects(generation=i)) for i in range(3)],
        }, rounds=args.rounds)
        print("\nlengths of the generation lists")
        print(harness.table(lengths, "memviz.gc.generations()"))

        calls = args.refcount_iterations * CALLS_PER_ITERATION
        per_call = harness.interleaved(refcount_loops(args.refcount_iterations),
                                       rounds=args.call_rounds)
        print(f"\nreference counts ({calls:,} calls per sample)")
        print(harness.table(per_call, "sys.getrefcount(x)"))
    finally:
        gc.enable()

    loop = per_call["loop, no call"].median_s
    refcount_ns = (per_call["memviz.refcount(x)"].median_s - loop) / calls * 1e9
    getrefcount_ns = (per_call["sys.getrefcount(x)"].median_s - loop) / calls * 1e9
    # The same from the fastest samples: on a shared machine the least disturbed ones.
    fastest_loop = per_call["loop, no call"].min_s
    refcount_min_ns = (per_call["memviz.refcount(x)"].min_s - fastest_loop) / calls * 1e9
    getrefcount_min_ns = (per_call["sys.getrefcount(x)"].min_s - fastest_loop) / calls * 1e9
    ratios = {
        "counter_over_type_counts": harness.ratio(
            per_type, "Counter(type(o) for o in gc.get_objects())", "memviz.gc.type_counts()"),
        "type_counts_over_floor": harness.ratio(
            close_up, "memviz.gc.type_counts()", "floor: memviz.gc.generations()"),
        "type_counts_over_floor_in_the_counter_group": harness.ratio(
            per_type, "memviz.gc.type_counts()", "floor: memviz.gc.generations()"),
        "get_objects_over_generations": harness.ratio(
            lengths, "len(gc.get_objects(generation=i)), i in 0..2", "memviz.gc.generations()"),
        "refcount_over_getrefcount_per_call": refcount_ns / getrefcount_ns,
        "refcount_over_getrefcount_with_loop": harness.ratio(
            per_call, "memviz.refcount(x)", "sys.getrefcount(x)"),
        "refcount_over_getrefcount_per_call_fastest": refcount_min_ns / getrefcount_min_ns,
        "type_counts_over_floor_fastest": (close_up["memviz.gc.type_counts()"].min_s
                                           / close_up["floor: memviz.gc.generations()"].min_s),
    }
    targets = {
        "type_counts at least 6x faster than Counter":
            ratios["counter_over_type_counts"] >= TYPE_COUNTS_VS_COUNTER,
        "type_counts within 1.3x of the floor":
            ratios["type_counts_over_floor"] <= TYPE_COUNTS_VS_FLOOR,
        "refcount per call at most 1.5x sys.getrefcount":
            ratios["refcount_over_getrefcount_per_call"] <= REFCOUNT_VS_GETREFCOUNT,
    }
    per_object_ns = {name: t.median_s / objects * 1e9 for name, t in per_type.items()}

    print("\nper object: " + ", ".join(f"{name} {ns:.1f} ns" for name, ns in per_object_ns.items()))
    print(f"per call, loop subtracted: memviz.refcount {refcount_ns:.1f} ns, "
          f"sys.getrefcount {getrefcount_ns:.1f} ns (fastest samples: {refcount_min_ns:.1f} ns, "
          f"{getrefcount_min_ns:.1f} ns)")
    print("\nratios: " + ", ".join(f"{k} {v:.2f}" for k, v in ratios.items()))
    for target, met in targets.items():
        print(f"  {'met   ' if met else 'MISSED'} {target}")

    if not args.no_save:
        path = harness.save("bench_gc", {
            "objects": objects,
            "types": len(type_counts()),
            "objects_per_type": per_type,
            "type_counts_vs_floor": close_up,
            "generation_lengths": lengths,
            "refcount_calls": per_call,
            "calls_per_sample": calls,
            "per_object_ns": per_object_ns,
            "per_call_ns": {"memviz.refcount": refcount_ns, "sys.getrefcount": getrefcount_ns},
            "per_call_ns_fastest": {"memviz.refcount": refcount_min_ns,
                                    "sys.getrefcount": getrefcount_min_ns},
            "ratios": ratios,
            "targets_met": targets,
        })
        print(f"\nsaved {path}")
    del heap
    return 0


if __name__ == "__main__":
    sys.exit(main())
