"""Hand-built triage-minidump pieces for the triage reader tests, and tests of the builder.

The builder writes with its own literal offsets taken from dump-format.md sections 3.6,
5.2 and 12.1, never through the reader's layout tables, so a layout slip cannot hide on
both sides (DESIGN.md convention 2).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, fields, replace
from typing import Any

from dumptriage.dump.containers.triage.header import TriageHeader

LIST_AT = 0x100  # where the fixtures put the driver list / unloaded section


def header(**values: int) -> TriageHeader:
    """A TriageHeader with every field zero except ``values``."""
    zero: dict[str, Any] = {f.name: 0 for f in fields(TriageHeader)}
    return replace(TriageHeader(**zero), **values)


def dump_string(text: str, unit: str = "chars") -> bytes:
    """DUMP_STRING: Length u32 (chars or bytes), UTF-16LE text, NUL, padded to 8 bytes."""
    body = text.encode("utf-16-le")
    length = len(text) if unit == "chars" else len(body)
    raw = struct.pack("<I", length) + body + b"\0\0"
    return raw + b"\0" * (-len(raw) % 8)


@dataclass(frozen=True)
class Driver:
    path: str
    base: int
    size: int
    checksum: int = 0x1234
    timestamp: int = 0x5F000000


def driver_entry(bits: int, name_offset: int, drv: Driver, stride: int) -> bytes:
    entry = bytearray(stride)
    struct.pack_into("<I", entry, 0, name_offset)
    if bits == 64:  # DriverNameOffset, pad, KLDR64 at +8 (DllBase +0x30 -> 0x38, ...)
        struct.pack_into("<Q", entry, 0x38, drv.base)
        struct.pack_into("<I", entry, 0x48, drv.size)
        struct.pack_into("<I", entry, 0x80, drv.checksum)
        struct.pack_into("<I", entry, 0x88, drv.timestamp)
    else:  # DriverNameOffset, KLDR32 at +4 (DllBase +0x18 -> 0x1C, ...)
        struct.pack_into("<I", entry, 0x1C, drv.base)
        struct.pack_into("<I", entry, 0x24, drv.size)
        struct.pack_into("<I", entry, 0x44, drv.checksum)
        struct.pack_into("<I", entry, 0x48, drv.timestamp)
    return bytes(entry)


def driver_file(bits: int, drivers: list[Driver], stride: int, *, unit: str = "chars",
                gap: int = 0, count: int | None = None) -> tuple[memoryview, TriageHeader]:
    """A file with a driver list at LIST_AT and the string pool ``gap`` bytes after it."""
    pool_at = LIST_AT + stride * len(drivers) + gap
    pool = bytearray()
    entries = bytearray()
    for drv in drivers:
        entries += driver_entry(bits, pool_at + len(pool), drv, stride)
        pool += dump_string(drv.path, unit)
    image = bytearray(LIST_AT) + entries + bytearray(gap) + pool + bytearray(0x10)
    hdr = header(driver_list_offset=LIST_AT, driver_count=len(drivers) if count is None
                 else count, string_pool_offset=pool_at, string_pool_size=len(pool))
    return memoryview(bytes(image)), hdr


@dataclass(frozen=True)
class Unloaded:
    name: str
    start: int
    end: int


def unloaded_file(bits: int, items: list[Unloaded], *, width: int = 8,
                  count: int | None = None) -> tuple[memoryview, TriageHeader]:
    """Count (``width`` bytes) then DUMP_UNLOADED_DRIVERS32/64 entries at LIST_AT."""
    body = bytearray((len(items) if count is None else count).to_bytes(width, "little"))
    for item in items:
        inline = item.name[:12].encode("utf-16-le").ljust(24, b"\0")
        name_len = 2 * len(item.name)
        if bits == 64:  # UNICODE_STRING64 (Buffer 0), WCHAR[12], Start u64, End u64
            body += struct.pack("<HH4xQ", name_len, name_len, 0) + inline
            body += struct.pack("<QQ", item.start, item.end)
        else:  # UNICODE_STRING32, WCHAR[12], Start u32, End u32
            body += struct.pack("<HHI", name_len, name_len, 0) + inline
            body += struct.pack("<II", item.start, item.end)
    image = bytearray(LIST_AT) + body + bytearray(0x40)
    return memoryview(bytes(image)), header(unloaded_drivers_offset=LIST_AT)


# -- the builder itself --------------------------------------------------------------------


def test_dump_string_pads_to_eight_and_counts_chars() -> None:
    raw = dump_string("ab")
    assert raw == b"\x02\0\0\0" + b"a\0b\0" + b"\0\0" + b"\0" * 6
    assert dump_string("ab", "bytes")[:4] == b"\x04\0\0\0"


def test_entry_sizes_match_the_sheet() -> None:
    drv = Driver("x", 0x1000, 0x2000)
    assert len(driver_entry(64, 0, drv, 0x90)) == 0x90
    assert len(driver_entry(32, 0, drv, 0x4C)) == 0x4C
    data, _ = unloaded_file(64, [Unloaded("a.sys", 0x1000, 0x2000)])
    assert len(data) == LIST_AT + 8 + 0x38 + 0x40
    data, _ = unloaded_file(32, [Unloaded("a.sys", 0x1000, 0x2000)], width=4)
    assert len(data) == LIST_AT + 4 + 0x28 + 0x40
