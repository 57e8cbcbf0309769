"""Write QEMU-style host-side guest memory dumps: the ELF core and kdump-compressed files.

The same files ``virsh dump --memory-only`` / QMP ``dump-guest-memory`` writes, from a
guest-physical memory image and per-vCPU registers, with the writer's own literal offsets
(synth/vmcore_layout.py) and never the reader's:

    from dumptriage.synth.vmcore import write_elf, write_kdump
    runs = [(0, 0xA0000), (0x100000, 31 << 20)]          # (guest-physical address, size)
    pages = {0x1000: pml4_bytes, 0x7C00: code}           # content laid over the runs
    vcpus = [{"rip": 0x7CE2, "cr3": 0x1000, "cr0": 0x80000011, "cr4": 0x20}]
    write_elf("vm.core", runs, vcpus, pages=pages)
    write_kdump("vm.kdump", runs, vcpus, pages=pages)    # flattened, zlib

A run is ``(address, bytes)`` or ``(address, size)`` (zeros, written as a hole: an 8 GiB
guest costs only its ``pages``). vCPUs are ``SynthVcpu`` records or dicts of its field
names. ``guest_header`` is the desc of a VMCOREINFO note (a PAGEDU64/PAGEDUMP header, as
virtio-win's FwCfg driver writes it). The keyword options reproduce QEMU's variants and
quirks (hung-guest-dumps.md sections 1.1, 1.2 and 6.1).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Literal

from dumptriage.synth import vmcore_layout as V
from dumptriage.synth.layout import put_field
from dumptriage.synth.vmcore_kdump import KdumpWritten, write_kdump
from dumptriage.synth.vmcore_notes import SynthVcpu, all_notes
from dumptriage.synth.vmcore_ram import GuestRam, Run, VcpuInput

EM_386, EM_X86_64 = 3, 62
PT_LOAD, PT_NOTE = 1, 4
SHT_STRTAB = 3
PN_XNUM = 0xFFFF
SHSTRTAB = b"\0.shstrtab\0"
FILTERED_OFFSET = (1 << 64) - 1  # QEMU writes p_offset -1 for a block outside the filter

@dataclass(frozen=True)
class ElfWritten:
    """Where the ELF writer put things, for tests."""

    path: Path
    file_size: int
    notes_offset: int
    notes_size: int
    program_headers: int  # file offset of the program header table
    segments: tuple[tuple[int, int, int], ...]  # (p_paddr, p_filesz, p_offset), written order
    elf_class: int
    machine: int

    def file_offset(self, pa: int) -> int | None:
        for paddr, size, offset in self.segments:
            if paddr <= pa < paddr + size and offset != FILTERED_OFFSET:
                return offset + pa - paddr
        return None


def write_elf(path: str | Path, memory_runs: Sequence[Run], vcpus: Sequence[VcpuInput],
              guest_header: bytes | None = None, *, pages: Mapping[int, bytes] | None = None,
              elf_class: Literal[32, 64] | None = None, machine: int | None = None,
              shape: Literal["qemu72", "old"] = "qemu72", pn_xnum: bool = False,
              filtered: Sequence[int] = (), swapped_shstrtab: bool = False,
              state_size: int = V.QEMU_STATE_SIZE) -> ElfWritten:
    """A QEMU ELF core. ``filtered``: indexes of runs written as outside a begin/length
    filter (p_offset -1, p_filesz 0). ``shape`` "qemu72": two section headers at e_shoff
    before the program headers, e_ehsize 8, ``.shstrtab`` at the end (QEMU 7.2); "old":
    program headers at 0x40 and no sections unless PN_XNUM needs one."""
    ram = GuestRam.of(memory_runs, pages)
    cpus = [SynthVcpu.of(v) for v in vcpus]
    cls = elf_class or (64 if ram.highest_end >= 1 << 32 else 32)
    mach = machine if machine is not None else (EM_X86_64 if cpus and cpus[0].bits == 64
                                                else EM_386)
    notes = all_notes(cpus, mach == EM_X86_64, guest_header, state_size)
    g = _ElfGeometry(cls, len(ram.runs) + 1, shape, pn_xnum)
    segments = []
    cursor = g.notes_at + len(notes)  # QEMU: the data follows the notes, not page aligned
    for i, (pa, size, _) in enumerate(ram.runs):
        if i in filtered:
            segments.append((pa, 0, FILTERED_OFFSET, size))
        else:
            segments.append((pa, size, cursor, size))
            cursor += size
    end = cursor + (len(SHSTRTAB) if g.sections else 0)
    target = Path(path)
    with target.open("wb") as f:
        f.write(g.header(mach))
        if g.sections:
            f.seek(g.shoff)
            f.write(g.section_headers(end, swapped_shstrtab))
        f.seek(g.phoff)
        f.write(_phdrs(cls, g.notes_at, len(notes), segments))
        f.seek(g.notes_at)
        f.write(notes)
        _write_ram(f, ram, [(pa, off) for pa, filesz, off, _ in segments if filesz])
        if g.sections:
            f.seek(cursor)
            f.write(SHSTRTAB)
        f.truncate(end)
    return ElfWritten(target, end, g.notes_at, len(notes), g.phoff,
                      tuple((pa, fs, off) for pa, fs, off, _ in segments), cls, mach)


class _ElfGeometry:
    """Header, section and program header placement for one ELF shape."""

    def __init__(self, cls: int, phnum: int, shape: str, pn_xnum: bool) -> None:
        self.cls, self.phnum, self.pn_xnum = cls, phnum, pn_xnum
        self.ehsize = V.ELF64_HEADER_SIZE if cls == 64 else V.ELF32_HEADER_SIZE
        self.shsize = V.SHDR64_SIZE if cls == 64 else V.SHDR32_SIZE
        self.phsize = V.PHDR64_SIZE if cls == 64 else V.PHDR32_SIZE
        self.qemu72 = shape == "qemu72"
        self.sections = 2 if self.qemu72 else (1 if pn_xnum else 0)
        if self.qemu72:
            self.shoff = self.ehsize
            self.phoff = self.shoff + 2 * self.shsize
            self.notes_at = self.phoff + phnum * self.phsize
        else:
            self.phoff = self.ehsize
            self.shoff = self.phoff + phnum * self.phsize if pn_xnum else 0
            self.notes_at = self.phoff + phnum * self.phsize + self.sections * self.shsize

    def header(self, machine: int) -> bytes:
        table = V.ELF64_HEADER if self.cls == 64 else V.ELF32_HEADER
        buf = bytearray(self.ehsize)
        ident = b"\x7fELF" + bytes((2 if self.cls == 64 else 1, 1, 1))
        put_field(buf, table, "e_ident", ident.ljust(16, b"\0"))
        for name, value in (("e_type", 4), ("e_machine", machine), ("e_version", 1),
                            ("e_phoff", self.phoff), ("e_shoff", self.shoff),
                            ("e_ehsize", 8 if self.qemu72 else self.ehsize),  # QEMU 7.2 quirk
                            ("e_phentsize", self.phsize),
                            ("e_phnum", PN_XNUM if self.pn_xnum else self.phnum),
                            ("e_shentsize", self.shsize if self.sections else 0),
                            ("e_shnum", self.sections), ("e_shstrndx", 1 if self.qemu72 else 0)):
            put_field(buf, table, name, value)
        return bytes(buf)

    def section_headers(self, end: int, swapped: bool) -> bytes:
        table = V.SHDR64 if self.cls == 64 else V.SHDR32
        zero = bytearray(self.shsize)
        put_field(zero, table, "sh_info", self.phnum if self.pn_xnum else 0)
        if not self.qemu72:
            return bytes(zero)
        names = bytearray(self.shsize)
        offset, size = end - len(SHSTRTAB), len(SHSTRTAB)
        if swapped:  # goblin issue #370: some QEMU versions swap these two fields
            offset, size = size, offset
        put_field(names, table, "sh_name", 1)
        put_field(names, table, "sh_type", SHT_STRTAB)
        put_field(names, table, "sh_offset", offset)
        put_field(names, table, "sh_size", size)
        return bytes(zero) + bytes(names)


def _phdrs(cls: int, notes_at: int, notes_size: int,
           segments: Sequence[tuple[int, int, int, int]]) -> bytes:
    table, size = (V.PHDR64, V.PHDR64_SIZE) if cls == 64 else (V.PHDR32, V.PHDR32_SIZE)
    mask = (1 << cls) - 1
    out = bytearray()
    rows = [(PT_NOTE, notes_at, 0, notes_size, notes_size)]
    rows += [(PT_LOAD, off, pa, filesz, memsz) for pa, filesz, off, memsz in segments]
    for p_type, offset, pa, filesz, memsz in rows:
        buf = bytearray(size)
        for name, value in (("p_type", p_type), ("p_offset", offset & mask), ("p_vaddr", pa),
                            ("p_paddr", pa), ("p_filesz", filesz), ("p_memsz", memsz)):
            put_field(buf, table, name, value)
        out += buf
    return bytes(out)


def _write_ram(f: BinaryIO, ram: GuestRam, placed: Sequence[tuple[int, int]]) -> None:
    """Each run's bytes at its file offset (sizes only: left as a hole), then overlays."""
    offsets = dict(placed)
    for pa, _, data in ram.runs:
        if pa in offsets and data is not None:
            f.seek(offsets[pa])
            f.write(data)
    for at, blob in ram.pages.items():
        i = ram.run_of(at)
        assert i is not None
        base = ram.runs[i][0]
        if base in offsets:
            f.seek(offsets[base] + at - base)
            f.write(blob)


__all__ = ["ElfWritten", "GuestRam", "KdumpWritten", "SynthVcpu", "write_elf", "write_kdump"]
