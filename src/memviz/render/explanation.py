"""An explanation (``memviz.explain(obj)``) in words: one sentence per topic, as text and
as an HTML table. Reads nothing: every sentence is made of the explanation's fields.
"""
from __future__ import annotations

import textwrap
from html import escape
from typing import TYPE_CHECKING

if TYPE_CHECKING:   # the value's module imports this one to say itself
    from ..values.explanation import Explanation


def lines(e: Explanation) -> list[tuple[str, str]]:
    """The explanation as (topic, sentence) pairs: what ``str()`` and the HTML show."""
    return [
        ("references", _references_text(e)),
        ("immortal", _immortal_text(e)),
        ("collector", _collector_text(e)),
        ("memory", _memory_text(e)),
        ("size", _size_text(e)),
        ("allocated", _allocated_text(e)),
        ("reached", _reached_text(e)),
        ("path", _held_by_text(e)),
        ("retains", _retains_text(e)),
    ]


def text(e: Explanation, width: int = 88) -> str:
    """The sentences under the headline, each wrapped at ``width`` columns."""
    pairs = lines(e)
    label = max(len(topic) for topic, _ in pairs) + 4
    out = [e.headline()]
    for topic, sentence in pairs:
        out.append(textwrap.fill(
            sentence, width=max(width, label + 20), initial_indent=f"  {topic:<{label - 2}}",
            subsequent_indent=" " * label, break_on_hyphens=False,
            break_long_words=False,   # a file name in one piece, however long
        ))
    return "\n".join(out)


def html(e: Explanation) -> str:
    """The explanation as an HTML table (Jupyter)."""
    rows = "".join(
        "<tr><th style=\"text-align:left;vertical-align:top;padding-right:1em\">"
        f"{escape(topic)}</th><td style=\"text-align:left\">{escape(sentence)}</td></tr>"
        for topic, sentence in lines(e)
    )
    return (
        "<div class=\"memviz-explanation\">"
        f"<p><code>{escape(e.headline())}</code></p>"
        f"<table>{rows}</table></div>"
    )


def _alignment(block) -> int:
    """pymalloc's alignment, from one of its blocks: size class ``i`` serves blocks of
    ``(i + 1) * ALIGNMENT`` bytes (obmalloc.c's ``INDEX2SIZE``), 16 on 64-bit builds, 8
    on some 32-bit ones -- never written down here."""
    return block.block_size // (block.size_class + 1)


def _a(number: int) -> str:
    """The article before a number read out: 'an 80-byte block', 'a 64-byte block'."""
    digits = str(number)
    return "an" if digits.startswith("8") or digits in ("11", "18") else "a"


def _references_text(e: Explanation) -> str:
    if e.references is None:
        return f"not available: {e.reason('references')}"
    if e.immortal:
        return (f"not counted: the object is immortal, and {e.references:,} is the "
                "value its reference count field holds for good (see below)")
    count = e.references
    noun = "reference" if count == 1 else "references"
    text = f"{count:,} {noun} to it, not counting this call's own"
    if count >= 999_999_999 and e.python == (3, 11):
        text += (" (statically allocated objects start at 999,999,999 on 3.11, so that "
                 "the count never reaches zero)")
    if e.python < (3, 14):
        text += (f". sys.getrefcount(obj) says {count + 1:,}: it also counts the "
                 "reference its own argument holds while it runs")
    else:
        text += (f". sys.getrefcount(obj) says {count + 1:,} when its argument is a "
                 f"strong reference (a global, an attribute, a temporary) but {count:,} "
                 "for a local variable: since 3.14 the interpreter may pass a local to a "
                 "call as a borrowed reference (LOAD_FAST_BORROW), without counting it")
    return text


