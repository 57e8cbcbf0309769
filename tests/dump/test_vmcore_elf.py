"""QEMU ELF vmcores: the reader against the builder's writer (synth/vmcore.py).

The writer has its own literal offsets (synth/vmcore_layout.py); the offsets patched here
are the gABI's and hung-guest-dumps.md section 1.1's: Elf64_Ehdr e_type 0x10, e_phoff
0x20, e_phentsize 0x36, e_phnum 0x38; Elf64_Phdr p_offset +0x08, p_paddr +0x18, p_filesz
+0x20, p_memsz +0x28; a note header is namesz, descsz, type (u32 each).
"""

from __future__ import annotations

import struct
from pathlib import Path

import pytest

from dumptriage import open_dump
from dumptriage.dump.containers import open_container
from dumptriage.dump.containers.vmcore import VmcoreContainer
from dumptriage.errors import DumpFormatError, PageNotPresent, UnsupportedDump
from dumptriage.synth.vmcore import write_elf
from tests.dump.vmcore_util import ROM_BASE, ROM_MARK, World, world

PHDR = 0x38


def _open(path: Path) -> VmcoreContainer:
    container = open_container(str(path))
    assert isinstance(container, VmcoreContainer)
    return container


def _patch(path: Path, offset: int, value: bytes) -> None:
    data = bytearray(path.read_bytes())
    data[offset : offset + len(value)] = value
    path.write_bytes(bytes(data))


@pytest.fixture(scope="module")
def x64() -> World:
    return world("x64")


@pytest.mark.parametrize("shape", ["qemu72", "old"])
@pytest.mark.parametrize("elf_class", [64, 32])
def test_header_facts_and_notes(tmp_path: Path, x64: World, shape: str, elf_class: int) -> None:
    path = tmp_path / "vm.core"
    written = write_elf(path, x64.runs, x64.vcpus, pages=x64.pages, shape=shape,  # type: ignore[arg-type]
                        elf_class=elf_class)
    head = path.read_bytes()[:0x40]
    assert head[4] == (2 if elf_class == 64 else 1)
    if shape == "qemu72":  # QEMU 7.2 writes e_ehsize 8 (section 1.1): it must be ignored
        at = 0x34 if elf_class == 64 else 0x28
        assert struct.unpack_from("<H", head, at)[0] == 8
    dump = _open(path)
    try:
        info = dump.info
        assert (dump.kind, info.signature, info.dump_type) == ("vmcore", "ELF", "vmcore_elf")
        assert (info.arch, info.machine, info.pae, info.processors) == ("x64", 0x8664, None, 3)
        assert info.os.build == 0 and info.kd_debugger_data_block is None
        assert info.directory_table_base == x64.dtb  # vCPU 0's CR3: no guest header
        assert info.file_size == written.file_size == path.stat().st_size
        assert dump.bugcheck.code == 0 and dump.bugcheck.args == (0, 0, 0, 0)
        assert dump.has_bugcheck is False
        assert dump.opening_anomalies() == []
        _check_vcpus(dump, x64)
    finally:
        dump.close()


