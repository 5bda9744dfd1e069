"""How memviz's text puts numbers into words: one owner for signs and plurals, so the text
report, the HTML page and the tour never disagree on "1 arena is" or "+1,024"."""
from __future__ import annotations


def signed(n: int) -> str:
    """A change as text: ``+1,024``, ``-3``, and ``0`` (no sign on no change)."""
    return f"{n:+,}" if n else "0"


def plural(count: int, singular: str, plural_form: str | None = None) -> str:
    """The word that goes with ``count``: ``plural(1, "arena")`` is ``arena``,
    ``plural(2, "arena")`` is ``arenas``, ``plural(2, "is", "are")`` is ``are``."""
    if abs(count) == 1:
        return singular
    return plural_form if plural_form is not None else singular + "s"


def counted(count: int, singular: str, plural_form: str | None = None) -> str:
    """``1 arena``, ``2,048 arenas``: the count with its noun."""
    return f"{count:,} {plural(count, singular, plural_form)}"
