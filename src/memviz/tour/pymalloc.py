"""Step 4. pymalloc: the lesson (see ``memviz.tour``)."""
from __future__ import annotations

import sys
import textwrap

import memviz

from .._words import signed
from ._stage import Tour, available


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


def lesson_pymalloc(t: Tour) -> None:
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
    except memviz.MemvizError as error:
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
    problem = available("pymalloc.locate")
    if problem:
        t.say("""
            The constants above are compiled in; but here pymalloc does not serve the
            objects, so there is nothing of it to read:
        """)
        t.unavailable("pymalloc readings", problem)
        return

    try:
        stats = memviz.pymalloc.stats()
    except memviz.MemvizError as error:
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

    t.say("""
        pymalloc gives an arena back to the system only when every block in it is free.
        Make a large list of floats, keep one in 400, free the rest: the arenas stay,
        nearly empty (sparse, as the arena map marks them), and
        memviz.pymalloc.pinning() says what keeps each one -- the live objects in it, by
        type, and a path from a root to the largest (arena_pins() adds the blocks that
        hold no object memviz reaches):
    """)
    s.run("""
        junk = [float(i) for i in range(150_000)]
        keep = junk[::400]
        del junk
    """)
    s.run("""
        for pins in memviz.pymalloc.arena_pins():
            print(pins)
    """)
    pinned = s.run("sum(pin.count for pin in memviz.pymalloc.pinning() "
                   "if pin.name == 'builtins.float')")
    kept = s.run("len(keep)")
    t.reading("floats pinning the sparse arenas", pinned,
              f"of {kept} kept: the others lie in arenas fuller than sparse")


def _version() -> str:
    return ".".join(str(n) for n in sys.version_info[:3])
