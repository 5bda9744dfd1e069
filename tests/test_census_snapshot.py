"""The census in snapshots (``memviz.snapshot(census=True)``), in the snapshot file format
(version 3) and in diffs (``SnapshotDiff.top_types(by="bytes")``, ``census_types()``).

The census's own figures are held to the standard library in tests/test_census.py; here a
snapshot's census is held to ``sys.getsizeof`` of objects the test makes, and a census
snapshot's GC figures to a plain snapshot's (the census must change none of them)."""
from __future__ import annotations

import copy
import json
import pickle
import sys
from collections import Counter
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

import memviz
from memviz.formats import snapshot_json
from memviz.render.view import census_heading, format_bytes
from memviz.snapshot import type_name

from support.capabilities import needs
from support.snapshot import DELETE, footprint, with_field

pytestmark = needs("gc")

#: A snapshot file memviz wrote before format 3 (by commit fffe406, on CPython 3.12.1).
FORMAT_2 = Path(__file__).parent / "data" / "snapshot-format-2.json"


class Blob:
    """Instances made by these tests only: their census figures are the test's."""


def made_between(count: int):
    """(a census snapshot, what was made, a census snapshot): ``count`` Blobs and as many
    unique bytes objects of 1,000 bytes."""
    before = memviz.snapshot(census=True)
    made = ([Blob() for _ in range(count)],
            [b"%d" % i + bytes(1000 - len(b"%d" % i)) for i in range(count)])
    after = memviz.snapshot(census=True)
    return before, made, after


# --------------------------------------------------------------------------------------
# The snapshot


def test_a_snapshot_takes_a_census_only_when_asked():
    plain = memviz.snapshot()
    assert plain.census is None and not plain.has_census
    kept = [Blob() for _ in range(57)]
    snap = memviz.snapshot(census=True)
    census = snap.census
    assert snap.has_census and isinstance(census, memviz.Census)
    assert census[Blob] == memviz.TypeStat(type_name(Blob), 57,
                                           sum(map(sys.getsizeof, kept)), 57)
    assert census.total_objects > sum(g.objects for g in snap.generations)
    assert 0 < census.sized_by_getsizeof < census.total_objects
    assert snap.census == census and snap.census is not census   # built at each access


def test_a_census_changes_none_of_the_snapshots_gc_figures(gc_disabled):
    """Back to back, a census snapshot counts what a plain one counts, in every
    generation, and a later snapshot finds exactly its footprint among memviz's own
    (its census's names are one more tuple on 3.10-3.13): the census, packed before the
    GC walk, leaves nothing the walk counts."""
    memviz.snapshot(census=True)   # first-call caches are not the subject
    plain = memviz.snapshot()
    with_census = memviz.snapshot(census=True)
    after = memviz.snapshot()
    diff = with_census - plain
    assert diff.type_deltas() == {} and diff.type_deltas(3) == {}
    assert [g.objects_delta for g in diff.generations] == [0, 0, 0]
    expected = Counter({"memviz.snapshot.Snapshot": 1})
    if sys.version_info < (3, 14):
        expected["builtins.tuple"] = 4   # type names, capabilities, own names, census names
    assert footprint(with_census) == expected
    found = Counter(after.own_objects())
    found.subtract(with_census.own_objects())
    assert +found == expected
    assert (after - with_census).type_deltas() == {}


def test_new_objects_raise_the_census_of_the_next_snapshot():
    before, (blobs, data), after = made_between(300)
    grew = after.census[Blob].count - (before.census[Blob].count if Blob in before.census else 0)
    assert grew == 300
    assert after.census[Blob].bytes == sum(map(sys.getsizeof, blobs))
    made_bytes = sum(map(sys.getsizeof, data))
    assert after.census[bytes].bytes - before.census[bytes].bytes >= made_bytes
    assert after.census[bytes].count - before.census[bytes].count >= len(data)


@pytest.mark.parametrize("protocol", [0, pickle.HIGHEST_PROTOCOL])
def test_a_census_snapshot_pickles_copies_and_compares(protocol):
    snap = memviz.snapshot(census=True)
    again = pickle.loads(pickle.dumps(snap, protocol))
    assert again == snap and again.census == snap.census
    assert copy.deepcopy(snap).census == snap.census
    assert memviz.snapshot(census=True) != snap


# --------------------------------------------------------------------------------------
# The file format


