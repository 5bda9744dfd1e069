"""memviz.arenamap against the arena readings it draws.

Every picture is drawn from one reading of ``memviz.pymalloc.arenas()`` (or a snapshot's
stored map), and checked cell by cell against that reading: one SVG ``rect.pool`` per
pool read, at the slot its address gives, coloured by its ``blocks_in_use / capacity``;
the terminal text likewise, in plain glyphs and in ANSI colours. Fragmentation (sparse
arenas) is produced for real in a child interpreter and compared with
``Snapshot.fragmentation()``.
"""
from __future__ import annotations

import io
import math
import re
import xml.etree.ElementTree as ET

import pytest

import memviz

from memviz import arenamap
from memviz import pymalloc as pm
from memviz.arenamap import FILL_COLORS, FILL_GLYPHS, arena_map, render_svg, render_text

from support.capabilities import needs, needs_allocator_choice

SVG = "{http://www.w3.org/2000/svg}"
ANSI = re.compile(r"\x1b\[[0-9;]*m")


@pytest.fixture
def arenas(gc_disabled):
    """One reading of the arenas, with a little of everything in it."""
    keep = [[i] for i in range(2000)] + [str(i) * 3 for i in range(2000)]
    reading = pm.arenas()
    del keep
    assert reading, "a running interpreter has arenas"
    return reading


# -- independent expectations ---------------------------------------------------------


def slots_of(arena, pool_size: int) -> dict[int, object]:
    """slot -> pool: pools start at the arena's first pool-aligned address."""
    first = math.ceil(arena.address / pool_size) * pool_size
    slots = {}
    for pool in arena.pools:
        slot, rest = divmod(pool.address - first, pool_size)
        assert rest == 0 and 0 <= slot < arena.pools_total
        slots[slot] = pool
    return slots


def eighth(pool) -> int:
    return math.ceil(8 * pool.blocks_in_use / pool.capacity) - 1


def hue(pool) -> int:
    return round(120 * pool.blocks_in_use / pool.capacity)


def mark(size_class: int) -> str:
    return "0123456789abcdefghijklmnopqrstuvwxyz"[size_class]


def arena_rows(text: str, arenas) -> dict[int, list[str]]:
    """index -> the lines of that arena's row (first line starts with '#index')."""
    rows: dict[int, list[str]] = {}
    current = None
    indexes = {a.index for a in arenas}
    for line in text.splitlines():
        match = re.match(r"#(\d+)\s", ANSI.sub("", line))
        if match and int(match.group(1)) in indexes:
            current = int(match.group(1))
            rows[current] = [line]
        elif current is not None and line.startswith(" "):
            rows[current].append(line)
        else:
            current = None
    return rows


# -- SVG ----------------------------------------------------------------------------


@needs("pymalloc.arenas")
def test_svg_has_one_cell_per_pool_coloured_by_fill(arenas):
    pool_size = pm.layout().pool_size
    root = ET.fromstring(render_svg(arenas))
    cells = root.findall(f".//{SVG}rect[@class='pool']")
    free = root.findall(f".//{SVG}rect[@class='free']")
    assert len(cells) == sum(len(a.pools) for a in arenas)
    assert len(free) == sum(a.pools_total - len(a.pools) for a in arenas)
    by_address = {p.address: p for a in arenas for p in a.pools}
    for cell in cells:
        title = cell.find(f"{SVG}title").text
        address = int(re.match(r"pool (0x[0-9a-f]+):", title).group(1), 16)
        pool = by_address.pop(address)
        assert cell.get("fill") == f"hsl({hue(pool)}, 70%, 50%)"
        assert f"{pool.blocks_in_use} of {pool.capacity} blocks in use" in title
        assert f"size class {pool.size_class} ({pool.block_size}-byte blocks)" in title
    assert not by_address
    # cells sit at their slot, row by row
    rows = root.findall(f".//{SVG}g[@class='arena']")
    assert [int(g.get("data-index")) for g in rows] == [a.index for a in arenas]
    for group, arena in zip(rows, arenas):
        rects = group.findall(f"{SVG}rect")
        assert len(rects) == arena.pools_total
        xs = [float(r.get("x")) for r in rects]
        assert xs == sorted(xs)
        for slot, pool in slots_of(arena, pool_size).items():
            assert rects[slot].get("class") == "pool"
            assert f"{pool.address:#x}" in rects[slot].find(f"{SVG}title").text


@needs("pymalloc.arenas")
def test_svg_is_standalone(arenas):
    text = render_svg(arenas)
    assert text.startswith("<?xml")
    root = ET.fromstring(text)
    assert root.tag == f"{SVG}svg"
    assert root.find(f"{SVG}title") is not None
    assert "href" not in text and "url(" not in text and "<image" not in text
    assert text.count("http") == 1         # the SVG namespace, nothing to fetch
    for cell in root.iter(f"{SVG}rect"):
        if cell.get("class") in ("pool", "free"):
            assert cell.find(f"{SVG}title") is not None


