"""``python -m memviz tour``: a guided, live walk through CPython's memory machinery.

Six lessons, each run in this interpreter with memviz's readings of what just happened:

1. references   -- a list, a second name, ``sys.getrefcount``'s +1; a chain of objects
                   freed in order when its head's count reaches zero (weakref callbacks).
2. cycles       -- a list that contains itself and two dicts that refer to each other
                   outlive ``del`` until the cyclic collector finds them;
                   ``gc.disable()`` / ``gc.enable()``.
3. generations  -- thresholds and counts; a survivor promoted from generation 0 to 1 to 2.
4. pymalloc     -- this interpreter's alignment, size classes, pools and arenas next to
                   the classic numbers; objects located in their pools; a large request
                   going to malloc; a freed block reused by the next object of its size.
5. threads      -- a lost update without a lock and none with one; a BoundedSemaphore; a
                   Queue of workers; readings taken while threads run.
6. processes    -- each process has its own heap: snapshots sent back through a Pipe
                   and a Queue from a Pool's workers.

The code of each lesson is shown as a REPL session (``>>>``) and run in a fresh namespace;
what it prints is what this interpreter did. ``run(steps, pause=...)`` runs the tour from
Python; ``python -m memviz tour [--step N] [--list] [--no-pause]`` from the shell.
A reading this interpreter cannot take (pymalloc switched off with ``PYTHONMALLOC=malloc``,
an interpreter memviz cannot read) is named, with the reason, and the lesson goes on.
"""
from __future__ import annotations

import argparse
import ast
import contextlib
import gc
import io
import os
import queue
import shutil
import sys
import textwrap
import threading
import time
import weakref
from dataclasses import dataclass
from typing import Callable, Sequence, TextIO, Tuple

import memviz

from ._errors import MemvizError
from ._words import signed

__all__ = ["STEPS", "Step", "run"]

_WIDTH = 88


# --------------------------------------------------------------------------------------
# Output: narration, readings, and a REPL-like session


class _Tour:
    """Where a lesson writes: prose (wrapped, indented 2), readings (one per line,
    ``  - label: value``), tables, and sessions (indented 4, ``>>>``)."""

    def __init__(self, out: TextIO):
        self.out = out
        self.width = min(_WIDTH, max(60, shutil.get_terminal_size((_WIDTH, 24)).columns))

    def write(self, text: str = "") -> None:
        self.out.write(text + "\n")
        self.out.flush()

    def say(self, text: str) -> None:
        """A paragraph of prose, wrapped."""
        self.write()
        for paragraph in textwrap.dedent(text).strip().split("\n\n"):
            self.write(textwrap.fill(" ".join(paragraph.split()), self.width,
                                     initial_indent="  ", subsequent_indent="  "))

    def reading(self, label: str, value: object, note: str = "") -> None:
        """One reading on its own line (the tests parse these)."""
        self.write(f"  - {label}: {value}" + (f"  ({note})" if note else ""))

    def unavailable(self, what: str, error: BaseException | str) -> None:
        self.reading(what, "not available here", str(error))

    def table(self, headers: Sequence[str], rows: Sequence[Sequence[object]]) -> None:
        from .render.text import table

        self.write()
        self.write(table(headers, rows, indent="    "))

    def session(self) -> _Session:
        return _Session(self)


