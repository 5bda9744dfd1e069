"""Readings under load, and from threads that C started.

* ``test_readers_while_eight_threads_churn``: eight threads allocate and free objects of
  every size (cycles and finalizers included, and collections) while two threads take
  every reading and snapshots, for ``MEMVIZ_STRESS_SECONDS`` (3 s by default). Readings
  taken at different instants cannot be compared with each other while the heap moves,
  so each is checked against what holds at its own instant: the pymalloc readings against
  an oracle called inside the reading's own C call (``after_walk``: the GIL is held from
  the walk to the oracle, so the other threads cannot move the heap in between), the
  GC readings against what the reader itself holds and against monotonic counters, each
  snapshot against itself. ``CollectorRunning`` is the documented answer while another
  thread's collection is paused in a finalizer; it is counted, and nothing else may be
  raised.
* Threads created by C (``pthread_create`` through ctypes) that call memviz's cffi
  readings directly, with no Python thread state of their own (the reading makes one with
  ``PyGILState_Ensure``); a thread started from C that runs Python (a ctypes callback);
  a C thread reading while another thread holds the GIL (it waits, then reads the state
  the holder left); and a C thread naming an interpreter it is not in (refused).
"""
from __future__ import annotations

import ctypes
import functools
import gc
import os
import random
import sys
import threading
import time

import pytest

import memviz
from memviz import _native
from memviz import pymalloc as pm
from memviz._records import ARENA_RECORD, POOL_RECORD
from memviz.gc import generation_of, generations, permanent, type_counts

from support.capabilities import (GC_READABLE, PYMALLOC_DIRECT, PYMALLOC_READINGS, available,
                                  needs, needs_core)
from support.pymalloc import (allocation, check_arenas_add_up, check_arenas_match_report,
                              check_located, check_matches_report, stats_at_walk, with_report)
from support.threads import _LIBC, _LIBC_HOLDING_GIL, _pthread_t, c_thread, join

SECONDS = float(os.environ.get("MEMVIZ_STRESS_SECONDS", "3"))
HARD_LIMIT = SECONDS * 4 + 30
ALLOCATORS = 8
READERS = 2
MIN_READINGS = 3            # successful rounds of readings per reader, at least
ANCHORS = 300
REPORT_LOCK = threading.Lock()

REFCOUNT = available("refcount")


class Churned:
    pass


class Finalized:
    def __del__(self):
        time.sleep(0)   # lets other threads run while a collection finalizes this


class Anchor:
    """Made by the readers only: each reader knows how many there are."""


