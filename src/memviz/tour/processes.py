"""Step 6. Processes: the lesson (see ``memviz.tour``)."""
from __future__ import annotations

import os
from typing import Tuple

import memviz

from .._words import signed
from ._stage import Tour


#: What a child process sends back: (pid, lists made, lists its tracker saw made or
#: None, its snapshot).
_WorkerReading = Tuple[int, int, "int | None", memviz.Snapshot]


def _worker_snapshot(size: int) -> _WorkerReading:
    """In a child process: make ``size`` lists under memviz.track(), snapshot, and
    return (pid, size, lists the tracker saw made, snapshot). A collection first and
    none during the block: the tracker then sees exactly these lists (and the list that
    holds them)."""
    import gc as collector

    collector.collect()
    enabled = collector.isenabled()
    collector.disable()
    try:
        with memviz.track() as tracker:
            made: list[list[object]] = [[] for _ in range(size)]
    finally:
        if enabled:
            collector.enable()
    made_seen = None
    if tracker.diff.has_types:
        made_seen = tracker.diff.type_deltas().get("builtins.list", 0)
    snap = memviz.snapshot()
    del made
    return os.getpid(), size, made_seen, snap


def _pipe_child(connection, size: int) -> None:
    connection.send(_worker_snapshot(size))
    connection.close()


_POOL_QUEUE = None
_POOL_BARRIER = None


def _pool_init(results, barrier) -> None:
    global _POOL_QUEUE, _POOL_BARRIER
    _POOL_QUEUE, _POOL_BARRIER = results, barrier


def _pool_job(size: int) -> int:
    # Both jobs wait for each other: each runs in its own worker process.
    assert _POOL_QUEUE is not None and _POOL_BARRIER is not None   # set by _pool_init
    _POOL_BARRIER.wait(timeout=60)
    _POOL_QUEUE.put(_worker_snapshot(size))
    return os.getpid()


def lesson_processes(t: Tour) -> None:
    import multiprocessing

    ctx = multiprocessing.get_context()
    method = ctx.get_start_method()
    t.say(f"""
        Threads share one heap; processes do not. Each process has its own interpreter,
        its own reference counts, collector and pymalloc arenas: an object made in one is
        not in the other's readings. Three children (start method '{method}'): one sends
        a snapshot back through a Pipe, two multiprocessing.Pool workers through a Queue.
        Each makes some lists under memviz.track() first (1,000, 2,000, 3,000).
    """)
    if method == "fork":
        t.say("""
            'fork' copies this process: a child starts with the parent's heap at the same
            addresses, then every write is its own (copy on write) -- so its first arenas
            are at addresses this process has too, but they are separate memory.
        """)
    else:
        t.say(f"""
            '{method}' starts each child as a new interpreter: its own arenas, at
            addresses of its own.
        """)
    with memviz.track() as parent:
        here = memviz.snapshot()
        receiver, sender = ctx.Pipe(duplex=False)
        child = ctx.Process(target=_pipe_child, args=(sender, 1000))
        child.start()
        sender.close()
        try:
            piped = receiver.recv() if receiver.poll(120) else None
        finally:
            child.join(120)
            receiver.close()
        results = ctx.Queue()
        barrier = ctx.Barrier(2)
        with ctx.Pool(2, initializer=_pool_init, initargs=(results, barrier)) as pool:
            pids = pool.map(_pool_job, [2000, 3000], chunksize=1)
            queued = [results.get(timeout=120) for _ in pids]
        results.close()
        results.join_thread()
    queued.sort(key=lambda item: item[1])
    children: list[tuple[str, _WorkerReading]] = []
    if piped is not None:
        children.append(("child (Pipe)", piped))
    children += [("Pool worker (Queue)", item) for item in queued]
    rows: list[tuple[str, memviz.Snapshot | _WorkerReading]] = [("this process", here),
                                                                *children]
    parent_arenas = {a.address for a in (here.arenas or ())}
    table = []
    for label, item in rows:
        if isinstance(item, memviz.Snapshot):
            pid, made, seen, snap = item.pid, None, None, item
        else:
            pid, made, seen, snap = item
        generations = snap.generations
        stats = snap.pymalloc
        arenas = snap.arenas
        shared = ("-" if arenas is None or snap is here
                  else f"{sum(1 for a in arenas if a.address in parent_arenas)}")
        table.append((
            label, pid, "-" if made is None else f"{made:,}",
            "-" if seen is None else f"{seen:,}",
            "-" if generations is None else f"{sum(g.objects for g in generations):,}",
            "-" if stats is None else f"{stats.arenas_current:,}",
            shared,
            "-" if stats is None else f"{stats.blocks_in_use:,}",
        ))
    t.say("""
        ('track() saw': the change in lists between the two snapshots of memviz.track():
        the lists made and the one list that holds them.)
    """)
    t.table(("process", "pid", "lists made", "track() saw", "GC objects", "arenas",
             "arenas at parent's addresses", "blocks in use"), table)
    for label, child_reading in children:
        pid, made, seen, snap = child_reading
        t.reading(f"{label} pid {pid}, lists made and seen by track()", f"{made} {seen}")
    if here.pymalloc is None:
        t.unavailable("pymalloc arenas", here.capabilities["pymalloc.stats"].reason
                      or "not read")
    lists_here = None
    if parent.diff.has_types:
        lists_here = parent.diff.type_deltas().get("builtins.list", 0)
        t.reading("lists made in this process meanwhile", signed(lists_here),
                  "the children's 6,000 lists are not here")
    t.reading("distinct pids", len({here.pid, *(item[0] for _, item in children)}),
              f"this process and {len(children)} children")
    t.say("""
        The snapshots came back as values (they pickle as their JSON document): compare
        them, save them, diff them -- e.g. python -m memviz report -o report.html A.json
        B.json.
    """)
