"""Side-by-side timing for memviz's benchmarks.

These machines are noisy, so a benchmark never quotes one absolute time against a target:
every contender is timed in the same process, interleaved round by round (A B C, A B C, ...),
and the figures that matter are ratios of medians taken in that one run.
"""
from __future__ import annotations

import json
import platform
import statistics
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable

RESULTS = Path(__file__).resolve().parent / "results"


@dataclass(frozen=True)
class Timing:
    name: str
    median_s: float
    min_s: float
    max_s: float
    rounds: int


def interleaved(contenders: dict[str, Callable[[], object]], rounds: int = 15,
                inner: int = 1) -> dict[str, Timing]:
    """Times each contender ``rounds`` times, interleaved; each sample is the mean of
    ``inner`` back-to-back calls (use inner > 1 for sub-microsecond calls)."""
    samples: dict[str, list[float]] = {name: [] for name in contenders}
    for fn in contenders.values():   # warm-up: caches, lazy imports, first-call costs
        fn()
    for _ in range(rounds):
        for name, fn in contenders.items():
            start = time.perf_counter()
            for _ in range(inner):
                fn()
            samples[name].append((time.perf_counter() - start) / inner)
    return {
        name: Timing(name, statistics.median(s), min(s), max(s), rounds)
        for name, s in samples.items()
    }


def ratio(timings: dict[str, Timing], slower: str, faster: str) -> float:
    return timings[slower].median_s / timings[faster].median_s


def format_seconds(seconds: float) -> str:
    for unit, scale in (("s", 1), ("ms", 1e-3), ("µs", 1e-6)):
        if seconds >= scale:
            return f"{seconds / scale:.3g} {unit}"
    return f"{seconds / 1e-9:.3g} ns"


def table(timings: dict[str, Timing], baseline: str) -> str:
    """A plain-text table: median, min-max, and each row's time relative to ``baseline``."""
    width = max(len(name) for name in timings)
    lines = [f"{'':{width}}  {'median':>10}  {'min':>10}  {'max':>10}  {'vs ' + baseline:>12}"]
    base = timings[baseline].median_s
    for name, t in timings.items():
        lines.append(
            f"{name:{width}}  {format_seconds(t.median_s):>10}  {format_seconds(t.min_s):>10}  "
            f"{format_seconds(t.max_s):>10}  {t.median_s / base:>11.2f}x"
        )
    return "\n".join(lines)


def save(benchmark: str, payload: dict) -> Path:
    """Writes benchmarks/results/<benchmark>-<pythonX.Y>.json and returns its path."""
    RESULTS.mkdir(exist_ok=True)
    payload = {
        "benchmark": benchmark,
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "machine": platform.machine(),
        "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        **payload,
    }
    for key, value in payload.items():
        if isinstance(value, dict) and value and all(isinstance(v, Timing) for v in value.values()):
            payload[key] = {name: asdict(t) for name, t in value.items()}
    path = RESULTS / f"{benchmark}-python{sys.version_info[0]}.{sys.version_info[1]}.json"
    path.write_text(json.dumps(payload, indent=2) + "\n")
    return path
