"""QEMU ``dump-guest-memory`` ELF cores (``virsh dump --memory-only``), 64- and 32-bit.

Layout (formats/qemu_vmcore.ksy; hung-guest-dumps.md sections 1.1 and 10): an ELF header,
program headers (PT_NOTE first, then one PT_LOAD per guest memory block, VGA memory too),
the notes, then the blocks' bytes, not page aligned in the file. What a reader must not
trust, as QEMU writes it:

* e_ehsize (QEMU 7.2 writes 8): never read;
* section headers (sometimes with sh_offset and sh_size swapped, goblin issue #370): only
  section 0's sh_info is read, and only when e_phnum is PN_XNUM (0xFFFF);
* the ELF class: ELFCLASS64 even for a 32-bit guest whenever a block ends at 4 GiB (the
  PC BIOS ROM does), so the class says nothing about the guest; e_machine says what vCPU
  0 ran (EM_X86_64 with EFER.LMA set, else EM_386).

PT_LOAD segments are keyed by p_paddr (guest-physical; p_vaddr is only meaningful with
``paging=true``). Only segments with p_filesz == p_memsz > 0 hold data: a begin/length
filter writes p_offset -1 or a shorter p_filesz (volatility3 ``layers/elf.py`` keeps the
same ones).
"""

from __future__ import annotations

import bisect
from types import SimpleNamespace

from dumptriage.dump.containers.dump_file import _map_file
from dumptriage.dump.containers.flat import FlatType, flat_size, read_flat
from dumptriage.dump.containers.vmcore import VmcoreContainer, VmcoreFacts
from dumptriage.dump.containers.vmcore_notes import read_notes
from dumptriage.dump.memory.physical import PAGE_SHIFT, PAGE_SIZE, PhysicalMemory
from dumptriage.errors import DumpFormatError, UnsupportedDump
from dumptriage.formats.qemu_vmcore_flat import (
    ELF32_HEADER,
    ELF32_PROGRAM_HEADER,
    ELF32_SECTION_HEADER,
    ELF64_HEADER,
    ELF64_PROGRAM_HEADER,
    ELF64_SECTION_HEADER,
)
from dumptriage.model.anomaly import Anomaly, AnomalyCode, anomaly

TYPE_CHECKING = False  # see model/record.py
if TYPE_CHECKING:
    from typing import BinaryIO

ELFCLASS32, ELFCLASS64 = 1, 2
ELFDATA2LSB = 1
ET_CORE = 4
EM_386, EM_X86_64 = 3, 62
PT_LOAD, PT_NOTE = 1, 4
PN_XNUM = 0xFFFF
MACHINES = {EM_386: "x86", EM_X86_64: "x64"}
# One PT_LOAD per guest memory block: a few dozen for any real VM. paging=true writes one
# per virtual mapping and may need PN_XNUM; far more than this is no QEMU file.
MAX_SEGMENTS = 1 << 20
MAX_PA = 1 << 52  # MAXPHYADDR is at most 52 bits (Intel SDM vol. 3, 4.1.4)
BANNER = "QEMU dump-guest-memory ELF core: guest-physical memory and per-vCPU registers"

_FORMATS = {
    ELFCLASS64: (ELF64_HEADER, ELF64_PROGRAM_HEADER, ELF64_SECTION_HEADER),
    ELFCLASS32: (ELF32_HEADER, ELF32_PROGRAM_HEADER, ELF32_SECTION_HEADER),
}


class SegmentMap:
    """PT_LOAD segments by guest-physical page: pfn -> file offset of its 4 KiB."""

    def __init__(self, segments: list[tuple[int, int, int]]) -> None:
        ordered = sorted(segments)  # (first pfn, page count, file offset)
        self._bases = [s[0] for s in ordered]
        self._ends = [s[0] + s[1] for s in ordered]
        self._offsets = [s[2] for s in ordered]
        self._pages = sum(s[1] for s in ordered)

    def file_offset(self, pfn: int) -> int | None:
        i = bisect.bisect_right(self._bases, pfn) - 1
        if i < 0 or pfn >= self._ends[i]:
            return None
        return self._offsets[i] + ((pfn - self._bases[i]) << PAGE_SHIFT)

    @property
    def page_count(self) -> int:
        return self._pages

    @property
    def runs(self) -> list[tuple[int, int]]:
        """(first pfn, page count) of each segment, in address order."""
        return [(b, e - b) for b, e in zip(self._bases, self._ends, strict=True)]


