"""Snapshots sent from other processes (Queue, Pipe, Pool, ProcessPoolExecutor) arrive
intact: equal to the JSON the worker wrote of the same snapshot.

Workers start with 'forkserver' (a clean server process, forked per worker: fast, and safe
while this process has threads) and, once, with 'spawn'.
"""
from __future__ import annotations

import gc
import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor

import pytest

import memviz

from support.capabilities import GC_READABLE


def _forkserver():
    ctx = multiprocessing.get_context("forkserver")
    ctx.set_forkserver_preload(["memviz"])
    return ctx


class WorkerThing:
    pass


def take_snapshot(n: int = 0):
    """In a worker: make n WorkerThings, snapshot, and return the snapshot, its JSON, the
    worker's pid and the lengths of generations 1 and 2 by gc.get_objects() (unchanged
    since the snapshot: the collector is off), to check what arrived against them."""
    gc.disable()
    things = [WorkerThing() for _ in range(n)]
    snap = memviz.snapshot()
    lengths = [len(gc.get_objects(generation=g)) for g in (1, 2)] if GC_READABLE else None
    gc.enable()
    del things
    return snap, snap.to_json(), os.getpid(), lengths


def put_on_queue(queue, n):
    queue.put(take_snapshot(n))


def send_on_pipe(connection, n):
    connection.send(take_snapshot(n))
    first = memviz.snapshot()
    connection.send(memviz.snapshot() - first)
    connection.close()


def _check(arrived, n: int, parent_pid: int = os.getpid()):
    snap, text, pid, lengths = arrived
    assert isinstance(snap, memviz.Snapshot)
    assert pid != parent_pid and snap.pid == pid
    assert snap == memviz.Snapshot.from_json(text)   # intact: what the worker saw
    if GC_READABLE:
        name = f"{__name__}.WorkerThing"
        assert snap.type_counts(0).get(name, 0) == n
        # The lengths count memviz's own objects, which the snapshot leaves out.
        own = [sum(snap.own_objects(g).values()) for g in (1, 2)]
        assert [snap.generations[1].objects + own[0],
                snap.generations[2].objects + own[1]] == lengths
        assert sum(snap.type_counts(2).values()) + own[1] == lengths[1]
    if snap.pymalloc is not None:
        assert snap.pymalloc.blocks_in_use == sum(c.blocks_in_use for c in snap.pymalloc.size_classes)
    assert snap.report().startswith(f"memviz snapshot: {snap.interpreter.description}, pid {pid}")
    return snap


@pytest.mark.parametrize("method", ["forkserver", "spawn"])
def test_through_a_queue(method):
    ctx = _forkserver() if method == "forkserver" else multiprocessing.get_context("spawn")
    queue = ctx.Queue()
    worker = ctx.Process(target=put_on_queue, args=(queue, 1234))
    worker.start()
    try:
        arrived = queue.get(timeout=120)
    finally:
        worker.join(120)
    assert worker.exitcode == 0
    _check(arrived, 1234, os.getpid())


def test_through_a_pipe():
    ctx = _forkserver()
    mine, theirs = ctx.Pipe()
    worker = ctx.Process(target=send_on_pipe, args=(theirs, 77))
    worker.start()
    theirs.close()
    try:
        assert mine.poll(120)
        arrived = mine.recv()
        diff = mine.recv()
    finally:
        worker.join(120)
    assert worker.exitcode == 0
    snap = _check(arrived, 77)
    assert isinstance(diff, memviz.SnapshotDiff)
    assert diff.new.pid == diff.old.pid == snap.pid
    if GC_READABLE:   # the worker's second snapshot leaves its first out: memviz's own
        assert diff.type_deltas() == {}
        assert (diff.new.own_objects()["memviz.snapshot.Snapshot"]
                == diff.old.own_objects().get("memviz.snapshot.Snapshot", 0) + 1)


def test_returned_from_a_pool():
    with _forkserver().Pool(2) as pool:
        results = pool.map(take_snapshot, [10, 20, 30, 40])
    snaps = [_check(result, n) for result, n in zip(results, [10, 20, 30, 40])]
    assert len({s.pid for s in snaps}) in (1, 2)
    if GC_READABLE:   # a diff of two workers' snapshots
        a, b = snaps[0], snaps[3]
        assert (b - a).type_deltas().get(f"{__name__}.WorkerThing") == 30


def test_returned_from_a_process_pool_executor():
    with ProcessPoolExecutor(max_workers=2, mp_context=_forkserver()) as executor:
        futures = [executor.submit(take_snapshot, n) for n in (5, 6)]
        results = [future.result(timeout=120) for future in futures]
    for result, n in zip(results, (5, 6)):
        _check(result, n)
