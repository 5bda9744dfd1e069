"""examples/dining_philosophers.py: the fair dinner feeds everybody and ends cleanly; the
naive one deadlocks (shown with daemon threads and a timeout, then freed); the waiter is
first come, first served among neighbours; memviz's readings taken while they dine hold
up against ``gc.get_referrers``."""
from __future__ import annotations

import gc
import importlib.util
import sys
import threading
import time
import types
from pathlib import Path

import pytest

import memviz

from support.capabilities import needs


EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "dining_philosophers.py"


def _load():
    spec = importlib.util.spec_from_file_location("dining_philosophers", EXAMPLE)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


dp = _load()


def _wait_until(condition, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.005)
    return True


def _assert_cleared(dinner) -> None:
    assert not any(thread.is_alive() for thread in dinner.threads)
    assert dinner.errors == []
    for fork in dinner.forks:
        assert fork.holder is None
        assert fork._lock.acquire(blocking=False), f"fork {fork.number} still locked"
        fork._lock.release()


# -- the solution ----------------------------------------------------------------------


def test_fair_dinner_feeds_everybody_and_ends_cleanly():
    dinner = dp.Dinner("fair", think=0.001, eat=0.001).start()
    try:
        fed = _wait_until(lambda: min(dinner.meals) >= 30, timeout=30)
        assert dinner.deadlock() is None
    finally:
        finished = dinner.stop(timeout=10)
    assert fed, f"meals after 30 s: {dinner.meals}"
    assert finished
    _assert_cleared(dinner)
    assert all(thread.daemon for thread in dinner.threads)


def test_greedy_neighbours_do_not_starve_the_one_between_them():
    """Philosophers 0 and 2 never think and eat long, so that forks 1 and 2 are nearly
    always taken. Nothing in ``threading.Lock`` stops them from taking those forks again
    and again before philosopher 1; the waiter does (1's earlier ticket holds back their
    later requests until 1 has both forks). The mechanism itself is checked exactly in
    ``test_waiter_is_first_come_first_served_among_neighbours``; here, the outcome:
    everybody eats, nobody waits long."""
    dinner = dp.Dinner("fair", think=[0, 0.005, 0, 0.005, 0.005],
                       eat=[0.004, 0.001, 0.004, 0.001, 0.001]).start()
    try:
        fed = _wait_until(lambda: min(dinner.meals) >= 20, timeout=30)
    finally:
        finished = dinner.stop(timeout=10)
    assert fed, f"meals after 30 s: {dinner.meals}"
    assert finished
    _assert_cleared(dinner)
    # a request waits for at most its earlier neighbours' meals (4 ms each, plus
    # scheduling): nowhere near a second
    assert dinner.philosophers[1].longest_wait < 1.0


def test_waiter_is_first_come_first_served_among_neighbours():
    waiter = dp.Waiter(5)
    first = waiter.request(0)                 # nobody before it: at once
    served: list[tuple[int, int]] = []

    def ask(seat):
        served.append((seat, waiter.request(seat)))

    neighbour = threading.Thread(target=ask, args=(1,), daemon=True)
    neighbour.start()
    neighbour.join(0.3)
    assert neighbour.is_alive() and served == []     # 0 asked first and still waits for forks
    other = threading.Thread(target=ask, args=(3,), daemon=True)
    other.start()
    other.join(5)
    assert not other.is_alive() and served == [(3, 2)]   # no earlier neighbour: served
    waiter.seated(first)
    neighbour.join(5)
    assert not neighbour.is_alive() and served[-1] == (1, 1)


def test_forks_are_taken_lower_number_first():
    """The resource order: philosopher 4 (between forks 4 and 0) reaches for fork 0."""
    dinner = dp.Dinner("fair")
    orders = []
    for philosopher in dinner.philosophers:
        first, second = sorted((philosopher.left, philosopher.right), key=lambda f: f.number)
        orders.append((first.number, second.number))
    assert orders == [(0, 1), (1, 2), (2, 3), (3, 4), (0, 4)]
    assert dinner.philosophers[4].right is dinner.forks[0]


# -- the naive dinner --------------------------------------------------------------------


@needs("refcount", "gc")  # the readings these tests check
def test_naive_dinner_deadlocks():
    dinner = dp.Dinner("naive", think=0.0, eat=0.001).start()
    try:
        assert _wait_until(lambda: dinner.deadlock() is not None, timeout=10), \
            f"no deadlock: waits-for graph {dinner.waits_for()}"
        time.sleep(0.5)                      # the timeout: still nobody can eat
        cycle = dinner.deadlock()
        assert cycle is not None and sorted(cycle) == [0, 1, 2, 3, 4]
        assert dinner.meals == [0, 0, 0, 0, 0]
        for philosopher in dinner.philosophers:
            assert philosopher.left.holder == philosopher.seat            # all hold left
            assert philosopher.waiting_for is philosopher.right            # and wait for right
            assert philosopher.right.holder == (philosopher.seat + 1) % 5  # held by neighbour
        assert dinner.waits_for() == {seat: (seat + 1) % 5 for seat in range(5)}
        assert all(thread.is_alive() and thread.daemon for thread in dinner.threads)
        # while deadlocked: each fork's three holders plus its waiting philosopher's frame
        values = dp.readings(dinner)
        assert all(count > 3 for count in values["fork_references"])
    finally:
        finished = dinner.stop(timeout=5)
    assert finished
    _assert_cleared(dinner)


# -- memviz readings ------------------------------------------------------------------


@needs("refcount", "gc")  # the readings these tests check
def test_readings_while_dining_and_after():
    dinner = dp.Dinner("fair", think=0.001, eat=0.001).start()
    try:
        assert _wait_until(lambda: min(dinner.meals) >= 5, timeout=30)
        during = dp.readings(dinner)
    finally:
        assert dinner.stop(timeout=10)
    assert len(during["fork_references"]) == 5
    # each fork: the table's list, two Philosophers, and the fair philosophers' locals
    assert all(count >= 3 for count in during["fork_references"])
    gcs = during["gc_objects"]
    if memviz.capabilities()["gc"].available:
        assert len(gcs) == 3 and all(isinstance(n, int) and n >= 0 for n in gcs)
    try:
        expected_blocks = memviz.pymalloc.stats().blocks_in_use
    except memviz.MemvizError:
        assert isinstance(during["pymalloc_blocks"], str)
    else:
        assert isinstance(during["pymalloc_blocks"], int)
        assert during["pymalloc_blocks"] > 0 and expected_blocks > 0

    after = dp.readings(dinner)["fork_references"]
    for index in range(5):     # (no zip: its tuples would hold the fork too)
        holders = [r for r in gc.get_referrers(dinner.forks[index])
                   if not isinstance(r, types.FrameType)]
        assert after[index] == len(holders) == 3, holders


def test_example_runs(capsys):
    status = dp.main(["--seconds", "0.4", "--think", "0.002", "--eat", "0.002"])
    out = capsys.readouterr().out
    assert status == 0
    assert "fork refs" in out and "gc objects" in out and "pymalloc blocks" in out
    assert "deadlock: 0 (holds fork 0) -> 1" in out
    assert "all left the table: True" in out and "freed by abort: True" in out


@pytest.mark.parametrize("value", [[0.1, 0.2], "fast"])
def test_bad_per_seat_times_are_refused(value):
    with pytest.raises((ValueError, TypeError)):
        dp.Dinner("fair", think=value)
