"""TriageMemory: a minidump's virtual memory from its stack, KDBG copy, DataPage and blocks."""

from __future__ import annotations

import struct

import pytest

from dumptriage.dump.containers.triage.memory import (
    MAX_DATA_BLOCKS,
    DataPage,
    Extent,
    TriageMemory,
    build_triage_memory,
)
from dumptriage.errors import PageNotPresent
from tests.dump.test_triage_fixtures import header

TABLE_AT = 0x40
CONTENT_AT = 0x100


def _blocks_file(blocks: list[tuple[int, bytes]], bits: int = 64,
                 extra: list[tuple[int, int, int]] | None = None) -> tuple[memoryview, int]:
    """A file with a TRIAGE_DATA_BLOCK table at TABLE_AT and packed contents after it.

    ``extra`` adds raw (va, offset, size) table rows (for rows pointing anywhere).
    Returns the file and the table's row count.
    """
    row = "<QII" if bits == 64 else "<III"  # 16 bytes on 64-bit, 12 on x86 (section 3.6)
    table, content = bytearray(), bytearray()
    for va, payload in blocks:
        table += struct.pack(row, va, CONTENT_AT + len(content), len(payload))
        content += payload
    for va, offset, size in extra or []:
        table += struct.pack(row, va, offset, size)
    assert TABLE_AT + len(table) <= CONTENT_AT
    image = bytearray(CONTENT_AT)
    image[TABLE_AT : TABLE_AT + len(table)] = table
    return memoryview(bytes(image + content)), len(blocks) + len(extra or [])


def _memory(blocks: list[tuple[int, bytes]], bits: int = 64,
            extra: list[tuple[int, int, int]] | None = None) -> tuple[TriageMemory, list[str]]:
    data, count = _blocks_file(blocks, bits, extra)
    hdr = header(data_blocks_offset=TABLE_AT, data_blocks_count=count)
    memory, found = build_triage_memory(hdr, data, pointer_bits=bits, kdbg_va=None)
    return memory, [a.detail for a in found]


def test_reads_inside_one_block() -> None:
    memory, found = _memory([(0x5000, b"ABCDEFGH")])
    assert found == []
    assert memory.read(0x5002, 3) == b"CDE"
    assert memory.read(0x5000, 0) == b""


def test_read_spanning_adjacent_blocks_is_assembled() -> None:
    # Out of VA order in the table, as in the real file (section 12.1: "not sorted by VA").
    memory, _ = _memory([(0x5004, b"EFGH"), (0x5000, b"ABCD")])
    assert memory.read(0x5002, 4) == b"CDEF"


def test_missing_byte_raises_with_its_address() -> None:
    memory, _ = _memory([(0x5000, b"ABCD"), (0x5008, b"IJKL")])
    with pytest.raises(PageNotPresent) as err:
        memory.read(0x5002, 8)
    assert err.value.address == 0x5004 and err.value.virtual
    with pytest.raises(PageNotPresent):
        memory.read(0x4FFF, 1)
    assert memory.read_or_none(0x500C, 1) is None
    assert memory.read_or_none(0x5009, 2) == b"JK"


def test_negative_size_is_a_caller_error() -> None:
    memory, _ = _memory([(0x5000, b"ABCD")])
    with pytest.raises(ValueError):
        memory.read(0x5000, -1)


def test_read_pointer_width() -> None:
    memory, _ = _memory([(0x5000, struct.pack("<Q", 0xFFFF800012345678))])
    assert memory.read_pointer(0x5000, 64) == 0xFFFF800012345678
    assert memory.read_pointer(0x5000, 32) == 0x12345678
    assert memory.read_pointer(0x5004, 64) is None


def test_x86_rows_are_twelve_bytes() -> None:
    memory, found = _memory([(0x80001000, b"WXYZ"), (0x80002000, b"1234")], bits=32)
    assert found == []
    assert memory.read(0x80002001, 2) == b"23"
    assert [r.va for r in memory.ranges()] == [0x80001000, 0x80002000]


def test_block_outside_the_file_is_dropped_and_reported() -> None:
    memory, found = _memory([(0x5000, b"ABCD")],
                            extra=[(0x9000, 0xFFFFFF00, 0x10), (0xA000, CONTENT_AT, 0x7FFFFFFF)])
    assert memory.read(0x5000, 4) == b"ABCD"
    assert memory.read_or_none(0x9000, 1) is None and memory.read_or_none(0xA000, 1) is None
    assert len(found) == 1 and "2 data block(s)" in found[0] and "index 1" in found[0]


def test_block_wrapping_the_address_space_is_dropped() -> None:
    _, found = _memory([(0xFFFFFFFE, b"ABCD")], bits=32)
    assert len(found) == 1


def test_zero_size_block_is_skipped_silently() -> None:
    memory, found = _memory([(0x5000, b"")])
    assert found == [] and memory.ranges() == []