def test_a_census_round_trips_exactly_through_json(tmp_path):
    kept = [Blob() for _ in range(12)]
    snap = memviz.snapshot(census=True)
    text = snap.to_json()
    document = json.loads(text)
    assert document["version"] == snapshot_json.VERSION == 3
    census = snap.census
    assert document["census"]["sized_by_getsizeof"] == census.sized_by_getsizeof
    assert document["census"]["types"] == {
        stat.name: [stat.count, stat.bytes, stat.tracked] for stat in census.types}
    assert document["census"]["types"][type_name(Blob)] == [
        12, sum(map(sys.getsizeof, kept)), 12]
    again = memviz.Snapshot.from_json(text)
    assert again == snap and again.to_json() == text
    assert again.census == census and again.census.types == census.types
    snap.dump(tmp_path / "census.json")
    assert memviz.Snapshot.load(tmp_path / "census.json").census == census
    assert json.loads(memviz.snapshot().to_json())["census"] is None


def test_a_version_2_file_still_loads():
    """A real format-2 file, as memviz wrote it before censuses: it loads with every
    figure it has, its census None, and saves again as format 3."""
    document = json.loads(FORMAT_2.read_text())
    assert document["version"] == 2 and "census" not in document
    old = memviz.Snapshot.load(FORMAT_2)
    assert old.census is None and not old.has_census
    assert old.pid == document["pid"] and old.interpreter.version == "3.12.1"
    assert old.type_table() == {name: tuple(row[:3])
                                for name, row in document["gc"]["types"].items()}
    assert [g.objects for g in old.generations] == [
        g["objects"] for g in document["gc"]["generations"]]
    assert old.own_objects() == {name: sum(row[:3]) for name, row in document["gc"]["own"].items()
                                 if sum(row[:3])}
    assert len(old.arenas) == len(document["pymalloc"]["arenas"])
    saved = json.loads(old.to_json())
    assert saved["version"] == 3 and saved["census"] is None
    assert {key: value for key, value in saved.items() if key not in ("version", "census")} \
        == {key: value for key, value in document.items() if key != "version"}
    assert memviz.Snapshot.from_json(old.to_json()) == old
    with pytest.raises(memviz.SnapshotFormatError, match="unknown field 'census'"):
        memviz.Snapshot.from_dict({**document, "census": None})


def _census_document():
    memviz.snapshot(census=True)   # first-call caches: the one below has its usual types
    return memviz.snapshot(census=True).to_dict()


_DOCUMENT = _census_document()
_SOME_TYPE = next(iter(_DOCUMENT["census"]["types"]))
_ROW = _DOCUMENT["census"]["types"][_SOME_TYPE]


def _with(path, value):
    return with_field(json.loads(json.dumps(_DOCUMENT)), path, value)


@pytest.mark.parametrize("path, value, message", [
    (("census",), DELETE, ": missing field 'census'"),
    (("census",), [], "census: expected an object, got an array"),
    (("census", "types"), DELETE, "census: missing field 'types'"),
    (("census", "colour"), 1, "census: unknown field 'colour'"),
    (("census", "types"), [], "census.types: expected an object, got an array"),
    (("census", "types", _SOME_TYPE), _ROW[:2],
     f"census.types[{_SOME_TYPE!r}]: expected 3 items, got 2"),
    (("census", "types", _SOME_TYPE), {"count": 1},
     f"census.types[{_SOME_TYPE!r}]: expected an array, got an object"),
    (("census", "types", _SOME_TYPE), [_ROW[0], -1, 0],
     f"census.types[{_SOME_TYPE!r}][1]: expected an integer >= 0, got -1"),
    (("census", "types", _SOME_TYPE), [_ROW[0], "8", 0],
     f"census.types[{_SOME_TYPE!r}][1]: expected an integer, got a string"),
    (("census", "types", _SOME_TYPE), [1, 8, 2],
     f"census.types[{_SOME_TYPE!r}]: 2 tracked of 1 objects"),
    (("census", "types", ""), [1, 8, 0], "census.types: a type name is empty"),
    (("census", "sized_by_getsizeof"), DELETE, "census: missing field 'sized_by_getsizeof'"),
    (("census", "sized_by_getsizeof"), True,
     "census.sized_by_getsizeof: expected an integer, got a boolean"),
    (("census", "sized_by_getsizeof"), 10**12,
     "census.sized_by_getsizeof: 1000000000000 objects sized of the"),
])
def test_each_wrong_census_field_is_named(path, value, message):
    with pytest.raises(memviz.SnapshotFormatError) as caught:
        memviz.Snapshot.from_json(json.dumps(_with(path, value)))
    assert message in str(caught.value)
    assert "unexpected" not in str(caught.value)