class _Session:
    """A fresh namespace in which lesson code runs as if typed at ``>>>``: each
    statement is echoed, run, and an expression's value printed with ``repr``; an
    exception is printed as the REPL's last traceback line. Output the code prints
    (weakref callbacks included) is indented with the session."""

    def __init__(self, tour: _Tour):
        self.tour = tour
        self.namespace: dict = {
            "__name__": "__tour__",
            "gc": gc,
            "memviz": memviz,
            "queue": queue,
            "sys": sys,
            "threading": threading,
            "time": time,
            "weakref": weakref,
        }

    def run(self, source: str, comment: str = ""):
        """Runs ``source`` (one or more statements); returns the value of a lone
        expression (None otherwise, or when it raised)."""
        source = textwrap.dedent(source).strip("\n")
        tree = ast.parse(source, "<tour>", "exec")
        starts = {node.lineno for node in tree.body}
        for number, line in enumerate(source.splitlines(), 1):
            prompt = ">>> " if number in starts else "... "
            if number == 1 and comment:
                line = f"{line}    # {comment}"
            self.tour.write(f"    {prompt}{line}".rstrip())
        captured = io.StringIO()
        value = None
        try:
            with contextlib.redirect_stdout(captured):
                if len(tree.body) == 1 and isinstance(tree.body[0], ast.Expr):
                    code = compile(ast.Expression(tree.body[0].value), "<tour>", "eval")
                    value = eval(code, self.namespace)
                else:
                    exec(compile(tree, "<tour>", "exec"), self.namespace)
        except Exception as error:   # noqa: BLE001 - shown as the REPL shows it
            self._emit(captured.getvalue())
            self.tour.write(f"    {_exception_line(error)}")
            return None
        self._emit(captured.getvalue())
        if value is not None:
            for line in repr(value).splitlines():
                self.tour.write(f"    {line}")
        return value

    def _emit(self, text: str) -> None:
        for line in text.splitlines():
            self.tour.write(f"    {line}".rstrip())

    def __getitem__(self, name: str):
        return self.namespace[name]


def _exception_line(error: BaseException) -> str:
    cls = type(error)
    name = cls.__qualname__
    if cls.__module__ not in ("builtins", "__main__"):
        name = f"{cls.__module__}.{name}"
    text = str(error)
    return f"{name}: {text}" if text else name


@contextlib.contextmanager
def _collector_restored():
    """The lesson may disable, enable, freeze: afterwards the collector is enabled or
    not as before, and the lesson's callbacks are gone."""
    enabled = gc.isenabled()
    callbacks = list(gc.callbacks)
    try:
        yield
    finally:
        gc.callbacks[:] = callbacks
        if enabled:
            gc.enable()
        else:
            gc.disable()


def _available(name: str) -> str | None:
    """None when the reading ``name`` works here, else why not."""
    capability = memviz.capabilities()[name]
    return None if capability.available else (capability.reason or "not available")


def _gen0_count(cls: type) -> int:
    """GC-tracked objects of exactly ``cls`` in generation 0 (the dict that
    type_counts returns is dropped before this returns)."""
    return memviz.gc.type_counts(0).get(cls, 0)


def _collections() -> int:
    return sum(g.collections for g in memviz.gc.generations())


# --------------------------------------------------------------------------------------
# 1. References