# -- text ---------------------------------------------------------------------------


@needs("pymalloc.arenas")
def test_plain_text_cells_follow_fill_and_size_class(arenas):
    pool_size = pm.layout().pool_size
    text = render_text(arenas, color=False, width=200)
    assert "\x1b" not in text
    rows = arena_rows(text, arenas)
    assert sorted(rows) == sorted(a.index for a in arenas)
    label = max(len(f"#{a.index}") for a in arenas) + 2
    for arena in arenas:
        fills_line, marks_line = rows[arena.index]
        fills = fills_line[label:label + arena.pools_total]
        marks = marks_line[label:label + arena.pools_total]
        slots = slots_of(arena, pool_size)
        for slot in range(arena.pools_total):
            pool = slots.get(slot)
            if pool is None:
                assert fills[slot] == marks[slot] == "·"
            else:
                assert fills[slot] == FILL_GLYPHS[eighth(pool)]
                assert marks[slot] == mark(pool.size_class)
        assert f"{len(arena.pools)}/{arena.pools_total}" in fills_line[label + arena.pools_total:]


@needs("pymalloc.arenas")
def test_color_text_cells_follow_fill(arenas):
    pool_size = pm.layout().pool_size
    text = render_text(arenas, color=True, width=200)
    rows = arena_rows(text, arenas)
    for arena in arenas:
        (line,) = rows[arena.index]
        cells = []
        state = None
        for token in re.split(r"(\x1b\[[0-9;]*m)", line):
            if token.startswith("\x1b"):
                codes = token[2:-1]
                found = re.fullmatch(r"0;48;5;(\d+);38;5;16", codes)
                state = int(found.group(1)) if found else ("free" if "245" in codes else None)
            elif state is not None:
                cells.extend((state, ch) for ch in token)
        assert len(cells) == arena.pools_total
        slots = slots_of(arena, pool_size)
        for slot, (colour, glyph) in enumerate(cells):
            pool = slots.get(slot)
            if pool is None:
                assert (colour, glyph) == ("free", "·")
            else:
                assert colour == FILL_COLORS[eighth(pool)]
                assert glyph == mark(pool.size_class)


class _Tty(io.StringIO):
    def isatty(self):
        return True


@needs("pymalloc.arenas")
def test_colour_is_decided_by_stream_and_environment(arenas, monkeypatch):
    monkeypatch.delenv("NO_COLOR", raising=False)
    monkeypatch.delenv("FORCE_COLOR", raising=False)
    assert "\x1b[" not in render_text(arenas, stream=io.StringIO())
    assert "\x1b[" in render_text(arenas, stream=_Tty())
    monkeypatch.setenv("NO_COLOR", "1")
    assert "\x1b[" not in render_text(arenas, stream=_Tty())
    assert "\x1b[" in render_text(arenas, stream=_Tty(), color=True)     # forced
    monkeypatch.delenv("NO_COLOR")
    monkeypatch.setenv("FORCE_COLOR", "1")
    assert "\x1b[" in render_text(arenas, stream=io.StringIO())
    assert "\x1b[" not in render_text(arenas, stream=io.StringIO(), color=False)


@needs("pymalloc.arenas")
@pytest.mark.parametrize("color", [False, True])
def test_narrow_width_wraps_without_losing_cells(arenas, color):
    wide = render_text(arenas, color=color, width=300)
    narrow = render_text(arenas, color=color, width=60)
    assert all(len(ANSI.sub("", line)) <= 60 for line in narrow.splitlines())
    label = max(len(f"#{a.index}") for a in arenas) + 2

    def cells(text):
        """Each arena's cells (both lines in plain text), across wrapped lines."""
        found = {}
        for index, lines in arena_rows(text, arenas).items():
            grid = [ANSI.sub("", line)[label:].split("  ")[0] for line in lines]
            found[index] = grid
        return found

    for index, grid in cells(narrow).items():
        full = cells(wide)[index]
        step = 1 if color else 2
        for offset in range(step):      # plain: fill lines and mark lines alternate
            assert "".join(grid[offset::step]) == "".join(full[offset::step])


# -- where the map comes from -------------------------------------------------------


@needs("pymalloc.arenas")
def test_value_renders_itself(arenas):
    amap = arena_map(arenas)
    assert amap.pools_read == sum(len(a.pools) for a in arenas)
    assert amap.blocks_in_use == sum(p.blocks_in_use for a in arenas for p in a.pools)
    assert render_svg(amap) == render_svg(arenas) == amap.svg()
    assert str(amap) == render_text(arenas, color=False)
    html = amap._repr_html_()
    root = ET.fromstring(html)
    assert len(root.findall(f".//{SVG}rect[@class='pool']")) == amap.pools_read

    class Printer:
        parts: list = []

        def text(self, value):
            self.parts.append(value)

    printer = Printer()
    amap._repr_pretty_(printer, False)
    assert printer.parts[0].startswith("pymalloc arena map")


