"""memviz._words: the one owner of signs and plurals in memviz's text."""
from memviz._words import counted, plural, signed


def test_signed():
    assert [signed(n) for n in (0, 1, -1, 1024, -2048)] == ["0", "+1", "-1", "+1,024", "-2,048"]


def test_plural_and_counted():
    assert [plural(n, "arena") for n in (0, 1, 2, -1)] == ["arenas", "arena", "arenas", "arena"]
    assert plural(1, "is", "are") == "is" and plural(3, "is", "are") == "are"
    assert counted(1, "arena") == "1 arena"
    assert counted(2048, "live block") == "2,048 live blocks"