def _check_vcpus(dump: VmcoreContainer, w: World) -> None:
    offer = dump.kernel_offer()
    assert offer.kdbg is None and offer.header_registers is None
    assert len(offer.vcpus) == len(w.vcpus)
    for i, (got, want) in enumerate(zip(offer.vcpus, w.vcpus, strict=True)):
        assert got.index == i and got.source == "QEMU note"
        assert (got.rip, got.rsp, got.rbp, got.rflags) == (want.rip, want.rsp, want.rbp,
                                                          want.rflags)
        assert (got.cr0, got.cr2, got.cr3, got.cr4) == (want.cr0, want.cr2, want.cr3, want.cr4)
        assert (got.cs, got.ss, got.fs) == (want.cs, want.ss, want.fs)
        assert (got.gs_base, got.fs_base, got.kernel_gs_base) == (
            want.gs_base, want.fs_base, want.kernel_gs_base)
        assert (got.gdt_base, got.gdt_limit, got.idt_base, got.idt_limit) == (
            want.gdt_base, want.gdt_limit, want.idt_base, want.idt_limit)
        assert got.cs_flags == want.cs_descriptor_flags
        assert got.bits == want.bits
        assert dict(got.general)["rax"] == want.register("rax")
        assert dict(got.general)["r15"] == want.register("r15")
        assert [s[0] for s in got.segments] == ["cs", "ds", "es", "fs", "gs", "ss", "ldt", "tr"]
        assert got.segments[4][2] == want.gs_base  # (name, selector, base, limit, flags)
    assert offer.vcpus[0].interrupts_enabled is False  # RFLAGS 0x46: IF clear
    assert offer.vcpus[1].interrupts_enabled is True
    assert offer.vcpus[2].cpl == 3


@pytest.mark.parametrize("mode", ["x64", "pae", "x86"])
def test_translate_through_vcpu0_cr3(tmp_path: Path, mode: str) -> None:
    w = world(mode)
    path = tmp_path / f"{mode}.core"
    # A 32-bit guest: vCPU 0 without EFER.LMA gives EM_386 in an ELF64 file (the ROM
    # block ends at 4 GiB), as QEMU writes it (section 1.1).
    written = write_elf(path, w.runs, w.vcpus, pages=w.pages, elf_class=64)
    assert written.machine == (62 if mode == "x64" else 3)
    with open_dump(path) as dump:
        assert dump.info.arch == ("x64" if mode == "x64" else "x86")
        assert dump.info.pae == {"x64": None, "pae": True, "x86": False}[mode]
        for va, (pa, text) in w.marks.items():
            assert dump.translate(va) == pa
            assert dump.read_virtual(va, len(text)) == text
            assert dump.read_physical(pa, len(text)) == text
        with pytest.raises(PageNotPresent):
            dump.read_virtual(0x1000, 4)  # nothing mapped there


def test_present_and_absent_pages(tmp_path: Path, x64: World) -> None:
    path = tmp_path / "vm.core"
    written = write_elf(path, x64.runs, x64.vcpus, pages=x64.pages)
    dump = _open(path)
    physical = dump.physical
    assert physical is not None
    try:
        assert physical.read(ROM_BASE + 0x1000, len(ROM_MARK)) == ROM_MARK
        assert physical.read(0x9F000, 0x1000) == bytes(0x1000)  # RAM, never written: zero
        for pa in (0xA0000, 0xFFFFF, 8 << 20, ROM_BASE - 0x1000, 1 << 32):
            with pytest.raises(PageNotPresent):
                physical.read(pa, 1)  # the VGA hole, past RAM, below/after the ROM
        # Pages are read from the file offset the writer reports, not page aligned.
        pa = next(iter(x64.marks.values()))[0]
        offset = written.file_offset(pa)
        assert offset is not None and offset % 0x1000 != 0
        assert path.read_bytes()[offset : offset + 8] == physical.read(pa, 8)
        total = sum(int(size) for _, size in x64.runs)
        assert physical.index.page_count * 0x1000 == total
    finally:
        dump.close()


# -- QEMU's variants and quirks (section 1.1, 6.1) ----------------------------------------

def test_pn_xnum_count_from_section_zero(tmp_path: Path, x64: World) -> None:
    for shape in ("qemu72", "old"):
        path = tmp_path / f"{shape}.core"
        write_elf(path, x64.runs, x64.vcpus, pages=x64.pages, pn_xnum=True, shape=shape)  # type: ignore[arg-type]
        assert struct.unpack_from("<H", path.read_bytes(), 0x38)[0] == 0xFFFF
        dump = _open(path)
        try:
            assert dump.physical is not None
            assert dump.physical.read(ROM_BASE + 0x1000, len(ROM_MARK)) == ROM_MARK
        finally:
            dump.close()


