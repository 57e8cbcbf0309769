"""Unloaded drivers in a triage minidump (MmUnloadedDrivers, copied at UnloadedDriversOffset).

Layout (dump-format.md section 3.6, S6's DUMP_UNLOADED_DRIVERS32/64; x64 settled in
section 12.1): a count, then entries of

- 64-bit (x64 and ARM64), 0x38 bytes: Name UNICODE_STRING64, DriverName WCHAR[12],
  StartAddress u64, EndAddress u64; the count is a u64 (section 12.1: 8 + 4 x 0x38 is
  exactly the section extent).
- x86, 0x28 bytes: Name UNICODE_STRING32, DriverName WCHAR[12], StartAddress u32,
  EndAddress u32. The count width is open (section 3.6). We try 4 bytes first, because
  dbgeng's own triage writer reserves ``sizeof(ULONG) + MI_UNLOADED_DRIVERS *
  sizeof(DUMP_UNLOADED_DRIVERS32)`` for the section, then 8; a width wins when its count
  is within the cap and every entry validates (see ``_entry``). A wrong width shifts every
  entry by 4 bytes, which puts the zero UNICODE_STRING buffer where the name should start
  and an unaligned value where StartAddress should be, so it fails validation.

The name is the inline WCHAR[12] copy: the writer zeroes Name.Buffer (section 12.1), and
the copy is not NUL-terminated when it is 12 characters long (``mcupdate.dll``), so longer
names come out truncated to 12 characters, as WinDbg shows them. The section carries no
unload time.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from dumptriage.dump.containers.triage.bounds import (
    entries_that_fit,
    is_image_range,
    section_anomaly,
)
from dumptriage.dump.containers.triage.header import TriageHeader
from dumptriage.model.anomaly import Anomaly
from dumptriage.model.dump import UnloadedModule

# MmUnloadedDrivers is a ring of MI_UNLOADED_DRIVERS = 50 entries (the constant dbgeng's
# writer uses to size the section; section 5.3 believes 50 too).
MAX_UNLOADED = 50
INLINE_NAME_CHARS = 12


@dataclass(frozen=True)
class UnloadedLayout:
    count_widths: tuple[int, ...]
    entry_size: int
    name: int  # offset of the inline WCHAR[12]
    start: int
    address_format: str  # StartAddress and EndAddress, back to back


UNLOADED_64 = UnloadedLayout((8,), 0x38, 0x10, 0x28, "<QQ")
UNLOADED_32 = UnloadedLayout((4, 8), 0x28, 0x08, 0x20, "<II")


@dataclass(frozen=True)
class _Reading:
    width: int
    count: int
    entries: list[UnloadedModule | None]

    @property
    def valid(self) -> int:
        return sum(e is not None for e in self.entries)


def read_unloaded_drivers(header: TriageHeader, data: memoryview, pointer_bits: int,
                          ) -> tuple[list[UnloadedModule], list[Anomaly]]:
    """The unloaded-driver list, in the order the kernel's ring holds it."""
    start = header.unloaded_drivers_offset
    layout = UNLOADED_64 if pointer_bits == 64 else UNLOADED_32
    readings = [r for w in layout.count_widths
                if (r := _read(data, start, w, layout, pointer_bits)) is not None]
    if not readings:
        return [], []
    best = next((r for r in readings if r.count <= MAX_UNLOADED and r.valid == r.count),
                max(readings, key=lambda r: r.valid))
    found: list[Anomaly] = []
    if best.valid < best.count:
        found.append(section_anomaly(
            "TRIAGE_DUMP UnloadedDrivers",
            f"count {best.count} (u{8 * best.width}); {best.valid} entries validate "
            f"(cap {MAX_UNLOADED}); the rest are skipped"))
    return [e for e in best.entries if e is not None], found


def _read(data: memoryview, start: int, width: int, layout: UnloadedLayout,
          pointer_bits: int) -> _Reading | None:
    if start <= 0 or start + width > len(data):
        return None
    count = int.from_bytes(data[start : start + width], "little")
    readable = entries_that_fit(len(data), start + width, layout.entry_size, count,
                                MAX_UNLOADED)
    first = start + width
    entries = [_entry(data, first + i * layout.entry_size, layout, pointer_bits)
               for i in range(readable)]
    return _Reading(width, count, entries)


def _entry(data: memoryview, at: int, layout: UnloadedLayout,
           pointer_bits: int) -> UnloadedModule | None:
    name = _inline_name(bytes(data[at + layout.name : at + layout.name
                                   + 2 * INLINE_NAME_CHARS]))
    low, high = struct.unpack_from(layout.address_format, data, at + layout.start)
    if name is None or high <= low or not is_image_range(low, high - low, pointer_bits):
        return None
    return UnloadedModule(name=name, start=low, end=high)


def _inline_name(raw: bytes) -> str | None:
    """WCHAR[12], NUL-padded, with no NUL when the name fills all 12 characters."""
    try:
        text = raw.decode("utf-16-le").split("\0", 1)[0]
    except UnicodeDecodeError:
        return None
    return text if text and text.isprintable() else None
