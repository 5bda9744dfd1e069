"""memviz's values: what the readings return, immutable and independent of the process
they describe -- snapshots and their diffs, the collector's generations, pymalloc's
layout, statistics and arenas, capabilities, fragmentation, arena maps.

A value imports no reading and not the C core (``memviz._native``): it is built from
figures. Each is public where a reader looks for it (``memviz.snapshot.Snapshot``,
``memviz.pymalloc.Pool`` ...; its ``__module__`` says so), next to the readings that
make it. Values render themselves through ``memviz.render`` and save themselves through
``memviz.formats``.
"""


def public(module: str):
    """Class decorator (outermost, after ``@dataclass``): names ``module`` -- where the
    class is public -- as its ``__module__``, for its repr, pickles and the type names
    snapshots count it by."""
    def name(cls: type) -> type:
        cls.__module__ = module
        return cls

    return name