def _census_paths():
    yield ("census",)
    yield ("census", "sized_by_getsizeof")
    yield ("census", "types")
    for name in list(_DOCUMENT["census"]["types"])[:3]:
        yield ("census", "types", name)
        for i in range(3):
            yield ("census", "types", name, i)


_JSON_VALUES = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) \
    | st.text(max_size=5) | st.lists(st.integers(), max_size=4) \
    | st.dictionaries(st.text(max_size=5), st.lists(st.integers(), max_size=4), max_size=3)


@given(st.sampled_from(list(_census_paths())), _JSON_VALUES | st.just(DELETE))
def test_any_corrupted_census_field_is_a_format_error_or_a_valid_snapshot(path, value):
    try:
        snap = memviz.Snapshot.from_dict(_with(path, value))
    except memviz.SnapshotFormatError as error:
        assert "unexpected" not in str(error), error
    else:   # the new value was acceptable: then it loads and saves as itself
        assert memviz.Snapshot.from_json(snap.to_json()) == snap
        census = snap.census
        if census is not None:
            assert all(0 <= stat.tracked <= stat.count for stat in census.types)
            assert census.sized_by_getsizeof <= census.total_objects


# --------------------------------------------------------------------------------------
# Diffs


def test_top_types_by_bytes_ranks_the_censuses_changes():
    before, (blobs, data), after = made_between(400)
    diff = after - before
    top = diff.top_types(5, by="bytes")
    assert all(isinstance(d, memviz.TypeBytesDiff) for d in top)
    assert [abs(d.bytes_delta) for d in top] == sorted((abs(d.bytes_delta) for d in top),
                                                       reverse=True)
    every = {d.name: d for d in diff.census_types()}
    blob = every[type_name(Blob)]
    assert blob == memviz.TypeBytesDiff(type_name(Blob), after.census[Blob].bytes,
                                        sum(map(sys.getsizeof, blobs)),
                                        after.census[Blob].count, 400)
    grown = every["builtins.bytes"]
    assert grown.bytes_delta >= sum(map(sys.getsizeof, data)) and grown.count_delta >= 400
    assert grown.bytes == after.census[bytes].bytes
    assert grown.count == after.census[bytes].count
    assert top[0].name == "builtins.bytes"   # 400 KB: far past anything else here
    # Every type whose bytes changed, each once, and nothing else.
    names = {stat.name for census in (before.census, after.census) for stat in census}
    changed = {name for name in names
               if (after.census[name].bytes if name in after.census else 0)
               != (before.census[name].bytes if name in before.census else 0)}
    assert set(every) == changed
    growth = diff.top_types(1000, by="bytes", key="growth")
    assert growth and all(d.bytes_delta > 0 for d in growth)
    assert [d.bytes_delta for d in growth] == sorted((d.bytes_delta for d in growth),
                                                     reverse=True)
    assert all(d.bytes_delta < 0 for d in diff.top_types(1000, by="bytes", key="shrink"))
    big = diff.top_types(1000, by="bytes", min_change=grown.bytes_delta)
    assert [d.name for d in big] == ["builtins.bytes"]
    assert str(blob) == (f"{type_name(Blob)}: {format_bytes(blob.bytes)} "
                         f"({format_bytes(blob.bytes_delta, True)}), {blob.count:,} objects "
                         "(+400)")
    assert repr(blob).startswith(f"TypeBytesDiff(name='{type_name(Blob)}', bytes=")


def test_top_types_by_count_is_as_before():
    before, _, after = made_between(50)
    diff = after - before
    assert diff.top_types(3) == diff.top_types(3, by="count") == diff.types()[:3]
    assert all(isinstance(d, memviz.TypeDiff) for d in diff.top_types(by="count"))
    assert diff.top_types(5, 2, key="growth") == diff.top_types(5, 2, key="growth",
                                                                by="count")