def test_swapped_shstrtab_is_ignored(tmp_path: Path, x64: World) -> None:
    # goblin issue #370: sh_offset and sh_size of .shstrtab swapped; sections are not read.
    path = tmp_path / "vm.core"
    write_elf(path, x64.runs, x64.vcpus, pages=x64.pages, swapped_shstrtab=True)
    dump = _open(path)
    try:
        assert dump.opening_anomalies() == [] and len(dump.vcpus) == 3
    finally:
        dump.close()


def test_cpu_state_without_kernel_gs_base(tmp_path: Path, x64: World) -> None:
    # QEMUCPUState size 0x1B0: written by QEMU before commit 46fac17 (3.0).
    path = tmp_path / "vm.core"
    write_elf(path, x64.runs, x64.vcpus, pages=x64.pages, state_size=0x1B0)
    dump = _open(path)
    try:
        assert [v.kernel_gs_base for v in dump.vcpus] == [None, None, None]
        assert dump.vcpus[0].gs_base == x64.vcpus[0].gs_base
    finally:
        dump.close()


def test_filtered_segment_reads_absent(tmp_path: Path, x64: World) -> None:
    path = tmp_path / "vm.core"
    write_elf(path, x64.runs, x64.vcpus, pages=x64.pages, filtered=(2,))  # the ROM block
    dump = _open(path)
    try:
        assert [a.code for a in dump.opening_anomalies()] == ["dump_truncated"]
        assert "1 PT_LOAD segments are not (wholly) in the file" in \
            dump.opening_anomalies()[0].detail
        assert dump.physical is not None
        with pytest.raises(PageNotPresent):
            dump.physical.read(ROM_BASE + 0x1000, 4)
        pa, text = next(iter(x64.marks.values()))
        assert dump.physical.read(pa, len(text)) == text
    finally:
        dump.close()


def test_prstatus_only_vcpu(tmp_path: Path, x64: World) -> None:
    """A CORE note without its QEMU note keeps the vCPU, from NT_PRSTATUS (CR3 unknown)."""
    path = tmp_path / "vm.core"
    written = write_elf(path, x64.runs, x64.vcpus[:1], pages=x64.pages)
    data = bytearray(path.read_bytes())
    qemu_note = written.notes_offset + 12 + 8 + 0x150  # after the one CORE note
    assert data[qemu_note + 12 : qemu_note + 16] == b"QEMU"
    data[qemu_note + 12 : qemu_note + 16] = b"XEMU"  # now an unknown (guest) note
    path.write_bytes(bytes(data))
    dump = _open(path)
    try:
        (vcpu,) = dump.vcpus
        assert vcpu.source == "NT_PRSTATUS" and vcpu.cr3 == 0
        assert (vcpu.rip, vcpu.rsp, vcpu.gs_base) == (x64.vcpus[0].rip, x64.vcpus[0].rsp,
                                                     x64.vcpus[0].gs_base)
        assert "has no QEMU note" in dump.opening_anomalies()[0].detail
    finally:
        dump.close()


# -- damaged files: one-line errors or anomalies ------------------------------------------

def _written(tmp_path: Path, w: World) -> tuple[Path, int]:
    path = tmp_path / "vm.core"
    written = write_elf(path, w.runs, w.vcpus, pages=w.pages)
    return path, written.program_headers


def test_truncated_ram_is_an_anomaly(tmp_path: Path, x64: World) -> None:
    path, _ = _written(tmp_path, x64)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    dump = _open(path)
    try:
        codes = [a.code for a in dump.opening_anomalies()]
        assert codes == ["dump_truncated"]
        assert dump.physical is not None
        assert dump.physical.read(0x1000, 4) is not None  # early pages still read
        with pytest.raises(PageNotPresent, match="beyond the end of the truncated file"):
            dump.physical.read(ROM_BASE, 4)
        assert len(dump.vcpus) == 3
    finally:
        dump.close()


