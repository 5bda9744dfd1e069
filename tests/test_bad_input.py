"""Bad and odd input everywhere, each with the answer it must get -- never a crash, never a
stray exception, never a wrong block.

* ``locate()`` / ``explain()`` on static types and objects, modules, immortal objects,
  huge objects, objects of C extension types without GC support, and objects in a pool
  that is being emptied; the C core's ``mv_pymalloc_locate`` given any address at all
  (stale ids of freed objects, addresses in arenas that were given back to the system,
  pool headers, alignment slack, never-carved pools, 0 and 2**64-1): it reads a pool
  header only once the address is inside a live arena's carved pools, so it never
  crashes, and whatever it answers is a block of a pool that ``arenas()`` lists.
* ``Snapshot.from_json`` / ``Snapshot.load`` fed generated hostile input (any text, any
  bytes, documents with any field replaced by deep nesting, huge numbers, non-finite
  floats, long strings or random JSON): ``SnapshotFormatError`` and nothing else; what
  it accepts is a snapshot that reports, diffs and draws without error. (The field-by-
  field messages are tests/test_snapshot.py's.)
* The command line given files it cannot use (an I/O error, a path through a file, a
  symlink loop, a name too long, binary garbage, an endless device): one line on
  standard error, exit status 1, no traceback. (Missing files, directories, unwritable
  output and usage errors are tests/test_cli.py's.)
"""
from __future__ import annotations

import datetime
import decimal
import gc
import json
import os
import select
import sys
import zlib

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

import memviz
from memviz import _native
from memviz import pymalloc as pm
from memviz.cli import main
from memviz.explain import explain
from memviz.formats import snapshot_json

from support.capabilities import PYMALLOC_READINGS, needs
from support.cli import one_line_error, run_main
from support.pymalloc import allocation, check_located, preheader

PY = sys.version_info[:2]


# -- locate() and explain() on odd objects ---------------------------------------------

@needs(*PYMALLOC_READINGS)
@pytest.mark.parametrize("obj", [None, True, False, Ellipsis, NotImplemented, int, type,
                                 object, dict, memviz.MemvizError.__mro__[-1]],
                         ids=repr)
def test_static_objects_and_types(obj):
    assert pm.locate(obj) is None
    e = explain(obj)
    assert e.where == "static" and e.block is None and "statically allocated" in str(e)


@needs(*PYMALLOC_READINGS)
@pytest.mark.parametrize("name", ["sys", "gc", "_struct", "memviz", "memviz.pymalloc",
                                  "json"])
def test_modules(name):
    """A module object is a small GC object in a block (its dict and, for C modules, its
    state are allocated apart); Python modules and sys report their own allocation as
    their size."""
    module = sys.modules[name] if name in sys.modules else __import__(name)
    if name in ("sys", "memviz", "memviz.pymalloc", "json"):
        check_located(module, name)
    block = pm.locate(module)
    assert block is not None and block.object_offset >= 16
    assert explain(module).block == block


@needs(*PYMALLOC_READINGS)
def test_immortal_objects():
    """Static immortals are in no block; heap objects that are immortal (3.12+: e.g.
    interned strings, code constants) are in the block their allocation came from."""
    static = [None, True] + ([(), "", 0, 255, -5] if PY >= (3, 11) else [])
    for obj in static:
        assert pm.locate(obj) is None, obj
    interned = sys.intern("memviz bad input " + str(id(sys)))
    constant = "a code constant of this function, immortal on some versions"
    for obj, name in ((interned, "interned str"), (constant, "code constant")):
        check_located(obj, name)
        e = explain(obj)
        assert e.immortal == memviz.is_immortal(obj)
        assert e.block == pm.locate(obj)


@needs(*PYMALLOC_READINGS)
@pytest.mark.parametrize("make", [
    lambda: bytes(10_000_000), lambda: 10 ** 100_000, lambda: "x" * 1_000_000,
    lambda: tuple(range(100_000)),
], ids=["bytes 10M", "int 10**100000", "str 1M", "tuple 100k"])
def test_huge_objects(make):
    obj = make()
    check_located(obj, type(obj).__name__)      # None: pymalloc passes these to malloc
    e = explain(obj)
    if sys.getsizeof(obj) > pm.layout().small_request_threshold:
        assert e.where == "large" and e.block is None
    else:
        assert e.block == pm.locate(obj)


