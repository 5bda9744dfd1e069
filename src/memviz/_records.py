"""The records memviz's C core writes into buffers, as ``struct`` formats and field names.

Each record spells one struct of ``csrc/memviz.h`` field by field (every field a
``uint64_t``); ``memviz._native`` checks at import that the struct has exactly these
fields, in this order, and this size, so a field added or moved on one side only stops
the C core from loading instead of being misread. Kept apart from ``_native`` because the
values that unpack the records lazily (``memviz.values.pymalloc``) may not import the C
boundary.
"""
from __future__ import annotations

import struct
from typing import Iterator


class Record:
    """A record of native uint64 fields, with the C struct it mirrors and the ``struct``
    format that unpacks it (``count`` records in a row: an array field)."""

    __slots__ = ("c_type", "fields", "count", "format")

    def __init__(self, c_type: str, fields: tuple[str, ...], count: int = 1):
        self.c_type = c_type
        self.fields = fields
        self.count = count
        self.format = struct.Struct("=" + "Q" * (len(fields) * count))

    @property
    def size(self) -> int:
        return self.format.size

    def unpack(self, buffer) -> tuple[int, ...]:
        return self.format.unpack(buffer)

    def iter_unpack(self, buffer) -> Iterator[tuple[int, ...]]:
        return self.format.iter_unpack(buffer)


#: One arena of the map: address, slot, pools, free pools, its pools in the pool records.
ARENA_RECORD = Record("mv_pymalloc_arena",
                      ("address", "index", "pools_total", "pools_free", "pools_used"))
#: One pool in use: Pool's fields, in order.
POOL_RECORD = Record("mv_pymalloc_pool",
                     ("address", "size_class", "block_size", "blocks_in_use", "capacity"))
#: mv_pymalloc_stats.classes: (pools, in use, free) for each of the 64 size classes.
CLASS_RECORDS = Record("mv_pymalloc_class", ("pools", "blocks_in_use", "blocks_free"), 64)

ALL = (ARENA_RECORD, POOL_RECORD, CLASS_RECORDS)
