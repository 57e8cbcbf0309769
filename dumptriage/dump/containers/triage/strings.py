"""DUMP_STRING, the entries of a minidump's string pool (dump-format.md section 3.6).

Layout: Length u32, then UTF-16LE text, then a NUL character; each string 8-byte aligned.
S6's comment says Length is "IN BYTES"; S8 and S9 read it as UTF-16 characters, and on the
real Windows 10 minidump all 151 strings are characters (section 12.1, "DUMP_STRING length
unit"). We read characters first and check that the character at [Length] is NUL; only
if that reading fails do we try bytes, with the same NUL check. The two readings cannot
both pass, because a valid text holds no NUL and the bytes reading needs one at
character Length / 2 of the characters reading.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import Literal

# UNICODE_STRING.Length is a u16 byte count, so no kernel name exceeds 0x7FFF characters.
MAX_NAME_CHARS = 0x7FFF

_U32 = struct.Struct("<I")


@dataclass(frozen=True)
class DumpString:
    text: str
    unit: Literal["chars", "bytes"]


def read_dump_string(data: memoryview, offset: int, pool_start: int, pool_end: int,
                     ) -> DumpString | None:
    """The DUMP_STRING at file offset ``offset`` inside the pool, or None if invalid."""
    if not pool_start <= offset or offset + _U32.size > pool_end:
        return None
    (length,) = _U32.unpack_from(data, offset)
    text = _text(data, offset + _U32.size, length, pool_end)
    if text is not None:
        return DumpString(text, "chars")
    if length % 2 == 0:
        text = _text(data, offset + _U32.size, length // 2, pool_end)
        if text is not None:
            return DumpString(text, "bytes")
    return None


def _text(data: memoryview, start: int, chars: int, pool_end: int) -> str | None:
    """``chars`` UTF-16 characters followed by a NUL, all inside the pool; else None."""
    if not 0 < chars <= MAX_NAME_CHARS or start + 2 * chars + 2 > pool_end:
        return None
    if bytes(data[start + 2 * chars : start + 2 * chars + 2]) != b"\0\0":
        return None
    try:
        text = bytes(data[start : start + 2 * chars]).decode("utf-16-le")
    except UnicodeDecodeError:  # a lone surrogate: not text the kernel wrote
        return None
    return text if text.isprintable() else None
