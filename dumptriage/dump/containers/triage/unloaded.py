"""Unloaded drivers in a triage minidump (MmUnloadedDrivers, copied at UnloadedDriversOffset).

The section is ``dump_unloaded_drivers_list32/64`` in formats/windows_triage.ksy: a count,
then DUMP_UNLOADED_DRIVERS32/64 entries, whose offsets come, with the kernel ring's
UNLOADED_DRIVERS, from dump/kernel/unloaded.py (dump-format.md section 3.6; x64 settled
in section 12.1):

- 64-bit (x64 and ARM64), 0x38-byte entries; the count is a u64 (section 12.1: 8 + 4 x
  0x38 is exactly the section extent).
- x86, 0x28-byte entries. The count width is open (section 3.6). We try the .ksy's 4
  bytes first, because dbgeng's own triage writer reserves ``sizeof(ULONG) +
  MI_UNLOADED_DRIVERS * sizeof(DUMP_UNLOADED_DRIVERS32)`` for the section, then 8; a
  width wins when its count is within the cap and every entry validates (see
  ``_entry``). A wrong width shifts every entry by 4 bytes, which puts the zero
  UNICODE_STRING buffer where the name should start and an unaligned value where
  StartAddress should be, so it fails validation.

The name is the inline WCHAR[12] copy: the writer zeroes Name.Buffer (section 12.1), and
the copy is not NUL-terminated when it is 12 characters long (``mcupdate.dll``), so longer
names come out truncated to 12 characters, as WinDbg shows them. The section carries no
unload time.

Entries are read with struct at the .ksy's offsets (DESIGN convention 3): the count width
is decided by reading the table once per candidate width, which the Kaitai list type
(its count fixed to one width, and read eagerly whatever the count says) cannot do.
"""

from __future__ import annotations

from dataclasses import dataclass

import kaitaistruct

from dumptriage.dump.containers.triage.bounds import (
    entries_that_fit,
    is_image_range,
    section_anomaly,
)
from dumptriage.dump.containers.triage.header import TriageHeader
from dumptriage.dump.kernel.unloaded import (
    COPY_LAYOUT,
    RING_SLOTS,
    UnloadedLayout,
    address_range,
)
from dumptriage.formats.windows_triage import WindowsTriage
from dumptriage.model.anomaly import Anomaly
from dumptriage.model.dump import UnloadedModule

# The copy holds at most the kernel ring's MI_UNLOADED_DRIVERS = 50 slots.
MAX_UNLOADED = RING_SLOTS


def _count_width(list_type: type) -> int:
    """Bytes of the count, as the generated parser reads it: an empty list is its count."""
    stream = kaitaistruct.KaitaiStream(kaitaistruct.BytesIO(bytes(8)))
    list_type(stream)
    return int(stream.pos())


# Count widths to try: the .ksy's, then (x86 only, section 3.6 leaves it open) a u64.
COUNT_WIDTHS = {64: (_count_width(WindowsTriage.DumpUnloadedDriversList64),),
                32: (_count_width(WindowsTriage.DumpUnloadedDriversList32), 8)}


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
    layout = COPY_LAYOUT[pointer_bits]
    readings = [r for w in COUNT_WIDTHS[pointer_bits]
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
    readable = entries_that_fit(len(data), start + width, layout.size, count, MAX_UNLOADED)
    first = start + width
    entries = [_entry(data, first + i * layout.size, layout, pointer_bits)
               for i in range(readable)]
    return _Reading(width, count, entries)


def _entry(data: memoryview, at: int, layout: UnloadedLayout,
           pointer_bits: int) -> UnloadedModule | None:
    assert layout.inline_name is not None
    name_at, name_size = layout.inline_name
    name = _inline_name(bytes(data[at + name_at : at + name_at + name_size]))
    low, high = address_range(data, at, layout)
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
