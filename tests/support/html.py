"""The HTML report's page held to the snapshots: a small DOM from html.parser
(``parse_html``) and the checks that every figure of a section is the snapshot's or the
diff's own (``check_snapshot_section``, ``check_diff_section`` ...); established in
test_htmlreport.py, used by test_reprs.py for the notebook fragments too."""
from __future__ import annotations

import re
from html.parser import HTMLParser

import pytest

import memviz
from memviz.render import view as _report
from memviz.render.view import format_bytes


class Element:
    def __init__(self, tag: str, attrs: dict, parent: Element | None):
        self.tag, self.attrs, self.parent = tag, attrs, parent
        self.children: list = []

    def text(self) -> str:
        return "".join(c if isinstance(c, str) else c.text() for c in self.children)

    def iter(self):
        for child in self.children:
            if isinstance(child, Element):
                yield child
                yield from child.iter()

    def find_all(self, tag: str | None = None, **attrs) -> list[Element]:
        wanted = {k.replace("_", "-"): v for k, v in attrs.items()}
        return [e for e in self.iter() if (tag is None or e.tag == tag)
                and all(e.attrs.get(k) == v for k, v in wanted.items())]

    def find(self, tag: str | None = None, **attrs) -> Element:
        found = self.find_all(tag, **attrs)
        assert len(found) == 1, f"{len(found)} <{tag} {attrs}> elements"
        return found[0]

    def classes(self) -> set[str]:
        return set((self.attrs.get("class") or "").split())


_VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta",
         "source", "track", "wbr"}


