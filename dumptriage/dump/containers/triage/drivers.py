"""The loaded-driver list of a triage minidump: DUMP_DRIVER_ENTRY32/64 + the string pool.

Each entry is DriverNameOffset u32 (the file offset of a DUMP_STRING in the pool), then
a copy of the driver's KLDR_DATA_TABLE_ENTRY: at +4 on x86, at +8 on 64-bit after 4
bytes of alignment (dump-format.md section 3.6). The KLDR copy's links and both
UNICODE_STRINGs are zeroed by the writer, so names come only from the pool (section 12.1,
"DUMP_DRIVER_ENTRY64 contents"). The entries are in load order.

The entry stride is decided from the data: the sources disagree (S8/S9: 0x90; an
independent parser: 0x98 before Win8, 0xA8 after), and section 12.1 settles 0x90 for
build 19041 only. See ``choose_stride``.
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
from dumptriage.dump.containers.triage.strings import read_dump_string
from dumptriage.model.anomaly import Anomaly
from dumptriage.model.dump import Module

# Windows 10/11 systems load ~150-400 drivers; DriverCount above this is corrupt.
MAX_DRIVERS = 0x1000


@dataclass(frozen=True)
class EntryLayout:
    """Field offsets inside one DUMP_DRIVER_ENTRY (the KLDR offset plus the entry header)."""

    dll_base: int
    dll_base_format: str
    size_of_image: int
    checksum: int
    timestamp: int
    min_stride: int
    strides: tuple[int, ...]  # the candidates the sources name, tried after the derived one


# 64-bit: KLDR64 at +8; DllBase 0x30, SizeOfImage 0x40, CheckSum 0x78, TimeDateStamp 0x80
# (section 5.2, S8/S9; section 12.1 found exactly these four non-zero). Also ARM64.
LAYOUT_64 = EntryLayout(0x38, "<Q", 0x48, 0x80, 0x88, 0x8C, (0x90, 0x98, 0xA8))
# x86: KLDR32 at +4; DllBase 0x18, SizeOfImage 0x20, CheckSum 0x40, TimeDateStamp 0x44
# (section 5.2, S9's KLDR32 and S12); 4 + 0x48 = 0x4C (section 3.6).
LAYOUT_32 = EntryLayout(0x1C, "<I", 0x24, 0x44, 0x48, 0x4C, (0x4C,))


@dataclass(frozen=True)
class StrideChoice:
    stride: int
    valid: int  # entries that validate at this stride
    readable: int  # entries that fit in the file at this stride


def read_drivers(header: TriageHeader, data: memoryview, pointer_bits: int,
                 ) -> tuple[list[Module], list[Anomaly]]:
    """The driver list in load order, plus anomalies for what had to be skipped."""
    count, start = header.driver_count, header.driver_list_offset
    if count == 0 or start == 0:
        return [], []
    layout = LAYOUT_64 if pointer_bits == 64 else LAYOUT_32
    pool = _pool_bounds(header, len(data))
    choice = choose_stride(header, data, layout, pool, pointer_bits)
    found: list[Anomaly] = []
    if choice.valid < count:
        found.append(section_anomaly(
            "TRIAGE_DUMP DriverList",
            f"{count} drivers claimed; {choice.valid} entries validate at the best stride "
            f"{choice.stride:#x} ({choice.readable} fit in the file); the rest are skipped"))
    modules: list[Module] = []
    for index in range(choice.readable):
        module = read_entry(data, start + index * choice.stride, layout, pool, pointer_bits)
        if module is not None:
            modules.append(module)
    return modules, found


def _pool_bounds(header: TriageHeader, file_len: int) -> tuple[int, int]:
    """[start, end) of the string pool, clipped to the file."""
    start = header.string_pool_offset
    return start, min(start + header.string_pool_size, file_len)


def stride_candidates(header: TriageHeader, layout: EntryLayout) -> list[int]:
    """The stride the data suggests first, then the sources' candidates.

    The pool directly follows the list (section 12.1: 0x54F0 / 151 = 0x90 exactly); the
    writer may pad the list to 8 bytes (x86: 151 x 0x4C is not a multiple of 8), so up to
    7 bytes of slack are accepted.
    """
    span = header.string_pool_offset - header.driver_list_offset
    derived = span // header.driver_count if header.driver_count and span > 0 else 0
    candidates = []
    if (layout.min_stride <= derived <= 4 * layout.min_stride and derived % 4 == 0
            and span - derived * header.driver_count < 8):
        candidates.append(derived)
    candidates += [s for s in layout.strides if s not in candidates]
    return candidates


def choose_stride(header: TriageHeader, data: memoryview, layout: EntryLayout,
                  pool: tuple[int, int], pointer_bits: int) -> StrideChoice:
    """The first candidate at which every entry validates, else the one with most valid."""
    best: StrideChoice | None = None
    for stride in stride_candidates(header, layout):
        readable = entries_that_fit(len(data), header.driver_list_offset, stride,
                                    header.driver_count, MAX_DRIVERS)
        valid = sum(
            read_entry(data, header.driver_list_offset + i * stride, layout, pool,
                       pointer_bits) is not None
            for i in range(readable))
        choice = StrideChoice(stride, valid, readable)
        if valid == header.driver_count:
            return choice
        if best is None or valid > best.valid:
            best = choice
    assert best is not None  # layout.strides is never empty
    return best


def read_entry(data: memoryview, at: int, layout: EntryLayout, pool: tuple[int, int],
               pointer_bits: int) -> Module | None:
    """One DUMP_DRIVER_ENTRY as a Module, or None when it does not validate."""
    if at + layout.min_stride > len(data):
        return None
    (name_offset,) = struct.unpack_from("<I", data, at)
    name = read_dump_string(data, name_offset, *pool)
    (base,) = struct.unpack_from(layout.dll_base_format, data, at + layout.dll_base)
    size, checksum, timestamp = (struct.unpack_from("<I", data, at + off)[0] for off in
                                 (layout.size_of_image, layout.checksum, layout.timestamp))
    if name is None or not is_image_range(base, size, pointer_bits):
        return None
    # The pool holds full paths (\SystemRoot\system32\ntoskrnl.exe, \??\C:\...); WinDbg's
    # module name is the part after the last backslash.
    return Module(name=name.text.rsplit("\\", 1)[-1], base=base, size=size,
                  timestamp=timestamp, checksum=checksum, path=name.text)


def kernel_base_anomalies(modules: list[Module], kern_base: int | None) -> list[Anomaly]:
    """The first loaded module is the kernel; its base must equal KDBG.KernBase."""
    if not modules or not kern_base or modules[0].base == kern_base:
        return []
    return [section_anomaly(
        "TRIAGE_DUMP DriverList",
        f"first driver {modules[0].name} is at {modules[0].base:#x} but KDBG.KernBase is "
        f"{kern_base:#x}")]
