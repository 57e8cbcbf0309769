"""MmUnloadedDrivers: the kernel's ring of recently unloaded drivers (memory dumps).

KDBG+0x220 holds the address of the kernel variable MmUnloadedDrivers, which points at an
array of UNLOADED_DRIVERS (x64: Name UNICODE_STRING64 +0x00, StartAddress +0x10,
EndAddress +0x18, CurrentTime +0x20, 0x28 bytes; x86: +0x00, +0x08, +0x0C, +0x10, 0x18
bytes; dump-format.md section 5.3 from ntiodump.h). Empty slots have a zero name.
"""

from __future__ import annotations

import struct
from collections.abc import Callable

from dumptriage.dump.containers.header import filetime_to_iso
from dumptriage.dump.kernel.modules import read_pointer, read_unicode_string
from dumptriage.model.dump import UnloadedModule

ReadBytes = Callable[[int, int], bytes | None]

# MI_UNLOADED_DRIVERS: the ring has 50 slots on every Windows version we know of; the
# sheet leaves the number open, so slots past 50 are never read (and an empty slot
# does not end the walk: the ring fills from slot 0 and wraps).
RING_SLOTS = 50
_LAYOUT = {64: (0x28, "<QQQ", 0x10), 32: (0x18, "<IIQ", 0x08)}


def read_unloaded(read: ReadBytes, variable: int, bits: int) -> list[UnloadedModule]:
    """Entries of the ring behind the MmUnloadedDrivers variable at ``variable``."""
    array = read_pointer(read, variable, bits) if variable else None
    if not array:
        return []
    size, fmt, fields_at = _LAYOUT[bits]
    blob = read(array, size * RING_SLOTS)
    if blob is None:
        return []
    found = []
    for slot in range(RING_SLOTS):
        at = slot * size
        start, end, when = struct.unpack_from(fmt, blob, at + fields_at)
        name = read_unicode_string(read, array + at, bits)
        if name and start < end:
            found.append(UnloadedModule(name=name, start=start, end=end,
                                        unload_time=filetime_to_iso(when)))
    return found