@needs("pymalloc.arenas")
def test_live_map_reads_pymalloc_now(gc_disabled):
    amap = arena_map()
    assert amap.arenas is not None and amap.reason is None
    assert amap.source == "this process, now"
    root = ET.fromstring(amap.svg())
    assert len(root.findall(f".//{SVG}rect[@class='pool']")) == amap.pools_read


@needs("pymalloc.arenas")
def test_snapshot_map(gc_disabled):
    snap = memviz.snapshot()
    amap = arena_map(snap)
    stored = snap.arenas
    assert [a.address for a in amap.arenas] == [a.address for a in stored]
    assert amap.pools_read == sum(len(a.pools) for a in stored)
    assert "snapshot of pid" in amap.source
    root = ET.fromstring(render_svg(snap))
    assert len(root.findall(f".//{SVG}rect[@class='pool']")) == amap.pools_read
    assert snap.layout.pool_size == amap.pool_size and snap.layout.arena_size == amap.arena_size
    loaded = memviz.Snapshot.from_json(snap.to_json())
    assert render_svg(loaded) == render_svg(snap)


def test_empty_map_says_so():
    text = render_text((), color=False)
    assert "pymalloc has no arenas" in text
    root = ET.fromstring(render_svg(()))
    assert root.findall(f".//{SVG}rect[@class='pool']") == []
    assert "no arenas" in root.find(f"{SVG}title").text


@needs_allocator_choice
def test_unavailable_map_says_why(child_python):
    result = child_python(
        """
        import json, memviz
        from memviz import arenamap
        snap = memviz.snapshot()
        print(json.dumps({"text": arenamap.render_text(), "svg": arenamap.render_svg(),
                          "snapshot": snap.to_json()}))
        """,
        env={"PYTHONMALLOC": "malloc"},
    )
    facts = result.json()
    assert facts["text"].startswith("no pymalloc arena map (this process, now)")
    assert "not the object allocator" in " ".join(facts["text"].split())
    title = ET.fromstring(facts["svg"]).find(f"{SVG}title").text
    assert "not the object allocator" in title
    snap = memviz.Snapshot.from_json(facts["snapshot"])
    assert snap.arenas is None
    text = " ".join(render_text(snap).split())
    assert "the snapshot has no arena map" in text and "malloc" in text


def test_other_values_are_refused():
    with pytest.raises(TypeError):
        arena_map([1, 2, 3])


# -- fragmentation --------------------------------------------------------------------


@needs("pymalloc.arenas")
def test_fragmentation_is_visible(child_python):
    result = child_python(
        """
        import gc, json, memviz
        from memviz import arenamap
        gc.disable()
        junk = [float(i) for i in range(300_000)]   # 32-byte blocks: about 9 arenas
        keep = junk[::400]                          # one in 400 survives
        del junk
        snap = memviz.snapshot()
        amap = arenamap.arena_map(snap)
        arena_size = snap.layout.arena_size
        independent = sum(
            1 for a in snap.arenas
            if a.pools and sum(p.blocks_in_use * p.block_size for p in a.pools)
            < 0.25 * arena_size
        )
        empty = sum(1 for a in snap.arenas if not a.pools)
        print(json.dumps({
            "sparse": amap.sparse_arenas, "independent": independent, "empty": empty,
            "snapshot_sparse": snap.fragmentation().sparse_arenas,
            "text": amap.text(color=False, width=200), "arenas": len(snap.arenas),
        }))
        """
    )
    facts = result.json()
    assert facts["sparse"] == facts["independent"] >= 1
    assert facts["snapshot_sparse"] == facts["sparse"]   # one rule: memviz.snapshot.is_sparse
    assert facts["text"].count("◀ sparse") == facts["sparse"]
    assert f"sparse arenas: {facts['sparse']} of {facts['arenas']}" in facts["text"]


