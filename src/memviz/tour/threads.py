"""Step 5. Threads and the GIL: the lesson (see ``memviz.tour``)."""
from __future__ import annotations

import sys
import time

import memviz

from ._stage import Tour, available


def lesson_threads(t: Tour) -> None:
    t.say("""
        The GIL lets one thread run Python code at a time, and switches threads between
        bytecodes -- or whenever one waits (time.sleep, I/O, a lock). So a single
        bytecode is atomic, a read-modify-write is not. Eight threads each add 1 to a
        counter, with a pause between reading and writing:
    """)
    s = t.session()
    s.run("counter = 0")
    s.run("""
        def unlocked_increment():
            global counter
            value = counter          # read
            time.sleep(0.02)         # the other threads run here, and read the same value
            counter = value + 1      # write: overwrites what they wrote
    """)
    s.run("""
        def run_threads(target, n=8):
            threads = [threading.Thread(target=target) for _ in range(n)]
            for thread in threads: thread.start()
            for thread in threads: thread.join()
    """)
    s.run("run_threads(unlocked_increment)")
    unlocked = s.run("counter")
    t.reading("counter after 8 unlocked increments", unlocked,
              f"{8 - unlocked} updates lost" if isinstance(unlocked, int) else "")
    t.say("With a threading.Lock around the read and the write, one thread at a time:")
    s.run("counter, counter_lock = 0, threading.Lock()")
    s.run("""
        def locked_increment():
            global counter
            with counter_lock:
                value = counter
                time.sleep(0.02)
                counter = value + 1
    """)
    s.run("run_threads(locked_increment)")
    locked = s.run("counter")
    t.reading("counter after 8 locked increments", locked,
              f"{8 - locked} updates lost" if isinstance(locked, int) else "")

    t.say("""
        A semaphore lets at most N threads in at once; a BoundedSemaphore also refuses
        to be released more often than it was acquired (a bug it catches):
    """)
    s.run("slots, inside, most_inside, tally = threading.BoundedSemaphore(2), 0, 0, threading.Lock()")
    s.run("""
        def limited():
            global inside, most_inside
            with slots:
                with tally:
                    inside += 1
                    most_inside = max(most_inside, inside)
                time.sleep(0.05)
                with tally:
                    inside -= 1
    """)
    s.run("run_threads(limited, n=6)")
    most = s.run("most_inside", "never more than 2 at once")
    t.reading("most threads inside the semaphore", most, "of 6, limit 2")
    s.run("slots.release()", "one release too many")

    t.say("""
        A queue.Queue hands work to a pool of threads safely (its own lock inside). Four
        workers take jobs until they get None; each job allocates and frees a few hundred
        lists and keeps one more reference to the same object, `shared`:
    """)
    s.run("jobs, shared, kept = queue.Queue(), object(), []")
    s.run("""
        def worker():
            while (size := jobs.get()) is not None:
                scratch = [[i] for i in range(size)]   # pymalloc blocks taken and freed
                kept.append(shared)                    # one more reference to shared
                time.sleep(0.001)                      # let the others run
    """)
    s.run("workers = [threading.Thread(target=worker) for _ in range(4)]")
    s.run("for job in [300] * 200 + [None] * 4: jobs.put(job)")
    t.say("""
        While they run, this thread takes readings. memviz takes each one holding the
        GIL, so no thread runs in the middle of it: a pymalloc walk and
        sys.getallocatedblocks() read at the same instant (memviz calls it right after
        its walk) agree exactly; and each refcount of `shared` is its count at one
        instant -- the name, the references kept so far, and at most one more per worker
        (the one on its stack while it appends):
    """)
    s.run("for w in workers: w.start()")
    taken, exact, counts, problem = _readings_while(s.namespace)
    s.run("for w in workers: w.join()")
    refs = s.run("memviz.refcount(shared)", "the name, and 200 in kept")
    if problem is not None:
        t.unavailable("pymalloc readings", problem)
    else:
        t.reading("pymalloc readings while the workers ran", taken)
        t.reading("of them equal to sys.getallocatedblocks() at that instant", exact)
    if counts:
        t.reading("refcount(shared) while they ran", f"{min(counts)} .. {max(counts)}",
                  f"{len(counts)} readings; at most 1 + 200 + 4")
    t.reading("refcount(shared) after the workers", refs, "1 + 200 jobs")


def _readings_while(namespace: dict):
    """Readings taken by this thread while the session's ``workers`` run: (pymalloc
    readings taken, of them equal to sys.getallocatedblocks() at the same instant, the
    refcounts of ``shared``, why pymalloc cannot be read or None). ``shared`` is read
    from the namespace each time, so that no reference of this function's is counted."""
    workers = namespace["workers"]
    problem = available("pymalloc.stats")
    taken = exact = 0
    counts: list[int] = []
    deadline = time.monotonic() + 60
    while any(w.is_alive() for w in workers) and time.monotonic() < deadline:
        if problem is None:
            stats, allocated = memviz.pymalloc._stats(sys.getallocatedblocks)
            taken += 1
            exact += stats.blocks_in_use + stats.raw_blocks == allocated
        counts.append(memviz.refcount(namespace["shared"]))
        time.sleep(0.002)
    return taken, exact, counts, problem
