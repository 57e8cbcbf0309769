"""The triage sections are described once (formats/windows_triage.ksy + kernel.toml's LDR).

Two kinds of check: the offsets the readers derive from that one description are the
documented ones (dump-format.md sections 3.6, 5.3 and 12.1), and on the real minidumps
the readers' struct walks read what the Kaitai parser of the same .ksy reads.
"""

from __future__ import annotations

import struct
from pathlib import Path

import kaitaistruct
import pytest

from dumptriage import open_dump
from dumptriage.dump.containers.triage.container import TriageDump
from dumptriage.dump.containers.triage.drivers import LAYOUT_32, LAYOUT_64, read_drivers
from dumptriage.dump.containers.triage.memory import read_data_blocks
from dumptriage.dump.containers.triage.unloaded import COUNT_WIDTHS, read_unloaded_drivers
from dumptriage.dump.kernel.layouts import field_offsets, field_spans, ldr_layout
from dumptriage.dump.kernel.unloaded import COPY_LAYOUT, RING_LAYOUT
from dumptriage.formats import windows_triage_flat as ksy
from dumptriage.formats.windows_triage import WindowsTriage

MINIDUMPS = ["triage_x64.dmp", "triage_arm64.dmp"]


def test_driver_entry_offsets_are_the_documented_ones() -> None:
    # Section 12.1 (non-zero census of triage_x64.dmp's 151 entries): DllBase +0x38,
    # SizeOfImage +0x48, CheckSum +0x80, TimeDateStamp +0x88, i.e. KLDR64 at +8.
    got = (LAYOUT_64.dll_base, LAYOUT_64.size_of_image, LAYOUT_64.checksum,
           LAYOUT_64.timestamp, LAYOUT_64.min_stride, LAYOUT_64.dll_base_format)
    assert got == (0x38, 0x48, 0x80, 0x88, 0x8C, "<Q")
    # Section 3.6: KLDR32 at +4 (DllBase 0x18, SizeOfImage 0x20, CheckSum 0x40,
    # TimeDateStamp 0x44 from section 5.2), an entry of 0x4C bytes.
    got = (LAYOUT_32.dll_base, LAYOUT_32.size_of_image, LAYOUT_32.checksum,
           LAYOUT_32.timestamp, LAYOUT_32.min_stride, LAYOUT_32.dll_base_format)
    assert got == (0x1C, 0x24, 0x44, 0x48, 0x4C, "<I")
    assert LAYOUT_64.driver_name_offset == LAYOUT_32.driver_name_offset == 0


def test_driver_entry_is_the_head_plus_the_one_ldr_table() -> None:
    x64, x86 = ldr_layout("x64"), ldr_layout("x86")
    assert x64 is not None and x86 is not None
    assert LAYOUT_64.dll_base - x64.dll_base == dict(ksy.DUMP_DRIVER_ENTRY64[2])[
        "ofs_ldr_entry"] == struct.calcsize(ksy.DUMP_DRIVER_ENTRY64[0]) == 8
    assert LAYOUT_32.timestamp - x86.timestamp == dict(ksy.DUMP_DRIVER_ENTRY32[2])[
        "ofs_ldr_entry"] == struct.calcsize(ksy.DUMP_DRIVER_ENTRY32[0]) == 4


def test_unloaded_entry_offsets_are_the_documented_ones() -> None:
    # Section 3.6 / 12.1: DUMP_UNLOADED_DRIVERS64 is 0x38 bytes, WCHAR[12] at 0x10,
    # StartAddress 0x28; the 32-bit form 0x28 bytes, WCHAR[12] at 8, StartAddress 0x20.
    copy64, copy32 = COPY_LAYOUT[64], COPY_LAYOUT[32]
    assert (copy64.size, copy64.inline_name, copy64.start, copy64.address_format) == (
        0x38, (0x10, 24), 0x28, "<QQ")
    assert (copy32.size, copy32.inline_name, copy32.start, copy32.address_format) == (
        0x28, (0x08, 24), 0x20, "<II")
    assert copy64.current_time is None and copy32.current_time is None
    # Section 5.3 (ntiodump.h UNLOADED_DRIVERS): x64 Start 0x10, End 0x18, CurrentTime
    # 0x20, 0x28 bytes; x86 0x08, 0x0C, 0x10, 0x18 bytes.
    ring64, ring32 = RING_LAYOUT[64], RING_LAYOUT[32]
    assert (ring64.size, ring64.name, ring64.start, ring64.current_time) == (
        0x28, 0, 0x10, 0x20)
    assert (ring32.size, ring32.name, ring32.start, ring32.current_time) == (
        0x18, 0, 0x08, 0x10)
    assert ring64.inline_name is None
    # Section 12.1: the x64 count is a u64; x86 tries the dbgeng writer's u32, then u64.
    assert COUNT_WIDTHS == {64: (8,), 32: (4, 8)}