@needs("pymalloc.arenas")
def test_the_snapshot_and_the_map_agree_on_sparse_arenas():
    """One rule of a sparse arena, whoever counts: on a snapshot with a full, a sparse
    and an empty arena (built by hand, so each kind is there on every version), the
    snapshot's fragmentation and the arena map name the same sparse arena, and both
    leave the empty one (no pool in use: pymalloc's reserve) out of it."""
    document = memviz.snapshot().to_dict()
    layout = document["pymalloc"]["layout"]
    pool_size, arena_size = layout["pool_size"], layout["arena_size"]
    pools = arena_size // pool_size
    capacity = (pool_size - layout["pool_overhead"]) // 16

    def arena(index, blocks_per_pool):
        base = (index + 1) * 64 * arena_size
        rows = [[base + i * pool_size, 0, 16, used, capacity]
                for i, used in enumerate(blocks_per_pool)]
        return {"address": base, "index": index, "pools_total": pools,
                "pools_free": pools - len(rows), "pools": rows}

    document["pymalloc"]["arenas"] = [
        arena(0, [capacity] * pools),   # full
        arena(1, [3]),                  # sparse: 48 bytes of live blocks
        arena(2, []),                   # empty
    ]
    snap = memviz.Snapshot.from_dict(document)
    frag, amap = snap.fragmentation(), arena_map(snap)
    assert (frag.arenas, frag.sparse_arenas, frag.empty_arenas) == (3, 1, 1)
    assert [row.sparse for row in amap.rows] == [False, True, False]
    assert amap.sparse_arenas == frag.sparse_arenas
    assert frag.sparse_live_bytes == 48 and frag.sparse_blocks == 3
    assert frag.histogram == (1, 0, 0, 1)   # the empty arena is in no quarter
    assert frag.sparse_arenas == frag.histogram[0]
    text = snap.report()
    assert "  1 arena is less than 25% used: it holds " in text
    assert "  1 arena is empty, no pool in use: pymalloc's reserve" in text


def test_fill_boundaries_on_a_given_map():
    """The documented mappings at their edges, on arenas given as values (an earlier
    reading, or one built by hand as here): 1/8 full is the lowest glyph and colour,
    just over it the next, a full pool the top; hues run 0 (empty) to 120 (full)."""
    pool_size, capacity = 16384, 1021
    base = 64 * pool_size                       # pool-aligned: 64 pools
    fills = [1, capacity // 8 + 1, capacity // 2, capacity - 1, capacity]
    pools = tuple(
        pm.Pool(base + slot * pool_size, 0, 16, used, capacity)
        for slot, used in zip((0, 2, 3, 5, 63), fills)
    )
    arena = pm.Arena(base, 0, 64, 64 - len(pools), pools=pools)
    amap = arena_map((arena,), pool_size=pool_size, arena_size=64 * pool_size)
    (row,) = amap.rows
    assert [i for i, cell in enumerate(row.cells) if cell is not None] == [0, 2, 3, 5, 63]
    text = amap.text(color=False, width=200)
    fills_line = text.splitlines()[[l.startswith("#0") for l in text.splitlines()].index(True)]
    cells = fills_line[4:4 + 64]
    assert cells[0] == FILL_GLYPHS[0]                     # 1 block
    assert cells[2] == FILL_GLYPHS[1]                     # just over 1/8
    assert cells[3] == FILL_GLYPHS[3]                     # 510/1021: just under 1/2
    assert cells[5] == cells[63] == FILL_GLYPHS[7]        # over 7/8, and full
    assert cells[1] == cells[4] == "·"
    exact = pm.Pool(base, 0, 16, 1, 8)                    # exactly 1/8
    assert arenamap.fill_eighth(exact.blocks_in_use / exact.capacity) == 0
    assert arenamap.fill_eighth(4 / 8) == 3 and arenamap.fill_eighth(5 / 8) == 4
    svg = ET.fromstring(amap.svg())
    hues = [c.get("fill") for c in svg.findall(f".//{SVG}rect[@class='pool']")]
    assert hues[0] == "hsl(0, 70%, 50%)" and hues[-1] == "hsl(120, 70%, 50%)"
    assert amap.sparse_arenas == (1 if row.live_bytes < 0.25 * 64 * pool_size else 0)


def test_hue_at_an_exact_half_is_the_documented_one():
    """A 336-byte-class pool (48 blocks) with 25 in use is 62.5 on the hue scale exactly:
    round() makes that 62, as hue() above. Computed as 120 * (25 / 48) in floats it was
    62.50000000000001, so the SVG said 63 (seen as a rare failure of
    test_svg_has_one_cell_per_pool_coloured_by_fill when a live pool held 25 blocks)."""
    pool_size = 16384
    base = 64 * pool_size
    pools = tuple(pm.Pool(base + slot * pool_size, 20, 336, used, 48)
                  for slot, used in enumerate((25, 41, 47)))
    arena = pm.Arena(base, 0, 64, 64 - len(pools), pools=pools)
    svg = ET.fromstring(arena_map((arena,), pool_size=pool_size,
                                  arena_size=64 * pool_size).svg())
    fills = [c.get("fill") for c in svg.findall(f".//{SVG}rect[@class='pool']")]
    assert fills == [f"hsl({hue(pool)}, 70%, 50%)" for pool in pools]
    assert fills[0] == "hsl(62, 70%, 50%)"