def lesson_references(t: _Tour) -> None:
    t.say("""
        Every CPython object carries a reference count (ob_refcnt): how many references
        to it exist. memviz.refcount(obj) reads it, not counting the reference of the call
        itself. The classic example:
    """)
    problem = _available("refcount")
    if problem:
        t.unavailable("memviz.refcount", problem)
        return
    s = t.session()
    s.run("test_list = [1, 2, 3]")
    one = s.run("memviz.refcount(test_list)", "the name test_list")
    plus = s.run("sys.getrefcount(test_list)", "one more: its own argument")
    t.reading("references to test_list (memviz.refcount)", one)
    t.reading("sys.getrefcount(test_list)", plus, f"{signed(plus - one)}: the reference "
              "its argument holds while it runs")
    s.run("second_name = test_list")
    two = s.run("memviz.refcount(test_list)")
    s.run("holder = {'key': test_list}", "a container's reference counts too")
    three = s.run("memviz.refcount(test_list)")
    s.run("del second_name, holder")
    back = s.run("memviz.refcount(test_list)")
    t.reading("after a second name, a dict, then del", f"{one} -> {two} -> {three} -> {back}")
    t.say("""
        Inside a function the argument of a call may be passed differently. From 3.14 on,
        CPython can lend a local variable to a call without a new reference (a borrowed
        stack reference, LOAD_FAST_BORROW), and then sys.getrefcount's famous +1 is
        gone. memviz.refcount looks at how the call received its argument, so it says 1
        either way:
    """)
    s.run("""
        def inside_a_function():
            local = [1, 2, 3]
            return sys.getrefcount(local), memviz.refcount(local)
    """)
    in_function = s.run("inside_a_function()")
    if isinstance(in_function, tuple):
        extra = in_function[0] - in_function[1]
        t.reading("sys.getrefcount - memviz.refcount inside a function", extra,
                  "the call held its own reference" if extra == 1 else
                  "the call borrowed the local's reference: no +1")
    t.say("""
        When a count reaches zero the object is freed at once -- no collector involved --
        and so are the objects only it referred to: a destruction cascade. Three nodes in
        a chain, each watched by a weakref whose callback prints when its node goes
        (the collector is disabled here, to show that nothing but reference counting is
        at work):
    """)
    with _collector_restored():
        s.run("""
            class Node:
                def __init__(self, name, next=None):
                    self.name, self.next = name, next
        """)
        s.run("head = Node('first', Node('second', Node('third')))")
        s.run("memviz.refcount(head), memviz.refcount(head.next), memviz.refcount(head.next.next)",
              "one each")
        s.run("""
            def farewell(name):
                return lambda ref: print(f"freed: {name}")
        """)
        s.run("watchers = [weakref.ref(node, farewell(node.name)) "
              "for node in (head, head.next, head.next.next)]")
        gc.disable()
        collections = _collections()
        s.run("del head", "the head's count drops to 0 ...")
        ran = _collections() - collections
        s.run("[watcher() for watcher in watchers]", "... and the chain is gone")
    t.reading("collections during the cascade", ran, "reference counting alone freed it")
    if sys.version_info >= (3, 12):
        t.say("""
            Some objects never die: since 3.12 (PEP 683) None, True, small ints and many
            more are immortal -- their stored count is a huge constant that increments and
            decrements leave alone.
        """)
        s.run("memviz.is_immortal(None), memviz.refcount(None)")


# --------------------------------------------------------------------------------------
# 2. Cycles


def lesson_cycles(t: _Tour) -> None:
    t.say("""
        Reference counting cannot free a cycle: each object in it is referred to by
        another, so no count reaches zero even when nothing outside refers to them. The
        cyclic garbage collector (the gc module) finds such groups. First a collection, so
        that what the next one finds is ours alone; then, with the collector disabled, a
        list that contains itself and two dicts that refer to each other:
    """)
    problem = _available("gc")
    if problem:
        t.unavailable("memviz.gc", problem)
        return
    s = t.session()
    with _collector_restored():
        gc.collect()
        gc.disable()
        lists, dicts = _gen0_count(list), _gen0_count(dict)
        s.run("loop = []")
        s.run("loop.append(loop)", "a list that contains itself")
        s.run("memviz.refcount(loop)", "the name, and its own item")
        s.run("left, right = {}, {}")
        s.run("left['other'] = right; right['other'] = left")
        s.run("memviz.refcount(left), memviz.refcount(right)")
        s.run("memviz.gc.generation_of(loop), memviz.gc.generation_of(left)",
              "new: generation 0")
        s.run("del loop, left, right", "no name refers to them any more ...")
        lists_kept, dicts_kept = _gen0_count(list) - lists, _gen0_count(dict) - dicts
        t.say("""
            ... yet each still has a count of 1, from inside its cycle, and they are still
            on generation 0's list (memviz.gc.type_counts(0), before and after):
        """)
        t.reading("lists in generation 0 after del", signed(lists_kept))
        t.reading("dicts in generation 0 after del", signed(dicts_kept))
        found = s.run("gc.collect()", "the collector finds the unreachable cycles")
        t.reading("gc.collect() found", found, "unreachable objects")
        t.reading("lists in generation 0 after the collection",
                  signed(_gen0_count(list) - lists))
        t.reading("dicts in generation 0 after the collection",
                  signed(_gen0_count(dict) - dicts))

        t.say("""
            Automatic collection is what gc.disable() turns off: cycles then pile up
            until gc.collect() or gc.enable(). Generation 0 is collected by itself once
            its count of new tracked objects passes its threshold. A gc.callbacks hook
            prints each collection as it happens:
        """)
        s.run("gc.isenabled()")
        s.run("for i in range(3): cell = []; cell.append(cell)", "three more cycles")
        s.run("del cell")
        s.run("gc.get_count()", "generation 0's count: tracked objects made (less those freed) "
              "since its last collection")
        seen: list[tuple[int, int]] = []

        def announce(phase, info):
            if phase == "stop":
                seen.append((info["generation"], info["collected"]))
                print(f"(the collector ran by itself: generation {info['generation']}, "
                      f"{info['collected']} collected)")

        gc.callbacks.append(announce)
        s.run("gc.enable()")
        s.run("junk = [[] for i in range(gc.get_threshold()[0] + 10)]",
              "more new containers than the threshold")
        gc.callbacks.remove(announce)
        s.run("del junk")
    t.reading("automatic collections after gc.enable()", len(seen),
              ", ".join(f"generation {g}: {n} collected" for g, n in seen) or "none")