def _immortal_text(e: Explanation) -> str:
    if e.immortal is None:
        return f"not available: {e.reason('immortal')}"
    if e.python < (3, 12):
        if e.where == "static":
            return ("no (there are no immortal objects before 3.12), but being statically "
                    "allocated it is never freed, whatever its count")
        return ("no (there are no immortal objects before 3.12): the object is freed as "
                "soon as its count drops to zero")
    if e.immortal:
        return ("yes (PEP 683): its count is pinned, increments and decrements leave it "
                "alone, and it is never freed -- None, True, small ints, interned strings "
                "and built-in types are immortal")
    return ("no: the object is freed as soon as its count drops to zero (or by the "
            "collector, when only a cycle of garbage keeps it alive)")


def _collector_text(e: Explanation) -> str:
    if not e.gc_capable and e.is_type:
        return ("not tracked: a statically allocated type has no GC header, so the cyclic "
                "collector never looks at it (classes made at run time do have one)")
    if not e.gc_capable:
        text = ("not tracked: its type has no GC support (no GC header), so the cyclic "
                "collector never looks at it")
        if e.immortal or e.where == "static":
            return text
        return text + "; reference counting alone frees it"
    if e.tracked is None:
        return f"not available: {e.reason('tracked')}"
    if not e.tracked:
        return ("not tracked, although its type supports the collector: CPython leaves "
                "out containers that cannot be part of a cycle (a tuple or dict that "
                "holds only ints, strings and the like)")
    if e.generation is None:
        why = e.reason("generation")
        return "tracked; generation " + (f"not available: {why}" if why else "unknown")
    names = {
        0: "generation 0, the youngest: it has not survived a collection yet",
        1: "generation 1: it survived one collection of generation 0",
        2: "generation 2, the oldest: it survived collections of the younger ones",
        3: ("the permanent generation: frozen by gc.freeze() (3.12/3.13 also move objects "
            "there that became immortal), never collected"),
    }
    return "tracked, in " + names.get(int(e.generation), f"generation {e.generation}")


def _memory_text(e: Explanation) -> str:
    threshold = e.small_request_threshold or 512
    if e.where == "pymalloc" and e.block is not None:
        block = e.block
        smallest = block.block_size - _alignment(block) + 1
        text = (f"{_a(block.block_size)} {block.block_size}-byte pymalloc block (size class {block.size_class}: "
                f"requests of {smallest}-{block.block_size} bytes) at "
                f"{block.block_address:#x}")
        offset = e.address - block.block_address
        guard = offset - e.header_size
        if guard > 0:
            text += (f", the object {offset} bytes into it (after the debug hooks' "
                     f"{guard}-byte prefix and its {e.header_size}-byte header)")
        elif offset:
            text += f", the object {offset} bytes into it (after its header)"
        pool = e.pool
        if pool is not None:
            share = pool.blocks_in_use / pool.capacity if pool.capacity else 0.0
            text += (f"; pool {pool.address:#x} holds {pool.blocks_in_use} of its "
                     f"{pool.capacity} blocks of {pool.block_size} bytes ({share:.0%} full)")
        else:
            text += f"; pool {block.pool_address:#x} (its fill: {e.reason('pool')})"
        arena = e.arena
        if arena is not None:
            used = arena.pools_total - arena.pools_free
            text += (f"; arena {arena.index} at {arena.address:#x} has {used} of its "
                     f"{arena.pools_total} pools in use")
        else:
            text += f"; arena {block.arena_address:#x}"
        return text
    if e.where == "static":
        return ("outside pymalloc: statically allocated, part of "
                f"{e.where_detail} since the program was loaded; never freed")
    if e.where == "large":
        return (f"outside pymalloc: too large for it ({e.where_detail}; pymalloc serves "
                f"requests of up to {threshold} bytes), so it came from the C library's "
                "malloc")
    if e.where == "malloc":
        return f"outside pymalloc: {e.where_detail}"
    return f"unknown: {e.where_detail}"


def _allocated_text(e: Explanation) -> str:
    if e.allocated_at is None:
        return f"not known: {e.reason('allocated')}"
    return f"at {e.allocated_at}, as tracemalloc recorded it"