def churn(seed: int, stop: threading.Event, errors: list) -> None:
    rng = random.Random(seed)
    pool: list = []
    try:
        while not stop.is_set():
            action = rng.randrange(10)
            if action < 4:      # objects of every size, in and out of pymalloc
                size = rng.choice((rng.randrange(0, 600), rng.randrange(0, 5000)))
                pool.extend(bytes(size) if rng.random() < 0.5 else [None] * (size // 8)
                            for _ in range(rng.randrange(1, 200)))
            elif action == 4:
                pool.extend([{}, Churned(), (1, object()), {1, 2.5}] * rng.randrange(1, 40))
            elif action == 5:   # cycles, dropped at once
                for _ in range(rng.randrange(1, 20)):
                    a, b = Churned(), [None]
                    a.other, b[0] = b, a
            elif action == 6 and seed == 0 and rng.random() < 0.05:
                f = Finalized()
                f.self = f
                del f
            elif action == 7:
                del pool[rng.randrange(len(pool) + 1):]
            elif action == 8 and rng.random() < 0.02:
                gc.collect(rng.randrange(3))
            elif action == 9 and REFCOUNT:
                fresh = Churned()
                if memviz.refcount(fresh) != 1:
                    errors.append(f"refcount of a fresh local: {memviz.refcount(fresh)}")
            if len(pool) > 20000:
                pool.clear()
    except BaseException as error:  # noqa: BLE001 - reported by the test
        errors.append(f"allocator {seed}: {error!r}")


def read_everything(anchors: list, tally: dict, state: dict) -> None:
    """One round of every reading, each checked at its own instant."""
    if GC_READABLE:
        try:
            gens = generations()
        except memviz.CollectorRunning:
            tally["refused"] += 1
        else:
            assert [g.index for g in gens] == [0, 1, 2]
            assert all(g.objects >= 0 and g.count >= 0 and g.threshold >= 0 for g in gens)
            stats = [(g.collections, g.collected, g.uncollectable) for g in gens]
            previous = state.get("stats")
            if previous is not None:    # per reader, in its own order: never down
                for now, before in zip(stats, previous):
                    assert all(n >= b for n, b in zip(now, before)), (stats, previous)
            state["stats"] = stats
        try:
            counts = type_counts()
            assert counts[Anchor] == state["anchors_total"]
            assert all(isinstance(t, type) and n > 0 for t, n in counts.items())
            where = generation_of(anchors[0])
            assert where in (0, 1, 2) and where >= state.get("where", 0)
            state["where"] = where
            assert permanent() >= 0
        except memviz.CollectorRunning:
            tally["refused"] += 1
    if REFCOUNT:
        count = memviz.refcount(anchors[1])     # the list and this call's argument only
        assert count == 1, count
    else:       # an interpreter memviz cannot read (free-threaded): refused, and says why
        with pytest.raises(memviz.UnsupportedInterpreter, match="is not available on"):
            memviz.refcount(anchors[1])
    if PYMALLOC_DIRECT:
        s, allocated = stats_at_walk(sys.getallocatedblocks)
        assert s.blocks_in_use + s.raw_blocks == allocated
        assert s.total_bytes == s.arena_bytes
        # Against CPython's own report, printed inside the reading's C call. (Not
        # support.pymalloc's arenas_and_stats: its inner reading is a cffi call, which
        # releases the GIL, and other threads then move the heap between the two walks.)
        with REPORT_LOCK:   # file descriptor 2 is redirected for the report: one at a time
            s, text = with_report(pm._stats)
            check_matches_report(s, text)
            arenas, text = with_report(pm._arenas)
            check_arenas_match_report(arenas, text)
        for obj in (bytes(100), (0, anchors, state), "x" * 300):
            check_located(obj, type(obj).__name__)
    try:
        snap = memviz.snapshot()
    except memviz.CollectorRunning:     # another thread's collection outlasted the wait
        tally["refused"] += 1
    else:
        if snap.generations is not None:
            for g in range(3):
                assert sum(snap.type_counts(g).values()) == snap.generations[g].objects
            assert snap.type_counts()[f"{__name__}.Anchor"] == state["anchors_total"]
        if snap.pymalloc is not None:
            assert snap.pymalloc.total_bytes == snap.pymalloc.arena_bytes
        assert memviz.Snapshot.from_json(snap.to_json()) == snap
    tally["rounds"] += 1


def test_readers_while_eight_threads_churn():
    threshold = gc.get_threshold()
    was_enabled = gc.isenabled()
    interval = sys.getswitchinterval()
    stop = threading.Event()
    errors: list = []
    anchors = [Anchor() for _ in range(ANCHORS)]
    tallies = [{"rounds": 0, "refused": 0} for _ in range(READERS)]

    def reader(i: int) -> None:
        state = {"anchors_total": ANCHORS}
        try:
            start = time.monotonic()
            while time.monotonic() - start < HARD_LIMIT and (
                    not stop.is_set() or tallies[i]["rounds"] < MIN_READINGS):
                read_everything(anchors, tallies[i], state)
        except BaseException as error:  # noqa: BLE001 - reported below
            import traceback
            errors.append(f"reader {i}: {error!r}\n{traceback.format_exc()}")

    allocators = [threading.Thread(target=churn, args=(seed, stop, errors), daemon=True)
                  for seed in range(ALLOCATORS)]
    readers = [threading.Thread(target=reader, args=(i,), daemon=True) for i in range(READERS)]
    started = time.monotonic()
    try:
        gc.enable()
        gc.set_threshold(700, 5, 5)
        sys.setswitchinterval(1e-4)
        for thread in allocators + readers:
            thread.start()
        while time.monotonic() - started < SECONDS and not errors:
            time.sleep(0.05)
        stop.set()
        for thread in readers + allocators:
            thread.join(HARD_LIMIT)
    finally:
        stop.set()
        sys.setswitchinterval(interval)
        gc.set_threshold(*threshold)
        (gc.enable if was_enabled else gc.disable)()
    elapsed = time.monotonic() - started
    assert not any(t.is_alive() for t in allocators + readers), "a thread did not stop"
    assert errors == [], "\n".join(errors)
    print(f"{elapsed:.1f} s, {ALLOCATORS} allocating threads; readers: {tallies}")
    for tally in tallies:
        assert tally["rounds"] >= MIN_READINGS, tallies


# -- threads that C started (support.threads: c_thread, join) --------------------------


@needs_core
@needs("gc")
def test_gc_reading_from_a_c_thread_without_a_thread_state(gc_disabled):
    ffi, lib = _native.ffi, _native.lib
    buffer = ffi.new("mv_gc_reading *")
    buffer.interpreter_id = _native.interpreter_id()
    status = join(c_thread("mv_read_gc", buffer))
    assert status == lib.MV_OK
    # Nothing collected since (the collector is off), nothing new in generations 1 and 2:
    # those figures are exact; generation 0 gained what the two ctypes calls made.
    gens = generations()
    assert [buffer.generations[g].objects for g in (1, 2)] == [gens[1].objects, gens[2].objects]
    assert abs(buffer.generations[0].objects - gens[0].objects) <= 8
    for g in range(3):
        raw = buffer.generations[g]
        assert (raw.threshold, raw.collections, raw.collected, raw.uncollectable) == (
            gens[g].threshold, gens[g].collections, gens[g].collected, gens[g].uncollectable)
    assert buffer.permanent == gc.get_freeze_count()
    assert buffer.enabled == 0


@needs_core
@needs(*PYMALLOC_READINGS)
def test_pymalloc_readings_from_c_threads_are_exact(gc_disabled):
    """Stats with sys.getallocatedblocks inside the same C call, and the arena map with a
    stats reading inside it, from C threads: the oracles run in the reading's thread state
    (made by the reading), at the walk's heap state."""
    ffi, lib = _native.ffi, _native.lib
    for _ in range(3):
        stats = ffi.new("mv_pymalloc_stats *")
        stats.interpreter_id = _native.interpreter_id()
        stats.after_walk = id(sys.getallocatedblocks)
        assert join(c_thread("mv_pymalloc_read_stats", stats)) == lib.MV_OK
        s = pm._stats_from_walk(*_native.stats_figures(stats), pm.layout())
        assert s.blocks_in_use + s.raw_blocks == stats.after_walk_result > 0

        inner = ffi.new("mv_pymalloc_stats *")
        inner.interpreter_id = _native.interpreter_id()
        oracle = functools.partial(lib.mv_pymalloc_read_stats, inner)
        raw = ffi.new("mv_pymalloc_map *")
        raw.interpreter_id = _native.interpreter_id()
        raw.after_walk = id(oracle)
        assert join(c_thread("mv_pymalloc_read_map", raw)) == lib.MV_OK
        try:
            assert raw.after_walk_result == lib.MV_OK
            arenas = _arenas_from(raw)
        finally:
            lib.mv_pymalloc_map_free(raw)
        check_arenas_add_up(arenas, pm._stats_from_walk(*_native.stats_figures(inner), pm.layout()))

    kept = bytes(200)
    block = ffi.new("mv_pymalloc_block *")
    block.interpreter_id = _native.interpreter_id()
    block.address = id(kept)
    assert join(c_thread("mv_pymalloc_locate", block)) == lib.MV_OK
    assert block.found == 1
    assert block.block_size == allocation(sys.getsizeof(kept))
    assert pm.locate(kept).block_address == block.block_address

    text = ffi.new("mv_pymalloc_text *")
    text.interpreter_id = _native.interpreter_id()
    assert join(c_thread("mv_pymalloc_debug_text", text)) == lib.MV_OK
    try:
        assert text.printed == 1 and text.allocated_blocks > 0
        assert ffi.unpack(text.text, text.length).startswith(b"Small block threshold = ")
    finally:
        lib.mv_pymalloc_text_free(text)


def _arenas_from(raw) -> tuple[pm.Arena, ...]:
    """Arena values from a raw map reading's records (what memviz.pymalloc.arenas()
    builds from its own call's records)."""
    ffi = _native.ffi
    arena_records = ffi.buffer(raw.arenas, raw.narenas * ARENA_RECORD.size)
    pool_records = list(POOL_RECORD.iter_unpack(
        ffi.buffer(raw.pools, raw.npools * POOL_RECORD.size)))
    arenas, start = [], 0
    for address, index, total, free, used in ARENA_RECORD.iter_unpack(arena_records):
        pools = tuple(pm.Pool(*record) for record in pool_records[start:start + used])
        arenas.append(pm.Arena(address, index, total, free, pools))
        start += used
    return tuple(arenas)


@needs_core
@needs("gc")
def test_a_c_thread_waits_for_the_thread_that_holds_the_gil(gc_disabled):
    """The main thread keeps the GIL across starting the C thread, a 200 ms sleep in C and
    the making of 5,000 objects; the C thread's reading must wait and see all of them."""
    ffi, lib = _native.ffi, _native.lib
    buffer = ffi.new("mv_gc_reading *")
    buffer.interpreter_id = _native.interpreter_id()
    before = generations()[0].objects
    interval = sys.getswitchinterval()
    sys.setswitchinterval(5.0)      # no forced hand-over while we hold the GIL
    try:
        tid = c_thread("mv_read_gc", buffer, holding_gil=True)
        _LIBC_HOLDING_GIL.usleep(200_000)
        made = [Anchor() for _ in range(5000)]
        status = join(tid)          # releases the GIL: the reading runs now
    finally:
        sys.setswitchinterval(interval)
    assert status == lib.MV_OK
    assert buffer.generations[0].objects >= before + len(made)
    assert abs(buffer.generations[0].objects - generations()[0].objects) <= 8


@needs_core
def test_a_c_thread_naming_another_interpreter_is_refused():
    ffi, lib = _native.ffi, _native.lib
    for function, kind in (("mv_read_gc", "mv_gc_reading *"),
                           ("mv_pymalloc_read_stats", "mv_pymalloc_stats *"),
                           ("mv_pymalloc_read_map", "mv_pymalloc_map *")):
        buffer = ffi.new(kind)
        buffer.interpreter_id = _native.interpreter_id() + 1000
        assert join(c_thread(function, buffer)) == lib.MV_ERR_WRONG_INTERPRETER, function
    message = str(_native.status_error("memviz.gc.generations()", lib.MV_ERR_WRONG_INTERPRETER))
    assert "subinterpreter" in message and "cannot reach" in message


@needs_core
def test_many_c_threads_read_while_python_threads_allocate():
    """Bare C threads (each makes and drops its own thread state) reading at once, while
    Python threads allocate: every status is MV_OK and every stats reading is exact."""
    ffi, lib = _native.ffi, _native.lib
    stop = threading.Event()
    errors: list = []
    workers = [threading.Thread(target=churn, args=(seed + 100, stop, errors), daemon=True)
               for seed in range(4)]
    for worker in workers:
        worker.start()
    try:
        for _ in range(10):
            batch = []
            for i in range(6):
                if GC_READABLE and i % 2:
                    buffer = ffi.new("mv_gc_reading *")
                    buffer.interpreter_id = _native.interpreter_id()
                    batch.append(("gc", buffer, c_thread("mv_read_gc", buffer)))
                elif PYMALLOC_DIRECT:
                    buffer = ffi.new("mv_pymalloc_stats *")
                    buffer.interpreter_id = _native.interpreter_id()
                    buffer.after_walk = id(sys.getallocatedblocks)
                    batch.append(("stats", buffer, c_thread("mv_pymalloc_read_stats", buffer)))
            for kind, buffer, tid in batch:
                status = join(tid)
                if kind == "gc":
                    assert status in (lib.MV_OK, lib.MV_ERR_COLLECTING)
                    if status == lib.MV_OK:
                        assert all(buffer.generations[g].objects >= 0 for g in range(3))
                else:
                    assert status == lib.MV_OK
                    s = pm._stats_from_walk(*_native.stats_figures(buffer), pm.layout())
                    assert s.blocks_in_use + s.raw_blocks == buffer.after_walk_result
    finally:
        stop.set()
        for worker in workers:
            worker.join(60)
    assert errors == []


@needs_core
def test_python_readings_in_a_thread_started_from_c():
    """A ctypes callback run by a pthread: ctypes gives it a thread state on entry; every
    reading works there as in any Python thread."""
    results: dict = {}

    def body(arg):
        try:
            results["thread"] = type(threading.current_thread()).__name__
            kept = [Anchor() for _ in range(10)]
            results["refcount"] = memviz.refcount(kept)
            if GC_READABLE:
                results["anchors"] = type_counts()[Anchor]
                results["generation"] = generation_of(kept)
            if PYMALLOC_DIRECT:
                s, allocated = stats_at_walk(sys.getallocatedblocks)
                results["blocks"] = (s.blocks_in_use + s.raw_blocks, allocated)
                results["located"] = pm.locate(kept[0]) is not None
            results["snapshot"] = memviz.Snapshot.from_json(memviz.snapshot().to_json()) is not None
            results["capabilities"] = str(memviz.capabilities())
            results["kept"] = len(kept)
        except BaseException as error:  # noqa: BLE001 - ctypes would swallow it
            results["error"] = repr(error)
        return 0

    callback = ctypes.CFUNCTYPE(ctypes.c_void_p, ctypes.c_void_p)(body)
    tid = _pthread_t()
    assert _LIBC.pthread_create(ctypes.byref(tid), None, ctypes.cast(callback, ctypes.c_void_p),
                                None) == 0
    assert _LIBC.pthread_join(tid, None) == 0
    assert "error" not in results, results["error"]
    assert results["thread"] == "_DummyThread" and results["kept"] == 10
    assert results["refcount"] == 1
    if GC_READABLE:
        assert results["anchors"] >= 10 and results["generation"] in (0, 1, 2)
    if PYMALLOC_DIRECT:
        assert results["blocks"][0] == results["blocks"][1] and results["located"]
    assert results["snapshot"] and results["capabilities"] == str(memviz.capabilities())