class _Builder(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.root = self.current = Element("#document", {}, None)

    def handle_starttag(self, tag, attrs):
        element = Element(tag, dict(attrs), self.current)
        self.current.children.append(element)
        if tag not in _VOID:
            self.current = element

    def handle_startendtag(self, tag, attrs):
        self.current.children.append(Element(tag, dict(attrs), self.current))

    def handle_endtag(self, tag):
        node = self.current
        while node is not None and node.tag != tag:
            node = node.parent
        if node is not None and node.parent is not None:
            self.current = node.parent

    def handle_data(self, data):
        self.current.children.append(data)


def parse_html(text: str) -> Element:
    builder = _Builder()
    builder.feed(text)
    builder.close()
    return builder.root


def table(scope: Element, name: str) -> dict[str, dict[str, tuple[str, str | None]]]:
    """{row key: {field: (text, data-value)}} of the table ``data-table=name``."""
    rows = {}
    for row in scope.find("table", data_table=name).find("tbody").find_all("tr"):
        rows[row.attrs["data-key"]] = {
            cell.attrs["data-field"]: (cell.text().strip(), cell.attrs.get("data-value"))
            for cell in row.find_all("td") if "data-field" in cell.attrs}
    return rows


def number(text: str) -> int:
    return int(text.replace(",", "").replace("+", ""))


def check_snapshot_section(section: Element, snap, limit: int = 15) -> None:
    """Every figure of a snapshot's section against the snapshot itself."""
    assert section.attrs["data-pid"] == str(snap.pid)
    if snap.generations is not None:
        generations = table(section, "generations")
        for g in snap.generations:
            row = generations[str(g.index)]
            for field in ("objects", "count", "threshold", "collections", "collected",
                          "uncollectable"):
                assert number(row[field][0]) == getattr(g, field), (g.index, field)
        assert number(generations["permanent"]["objects"][0]) == snap.permanent
        total = sum(g.objects for g in snap.generations)
        assert section.find("div", data_field="gc_objects").attrs["data-value"] == str(total)
    if snap.has_types:
        types = table(section, "types")
        permanent = snap.type_counts(memviz.gc.PERMANENT) if snap.permanent else {}
        ranked = sorted(((name, (*c, permanent.get(name, 0))) for name, c in
                         snap.type_table().items()), key=lambda item: (-sum(item[1]), item[0]))
        shown = ranked[:limit]
        assert [k for k in types if k != "(other types)"] == [name for name, _ in shown]
        for name, counts in shown:
            row = types[name]
            assert row["name"][0] == name
            assert number(row["objects"][0]) == sum(counts)
            assert [number(row[f"gen{g}"][0]) for g in range(3)] == list(counts[:3])
            if permanent:
                assert number(row["permanent"][0]) == counts[3]
            else:
                assert "permanent" not in row
        if len(ranked) > limit:
            assert number(types["(other types)"]["objects"][0]) == \
                sum(sum(c) for _, c in ranked[limit:])
    check_census_table(section, snap.census, limit)
    own = snap.own_objects()
    note = section.find("p", data_field="own_objects")
    if own is None:
        assert note is None
    else:
        said = note.text().split(": ", 1)[1]
        assert said == "none" if not own else said.startswith(f"{sum(own.values()):,} (")
        for name, count in sorted(own.items(), key=lambda item: (-item[1], item[0]))[:3]:
            assert f"{count:,} {name}" in note.text()
    check_rss_split(section, snap)
    stats = snap.pymalloc
    if stats is None:
        assert not section.find_all("table", data_table="size-classes")
        return
    figures = table(section, "pymalloc")
    for field in ("arenas_current", "arenas_highwater", "arenas_allocated_total",
                  "arenas_reclaimed", "blocks_in_use", "blocks_free", "raw_blocks"):
        assert number(figures[field][field][0]) == getattr(stats, field), field
    text, exact = figures["arena_bytes"]["arena_bytes"]
    assert (text, int(exact)) == (format_bytes(stats.arena_bytes), stats.arena_bytes)
    classes = table(section, "size-classes")
    expected = [c for c in stats.size_classes if c.pools or c.blocks_in_use]
    assert list(classes) == [str(c.index) for c in expected]
    for c in expected:
        row = classes[str(c.index)]
        assert number(row["block_size"][0]) == c.block_size
        assert number(row["pools"][0]) == c.pools
        assert number(row["blocks_in_use"][0]) == c.blocks_in_use
        assert number(row["blocks_free"][0]) == c.blocks_free
        assert int(row["bytes_in_use"][1]) == c.blocks_in_use * c.block_size
        capacity = c.blocks_in_use + c.blocks_free
        assert float(row["used"][1]) == pytest.approx(c.blocks_in_use / capacity, abs=1e-4)
    frag = snap.fragmentation()
    if frag is not None:
        check_fragmentation(section, frag)
    arenas = snap.arenas
    if arenas is not None:
        svg = section.find("svg")
        pools = svg.find_all("rect", **{"class": "pool"})
        free = svg.find_all("rect", **{"class": "free"})
        # one cell per pool in use, one per free pool slot
        assert len(pools) == sum(len(a.pools) for a in arenas)
        assert len(free) == sum(a.pools_total - len(a.pools) for a in arenas)
        drawn = sorted((int(r.attrs["data-size-class"]), int(r.attrs["data-blocks-in-use"]),
                        int(r.attrs["data-capacity"])) for r in pools)
        assert drawn == sorted((p.size_class, p.blocks_in_use, p.capacity)
                               for a in arenas for p in a.pools)
        assert len(svg.find_all("g", **{"class": "arena"})) == len(arenas)
        check_one_reading_of_blocks(section, snap)


def check_census_table(section: Element, census, limit: int = 15) -> None:
    """A snapshot section's census table against its census: the ``limit`` types with
    the most bytes, exact in data-value, the others summed; none without a census."""
    if census is None:
        assert not section.find_all("table", data_table="census-types")
        assert not section.find_all("p", data_field="census")
        return
    rows = table(section, "census-types")
    shown = census.types[:limit]
    assert [key for key in rows if key != "(other types)"] == [stat.name for stat in shown]
    for stat in shown:
        row = rows[stat.name]
        assert row["name"][0] == stat.name
        assert (number(row["objects"][0]), number(row["tracked"][0])) == (stat.count, stat.tracked)
        assert row["bytes"] == (format_bytes(stat.bytes), str(stat.bytes))
    rest = census.types[limit:]
    if rest:
        row = rows["(other types)"]
        assert row["name"][0] == f"({len(rest):,} other types)"
        assert number(row["objects"][0]) == sum(stat.count for stat in rest)
        assert number(row["tracked"][0]) == sum(stat.tracked for stat in rest)
        assert int(row["bytes"][1]) == sum(stat.bytes for stat in rest)
    else:
        assert "(other types)" not in rows
    assert section.find("p", data_field="census").text() == \
        f"Census: {_report.census_heading(census)}"


def check_census_changes(section: Element, diff, limit: int = 15) -> None:
    """A diff section's bytes-by-type table against ``diff.census_types()``; the line
    that says why there is none when only one snapshot has a census."""
    if not diff.has_census:
        assert not section.find_all("table", data_table="census-changes")
        said = section.find_all("p", data_field="census")
        if diff.new.has_census or diff.old.has_census:
            which = "older" if diff.new.has_census else "newer"
            assert len(said) == 1 and f"the {which} snapshot has no census" in said[0].text()
        else:
            assert not said
        return
    rows = table(section, "census-changes")
    changed = diff.census_types()
    assert [key for key in rows if key != "(other types)"] == [d.name for d in changed[:limit]]
    for d in changed[:limit]:
        row = rows[d.name]
        assert int(row["bytes"][1]) == d.bytes and int(row["bytes_delta"][1]) == d.bytes_delta
        assert number(row["objects"][0]) == d.count
        assert int(row["count_delta"][0].replace(",", "")) == d.count_delta
    if len(changed) > limit:
        row = rows["(other types)"]
        assert int(row["bytes_delta"][1]) == sum(d.bytes_delta for d in changed[limit:])
        assert int(row["count_delta"][0].replace(",", "")) == \
            sum(d.count_delta for d in changed[limit:])


def check_fragmentation(scope: Element, frag) -> None:
    """The fragmentation box (in ``scope``) shows each figure of ``frag`` once, under one label of its
    own: with a threshold of 25% the sparse arenas are the histogram's first quarter,
    one row (not "under 25%" and "0-25%" both)."""
    rows = table(scope, "fragmentation")
    box = scope.find("table", data_table="fragmentation")
    labels = [row.find_all("td")[0].text() for row in box.find_all("tr")]
    assert len(labels) == len(set(labels)), labels
    for field in ("arenas", "sparse_arenas", "sparse_blocks", "empty_arenas"):
        assert number(rows[field][field][0]) == getattr(frag, field), field
    for field in ("arena_bytes", "live_bytes", "sparse_arena_bytes", "sparse_live_bytes"):
        text, exact = rows[field][field]
        assert (text, int(exact)) == (format_bytes(getattr(frag, field)),
                                      getattr(frag, field)), field
    assert float(rows["utilization"]["utilization"][1]) == \
        pytest.approx(frag.utilization, abs=1e-4)
    first = 0 if frag.threshold != 0.25 else 1
    assert [number(rows[f"histogram_{i}"][f"histogram_{i}"][0]) for i in range(first, 4)] \
        == list(frag.histogram[first:])
    shown = {field for row in rows.values() for field in row}
    assert len(shown) == len(rows)    # one figure per row
    if frag.threshold == 0.25:
        assert "histogram_0" not in shown
        assert frag.sparse_arenas == frag.histogram[0]   # why one row says both
    assert set(shown) == {"arenas", "arena_bytes", "live_bytes", "utilization",
                          "sparse_arenas", "sparse_arena_bytes", "sparse_live_bytes",
                          "sparse_blocks", "empty_arenas"} | {
                              f"histogram_{i}" for i in range(first, 4)}


def check_rss_split(section: Element, snap) -> None:
    """The RSS split into pymalloc's arenas, the rest and the requests passed on to
    malloc (Snapshot.rss_split()), in the text report's words; "RSS unknown" without
    an RSS."""
    if snap.rss is None:
        assert section.find("p", data_field="rss").text().startswith(_report.RSS_UNKNOWN)
        assert not section.find_all("table", data_table="rss-split")
        return
    split = snap.rss_split()
    if split is None:
        assert not section.find_all("table", data_table="rss-split")
        return
    rows = table(section, "rss-split")
    for field in ("rss", "arena_bytes", "outside_pymalloc"):
        text, exact = rows[field][field]
        assert (text, int(exact)) == (format_bytes(getattr(split, field)),
                                      getattr(split, field)), field
    assert number(rows["forwarded_requests"]["forwarded_requests"][0]) == \
        split.forwarded_requests == snap.pymalloc.raw_blocks
    assert split.arena_bytes + split.outside_pymalloc == snap.rss
    labels = {row.attrs["data-key"]: row.find_all("td")[0].text()
              for row in section.find("table", data_table="rss-split").find_all("tr")}
    assert _report.ARENAS_LABEL in labels["arena_bytes"]
    assert labels["outside_pymalloc"] == \
        f"{_report.OUTSIDE_LABEL} \u2014 {_report.OUTSIDE_MEANING}"
    assert _report.FORWARDED_LABEL in labels["forwarded_requests"]


def check_one_reading_of_blocks(section: Element, snap) -> None:
    """The card of blocks in use and the arena map's caption give one figure: the sum
    over the snapshot's own arena records (and so do the cards of arenas)."""
    records = snap.arenas
    own_blocks = sum(p.blocks_in_use for a in records for p in a.pools)
    card = section.find("div", data_field="blocks_in_use")
    caption = section.find("svg").find_all("text")[0].text()   # its first line
    said = re.fullmatch(r"pymalloc arena map \(.*\): ([\d,]+) arenas, [\d,]+ of [\d,]+ "
                        r"pools in use, ([\d,]+) blocks in use", caption)
    assert said, caption
    assert number(card.find("div", **{"class": "figure"}).text()) == \
        int(card.attrs["data-value"]) == number(said[2]) == own_blocks
    arenas_card = section.find("div", data_field="arenas_current")
    assert int(arenas_card.attrs["data-value"]) == number(said[1]) == len(records)


def check_diff_section(section: Element, diff, limit: int = 15) -> None:
    check_census_changes(section, diff, limit)
    if diff.has_types:
        changes = table(section, "type-changes")
        changed = diff.types()
        assert [k for k in changes if k != "(other types)"] == [d.name for d in changed[:limit]]
        per_generation = [diff.type_deltas(g) for g in range(4)]
        for d in changed[:limit]:
            row = changes[d.name]
            assert number(row["objects"][0]) == d.count
            assert number(row["delta"][0]) == d.delta
            for g in range(3):
                assert number(row[f"gen{g}"][0]) == per_generation[g].get(d.name, 0)
            if per_generation[3]:
                assert number(row["permanent"][0]) == per_generation[3].get(d.name, 0)
            else:
                assert "permanent" not in row
        net = sum(d.delta for d in changed)
        assert int(section.find("div", data_field="gc_objects_delta").attrs["data-value"]) == net
    if diff.generations is not None:
        rows = table(section, "generation-changes")
        for g in diff.generations:
            row = rows[str(g.index)]
            for field in ("objects", "objects_delta", "collections_delta", "collected_delta",
                          "uncollectable_delta"):
                assert number(row[field][0]) == getattr(g, field), field
    if diff.size_classes is not None:
        changed = sorted((c for c in diff.size_classes if c.blocks_delta or c.pools_delta),
                         key=lambda c: (-abs(c.bytes_delta), c.index))
        if changed:
            rows = table(section, "size-class-changes")
            assert list(rows) == [str(c.index) for c in changed[:limit]]
            for c in changed[:limit]:
                row = rows[str(c.index)]
                assert number(row["blocks_in_use"][0]) == c.blocks_in_use
                assert number(row["blocks_delta"][0]) == c.blocks_delta
                assert int(row["bytes_delta"][1]) == c.bytes_delta
                assert number(row["pools_delta"][0]) == c.pools_delta
        assert int(section.find("div", data_field="blocks_delta").attrs["data-value"]) == \
            diff.blocks_delta
        check_memory_changes(section, diff)


def check_memory_changes(section: Element, diff) -> None:
    """The diff's memory table: pymalloc's blocks and the requests it passed on to malloc,
    before, after and the change, against the two snapshots and the diff."""
    rows = table(section, "memory-changes")
    if diff.rss_delta is None:
        said = section.find("p", data_field="rss").text()
        assert said.startswith(_report.RSS_UNKNOWN) and "B" not in said and "+" not in said
        assert not {"rss", "arena_bytes", "outside_pymalloc"} & set(rows)
    else:
        before, after = diff.old.rss_split(), diff.new.rss_split()
        for key, change in (("rss", diff.rss_delta), ("arena_bytes", diff.arena_bytes_delta),
                            ("outside_pymalloc", diff.outside_pymalloc_delta)):
            row = rows[key]
            assert (int(row["before"][1]), int(row["after"][1]), int(row["change"][1])) == \
                (getattr(before, key), getattr(after, key), change), key
            assert row["change"][0] == format_bytes(change, True)
        assert after.outside_pymalloc - before.outside_pymalloc == diff.outside_pymalloc_delta
        assert diff.new.rss - diff.old.rss == diff.rss_delta
    old, new = diff.old.pymalloc, diff.new.pymalloc
    for key, before, after, change in (
            ("blocks_in_use", old.blocks_in_use, new.blocks_in_use, diff.blocks_delta),
            ("raw_blocks", old.raw_blocks, new.raw_blocks, diff.raw_blocks_delta)):
        row = rows[key]
        assert (number(row["before"][0]), number(row["after"][0]),
                number(row["change"][0])) == (before, after, change), key


def self_contained(text: str) -> None:
    """Nothing the page would fetch: no scripts, links, images, frames, imports or URLs
    (the SVG namespace is a name, not a fetch); its only hrefs are to its own anchors."""
    lowered = text.lower()
    for marker in ("<script", "<link", "<img", "<iframe", "<object", "<embed", "@import",
                   "url(", "src="):
        assert marker not in lowered, marker
    assert set(re.findall(r"https?://[^\s\"'<>)]+", text)) <= {"http://www.w3.org/2000/svg"}
    hrefs = re.findall(r"href\s*=\s*(\S{0,2})", lowered)
    assert all(h.startswith(('"#', "'#")) for h in hrefs), hrefs
    check_anchors(parse_html(text))


def check_anchors(dom: Element) -> None:
    """Every href="#x" has one element id="x"; ids are unique; the contents line at the
    top links to every diff and snapshot section and to every arena map."""
    ids = [e.attrs["id"] for e in dom.iter() if "id" in e.attrs]
    assert len(ids) == len(set(ids)), ids
    links = [e.attrs["href"] for e in dom.iter() if e.tag == "a"]
    for href in links:
        assert href.startswith("#") and href[1:] in ids, href
    sections = [e for e in dom.iter() if e.tag == "section"]
    if not sections:   # a fragment: no contents
        return
    nav = dom.find("nav", **{"class": "contents"})
    body = next(e for e in dom.iter() if e.tag == "body")
    first = [e for e in body.children if isinstance(e, Element) and e.tag not in ("h1", "p")]
    assert first[0] is nav   # at the top, after the title
    linked = {e.attrs["href"][1:] for e in nav.iter() if e.tag == "a"}
    wanted = {s.attrs["id"] for s in sections}
    wanted |= {h.attrs["id"] for s in sections for h in s.find_all("h3")
               if h.text() == "Arena map"}
    assert linked == wanted
    for section in sections:
        if section.find_all("svg"):
            heading = next(h for h in section.find_all("h3") if h.text() == "Arena map")
            assert heading.attrs["id"] in linked