@pytest.mark.parametrize(("patch", "needle"), [
    # PN_XNUM: the count in section header 0's sh_info (at 0x40 + 0x2C) is too large
    (lambda ph: {0x38: struct.pack("<H", 0xFFFF), 0x6C: struct.pack("<I", 200_000)},
     "run past the end of the file"),
    (lambda ph: {0x38: struct.pack("<H", 0xFFFF), 0x6C: struct.pack("<I", 0xFFFFFFF)},
     "more than any QEMU dump has"),
    (lambda ph: {0x36: struct.pack("<H", 0x20)}, "e_phentsize 32 is not 56"),
    (lambda ph: {0x10: struct.pack("<H", 2)}, "is not ET_CORE"),
    (lambda ph: {0x12: struct.pack("<H", 40)}, "neither EM_386 nor EM_X86_64"),
    (lambda ph: {0x04: b"\x07"}, "EI_CLASS 7"),
    (lambda ph: {0x05: b"\x02"}, "not little-endian"),
    # the second PT_LOAD at the first one's address
    (lambda ph: {ph + 2 * PHDR + 0x18: struct.pack("<Q", 0)}, "overlaps the one before it"),
    (lambda ph: {ph + PHDR + 0x18: struct.pack("<Q", 1 << 60)}, "beyond any physical address"),
    # PN_XNUM without section headers (e_shoff 0)
    (lambda ph: {0x38: struct.pack("<H", 0xFFFF), 0x28: struct.pack("<Q", 0)},
     "section header 0, which holds the real count, is not in the file"),
    (lambda ph: {ph + 0x08: struct.pack("<Q", 1 << 40)}, "notes start past the end"),
])
def test_bad_structures_are_one_line_errors(tmp_path: Path, x64: World, patch: object,
                                            needle: str) -> None:
    path, phoff = _written(tmp_path, x64)
    for offset, value in patch(phoff).items():  # type: ignore[operator]
        _patch(path, offset, value)
    with pytest.raises(DumpFormatError) as caught:
        open_container(str(path))
    message = str(caught.value)
    assert needle in message and str(path) in message and "\n" not in message
    if "ET_CORE" in needle or "EM_386" in needle:
        assert isinstance(caught.value, UnsupportedDump)


def test_pt_load_past_the_end_is_an_anomaly(tmp_path: Path, x64: World) -> None:
    path, phoff = _written(tmp_path, x64)
    _patch(path, phoff + 3 * PHDR + 0x08, struct.pack("<Q", 1 << 40))  # the ROM's p_offset
    dump = _open(path)
    try:
        assert [a.code for a in dump.opening_anomalies()] == ["dump_truncated"]
        assert dump.physical is not None
        with pytest.raises(PageNotPresent):
            dump.physical.read(ROM_BASE, 4)
    finally:
        dump.close()


def test_note_past_the_notes_is_an_anomaly(tmp_path: Path, x64: World) -> None:
    path = tmp_path / "vm.core"
    written = write_elf(path, x64.runs, x64.vcpus, pages=x64.pages)
    second_core = written.notes_offset + 12 + 8 + 0x150
    _patch(path, second_core + 4, struct.pack("<I", 0x7FFFFFF0))  # its descsz
    dump = _open(path)
    try:
        problem = dump.opening_anomalies()[0]
        assert problem.code == "header_inconsistent" and "run past the end" in problem.detail
        assert len(dump.vcpus) == 1  # the notes before the bad one are kept
    finally:
        dump.close()


def test_note_segment_past_the_file(tmp_path: Path, x64: World) -> None:
    path, phoff = _written(tmp_path, x64)
    _patch(path, phoff + 0x20, struct.pack("<Q", 1 << 40))  # PT_NOTE p_filesz
    dump = _open(path)
    try:
        codes = [a.code for a in dump.opening_anomalies()]
        assert codes[0] == "dump_truncated" and len(dump.vcpus) == 3
    finally:
        dump.close()