def test_count_larger_than_the_file_is_capped() -> None:
    data, _ = _blocks_file([(0x5000, b"ABCD")])
    hdr = header(data_blocks_offset=TABLE_AT, data_blocks_count=0xFFFFFFFF)
    memory, found = build_triage_memory(hdr, data, pointer_bits=64, kdbg_va=None)
    # The count fits neither the file nor the cap: only rows that fit are read (here the
    # zero rows after the real one have size 0 and are skipped).
    assert memory.read(0x5000, 4) == b"ABCD"
    assert len(found) == 1
    assert "4294967295 data blocks claimed" in found[0].detail
    assert "only 12 table entries fit" in found[0].detail  # (0x100 - 0x40) / 16
    assert str(MAX_DATA_BLOCKS) in found[0].detail


def test_table_offset_outside_the_file_gives_no_blocks() -> None:
    data, _ = _blocks_file([(0x5000, b"ABCD")])
    hdr = header(data_blocks_offset=len(data) + 0x10, data_blocks_count=1)
    memory, found = build_triage_memory(hdr, data, pointer_bits=64, kdbg_va=None)
    assert memory.ranges() == [] and len(found) == 1


def _sections_file() -> memoryview:
    image = bytearray(0x300)
    image[0x100:0x110] = b"S" * 0x10  # call stack bytes
    image[0x200:0x208] = b"KDBGKDBG"  # KDBG copy
    image[0x280:0x284] = b"PAGE"  # data page
    # One data block overlapping the top of the stack, with different bytes.
    struct.pack_into("<QII", image, TABLE_AT, 0x7008, 0x2F0, 0x10)
    image[0x2F0:0x300] = b"B" * 0x10
    return memoryview(bytes(image))


def test_sections_are_mapped_and_the_stack_wins_over_blocks() -> None:
    data = _sections_file()
    hdr = header(top_of_stack=0x7000, call_stack_offset=0x100, call_stack_size=0x10,
                 debugger_data_offset=0x200, debugger_data_size=8,
                 data_blocks_offset=TABLE_AT, data_blocks_count=1)
    memory, found = build_triage_memory(hdr, data, pointer_bits=64, kdbg_va=0xC000,
                                        data_page=DataPage(0xD000, 0x280, 4))
    assert found == []
    # TopOfStack is the lowest address (section 12.1); the block's first 8 bytes lie in
    # the stack range and lose to it, its last 8 bytes are still readable.
    assert memory.read(0x7000, 0x18) == b"S" * 0x10 + b"B" * 8
    assert memory.read(0xC000, 8) == b"KDBGKDBG"
    assert memory.read(0xD000, 4) == b"PAGE"
    assert [(r.source, r.va, r.size) for r in memory.ranges()] == [
        ("call stack", 0x7000, 0x10), ("data block 0", 0x7010, 8),
        ("KDBG copy", 0xC000, 8), ("data page", 0xD000, 4)]


def test_earlier_block_wins_an_overlap() -> None:
    memory, _ = _memory([(0x5000, b"AAAA"), (0x4FFE, b"bbbbbbbb")])
    assert memory.read(0x4FFE, 8) == b"bbAAAAbb"


def test_extent_fully_covered_adds_nothing() -> None:
    memory = TriageMemory(memoryview(b"xxxxyy"), [Extent(0x10, 0, 4, "a"), Extent(0x11, 4, 2, "b")])
    assert [r.source for r in memory.ranges()] == ["a"]


def test_sections_outside_the_file_are_dropped() -> None:
    data = _sections_file()
    hdr = header(top_of_stack=0x7000, call_stack_offset=0x100, call_stack_size=0x10000,
                 debugger_data_offset=0x200, debugger_data_size=8)
    memory, found = build_triage_memory(hdr, data, pointer_bits=64, kdbg_va=0xC000,
                                        data_page=DataPage(0xD000, 0x1000, 4))
    assert [a.where for a in found] == ["TRIAGE_DUMP call stack", "TRIAGE_DUMP data page"]
    assert memory.read_or_none(0x7000, 1) is None
    assert memory.read(0xC000, 4) == b"KDBG"


def test_absent_sections_are_not_anomalies() -> None:
    data = _sections_file()
    # No KDBG VA in the header, DataPage zero: nothing to map, nothing to report.
    hdr = header(debugger_data_offset=0x200, debugger_data_size=8)
    memory, found = build_triage_memory(hdr, data, pointer_bits=64, kdbg_va=None,
                                        data_page=DataPage(0, 0, 0))
    assert memory.ranges() == [] and found == []


def test_count_above_the_cap_reads_only_the_cap() -> None:
    # A file big enough for MAX_DATA_BLOCKS + 1 rows: the cap, not the file, bounds it.
    image = bytearray(TABLE_AT + 16 * (MAX_DATA_BLOCKS + 1) + 4)
    struct.pack_into("<QII", image, TABLE_AT, 0x5000, len(image) - 4, 4)
    image[-4:] = b"ABCD"
    hdr = header(data_blocks_offset=TABLE_AT, data_blocks_count=MAX_DATA_BLOCKS + 1)
    memory, found = build_triage_memory(hdr, memoryview(bytes(image)), pointer_bits=64,
                                        kdbg_va=None)
    assert memory.read(0x5000, 4) == b"ABCD"
    assert f"only {MAX_DATA_BLOCKS} table entries fit" in found[0].detail
