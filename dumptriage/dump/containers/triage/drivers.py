"""The loaded-driver list of a triage minidump: DUMP_DRIVER_ENTRY32/64 + the string pool.

A DUMP_DRIVER_ENTRY is {DriverNameOffset, KLDR_DATA_TABLE_ENTRY} (dump-format.md section
3.6). Both halves are described once elsewhere and only combined here: the head (the name
offset and where the KLDR copy starts, +4 on x86, +8 on 64-bit) is
``dump_driver_entry32/64`` in formats/windows_triage.ksy; the KLDR offsets are the
``[ldr.*]`` tables of dump/kernel/layouts/kernel.toml that the PsLoadedModuleList walk
reads too. The KLDR copy's links and both UNICODE_STRINGs are zeroed by the writer, so
names come only from the pool (section 12.1, "DUMP_DRIVER_ENTRY64 contents"). The entries
are in load order.

The entry stride is decided from the data: the sources disagree (S8/S9: 0x90; an
independent parser: 0x98 before Win8, 0xA8 after), and section 12.1 settles 0x90 for
build 19041 only. See ``choose_stride``.

The entries are read with struct at offsets derived from those two descriptions (DESIGN
convention 3) rather than through the Kaitai classes: the stride search reads every entry
once per candidate stride, and a Kaitai object per entry costs about 7 times a struct
unpack (measured on the corpus minidump's tables).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from dumptriage.dump.containers.flat import FlatType
from dumptriage.dump.containers.triage.bounds import (
    entries_that_fit,
    is_image_range,
    section_anomaly,
)
from dumptriage.dump.containers.triage.header import TriageHeader
from dumptriage.dump.containers.triage.strings import read_dump_string
from dumptriage.dump.kernel.layouts import LdrLayout, field_offsets, flat_constant, ldr_layout
from dumptriage.formats import windows_triage_flat as ksy
from dumptriage.model.anomaly import Anomaly
from dumptriage.model.dump import Module

# Windows 10/11 systems load ~150-400 drivers; DriverCount above this is corrupt.
MAX_DRIVERS = 0x1000


@dataclass(frozen=True)
class EntryLayout:
    """Field offsets inside one DUMP_DRIVER_ENTRY (the KLDR offset plus the entry head)."""

    driver_name_offset: int
    dll_base: int
    dll_base_format: str
    size_of_image: int
    checksum: int
    timestamp: int
    min_stride: int
    strides: tuple[int, ...]  # the candidates the sources name, tried after the derived one


def entry_layout(head: FlatType, ldr: LdrLayout, pointer_bits: int,
                 strides: tuple[int, ...]) -> EntryLayout:
    """The entry's offsets: the .ksy head, then the KLDR copy at its ``ofs_ldr_entry``."""
    at = flat_constant(head, "ofs_ldr_entry")
    return EntryLayout(
        driver_name_offset=field_offsets(head)["ofs_driver_name"],
        dll_base=at + ldr.dll_base, dll_base_format="<Q" if pointer_bits == 64 else "<I",
        size_of_image=at + ldr.size_of_image, checksum=at + ldr.checksum,
        timestamp=at + ldr.timestamp,
        # An entry must hold the KLDR copy up to TimeDateStamp, the last field we read.
        min_stride=at + ldr.timestamp + 4, strides=strides)


def _ldr(arch: str) -> LdrLayout:
    layout = ldr_layout(arch)
    assert layout is not None, f"kernel.toml has no [ldr.{arch}]"
    return layout


# 64-bit (x64 and ARM64: KLDR_DATA_TABLE_ENTRY64 is one layout on both; the ARM64 corpus
# minidump validates with it): DllBase +0x38, SizeOfImage +0x48, CheckSum +0x80,
# TimeDateStamp +0x88 (section 12.1 found exactly these four non-zero); strides 0x90
# (S8/S9, section 12.1), 0x98 and 0xA8 (the independent parser).
LAYOUT_64 = entry_layout(ksy.DUMP_DRIVER_ENTRY64, _ldr("x64"), 64, (0x90, 0x98, 0xA8))
# x86: 4 + sizeof(KLDR_DATA_TABLE_ENTRY32) 0x48 = 0x4C (section 3.6).
LAYOUT_32 = entry_layout(ksy.DUMP_DRIVER_ENTRY32, _ldr("x86"), 32, (0x4C,))


@dataclass(frozen=True)
class StrideChoice:
    stride: int
    valid: int  # entries that validate at this stride
    readable: int  # entries that fit in the file at this stride
    modules: tuple[Module, ...] = ()  # the entries that validate, in load order


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
    return list(choice.modules), found


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
        entries = (read_entry(data, header.driver_list_offset + i * stride, layout, pool,
                              pointer_bits) for i in range(readable))
        modules = tuple(m for m in entries if m is not None)
        choice = StrideChoice(stride, len(modules), readable, modules)
        if choice.valid == header.driver_count:
            return choice
        if best is None or choice.valid > best.valid:
            best = choice
    assert best is not None  # layout.strides is never empty
    return best


def read_entry(data: memoryview, at: int, layout: EntryLayout, pool: tuple[int, int],
               pointer_bits: int) -> Module | None:
    """One DUMP_DRIVER_ENTRY as a Module, or None when it does not validate."""
    if at + layout.min_stride > len(data):
        return None
    (name_offset,) = struct.unpack_from("<I", data, at + layout.driver_name_offset)
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
