"""support.capabilities.needs, the suite's one capability marker: a test is skipped only
where memviz says it cannot read what the test needs, the skip says memviz's reason, and
a name memviz does not know fails at once instead of skipping."""
from __future__ import annotations

import os

import pytest

import memviz

from support.capabilities import PYMALLOC_READINGS, available, needs, needs_allocator_choice


def test_an_unknown_capability_raises_instead_of_skipping():
    with pytest.raises(ValueError, match=r"'pymalloc\.arena'.*pymalloc\.arenas"):
        needs("pymalloc.arena")
    with pytest.raises(ValueError, match="'no such reading'"):
        needs("gc", "no such reading")   # a typo among known names too
    with pytest.raises(ValueError, match="'GC'"):
        available("GC")
    with pytest.raises(TypeError, match="at least one"):
        needs()


def test_each_capability_skips_exactly_where_memviz_says_it_is_missing():
    for capability in memviz.capabilities():
        mark = needs(capability.name).mark
        assert mark.name == "skipif"
        (skipped,) = mark.args
        assert skipped is (not capability.available), capability
        assert available(capability.name) is capability.available
        if not capability.available:
            assert mark.kwargs["reason"] == \
                f"memviz cannot read {capability.name} here: {capability.reason}"


def test_several_names_skip_when_any_is_missing():
    caps = memviz.capabilities()
    names = [c.name for c in caps]
    mark = needs(*names).mark
    assert mark.args == (not all(c.available for c in caps),)
    for capability in caps:
        if not capability.available:
            assert capability.reason in mark.kwargs["reason"]


_CHILD = """
import json
from support.capabilities import needs
import memviz

caps = memviz.capabilities()
marks = {name: needs(name).mark for name in ("gc", "pymalloc.arenas")}
several = needs("refcount", "pymalloc.stats", "pymalloc.arenas", "pymalloc.locate").mark
print(json.dumps({
    "capabilities": {c.name: [c.available, c.reason] for c in caps},
    "marks": {name: [mark.args[0], mark.kwargs["reason"]] for name, mark in marks.items()},
    "several": [several.args[0], several.kwargs["reason"]],
}))
"""


@needs_allocator_choice
def test_the_skip_reason_is_the_capabilitys_own(child_python):
    """PYTHONMALLOC=malloc, where memviz cannot read pymalloc (and says why): the marker
    skips those tests with that reason, and the collector's tests run."""
    report = child_python(_CHILD, env={"PYTHONMALLOC": "malloc",
                                       "PYTHONPATH": os.path.dirname(__file__)}).json()
    capabilities = report["capabilities"]
    gc_available, _ = capabilities["gc"]
    arenas_available, arenas_reason = capabilities["pymalloc.arenas"]
    assert arenas_available is False and "'malloc'" in arenas_reason
    assert report["marks"]["pymalloc.arenas"] == \
        [True, f"memviz cannot read pymalloc.arenas here: {arenas_reason}"]
    assert report["marks"]["gc"][0] is (not gc_available)
    # The three pymalloc readings share one reason: said once, naming all three; the
    # available refcount reading is not among them.
    assert {capabilities[name][1] for name in PYMALLOC_READINGS} == {arenas_reason}
    assert capabilities["refcount"][0] is True
    assert report["several"] == [True, f"memviz cannot read {', '.join(PYMALLOC_READINGS)} "
                                       f"here: {arenas_reason}"]
