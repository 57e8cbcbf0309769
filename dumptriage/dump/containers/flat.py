"""Read a fixed-size .ksy type through its flattened struct format (hot paths only).

``formats/flatten.js`` derives, from the same .ksy the Kaitai parsers come from, one
``struct`` format per fixed-size type (``dumptriage/formats/*_flat.py``). Opening a dump
then costs one ``unpack_from`` instead of a field-by-field Kaitai read; the field names are
the .ksy ids, so a record reads like the Kaitai object it stands for.
"""

from __future__ import annotations

import struct
from types import SimpleNamespace

TYPE_CHECKING = False  # see model/record.py: keeps `typing` off the open path
if TYPE_CHECKING:
    from typing import Any

FlatType = tuple[str, tuple[tuple[str, int], ...], tuple[tuple[str, int], ...]]

_COMPILED: dict[str, struct.Struct] = {}


def flat_size(table: FlatType) -> int:
    return _compiled(table[0]).size


def read_flat(table: FlatType, data: Any, offset: int) -> SimpleNamespace:
    """The record at ``offset``; struct.error when the buffer is too short."""
    fmt, fields, constants = table
    values = _compiled(fmt).unpack_from(data, offset)
    record: dict[str, Any] = dict(constants)
    at = 0
    for name, repeat in fields:
        if repeat:
            record[name] = values[at : at + repeat]
            at += repeat
        else:
            record[name] = values[at]
            at += 1
    return SimpleNamespace(**record)


def _compiled(fmt: str) -> struct.Struct:
    found = _COMPILED.get(fmt)
    if found is None:
        found = _COMPILED[fmt] = struct.Struct(fmt)
    return found