def _c_objects_without_gc():
    """(name, object, whether sys.getsizeof is its whole allocation): objects of C types
    (extension modules' and builtins') that do not support the collector."""
    ffi = _native.ffi
    objects = [
        ("datetime.date", datetime.date(2024, 2, 29), True),
        ("datetime.timedelta", datetime.timedelta(days=3, seconds=7), True),
        # no tzinfo: allocated without the tzinfo slot that its __sizeof__ counts
        ("datetime.time", datetime.time(12, 30), False),
        ("decimal.Decimal", decimal.Decimal("3.14159"), True),
        ("zlib.compressobj", zlib.compressobj(), True),
        ("select.epoll", select.epoll(), True),
        ("range", range(5, 50, 3), True),
        ("float", 2.5, True),
        ("complex", 1 + 2j, True),
    ]
    if ffi is not None:
        objects += [
            ("cffi cdata (cast)", ffi.cast("void *", 12345), True),
            ("cffi cdata (owning)", ffi.new("mv_gc_reading *"), False),
        ]
    return objects


@needs(*PYMALLOC_READINGS)
@pytest.mark.parametrize("index", range(len(_c_objects_without_gc())),
                         ids=[name for name, _, _ in _c_objects_without_gc()])
def test_c_extension_objects(index):
    """Without GC support there is no GC header: the object starts its block (after the
    debug hooks' prefix, when they are on). Some of these types gained GC support in
    later versions (decimal, zlib: 3.13+); then the header is there. Sizes that are the
    whole allocation are checked to the block."""
    name, obj, exact = _c_objects_without_gc()[index]
    gc_capable = bool(type(obj).__flags__ & (1 << 14))
    if exact:
        check_located(obj, name)
    block = pm.locate(obj)
    if block is not None:
        assert block.object_offset == preheader(obj), (name, block)
        if not gc_capable:
            prefix = pm._debug_prefix() if pm._info().debug_hooks == 1 else 0
            assert block.object_offset == prefix, (name, block)
    e = explain(obj)
    assert e.tracked == gc.is_tracked(obj) and e.gc_capable == gc_capable
    assert e.block == block
    str(e), e._repr_html_()


def test_most_of_those_have_no_gc_support():
    without = [name for name, obj, _ in _c_objects_without_gc()
               if not type(obj).__flags__ & (1 << 14)]
    assert len(without) >= 8, without


