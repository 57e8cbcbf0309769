"""DUMP_STRING, the entries of a minidump's string pool (dump-format.md section 3.6).

The layout is ``dump_string`` in formats/windows_triage.ksy, read through its generated
parser: Length u32, then UTF-16LE text, then a NUL character; each string 8-byte aligned.
S6's comment says Length is "IN BYTES"; S8 and S9 read it as UTF-16 characters, and on the
real Windows 10 minidump all 151 strings are characters (section 12.1, "DUMP_STRING length
unit"). We read characters first (the parser checks the NUL after the text); only if that
reading fails do we try bytes, with the same NUL check. The two readings cannot both
pass, because a valid text holds no NUL and the bytes reading needs one at character
Length / 2 of the characters reading.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import kaitaistruct

from dumptriage.formats.windows_triage import WindowsTriage

# UNICODE_STRING.Length is a u16 byte count, so no kernel name exceeds 0x7FFF characters.
MAX_NAME_CHARS = 0x7FFF
# Length, the longest text, its NUL: no string needs more of the pool than this.
_MAX_STRING_BYTES = 4 + 2 * MAX_NAME_CHARS + 2


@dataclass(frozen=True)
class DumpString:
    text: str
    unit: Literal["chars", "bytes"]


def read_dump_string(data: memoryview, offset: int, pool_start: int, pool_end: int,
                     ) -> DumpString | None:
    """The DUMP_STRING at file offset ``offset`` inside the pool, or None if invalid."""
    if not pool_start <= offset or offset + 4 > pool_end:
        return None
    # The parser reads from a copy bounded by the pool, so no reading can leave it.
    raw = bytes(data[offset : min(pool_end, offset + _MAX_STRING_BYTES)])
    text = _text(raw, in_bytes=False)
    if text is not None:
        return DumpString(text, "chars")
    text = _text(raw, in_bytes=True)
    return None if text is None else DumpString(text, "bytes")


def _text(raw: bytes, *, in_bytes: bool) -> str | None:
    """The text of one reading of Length; None when it does not parse or is no name."""
    try:
        string = WindowsTriage.DumpString(in_bytes, kaitaistruct.KaitaiStream(
            kaitaistruct.BytesIO(raw)))
    except (kaitaistruct.KaitaiStructError, EOFError, UnicodeDecodeError):
        # Past the pool, no NUL after the text, or a lone surrogate: not what the kernel
        # wrote.
        return None
    length = int(string.len_text)
    if in_bytes and length % 2:
        return None  # an odd byte count is half a character
    chars = length // 2 if in_bytes else length
    text = str(string.text)
    if not 0 < chars <= MAX_NAME_CHARS or not text.isprintable():
        return None
    return text