class ElfVmcore(VmcoreContainer):
    """A QEMU ELF core behind the container protocol."""

    def __init__(self, path: str, file: BinaryIO) -> None:
        mapping = _map_file(file, path)
        data = memoryview(mapping)
        try:
            layout = ElfLayout(path, data)
            try:
                notes = read_notes(layout.notes, layout.notes_at, "PT_NOTE")
            finally:
                layout.notes.release()
        except BaseException:
            data.release()
            mapping.close()
            raise
        facts = VmcoreFacts("ELF", "vmcore_elf", BANNER, MACHINES[layout.machine],
                            layout.header_size)
        self.segments = layout.index
        physical = PhysicalMemory(data, layout.index, file.fileno())
        self._data = data
        super().__init__(path, file, mapping, physical, notes, facts, layout.anomalies)

    def close(self) -> None:
        self._data.release()
        super().close()


class ElfLayout:
    """The ELF header, the PT_LOAD page index and the notes, every count checked."""

    def __init__(self, path: str, data: memoryview) -> None:
        self.path = path
        self.anomalies: list[Anomaly] = []
        size = len(data)
        if size < flat_size(ELF32_HEADER):
            raise DumpFormatError(path, "ELF header", 0,
                                  f"truncated: the file has {size:#x} bytes")
        ei_class = data[4]
        if ei_class not in _FORMATS:
            raise DumpFormatError(path, "ELF header", 4, f"EI_CLASS {ei_class} is not 1 or 2")
        header_fmt, phdr_fmt, shdr_fmt = _FORMATS[ei_class]
        self.header_size = flat_size(header_fmt)
        if size < self.header_size:
            raise DumpFormatError(path, "ELF header", 0,
                                  f"truncated: the file has {size:#x} bytes")
        h = read_flat(header_fmt, data, 0)
        self._check_header(h)
        self.machine = int(h.e_machine)
        count = self._phdr_count(data, h, shdr_fmt)
        self.index, notes = self._segments(data, h, phdr_fmt, count)
        self.notes_at, notes_size = notes
        self.notes = data[self.notes_at : self.notes_at + notes_size]

    def _check_header(self, h: SimpleNamespace) -> None:
        path = self.path
        if h.ei_data != ELFDATA2LSB:
            raise DumpFormatError(path, "ELF header", 5,
                                  f"EI_DATA {h.ei_data} is not little-endian (1)")
        e_type, machine = int(h.e_type), int(h.e_machine)
        if e_type != ET_CORE:
            raise UnsupportedDump(path, "ELF header", 0x10,
                                  f"e_type {e_type} is not ET_CORE (4): an ELF file, not a "
                                  "memory dump")
        if machine not in MACHINES:
            raise UnsupportedDump(path, "ELF header", 0x12,
                                  f"e_machine {machine} is neither EM_386 nor EM_X86_64: "
                                  "only x86 guests are read")

    def _phdr_count(self, data: memoryview, h: SimpleNamespace, shdr_fmt: FlatType) -> int:
        count = int(h.num_program_headers)
        if count != PN_XNUM:
            return count
        # gABI extended numbering: the real count is section header 0's sh_info.
        at = int(h.ofs_section_headers)
        if at == 0 or at + flat_size(shdr_fmt) > len(data):
            raise DumpFormatError(self.path, "ELF section header 0", at or None,
                                  "e_phnum is PN_XNUM (0xFFFF) but section header 0, which "
                                  "holds the real count, is not in the file")
        return int(read_flat(shdr_fmt, data, at).sh_info)

    def _segments(self, data: memoryview, h: SimpleNamespace, phdr_fmt: FlatType,
                  count: int) -> tuple[SegmentMap, tuple[int, int]]:
        path, size = self.path, len(data)
        stride = int(h.len_program_header)
        at = int(h.ofs_program_headers)
        if stride != flat_size(phdr_fmt):
            raise DumpFormatError(path, "ELF header", 0x36 if data[4] == ELFCLASS64 else 0x2A,
                                  f"e_phentsize {stride} is not {flat_size(phdr_fmt)}")
        if count > MAX_SEGMENTS:
            raise DumpFormatError(path, "ELF program headers", at,
                                  f"{count} program headers, more than any QEMU dump has")
        if at + count * stride > size:
            raise DumpFormatError(path, "ELF program headers", at,
                                  f"{count} program headers of {stride} bytes run past the end "
                                  f"of the file ({size:#x})")
        loads: list[tuple[int, int, int]] = []
        notes: tuple[int, int] | None = None
        unused = 0
        for i in range(count):
            ph = read_flat(phdr_fmt, data, at + i * stride)
            if ph.p_type == PT_NOTE and notes is None:
                notes = self._note_segment(ph.ofs_data, ph.len_file, size)
            elif ph.p_type == PT_LOAD:
                if ph.len_file == 0 or ph.len_file != ph.len_memory:
                    unused += 1 if ph.len_memory else 0
                    continue
                loads.append(self._load(at + i * stride, ph.p_paddr, ph.len_file, ph.ofs_data))
        if unused:
            self.anomalies.append(anomaly(
                AnomalyCode.DUMP_TRUNCATED, "ELF program headers",
                f"{unused} PT_LOAD segments are not (wholly) in the file (p_filesz is 0 or "
                "below p_memsz: a begin/length filter): their memory reads as absent"))
        self._check_overlaps(loads, at)
        self._check_truncation(loads, size)
        if notes is None:
            notes = (0, 0)
        return SegmentMap([(pa >> PAGE_SHIFT, n, off) for pa, n, off in loads]), notes

    def _note_segment(self, offset: int, length: int, size: int) -> tuple[int, int]:
        if offset >= size:
            raise DumpFormatError(self.path, "PT_NOTE", offset,
                                  f"the notes start past the end of the file ({size:#x})")
        if offset + length > size:
            self.anomalies.append(anomaly(
                AnomalyCode.DUMP_TRUNCATED, f"PT_NOTE at {offset:#x}",
                f"p_filesz {length:#x} runs past the end of the file ({size:#x}): the notes "
                "in the file are read"))
            length = size - offset
        return offset, length

    def _load(self, where: int, pa: int, length: int, offset: int) -> tuple[int, int, int]:
        """(guest-physical base, whole pages, file offset) of one PT_LOAD."""
        if pa + length > MAX_PA:
            raise DumpFormatError(self.path, "PT_LOAD", where,
                                  f"p_paddr {pa:#x} + p_filesz {length:#x} is beyond any "
                                  "physical address space")
        skip = -pa % PAGE_SIZE
        pages = (length - skip) // PAGE_SIZE if length > skip else 0
        if skip or length % PAGE_SIZE:
            self.anomalies.append(anomaly(
                AnomalyCode.HEADER_INCONSISTENT, f"PT_LOAD at {where:#x}",
                f"p_paddr {pa:#x} / p_filesz {length:#x} are not page aligned: only the "
                "whole pages inside it are read"))
        return pa + skip, pages, offset + skip

    def _check_overlaps(self, loads: list[tuple[int, int, int]], at: int) -> None:
        end = -1
        for pa, pages, _ in sorted(loads):
            if pa < end:
                raise DumpFormatError(self.path, "ELF program headers", at,
                                      f"PT_LOAD at p_paddr {pa:#x} overlaps the one before it")
            end = pa + pages * PAGE_SIZE

    def _check_truncation(self, loads: list[tuple[int, int, int]], size: int) -> None:
        data_end = max((off + pages * PAGE_SIZE for _, pages, off in loads), default=0)
        if data_end <= size:
            return
        missing = (data_end - size + PAGE_SIZE - 1) // PAGE_SIZE
        self.anomalies.append(anomaly(
            AnomalyCode.DUMP_TRUNCATED, "ELF PT_LOAD data",
            f"the file is {size:#x} bytes but its segments run to {data_end:#x}: about "
            f"{missing} pages are missing; earlier pages are still read"))