def test_data_block_and_unicode_string_sizes() -> None:
    # Section 3.6: TRIAGE_DATA_BLOCK {Address, Offset u32, Size u32}: 16 / 12 bytes.
    assert field_offsets(ksy.TRIAGE_DATA_BLOCK64) == {
        "address": 0, "ofs_data": 8, "len_data": 12}
    assert struct.calcsize(ksy.TRIAGE_DATA_BLOCK32[0]) == 12
    # Section 5.1: UNICODE_STRING64 Buffer at 8 (16 bytes), UNICODE_STRING32 at 4 (8).
    assert field_spans(ksy.UNICODE_STRING64)["buffer"] == (8, 8)
    assert field_spans(ksy.UNICODE_STRING32)["buffer"] == (4, 4)


def test_field_spans_refuses_a_format_that_does_not_match_its_fields() -> None:
    with pytest.raises(ValueError, match="one struct code per field"):
        field_spans(("<QI", (("address", 0),), ()))


# -- the struct walks against the Kaitai parser of the same .ksy -------------------------


def _kaitai(data: bytes, at: int) -> kaitaistruct.KaitaiStream:
    stream = kaitaistruct.KaitaiStream(kaitaistruct.BytesIO(data))
    stream.seek(at)
    return stream


@pytest.mark.parametrize("name", MINIDUMPS)
def test_struct_walks_read_what_the_kaitai_parser_reads(corpus: Path, name: str) -> None:
    path = corpus / "dumps" / name
    raw = path.read_bytes()
    with open_dump(path) as dump:
        triage = dump.container
        assert isinstance(triage, TriageDump)
        header, data, bits = triage.header, triage.data, dump.info.pointer_bits
        assert bits == 64

        modules, found = read_drivers(header, data, bits)
        assert found == [] and len(modules) == header.driver_count
        stride = (header.string_pool_offset - header.driver_list_offset) // header.driver_count
        paths = []
        for i in range(header.driver_count):
            entry = WindowsTriage.DumpDriverEntry64(
                _kaitai(raw, header.driver_list_offset + i * stride))
            string = WindowsTriage.DumpString(False, _kaitai(raw, entry.ofs_driver_name))
            paths.append(string.text)
        assert [m.path for m in modules] == paths

        unloaded, found = read_unloaded_drivers(header, data, bits)
        listing = WindowsTriage.DumpUnloadedDriversList64(
            _kaitai(raw, header.unloaded_drivers_offset))
        assert found == [] and len(unloaded) == listing.num_entries
        assert [(u.start, u.end) for u in unloaded] == [
            (e.start_address, e.end_address) for e in listing.entries]
        assert [u.name for u in unloaded] == [
            e.driver_name.decode("utf-16-le").split("\0")[0] for e in listing.entries]

        blocks, found = read_data_blocks(header, data, bits)
        kaitai_blocks = [WindowsTriage.TriageDataBlock64(
            _kaitai(raw, header.data_blocks_offset + 16 * i))
            for i in range(header.data_blocks_count)]
        assert found == []
        assert [(b.va, b.offset, b.size) for b in blocks] == [
            (k.address, k.ofs_data, k.len_data) for k in kaitai_blocks if k.len_data]


def test_x64_minidump_figures(corpus: Path) -> None:
    # Oracle: dump-format.md section 12.1 (triage_x64.dmp): 151 drivers, the first
    # \SystemRoot\system32\ntoskrnl.exe; 4 unloaded drivers (dam.sys first, mcupdate.dll
    # 12 characters with no NUL); 1831 data blocks.
    with open_dump(corpus / "dumps" / "triage_x64.dmp") as dump:
        triage = dump.container
        assert isinstance(triage, TriageDump)
        modules, _ = read_drivers(triage.header, triage.data, 64)
        unloaded, _ = read_unloaded_drivers(triage.header, triage.data, 64)
        blocks, _ = read_data_blocks(triage.header, triage.data, 64)
    assert len(modules) == 151 and modules[0].path == r"\SystemRoot\system32\ntoskrnl.exe"
    assert [u.name for u in unloaded] == ["dam.sys", "WdBoot.sys", "hwpolicy.sys",
                                          "mcupdate.dll"]
    assert len(blocks) == 1831
