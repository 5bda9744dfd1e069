"""The dining philosophers, with memviz readings taken while they dine.

Five philosophers sit at a round table with five forks, one between each pair of
neighbours: philosopher ``i`` has fork ``i`` on the left and fork ``(i + 1) % 5`` on the
right. To eat, a philosopher needs both. Each fork is a ``threading.Lock``, and taking a
fork and putting it down are separate actions (``Fork.pick_up`` / ``Fork.put_down``).

Two dinners:

``naive`` -- every philosopher takes the left fork, then the right one. When all five
hold their left fork, every right fork is a neighbour's left fork: philosopher 0 waits
for 1, 1 for 2, ..., 4 for 0, a cycle in which nobody can ever put a fork down: a
deadlock. Left to chance it happens now and then; a barrier after the left fork (all
five reach for the right fork only once all five hold their left one) makes it certain.

``fair`` -- the solution: resource ordering, plus a fair waiter.

* Resource ordering. The forks are numbered and everybody takes the lower-numbered of
  their two forks first (philosopher 4, between forks 4 and 0, takes fork 0 -- the
  right one -- first; the others take the left one first). A deadlock is a cycle of
  philosophers, each holding a fork and waiting for one that the next holds. Everybody
  waits only for a fork numbered higher than every fork they hold, so along such a cycle
  the fork numbers would rise all the way round back to where they started: impossible.
  Concretely, a philosopher who waits holds at most their lower fork and waits for the
  higher one, whose holder either eats (and will put it down) or waits for a still
  higher fork; that chain cannot go on forever, so it ends at someone who eats.
  So nobody deadlocks.
* The waiter: a first-come, first-served ticket queue. Ordering alone does not stop a
  philosopher from starving: ``Lock`` is not fair, and a quick neighbour may take the
  shared fork again and again. So, before reaching for a fork, a philosopher takes a
  ticket and waits until no *neighbour* (the only ones sharing a fork) with an earlier
  ticket is still waiting for forks; the ticket is handed back once both forks are held.
  A neighbour who asks later therefore cannot take a fork before an earlier request is
  served, and an earlier request is always served (the earliest ticket may always start,
  and by the ordering argument it gets both forks once the current eaters finish). Each
  request has at most two conflicting requests before it, each of them is served in finite
  time, so every request is served: nobody starves. The queue never makes anyone wait for
  a non-neighbour, so philosophers 0 and 2 still eat at the same time.

Run it: ``python examples/dining_philosophers.py`` dines fairly for a few seconds and
prints memviz's readings taken while the philosophers run (each fork's reference count,
the collector's generations, pymalloc's blocks in use), then sets the naive table and
shows its deadlock (and frees the philosophers: that is what ``abort`` is for).
"""
from __future__ import annotations

import argparse
import random
import sys
import threading
import time
from dataclasses import dataclass

import memviz

SEATS = 5


class Fork:
    """A fork: a ``threading.Lock`` plus who holds it (for the readings and the tests)."""

    def __init__(self, number: int):
        self.number = number
        self._lock = threading.Lock()
        self.holder: int | None = None

    def pick_up(self, philosopher: int, abort: threading.Event | None = None) -> bool:
        """Takes the fork, waiting as long as it takes. With ``abort``, the wait also ends
        (returning False, fork not taken) once ``abort`` is set -- a way for a test or
        the demo to free philosophers that can never get their fork."""
        if abort is None:
            self._lock.acquire()
        else:
            while not self._lock.acquire(timeout=0.02):
                if abort.is_set():
                    return False
        self.holder = philosopher
        return True

    def put_down(self, philosopher: int) -> None:
        if self.holder != philosopher:
            raise RuntimeError(f"philosopher {philosopher} puts down fork {self.number}, "
                               f"which philosopher {self.holder} holds")
        self.holder = None
        self._lock.release()

    def __repr__(self) -> str:
        return f"<Fork {self.number} held by {self.holder}>"


class Waiter:
    """First come, first served among neighbours: ``request`` returns when no neighbour
    with an earlier ticket is still waiting for forks; ``seated`` hands the ticket back
    once the philosopher holds both forks."""

    def __init__(self, seats: int = SEATS):
        self.seats = seats
        self._condition = threading.Condition()
        self._next_ticket = 0
        self._waiting: dict[int, int] = {}     # ticket -> philosopher

    def _neighbours(self, a: int, b: int) -> bool:
        return (a - b) % self.seats in (1, self.seats - 1)

    def request(self, philosopher: int) -> int:
        with self._condition:
            ticket = self._next_ticket
            self._next_ticket += 1
            self._waiting[ticket] = philosopher

            def my_turn() -> bool:
                return not any(
                    earlier < ticket and self._neighbours(other, philosopher)
                    for earlier, other in self._waiting.items()
                )

            self._condition.wait_for(my_turn)
            return ticket

    def seated(self, ticket: int) -> None:
        with self._condition:
            del self._waiting[ticket]
            self._condition.notify_all()