# --------------------------------------------------------------------------------------
# 3. Generations


def lesson_generations(t: _Tour) -> None:
    t.say("""
        The collector sorts tracked objects by age into three generations. New objects
        start in generation 0; a collection of a generation moves the survivors one
        generation up. Young objects die young, so generation 0 is collected often and
        generation 2 rarely: generation 0 when its count (tracked objects made, less
        those freed, since its last collection) passes threshold 0, generation 1 after
        threshold 1 collections of generation 0, generation 2 after threshold 2
        collections of generation 1 -- and only once the objects that survived into it
        since its last collection are a quarter of those it holds.
    """)
    problem = _available("gc")
    if problem:
        t.unavailable("memviz.gc", problem)
        return
    s = t.session()
    with _collector_restored():
        s.run("gc.get_threshold()")
        s.run("gc.get_count()")
        generations = memviz.gc.generations()
        t.table(("generation", "objects", "count", "threshold", "collections", "collected"),
                [(g.index, f"{g.objects:,}", f"{g.count:,}", f"{g.threshold:,}",
                  f"{g.collections:,}", f"{g.collected:,}") for g in generations])
        t.say("""
            (memviz.gc.generations(): 'objects' is the length of each generation's list,
            counted in C; the others are gc.get_count(), gc.get_threshold() and
            gc.get_stats().) Now a survivor, followed up the generations with the
            collector disabled, so only our collections run:
        """)
        gc.disable()
        s.run("survivor = ['still here']")
        path = [s.run("memviz.gc.generation_of(survivor)")]
        s.run("gc.collect(0)", "collects generation 0: survivors move to 1")
        path.append(s.run("memviz.gc.generation_of(survivor)"))
        young = memviz.gc.generations()[0].objects
        s.run("gc.collect(1)", "collects 0 and 1: survivors move to 2")
        path.append(s.run("memviz.gc.generation_of(survivor)"))
        s.run("gc.collect()", "a full collection: generation 2 stays 2")
        path.append(s.run("memviz.gc.generation_of(survivor)"))
        t.reading("survivor's generation (new, after collect(0), collect(1), collect())",
                  " -> ".join(str(p) for p in path))
        t.reading("objects in generation 0 right after collect(0)", f"{young:,}",
                  "only what was made since")
        t.say("""
            gc.freeze() moves every tracked object into a permanent generation that
            collections ignore (for servers that fork: children then do not touch those
            objects' memory); gc.unfreeze() puts them back into the oldest generation.
        """)
        try:
            s.run("gc.freeze()")
            frozen = s.run("memviz.gc.generation_of(survivor)")
            s.run("memviz.gc.permanent() == gc.get_freeze_count()")
        finally:
            gc.unfreeze()
        s.run("gc.unfreeze()")
        thawed = s.run("memviz.gc.generation_of(survivor)")
        t.reading("survivor's generation (frozen, unfrozen)", f"{frozen!r} -> {thawed!r}")


