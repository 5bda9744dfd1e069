"""memviz.pymalloc.pinning(): what keeps each sparse arena allocated.

The heap is made in a child interpreter (a fresh heap: its sparse arenas are the ones the
test makes): a list of 200k floats in a module of its own, one in 400 kept in a list of
that module, the rest freed. The oracle is id() and the arenas' address ranges (an object
lives in the arena whose range holds it), sys.getsizeof for the bytes, eval() of the
path, and a float held only by a C-level reference (ctypes' Py_IncRef, its last Python
reference then dropped) for a block no reached object holds.
"""
from __future__ import annotations

import pytest

import memviz
from memviz import pymalloc as pm

from support.capabilities import needs, needs_allocator_choice

# The child's heap. Nothing of the kept list is bound in __main__ (a path from there
# would be as short as the module's); `held_from_c` is the address of the float that only
# a C reference holds.
HEAP = """
    import ctypes, gc, json, sys, types
    import memviz
    from memviz import pymalloc
    gc.disable()
    victim = types.ModuleType("pinning_victim")
    sys.modules["pinning_victim"] = victim
    victim.BIG = [float(i) for i in range(200_000)]
    victim.KEPT = victim.BIG[::400]
    ctypes.pythonapi.Py_IncRef(ctypes.py_object(victim.BIG[100_001]))
    held_from_c = id(victim.BIG[100_001])
    del victim.BIG
    arena_size = pymalloc.layout().arena_size
"""


@needs("pymalloc.arenas", "gc")
def test_sparse_arenas_are_pinned_by_exactly_the_kept_floats(child_python):
    result = child_python(HEAP + """
    sparse = {a.address: a.index for a in pymalloc.arenas()
              if a.pools and sum(p.blocks_in_use * p.block_size for p in a.pools)
              < 0.25 * arena_size}
    found = pymalloc.arena_pins()
    pins = pymalloc.pinning()
    kept = victim.KEPT
    def arena_of(address):
        return next((a for a in sparse if a <= address < a + arena_size), None)
    arenas = []
    for arena in found:
        floats = [pin for pin in arena.pins if pin.name == "builtins.float"]
        arenas.append({
            "address": arena.arena_address, "index": arena.index,
            "expected": sorted(id(k) for k in kept if arena_of(id(k)) == arena.arena_address),
            "floats": sorted(id(o) for pin in floats for o in pin.objects),
            "float_pins": len(floats),
            "all_floats": all(type(o) is float for pin in floats for o in pin.objects),
            "inside": all(arena.arena_address <= id(o) < arena.arena_address + arena_size
                          for pin in arena.pins for o in pin.objects),
            "names": all(pin.name == f"{type(o).__module__}.{type(o).__qualname__}"
                         for pin in arena.pins for o in pin.objects),
            "counts": all(pin.count == len(pin.objects) for pin in arena.pins),
            "bytes": all(pin.bytes == sum(sys.getsizeof(o) for o in pin.objects)
                         for pin in arena.pins),
            "paths": [str(pin.path) for pin in floats],
            "path_reaches_largest": all(eval(str(pin.path)) is pin.objects[0]
                                        for pin in floats),
            "unreached_blocks": arena.unreached_blocks,
            "unreached_bytes": arena.unreached_bytes,
            "blocks": arena.blocks_in_use,
            "pinned_blocks": sum(pin.count for pin in arena.pins),
        })
    held_in = arena_of(held_from_c)
    print(json.dumps({
        "sparse": sorted(sparse), "arenas": arenas, "held_in": held_in,
        "held_pinned": any(id(o) == held_from_c for pin in pins for o in pin.objects),
        # (the second reading also meets the first one's values: the floats only agree)
        "flat": [(pin.arena_address, pin.count) for pin in pins
                 if pin.name == "builtins.float"],
        "from_arenas": [(pin.arena_address, pin.count) for arena in found
                        for pin in arena.pins if pin.name == "builtins.float"],
        "kept_in_sparse": sum(1 for k in kept if arena_of(id(k)) is not None),
    }))
    """)
    facts = result.json()
    assert len(facts["sparse"]) >= 4                 # 200k floats: over 6 arenas, freed
    assert sorted(a["address"] for a in facts["arenas"]) == facts["sparse"]
    assert facts["flat"] == facts["from_arenas"]    # pinning() is arena_pins()' pins, flat
    assert [a["index"] for a in facts["arenas"]] == sorted(a["index"] for a in facts["arenas"])
    assert sum(len(a["expected"]) for a in facts["arenas"]) == facts["kept_in_sparse"] >= 300
    for arena in facts["arenas"]:
        assert arena["floats"] == arena["expected"], arena["index"]
        assert arena["float_pins"] == (1 if arena["expected"] else 0)
        assert arena["all_floats"] and arena["inside"] and arena["names"]
        assert arena["counts"] and arena["bytes"]
        assert arena["path_reaches_largest"]
        for path in arena["paths"]:
            assert path.startswith("sys.modules['pinning_victim'].KEPT["), path
        assert arena["unreached_blocks"] == arena["blocks"] - arena["pinned_blocks"] >= 0
        assert arena["unreached_bytes"] >= 0
    # The float only a C reference holds is in a sparse arena, in no pin, and its block
    # is counted apart.
    assert facts["held_in"] is not None
    assert not facts["held_pinned"]
    held_arena = next(a for a in facts["arenas"] if a["address"] == facts["held_in"])
    assert held_arena["unreached_blocks"] >= 1
    assert held_arena["unreached_bytes"] >= 32      # a float's block: 24 bytes -> class 1