@dataclass
class Philosopher:
    seat: int
    left: Fork
    right: Fork
    meals: int = 0
    waiting_for: Fork | None = None       # the fork being reached for, if any
    longest_wait: float = 0.0             # seconds from wanting to eat to eating

    def take(self, fork: Fork, abort: threading.Event | None = None) -> bool:
        self.waiting_for = fork
        taken = fork.pick_up(self.seat, abort)
        self.waiting_for = None
        return taken


def _per_seat(value, seats: int) -> list[float]:
    if isinstance(value, (int, float)):
        return [float(value)] * seats
    values = [float(v) for v in value]
    if len(values) != seats:
        raise ValueError(f"expected {seats} values, one per seat, not {len(values)}")
    return values


class Dinner:
    """Five philosophers in threads. ``strategy`` is ``"fair"`` (the solution) or
    ``"naive"`` (left fork then right fork: deadlocks). ``think`` and ``eat`` are the
    longest think and eat times in seconds (each one random up to that), for everybody
    or, as a sequence, per seat."""

    def __init__(self, strategy: str = "fair", *, think=0.01, eat=0.01,
                 seats: int = SEATS, seed: int = 0):
        if strategy not in ("fair", "naive"):
            raise ValueError(f"strategy must be 'fair' or 'naive', not {strategy!r}")
        self.strategy = strategy
        self.think = _per_seat(think, seats)
        self.eat = _per_seat(eat, seats)
        self.forks = [Fork(i) for i in range(seats)]
        self.philosophers = [
            Philosopher(i, self.forks[i], self.forks[(i + 1) % seats]) for i in range(seats)
        ]
        self.waiter = Waiter(seats)
        self.stop_event = threading.Event()    # finish the current meal, then leave
        self.abort = threading.Event()         # give up waiting for a fork (naive dinner)
        self._barrier = threading.Barrier(seats)
        self._seed = seed
        self.threads: list[threading.Thread] = []
        self.errors: list[BaseException] = []

    # -- running ----------------------------------------------------------------------

    def start(self) -> Dinner:
        target = self._dine_fairly if self.strategy == "fair" else self._dine_naively
        self.threads = [
            threading.Thread(target=self._run, args=(target, p), daemon=True,
                             name=f"philosopher-{p.seat}")
            for p in self.philosophers
        ]
        for thread in self.threads:
            thread.start()
        return self

    def stop(self, timeout: float = 5.0) -> bool:
        """Asks everybody to leave (after the current meal; a naive philosopher stuck
        waiting for a fork gives up) and waits up to ``timeout`` seconds in all; True when
        every thread has ended."""
        self.stop_event.set()
        self.abort.set()
        self._barrier.abort()     # nobody waits for a neighbour who has left
        deadline = time.monotonic() + timeout
        for thread in self.threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        return not any(thread.is_alive() for thread in self.threads)

    def _run(self, target, philosopher: Philosopher) -> None:
        try:
            target(philosopher, random.Random(self._seed * 100 + philosopher.seat))
        except BaseException as error:    # reported by the tests, never lost
            self.errors.append(error)
            self._barrier.abort()

    def _pause(self, rng: random.Random, longest: float) -> None:
        if longest > 0:
            time.sleep(rng.uniform(0, longest))

    def _dine_fairly(self, me: Philosopher, rng: random.Random) -> None:
        first, second = sorted((me.left, me.right), key=lambda fork: fork.number)
        while not self.stop_event.is_set():
            self._pause(rng, self.think[me.seat])         # think
            hungry_since = time.monotonic()
            ticket = self.waiter.request(me.seat)
            me.take(first)
            me.take(second)
            self.waiter.seated(ticket)
            me.longest_wait = max(me.longest_wait, time.monotonic() - hungry_since)
            me.meals += 1
            self._pause(rng, self.eat[me.seat])           # eat
            second.put_down(me.seat)
            first.put_down(me.seat)

    def _dine_naively(self, me: Philosopher, rng: random.Random) -> None:
        while not self.stop_event.is_set():
            self._pause(rng, self.think[me.seat])
            me.take(me.left)
            try:
                # Everybody now holds their left fork before anybody reaches right.
                self._barrier.wait()
            except threading.BrokenBarrierError:
                me.left.put_down(me.seat)
                return
            if not me.take(me.right, self.abort):         # waits forever, unless aborted
                me.left.put_down(me.seat)
                return
            me.meals += 1                                 # never reached
            self._pause(rng, self.eat[me.seat])
            me.right.put_down(me.seat)
            me.left.put_down(me.seat)

    # -- looking at the table ---------------------------------------------------------

    @property
    def meals(self) -> list[int]:
        return [p.meals for p in self.philosophers]

    def waits_for(self) -> dict[int, int]:
        """The wait-for graph: philosopher -> the philosopher holding the fork they are
        waiting for (only those waiting for a fork somebody holds)."""
        graph = {}
        for p in self.philosophers:
            fork = p.waiting_for
            holder = fork.holder if fork is not None else None
            if holder is not None:
                graph[p.seat] = holder
        return graph

    def deadlock(self) -> list[int] | None:
        """A cycle of philosophers each waiting for a fork the next one holds, or None."""
        graph = self.waits_for()
        for start in graph:
            path, seat = [], start
            while seat in graph and seat not in path:
                path.append(seat)
                seat = graph[seat]
            if seat in path:
                return path[path.index(seat):]
        return None


