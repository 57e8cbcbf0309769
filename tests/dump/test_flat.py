"""The flattened struct formats read exactly what the Kaitai parsers read (one .ksy)."""

from __future__ import annotations

import struct
from pathlib import Path

import kaitaistruct
import pytest

from dumptriage.dump.containers.flat import flat_size, read_flat
from dumptriage.formats import windows_context_flat as ctx_flat
from dumptriage.formats import windows_crash_dump_flat as flat
from dumptriage.formats.windows_context import WindowsContext
from dumptriage.formats.windows_crash_dump import WindowsCrashDump

SAMPLES = sorted(Path(__file__).resolve().parents[2].glob("samples/*/MEMORY.DMP"))


def _kaitai_fields(obj: object, names: tuple[tuple[str, int], ...]) -> dict[str, object]:
    out: dict[str, object] = {}
    for name, repeat in names:
        value = getattr(obj, name)
        out[name] = tuple(value) if repeat else value
    return out


@pytest.mark.parametrize("path", SAMPLES, ids=[p.parent.name for p in SAMPLES])
def test_header_fields_equal_the_kaitai_parse(path: Path) -> None:
    data = path.read_bytes()
    root = WindowsCrashDump(kaitaistruct.KaitaiStream(kaitaistruct.BytesIO(data)))
    table = flat.DUMP_HEADER64 if root.is_64 else flat.DUMP_HEADER32
    ours = vars(read_flat(table, data, 8))
    theirs = _kaitai_fields(root.header, table[1])
    # Sub-types read from fixed-size substreams (the exception record) are bytes here.
    theirs["exception"] = data[8 + _offset_of(table, "exception"):][:len(ours["exception"])]
    assert ours == theirs


def _offset_of(table: tuple[str, tuple[tuple[str, int], ...], object], field: str) -> int:
    """Offset of ``field`` in the flat record: the size of the codes before it."""
    codes, number = [], ""
    for char in table[0][1:]:  # '<II4s3Q' -> ['I', 'I', '4s', '3Q'], one per field
        if char.isdigit():
            number += char
        else:
            codes.append(number + char)
            number = ""
    names = [name for name, _ in table[1]]
    return struct.calcsize("<" + "".join(codes[: names.index(field)]))


def test_header_sizes_match_the_on_disk_headers() -> None:
    # dump-format.md section 1: DUMP_HEADER32 is 0x1000 bytes, DUMP_HEADER64 0x2000; the
    # flat types start after the 8-byte signature.
    assert flat_size(flat.DUMP_HEADER32) == 0x1000 - 8
    assert flat_size(flat.DUMP_HEADER64) == 0x2000 - 8
    # The BMP header's bitmap starts at +0x38 (a constant instance of the .ksy).
    assert dict(flat.BITMAP_DUMP[2]) == {"ofs_bitmap": 0x38}


@pytest.mark.parametrize(("table", "kaitai"), [
    (ctx_flat.CONTEXT_X86, WindowsContext.ContextX86),
    (ctx_flat.CONTEXT_AMD64, WindowsContext.ContextAmd64),
], ids=["x86", "amd64"])
def test_context_fields_equal_the_kaitai_parse(
        table: tuple[str, tuple[tuple[str, int], ...], object], kaitai: type) -> None:
    blob = bytes((i * 7 + 3) & 0xFF for i in range(0x500))
    ours = vars(read_flat(table, blob, 0))
    parsed = kaitai(kaitaistruct.KaitaiStream(kaitaistruct.BytesIO(blob)))
    assert ours == _kaitai_fields(parsed, table[1])
