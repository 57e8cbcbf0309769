"""The unloaded-driver entry, in the kernel's ring and in a minidump's copy of it.

Both forms are described once, in formats/windows_triage.ksy, and both readers take their
offsets from there through ``UnloadedLayout``:

- UNLOADED_DRIVERS32/64, the slots of MmUnloadedDrivers in memory (read here): Name
  UNICODE_STRING, StartAddress, EndAddress, CurrentTime; 0x28 bytes on x64, 0x18 on x86
  (dump-format.md section 5.3 from ntiodump.h). Empty slots have a zero name.
- DUMP_UNLOADED_DRIVERS32/64, the triage writer's copy (read by
  containers/triage/unloaded.py): Name, an inline DriverName WCHAR[12], StartAddress,
  EndAddress; 0x38 / 0x28 bytes (section 3.6).

KDBG+0x220 holds the address of the kernel variable MmUnloadedDrivers, which points at
the array of UNLOADED_DRIVERS.
"""

from __future__ import annotations

import struct
from collections.abc import Callable

from dumptriage.dump.containers.flat import FlatType, flat_size
from dumptriage.dump.containers.header import filetime_to_iso
from dumptriage.dump.kernel.layouts import field_spans
from dumptriage.dump.kernel.modules import read_pointer, read_unicode_string
from dumptriage.formats import windows_triage_flat as ksy
from dumptriage.model.dump import UnloadedModule
from dumptriage.model.record import Record

ReadBytes = Callable[[int, int], bytes | None]

# MI_UNLOADED_DRIVERS: the ring has 50 slots on every Windows version we know of (dbgeng's
# triage writer sizes the minidump's section with the same constant); the sheet leaves
# the number open, so slots past 50 are never read (and an empty slot does not end the
# walk: the ring fills from slot 0 and wraps).
RING_SLOTS = 50


class UnloadedLayout(Record):
    """Offsets inside one unloaded-driver entry, taken from its .ksy type."""

    size: int
    name: int  # the Name UNICODE_STRING
    start: int  # StartAddress; EndAddress follows it
    address_format: str  # StartAddress and EndAddress, back to back
    inline_name: tuple[int, int] | None  # DriverName WCHAR[12] (offset, bytes): copy only
    current_time: int | None  # CurrentTime FILETIME (the kernel's ring only)


def unloaded_layout(table: FlatType, pointer_bits: int) -> UnloadedLayout:
    spans = field_spans(table)
    at = {name: offset for name, (offset, _) in spans.items()}
    pointer = "Q" if pointer_bits == 64 else "I"
    assert at["end_address"] == at["start_address"] + pointer_bits // 8
    return UnloadedLayout(size=flat_size(table), name=at["name"], start=at["start_address"],
                          address_format="<" + 2 * pointer,
                          inline_name=spans.get("driver_name"),
                          current_time=at.get("current_time"))


RING_LAYOUT = {64: unloaded_layout(ksy.UNLOADED_DRIVERS64, 64),
               32: unloaded_layout(ksy.UNLOADED_DRIVERS32, 32)}
COPY_LAYOUT = {64: unloaded_layout(ksy.DUMP_UNLOADED_DRIVERS64, 64),
               32: unloaded_layout(ksy.DUMP_UNLOADED_DRIVERS32, 32)}


def address_range(blob: bytes | memoryview, at: int, layout: UnloadedLayout,
                  ) -> tuple[int, int]:
    """(StartAddress, EndAddress) of the entry at ``at``."""
    start, end = struct.unpack_from(layout.address_format, blob, at + layout.start)
    return start, end


def read_unloaded(read: ReadBytes, variable: int, bits: int) -> list[UnloadedModule]:
    """Entries of the ring behind the MmUnloadedDrivers variable at ``variable``."""
    array = read_pointer(read, variable, bits) if variable else None
    if not array:
        return []
    layout = RING_LAYOUT[bits]
    assert layout.current_time is not None
    blob = read(array, layout.size * RING_SLOTS)
    if blob is None:
        return []
    found = []
    for slot in range(RING_SLOTS):
        at = slot * layout.size
        start, end = address_range(blob, at, layout)
        (when,) = struct.unpack_from("<Q", blob, at + layout.current_time)
        name = read_unicode_string(read, array + at + layout.name, bits)
        if name and start < end:
            found.append(UnloadedModule(name=name, start=start, end=end,
                                        unload_time=filetime_to_iso(when)))
    return found