# -- memviz readings ---------------------------------------------------------------------


def readings(dinner: Dinner) -> dict:
    """memviz's readings, taken now (while the philosophers run): each fork's references,
    the objects in each of the collector's generations, pymalloc's blocks in use. A
    reading this interpreter cannot take is a string saying why."""
    result: dict = {"meals": dinner.meals}
    try:
        # The table's list and the two neighbours' Philosopher objects hold each fork: 3
        # when nobody is using it. A running philosopher's frame adds its own: the fair
        # ones keep both forks in locals (first, second), and whoever is picking a fork
        # up holds it in the call's arguments (and waiting_for) meanwhile.
        # "- 1": not counting this loop's own variable.
        result["fork_references"] = [memviz.refcount(fork) - 1 for fork in dinner.forks]
    except memviz.MemvizError as error:
        result["fork_references"] = str(error)
    try:
        result["gc_objects"] = [g.objects for g in memviz.gc.generations()]
    except memviz.MemvizError as error:
        result["gc_objects"] = str(error)
    try:
        result["pymalloc_blocks"] = memviz.pymalloc.stats().blocks_in_use
    except memviz.MemvizError as error:
        result["pymalloc_blocks"] = str(error)
    return result


def _print_readings(label: str, values: dict) -> None:
    print(f"  {label:>6}  meals {values['meals']}  fork refs {values['fork_references']}  "
          f"gc objects {values['gc_objects']}  pymalloc blocks {values['pymalloc_blocks']}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=2.0, help="how long the fair dinner lasts")
    parser.add_argument("--think", type=float, default=0.005)
    parser.add_argument("--eat", type=float, default=0.005)
    args = parser.parse_args(argv)

    print(f"fair dinner (resource ordering + first-come-first-served waiter), {args.seconds} s:")
    dinner = Dinner("fair", think=args.think, eat=args.eat).start()
    started = time.monotonic()
    while time.monotonic() - started < args.seconds:
        time.sleep(args.seconds / 5)
        _print_readings(f"{time.monotonic() - started:.1f}s", readings(dinner))
    finished = dinner.stop()
    waits = ", ".join(f"{p.longest_wait * 1000:.0f}" for p in dinner.philosophers)
    print(f"  meals {dinner.meals}; longest waits (ms) {waits}; "
          f"all left the table: {finished}")

    print("\nnaive dinner (left fork, then right fork):")
    naive = Dinner("naive", think=0.0, eat=args.eat).start()
    time.sleep(0.3)
    cycle = naive.deadlock()
    _print_readings("0.3s", readings(naive))
    if cycle is not None:
        path = " -> ".join(f"{seat} (holds fork {naive.forks[seat].number})" for seat in cycle)
        print(f"  deadlock: {path} -> {cycle[0]}: each waits for the next one's fork")
    else:
        print("  no deadlock this time")
    print(f"  freed by abort: {naive.stop()}")
    return 0 if finished and cycle is not None else 1


if __name__ == "__main__":
    sys.exit(main())