def test_bytes_need_both_censuses_and_say_which_is_missing():
    plain = memviz.snapshot()
    with_census = memviz.snapshot(census=True)
    for diff, which in ((with_census - plain, "older"), (plain - with_census, "newer")):
        assert not diff.has_census
        with pytest.raises(ValueError, match=f"the {which} snapshot .* has no census"):
            diff.top_types(by="bytes")
        with pytest.raises(ValueError, match=f"the {which} snapshot"):
            diff.census_types()
    diff = memviz.snapshot(census=True) - with_census
    assert diff.has_census
    for bad, message in (({"by": "size"}, "by must be 'count' or 'bytes'"),
                         ({"by": "bytes", "generation": 0}, "generation must be None"),
                         ({"by": "bytes", "key": "up"}, "key must be"),
                         ({"by": "bytes", "min_change": 0}, "min_change must be")):
        with pytest.raises(ValueError, match=message):
            diff.top_types(**bad)


# --------------------------------------------------------------------------------------
# The text reports


def section(report: str, heading: str) -> list[str]:
    """The lines of the report's section that starts with ``heading``, up to the blank
    line after it."""
    lines = report.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(heading))
    end = lines.index("", start) if "" in lines[start:] else len(lines)
    return lines[start:end]


def test_the_snapshot_report_shows_the_census_types_by_bytes():
    snap = memviz.snapshot(census=True)
    census = snap.census
    lines = section(snap.report(4), "Census: ")
    assert lines[0] == f"Census: {census_heading(census)}"
    assert lines[1] == f"Types by bytes: top 4 of {len(census.types):,}"
    assert lines[2].split() == ["type", "objects", "tracked", "bytes", "share"]
    rows = [line.split() for line in lines[3:]]
    for row, stat in zip(rows, census.top(4)):
        assert row[:3] == [stat.name, f"{stat.count:,}", f"{stat.tracked:,}"]
        assert " ".join(row[3:5]) == format_bytes(stat.bytes)
        assert row[5] == f"{stat.bytes / census.total_bytes:.1%}"
    rest = census.types[4:]
    assert rows[4][:5] == [f"({len(rest):,}", "other", "types)", f"{sum(s.count for s in rest):,}",
                           f"{sum(s.tracked for s in rest):,}"]
    assert len(rows) == 5
    # after the collector's types table, before pymalloc's
    report = snap.report(4)
    assert report.index("Types: top 4") < report.index("Census: ")
    assert "Census: " not in memviz.snapshot().report()


def test_the_diff_report_shows_the_changes_of_bytes_by_type():
    before, (blobs, _), after = made_between(200)
    diff = after - before
    lines = section(diff.report(3), "Types by bytes: ")
    every = diff.census_types()
    net = sum(d.bytes_delta for d in every)
    assert lines[0] == (f"Types by bytes: {len(every):,} changed, {format_bytes(net, True)} "
                        "(every object the censuses found, memviz's own included; top 3 by "
                        "change)")
    assert lines[1].split() == ["type", "bytes", "change", "objects", "change"]
    for line, d in zip(lines[2:5], every):
        assert line.split()[0] == d.name
        assert f"{format_bytes(d.bytes)}  " in line and format_bytes(d.bytes_delta, True) in line
        assert line.split()[-2:] == [f"{d.count:,}", f"{d.count_delta:+,}"]
    rest = every[3:]
    assert lines[5].split()[:3] == [f"({len(rest):,}", "other", "types)"]
    assert format_bytes(sum(d.bytes_delta for d in rest), True) in lines[5]
    assert len(lines) == 6
    plain = memviz.snapshot()
    assert section((plain - before).report(), "Types by bytes: ") == [
        "Types by bytes: not compared (the newer snapshot has no census; "
        "memviz.snapshot(census=True) takes one)"]
    assert "the older snapshot has no census" in (after - plain).report()
    assert "Types by bytes" not in (memviz.snapshot() - plain).report()


def test_a_tracker_with_a_census_reports_the_bytes_it_saw_made():
    with memviz.track(census=True) as tracker:
        blobs = [Blob() for _ in range(77)]
    assert tracker.before.has_census and tracker.after.has_census
    blob = next(d for d in tracker.diff.census_types() if d.name == type_name(Blob))
    assert (blob.count_delta, blob.bytes_delta) == (77, sum(map(sys.getsizeof, blobs)))
    assert "Types by bytes: " in tracker.report()
    with memviz.track() as plain:
        pass
    assert not plain.after.has_census and "Types by bytes" not in plain.report()


def test_two_equal_censuses_are_no_change():
    snap = memviz.snapshot(census=True)
    same = snap - snap
    assert same.census_types() == [] and same.top_types(by="bytes") == []
    assert section(same.report(), "Types by bytes: ") == [
        "Types by bytes: no change in the censuses"]
    assert ('<p data-field="census">Types by bytes: no change in the censuses.</p>'
            in same._repr_html_())
