"""Packed figures: snapshots keep their numbers as bytes of int64 (signed ``'q'``) or
uint64 (``'Q'``), which the collector does not track and which cost no object per number."""
from __future__ import annotations

from array import array
from typing import Iterable, Iterator


def pack(code: str, values: Iterable[int]) -> bytes:
    return array(code, values).tobytes()


def unpack(code: str, data: bytes) -> array:
    values = array(code)
    values.frombytes(data)
    return values


def rows(code: str, data: bytes, width: int) -> Iterator[tuple[int, ...]]:
    values = unpack(code, data)
    for i in range(0, len(values), width):
        yield tuple(values[i:i + width])
