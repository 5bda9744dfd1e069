"""Benchmark: who holds an object -- ``memviz.path_to`` and ``memviz.referrers`` against
objgraph and the standard library, on the census's heap.

On the heap of bench_census.py (about a million GC-tracked objects plus a million untracked
ones), a payload four references below a module (``sys.modules['bench_app'].registry['k']
[0].payload``):

- ``memviz.path_to(payload)``: breadth first in C from sys.modules, builtins, the sys dict
  and the running frames;
- objgraph's ``find_backref_chain(payload, is_proper_module)``: breadth first backwards,
  one ``gc.get_referrers`` (a scan of every tracked object) per object on the frontier;
- ``memviz.census()``: issue 11's yardstick, a path at most 1.5x a census;
- ``memviz.referrers(payload)`` against ``gc.get_referrers(payload)`` (which sees tracked
  holders only).

Issue 11's targets: path_to at most 1.5x a census whatever the chain's depth, and at least
5x faster than objgraph on that chain. Every contender of a group is timed in one process,
interleaved round by round (benchmarks/harness.py); the ratios are what matter.

    python benchmarks/bench_holders.py [--objects 1000000] [--rounds 5] [--no-save]
"""
from __future__ import annotations

import argparse
import gc
import sys
import types
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import harness  # noqa: E402
from bench_census import build_heap  # noqa: E402

import memviz  # noqa: E402

PATH_VS_CENSUS = 1.5        # path_to at most this many times a census
PATH_VS_OBJGRAPH = 5.0      # ... and at least this many times faster than objgraph


class Entry:
    def __init__(self, payload):
        self.payload = payload


def install_app() -> None:
    """sys.modules['bench_app'].registry['k'][0].payload: four references below the module
    (module -> its dict -> registry -> list -> entry -> payload, as tp_traverse sees it)."""
    app = types.ModuleType("bench_app")
    app.registry = {"k": [Entry(bytearray(b"payload"))]}
    sys.modules["bench_app"] = app


def payload():
    return sys.modules["bench_app"].registry["k"][0].payload


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--objects", type=int, default=1_000_000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--no-save", action="store_true")
    args = parser.parse_args(argv)

    print(memviz.capabilities())
    heap = build_heap(args.objects)
    install_app()
    gc.collect()
    gc.disable()
    try:
        path = memviz.path_to(payload())
        print(f"\nthe path: {path} ({len(path)} steps)")
        contenders = {
            "memviz.path_to()": lambda: memviz.path_to(payload()),
            "memviz.census()": memviz.census,
            "memviz.referrers()": lambda: memviz.referrers(payload()),
            "gc.get_referrers()": lambda: gc.get_referrers(payload()),
        }
        try:
            import objgraph

            chain = objgraph.find_backref_chain(payload(), objgraph.is_proper_module)
            print(f"objgraph's chain: {len(chain) - 1} steps, from {chain[0]!r}")
            contenders["objgraph find_backref_chain()"] = lambda: objgraph.find_backref_chain(
                payload(), objgraph.is_proper_module)
        except ImportError as error:
            print(f"objgraph: not available ({error})")
        timings = harness.interleaved(contenders, rounds=args.rounds)
    finally:
        gc.enable()
        del heap
    print("\nwho holds it")
    print(harness.table(timings, "memviz.path_to()"))

    ratios = {"path_over_census": harness.ratio(timings, "memviz.path_to()", "memviz.census()"),
              "referrers_over_gc_get_referrers": harness.ratio(
                  timings, "memviz.referrers()", "gc.get_referrers()")}
    targets = {f"path_to within {PATH_VS_CENSUS:g}x of a census":
               ratios["path_over_census"] <= PATH_VS_CENSUS}
    if "objgraph find_backref_chain()" in timings:
        ratios["objgraph_over_path"] = harness.ratio(
            timings, "objgraph find_backref_chain()", "memviz.path_to()")
        targets[f"path_to at least {PATH_VS_OBJGRAPH:g}x faster than objgraph"] = \
            ratios["objgraph_over_path"] >= PATH_VS_OBJGRAPH
    print("\nratios: " + ", ".join(f"{k} {v:.2f}" for k, v in ratios.items()))
    for target, met in targets.items():
        print(f"  {'met   ' if met else 'MISSED'} {target}")
    if not args.no_save:
        saved = harness.save("bench_holders", {
            "objects": args.objects, "path": str(path), "steps": len(path),
            "timings": timings, "ratios": ratios, "targets_met": targets})
        print(f"\nsaved {saved}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