def _size_text(e: Explanation) -> str:
    parts = []
    if e.getsizeof is not None and e.sizeof is not None:
        added = e.getsizeof - e.sizeof
        text = f"sys.getsizeof says {e.getsizeof:,} bytes: {e.sizeof:,} from __sizeof__"
        if added:
            if added == e.header_size:
                text += f" + {added} for the header in front of the object"
            elif e.header_size == 0:
                text += (f" + {added} for a GC header this object does not have "
                         "(statically allocated types have none)")
            else:
                text += f" + {added} of its {e.header_size}-byte header"
        elif e.header_size:
            text += f", without the {e.header_size}-byte header in front of the object"
        else:
            text = (f"sys.getsizeof says {e.getsizeof:,} bytes, all of them from "
                    "__sizeof__ (no header in front of the object)")
        parts.append(text)
    else:
        parts.append(f"sys.getsizeof not available: {e.reason('size')}")
    if e.header_size:
        what = f"{e.gc_header_bytes} bytes of GC header (PyGC_Head)" if e.gc_capable else ""
        extra = e.header_size - (e.gc_header_bytes if e.gc_capable else 0)
        if extra:
            what += (" + " if what else "") + f"{extra} bytes of __dict__/weakref pointers"
        parts.append(f"header: {what}")
    if e.block is not None and e.sizeof is not None:
        guard = e.address - e.block.block_address - e.header_size
        used = e.header_size + e.sizeof
        if guard > 0:
            parts.append(f"the block also holds the debug hooks' {guard}-byte prefix "
                         "and their guard bytes after the object")
        elif used > e.block.block_size:
            parts.append(f"__sizeof__ counts {used - e.block.block_size:,} bytes that "
                         "live elsewhere (separately allocated storage, e.g. a list's "
                         "items or a dict's table)")
        elif e.block.block_size - used >= _alignment(e.block):
            parts.append(f"the block has {e.block.block_size - used:,} bytes more than "
                         "header + __sizeof__: the type allocates more than __sizeof__ "
                         "reports")
    return "; ".join(parts)


def _reached_text(e: Explanation) -> str:
    reach = e.reached
    if reach is None:
        return f"the census could not walk: {e.reason('reached')}"
    if reach.root is None:
        return ("no root leads to it: nothing but this call (or C code, which the census "
                "cannot see) holds it")
    if reach.root == "a running frame" and reach.through_type == "function":
        return f"a running frame holds it: {reach.through}"
    if reach.through_type == "module's globals":
        through = f", through the globals of module {reach.through}"
    elif reach.through_type is not None:
        through = f", through a {reach.through_type} ({reach.through})"
    else:
        through = ""
    if reach.only_from_the_collector:
        start = "only from the collector's list" if reach.through_type else "a root only as"
        held = ("; no module, builtin, interned string or running frame leads to it: cyclic "
                "garbage, or held from C")
        where = reach.root.removeprefix("the collector's ")
        if reach.through_type is None:
            return f"{start} a tracked object of {where}{held}"
        return f"{start} of {where}{through}{held}"
    if reach.through_type is None:
        return f"it is {reach.root} itself (a root of the census)"
    return f"the census meets it from {reach.root}{through}"


def _held_by_text(e: Explanation) -> str:
    if e.held_by is None:
        return f"not known: {e.reason('held by')}"
    if e.held_by == "":
        return ("no path from a module, builtins, the sys dict or a running frame: cyclic "
                "garbage, or held only from C (or by this call)")
    return e.held_by


def _retains_text(e: Explanation) -> str:
    if e.retains is None:
        return f"not known: {e.reason('retains')}"
    if e.retains == 0:
        return "nothing a root leads to only through it: releasing it frees no reachable object"
    return (f"{e.retains:,} bytes: releasing it would free itself and every object the roots "
            f"reach only through it")