@needs(*PYMALLOC_READINGS)
def test_the_last_object_of_a_pool_being_emptied(gc_disabled):
    """Fill pools of one size class, free all but one object per pool: each survivor is
    still located in its pool, which arenas() shows with exactly the survivors in use;
    addresses of the freed neighbours are in no block once their pool is empty."""
    lay = pm.layout()
    size = 200          # bytes objects of 201 bytes + the header: 240-byte blocks
    capacity = lay.blocks_per_pool[
        lay.block_sizes.index(allocation(sys.getsizeof(bytes(size + 1))))]
    objects = [bytes(size) + bytes([i % 256]) for i in range(capacity * 40)]
    by_pool: dict[int, list] = {}
    for obj in objects:
        by_pool.setdefault(pm.locate(obj).pool_address, []).append(obj)
    full = {pool: members for pool, members in by_pool.items() if len(members) == capacity}
    assert len(full) >= 30, "pools of our own"
    survivors = [members[len(members) // 2] for members in full.values()]
    freed = [id(obj) for members in full.values() for obj in members
             if obj is not members[len(members) // 2]]
    del objects, by_pool, obj
    full = set(full)
    pools = {p.address: p for a in pm.arenas() for p in a.pools}
    for survivor in survivors:
        block = pm.locate(survivor)
        check_located(survivor, "survivor")
        assert pools[block.pool_address].blocks_in_use == 1
    # Now empty those pools: their headers keep a stale size class; no address in them is
    # in a block any more (unless pymalloc has reused the pool meanwhile: then it is in use).
    del survivors, survivor, block
    answers = [(address, _raw_locate(address)) for address in freed[:: max(1, len(freed) // 500)]]
    emptied = 0
    for address, found in answers:
        if found is None:
            emptied += 1
        else:   # pymalloc reused the pool for new blocks meanwhile: a block of it, then
            _check_raw_block(address, found)
    assert emptied >= len(answers) // 2, (emptied, len(answers))


def _raw_locate(address: int):
    """The C core's locate for an address that no live object may have."""
    ffi, lib = _native.ffi, _native.lib
    raw = ffi.new("mv_pymalloc_block *")
    raw.interpreter_id = _native.interpreter_id()
    raw.address = address
    assert lib.mv_pymalloc_locate(raw) == lib.MV_OK
    if not raw.found:
        return None
    return (raw.arena_address, raw.pool_address, raw.block_address, raw.size_class,
            raw.block_size)


def _check_raw_block(address: int, found) -> None:
    """What the raw locate answered for ``address`` fits the layout and the arena map
    read right after it."""
    if found is None:
        return
    pools = {p.address: p for a in pm.arenas() for p in a.pools}
    lay = pm.layout()
    arena, pool, block, size_class, block_size = found
    assert arena <= pool and pool + lay.pool_size <= arena + lay.arena_size
    assert pool % lay.pool_size == 0 and pool == address & ~(lay.pool_size - 1)
    assert block_size == lay.block_sizes[size_class]
    assert block <= address < block + block_size
    assert (block - pool - lay.pool_overhead) % block_size == 0
    assert pool in pools and pools[pool].size_class == size_class


@needs(*PYMALLOC_READINGS)
def test_addresses_in_arenas_given_back_to_the_system(gc_disabled):
    """Allocate whole arenas, free them (pymalloc unmaps an arena once its last pool is
    empty), then locate addresses that were in them: no block, and no read of unmapped
    memory (that would crash this process)."""
    before = {a.address for a in pm.arenas()}
    floats = [float(i) + 0.5 for i in range(600_000)]          # ~15 MiB of 24-byte blocks
    grown = {a.address for a in pm.arenas()} - before
    assert len(grown) >= 5
    ids = [id(f) for f in floats[::997]]
    del floats
    gc.collect()
    live = {a.address for a in pm.arenas()}
    gone = grown - live
    assert gone, "pymalloc gave no arena back"
    lay = pm.layout()

    def in_a_live_arena(address):
        return any(a.address <= address < a.address + lay.arena_size for a in pm.arenas())

    for address in ids:
        found = _raw_locate(address)
        if found is None or not in_a_live_arena(address):
            assert found is None, hex(address)
        else:
            _check_raw_block(address, found)
    for arena in gone:      # every pool of every arena that is gone, header and slack too
        for offset in range(0, lay.arena_size, lay.pool_size // 2):
            found = _raw_locate(arena + offset)
            if found is not None:   # only if pymalloc mapped a new arena there since
                assert in_a_live_arena(arena + offset)
                _check_raw_block(arena + offset, found)


@needs(*PYMALLOC_READINGS)
@settings(max_examples=8 * settings.default.max_examples)
@given(st.data())
def test_any_address_at_all(data):
    """Any 64-bit address, most of them in or near live arenas (pool headers, alignment
    slack, never-carved pools, the unusable tail of a pool): an answer that fits."""
    arenas = pm.arenas()
    lay = pm.layout()
    arena = arenas[data.draw(st.integers(0, 10**6)) % len(arenas)]
    addresses = data.draw(st.lists(st.one_of(
        st.integers(0, 2**64 - 1),
        st.sampled_from([0, 1, 2**63, 2**64 - 1, 2**64 - lay.pool_size]),
        st.integers(-lay.arena_size, 2 * lay.arena_size - 1).map(lambda off: arena.address + off),
        st.integers(0, lay.pool_overhead + 16).map(
            lambda off: (arena.pools[0].address if arena.pools else arena.address) + off),
    ), min_size=1, max_size=50))
    for address in addresses:
        _check_raw_block(address, _raw_locate(address))


# -- Snapshot.from_json and Snapshot.load ----------------------------------------------

_VALID = memviz.snapshot().to_json()
_VALID_DOCUMENT = json.loads(_VALID)


def _paths(value, prefix=()):
    yield prefix
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _paths(item, prefix + (key,))
    elif isinstance(value, list):
        for i, item in enumerate(value[:3]):
            yield from _paths(item, prefix + (i,))


_PATHS = list(_paths(_VALID_DOCUMENT))

#: Hostile JSON text for one value: deep nesting, huge and non-finite numbers, long text.
_HOSTILE = st.one_of(
    st.integers(1, 200_000).map(lambda n: "[" * n + "]" * n),
    st.integers(1, 200_000).map(lambda n: '{"a":' * n + "0" + "}" * n),
    st.integers(1, 20_000).map(lambda n: "9" * n),
    st.integers(1, 5_000).map(lambda n: "-" + "1" * n),
    st.sampled_from(["1e400", "-1e400", "1e-400", "NaN", "Infinity", "-Infinity",
                     str(2**64), str(2**63), str(-(2**63) - 1), "18446744073709551616.0",
                     "0.0", "-0", "1.5", "true", "null", '""', "[]", "{}"]),
    st.integers(0, 1_000_000).map(lambda n: json.dumps("\u2603" * n)),
    st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False)
                 | st.text(max_size=8),
                 lambda inner: st.lists(inner, max_size=4)
                 | st.dictionaries(st.text(max_size=8), inner, max_size=4),
                 max_leaves=12).map(json.dumps),
)


def _replace(document, path, text: str) -> str:
    """The document as JSON with the value at ``path`` replaced by the raw ``text``."""
    marker = "\u0000memviz-hostile\u0000"
    copy = json.loads(json.dumps(document))
    if not path:
        return text
    target = copy
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = marker
    return json.dumps(copy).replace(json.dumps(marker), text, 1)


def _load_or_refuse(text) -> None:
    """from_json raises SnapshotFormatError (never the catch-all's "unexpected"), or
    returns a snapshot that round-trips and renders."""
    try:
        snap = memviz.Snapshot.from_json(text)
    except memviz.SnapshotFormatError as error:
        assert "unexpected" not in str(error), error
        return
    assert memviz.Snapshot.from_json(snap.to_json()) == snap
    snap.report()
    (snap - snap).report()
    memviz.arenamap.render_text(snap, color=False, width=120)
    memviz.arenamap.render_svg(snap)
    from memviz import htmlreport

    htmlreport.render_report([snap, snap])
    snap._repr_html_()
    if snap.generations is not None:
        snap.top_types(5)
    if snap.arenas is not None:
        snap.fragmentation()


@settings(max_examples=4 * settings.default.max_examples)
@given(st.sampled_from(_PATHS), _HOSTILE)
# Found by this test: a finite taken_at past the year 9999 loaded, and every report of the
# snapshot then failed in time.gmtime (OSError / OverflowError).
@example(("taken_at",), "9" * 17)
@example(("taken_at",), "1e300")
@example(("taken_at",), "253402300800")
@example(("taken_at",), "9" * 309)      # an int float() cannot take
# Found by this test: an arena of 2**63 pool slots loaded, and drawing its map made a
# list of that many cells (OverflowError; a smaller huge count: MemoryError).
@example(("pymalloc", "arenas", 1, "pools_total"), "9223372036854775808")
def test_hostile_values_anywhere_in_a_snapshot(path, value):
    _load_or_refuse(_replace(_VALID_DOCUMENT, path, value))


@pytest.mark.parametrize(("path", "value", "message"), [
    (("pymalloc", "arenas", 0, "pools_total"), "100000",
     "pymalloc.arenas[0].pools_total: 100000 pools, more than the 64 of an arena"),
    (("pymalloc", "arenas", 0, "pools_free"), "64",
     "pymalloc.arenas[0].pools_free: 64 free and"),
    (("pymalloc", "layout", "pools_per_arena"), "65",
     "pymalloc.layout.pools_per_arena: 65 pools in an arena of 1048576 bytes"),
    (("pymalloc", "layout", "pool_size"), "0",
     "pymalloc.layout.arena_size: an arena of 1048576 bytes cannot hold a pool of 0 bytes"),
])
def test_an_arena_larger_than_its_layout_is_refused(path, value, message):
    """A file's arenas fit its layout (pools_per_arena = arena_size // pool_size, each
    arena's free and used pools within its pools_total): else the arena map would draw
    whatever number of cells the file says."""
    with pytest.raises(memviz.SnapshotFormatError) as raised:
        memviz.Snapshot.from_json(_replace(_VALID_DOCUMENT, path, value))
    assert message in str(raised.value)


@settings(max_examples=4 * settings.default.max_examples)
@given(st.text() | st.text(alphabet="{}[]\":,0123456789.eE+-tfnrul \n\\", max_size=300))
def test_any_text(text):
    _load_or_refuse(text)


@settings(max_examples=4 * settings.default.max_examples)
@given(st.binary(max_size=2000) | st.binary(max_size=50).map(lambda b: _VALID.encode()[:500] + b))
def test_any_bytes(data):
    _load_or_refuse(data)


@settings(max_examples=2 * settings.default.max_examples)
@given(st.dictionaries(st.sampled_from(sorted(_VALID_DOCUMENT)) | st.text(max_size=5),
                       st.from_regex(r"\A(null|true|false|-?[0-9]{1,30}|\"x*\"|\[\]|\{\})\Z"),
                       max_size=12))
def test_documents_with_the_right_header_and_any_fields(fields):
    document = {"format": "memviz.snapshot", "version": 1}
    text = json.dumps(document)[:-1] + "".join(
        f", {json.dumps(key)}: {value}" for key, value in fields.items()) + "}"
    _load_or_refuse(text)


def test_load_reads_at_most_the_limit(tmp_path, monkeypatch):
    """An endless file (a device) or a huge one is refused after LOAD_LIMIT bytes, not
    read until memory runs out."""
    monkeypatch.setattr(snapshot_json, "LOAD_LIMIT", 1 << 20)
    with pytest.raises(memviz.SnapshotFormatError, match="more than 1,048,576 bytes"):
        memviz.Snapshot.load("/dev/zero")
    big = tmp_path / "big.json"
    big.write_text(" " * (1 << 20) + _VALID)
    with pytest.raises(memviz.SnapshotFormatError, match="big.json: more than 1,048,576"):
        memviz.Snapshot.load(big)
    exact = tmp_path / "exact.json"
    exact.write_text(_VALID + " " * ((1 << 20) - len(_VALID.encode())))
    assert memviz.Snapshot.load(exact) == memviz.Snapshot.from_json(_VALID)


# -- the command line -----------------------------------------------------------------

def _cli_error(capsys, *args) -> tuple[int, str]:
    status, out, err = run_main(capsys, *args)
    assert out == ""
    return status, one_line_error(err)


def test_cli_on_a_file_that_fails_to_read(capsys):
    """/proc/self/mem opens (for root too) and fails to read at offset 0 (EIO)."""
    for args in (["report", "/proc/self/mem"], ["diff", "/proc/self/mem", "/proc/self/mem"]):
        status, line = _cli_error(capsys, *args)
        assert (status, line) == (1, f"memviz {args[0]}: cannot read /proc/self/mem: "
                                     "input/output error")


def test_cli_on_paths_that_cannot_be_files(capsys, tmp_path):
    good = tmp_path / "good.json"
    good.write_text(_VALID)
    loop = tmp_path / "loop.json"
    loop.symlink_to(tmp_path / "loop2.json")
    (tmp_path / "loop2.json").symlink_to(loop)
    long = tmp_path / ("x" * 300 + ".json")
    cases = [
        (good / "inside.json", "not a directory"),
        (loop, "too many levels of symbolic links"),
        (long, "file name too long"),
    ]
    for path, reason in cases:
        status, line = _cli_error(capsys, "diff", str(good), str(path))
        assert (status, line) == (1, f"memviz diff: cannot read {path}: {reason}")


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads a file whatever its mode; "
                    "test_cli_on_a_file_that_fails_to_read covers a read error for root")
def test_cli_on_a_file_without_read_permission(capsys, tmp_path):
    path = tmp_path / "secret.json"
    path.write_text(_VALID)
    path.chmod(0)
    status, line = _cli_error(capsys, "report", str(path))
    assert (status, line) == (1, f"memviz report: cannot read {path}: permission denied")


@settings(max_examples=settings.default.max_examples)
@given(st.binary(min_size=1, max_size=3000))
def test_cli_on_binary_garbage(tmp_path_factory, data):
    path = tmp_path_factory.mktemp("garbage") / "garbage.json"
    path.write_bytes(data)
    status = main(["report", str(path)])
    assert status in (0, 1)
    if status == 0:     # only a real snapshot passes
        memviz.Snapshot.load(path)


def test_cli_on_binary_garbage_prints_one_line(capsys, tmp_path):
    path = tmp_path / "garbage.json"
    path.write_bytes(bytes(range(256)) * 4)
    status, line = _cli_error(capsys, "report", str(path))
    assert status == 1
    assert line == (f"memviz report: not a snapshot memviz can read: {path}: not UTF-8 text "
                    "(byte 128), so not a memviz snapshot")


def test_cli_on_an_endless_device(capsys, monkeypatch):
    monkeypatch.setattr(snapshot_json, "LOAD_LIMIT", 1 << 20)
    status, line = _cli_error(capsys, "report", "/dev/zero")
    assert status == 1
    assert line == ("memviz report: not a snapshot memviz can read: /dev/zero: more than "
                    "1,048,576 bytes, so not a memviz snapshot")


@pytest.mark.parametrize("field, value", [
    ("pid", "[" * 100_000 + "]" * 100_000), ("pid", "9" * 10_000), ("pid", "1e400"),
    ("pid", "NaN"), ("pid", '"' + "x" * 100_000 + '"'), ("taken_at", "9" * 17),
    ("taken_at", "1e300"), ("rss", str(2**64)),
])
def test_cli_on_hostile_snapshots(capsys, tmp_path, field, value):
    path = tmp_path / "hostile.json"
    path.write_text(_replace(_VALID_DOCUMENT, (field,), value))
    status, line = _cli_error(capsys, "report", str(path))
    assert status == 1 and line.startswith(f"memviz report: not a snapshot memviz can read: {path}: ")
    assert "unexpected" not in line