@needs("pymalloc.arenas", "gc")
def test_one_arena_asked_by_value_or_by_index(child_python):
    result = child_python(HEAP + """
    every = pymalloc.arena_pins()
    one = every[len(every) // 2]
    arena = next(a for a in pymalloc.arenas() if a.address == one.arena_address)
    dense = max(pymalloc.arenas(), key=lambda a: sum(p.blocks_in_use for p in a.pools))
    def ids(pins):
        return sorted(id(o) for pin in pins for o in pin.objects
                      if pin.name == "builtins.float")
    by_index, by_value = pymalloc.pinning(one.index), pymalloc.pinning(arena)
    dense_pins = pymalloc.arena_pins(dense.index)
    print(json.dumps({
        "expected": ids(one.pins), "by_index": ids(by_index), "by_value": ids(by_value),
        "arenas": sorted({pin.arena_address for pin in by_index + by_value}),
        "address": one.arena_address,
        "dense": [(p.arena_address, p.index) for p in dense_pins],
        "dense_expected": (dense.address, dense.index),
        "dense_blocks": dense_pins[0].blocks_in_use,
        "dense_pinned": sum(pin.count for pin in dense_pins[0].pins),
    }))
    """)
    facts = result.json()
    assert facts["expected"] and facts["by_index"] == facts["expected"] == facts["by_value"]
    assert facts["arenas"] == [facts["address"]]
    # An arena asked for is read even when it is not sparse.
    assert [tuple(p) for p in facts["dense"]] == [tuple(facts["dense_expected"])]
    assert 0 < facts["dense_pinned"] <= facts["dense_blocks"]


@needs("pymalloc.arenas")
def test_bad_arena_arguments_are_refused():
    live = pm.arenas()
    with pytest.raises(ValueError, match="no live arena has index 1000000"):
        pm.pinning(1_000_000)
    with pytest.raises(ValueError, match="no live arena has index -1"):
        pm.pinning(-1)
    gone = pm.Arena(address=16, index=live[0].index, pools_total=64, pools_free=64)
    with pytest.raises(ValueError, match="not a live arena"):
        pm.pinning(gone)
    for wrong in ("7", 7.0, True, [live[0]]):
        with pytest.raises(TypeError, match="takes a memviz.pymalloc.Arena, an arena's index"):
            pm.pinning(wrong)


@needs_allocator_choice
def test_without_pymalloc_the_error_names_the_allocator(child_python):
    result = child_python("""
        import json, memviz
        try:
            memviz.pymalloc.pinning()
        except memviz.PymallocUnavailable as error:
            print(json.dumps(str(error)))
    """, env={"PYTHONMALLOC": "malloc"})
    message = result.json()
    assert message.startswith("memviz.pymalloc.pinning(): pymalloc is not the object allocator")
    assert "'malloc'" in message


@needs("pymalloc.arenas", "gc")
def test_the_arena_map_and_the_live_reports_show_what_pins_each_sparse_arena(child_python):
    result = child_python(HEAP + """
    import contextlib, io
    from memviz import arenamap
    from memviz.cli import main
    amap = arenamap.arena_map()
    text = amap.text(color=False, width=400)
    svg = amap.svg()
    report = io.StringIO()
    with contextlib.redirect_stdout(report):
        main([])
    page = io.StringIO()
    with contextlib.redirect_stdout(page):
        main(["report", "-o", "-"])
    print(json.dumps({
        "text": text, "svg": svg, "report": report.getvalue(), "html": page.getvalue(),
        "pins": [(p.index, [(pin.name, pin.count) for pin in p.pins], str(p.pins[0].path))
                 for p in amap.pins],
    }))
    """)
    facts = result.json()
    assert facts["pins"]
    lines = facts["text"].splitlines()
    report_lines = [line.strip() for line in facts["report"].splitlines()]
    only_floats = [(index, pins, path) for index, pins, path in facts["pins"]
                   if [name for name, _ in pins] == ["builtins.float"]]
    assert len(only_floats) >= 3     # (the others the child's own objects share with floats)
    for index, pins, path in only_floats:
        line = f"arena #{index}: 1.0 MiB kept by {pins[0][1]} float"
        drawn = [n for n, text in enumerate(lines) if text.strip().startswith(line)]
        assert len(drawn) == 1, line
        assert f"-- e.g. {path}" in lines[drawn[0]]
        # under the arena's own row (its fill line, then its size-class line)
        assert lines[drawn[0] - 2].startswith(f"#{index} ") and "◀ sparse" in lines[drawn[0] - 2]
        assert line in facts["svg"]
        assert any(text.startswith(f"arena #{index}: 1.0 MiB kept by ") for text in report_lines)
        assert f'<li data-arena="{index}">arena #{index}: 1.0 MiB kept by ' in facts["html"]
    assert "What keeps the sparse arenas allocated" in facts["report"]