# --------------------------------------------------------------------------------------
# 4. pymalloc

#: What the classic tutorials describe (CPython before 3.8 on 64-bit builds) next to this
#: interpreter's layout: (what, classic value, this interpreter's value, changed in).
_CLASSIC = (
    ("alignment", "8 B", lambda lay: f"{lay.alignment} B", "3.8 [1]"),
    ("size classes", "64 (8 .. 512 B)",
     lambda lay: f"{len(lay.block_sizes)} ({lay.block_sizes[0]} .. {lay.block_sizes[-1]} B)",
     "3.8 [1]"),
    ("largest small request", "512 B", lambda lay: f"{lay.small_request_threshold} B", "-"),
    ("pool size", "4 KiB", lambda lay: _kib(lay.pool_size), "3.10 [2]"),
    ("arena size", "256 KiB", lambda lay: _kib(lay.arena_size), "3.10 [2]"),
    ("pools per arena", "64", lambda lay: f"{lay.pools_per_arena}", "-"),
)
_CLASSIC_NOTES = (
    "[1] bpo-27987: 16-byte alignment on 64-bit builds, as the x86-64 ABI expects of "
    "malloc (backported to 3.7.4); 512 / 16 = 32 size classes.",
    "[2] bpo-37448: a radix tree now records which memory belongs to pymalloc's arenas, "
    "so pools no longer have to be one OS page: 16 KiB pools, 1 MiB arenas (64-bit "
    "builds).",
)


def _kib(n: int) -> str:
    return f"{n // 2**20} MiB" if n >= 2**20 and n % 2**20 == 0 else f"{n // 1024} KiB"


def lesson_pymalloc(t: _Tour) -> None:
    t.say("""
        Most objects are small, and CPython allocates them with its own allocator,
        pymalloc: a request of up to 512 bytes is rounded up to a multiple of the
        alignment (its size class) and served from a pool, a run of blocks of that one
        size; pools are carved out of arenas, large blocks of memory taken from the
        system. Many tutorials give 8-byte classes, 4 KiB pools and 256 KiB arenas: true
        once, not any more on 64-bit builds. This interpreter, as compiled:
    """)
    try:
        layout = memviz.pymalloc.layout()
    except MemvizError as error:
        t.unavailable("memviz.pymalloc.layout", error)
        return
    t.table(("pymalloc", "classic tutorials", f"this CPython {_version()}", "changed in"),
            [(what, classic, now(layout), changed) for what, classic, now, changed in _CLASSIC])
    t.write()
    for note in _CLASSIC_NOTES:
        t.write(textwrap.fill(note, t.width, initial_indent="    ", subsequent_indent="        "))
    t.reading("alignment", layout.alignment)
    t.reading("size classes", len(layout.block_sizes))
    t.reading("pool size", layout.pool_size)
    t.reading("arena size", layout.arena_size)
    problem = _available("pymalloc.locate")
    if problem:
        t.say("""
            The constants above are compiled in; but here pymalloc does not serve the
            objects, so there is nothing of it to read:
        """)
        t.unavailable("pymalloc readings", problem)
        return

    try:
        stats = memviz.pymalloc.stats()
    except MemvizError as error:
        t.unavailable("memviz.pymalloc.stats", error)
        return
    t.say(f"""
        This process's pymalloc right now: {stats.arenas_current:,} arenas
        ({stats.arena_bytes / 2**20:.1f} MiB), {stats.blocks_in_use:,} blocks in use. (To
        see them all: python -m memviz for tables, memviz.arenamap.render_text() for a
        map, python -m memviz report -o report.html for a page.)
    """)
    t.say("""
        Where some objects live: sys.getsizeof(obj) is the request (with the collector's
        header for tracked objects), the size class is (request - 1) // alignment, and
        memviz.pymalloc.locate(obj) finds the block, pool and arena that hold the
        object. The block of a tracked object (a tuple, a list) starts 16 bytes before the
        object: the collector's header is there.
    """)
    if memviz.pymalloc.allocator().startswith("pymalloc_debug"):
        word = (sys.maxsize.bit_length() + 1) // 8
        t.say(f"""
            Debug hooks are on here (allocator 'pymalloc_debug': PYTHONMALLOC=debug or
            -X dev). They add {3 * word} bytes to every request -- {2 * word} in front of
            the object (its size, guard bytes) and {word} after it -- so below, each
            block is a class or two larger than sys.getsizeof says, and each object
            starts {2 * word} bytes further into its block.
        """)
    samples: tuple[tuple[str, object], ...] = (("float('1.5')", float("1.5")), ("'memviz' * 5", "memviz" * 5),
               ("tuple([1, 2, 3])", tuple([1, 2, 3])), ("[]", []),
               ("bytes(200)", bytes(200)), ("bytes(500)", bytes(500)))
    rows: list[tuple[object, ...]] = []
    for label, obj in samples:
        block = memviz.pymalloc.locate(obj)
        size = sys.getsizeof(obj)
        if block is None:
            rows.append((label, size, "-", "-", "-", "-", "not in pymalloc: over 512 bytes"))
        else:
            rows.append((label, size, block.size_class, block.block_size,
                         f"{block.pool_address:#x}", block.object_offset, ""))
    t.table(("object", "getsizeof", "class", "block", "pool", "offset", ""), rows)

    t.say("""
        A request over 512 bytes goes to the C library's malloc; pymalloc counts those
        (raw_blocks in memviz.pymalloc.stats()), and locate() finds no block:
    """)
    s = t.session()
    s.run("""
        def raw_requests(size):
            before = memviz.pymalloc.stats().raw_blocks
            obj = bytes(size)
            after = memviz.pymalloc.stats().raw_blocks
            return after - before, memviz.pymalloc.locate(obj)
    """)
    large = s.run("raw_requests(1000)", "sys.getsizeof: 1,033 bytes")
    small = s.run("raw_requests(300)", "333 bytes: a pymalloc block")
    if isinstance(large, tuple) and isinstance(small, tuple):
        t.reading("raw_blocks for a 1,033-byte object", signed(large[0]),
                  "locate: " + ("no block" if large[1] is None else "a block"))
        t.reading("raw_blocks for a 333-byte object", signed(small[0]),
                  "locate: " + ("no block" if small[1] is None else
                                f"class {small[1].size_class}"))

    t.say("""
        A freed block goes to the front of its pool's free list, and the next request of
        the same size class takes it: the new object lands at the old one's address.
    """)
    s.run("""
        def reuse(size):
            first, keep = bytes(size), bytes(size)   # two blocks of one size class
            before = memviz.pymalloc.locate(first)
            del first                                # its block goes back to the pool
            second = bytes(size)                     # the next request of that size
            return before, memviz.pymalloc.locate(second)
    """)
    s.run("before, after = reuse(300)")
    s.run("hex(before.block_address), hex(after.block_address)")
    same = s.run("after.block_address == before.block_address")
    t.reading("freed block reused", same)


def _version() -> str:
    return ".".join(str(n) for n in sys.version_info[:3])


# --------------------------------------------------------------------------------------
# 5. Threads and the GIL


def lesson_threads(t: _Tour) -> None:
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
    problem = _available("pymalloc.stats")
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


# --------------------------------------------------------------------------------------
# 6. Processes


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


def lesson_processes(t: _Tour) -> None:
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


# --------------------------------------------------------------------------------------
# The steps


@dataclass(frozen=True)
class Step:
    name: str
    title: str
    summary: str
    run: Callable[[_Tour], None]


STEPS: tuple[Step, ...] = (
    Step("references", "References",
         "refcounts of a list and its names; sys.getrefcount's +1; a destruction cascade",
         lesson_references),
    Step("cycles", "Cycles",
         "a self-referencing list and two dicts outlive del until gc.collect()",
         lesson_cycles),
    Step("generations", "Generations",
         "thresholds and counts; a survivor promoted from generation 0 to 1 to 2",
         lesson_generations),
    Step("pymalloc", "pymalloc",
         "alignment, size classes, pools, arenas then and now; blocks located and reused",
         lesson_pymalloc),
    Step("threads", "Threads and the GIL",
         "a lost update and its lock, a BoundedSemaphore, a Queue of workers",
         lesson_threads),
    Step("processes", "Processes",
         "each process has its own heap: snapshots through a Pipe and a Queue",
         lesson_processes),
)


def _heading(t: _Tour, number: int, step: Step) -> None:
    title = f"Step {number} of {len(STEPS)}: {step.title}"
    t.write()
    t.write(title)
    t.write("=" * len(title))


def run(steps: Sequence[int] | None = None, *, pause: bool = False,
        out: TextIO | None = None) -> int:
    """Runs the tour's steps (1-based numbers; all by default), pausing for Enter
    between steps when ``pause`` (``q`` or end of input there ends the tour). Returns
    the exit status: 0."""
    out = sys.stdout if out is None else out
    t = _Tour(out)
    numbers = list(range(1, len(STEPS) + 1)) if steps is None else list(steps)
    if steps is None:
        t.write(f"memviz tour: {memviz.capabilities().interpreter}, pid {os.getpid()}")
        t.say("""
            Six short lessons on how CPython manages memory, each run live in this
            interpreter. Code is shown as typed at >>> and run as shown; every number is
            what this interpreter just did.
        """)
    for position, number in enumerate(numbers):
        step = STEPS[number - 1]
        _heading(t, number, step)
        with contextlib.redirect_stdout(out) if out is not sys.stdout else \
                contextlib.nullcontext():
            step.run(t)
        if pause and position < len(numbers) - 1:
            try:
                answer = input("\n  [Enter] next step, [q] quit: ")
            except EOFError:
                answer = "q"
            if answer.strip().lower().startswith("q"):
                break
    t.write()
    return 0


# --------------------------------------------------------------------------------------
# The command line (memviz.cli.tour registers it)


def _step_number(text: str) -> int:
    try:
        number = int(text)
    except ValueError:
        number = None
    if number is None:
        names = [step.name for step in STEPS]
        if text in names:
            return names.index(text) + 1
        raise argparse.ArgumentTypeError(
            f"expected a step number 1-{len(STEPS)} or a name ({', '.join(names)}), "
            f"got {text!r}")
    if not 1 <= number <= len(STEPS):
        raise argparse.ArgumentTypeError(f"no step {number}: the steps are 1-{len(STEPS)}")
    return number


def configure_parser(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--step", type=_step_number, action="append", metavar="N",
                        help=f"run only step N (1-{len(STEPS)} or its name; repeatable)")
    parser.add_argument("--list", action="store_true", help="list the steps and exit")
    parser.add_argument("--no-pause", action="store_true",
                        help="do not wait for Enter between steps (the default waits "
                             "when standard input is a terminal)")


def main(args: argparse.Namespace) -> int:
    if args.list:
        width = max(len(step.name) for step in STEPS)
        for number, step in enumerate(STEPS, 1):
            print(f"{number}. {step.name.ljust(width)}  {step.summary}")
        return 0
    pause = not args.no_pause and _interactive()
    return run(args.step, pause=pause)


def _interactive() -> bool:
    try:
        return sys.stdin is not None and sys.stdin.isatty()
    except (AttributeError, ValueError):
        return False
